"""Statistics of a run that calibration targets are compared with, registered by name.

A statistic is a plain function ``fn(result, scenario, **args)`` of a run's tables
(:class:`~sim.runs.results.RunResult`) and its scenario, registered with :func:`statistic` so that a
target file can name it (``statistic: exit_destinations``, ``args: {programme: c2, by:
2009-06}``). It returns ``(successes, trials)`` for a binomial target, ``{category: count}`` for
a multinomial one, or a number. Month arguments are ``YYYY-MM`` (inclusive).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from sim.runs.results import RunResult
from sim.scenario.dated import format_month, parse_month
from sim.scenario.schema import Goal, Scenario

__all__ = ["STATISTICS", "statistic", "REST", "month_arg", "simulate_target", "Measured", "ASSISTANCE_STAGES",
           "assistance_months", "PEOPLE_COLUMNS", "month_indices", "first_starts", "reaching"]

REST = "*"  # a category holding every stage no other category names


@dataclass(frozen=True)
class _Statistic:
    fn: Callable[..., Any]
    needs_events: bool


#: Registered statistics: name -> function(result, scenario, **args).
STATISTICS: dict[str, _Statistic] = {}


def statistic(name: str, *, needs_events: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a statistic under ``name`` (``needs_events``: it reads the person-level event log)."""
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        STATISTICS[name] = _Statistic(fn, needs_events)
        return fn
    return register


def month_arg(value: Any) -> str:
    """A month argument (``2009-06``, a date, or a month number) as ``YYYY-MM``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return format_month(value)
    return format_month(parse_month(value))


# The statistics select rows with numpy on the tables' columns: a calibration computes them for
# every particle, and a pandas selection costs ~10x more on tables this small. A run just made
# gives its columns without building its tables (``RunResult.records.column``).
def _col(result: RunResult, table: str, name: str) -> np.ndarray:
    """Column ``name`` of ``result``'s ``table`` as a numpy array (``table[name].to_numpy()``)."""
    records = result.records
    if records is not None and hasattr(records, "column"):
        return records.column(table, name)
    df = result.tables[table]
    hit = _COLUMNS.get(id(df))
    if hit is None or hit[0]() is not df:
        if len(_COLUMNS) > 4096:
            _COLUMNS.clear()
        hit = _COLUMNS[id(df)] = (weakref.ref(df), {})
    cols = hit[1]
    if name not in cols:
        cols[name] = df[name].to_numpy()
    return cols[name]


_COLUMNS: dict[int, tuple[weakref.ref, dict[str, np.ndarray]]] = {}


