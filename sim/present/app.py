"""The teaching app: a Solara page around a Mesa model of one scenario, month by month.

A teacher opens a scenario file (``almsim teach FILE``), moves the sliders for the main levers
of its first programme — places, coaches and caseload, maximum length, yearly budget,
referral rate — presses Reset, and steps or plays the months. Live charts show the stocks by
stage, the waiting list against the places, and the cumulative net per payer (MSEK, + = the
payer is better off, almsim's one sign convention); a panel follows
one person (stage, clocks and this month's money).

Pieces, following Mesa's examples (model separate from the page):

* :func:`levers` reads which levers a scenario's first programme has and their values;
  :func:`lever_overrides` turns slider values into the scenario loader's dotted overrides
  (a slider left at the file's value changes nothing, so dated values such as C2's staff
  changes stay as written);
* :class:`TeachingModel` is a ``mesa.Model`` built from keyword arguments (what Mesa's controller's
  Reset needs): it wraps a :class:`~sim.engine.model.ProgrammeModel` and a ``DataCollector``;
* :func:`make_page` returns the Solara page component; ``almsim teach`` serves it with
  ``solara run``. SolaraViz has no switch for its page tabs, play interval and thread
  controls, so the page is a small one of Solara components around the same model: Mesa's own
  controller (Reset, ▶/❚❚, Step), sliders that show their values, and the charts.

Charts are matplotlib figures without pyplot (:func:`chart_figure`), the months since the start
on the x axis, fonts readable at their displayed size.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from sim.engine.model import ProgrammeModel
from sim.scenario.dated import format_month
from sim.scenario.errors import ScenarioError
from sim.scenario.load import load_scenario
from sim.scenario.schema import Programme, Scenario
from sim.scenario.stages import STAGES, Stage

__all__ = ["TeachingModel", "Lever", "levers", "lever_overrides", "model_params", "make_page",
           "ChartSpec", "chart_specs", "chart_figure", "month_ticks", "slider_text",
           "DEFAULT_SCENARIO", "PAYERS_SHOWN", "NET_LABEL", "CHART_DPI", "CHART_SIZE_INCHES",
           "TITLE_PT", "LABEL_PT", "TICK_PT"]

#: The scenario the app opens when none is given.
DEFAULT_SCENARIO = str(Path(__file__).resolve().parents[2] / "scenarios" / "c2-lycksele.yaml")
#: Payers whose cumulative net is charted (``society`` is their sum over all payers).
PAYERS_SHOWN = ("municipality", "state", "arbetsformedlingen", "forsakringskassan", "society")
_PAYER_COLOURS = {"municipality": "tab:blue", "state": "tab:orange", "arbetsformedlingen": "tab:green",
                  "forsakringskassan": "tab:purple", "society": "black"}
_STAGE_COLOURS = {"open": "tab:gray", "job": "tab:olive", "waiting": "tab:red", "coaching": "tab:blue",
                  "training": "tab:cyan", "education": "tab:purple", "subsidised": "tab:brown",
                  "fas3": "tab:orange", "work": "tab:green", "studies": "tab:pink"}
_LEVER_KEYS = ("places", "staff", "caseload", "max_duration", "budget_msek", "referral_rate")


@dataclass(frozen=True)
class Lever:
    """One slider: a keyword of :class:`TeachingModel` and its range."""

    keyword: str
    label: str
    value: float  #: the scenario file's value (in force at the start month)
    min: float
    max: float
    step: float
    integer: bool = False


def _first_programme(scenario: Scenario) -> Programme | None:
    return scenario.programmes[0] if scenario.programmes else None


def _budget_payer(p: Programme) -> str | None:
    """Whose yearly budget the budget slider sets (None: the programme cannot have one)."""
    if p.budget_sek_per_year:
        return next(iter(p.budget_sek_per_year))
    if p.kind == "subsidised_job":
        return p.employer
    if p.cost_sek_per_participant_month:
        costs = p.cost_sek_per_participant_month
        return p.funder if p.funder in costs else next(iter(costs))
    return None


def _nice_ceiling(x: float) -> float:
    """A round number >= x (1, 2, 5 x 10^k)."""
    if x <= 0:
        return 1.0
    k = 10 ** np.floor(np.log10(x))
    return float(next(m * k for m in (1, 2, 5, 10) if m * k >= x))


def levers(scenario: Scenario) -> dict[str, Lever]:
    """The sliders that apply to the scenario's first programme, keyed by keyword."""
    p = _first_programme(scenario)
    if p is None:
        return {}
    t0 = scenario.start_month
    out: dict[str, Lever] = {}
    cap = p.capacity
    if cap.slots is not None:
        v = cap.slots.at(t0)
        out["places"] = Lever("places", "Places", v, 0, _nice_ceiling(max(2 * v, 10)), 1, True)
    if cap.staff is not None and cap.caseload_per_staff is not None:
        v = cap.staff.at(t0)
        out["staff"] = Lever("staff", "Coaches (staff)", v, 0, max(2 * v, 6.0), 0.25)
        c = cap.caseload_per_staff.at(t0)
        out["caseload"] = Lever("caseload", "Caseload per coach", c, 1, _nice_ceiling(max(2 * c, 10)), 1, True)
    d = p.max_duration_months.at(t0)
    out["max_duration"] = Lever("max_duration", "Maximum length (months)", d, 1, max(2 * d, 24), 1, True)
    payer = _budget_payer(p)
    if payer is not None:
        b = p.budget_sek_per_year[payer].at(t0) / 1e6 if payer in p.budget_sek_per_year else 0.0
        slots = cap.slots_at(t0)
        wage = p.wage_sek_per_month.at(t0) if p.wage_sek_per_month is not None else 0.0
        cost = sum(c.at(t0) for c in p.cost_sek_per_participant_month.values())
        full = slots * (1.4 * wage + cost) * 12 / 1e6
        out["budget_msek"] = Lever("budget_msek", f"Yearly budget, {payer} (MSEK; 0 = no limit)", round(b, 1), 0,
                                   _nice_ceiling(max(2 * b, full, 1)), 0.5)
    rates = [v for _, v in p.referral_rate_per_month.steps if v > 0]
    r = rates[0] if rates else 0.0
    out["referral_rate"] = Lever("referral_rate", "Referral rate (share of the eligible a month)", r, 0, 1, 0.01)
    return out


