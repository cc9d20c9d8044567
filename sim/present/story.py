"""One person's story, told month by month from the model's own records.

:func:`tell_story` re-runs a scenario with the same seed and ``track=[person]`` (the engine's
random streams are keyed by seed, person and month, so following someone does not change
anything) and narrates, in plain language:

* **who** the person is (the ``people`` table: age, household, origin, schooling);
* **spells**: each stretch of months in one stage and benefit situation ("2012-02 to 2012-06,
  5 months: on the waiting list for Resursjobb"), with what that cost whom *each month*
  (``tracked_money``, in almsim's one sign convention: + = the payer is better off
  (receives), − = it pays);
* **moments**: referral, the wait before a place, leaving a programme, and the clocks — UI
  days running out, 450 days in the job and development guarantee (→ Fas 3), a new a-kassa
  (UI) period earned by work;
* **the total** per payer over the months followed, and for society (all payers together).

A replication of ``almsim run`` runs with its own posterior draw of the calibrated parameters
(:func:`sim.runs.posterior.replication_scenarios`) unless ``--fixed-parameters``, so the story of
a run folder re-runs the replication with that draw applied (without it, it would tell another
life than the run saved); :func:`tell_story` does so with ``fixed_parameters=False``.

:func:`story_from_run` does the same for a folder written by ``almsim run``, reading the
resolved scenario, the replication seeds and whether the run kept the calibrated parameters
fixed from its ``manifest.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.accounts.payers import PAYERS
from sim.accounts.rules import UI_STEP_DAY, ui_days_before, ui_days_left
from sim.engine.model import ProgrammeModel
from sim.engine.streams import replication_seeds
from sim.runs.posterior import replication_scenarios
from sim.runs.replications import content_hash
from sim.runs.results import RunResult
from sim.scenario.dated import parse_month
from sim.scenario.errors import ScenarioError
from sim.scenario.load import build, load_scenario
from sim.scenario.schema import Scenario
from sim.scenario.stages import PROGRAMME_KINDS

__all__ = ["tell_story", "story_from_run", "PAYER_NAMES", "StoryError"]

#: How payers are named in stories (ledger name -> plain name).
PAYER_NAMES = {
    "municipality": "municipality",
    "state": "state (UI funds, taxes on wages, the equalisation grant)",
    "arbetsformedlingen": "Arbetsförmedlingen",
    "forsakringskassan": "Försäkringskassan",
    "region": "region",
    "individual": "the person",
    "employer": "employers",
    "public": "the public (users of the services extra staff improve)",
    "samordningsforbund": "the samordningsförbund (Finsam)",
    "esf": "the European Social Fund",
}
_PAYER_ORDER = tuple(dict.fromkeys(("municipality", "state", "arbetsformedlingen", "forsakringskassan", "region",
                                    "employer", "public", *PAYERS, "individual")))
_HOUSEHOLDS = {"single": "living alone", "single_parent": "a single parent",
               "couple": "living with a partner", "couple_children": "living with a partner"}
_EDUCATION = {"compulsory": "compulsory school", "upper_secondary": "upper-secondary school",
              "tertiary": "higher education"}
_PROGRAMME_STAGES = {s.label for s in PROGRAMME_KINDS.values()}
#: Short names of destinations in event lines.
_STAGE_WORDS = {"open": "open unemployment", "job": "the job and development guarantee (JOB)", "fas3": "Fas 3",
                "work": "work", "studies": "regular studies", "other": "outside the labour force",
                "coaching": "coaching", "training": "work training", "education": "education",
                "subsidised": "a subsidised job"}


class StoryError(ValueError):
    """A story cannot be told: no such person, replication or run folder (one-line message)."""


def _kr(x: float, sign: bool = False) -> str:
    s = f"{abs(x):,.0f}".replace(",", " ")
    if not sign:
        return f"{s} kr"
    return f"{'+' if x >= 0 else '−'}{s} kr"


def _cat(name: str) -> str:
    return name.replace("_", " ")


def _months(n: int) -> str:
    return f"{n} month{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class _Spell:
    start: int  #: month index of the first month (0 = the scenario's start month)
    end: int  #: month index of the last month
    stage: str
    programme: str
    ui: bool  #: on unemployment insurance (a-kassa)
    guarantee: bool  #: in the job and development guarantee


def _doing(sp: _Spell, titles: dict[str, str]) -> str:
    """What someone in a spell is doing, and on what they live."""
    prog = titles.get(sp.programme, sp.programme)
    support = ("unemployment insurance (a-kassa, paid by the state)" if sp.ui else
               "activity support from Försäkringskassan" if sp.guarantee else
               "social assistance from the municipality")
    return {
        "open": f"openly unemployed, living on {support}",
        "job": "in the job and development guarantee (JOB, phases 1–2), on activity support",
        "waiting": f"on the waiting list for {prog}, living on {support}",
        "coaching": f"in coaching: {prog}" if sp.programme else "in coaching outside the programmes",
        "training": f"in work training: {prog}" if sp.programme else
                    "in work training outside the programmes (e.g. an Arbetsförmedlingen measure)",
        "education": f"in education: {prog}" if sp.programme else
                     "in education outside the programmes (e.g. an Arbetsförmedlingen course or SFI)",
        "subsidised": f"in a subsidised job: {prog}" if sp.programme else
                      "in a subsidised job outside the programmes (e.g. a nystartsjobb)",
        "fas3": "in Fas 3, an occupation placement (the organiser is paid a grant)",
        "work": "in work without subsidy, self-supporting",
        "studies": "in regular studies (on student finance, outside the ledger)",
        "other": "out of the labour force (sickness benefit, parental leave, moved or pension)",
    }.get(sp.stage, sp.stage)


def _who(row: pd.Series, first: str) -> str:
    sex = "woman" if row["sex"] == "female" else "man"
    parts = [f"a {int(row['age_at_arrival'])}-year-old {sex}", _HOUSEHOLDS.get(row["household"], row["household"])]
    kids = int(row["children"])
    if kids:
        parts[-1] += f" with {kids} child{'ren' if kids > 1 else ''}"
    elif row["household"] != "single_parent":
        parts[-1] += " without children"
    parts.append("born abroad" + (", learning Swedish (SFI)" if row["sfi"] else "") if row["foreign_born"]
                 else "born in Sweden")
    parts.append(f"schooling: {_EDUCATION.get(row['education'], row['education'])}")
    if row["rehab_need"]:
        parts.append("needs rehabilitation involving several agencies")
    text = "Who: " + ", ".join(parts) + "."
    text += (f" Before arriving, {_months(int(row['months_on_assistance_at_entry']))} out of work on support."
             f" Arrives in {row['arrival_month']}, {first}.")
    return text


def _spells(state: pd.DataFrame) -> list[_Spell]:
    spells: list[_Spell] = []
    for t, r in enumerate(state.itertuples(index=False)):
        if r.stage == "not_arrived":
            continue
        key = (r.stage, r.programme, bool(r.ui_entitled), bool(r.in_guarantee))
        last = spells[-1] if spells else None
        if last and last.end == t - 1 and (last.stage, last.programme, last.ui, last.guarantee) == key:
            spells[-1] = _Spell(last.start, t, *key)
        else:
            spells.append(_Spell(t, t, *key))
    return spells


def _money_line(money: pd.DataFrame, months: int) -> str:
    """Average money per month of a spell: per payer, net and its categories."""
    if money.empty:
        return "  Money each month: nothing is paid."
    parts = []
    by_payer = money.groupby("payer")
    for payer in _PAYER_ORDER:
        if payer not in by_payer.groups:
            continue
        cats = by_payer.get_group(payer).groupby("category")["sek"].sum() / months
        cats = cats[cats.abs() >= 0.5].sort_values(key=abs, ascending=False)
        if cats.empty:
            continue
        net = float(cats.sum())
        if len(cats) > 1:
            detail = ", ".join(f"{_cat(c)} {_kr(v, True)}" for c, v in cats.items())
        else:
            detail = _cat(cats.index[0])
        parts.append(f"{PAYER_NAMES.get(payer, payer)} {_kr(net, True)} ({detail})")
    return "  Money each month: " + "; ".join(parts) + "." if parts else "  Money each month: nothing is paid."


def _received(money: pd.DataFrame, category: str) -> dict[str, float]:
    """What the person received in ``category``, per month (YYYY-MM)."""
    got = money[(money["payer"] == "individual") & (money["category"] == category)]
    return got.groupby("month")["sek"].sum().to_dict()


def _clock_lines(state: pd.DataFrame, scenario: Scenario, paid: pd.DataFrame,
                 children: int) -> Iterator[tuple[int, str]]:
    """Moments when a benefit clock ran out or restarted, as (month index, text).

    What a new UI period or the 200-day step means depends on whether the UI is the basic amount
    (``ui_income_related`` false: no a-kassa membership; it does not fall, and social assistance,
    read from the person's money ``paid``, often tops it up) or income-related.
    """
    rules, money = scenario.rules, scenario.money
    assistance = _received(paid, "social_assistance")

    rows = list(state.itertuples(index=False))
    for t in range(1, len(rows)):
        a, b = rows[t - 1], rows[t]
        if a.stage == "not_arrived":
            continue
        m = scenario.start_month + t
        label = a.month
        if not a.in_guarantee and b.in_guarantee and b.stage not in ("work", "studies"):
            if a.ui_entitled:
                limits = rules.ui_days_max.at(m - 1), rules.ui_days_max_with_child.at(m - 1)
                limit = limits[1] if children > 0 else limits[0]
                left = float(ui_days_left(np.array([a.ui_days], np.float32), np.array([children]), *limits)[0])
                paid_days = min(left, float(money.benefit_days_per_month.at(m - 1)))
                yield t - 1, (f"In {label} the UI days run out: the a-kassa pays the last {paid_days:.0f} of the "
                              f"period's {limit:.0f} days, and the person enters the job and development guarantee "
                              "(JOB), where Försäkringskassan pays activity support instead.")
            else:
                yield t - 1, (f"In {label}, after {int(rules.job_entry_after_months_registered.at(m))} months "
                              "registered without work, the person enters the job and development guarantee (JOB).")
        limit = rules.job_days_to_fas3.at(m)
        if a.in_guarantee and b.in_guarantee and a.job_days < limit <= b.job_days:
            if rules.fas3_open_to_entrants.at(m):
                where = "moves to Fas 3" if b.stage == "fas3" else f"now counts as Fas 3 while {b.stage}"
                yield t - 1, (f"In {label} the {limit:.0f} days in the guarantee are used up: the person {where} "
                              "(the clock that makes the Fas 3 stock grow).")
            else:
                yield t - 1, (f"In {label} the {limit:.0f} days in the guarantee are used up. Fas 3 takes nobody "
                              "new since February 2016, so the person stays in the guarantee; activity support "
                              "without a UI history ends here.")
        if b.ui_entitled and (not a.ui_entitled or b.ui_days + 1e-3 < a.ui_days):
            draws = ("UI from the state, topped up by social assistance from the municipality"
                     if assistance.get(b.month, 0.0) > 0 else "UI from the state, not social assistance from the "
                     "municipality")
            if not b.ui_income_related:
                draws += " (the basic amount: not an a-kassa member long enough for income-related UI)"
            yield t - 1, (f"In {label} the job ends. {int(b.work_condition_months)} of the last 12 months were work, "
                          f"which meets the a-kassa work condition ({rules.work_condition_months} months): a new "
                          f"unemployment-insurance (UI) period starts. Out of work, the person now draws {draws}.")
        if a.ui_entitled and b.ui_entitled and a.ui_days < 200 <= b.ui_days:
            hi, lo = money.ui_share_first_200_days.at(m - 1), money.ui_share_after_200_days.at(m - 1)
            first = float(ui_days_before(np.array([a.ui_days], np.float32), UI_STEP_DAY)[0])
            month_days = float(money.benefit_days_per_month.at(m - 1))
            falls = ("the basic amount stays as it is" if not b.ui_income_related
                     else f"the a-kassa pays {first:.0f} of the month's {month_days:g} days at {hi:.0%} of the former "
                     f"wage and the rest at {lo:.0%}, as every day after")
            yield t - 1, f"In {label} UI day 200 is reached: {falls}."


def _event_lines(events: pd.DataFrame, titles: dict[str, str], start: int,
                 max_duration: dict[str, int], state: pd.DataFrame) -> Iterator[tuple[int, str]]:
    """Referrals, waits and programme exits from the event log, as (month index, text).

    A move off a waiting list carries the list's programme whether or not it was a place: someone
    waiting for Resursjobb who finds a nystartsjobb moves to the same stage, a subsidised job. The
    person's programme tag the month after (``state``) tells the two apart.
    """
    tag_after = dict(zip(state["month"].iloc[:-1], state["programme"].iloc[1:], strict=True))
    referred: tuple[int, str] | None = None
    entered: dict[str, int] = {}
    for r in events.itertuples(index=False):
        t = parse_month(r.month) - start
        prog = titles.get(r.programme, r.programme)
        if r.to_stage == "waiting":
            referred = (t, r.programme)
            yield t, f"In {r.month} the person is referred to {prog} and put on its waiting list."
        elif r.from_stage == "waiting":
            waited = t - referred[0] if referred else 0
            if r.to_stage in _PROGRAMME_STAGES and r.programme and tag_after.get(r.month, r.programme) == r.programme:
                entered[r.programme] = t
                wait = ("in the month of referral, without waiting" if waited == 0 else
                        f"after waiting {_months(waited)}")
                yield t, f"In {r.month} the person gets a place in {prog}, {wait}."
            else:
                wait = "in the month of referral" if waited == 0 else f"after {_months(waited)}"
                yield t, (f"In {r.month} the person leaves the waiting list for {prog} without a place, {wait}, "
                          f"to {_STAGE_WORDS.get(r.to_stage, r.to_stage)}.")
            referred = None
        elif r.from_stage in _PROGRAMME_STAGES and r.programme:
            n = t - entered[r.programme] if r.programme in entered else None
            how = f" after {_months(n)}" if n else ""
            if n and n >= max_duration.get(r.programme, 10**9):
                how += " (its maximum length)"
            yield t, f"In {r.month} the person leaves {prog}{how}, to {_STAGE_WORDS.get(r.to_stage, r.to_stage)}."


def _rerun(scenario: Scenario, seed: int, person: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame,
                                                                    pd.Series]:
    """Run the scenario following ``person``: their monthly state, money, events and attributes."""
    try:
        model = ProgrammeModel(scenario, rng=seed, track=[person])
    except ValueError as exc:
        if not str(exc).startswith("track:"):
            raise
        n = ProgrammeModel(scenario, rng=seed, record_events=False).people
        raise StoryError(f"person {person} is out of range: {scenario.name} has {n} people "
                         f"(ids 0-{n - 1})") from None
    model.run()
    res = RunResult.from_model(model)
    events = res.events[res.events["person"] == person].reset_index(drop=True)
    state = res.tracked_state[res.tracked_state["person"] == person].reset_index(drop=True)
    money = res.tracked_money[res.tracked_money["person"] == person].reset_index(drop=True)
    who = res.people.loc[res.people["person"] == person].iloc[0]
    return state, money, events, who


def tell_story(scenario: Scenario | str | os.PathLike[str], seed: int, person: int, replication: int = 0,
               fixed_parameters: bool = True) -> str:
    """One person's months in a scenario, in plain language.

    Args:
        scenario: a validated scenario, or a scenario file.
        seed: the run's seed (as given to ``almsim run --seed``).
        person: the person's id (row of the ``people`` table).
        replication: which replication of ``seed`` (0 is the seed itself).
        fixed_parameters: the calibrated defaults at their written values (the default), as
            ``ProgrammeModel`` and ``simulate`` run a scenario and ``almsim run --fixed-parameters``
            runs each replication; ``False``: with the replication's posterior draw, as
            ``almsim run`` runs it by default.

    Returns:
        The story as text, one line per spell or moment, with money per payer.

    Raises:
        StoryError: if the person or the replication does not exist.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if replication < 0:
        raise StoryError(f"replication must be >= 0, got {replication}")
    run_seed = replication_seeds(seed, replication + 1)[replication]
    scenario = _replication_scenario(scenario, seed, replication, fixed_parameters)
    return _story(scenario, run_seed, person, f"seed {seed}, replication {replication}")[0]


def _replication_scenario(scenario: Scenario, seed: int, replication: int, fixed_parameters: bool) -> Scenario:
    """``scenario`` as replication ``replication`` of ``seed`` ran it: with its posterior draw.

    A replication's draw depends on the seed and its index only, not on how many were run.
    """
    return replication_scenarios(scenario, seed, replication + 1, fixed_parameters=fixed_parameters)[0][replication]


def _story(scenario: Scenario, run_seed: int, person: int,
           label: str) -> tuple[str, pd.DataFrame, pd.Series]:
    """The story text, the person's events and attributes (to compare with a saved run)."""
    state, money, events, who = _rerun(scenario, run_seed, person)
    titles = {p.name: (p.title or p.name) for p in scenario.programmes}
    max_duration = {p.name: int(p.max_duration_months.first) for p in scenario.programmes}
    spells = _spells(state)
    lines = [f"The story of person {person} in '{scenario.title or scenario.name}' "
             f"(scenario {scenario.name}, {label}).",
             _who(who, _doing(spells[0], titles) if spells else "but never takes part"),
             "Money is per month, per payer: + = the payer is better off (receives), − = it pays.", ""]
    items: list[tuple[int, int, str]] = []
    for i, sp in enumerate(spells):
        first, last = state["month"].iloc[sp.start], state["month"].iloc[sp.end]
        span = f"{first} to {last}" if sp.end > sp.start else first
        n = sp.end - sp.start + 1
        text = f"{span} ({_months(n)}): {_doing(sp, titles)}."
        if i == len(spells) - 1 and sp.end == len(state) - 1:
            text = text[:-1] + ", to the end of the simulation."
        m = money[money["month"].isin(state["month"].iloc[sp.start:sp.end + 1])]
        items.append((sp.start, 0, text + "\n" + _money_line(m, n)))
    for t, text in _clock_lines(state, scenario, money, int(who["children"])):
        items.append((t, 1, "  * " + text))
    for t, text in _event_lines(events, titles, scenario.start_month, max_duration, state):
        items.append((t, 2, "  * " + text))
    lines += [text for _, _, text in sorted(items, key=lambda x: (x[0], x[1]))]
    lines.append("")
    months_followed = sum(sp.end - sp.start + 1 for sp in spells)
    totals = money.groupby("payer")["sek"].sum()
    parts = [f"{PAYER_NAMES.get(p, p)} {_kr(float(totals[p]), True)}" for p in _PAYER_ORDER
             if p in totals.index and abs(totals[p]) >= 0.5]
    lines.append(f"In all, over {_months(months_followed)}: " + "; ".join(parts) + ".")
    lines.append(f"Society (all payers together; transfers cancel): {_kr(float(totals.sum()), True)}.")
    return "\n".join(lines) + "\n", events, who


def story_from_run(run_dir: str | os.PathLike[str], person: int, replication: int = 0) -> str:
    """The story of ``person`` in replication ``replication`` of a folder written by ``almsim run``.

    The run is not read back but re-simulated from the folder's ``manifest.json`` (the
    resolved scenario, the replication seeds and ``fixed_parameters``), with the replication's
    posterior draw applied: the same seed and draw give the same months.

    Raises:
        StoryError: if the folder, its manifest, the replication or the person does not exist.
    """
    path = Path(run_dir)
    manifest_file = path / "manifest.json"
    if not path.is_dir():
        raise StoryError(f"{path}: no such run folder")
    if not manifest_file.is_file():
        raise StoryError(f"{path}: not a run folder (no manifest.json; make one with 'almsim run')")
    try:
        manifest = json.loads(manifest_file.read_text())
        scenario = _scenario_of_run(manifest)
        seeds = [int(s) for s in manifest.get("replication_seeds") or [manifest["seed"]]]
    except (ValueError, KeyError, TypeError) as exc:
        raise StoryError(f"{manifest_file}: cannot read the run's scenario and seeds ({exc})") from None
    if not 0 <= replication < len(seeds):
        raise StoryError(f"replication {replication} is out of range: the run has {len(seeds)} "
                         f"(0-{len(seeds) - 1})")
    scenario = _replication_scenario(scenario, int(manifest.get("seed", seeds[0])), replication,
                                     bool(manifest.get("fixed_parameters", False)))
    text, events, who = _story(scenario, seeds[replication], person,
                               f"seed {manifest.get('seed', seeds[0])}, replication {replication}, from {path}")
    return text + _check_saved(path, person, replication, events, who)


def _scenario_of_run(manifest: dict) -> Scenario:
    """The run's scenario: its source file if unchanged (same content hash), else the manifest's copy.

    The source file is preferred because the manifest's copy is written with sorted keys, and
    the order of a composition's categories matters to how a population is drawn.
    """
    source = manifest.get("source_file")
    if source and Path(source).is_file():
        try:
            scenario = load_scenario(source)
        except ScenarioError:
            pass
        else:
            if content_hash(scenario) == manifest.get("content_hash"):
                return scenario
    return build(_always_first(manifest["resolved_scenario"]))


def _always_first(doc: object) -> object:
    """Put each dated value's ``always`` entry first again.

    ``manifest.json`` is written with sorted keys, which moves ``always`` after the dates
    (``"2016-01" < "always"``); the loader wants it first.
    """
    if isinstance(doc, dict):
        items = {k: _always_first(v) for k, v in doc.items()}
        if "always" in items:
            items = {"always": items.pop("always"), **items}
        return items
    if isinstance(doc, list):
        return [_always_first(v) for v in doc]
    return doc


def _check_saved(path: Path, person: int, replication: int, events: pd.DataFrame, who: pd.Series) -> str:
    """A warning line if the folder's saved person or events differ from the re-run."""
    def saved(name: str) -> pd.DataFrame | None:
        file = path / f"{name}.parquet"
        if not file.exists():
            return None
        df = pd.read_parquet(file, filters=[("person", "==", person)])
        if "replication" in df.columns:
            df = df[df["replication"] == replication].drop(columns="replication")
        return df.reset_index(drop=True)

    same = True
    people = saved("people")
    if people is not None and len(people) == 1:
        same = people.iloc[0].astype(str).to_dict() == who[people.columns].astype(str).to_dict()
    ev = saved("events")
    if same and ev is not None and not ev.empty:
        same = ev.astype(str).equals(events.reset_index(drop=True)[ev.columns].astype(str))
    return "" if same else ("Note: this re-run differs from what the run folder saved for this person (the "
                            "scenario file changed, or another version of almsim made the run).\n")
