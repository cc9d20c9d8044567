"""The assumptions that drive the answer, each as a sensitivity line of the headline.

Five numbers decide much of who pays and who saves, and none is known well:

* **production value** of work, as a share of its wage cost (society's result is mostly this
  number): 0, 0.5 and 1;
* **income equalisation**: the share of a change in its tax base a municipality keeps (0.05
  below the guaranteed tax capacity; 1 for a municipality the equalisation does not touch);
* **a-kassa membership** at entry: the share who meet the membership condition for
  income-related unemployment insurance;
* **exit rates after Fas 3 closed** (February 2016): people past the guarantee's 450 days leave
  at the guarantee's (JOB's) rates by default, or at Fas 3's (``rules.fas3_rates_after_closure``);
  no source gives them;
* **activity support after UI of the basic amount** (people who met the work condition but
  were not fund members): the minimum of SFS 2008:61, 5 § (320 SEK a day, 365 from September
  2015), or 223 if only fund members get the 65 % after UI, as Försäkringskassan's page says:
  the municipality tops up the difference. A scenario that runs across September 2015 has no
  line of its own value (none is starred): its headline usually lies between the lines at 320 and 365.

Each line is the headline (every payer's discounted saving at each horizon from the
programme's start) recomputed under common random numbers with the assumption at another
value, in both the baseline and the scenario. The money rates change money but not what people
do, so the same runs are posted again under the other rates (:meth:`LedgerBook.reposted`,
exact and cheap). Membership changes who is paid what after a job, but not what anyone does
either: the comparison's own runs work out their nets at each other share too, from the people
whose UI would be income-related or not the other way at that share (``member_shares`` of
:class:`~sim.runs.replications.Request`; the numbers of re-runs at that share up to the order of
floating-point additions, < 1e-15 of a month's largest net). The exit rates after Fas 3
change who leaves, so that line re-runs the replications with the same seeds (a value the
scenario uses throughout, or an assumption that cannot change its runs, is its own runs); so
does membership for runs that did not book it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.accounts.book import share_postings
from sim.accounts.payers import ALL_PAYERS, PAYERS
from sim.analysis.comparison_math import discount_factors, horizons_for, programme_start
from sim.runs.replications import Ensemble, Request, replicate_all
from sim.runs.results import RunResult
from sim.scenario.schema import Scenario

__all__ = ["ASSUMPTIONS", "LINE_COLUMNS", "assumption_lines", "member_shares", "rerun_requests", "rerun_values",
           "Assumption", "lines_text"]

LINE_COLUMNS = ("scenario", "assumption", "title", "value", "current", "horizon_months", "payer", "p10", "p50",
                "p90")


@dataclass(frozen=True)
class Assumption:
    """One assumption, the values its lines take, and how its current value is read."""

    name: str
    title: str
    values: tuple[float, ...]
    money_only: bool
    short: str = ""
    #: the studio's step for its lever (None: 0.05 for a share, 1 SEK for an amount a day)
    step: float | None = None
    #: its other values are booked in the comparison's own runs (a-kassa membership: see the
    #: module), so it needs no re-runs there
    booked: bool = False

    def matters(self, scenario: Scenario) -> bool:
        """Whether the assumption can change a run of ``scenario``: the exit rates after Fas 3
        closed only for a scenario whose horizon reaches past its closing (the others need no
        re-runs: every line is their own runs)."""
        if self.name != "fas3_rates_after_closure":
            return True
        closed = scenario.rules.fas3_open_to_entrants
        end = scenario.start_month + scenario.horizon_months
        return any(closed.at(m) == 0 for m in (scenario.start_month, *closed.change_months) if m < end)

    def current(self, scenario: Scenario) -> float:
        """The value the scenario uses from the programme's start to the horizon's end; NaN where
        it takes more than one there (subsidised jobs with other production values than the
        general one, or a dated rate that changes): then no line is the scenario's."""
        if self.name == "production_value_share_of_wage_cost":
            params = [scenario.money.production_value_share_of_wage_cost]
            params += [p.production_value_share_of_wage_cost for p in scenario.programmes if p.kind == "subsidised_job"]
        elif hasattr(scenario.money, self.name):  # a money rate
            params = [getattr(scenario.money, self.name)]
        elif hasattr(scenario.rules, self.name):  # a rule
            params = [getattr(scenario.rules, self.name)]
        else:
            params = [scenario.population.composition.ui_member_share]
        start = programme_start(scenario)
        end = scenario.start_month + scenario.horizon_months
        values = {float(p.at(m)) for p in params for m in (start, *(m for m in p.change_months if start < m < end))}
        return values.pop() if len(values) == 1 else float("nan")


ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption("production_value_share_of_wage_cost", "value of the work done, share of its wage cost",
               (0.0, 0.5, 1.0), True, "production value"),
    Assumption("municipal_tax_kept_share", "share of a tax-base change the municipality keeps (equalisation)",
               (0.05, 0.5, 1.0), True, "tax kept (equalisation)"),
    Assumption("ui_member_share", "share who are a-kassa members at entry", (0.0, 0.5), False,
               "a-kassa members", booked=True),
    Assumption("fas3_rates_after_closure",
               "exit rates of people past the guarantee's 450 days once Fas 3 is closed (from February 2016; "
               "0: the guarantee's, 1: Fas 3's)", (0.0, 1.0), False, "rates after Fas 3", step=1.0),
    Assumption("activity_support_after_basic_sek_per_day",
               "activity support after UI of the basic amount, SEK a day (the minimum: 320, 365 from September "
               "2015; or 223 if only fund members get the 65 %)", (223.0, 320.0, 365.0), True,
               "support after basic UI"),
)