def _yaml_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def lever_overrides(scenario: Scenario, values: dict[str, float | None]) -> list[str]:
    """Dotted overrides (``path=VALUE``) for the levers whose value differs from the file's.

    The referral rate keeps its dated steps: months with a zero rate (the programme closed
    to referrals) stay zero, the others take the slider's value.
    """
    p = _first_programme(scenario)
    if p is None:
        return []
    known = levers(scenario)
    base = f"programmes.{p.name}"
    out: list[str] = []
    for key, value in values.items():
        lever = known.get(key)
        if lever is None or value is None or abs(float(value) - lever.value) < 1e-9:
            continue
        v = float(value)
        if key == "places":
            out.append(f"{base}.capacity.slots={int(round(v))}")
        elif key == "staff":
            out.append(f"{base}.capacity.staff={_yaml_number(v)}")
        elif key == "caseload":
            out.append(f"{base}.capacity.caseload_per_staff={_yaml_number(v)}")
        elif key == "max_duration":
            out.append(f"{base}.max_duration_months={int(round(v))}")
        elif key == "budget_msek":
            payer = _budget_payer(p)
            out.append(f"{base}.budget_sek_per_year=" + ("{}" if v <= 0 else f"{{{payer}: {int(round(v * 1e6))}}}"))
        elif key == "referral_rate":
            steps = p.referral_rate_per_month.steps
            if len(steps) == 1 and steps[0][0] is None:
                out.append(f"{base}.referral_rate_per_month={_yaml_number(v)}")
            else:
                dated = ", ".join(f"{format_month(m) if m is not None else format_month(scenario.start_month)}: "
                                  f"{_yaml_number(v if old > 0 else 0.0)}" for m, old in steps)
                out.append(f"{base}.referral_rate_per_month={{{dated}}}")
    return out


