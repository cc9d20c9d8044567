"""The policy studio: a local page where a politician's staff move a programme's levers and see
who pays and who saves.

``almsim studio`` serves it on 127.0.0.1 (Solara, like the teaching app). On the page one:

1. picks a shipped scenario pair (a programme scenario and the baseline it extends) or opens an
   own scenario file (its baseline is found along its ``extends:`` chain,
   :func:`sim.present.variant.baseline_of`);
2. changes the programme's levers and the key assumptions (:mod:`sim.present.variant`: read
   from the scenario, applied as the loader's dotted overrides; assumptions go to the baseline
   too);
3. runs paired replications (:func:`sim.analysis.comparison.compare`, common random numbers)
   with a progress bar, and reads the who-pays/who-saves table at 1 and 5 years with P10-P90
   intervals, the bridge from a payoff-style estimate, and the limit that binds;
4. saves the variant as a scenario file that ``extends:`` the programme scenario (it passes
   ``almsim validate``; reopening it gives the same levers) and downloads the HTML report.

The tables are functions of a :class:`~sim.analysis.comparison.Comparison` (:func:`who_pays_table`,
:func:`bridge_table`, :func:`limit_lines`) so they are tested without a browser; money is in
MSEK with one decimal, discounted to the programme's start, + = the payer is better off.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from sim.present.variant import (
    Lever,
    Pair,
    baseline_of,
    baseline_overrides,
    lever_overrides,
    levers,
    save_variant,
    shipped_pairs,
)

__all__ = ["Outcome", "run_pair", "who_pays_table", "bridge_table", "limit_lines", "make_page",
           "pair_for_file", "SIGN_NOTE", "MONEY_UNIT", "DEFAULT_PAIR", "BRIDGE_MAX_PEOPLE"]

#: almsim's one sign convention, as the page says it.
SIGN_NOTE = "+ = the payer is better off"
#: The unit of every money cell.
MONEY_UNIT = "MSEK, discounted"
#: The pair the page opens with.
DEFAULT_PAIR = "almsim:sigtuna-resursjobb"
#: Populations up to this size get the payoff-style bridge: it is computed from the runs' own
#: ledger books; larger ones would re-run every replication with everyone followed.
BRIDGE_MAX_PEOPLE = 4096


@dataclass
class Outcome:
    """One run of the studio: the pair, the overrides it ran with, and the comparison."""

    pair: Pair
    overrides: list[str]
    baseline_overrides: list[str]
    comparison: Any  # sim.analysis.comparison.Comparison
    notes: list[str] = field(default_factory=list)


def pair_for_file(file: str) -> Pair:
    """The pair of a programme scenario file: the file and the baseline along its ``extends:`` chain.

    Raises:
        ScenarioError: if the file is bad, has no programmes, or extends no baseline.
    """
    from sim.scenario.errors import ScenarioError
    from sim.scenario.load import load_scenario

    file = os.fspath(file)
    scenario = load_scenario(file)
    if not scenario.programmes:
        raise ScenarioError("has no programmes: open a programme scenario (one that extends a baseline)", file=file)
    return Pair(baseline_of(file), file, f"{scenario.title or scenario.name} ({Path(file).stem})")


def run_pair(pair: Pair, values: Mapping[str, float | None], *, seed: int = 0, replications: int = 10,
             progress: Callable[[int], None] | None = None, fixed_parameters: bool = False) -> Outcome:
    """Compare the pair's programme scenario, with the levers moved, against its baseline.

    The baseline takes the assumptions the scenario runs with
    (:func:`sim.present.variant.baseline_overrides`). The payoff-style bridge is added for
    populations of at most :data:`BRIDGE_MAX_PEOPLE`; sensitivity lines are left out (the
    assumptions are levers here).

    Args:
        pair: the baseline and programme scenario files.
        values: lever path -> value (levers not given, or at the file's value, change nothing).
        seed: the seed of both sides.
        replications: paired replications.
        progress: called with 1 per finished run (``2 * replications`` runs).
        fixed_parameters: keep the calibrated national defaults at their written posterior
            medians (default: each pair of runs draws them from the fits' posteriors).

    Raises:
        ScenarioError: if a moved value is refused by the scenario's rules.
    """
    from sim.analysis.comparison import compare
    from sim.engine.population import population_size
    from sim.scenario.load import load_scenario

    scenario = load_scenario(pair.scenario)
    ov = lever_overrides(levers(scenario), values)
    moved = load_scenario(pair.scenario, ov) if ov else scenario
    base = load_scenario(pair.baseline)
    bov = baseline_overrides(base, moved)
    if bov:
        base = load_scenario(pair.baseline, bov)
    people = population_size(moved.population, moved.start_month, moved.horizon_months)
    bridge = people <= BRIDGE_MAX_PEOPLE
    notes = [] if bridge else [f"The payoff-style bridge is left out: {people:,} people is more than "
                               f"{BRIDGE_MAX_PEOPLE:,} (it would re-run every replication with everyone followed)."]
    comparison = compare(base, [moved], seed=seed, replications=replications, progress=progress,
                         sensitivity=False, bridge=bridge, fixed_parameters=fixed_parameters)
    return Outcome(pair, ov, bov, comparison, notes)


# ----------------------------------------------------------------------------- the tables
def _horizons(headline: pd.DataFrame) -> list[int]:
    """1 and 5 years where the run has them, else 1 year and the longest."""
    have = sorted(int(h) for h in headline["horizon_months"].unique())
    shown = [h for h in (12, 60) if h in have]
    if 60 not in shown and have:
        shown.append(have[-1])
    return sorted(set(shown))


def _years(h: int) -> str:
    return "1 year" if h == 12 else (f"{h // 12} years" if h % 12 == 0 else f"{h} months")


def _msek(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    v = round(x / 1e6, 1) + 0.0  # + 0.0: never "-0.0"
    return f"{v:+.1f}".replace("-", "\u2212") if v else "0.0"


def who_pays_table(comparison: Any) -> pd.DataFrame:
    """Each payer's saving at 1 and 5 years from the programme's start: median (P10 to P90).

    Columns: ``payer`` and one per horizon, ``saving after H (MSEK, discounted)``; cells like
    ``−1.2 (−3.4 to +0.5)``. Payers whose saving is exactly zero in every replication are left
    out (the municipality and society always shown); the municipality before income
    equalisation follows the municipality.
    """
    from sim.accounts.payers import ALL_PAYERS, BEFORE_EQUALISATION, SOCIETY
    from sim.present.figures import PAYER_LABELS

    label = comparison.scenarios[0]
    h = comparison.headline
    h = h[(h["scenario"] == label) & (h["metric"] == "net_saving_discounted_sek")]
    horizons = _horizons(h)
    quiet = {p for p, g in h.groupby("payer") if (g[["p10", "p50", "p90"]].to_numpy() == 0).all()}
    order = [p for p in ALL_PAYERS if p in ("municipality", SOCIETY) or p not in quiet]
    order.insert(order.index("municipality") + 1, BEFORE_EQUALISATION)
    rows = []
    for payer in order:
        name = "Municipality before income equalisation" if payer == BEFORE_EQUALISATION else PAYER_LABELS[payer]
        row = {"payer": name}
        for x in horizons:
            r = h[(h["payer"] == payer) & (h["horizon_months"] == x)]
            row[f"saving after {_years(x)} ({MONEY_UNIT})"] = (
                "" if r.empty else
                f"{_msek(r['p50'].iloc[0])} ({_msek(r['p10'].iloc[0])} to {_msek(r['p90'].iloc[0])})")
        rows.append(row)
    return pd.DataFrame(rows)


def bridge_table(comparison: Any) -> pd.DataFrame:
    """The bridge from a payoff-style estimate to almsim's at 5 years (or the longest horizon):
    one row per step, the mean saving over replications of the municipality, the state and
    society (columns ``Municipality (MSEK, discounted)``...). Empty if the comparison has no
    bridge. The horizon is in ``df.attrs["horizon_months"]``."""
    from sim.analysis.payoff import BRIDGE_STEPS

    label = comparison.scenarios[0]
    b = comparison.tables.get("bridge")
    if b is None or b.empty or not (b["scenario"] == label).any():
        return pd.DataFrame(columns=["step"])
    b = b[b["scenario"] == label]
    horizon = 60 if (b["horizon_months"] == 60).any() else int(b["horizon_months"].max())
    b = b[b["horizon_months"] == horizon]
    payers = {"municipality": "Municipality", "state": "State", "society": "Society"}
    rows = []
    for step, words in BRIDGE_STEPS:
        row = {"step": words}
        for payer, name in payers.items():
            v = b[(b["step"] == step) & (b["payer"] == payer)]["mean"]
            row[f"{name} ({MONEY_UNIT})"] = _msek(v.iloc[0]) if len(v) else ""
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["horizon_months"] = horizon
    return out


def limit_lines(comparison: Any) -> list[str]:
    """Which limit binds each programme, in words."""
    limits = comparison.tables.get("limits")
    if limits is None or limits.empty:
        return []
    return [str(t) for t in limits.loc[limits["scenario"] == comparison.scenarios[0], "text"]]


def _html_table(df: pd.DataFrame, css_class: str) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table class='{css_class}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ------------------------------------------------------------------------------- the page
_CSS = """
.almsim-studio table { border-collapse: collapse; width: 100%; font-size: 14px; margin: 4px 0 10px; }
.almsim-studio th, .almsim-studio td { padding: 4px 8px; border-bottom: 1px solid #e3e8ec; text-align: right; }
.almsim-studio th:first-child, .almsim-studio td:first-child { text-align: left; }
.almsim-studio th { background: #eef2f5; font-weight: 600; }
.almsim-note { color: #5b6670; font-size: 13px; }
.almsim-lever { margin-bottom: 2px; }
.almsim-lever.moved input { font-weight: 700; color: #1f6f8b; }
"""


def _lever_label(lever: Lever) -> str:
    shown = int(lever.value) if lever.integer else round(lever.value, 4)
    return f"{lever.label} (file: {shown:,})".replace(",", " ")


def make_page(folder: str | os.PathLike[str] = ".", scenario: str | None = None,
              baseline: str | None = None, fixed_parameters: bool = False) -> Any:
    """The Solara page component of the studio (fresh state per browser session).

    Args:
        folder: where variants are saved.
        scenario: the programme scenario to open first (default :data:`DEFAULT_PAIR`).
        baseline: its baseline (default: found along its ``extends:`` chain).
        fixed_parameters: whether the "fixed parameter values" box starts ticked (default: the
            calibrated national defaults are drawn per replication).

    Returns:
        The ``Page`` component (``solara run`` serves a module's ``Page``).
    """
    import solara
    import solara.lab

    from sim.scenario.errors import ScenarioError
    from sim.scenario.load import load_scenario

    folder = Path(folder).resolve()
    pairs = shipped_pairs()
    first = pair_for_file(scenario or DEFAULT_PAIR)
    if baseline is not None:
        first = Pair(os.fspath(baseline), first.scenario, first.label)

    @solara.component
    def LeverInput(lever: Lever, values: solara.Reactive[dict[str, float]]) -> Any:  # noqa: N802
        value = values.value.get(lever.path, lever.value)
        moved = abs(value - lever.value) > 1e-9

        def on_value(v: float | None) -> None:
            if v is not None:
                values.value = {**values.value, lever.path: float(v)}

        with solara.Div(classes=["almsim-lever", "moved"] if moved else ["almsim-lever"]) as div:
            if lever.integer:
                solara.InputInt(_lever_label(lever), value=int(round(value)), on_value=on_value, dense=True)
            else:
                solara.InputFloat(_lever_label(lever), value=float(value), on_value=on_value, dense=True)
        return div

    @solara.component
    def Page() -> Any:  # noqa: N802 - Solara's name for an app's page component
        pair = solara.use_reactive(first)
        values = solara.use_reactive({})
        replications = solara.use_reactive(10)
        seed = solara.use_reactive(0)
        fixed = solara.use_reactive(bool(fixed_parameters))
        own_file = solara.use_reactive("")
        save_name = solara.use_reactive("")
        message = solara.use_reactive("")
        error = solara.use_reactive("")
        outcome = solara.use_reactive(None)
        current = pair.value
        spec = solara.use_memo(lambda: load_scenario(current.scenario), [current])
        known = solara.use_memo(lambda: levers(spec), [spec])

        def open_pair(p: Pair) -> None:
            pair.value, values.value, outcome.value, message.value, error.value = p, {}, None, "", ""

        def open_file() -> None:
            try:
                open_pair(pair_for_file(own_file.value.strip()))
                message.value = f"Opened {own_file.value.strip()}"
            except ScenarioError as exc:
                error.value = str(exc)

        def run() -> Outcome | None:
            total = 2 * int(replications.value)
            done = [0]

            def tick(n: int) -> None:
                done[0] += n
                task.progress = 100.0 * done[0] / max(total, 1)

            task.progress = 0.0
            try:
                out = run_pair(current, values.value, seed=int(seed.value), replications=int(replications.value),
                               progress=tick, fixed_parameters=bool(fixed.value))
            except ScenarioError as exc:
                error.value = str(exc)
                return None
            error.value = ""
            outcome.value = out
            return out

        task = solara.lab.use_task(run, dependencies=None, raise_error=False)

        def save() -> None:
            try:
                path = save_variant(folder, save_name.value, current, spec, values.value)
            except ScenarioError as exc:
                error.value, message.value = str(exc), ""
                return
            error.value, message.value = "", f"Saved {path} (it loads and validates)"

        solara.Style(_CSS)
        solara.Title("almsim studio")
        with solara.AppBar():
            solara.AppBarTitle("almsim studio: who pays, who saves")
        with solara.Sidebar(), solara.Column():
            with solara.Card("Scenario"):
                labels = [p.label for p in pairs]
                chosen = next((p.label for p in pairs if p.scenario == current.scenario), None)
                solara.Select("A shipped programme and its baseline", values=labels, value=chosen,
                              on_value=lambda lab: open_pair(next(p for p in pairs if p.label == lab)))
                solara.InputText("Or open your own scenario file (path)", value=own_file, continuous_update=True)
                solara.Button("Open file", on_click=open_file, outlined=True, classes=["almsim-open"])
            with solara.Card("Run"):
                solara.InputInt("Paired replications", value=replications)
                solara.InputInt("Seed", value=seed)
                solara.Checkbox(label="Fixed parameter values (no posterior draws)", value=fixed)
                solara.Button("Run", on_click=task, color="primary", disabled=bool(task.pending),
                              classes=["almsim-run"])
                if task.pending:
                    solara.ProgressLinear(task.progress if task.progress is not None else True)
                    solara.Text(f"running {replications.value} paired replications ...",
                                classes=["almsim-running"])
            with solara.Card("Save"):
                solara.InputText("Name of the variant (NAME.yaml)", value=save_name, continuous_update=True)
                solara.Button("Save as scenario file", on_click=save, outlined=True, classes=["almsim-save"])
                solara.HTML(tag="p", unsafe_innerHTML=f"in <code>{escape(str(folder))}</code>", classes=["almsim-note"])
                result = outcome.value
                if result is not None:
                    name = result.comparison.scenarios[0]
                    solara.FileDownload(lambda: _report(result), filename=f"report-{name}.html",
                                        label="Download the report (HTML)", mime_type="text/html")
        with solara.Column(classes=["almsim-studio"]):
            if message.value:
                solara.Success(message.value, classes=["almsim-message"])
            if error.value:
                solara.Error(error.value, classes=["almsim-error"])
            solara.HTML(tag="div", classes=["almsim-pair"], unsafe_innerHTML=(
                f"<b>{escape(spec.title or spec.name)}</b> (<code>{escape(current.scenario)}</code>) "
                f"compared with its baseline <code>{escape(current.baseline)}</code>"))
            with solara.Card("Levers (the file's value in brackets; press Enter after typing)"), \
                    solara.Columns([1, 1]):
                with solara.Column():
                    groups = list(dict.fromkeys(lv.group for lv in known if lv.group != "assumption"))
                    for group in groups:
                        p = spec.programme(group.removeprefix("programme "))
                        solara.Text(f"{p.title or p.name} ({p.name})", classes=["almsim-note", "almsim-programme"])
                        for lever in known:
                            if lever.group == group:
                                LeverInput(lever, values)
                with solara.Column():
                    solara.Text("Key assumptions (applied to the baseline too)", classes=["almsim-note"])
                    for lever in known:
                        if lever.group == "assumption":
                            LeverInput(lever, values)
                    solara.Button("Back to the file's values", on_click=lambda: values.set({}), text=True)
            if outcome.value is not None:
                _results(outcome.value)
            elif not task.pending:
                solara.Text("Press Run to compare the programme with its baseline.", classes=["almsim-note"])

    return Page


def _report(outcome: Outcome) -> bytes:
    from sim.present.report import render_report

    return render_report(outcome.comparison).encode("utf-8")


def _parameters_note(c: Any) -> str:
    """Which parameters were drawn per replication and which are priors (a short note)."""
    from sim.analysis.assumptions import parameters_text

    lines = parameters_text(c.tables["parameters"]) if "parameters" in c.tables else []
    return "".join(f"<p class='almsim-note almsim-parameters'>{escape(t.strip())}</p>" for t in lines[1:])


def _results(outcome: Outcome) -> None:
    import solara

    c = outcome.comparison
    changed = ", ".join(outcome.overrides + [f"baseline: {o}" for o in outcome.baseline_overrides]) or "none"
    with solara.Card("Who pays, who saves"):
        solara.HTML(tag="div", classes=["almsim-who-pays"], unsafe_innerHTML=(
            f"<p class='almsim-note'>Saving = with the programme minus without it, {MONEY_UNIT} to the programme's "
            f"start, median (P10 to P90) over {c.meta['replications']} paired replications; {SIGN_NOTE}.</p>"
            + _html_table(who_pays_table(c), "almsim-table")
            + f"<p class='almsim-note almsim-changed'>Changed from the files: {escape(changed)}</p>"
            + _parameters_note(c)))
    lines = limit_lines(c)
    if lines:
        with solara.Card("The limit that binds"):
            solara.HTML(tag="div", classes=["almsim-limits"],
                        unsafe_innerHTML="".join(f"<p>{escape(t)}</p>" for t in lines))
    bridge = bridge_table(c)
    with solara.Card("From a payoff-style estimate to almsim's"):
        if bridge.empty:
            solara.Text(" ".join(outcome.notes) or "No bridge for this comparison.", classes=["almsim-note"])
        else:
            solara.HTML(tag="div", classes=["almsim-bridge"], unsafe_innerHTML=(
                "<p class='almsim-note'>A payoff-style evaluation holds each participant's situation before the "
                "programme constant; almsim simulates what would have happened without it. Saving after "
                f"{_years(bridge.attrs['horizon_months'])}, mean over replications (the steps add up); {SIGN_NOTE}."
                "</p>" + _html_table(bridge, "almsim-table")))