def _reposted(r: RunResult, a: Assumption, value: float, months: int) -> np.ndarray:
    if a.name == "production_value_share_of_wage_cost":
        book = r.ledger_book.reposted({a.name: value}, programme_production_share=value)
    else:
        book = r.ledger_book.reposted({a.name: value})
    return book.net(PAYERS, months)


def _forget_reposted(results: Sequence[RunResult]) -> None:
    """Let the shared postings of ``results`` go of what they posted under other rates: a line's
    value is posted once for every book (~10-20 MB a value in the main job; kept, they made its
    peak ~35 MB higher and cost page faults)."""
    for postings in {id(r.ledger_book.postings): r.ledger_book.postings for r in results
                     if r.ledger_book is not None and r.ledger_book.postings is not None}.values():
        postings.forget_reposted()


def _rerun_nets(r: RunResult, months: int) -> np.ndarray:
    """A re-run's net SEK ``[month, payer]`` over ``months`` months (kept by
    :func:`~sim.runs.replications.nets_only` over its own horizon, which is the comparison's)."""
    if r.nets is None:  # (a re-run given by the caller as a whole run)
        return r.ledger_book.net(PAYERS, months)
    if len(r.nets) != months:
        raise ValueError(f"a re-run of {r.scenario!r} has {len(r.nets)} months, the comparison {months}")
    return r.nets


def member_shares(scenario: Scenario) -> tuple[float, ...]:
    """The a-kassa shares at entry whose nets the comparison's runs of ``scenario`` book
    (:attr:`Request.member_shares <sim.runs.replications.Request.member_shares>`): the line's
    values but one the scenario uses throughout."""
    return tuple(value for a, value in _rerun_at(scenario) if a.booked)


def _with_value(scenario: Scenario, a: Assumption, value: float) -> Scenario:
    """``scenario`` with assumption ``a`` (one that changes what people do) at ``value`` in every
    month: the a-kassa membership of the cohort and of an inflow that inherits the share (an inflow
    that writes a share of its own keeps it, as with any other path of the population's
    composition), or a rule."""
    from sim.scenario.paths import with_values

    path = "population.composition.ui_member_share" if a.name == "ui_member_share" else f"rules.{a.name}"
    out = with_values(scenario, {path: value}, source="assumption line", status="assumed")
    return out.model_copy(update={"name": scenario.name})


def _with_member_share(scenario: Scenario, value: float) -> Scenario:
    """``scenario`` with the population entering at a-kassa membership ``value`` (:func:`_with_value`)."""
    return _with_value(scenario, next(a for a in ASSUMPTIONS if a.name == "ui_member_share"), value)