class TeachingModel(mesa.Model):
    """A :class:`~sim.engine.model.ProgrammeModel` built from a scenario file and slider values.

    Each :meth:`step` simulates one month; the ``datacollector`` then records the month's
    stocks by stage, the first programme's waiting list, participants and places, and the
    cumulative net per payer (MSEK, the payer's net ledger sum: + = the payer is better off
    (receives), − = it pays; a line going down means the payer is paying).

    Args:
        scenario_file: the scenario YAML file.
        seed: seed of the model's random streams.
        person: id of the person the side panel follows.
        places, staff, caseload, max_duration, budget_msek, referral_rate: lever values for
            the first programme (None or the file's value: unchanged; see :func:`levers`).

    Attributes:
        sim: the wrapped programme model.
        spec: the scenario in force (with the overrides applied).
        overrides: the dotted overrides the levers made.
        error: a one-line message if the overrides were refused (the file is then used as is).
    """

    def __init__(self, scenario_file: str = DEFAULT_SCENARIO, seed: int = 1, person: int = 0,
                 places: float | None = None, staff: float | None = None, caseload: float | None = None,
                 max_duration: float | None = None, budget_msek: float | None = None,
                 referral_rate: float | None = None) -> None:
        super().__init__(rng=int(seed))
        self.scenario_file = os.fspath(scenario_file)
        base = load_scenario(self.scenario_file)
        values = {"places": places, "staff": staff, "caseload": caseload, "max_duration": max_duration,
                  "budget_msek": budget_msek, "referral_rate": referral_rate}
        self.overrides = lever_overrides(base, values)
        self.error: str | None = None
        try:
            self.spec = load_scenario(self.scenario_file, self.overrides) if self.overrides else base
        except ScenarioError as exc:
            self.error, self.spec, self.overrides = str(exc), base, []
        self.programme = self.spec.programmes[0].name if self.spec.programmes else None
        self.person = int(person)
        try:
            self.sim = ProgrammeModel(self.spec, rng=int(seed), track=[self.person])
        except ValueError:  # no such person: follow person 0
            self.person = 0
            self.sim = ProgrammeModel(self.spec, rng=int(seed), track=[0])
        self.cumulative_net_msek = dict.fromkeys(PAYERS_SHOWN, 0.0)
        reporters: dict[str, Any] = {s.label: (lambda m, i=int(s): m.stock(i)) for s in STAGES}
        reporters |= {"waiting": lambda m: m.queue()[0], "in programme": lambda m: m.queue()[1],
                      "places": lambda m: m.queue()[2]}
        reporters |= {p: (lambda m, p=p: m.cumulative_net_msek[p]) for p in PAYERS_SHOWN}
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.running = True

    # ------------------------------------------------------------------ the month
    def step(self) -> None:
        """Simulate one month and record it."""
        if self.sim.calendar.month >= self.sim.horizon:
            self.running = False
            return
        self.sim.step()
        t, totals = self.sim.rec.ledger[-1]
        net: dict[str, float] = {}
        for (payer, _category), sek in totals.items():
            net[payer] = net.get(payer, 0.0) + sek
        for p in PAYERS_SHOWN:
            month_net = sum(net.values()) if p == "society" else net.get(p, 0.0)
            self.cumulative_net_msek[p] += month_net / 1e6
        self.datacollector.collect(self)
        self.running = self.sim.calendar.month < self.sim.horizon

    # ------------------------------------------------------------------ readings
    @property
    def months_done(self) -> int:
        """Months simulated so far."""
        return len(self.sim.rec.stocks)

    @property
    def month_label(self) -> str:
        """The last month simulated (or the start month before the first step)."""
        return format_month(self.sim.start + max(self.months_done - 1, 0))

    def stock(self, stage: int) -> int:
        """People in ``stage`` during the last month simulated."""
        return int(self.sim.rec.stocks[-1][stage]) if self.sim.rec.stocks else 0

    def queue(self) -> tuple[int, int, int]:
        """(waiting, participants, places) of the first programme during the last month."""
        if not self.sim.rec.queues:
            if self.programme is None:
                return (0, 0, 0)
            return (0, 0, self.sim.slots[0].capacity)
        row = self.sim.rec.queues[-len(self.spec.programmes)]
        return (int(row[2]), int(row[3]), int(row[4]))

    def followed(self) -> dict[str, Any]:
        """The followed person this month: stage, clocks and money by payer (empty before a step)."""
        rec = self.sim.rec
        if not rec.tracked_state:
            return {}
        s = rec.tracked_state[-1]
        _, _, postings = rec.tracked_money[-1]
        money: dict[str, float] = {}
        for (payer, _cat), v in postings.items():
            money[payer] = money.get(payer, 0.0) + float(v[0])
        prog = int(s["programme"][0])
        return {
            "month": format_month(self.sim.start + int(s["t"])),
            "stage": Stage(int(s["stage"][0])).label,
            "programme": self.spec.programmes[prog].name if prog >= 0 else "",
            "months_in_stage": int(s["months_in_stage"][0]),
            "ui_entitled": bool(s["ui_entitled"][0]), "ui_days": float(s["ui_days"][0]),
            "in_guarantee": bool(s["in_guarantee"][0]), "job_days": float(s["job_days"][0]),
            "work_condition_months": int(s["work_condition_months"][0]),
            "motivation": float(s["motivation"][0]),
            "money": {k: v for k, v in money.items() if abs(v) >= 0.5},
        }