def _counts_by(labels: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """``{label: rows}`` (or the sum of ``weights``) per distinct label, as a pandas groupby gives."""
    if labels.size == 0:
        return {}
    names, inverse = np.unique(labels.astype(str), return_inverse=True)
    sums = np.bincount(inverse, weights=None if weights is None else weights.astype(np.float64),
                       minlength=names.size)
    return {str(k): (int(v) if weights is None else v) for k, v in zip(names, sums.tolist(), strict=True)}


def _starts(result: RunResult, programme: str, by: str) -> int:
    sel = (_col(result, "queues", "programme") == programme) & (_col(result, "queues", "month") <= by)
    return int(_col(result, "queues", "starts")[sel].sum())


def _exits(result: RunResult, programme: str, by: str) -> int:
    sel = (_col(result, "exits", "programme") == programme) & (_col(result, "exits", "month") <= by)
    return int(_col(result, "exits", "people")[sel].sum())


@statistic("enrolled")
def enrolled(result: RunResult, scenario: Scenario, *, programme: str, by: Any) -> tuple[int, int]:
    """People admitted to ``programme`` by month ``by``, of the people who had arrived by then."""
    by = month_arg(by)
    arrived = int((_col(result, "people", "arrival_month") <= by).sum())
    return _starts(result, programme, by), arrived


@statistic("exited")
def exited(result: RunResult, scenario: Scenario, *, programme: str, by: Any) -> tuple[int, int]:
    """Exits from ``programme`` (any reason) by month ``by``, of its starts by then."""
    by = month_arg(by)
    return _exits(result, programme, by), _starts(result, programme, by)


@statistic("exited_before")
def exited_before(result: RunResult, scenario: Scenario, *, programme: str, before: Any,
                  by: Any) -> tuple[int, int]:
    """Exits by month ``before``, of the exits by month ``by`` (e.g. exited >= 6 months earlier)."""
    return _exits(result, programme, month_arg(before)), _exits(result, programme, month_arg(by))


def _categorise(counts: Mapping[str, float], categories: Mapping[str, Any]) -> dict[str, float]:
    named = {s for stages in categories.values() if stages != REST for s in stages}
    out = {}
    for cat, stages in categories.items():
        if stages == REST:
            out[cat] = float(sum(v for s, v in counts.items() if s not in named))
        else:
            out[cat] = float(sum(counts.get(s, 0) for s in stages))
    return out


@statistic("exit_destinations")
def exit_destinations(result: RunResult, scenario: Scenario, *, programme: str, by: Any,
                      categories: Mapping[str, Any]) -> dict[str, float]:
    """Exits from ``programme`` by month ``by``, counted by the stage they went to.

    Read from the event log when it was kept, else from the flows out of the programme's
    stage (which needs the programme to be the only one of its kind in the scenario).
    """
    by = month_arg(by)
    stage = scenario.programme(programme).stage.label
    if len(_col(result, "events", "month")):
        sel = ((_col(result, "events", "programme") == programme) & (_col(result, "events", "from_stage") == stage)
               & (_col(result, "events", "month") <= by))
        counts = _counts_by(_col(result, "events", "to_stage")[sel])
    else:
        same = [p.name for p in scenario.programmes if p.stage.label == stage]
        if len(same) > 1:
            raise ValueError(f"exit_destinations: programmes {same} share stage {stage!r}; keep the event log")
        sel = (_col(result, "flows", "from_stage") == stage) & (_col(result, "flows", "month") <= by)
        counts = _counts_by(_col(result, "flows", "to_stage")[sel], _col(result, "flows", "people")[sel])
    return _categorise(counts, categories)


@statistic("follow_up_stages")
def follow_up_stages(result: RunResult, scenario: Scenario, *, programme: str, months_after_exit: int,
                     by: Any, categories: Mapping[str, Any]) -> dict[str, float]:
    """Stage of former participants ``months_after_exit`` months after leaving, measured by ``by``."""
    def col(name: str) -> np.ndarray:
        return _col(result, "follow_ups", name)

    sel = ((col("programme") == programme) & (col("months_after_exit") == months_after_exit)
           & (col("month") <= month_arg(by)))
    return _categorise(_counts_by(col("stage")[sel], col("people")[sel]), categories)


@statistic("ledger_total")
def ledger_total(result: RunResult, scenario: Scenario, *, payer: str, category: str, start: Any,
                 end: Any, paid: bool = True, unit_sek: float = 1.0) -> float:
    """The sum of a payer's ledger category over months ``start..end`` (paid: sign flipped), in ``unit_sek``."""
    led = result.tables["ledger"]
    sel = led[(led["payer"] == payer) & (led["category"] == category)
              & (led["month"] >= month_arg(start)) & (led["month"] <= month_arg(end))]
    total = float(sel["sek"].sum())
    return (-total if paid else total) / unit_sek


@statistic("stock")
def stock(result: RunResult, scenario: Scenario, *, stages: Sequence[str], month: Any) -> float:
    """People in ``stages`` during ``month``."""
    st = result.tables["stocks"]
    return float(st.loc[(st["month"] == month_arg(month)) & st["stage"].isin(list(stages)), "people"].sum())


def month_indices(labels: np.ndarray, start: int) -> np.ndarray:
    """Month indices counted from ``start`` of month labels (``YYYY-MM``), each distinct label
    parsed once (a table's months repeat for every row of the month)."""
    uniq, inv = np.unique(labels, return_inverse=True)
    return (np.array([parse_month(m) for m in uniq], dtype=np.int64) - start)[inv]


def _event_months(events: pd.DataFrame, start: int) -> np.ndarray:
    return month_indices(events["month"].to_numpy(), start)


@statistic("starts_by_age", needs_events=True)
def starts_by_age(result: RunResult, scenario: Scenario, *, programme: str, by: Any, age_below: float) -> float:
    """People younger than ``age_below`` at arrival admitted to ``programme`` by month ``by``."""
    ev = result.tables["events"]
    if ev.empty:
        return 0.0
    scenario.programme(programme)  # (an unknown name raises)
    adm = ev[ev["programme_start"].to_numpy(bool) & (ev["programme"] == programme) & (ev["month"] <= month_arg(by))]
    age = result.tables["people"]["age_at_arrival"].to_numpy()
    people = np.unique(adm["person"].to_numpy())
    return float((age[people] < age_below).sum())


@statistic("reached_within", needs_events=True)
def reached_within(result: RunResult, scenario: Scenario, *, stages: Sequence[str],
                   months: int, complement: bool = False) -> tuple[int, int]:
    """People who enter one of ``stages`` within ``months`` months of arriving, of everyone arrived.

    Arrival moves (from ``not_arrived``) do not count: a person must move *into* the stage.
    Only people who can be followed ``months`` months inside the run are counted. With
    ``complement``, counts those who do *not* (e.g. left the guarantee before Fas 3).
    """
    ev = result.tables["events"]
    arrival_t = month_indices(result.tables["people"]["arrival_month"].to_numpy(), result.start_month)
    followed = arrival_t + months <= result.horizon_months - 1
    n = int(followed.sum())
    if n == 0 or ev.empty:
        return (n if complement else 0), n
    t = _event_months(ev, result.start_month)
    person = ev["person"].to_numpy()
    hit = ev["to_stage"].isin(list(stages)).to_numpy() & (ev["from_stage"].to_numpy() != "not_arrived")
    hit &= (t <= arrival_t[person] + months) & followed[person]
    k = int(np.unique(person[hit]).size)
    return (n - k if complement else k), n


#: The stages a goal's measure counts as reached.
GOAL_STAGES = {"work": ("work",), "work_or_studies": ("work", "studies")}


def goal_counts(events: pd.DataFrame, g: Goal, start: int, months: int) -> tuple[int, int]:
    """Of a goal's participants followed long enough, how many reached its measure in time, and
    how many there are, from one run's event log (``start``: its first month's number;
    ``months``: months simulated).

    A participant is a person with a start in the programme (an event with ``programme_start``);
    their first start counts; they reach the goal if an event takes them into ``work`` (or
    ``work``/``studies``) at most ``within_months_of_start`` months later. Only people admitted
    early enough to be followed that long inside the run are counted, so late starters do not
    bias the share down.
    """
    if events.empty:
        return 0, 0
    t = _event_months(events, start)
    first = first_starts(events, t, g.programme)
    first = first[first + g.within_months_of_start <= months - 1]
    if first.empty:
        return 0, 0
    return reaching(events, t, first, GOAL_STAGES[g.measure], months - 1, g.within_months_of_start), int(len(first))


def first_starts(events: pd.DataFrame, t: np.ndarray, programme: str) -> pd.Series:
    """Each participant's first start in ``programme`` (events with ``programme_start``): its month
    index (``t``, one per event), indexed by person."""
    person = events["person"].to_numpy()
    adm = events["programme_start"].to_numpy(bool) & (events["programme"].to_numpy() == programme)
    return pd.Series(t[adm]).groupby(person[adm]).min()


def reaching(events: pd.DataFrame, t: np.ndarray, first: pd.Series, stages: Sequence[str], last: int,
             within: int | None = None) -> int:
    """How many of the people of ``first`` (their first start's month index, by person) move into
    one of ``stages`` after it, by month index ``last`` and, if ``within`` is given, at most that
    many months after it."""
    person = events["person"].to_numpy()
    hit = np.isin(events["to_stage"].to_numpy(), stages) & (t <= last) & np.isin(person, first.index.to_numpy())
    a = first.reindex(person[hit]).to_numpy()
    ok = t[hit] > a
    if within is not None:
        ok &= t[hit] <= a + within
    return int(np.unique(person[hit][ok]).size)


@statistic("goal", needs_events=True)
def goal(result: RunResult, scenario: Scenario, *, name: str) -> tuple[int, int]:
    """Participants who reached the scenario goal ``name``'s measure in time, of those followed
    long enough (:func:`goal_counts`; the report's goal achievement is their share)."""
    g = next((x for x in scenario.goals if x.name == name), None)
    if g is None:
        raise ValueError(f"scenario {scenario.name!r} has no goal {name!r}")
    return goal_counts(result.tables["events"], g, result.start_month, result.horizon_months)


# ------------------------------------------------------------------ social assistance by person and month
#: Stages whose people are counted as on social assistance by the assistance statistics: openly
#: unemployed, waiting for or in municipal coaching, and in AF's measures and the guarantee (whose
#: activity support, 223 kr a day, is below the norm plus rent, so the municipality tops it up).
#: Not work, subsidised jobs, regular studies or ``other``. Measured against the money rules on the
#: national cohort (``docs/calibration.md``): 90-100 % of person-months in these stages have a
#: social-assistance posting, and under 5 % of the others.
ASSISTANCE_STAGES = ("open", "waiting", "coaching", "job", "fas3", "training", "education")


def assistance_months(result: RunResult) -> np.ndarray:
    """Whether each person is on social assistance in each month of the run (bool ``[person, month]``).

    Read from the event log: a person is in the stage of their last move, from the month after it
    (the month of the move is booked in the stage they left), and in their arrival stage from their
    arrival month; before arrival, nowhere.
    """
    ev = result.tables["events"]
    n = len(result.tables["people"])
    months = result.horizon_months
    code = {s: i for i, s in enumerate(ASSISTANCE_STAGES)}
    stage = np.full((n, months + 1), -2, dtype=np.int8)  # -2: no move this month; -1: a stage off assistance
    if len(ev):
        t = _event_months(ev, result.start_month)
        arrival = (ev["from_stage"] == "not_arrived").to_numpy()
        when = np.minimum(t + (~arrival), months)
        to = ev["to_stage"].map(code).fillna(-1).to_numpy(np.int8)
        stage[ev["person"].to_numpy(), when] = to  # events are in time order: the last move wins
    filled = pd.DataFrame(np.where(stage == -2, np.nan, stage)).ffill(axis=1).to_numpy()[:, :months]
    return np.nan_to_num(filled, nan=-1.0) >= 0


def _year_columns(result: RunResult, year: int) -> slice:
    first = parse_month(f"{year}-01") - result.start_month
    if first < 0 or first + 12 > result.horizon_months:
        raise ValueError(f"the run ({format_month(result.start_month)}, {result.horizon_months} months) does "
                         f"not cover the calendar year {year}")
    return slice(first, first + 12)


@statistic("assistance_months_per_year", needs_events=True)
def assistance_months_per_year(result: RunResult, scenario: Scenario, *, year: int) -> float:
    """Mean months on social assistance in calendar ``year``, over everyone on it in at least one of them."""
    months = assistance_months(result)[:, _year_columns(result, year)].sum(axis=1)
    on = months > 0
    return float(months[on].mean()) if on.any() else 0.0


@statistic("long_term_assistance", needs_events=True)
def long_term_assistance(result: RunResult, scenario: Scenario, *, year: int, min_months: int = 10,
                         weight: str | None = None) -> tuple[float, float]:
    """Recipients on assistance at least ``min_months`` months of calendar ``year``, of all its recipients.

    ``weight: children`` counts each recipient household by its children (households without
    children drop out): the share of children on assistance who live in long-term recipient families.
    """
    months = assistance_months(result)[:, _year_columns(result, year)].sum(axis=1)
    w = (result.tables["people"][weight].to_numpy(dtype=float) if weight is not None
         else np.ones(months.size))
    on = months > 0
    return float(w[on & (months >= min_months)].sum()), float(w[on].sum())


@statistic("assistance_recipients_ratio", needs_events=True)
def assistance_recipients_ratio(result: RunResult, scenario: Scenario, *, year: int, base_year: int) -> float:
    """People on assistance at some time in calendar ``year``, relative to those in ``base_year``."""
    on = assistance_months(result)
    now = on[:, _year_columns(result, year)].any(axis=1).sum()
    base = on[:, _year_columns(result, base_year)].any(axis=1).sum()
    return float(now / base) if base else float("nan")


@statistic("assistance_persistence", needs_events=True)
def assistance_persistence(result: RunResult, scenario: Scenario, *, entry_year: int,
                           years: int) -> tuple[int, int]:
    """Of the people who arrive (start receiving) in calendar ``entry_year``, those on assistance in
    every one of the ``years`` calendar years from it (the entry year counted as the first)."""
    on = assistance_months(result)
    arrival = result.tables["people"]["arrival_month"].to_numpy().astype(str)
    entrants = np.char.startswith(arrival, f"{entry_year}-")
    every = np.ones(on.shape[0], bool)
    for y in range(entry_year, entry_year + years):
        every &= on[:, _year_columns(result, y)].any(axis=1)
    return int((entrants & every).sum()), int(entrants.sum())


# ------------------------------------------------------------------ who the people are (initial conditions)
#: Columns of the ``people`` table the composition statistics may select on.
PEOPLE_COLUMNS = ("sex", "household", "children", "foreign_born", "sfi", "rehab_need", "education",
                  "months_on_assistance_at_entry", "initial_stage", "age_at_arrival")


def _chosen(result: RunResult, scenario: Scenario, programme: str | None, by: Any) -> np.ndarray:
    """Ids of the people counted: participants of ``programme`` admitted by ``by`` (first admission),
    or everyone arrived by ``by`` (everyone, without ``by``)."""
    if programme is None:
        arrival = _col(result, "people", "arrival_month")
        return np.flatnonzero(np.ones(len(arrival), bool) if by is None else arrival <= month_arg(by))

    def ev(name: str) -> np.ndarray:
        return _col(result, "events", name)

    if not len(ev("month")):
        return np.zeros(0, np.int64)
    scenario.programme(programme)  # (an unknown name raises)
    adm = ev("programme_start").astype(bool) & (ev("programme") == programme)
    if by is not None:
        adm &= ev("month") <= month_arg(by)
    return np.unique(ev("person")[adm])


def _column(result: RunResult, column: str) -> np.ndarray:
    if column not in PEOPLE_COLUMNS:
        raise ValueError(f"people_with: unknown column {column!r} (one of {', '.join(PEOPLE_COLUMNS)})")
    return _col(result, "people", column)


@statistic("people_with", needs_events=True)
def people_with(result: RunResult, scenario: Scenario, *, column: str, values: Sequence[Any] | None = None,
                at_least: float | None = None, below: float | None = None, programme: str | None = None,
                by: Any = None) -> tuple[int, int]:
    """People whose ``column`` (of the ``people`` table) is one of ``values`` or lies in
    ``[at_least, below)``, of the people counted: the participants of ``programme`` (admitted by
    ``by``), or, without a programme, everyone arrived by ``by``. For checks of who a cohort or a
    programme's intake is (women, families with children, years on assistance before entry)."""
    ids = _chosen(result, scenario, programme, by)
    col = _column(result, column)[ids]
    hit = np.ones(ids.size, bool)
    if values is not None:
        hit &= np.isin(col.astype(str), [str(v) for v in values])
    if at_least is not None:
        hit &= col.astype(float) >= at_least
    if below is not None:
        hit &= col.astype(float) < below
    return int(hit.sum()), int(ids.size)


@statistic("people_total", needs_events=True)
def people_total(result: RunResult, scenario: Scenario, *, column: str, programme: str | None = None,
                 by: Any = None) -> float:
    """The sum of a numeric ``column`` of the ``people`` table (e.g. children) over the people
    counted as in :func:`people_with`."""
    ids = _chosen(result, scenario, programme, by)
    return float(_column(result, column).astype(float)[ids].sum())


class Measured(Protocol):
    """What :func:`simulate_target` needs of a target (see :class:`sim.calibration.targets.Target`)."""

    statistic: str
    args: Mapping[str, Any]
    likelihood: str

    @property
    def categories(self) -> list[str]: ...


def simulate_target(target: Measured, result: RunResult, scenario: Scenario) -> np.ndarray:
    """The target's statistic on one run, as an array.

    Returns ``[successes, trials]`` (binomial), counts per category (multinomial), or
    ``[value]`` (normal).
    """
    out = STATISTICS[target.statistic].fn(result, scenario, **dict(target.args))
    if target.likelihood == "multinomial":
        return np.array([float(out[c]) for c in target.categories])
    if target.likelihood == "binomial":
        return np.array([float(out[0]), float(out[1])])
    return np.array([float(out)])