def rerun_requests(baseline: Request, scenarios: Sequence[Request]) -> dict[tuple[int, str, float], Request]:
    """The re-runs the lines of assumptions that change what people do need: for each such
    assumption and value, the baseline's (key ``(-1, name, value)``, shared by every scenario's
    line) and each scenario's (``(k, name, value)``), with the same seeds, without event logs and
    keeping only their nets by month and payer (:func:`~sim.runs.replications.nets_only`: the lines
    read nothing else). A value the scenario already uses in every month needs none: its line is
    the comparison's own runs; nor does an a-kassa share the request's runs book
    (``member_shares``). Run them with the comparison's own replications
    (:func:`~sim.runs.replications.replicate_all`, one batched model where they fit) and pass the
    ensembles to :func:`assumption_lines`."""
    asked = (baseline, *scenarios)
    wanted = [[(a, v) for a, v in _rerun_at(rq.scenario) if not (a.booked and v in rq.member_shares)]
              for rq in asked]
    out: dict[tuple[int, str, float], Request] = {}
    for a in ASSUMPTIONS:  # (assumption by assumption, value by value, the baseline first)
        for value in a.values:
            for k, rq in enumerate(asked, start=-1):
                if (a, value) in wanted[k + 1]:
                    out[(k, a.name, value)] = Request(_with_value(rq.scenario, a, value), rq.seed, rq.replications,
                                                      False, rq.fixed_parameters, nets_only=True)
    return out


def _rerun_at(scenario: Scenario) -> list[tuple[Assumption, float]]:
    """The assumptions that change what people do and their values ``scenario`` is re-run at:
    every value but one it uses throughout, of an assumption that can change its runs."""
    return [(a, value) for a in ASSUMPTIONS if not a.money_only and a.matters(scenario)
            for value in a.values if a.current(scenario) != value]


def rerun_values(scenario: Scenario) -> int:
    """How many values of the assumptions that change what people do a comparison re-runs
    ``scenario`` at (:func:`rerun_requests` asks for one re-run of each replication per value;
    none for a value it uses throughout, nor for the a-kassa shares the comparison's own runs
    book: :func:`member_shares`)."""
    return sum(not a.booked for a, _value in _rerun_at(scenario))


def _booked(ens: Ensemble) -> tuple[float, ...]:
    """The a-kassa shares every replication of ``ens`` kept the nets of."""
    kept = [set(r.member_changes or ()) for r in ens.results]
    return tuple(sorted(set.intersection(*kept))) if kept else ()


def _request(ens: Ensemble) -> Request:
    return Request(ens.scenario, ens.seed, len(ens.seeds), ens.record_events, ens.fixed_parameters,
                   member_shares=_booked(ens))


def _nets_at(ens: Ensemble, rerun: Ensemble | None, a: Assumption, value: float, months: int) -> np.ndarray:
    """The nets ``[replication, month, payer]`` of ``ens`` with assumption ``a`` (one that changes
    what people do) at ``value``: its re-runs', its runs' own booking at that a-kassa share, or
    (a value it uses throughout, or one that cannot change its runs) its own runs'."""
    if rerun is not None:
        return np.stack([_rerun_nets(r, months) for r in rerun.results])
    if a.booked and value in _booked(ens):
        return np.stack([r.nets_at_member_share(value, months) for r in ens.results])
    return np.stack([_rerun_nets(r, months) for r in ens.results])


def _rows(label: str, a: Assumption, value: float, current: float, horizons: list[int], origin: int,
          disc: np.ndarray, base: np.ndarray, scen: np.ndarray) -> list[tuple[object, ...]]:
    """Quantile rows of the savings ``scen - base`` (``[R, T, P]``), cumulated from ``origin``."""
    saving = (scen - base) * disc[None, :, None]
    saving[:, :origin] = 0.0
    cum = np.cumsum(saving, axis=1)
    cum = np.concatenate([cum, cum.sum(axis=2, keepdims=True)], axis=2)
    rows = []
    is_current = bool(np.isclose(value, current))
    for h in horizons:
        # every payer's quantiles in one call: the same numbers as one call per payer's column
        # (as comparison_math.column_quantiles), ~10x fewer calls
        q = np.quantile(cum[:, origin + h - 1, :], (0.1, 0.5, 0.9), axis=0).T.tolist()
        for payer, (p10, p50, p90) in zip(ALL_PAYERS, q, strict=True):
            rows.append((label, a.name, a.title, float(value), is_current, h, payer, p10, p50, p90))
    return rows