def model_params(scenario_file: str) -> dict[str, Any]:
    """The page's parameters: the file (fixed), seed, followed person and the lever sliders (Mesa ``Slider``s)."""
    from mesa.visualization import Slider

    scenario = load_scenario(scenario_file)
    n = ProgrammeModel(scenario, rng=1, record_events=False).people
    params: dict[str, Any] = {
        "scenario_file": os.fspath(scenario_file),
        "seed": Slider("Seed", 1, 0, 50, 1),
        "person": Slider("Followed person (id)", 0, 0, max(int(n) - 1, 0), 1),
    }
    for key in _LEVER_KEYS:
        lever = levers(scenario).get(key)
        if lever is not None:
            params[key] = Slider(lever.label, int(lever.value) if lever.integer else float(lever.value),
                                 lever.min, lever.max, lever.step, dtype=int if lever.integer else float)
    return params


# ---------------------------------------------------------------------- the page
#: Chart size and fonts. The charts are SVG images scaled to their column: a font of ``pt``
#: points shows at ``pt * displayed width / (CHART_SIZE_INCHES[0] * 72)`` pixels. Two charts
#: side by side on a 1280-px-wide page show at about 415 px: titles 15 pt = 18 px, axis labels
#: 13 pt = 16 px, ticks and legend 12 pt = 14 px.
CHART_DPI = 100
CHART_SIZE_INCHES = (4.8, 4.4)
TITLE_PT, LABEL_PT, TICK_PT = 15.0, 13.0, 12.0
#: Milliseconds between months when playing.
PLAY_INTERVAL_MS = 150
#: The y-axis label of the money chart: almsim's one sign convention.
NET_LABEL = "MSEK, + = the payer is better off"


@dataclass(frozen=True)
class ChartSpec:
    """One live chart: which DataCollector columns, in which colours, under which title."""

    title: str
    ylabel: str
    series: dict[str, str]  #: column -> colour
    signed: bool = False  #: a line at 0 and room below it (money)


def month_ticks(start: int, months: int) -> tuple[list[int], list[str]]:
    """Labelled ticks for a months-since-start axis of ``months`` months.

    At most six ticks, a whole number of years apart, each labelled with the months since the
    start and, below it, the calendar month (24 over 2009-01).

    Args:
        start: the scenario's start month (a month number, year * 12 + month - 1).
        months: the horizon in months.

    Returns:
        The tick positions (months since start) and their labels.
    """
    every = 12 * max(1, math.ceil(months / 12 / 5))
    ticks = list(range(0, months + 1, every))
    return ticks, [f"{m}\n{format_month(start + m)}" for m in ticks]


