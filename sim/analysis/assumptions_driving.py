"""The assumptions that drive the answer, each as a sensitivity line of the headline.

Four numbers decide much of who pays and who saves, and none is known well:

* **production value** of work, as a share of its wage cost (society's result is mostly this
  number): 0, 0.5 and 1;
* **income equalisation**: the share of a change in its tax base a municipality keeps (0.05
  below the guaranteed tax capacity; 1 for a municipality the equalisation does not touch);
* **a-kassa membership** at entry: the share who meet the membership condition for
  income-related unemployment insurance;
* **activity support after UI of the basic amount** (people who met the work condition but
  were not fund members): the minimum of SFS 2008:61, 5 § (320 SEK a day, 365 from September
  2015), or 223 if only fund members get the 65 % after UI, as Försäkringskassan's page says:
  the municipality tops up the difference. A scenario that runs across September 2015 has no
  line of its own value (none is starred): its headline usually lies between the lines at 320 and 365.

Each line is the headline (every payer's discounted saving at each horizon from the
programme's start) recomputed under common random numbers with the assumption at another
value, in both the baseline and the scenario. The money rates change money but not what people
do, so the same runs are posted again under the other rates (:meth:`LedgerBook.reposted`,
exact and cheap); membership changes who is paid what after a job, so those lines re-run the
replications with the same seeds.
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

__all__ = ["ASSUMPTIONS", "LINE_COLUMNS", "assumption_lines", "rerun_requests", "Assumption", "lines_text"]

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

    def current(self, scenario: Scenario) -> float:
        """The value the scenario uses from the programme's start to the horizon's end; NaN where
        it takes more than one there (subsidised jobs with other production values than the
        general one, or a dated rate that changes): then no line is the scenario's."""
        if self.name == "production_value_share_of_wage_cost":
            params = [scenario.money.production_value_share_of_wage_cost]
            params += [p.production_value_share_of_wage_cost for p in scenario.programmes if p.kind == "subsidised_job"]
        elif hasattr(scenario.money, self.name):  # a money rate
            params = [getattr(scenario.money, self.name)]
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
               "a-kassa members"),
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


def _rerun_nets(r: RunResult, months: int) -> np.ndarray:
    """A re-run's net SEK ``[month, payer]`` over ``months`` months (kept by
    :func:`~sim.runs.replications.nets_only` over its own horizon, which is the comparison's)."""
    if r.nets is None:  # (a re-run given by the caller as a whole run)
        return r.ledger_book.net(PAYERS, months)
    if len(r.nets) != months:
        raise ValueError(f"a re-run of {r.scenario!r} has {len(r.nets)} months, the comparison {months}")
    return r.nets


def _with_member_share(scenario: Scenario, value: float) -> Scenario:
    """``scenario`` with the population entering at a-kassa membership ``value``: the cohort and an
    inflow that inherits the share (an inflow that writes a share of its own keeps it, as with
    any other path of the population's composition)."""
    from sim.scenario.paths import with_values

    out = with_values(scenario, {"population.composition.ui_member_share": value}, source="assumption line",
                      status="assumed")
    return out.model_copy(update={"name": scenario.name})


def rerun_requests(baseline: Request, scenarios: Sequence[Request]) -> dict[tuple[int, float], Request]:
    """The re-runs the lines of assumptions that change what people do need: for each such value,
    the baseline's (key ``(-1, value)``, shared by every scenario's line) and each scenario's
    (``(k, value)``), with the same seeds, without event logs and keeping only their nets by month
    and payer (:func:`~sim.runs.replications.nets_only`: the lines read nothing else). Run them with the comparison's
    own replications (:func:`~sim.runs.replications.replicate_all`, one batched model where they
    fit) and pass the ensembles to :func:`assumption_lines`."""
    out: dict[tuple[int, float], Request] = {}
    for a in ASSUMPTIONS:
        if a.money_only:
            continue
        for value in a.values:
            for k, rq in enumerate((baseline, *scenarios), start=-1):
                out[(k, value)] = Request(_with_member_share(rq.scenario, value), rq.seed, rq.replications, False,
                                          rq.fixed_parameters, nets_only=True)
    return out


def _request(ens: Ensemble) -> Request:
    return Request(ens.scenario, ens.seed, len(ens.seeds), ens.record_events, ens.fixed_parameters)


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
                     reruns: Mapping[tuple[int, float], Ensemble] | None = None) -> pd.DataFrame:
    """Every scenario's headline under each value of each driving assumption (see the module);
    ``store``: where the re-runs are kept as they finish (see :func:`~sim.runs.replications.replicate`);
    ``reruns``: the re-runs of :func:`rerun_requests`, if already run (else they are run here,
    together; ``progress`` gets 1 per re-run, the baseline's counted once per scenario)."""
    if reruns is None:
        asked = rerun_requests(_request(baseline), [_request(e) for e in scenarios])
        reruns = dict(zip(asked, replicate_all(list(asked.values()), workers=workers, progress=progress,
                                               store=store), strict=True))
        if progress and len(scenarios) > 1:  # the baseline's re-runs serve every scenario's lines
            progress(sum(len(e.seeds) for (k, _), e in reruns.items() if k < 0) * (len(scenarios) - 1))
    rows: list[tuple[object, ...]] = []
    base_nets: dict[tuple[str, float, int], np.ndarray] = {}  # the baseline's, worked out once for every scenario
    for index, (label, ens) in enumerate(zip(labels, scenarios, strict=True)):
        scn = ens.scenario
        start, months = scn.start_month, scn.horizon_months
        origin = programme_start(scn) - start
        horizons = [h for h in horizons_for(months - origin) if h in (12, 60)] or horizons_for(months - origin)
        disc = discount_factors(months, float(scn.money.discount_rate_per_year.at(start + origin)), origin)
        for a in ASSUMPTIONS:
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
                else:
                    if (a.name, value, months) not in base_nets:
                        base_nets[(a.name, value, months)] = np.stack([_rerun_nets(r, months)
                                                                      for r in reruns[(-1, value)].results])
                    sc = np.stack([_rerun_nets(r, months) for r in reruns[(index, value)].results])
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