def assumption_lines(baseline: Ensemble, scenarios: Sequence[Ensemble], labels: Sequence[str], *,
                     workers: int = 1, progress: Callable[[int], None] | None = None,
                     store: str | Path | None = None,
                     reruns: Mapping[tuple[int, str, float], Ensemble] | None = None) -> pd.DataFrame:
    """Every scenario's headline under each value of each driving assumption (see the module);
    ``store``: where the re-runs are kept as they finish (see :func:`~sim.runs.replications.replicate`);
    ``reruns``: the re-runs of :func:`rerun_requests`, if already run (else they are run here,
    together; ``progress`` gets 1 per re-run, the baseline's counted once per scenario)."""
    if reruns is None:
        asked = rerun_requests(_request(baseline), [_request(e) for e in scenarios])
        reruns = dict(zip(asked, replicate_all(list(asked.values()), workers=workers, progress=progress,
                                               store=store), strict=True))
        if progress and len(scenarios) > 1:  # the baseline's re-runs serve every scenario's lines
            progress(sum(len(e.seeds) for (k, _, _), e in reruns.items() if k < 0) * (len(scenarios) - 1))
    rows: list[tuple[object, ...]] = []
    base_nets: dict[tuple[str, float, int], np.ndarray] = {}  # the baseline's, worked out once for every scenario
    for index, (label, ens) in enumerate(zip(labels, scenarios, strict=True)):
        scn = ens.scenario
        start, months = scn.start_month, scn.horizon_months
        origin = programme_start(scn) - start
        horizons = horizons_for(months - origin)  # (1 and 5 years and the full horizon, as the headline's)
        disc = discount_factors(months, float(scn.money.discount_rate_per_year.at(start + origin)), origin)
        for a in ASSUMPTIONS:
            if not a.matters(scn):  # (every value gives the scenario's own runs: no line)
                continue
            current = a.current(scn)
            for value in a.values:
                if a.money_only:
                    if any(r.ledger_book is None for r in (*baseline.results, *ens.results)):
                        continue
                    # books from workers or a store post their own: let them share again
                    share_postings(r.ledger_book for r in (*baseline.results, *ens.results))
                    if (a.name, value, months) not in base_nets:
                        base_nets[(a.name, value, months)] = np.stack([_reposted(r, a, value, months)
                                                                      for r in baseline.results])
                    sc = np.stack([_reposted(r, a, value, months) for r in ens.results])
                    if index == len(scenarios) - 1:  # every scenario has its line at this value
                        _forget_reposted((*baseline.results, *ens.results))
                else:
                    if (a.name, value, months) not in base_nets:
                        base_nets[(a.name, value, months)] = _nets_at(baseline, reruns.get((-1, a.name, value)), a,
                                                                      value, months)
                    sc = _nets_at(ens, reruns.get((index, a.name, value)), a, value, months)
                base = base_nets[(a.name, value, months)]
                rows += _rows(label, a, value, current, horizons, origin, disc, base, sc)
    return pd.DataFrame(rows, columns=list(LINE_COLUMNS))


def lines_text(lines: pd.DataFrame, label: str, horizon: int = 60) -> list[str]:
    """The assumption lines of one scenario as terminal text (medians, MSEK)."""
    t = lines[(lines["scenario"] == label) & (lines["horizon_months"] == horizon)]
    if t.empty:
        t = lines[lines["scenario"] == label]
        if t.empty:
            return []
        horizon = int(t["horizon_months"].max())
        t = t[t["horizon_months"] == horizon]
    out = [f"Assumptions that drive the answer (saving at {horizon} months, median MSEK: "
           "municipality / state / society; * = the scenario's value):"]
    # per assumption and value: each payer's median and whether it is the scenario's value (its
    # first row's), read from the columns at once (a filter, groupby and index per value cost ~10 ms)
    found: dict[str, dict[float, tuple[dict[str, float], bool]]] = {}
    for name, value, payer, p50, current in zip(*(t[c].tolist() for c in ("assumption", "value", "payer", "p50",
                                                                           "current")), strict=True):
        found.setdefault(name, {}).setdefault(value, ({}, bool(current)))[0][payer] = p50
    for a in ASSUMPTIONS:
        if a.name not in found:
            continue
        cells = []
        for value, (v, current) in sorted(found[a.name].items()):
            cells.append(f"{value:g}{'*' if current else ''}: {v['municipality'] / 1e6:+.1f} / "
                         f"{v['state'] / 1e6:+.1f} / {v['society'] / 1e6:+.1f}")
        out.append(f"  {a.title}: " + "; ".join(cells))
    return out