def chart_figure(model: TeachingModel, spec: ChartSpec) -> Any:
    """The matplotlib figure (no pyplot) of ``spec`` for the months ``model`` has simulated.

    The x axis is the months since the scenario's start (month 0 is the start month), over the
    whole horizon, so the lines grow from left to right as the months are played.

    Args:
        model: the teaching model (its ``datacollector`` rows are the months simulated).
        spec: what to draw.

    Returns:
        A ``matplotlib.figure.Figure`` of :data:`CHART_SIZE_INCHES`, legend below the axes.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=CHART_SIZE_INCHES, dpi=CHART_DPI, layout="constrained")
    ax = fig.subplots()
    df = model.datacollector.get_model_vars_dataframe()
    x = np.arange(len(df))
    for column, colour in spec.series.items():
        ax.plot(x, df[column].to_numpy() if len(df) else x, label=column, color=colour, lw=1.8)
    months = int(model.sim.horizon)
    ticks, labels = month_ticks(int(model.sim.start), months)
    ax.set_xticks(ticks, labels)
    ax.set_xticks(range(0, months + 1, 12), minor=True)
    ax.set_xlim(0, months)
    ax.set_title(spec.title, fontsize=TITLE_PT)
    ax.set_xlabel("months since start", fontsize=LABEL_PT)
    ax.set_ylabel(spec.ylabel, fontsize=LABEL_PT)
    ax.tick_params(labelsize=TICK_PT)
    if not len(df):
        ax.set_ylim(-1 if spec.signed else 0, 1)
    elif not spec.signed:
        ax.set_ylim(bottom=0)
    if spec.signed:
        ax.axhline(0, color="0.6", lw=0.8)
    ax.grid(alpha=0.3)
    ax.grid(alpha=0.15, which="minor")
    fig.legend(loc="outside lower center", ncol=3, fontsize=TICK_PT, frameon=False, handlelength=1.2,
               columnspacing=1.2)
    return fig


def chart_specs(scenario: Scenario) -> list[ChartSpec]:
    """The three live charts: people by stage, waiting list and places, cumulative net per payer.

    Args:
        scenario: the scenario (its programmes' stages are among the stages shown).

    Returns:
        The chart specifications, in the order the page shows them.
    """
    shown = ["open", "job", "waiting"] + sorted({p.stage.label for p in scenario.programmes}) + ["fas3", "work"]
    return [
        ChartSpec("People by stage", "people", {s: _STAGE_COLOURS[s] for s in dict.fromkeys(shown)}),
        ChartSpec("Waiting list and places", "people",
                  {"waiting": "tab:red", "in programme": "tab:blue", "places": "black"}),
        ChartSpec("Cumulative net per payer", NET_LABEL, {p: _PAYER_COLOURS[p] for p in PAYERS_SHOWN},
                  signed=True),
    ]


def slider_text(value: float, step: float, integer: bool) -> str:
    """A slider's value as shown next to it.

    Args:
        value: the slider's value.
        step: the slider's step (the value gets as many decimals as the step has).
        integer: whether the slider is an integer slider.

    Returns:
        The value as text, e.g. ``"2.75"`` for step 0.25 or ``"17"`` for an integer slider.
    """
    if integer:
        return str(int(round(value)))
    decimals = 0
    while decimals < 4 and abs(round(step, decimals) - step) > 1e-12:
        decimals += 1
    return f"{value:.{decimals}f}"


def _html(lines: list[str], css_class: str) -> Any:
    import solara

    body = "".join(f"<div>{line}</div>" for line in lines)
    return solara.HTML(tag="div", unsafe_innerHTML=body, classes=[css_class], style={"line-height": "1.6"})


def _panel(model: TeachingModel) -> Any:
    """This month's numbers, the levers in force, and the followed person."""
    import solara

    from sim.present.story import PAYER_NAMES

    waiting, inside, places = model.queue()
    with solara.Column(gap="12px") as column:
        with solara.Card("This month"):
            lines = [f"<b>{escape(model.spec.title or model.spec.name)}</b> "
                     f"(<code>{escape(Path(model.scenario_file).name)}</code>)",
                     f"<span class='almsim-month'>Month {model.month_label} · step {model.months_done} of "
                     f"{model.sim.horizon}</span>"]
            if model.programme is not None:
                lines.append(f"<span class='almsim-queue'>{escape(model.programme)}: places {places} · "
                             f"in programme {inside} · waiting {waiting}</span>")
            if model.overrides:
                changed = ", ".join(f"<code>{escape(o)}</code>" for o in model.overrides)
                lines.append("Changed by the sliders: " + changed)
            else:
                lines.append("Levers as in the scenario file. Move a slider, then press Reset.")
            _html(lines, "almsim-now")
            if model.error:
                solara.Error(f"Slider values refused, file used as is: {model.error}")
        with solara.Card(f"Following person {model.person}"):
            f = model.followed()
            if not f:
                _html(["Press Step (or ▶) to simulate the months."], "almsim-person")
            else:
                where = f["stage"] + (f" ({f['programme']})" if f["programme"] else "")
                support = ("a-kassa (UI)" if f["ui_entitled"] else "the job guarantee" if f["in_guarantee"]
                           else "social assistance")
                lines = [f"<b>{f['month']}</b>: {escape(where)}, month {f['months_in_stage'] + 1} in this stage",
                         f"Income support: {support} · UI days {f['ui_days']:.0f} · JOB days {f['job_days']:.0f}",
                         f"Months of work in the last 12: {f['work_condition_months']} · "
                         f"motivation {f['motivation']:.2f}",
                         "<b>This month's money</b> (+ = the payer is better off (receives), − = it pays):"]
                lines += [f"{escape(PAYER_NAMES.get(p, p))}: {v:+,.0f} kr".replace(",", " ").replace("-", "−")
                          for p, v in sorted(f["money"].items(), key=lambda kv: kv[1])] or ["none"]
                _html(lines, "almsim-person")
    return column


_CSS = """
.almsim-chart img { max-width: 100%; height: auto; display: block; }
.almsim-lever { margin-top: 6px; }
.almsim-lever-head { display: flex; justify-content: space-between; gap: 8px; font-size: 14px; }
.almsim-lever-value { font-weight: 600; font-variant-numeric: tabular-nums; white-space: nowrap; }
.almsim-lever .v-input { margin-top: 0; padding-top: 0; }
.almsim-lever .v-messages { display: none; }
"""


def make_page(scenario_file: str = DEFAULT_SCENARIO) -> Any:
    """The Solara page component for ``scenario_file`` (a fresh model per browser session).

    Built from Solara components around the model, following Mesa's SolaraViz but without the
    controls a teacher does not need (page tabs, play interval, render interval, threads):

    * the sidebar holds Mesa's own controller (Reset, ▶/❚❚, Step) and the sliders, each with its
      value shown next to its name; moved sliders take effect at Reset;
    * the main area shows the three charts (months since start on the x axis) and the panel.

    Args:
        scenario_file: the scenario YAML file.

    Returns:
        The ``Page`` component (``solara run`` serves a module's ``Page``).
    """
    import solara
    from mesa.visualization.solara_viz import ModelController
    from mesa.visualization.utils import update_counter

    scenario_file = os.fspath(scenario_file)
    params = model_params(scenario_file)
    sliders = {k: v for k, v in params.items() if not isinstance(v, str)}
    defaults = {k: (v if isinstance(v, str) else v.value) for k, v in params.items()}
    scenario = load_scenario(scenario_file)
    specs = chart_specs(scenario)
    name = f"almsim: {scenario.title or scenario.name}"

    @solara.component
    def Chart(model: TeachingModel, spec: ChartSpec) -> Any:  # noqa: N802 - a Solara component
        update_counter.get()  # redrawn after every step (Mesa's controller bumps the counter)
        fig = chart_figure(model, spec)
        with solara.Div(classes=["almsim-chart"]) as div:
            solara.FigureMatplotlib(fig, format="svg")
        return div

    @solara.component
    def Panel(model: TeachingModel) -> Any:  # noqa: N802
        update_counter.get()
        return _panel(model)

    @solara.component
    def LeverSlider(key: str, values: solara.Reactive[dict[str, Any]]) -> Any:  # noqa: N802
        slider = sliders[key]
        value = values.value.get(key, slider.value)
        integer = not slider.is_float_slider

        def on_value(v: float) -> None:
            values.value = {**values.value, key: v}

        with solara.Div(classes=["almsim-lever"]) as div:
            solara.HTML(tag="div", classes=["almsim-lever-head"],
                        unsafe_innerHTML=f"<span>{escape(slider.label)}</span><span class='almsim-lever-value'>"
                                         f"{slider_text(value, slider.step, integer)}</span>")
            widget = solara.SliderInt if integer else solara.SliderFloat
            widget("", value=value, min=slider.min, max=slider.max, step=slider.step, on_value=on_value,
                   thumb_label=False)
        return div

    @solara.component
    def Page() -> Any:  # noqa: N802 - Solara's name for an app's page component
        first = solara.use_memo(lambda: TeachingModel(scenario_file=scenario_file), [])
        model = solara.use_reactive(first)
        values = solara.use_reactive(dict(defaults))
        play_interval = solara.use_reactive(PLAY_INTERVAL_MS)
        render_interval = solara.use_reactive(1)
        use_threads = solara.use_reactive(False)
        solara.Style(_CSS)
        solara.Title(name)
        with solara.AppBar():
            solara.AppBarTitle(name)
        with solara.Sidebar(), solara.Column():
            with solara.Card("Controls"):
                ModelController(model, model_parameters=values, play_interval=play_interval,
                                render_interval=render_interval, use_threads=use_threads)
            with solara.Card("Levers (press Reset to apply)"):
                for key in sliders:
                    LeverSlider(key, values)
        with solara.Columns([1, 1]):
            Chart(model.value, specs[0])
            Chart(model.value, specs[1])
        with solara.Columns([1, 1]):
            Chart(model.value, specs[2])
            Panel(model.value)

    return Page
