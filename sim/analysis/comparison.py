"""Paired comparisons with a baseline: employment, money per payer, payback, goals.

:func:`compare` runs a baseline and one or more scenarios with the **same seed**, so
replication ``i`` of every scenario uses the same replication seed as replication ``i`` of
the baseline (:func:`sim.engine.streams.replication_seeds`) and, through the engine's named streams,
the same random draw for the same person and decision (common random numbers). Every
difference is taken *within* a pair of replications, and only then summarised over
replications as P10/P50/P90.

Conventions (all tables are tidy pandas frames, see :class:`Comparison`):

* **month index** ``t = 0, 1, ...`` counts months from the start month; month ``t``'s money
  is booked on the state during that month (the ledger's convention).
* **saving** of a payer = its net (signed ledger sum) in the scenario minus in the baseline:
  positive = the payer is better off with the scenario, negative = it pays.
  ``society`` is the sum over the payers of :data:`sim.accounts.rules.PAYERS` (transfers cancel).
* **the programme's start** ``o`` (month index of :func:`programme_start`: the earliest
  ``start_month`` of the scenario's programmes) is where every horizon begins; the run's
  start is only where simulation begins (e.g. to let a stock build up).
* **discounting**: month ``t`` is worth ``(1 + r) ** (-(t - o) / 12)``, ``r`` = the scenario's
  ``money.discount_rate_per_year`` in force at the programme's start.
* **a horizon of H months** is the window ``o <= t < o + H``: money and person-months are
  summed over it; stocks "at the horizon" are those of its last month, ``t = o + H - 1``.
* **payback month** (per payer, per replication, counted from the programme's start): the
  first month from which the cumulative discounted saving stays ``>= 0`` (to within 1 SEK) to
  the end of the window; only for a payer that pays first (its cumulative saving is negative
  in some month); NaN if it is still negative at the end of the window.
* **cost per extra person-year in work** = minus the payer's cumulative discounted saving over
  the window / the extra person-years in work over the window; reported only where the
  P10..P90 interval of the extra person-years lies above zero ("not meaningful" otherwise).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.accounts.payers import ALL_PAYERS, BEFORE_EQUALISATION, CATEGORIES, PAYERS, SOCIETY
from sim.analysis.assumptions import (
    ASSUMPTION_COLUMNS,
    PARAMETER_COLUMNS,
    SOURCE_COLUMNS,
    assumption_table,
    parameter_table,
    parameters_text,
    source_table,
)
from sim.analysis.assumptions_driving import LINE_COLUMNS, assumption_lines, lines_text, member_shares
from sim.analysis.comparison_math import (
    HORIZONS,
    PAYBACK_TOLERANCE_SEK,
    column_quantiles,
    discount_factors,
    goal_achievement,
    horizons_for,
    ledger_cube,
    month_labels,
    net_by_payer,
    net_by_payer_category,
    net_of_cube,
    payback_months,
    pays_first,
    programme_start,
    quantiles,
    stage_series,
    starts_series,
)
from sim.analysis.limits import LIMIT_COLUMNS, binding_limits
from sim.analysis.payoff import BRIDGE_COLUMNS, explain, payoff_bridge
from sim.runs.replications import QUANTILES, VERSION, Ensemble, Request, content_hash, replicate_all
from sim.runs.results import RunResult, atomic_dir
from sim.scenario.dated import format_month
from sim.scenario.schema import Scenario
from sim.scenario.stages import STAGES, Stage

__all__ = [
    "compare", "check_pairable", "silent_payers", "Comparison", "SOCIETY", "ALL_PAYERS", "HORIZONS", "TABLES",
    "PAYBACK_TOLERANCE_SEK",
    "discount_factors", "payback_months", "goal_achievement", "cumulative_saving", "horizons_for",
    "net_by_payer", "net_by_payer_category",
]

#: The tables of a comparison, in the order they are saved.
TABLES = ("money", "headline", "bridge", "pairs", "limits", "assumption_lines", "categories", "goals",
          "stock_bands", "assumptions", "sources", "parameters")
#: Payers whose cost per extra person in work (and per participant) is reported.
COST_PAYERS = ("municipality", SOCIETY)

MONEY_COLUMNS = ("scenario", "replication", "month", "month_index", "months_from_programme_start", "payer",
                 "net_sek_undiscounted_baseline",
                 "net_sek_undiscounted_scenario", "saving_undiscounted_sek", "discount_factor", "saving_discounted_sek",
                 "cumulative_saving_discounted_sek")
HEADLINE_COLUMNS = ("scenario", "metric", "horizon_months", "payer", "p10", "p50", "p90", "mean", "n")
GOAL_COLUMNS = ("scenario", "goal", "programme", "measure", "within_months_of_start", "target_share",
                "probability", "median_achieved_share", "p10_achieved_share", "p90_achieved_share",
                "median_participants", "replications", "source")
BAND_COLUMNS = ("scenario", "month", "stage", "p10", "p50", "p90")
CATEGORY_COLUMNS = ("scenario", "horizon_months", "payer", "category", "p10", "p50", "p90", "mean")
_COLUMNS = {"money": MONEY_COLUMNS, "headline": HEADLINE_COLUMNS, "pairs": HEADLINE_COLUMNS,
            "limits": LIMIT_COLUMNS, "assumption_lines": LINE_COLUMNS, "bridge": BRIDGE_COLUMNS,
            "categories": CATEGORY_COLUMNS,
            "goals": GOAL_COLUMNS,
            "stock_bands": BAND_COLUMNS, "assumptions": ASSUMPTION_COLUMNS, "sources": SOURCE_COLUMNS,
            "parameters": PARAMETER_COLUMNS}


# --------------------------------------------------------------------------------------------
# A run's money and stocks as arrays: from its ledger book and records when it has them (the
# same numbers as from its tables, without building them), else from its tables.

_MUNICIPALITY = PAYERS.index("municipality")
_EQUALISATION = CATEGORIES.index("income_equalisation")
_STAGE_CODE = {s.label: int(s) for s in Stage}


def _stage_series(r: RunResult, start: int, months: int, stages: Sequence[str]) -> np.ndarray:
    """People in ``stages`` per month (:func:`stage_series` of the stocks table)."""
    rec = getattr(r.records, "rec", None)
    if rec is None or r.start_month != start or not rec.stocks:
        return stage_series(r.tables["stocks"], start, months, stages)
    counts = np.array(rec.stocks, dtype=np.int64).reshape(len(rec.stocks), -1)[:months]
    out = np.zeros(months)
    out[: len(counts)] = counts[:, [_STAGE_CODE[s] for s in stages]].sum(axis=1)
    return out


def _starts_series(r: RunResult, start: int, months: int, programme: str) -> np.ndarray:
    """Starts of ``programme`` per month (:func:`starts_series` of the queues table's rows of it)."""
    rec = getattr(r.records, "rec", None)
    if rec is None or r.start_month != start:
        queues = r.tables["queues"]
        return starts_series(queues[queues["programme"] == programme], start, months)
    mine = [i for i, name in enumerate(r.programmes) if name == programme]
    rows = [(t, rec.starts.get((t, p), 0)) for t, p, *_ in rec.queues if p in mine and 0 <= t < months]
    t = np.array([t for t, _ in rows], np.int64)
    return np.bincount(t, weights=np.array([n for _, n in rows], np.float64), minlength=months)


def _stock_bands(e: Ensemble) -> pd.DataFrame:
    """:meth:`Ensemble.bands` of people per month and stage (rows by month, then stage label),
    from the runs' recorded stocks when every run has them for the same months (no tables)."""
    recs = [getattr(r.records, "rec", None) for r in e.results]
    if (not recs or any(rec is None or not rec.stocks for rec in recs)
            or len({len(rec.stocks) for rec in recs}) > 1 or len({r.start_month for r in e.results}) > 1):
        return e.bands()
    months = len(recs[0].stocks)
    order = sorted(range(len(STAGES)), key=lambda s: STAGES[s].label)  # as a pivot table sorts them
    wide = np.stack([np.array(rec.stocks, dtype=np.int64).reshape(months, -1)[:, order] for rec in recs],
                    axis=-1).reshape(months * len(order), len(recs))  # [month x stage, replication]
    q = np.quantile(wide.astype(np.float64), QUANTILES, axis=1)
    out = pd.DataFrame({"month": np.repeat(np.array(month_labels(e.results[0].start_month, months)), len(order)),
                        "stage": np.tile(np.array([STAGES[s].label for s in order]), months)})
    out["p10"], out["p50"], out["p90"] = q[0], q[1], q[2]
    return out


# --------------------------------------------------------------------------------------------
# Paired arrays of one scenario against the baseline


@dataclass
class _Pair:
    """A scenario's replications against the baseline's, as arrays ``[replication, month, ...]``."""

    label: str
    scenario: Scenario
    start: int
    months: int
    origin: int  # month index of the programme's start
    rate: float
    net_base: np.ndarray  # [R, T, P]
    net_scen: np.ndarray  # [R, T, P]
    work_base: np.ndarray  # [R, T]
    work_scen: np.ndarray
    selfsup_base: np.ndarray  # work + studies
    selfsup_scen: np.ndarray
    starts: dict[str, np.ndarray]  # programme -> [R, T]
    equalisation_base: np.ndarray  # [R, T]: the municipality's income_equalisation
    equalisation_scen: np.ndarray

    @property
    def discount(self) -> np.ndarray:
        return discount_factors(self.months, self.rate, self.origin)

    @property
    def window_months(self) -> int:
        """Months from the programme's start to the end of the run."""
        return self.months - self.origin

    def at(self, h: int) -> int:
        """Month index of the last month of the horizon ``h`` (months from the programme's start)."""
        return self.origin + h - 1

    def money(self) -> dict[str, np.ndarray]:
        """Per-payer arrays with ``society`` appended as the last payer (the sum of the others).

        Cumulative sums start at the programme's start (zero before it).
        """
        saving = self.net_scen - self.net_base
        disc = saving * self.discount[None, :, None]
        counted = (np.arange(self.months) >= self.origin)[None, :, None]
        cum = np.cumsum(disc * counted, axis=1)
        out = {"net_sek_undiscounted_baseline": self.net_base, "net_sek_undiscounted_scenario": self.net_scen,
               "saving_undiscounted_sek": saving,
               "saving_discounted_sek": disc, "cumulative_saving_discounted_sek": cum,
               "cumulative_saving_sek": np.cumsum(saving * counted, axis=1)}
        return {k: np.concatenate([v, v.sum(axis=2, keepdims=True)], axis=2) for k, v in out.items()}


def check_pairable(baseline: Scenario, scenarios: Sequence[Scenario]) -> None:
    """Raise ``ValueError`` unless every scenario runs the baseline's months (start and horizon).

    Checked before any run (by :func:`compare` and by ``almsim compare`` before it locks its
    folder), so a wrong pair of files costs nothing; :func:`_pair` checks the runs again.
    """
    b = baseline
    for s in scenarios:
        if (b.start_month, b.horizon_months) != (s.start_month, s.horizon_months):
            raise ValueError(
                f"scenario {s.name!r} runs {format_month(s.start_month)} + {s.horizon_months} months but the "
                f"baseline {b.name!r} runs {format_month(b.start_month)} + {b.horizon_months} months; "
                "a paired comparison needs the same months")


def _pair(label: str, base: Ensemble, scen: Ensemble) -> _Pair:
    s = scen.scenario
    check_pairable(base.scenario, [s])
    if base.seeds != scen.seeds:
        raise ValueError("the scenario and the baseline must use the same replication seeds")
    start, months = s.start_month, s.horizon_months
    origin = programme_start(s) - start

    def runs(ens: Ensemble, fn: Callable[[RunResult], np.ndarray]) -> np.ndarray:
        return np.stack([fn(r) for r in ens.results])

    def net(r: RunResult) -> np.ndarray:
        return net_of_cube(ledger_cube(r, start, months))

    def equalisation(r: RunResult) -> np.ndarray:
        return ledger_cube(r, start, months)[:, _MUNICIPALITY, _EQUALISATION]

    def stock(*stages: str) -> Callable[[RunResult], np.ndarray]:
        return lambda r: _stage_series(r, start, months, stages)

    starts = {p.name: runs(scen, lambda r, n=p.name: _starts_series(r, start, months, n)) for p in s.programmes}
    return _Pair(label, s, start, months, origin, float(s.money.discount_rate_per_year.at(start + origin)),
                 runs(base, net), runs(scen, net), runs(base, stock("work")), runs(scen, stock("work")),
                 runs(base, stock("work", "studies")), runs(scen, stock("work", "studies")), starts,
                 runs(base, equalisation), runs(scen, equalisation))


def _between(a: _Pair, b: _Pair) -> _Pair:
    """Scenario ``b`` against scenario ``a`` (both paired with the same baseline), replication by
    replication: the difference of two paired runs is itself paired."""
    return _Pair(f"{b.label} vs {a.label}", b.scenario, b.start, b.months, min(a.origin, b.origin), b.rate,
                 a.net_scen, b.net_scen, a.work_scen, b.work_scen, a.selfsup_scen, b.selfsup_scen,
                 {k: v - a.starts.get(k, 0) for k, v in b.starts.items()},
                 a.equalisation_scen, b.equalisation_scen)


def cumulative_saving(baseline: Ensemble, scenario: Ensemble, payer: str, horizon_months: int, *,
                      discounted: bool = True) -> np.ndarray:
    """Each replication's cumulative saving of ``payer`` over the first ``horizon_months`` months
    from the programme's start.

    Raises:
        ValueError: for an unknown payer or a horizon outside ``1 .. the run's horizon``.
    """
    if payer not in ALL_PAYERS:
        raise ValueError(f"unknown payer {payer!r}; choose one of {', '.join(ALL_PAYERS)}")
    pair = _pair(scenario.scenario.name, baseline, scenario)
    if not 1 <= horizon_months <= pair.window_months:
        raise ValueError(f"horizon {horizon_months} months is outside the run "
                         f"(1..{pair.window_months} months from the programme's start)")
    key = "cumulative_saving_discounted_sek" if discounted else "cumulative_saving_sek"
    return pair.money()[key][:, pair.at(horizon_months), ALL_PAYERS.index(payer)]


def _money_table(pair: _Pair) -> pd.DataFrame:
    m = pair.money()
    r_n, t_n, p_n = m["saving_undiscounted_sek"].shape
    df = pd.DataFrame({
        "scenario": pair.label,
        "replication": np.repeat(np.arange(r_n), t_n * p_n),
        "month": np.tile(np.repeat(np.array(month_labels(pair.start, t_n), dtype=object), p_n), r_n),
        "month_index": np.tile(np.repeat(np.arange(t_n), p_n), r_n),
        "months_from_programme_start": np.tile(np.repeat(np.arange(t_n) - pair.origin, p_n), r_n),
        "payer": np.tile(np.array(ALL_PAYERS, dtype=object), r_n * t_n),
    })
    for col in MONEY_COLUMNS[6:]:
        df[col] = np.broadcast_to(pair.discount[None, :, None], (r_n, t_n, p_n)).reshape(-1) \
            if col == "discount_factor" else m[col].reshape(-1)
    return df


def _headline_rows(pair: _Pair) -> list[tuple[Any, ...]]:
    m = pair.money()
    cum, cum_u = m["cumulative_saving_discounted_sek"], m["cumulative_saving_sek"]
    d_work = pair.work_scen - pair.work_base
    d_self = pair.selfsup_scen - pair.selfsup_base
    total_starts = sum(pair.starts.values()) if pair.starts else np.zeros_like(d_work)
    rows: list[tuple[Any, ...]] = []

    def add(metric: str, h: int, payer: str, values: np.ndarray, never_is_inf: bool = False) -> None:
        rows.append((pair.label, metric, h, payer, *quantiles(values, never_is_inf=never_is_inf)))

    o = pair.origin
    for h in horizons_for(pair.window_months):
        end = pair.at(h)
        extra = d_work[:, end]
        person_years = d_work[:, o:end + 1].sum(axis=1) / 12.0
        add("extra_in_work", h, "", extra)
        add("extra_person_months_in_work", h, "", d_work[:, o:end + 1].sum(axis=1))
        add("extra_in_work_or_studies", h, "", d_self[:, end])
        starts = total_starts[:, :end + 1].sum(axis=1)
        add("programme_starts", h, "", starts)
        if len(pair.starts) > 1:
            for name, s in pair.starts.items():
                add(f"programme_starts.{name}", h, "", s[:, :end + 1].sum(axis=1))
        for j, payer in enumerate(ALL_PAYERS):
            add("net_saving_discounted_sek", h, payer, cum[:, end, j])
            add("net_saving_sek", h, payer, cum_u[:, end, j])
            window = cum[:, o:end + 1, j]
            paid = pays_first(window)
            pb = np.where(paid, payback_months(window), np.nan)
            add("payback_month", h, payer, pb[paid], never_is_inf=True)
            share = float(np.mean(np.isfinite(pb[paid]))) if paid.any() else np.nan
            rows.append((pair.label, "payback_share", h, payer, np.nan, share, np.nan, share, int(paid.sum())))
            first = float(np.mean(paid))
            rows.append((pair.label, "pays_first_share", h, payer, np.nan, first, np.nan, first, len(paid)))
        muni = ALL_PAYERS.index("municipality")
        eq = (pair.equalisation_scen - pair.equalisation_base)[:, : end + 1]
        counted = np.arange(end + 1) >= o
        add("net_saving_discounted_sek", h, BEFORE_EQUALISATION,
            cum[:, end, muni] - (eq * pair.discount[None, : end + 1] * counted).sum(axis=1))
        add("net_saving_sek", h, BEFORE_EQUALISATION, cum_u[:, end, muni] - (eq * counted).sum(axis=1))
        # A ratio means something only where its denominator is surely positive.
        meaningful = np.quantile(person_years, 0.1) > 0 if person_years.size else False
        for payer in COST_PAYERS:
            cost = -cum[:, end, ALL_PAYERS.index(payer)]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = cost / person_years if meaningful else np.full(cost.shape, np.nan)
                add("cost_per_extra_person_year_in_work_sek", h, payer, ratio)
                add("cost_per_participant_sek", h, payer, np.where(starts > 0, cost / starts, np.nan))
        add("extra_person_years_in_work", h, "", person_years)
    return rows


def _category_rows(pair: _Pair, base: Ensemble, scen: Ensemble) -> list[tuple[Any, ...]]:
    """Cumulative discounted saving per payer and ledger category at each horizon.

    Rows whose saving is below half a krona in every replication are left out (at society
    level that drops the transfers, which cancel).
    """
    def cats(ens: Ensemble) -> np.ndarray:
        return np.stack([ledger_cube(r, pair.start, pair.months) for r in ens.results])

    counted = (np.arange(pair.months) >= pair.origin)[None, :, None, None]
    disc = (cats(scen) - cats(base)) * pair.discount[None, :, None, None] * counted
    cum = np.cumsum(disc, axis=1)
    rows: list[tuple[Any, ...]] = []
    for h in horizons_for(pair.window_months):
        tot = cum[:, pair.at(h)]
        tot = np.concatenate([tot, tot.sum(axis=1, keepdims=True)], axis=1)  # [R, payers + society, C]
        flat = tot.reshape(len(tot), -1)
        shown = np.flatnonzero(~np.all(np.abs(flat) < 0.5, axis=0))
        for x, stats in zip(shown.tolist(), column_quantiles(flat[:, shown]).tolist(), strict=True):
            rows.append((pair.label, h, ALL_PAYERS[x // len(CATEGORIES)], CATEGORIES[x % len(CATEGORIES)], *stats))
    return rows


def _goal_rows(label: str, scn: Scenario, ens: Ensemble) -> list[tuple[Any, ...]]:
    rows = []
    for goal in scn.goals:
        got = [goal_achievement(r.tables["events"], goal, scn.start_month, scn.horizon_months)
               for r in ens.results]
        shares = np.array([g[0] for g in got], dtype=np.float64)
        finite = shares[np.isfinite(shares)]
        prob = float(np.mean(finite >= goal.target_share - 1e-12)) if finite.size else np.nan
        q = np.quantile(finite, (0.1, 0.5, 0.9)) if finite.size else (np.nan,) * 3
        rows.append((label, goal.name, goal.programme, goal.measure, goal.within_months_of_start,
                     goal.target_share, prob, float(q[1]), float(q[0]), float(q[2]),
                     float(np.median([g[1] for g in got])), int(finite.size), goal.source or ""))
    return rows


def _labels(baseline: Scenario, scenarios: Sequence[Scenario]) -> tuple[str, list[str]]:
    """Unique names: a scenario named like the baseline (or another scenario) gets ``#2``, ``#3``..."""
    used = {baseline.name}
    labels = []
    for s in scenarios:
        label, k = s.name, 2
        while label in used:
            label, k = f"{s.name}#{k}", k + 1
        used.add(label)
        labels.append(label)
    return baseline.name, labels


def _frame(name: str, rows: list[tuple[Any, ...]] | pd.DataFrame) -> pd.DataFrame:
    if isinstance(rows, pd.DataFrame):
        return rows.reset_index(drop=True)
    return pd.DataFrame(rows, columns=list(_COLUMNS[name]))


# --------------------------------------------------------------------------------------------
# The comparison


@dataclass
class Comparison:
    """A baseline against one or more scenarios: tidy tables and what produced them.

    Attributes:
        baseline: the baseline's label (its scenario name).
        scenarios: the scenarios' labels (names, made unique with ``#2``... if needed).
        tables: ``money``, ``headline``, ``categories``, ``goals``, ``stock_bands``, ``assumptions``,
            ``sources``, ``parameters`` (see :func:`compare` for their columns).
        meta: seed, replication seeds, months, discount rates, titles, programmes, versions
            (plain JSON types; saved as ``comparison.json``).
        runs: label -> the replications' :class:`~sim.runs.results.RunResult` (not saved).
    """

    baseline: str
    scenarios: list[str]
    tables: dict[str, pd.DataFrame]
    meta: dict[str, Any]
    runs: dict[str, list[RunResult]] = field(default_factory=dict, repr=False)

    @property
    def money(self) -> pd.DataFrame:
        """Per scenario, replication, month and payer: nets, saving, discounting."""
        return self.tables["money"]

    @property
    def headline(self) -> pd.DataFrame:
        """P10/P50/P90 over replications of each metric, horizon and payer."""
        return self.tables["headline"]

    @property
    def categories(self) -> pd.DataFrame:
        """Cumulative discounted saving per payer and ledger category at each horizon."""
        return self.tables["categories"]

    @property
    def goals(self) -> pd.DataFrame:
        """Each stated goal's probability of being met."""
        return self.tables["goals"]

    @property
    def stock_bands(self) -> pd.DataFrame:
        """People per stage and month, P10/P50/P90, for the baseline and every scenario."""
        return self.tables["stock_bands"]

    @property
    def assumptions(self) -> pd.DataFrame:
        """Parameters that differ between the baseline and each scenario."""
        return self.tables["assumptions"]

    @property
    def sources(self) -> pd.DataFrame:
        """Every sourced parameter used by any scenario."""
        return self.tables["sources"]

    @property
    def parameters(self) -> pd.DataFrame:
        """Which parameters are calibrated (drawn per replication, or fixed) and which are priors."""
        return self.tables["parameters"]

    @classmethod
    def from_ensembles(cls, baseline: Ensemble, scenarios: Sequence[Ensemble],
                       pairs: Sequence[tuple[str, str]] | None = None, bridge: bool = False) -> Comparison:
        """Build a comparison from ensembles already run with the same seed and replications.

        ``pairs`` names scenario pairs ``(a, b)`` to report as ``b`` against ``a`` (default:
        every pair of scenarios, in the order given); ``bridge`` adds the payoff-style estimate
        and the bridge to the simulated one (:mod:`sim.analysis.payoff`). The assumption lines
        are added by :func:`compare`, which can re-run replications.
        """
        if not scenarios:
            raise ValueError("give at least one scenario to compare with the baseline")
        base_label, labels = _labels(baseline.scenario, [e.scenario for e in scenarios])
        pairs_ = [_pair(lab, baseline, e) for lab, e in zip(labels, scenarios, strict=True)]
        money = pd.concat([_money_table(p) for p in pairs_], ignore_index=True)
        headline = [row for p in pairs_ for row in _headline_rows(p)]
        by_label = dict(zip(labels, pairs_, strict=True))
        wanted = list(itertools.combinations(labels, 2)) if pairs is None else list(pairs)
        for a, b in wanted:
            if a not in by_label or b not in by_label:
                raise ValueError(f"pair ({a}, {b}): scenarios are {', '.join(labels)}")
        between = [row for a, b in wanted for row in _headline_rows(_between(by_label[a], by_label[b]))]
        limits = pd.concat([binding_limits(lab, [p.name for p in e.scenario.programmes], e.results)
                            for lab, e in zip(labels, scenarios, strict=True)], ignore_index=True)
        categories = [row for p, e in zip(pairs_, scenarios, strict=True) for row in _category_rows(p, baseline, e)]
        goals = [row for lab, e in zip(labels, scenarios, strict=True) for row in _goal_rows(lab, e.scenario, e)]
        bands = []
        for lab, e in zip([base_label, *labels], [baseline, *scenarios], strict=True):
            b = _stock_bands(e)
            b.insert(0, "scenario", lab)
            bands.append(b)
        scns = [e.scenario for e in scenarios]
        tables = {
            "money": _frame("money", money),
            "headline": _frame("headline", headline),
            "pairs": _frame("pairs", between),
            "limits": _frame("limits", limits),
            "assumption_lines": _frame("assumption_lines", []),  # filled by compare()
            "bridge": _frame("bridge", pd.concat([payoff_bridge(baseline, e).table(lab)
                                                  for lab, e in zip(labels, scenarios, strict=True)],
                                                 ignore_index=True) if bridge else []),
            "categories": _frame("categories", categories),
            "goals": _frame("goals", goals),
            "stock_bands": _frame("stock_bands", pd.concat(bands, ignore_index=True)),
            "assumptions": _frame("assumptions", assumption_table(baseline.scenario, scns, labels)),
            "sources": _frame("sources", source_table([baseline.scenario, *scns], [base_label, *labels])),
            "parameters": _frame("parameters", parameter_table(
                [baseline.scenario, *scns], [base_label, *labels],
                [e.parameter_draws for e in (baseline, *scenarios)])),
        }
        meta = _meta(baseline, scenarios, base_label, labels)
        runs = {lab: e.results for lab, e in zip([base_label, *labels], [baseline, *scenarios], strict=True)}
        return cls(base_label, labels, tables, meta, runs)

    # ------------------------------------------------------------------ saving
    def save(self, out_dir: str | Path, extra: Mapping[str, str] | None = None, *, text: str | None = None) -> Path:
        """Write every table as Parquet and CSV (:func:`write_table`), ``comparison.json``, ``summary.txt`` and the
        ``extra`` text files (name -> content, e.g. the report), all or nothing.

        ``text`` is :meth:`to_text` when the caller already has it (the command line prints it
        too), so that it is worked out once. An existing ``out_dir`` is replaced only once the
        new one is complete.
        """
        path = Path(out_dir)
        summary = self.to_text() if text is None else text
        with atomic_dir(path) as tmp:
            for name in TABLES:
                write_table(self.tables[name], tmp / name)
            (tmp / "comparison.json").write_text(json.dumps(self.meta, indent=2, sort_keys=True) + "\n")
            (tmp / "summary.txt").write_text(summary + "\n")
            for name, text in (extra or {}).items():
                (tmp / name).write_text(text, encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Comparison:
        """Read a comparison written by :meth:`save` (without its runs)."""
        path = Path(path)
        meta = json.loads((path / "comparison.json").read_text())
        tables = {name: pd.read_parquet(path / f"{name}.parquet") if (path / f"{name}.parquet").exists()
                  else _frame(name, []) for name in TABLES}
        return cls(meta["baseline"], list(meta["scenarios"]), tables, meta)

    # ------------------------------------------------------------------ text
    def to_text(self) -> str:
        """The terminal summary: headline numbers per scenario as ``median (P10..P90)``, then
        every reported pair of scenarios as paired differences."""
        lines = [f"Baseline: {self.baseline} ({self.meta['titles'].get(self.baseline, '')})",
                 f"{self.meta['replications']} paired replications, seed {self.meta['seed']}; "
                 f"saving = scenario - baseline, discounted to the programme's start; "
                 f"+ = the payer is better off, - = it pays",
                 *parameters_text(self.tables.get("parameters", _frame("parameters", [])))]
        limits = self.tables.get("limits", _frame("limits", []))
        for label in self.scenarios:
            lines += ["", f"Scenario: {label} ({self.meta['titles'].get(label, '')})",
                      *self.meta.get("warnings", {}).get(label, []),
                      f"horizons count from the programme's start, "
                      f"{self.meta.get('programme_start', {}).get(label, '?')}"]
            lines += _table(self.headline[self.headline["scenario"] == label], payback=True)
            lines += [f"limit: {t}" for t in limits.loc[limits["scenario"] == label, "text"]]
            lines += lines_text(self.tables.get("assumption_lines", _frame("assumption_lines", [])), label)
            lines += _bridge_text(self.tables.get("bridge", _frame("bridge", [])), label)
            g = self.goals[self.goals["scenario"] == label]
            for r in g.itertuples():
                lines.append(f"goal {r.goal}: {r.target_share:.0%} in {r.measure.replace('_or_', ' or ')} within "
                             f"{r.within_months_of_start} "
                             f"months; met in {_fmt_share(r.probability)} of replications "
                             f"(median achieved {_fmt_share(r.median_achieved_share)})")
        pairs = self.tables.get("pairs", _frame("pairs", []))
        for label in dict.fromkeys(pairs["scenario"]):
            lines += ["", f"Pair: {label} (the first minus the second, paired replication by replication; "
                          f"+ = the payer is better off with the first)"]
            lines += _table(pairs[pairs["scenario"] == label], payback=False)
        return "\n".join(lines)


def write_table(df: pd.DataFrame, stem: Path) -> None:
    """Write ``df`` as ``stem.parquet`` and ``stem.csv`` (without its index), both from one Arrow
    table. The CSV is written by Arrow's writer: ~8x less CPU than pandas' for the money table
    (~0.12 CPU-s of the main job), the same values when read back, except that a float column
    whose values are all whole numbers reads back as integers (Arrow writes ``200``, pandas
    ``200.0``); booleans are ``true``/``false`` (pandas: ``True``/``False``), strings are quoted
    only where they need it, missing values are empty."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, stem.with_suffix(".parquet"))
    pa_csv.write_csv(table, stem.with_suffix(".csv"), pa_csv.WriteOptions(quoting_style="needed"))


def _bridge_text(bridge: pd.DataFrame, label: str) -> list[str]:
    """Why almsim's answer differs from a payoff-style evaluation, for the municipality."""
    b = bridge[bridge["scenario"] == label]
    if b.empty:
        return []
    h = 60 if (b["horizon_months"] == 60).any() else int(b["horizon_months"].max())
    out = [f"Payoff-style estimate and the bridge to almsim's (municipality, {h} months, mean MSEK over "
           "replications; the steps add up):"]
    return out + ["  " + line for line in explain(bridge, label, h, "municipality")]


def silent_payers(headline: pd.DataFrame) -> set[str]:
    """The payers of one scenario's (or pair's) headline rows whose discounted saving is exactly
    zero in every replication and horizon: no money of theirs moves, so the terminal and the
    report name them once ("no saving at all for") instead of a row of zeros called unclear."""
    net = headline["metric"].to_numpy() == "net_saving_discounted_sek"
    payers = headline["payer"].to_numpy()[net]
    moved = (headline[["p10", "p50", "p90"]].to_numpy()[net] != 0).any(axis=1)  # NaN counts as moved
    return set(payers.tolist()) - set(payers[moved].tolist())


def _table(hs: pd.DataFrame, *, payback: bool) -> list[str]:
    """One scenario's (or one pair's) headline rows as a text table, horizons across."""
    horizons = sorted(hs["horizon_months"].unique())
    # The first row of each (metric, horizon, payer), looked up once: the table asks ~100 times.
    first: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for r in hs.to_dict("records"):
        first.setdefault((r["metric"], r["horizon_months"], r["payer"]), r)

    def metric(name: str, h: int, payer: str) -> dict[str, Any] | None:
        return first.get((name, h, payer))

    def row(name: str, what: str, payer: str, fmt: Callable[[float], str]) -> tuple[str, list[str]]:
        cells = []
        for x in horizons:
            r = metric(what, x, payer)
            cells.append(_interval(r, fmt) if r is not None else "")
        return name, cells

    def payback_row(payer: str) -> tuple[str, list[str]]:
        cells = []
        for x in horizons:
            first, r = metric("pays_first_share", x, payer), metric("payback_month", x, payer)
            cells.append("does not pay first" if first is None or r is None or not first["p50"] >= 0.5
                         else _interval(r, _fmt_month))
        return f"payback month, {payer}", cells

    def ratio(payer: str) -> tuple[str, list[str]]:
        cells = []
        for x in horizons:
            r = metric("cost_per_extra_person_year_in_work_sek", x, payer)
            cells.append(_interval(r, _fmt_ksek) if r is not None and r["n"] > 0 else "not meaningful*")
        return f"cost/extra person-year in work, {'mun.' if payer == 'municipality' else 'soc.'}", cells

    quiet = silent_payers(hs)
    shown = [p for p in ALL_PAYERS if p in ("municipality", SOCIETY) or p not in quiet]
    rows = [row("programme starts", "programme_starts", "", _fmt_count),
            row("extra people in work (at end)", "extra_in_work", "", _fmt_count),
            row("extra person-months in work", "extra_person_months_in_work", "", _fmt_count),
            ("net saving, MSEK (discounted)", []),
            *(row(f"  {payer}", "net_saving_discounted_sek", payer, _fmt_msek) for payer in shown),
            row("  municipality, before equalisation", "net_saving_discounted_sek", BEFORE_EQUALISATION, _fmt_msek)]
    if payback:
        rows += [payback_row("municipality"), payback_row(SOCIETY), ratio("municipality"), ratio(SOCIETY)]
    width = 2 + max([len(c) for _, cells in rows for c in cells] + [len(_horizon_label(x)) for x in horizons])
    rows.insert(0, ("", [_horizon_label(x) for x in horizons]))
    lines = [(f"{name:34}" + "".join(f"{c:>{width}}" for c in cells)).rstrip() for name, cells in rows]
    if len(shown) < len(ALL_PAYERS):
        lines.append(f"(no saving at all for: {', '.join(p for p in ALL_PAYERS if p not in shown)})")
    lines.append("(a municipal budget sees 'municipality', after income equalisation; 'before "
                 "equalisation' is what its own tax base would give)")
    if any("not meaningful*" in cells for _, cells in rows):
        lines.append("* not meaningful: the P10..P90 interval of the extra person-years in work "
                     "does not lie above zero, so the ratio could have any size or sign")
    return lines


def _horizon_label(h: int) -> str:
    return f"{h // 12} years" if h % 12 == 0 and h >= 24 else ("1 year" if h == 12 else f"{h} months")


def _interval(r: Any, fmt: Callable[[float], str]) -> str:
    if np.isnan(r["p10"]) and np.isnan(r["p90"]):
        return fmt(r["p50"])
    return f"{fmt(r['p50'])} ({fmt(r['p10'])}..{fmt(r['p90'])})"


def _fmt_count(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{round(x):,d}"


def _fmt_msek(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x / 1e6:+.1f}"


def _fmt_ksek(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x / 1e3:,.0f}k"


def _fmt_month(x: float) -> str:
    return "never" if not np.isfinite(x) else f"{x:.0f}"


def _fmt_share(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.0%}"


def cost_warnings(scenario: Scenario) -> list[str]:
    """One line for each programme that has places but books no staff, overhead or participant
    cost: its result would show a saving that running it could not deliver."""
    start = programme_start(scenario)
    out = []
    for p in scenario.programmes:
        months = range(start, scenario.start_month + scenario.horizon_months)
        places = any(p.capacity.slots_at(m) > 0 for m in months)
        costs = (any(p.staff_cost_at(m) > 0 for m in months)
                 or any(v for c in p.cost_sek_per_participant_month.values() for _, v in c.steps))
        pays_wages = p.kind == "subsidised_job"
        if places and not costs:
            out.append(f"warning: programme {p.name!r} has places but no staff, overhead or participant cost"
                       + (" other than wages" if pays_wages else "") + "; its costs are understated")
    return out


def _meta(baseline: Ensemble, scenarios: Sequence[Ensemble], base_label: str, labels: list[str]) -> dict[str, Any]:
    ens = [baseline, *scenarios]
    every = [base_label, *labels]
    b = baseline.scenario
    return {
        "baseline": base_label,
        "scenarios": labels,
        "seed": baseline.seed,
        "replications": len(baseline.results),
        "replication_seeds": list(baseline.seeds),
        "start_month": format_month(b.start_month),
        "horizon_months": b.horizon_months,
        "horizons": horizons_for(min(b.start_month + b.horizon_months - programme_start(e.scenario)
                                     for e in scenarios)),
        "programme_start": {lab: format_month(programme_start(e.scenario)) for lab, e in zip(labels, scenarios,
                                                                                           strict=True)},
        "titles": {lab: e.scenario.title or e.scenario.name for lab, e in zip(every, ens, strict=True)},
        "descriptions": {lab: e.scenario.description for lab, e in zip(every, ens, strict=True)},
        "discount_rate_per_year": {lab: float(e.scenario.money.discount_rate_per_year.at(b.start_month))
                                   for lab, e in zip(every, ens, strict=True)},
        "people": {lab: int(e.results[0].summary.get("people", 0)) for lab, e in zip(every, ens, strict=True)},
        "programmes": {lab: [{"name": p.name, "title": p.title or p.name, "kind": p.kind,
                              "places": p.capacity.slots_at(programme_start(e.scenario))}
                             for p in e.scenario.programmes]
                       for lab, e in zip(every, ens, strict=True)},
        "content_hash": {lab: content_hash(e.scenario) for lab, e in zip(every, ens, strict=True)},
        "fixed_parameters": bool(baseline.fixed_parameters),
        "warnings": {lab: cost_warnings(e.scenario) for lab, e in zip(labels, scenarios, strict=True)},
        "almsim_version": VERSION,
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def compare(baseline: Scenario, scenarios: Sequence[Scenario], *, seed: int = 0, replications: int = 20,
            workers: int = 1, progress: Callable[[int], None] | None = None,
            sensitivity: bool = True, bridge: bool = True, store: str | Path | None = None,
            fixed_parameters: bool = False) -> Comparison:
    """Run ``baseline`` and each scenario with common random numbers and compare them.

    Args:
        baseline: the reference policy (e.g. the cohort without the programme).
        scenarios: the policies to compare with it; each must have the same start month and
            horizon. (The same population is expected; differences show in ``assumptions``.)
        seed: the seed of every scenario; replication ``i`` of each uses the same spawned seed.
        replications: paired replications.
        workers: processes (results do not depend on it). The baseline's and the scenarios'
            runs are asked for at once (:func:`~sim.runs.replications.replicate_all`): where
            they can be blocks of one batched model (a baseline without the programme and the
            scenario with it can), they are; the assumption lines' re-runs likewise.
        progress: called with 1 per finished run; there are
            ``replications * (1 + len(scenarios))`` runs (e.g. pass ``tqdm(total=...).update``),
            and with ``sensitivity`` ``replications * (rerun_values(baseline) + rerun_values(s))``
            more for each scenario ``s`` (a baseline and a scenario re-run per value of the
            assumptions that change what people do:
            :func:`~sim.analysis.assumptions_driving.rerun_values`; the baseline's, run once,
            count for each scenario).
        sensitivity: add the assumption lines (the headline under other values of the
            assumptions that drive it; :mod:`sim.analysis.assumptions_driving`).
        bridge: add the payoff-style estimate and the bridge from it to the simulated one
            (:mod:`sim.analysis.payoff`; needs the scenarios' event logs, which are then kept).
        store: a folder where every replication is kept as it finishes and read back when asked
            for again, so a killed comparison resumes (:func:`sim.runs.replications.replicate`).
        fixed_parameters: keep the calibrated defaults' written values (posterior medians)
            instead of drawing them per replication; a pair's two runs share each draw
            (:mod:`sim.runs.posterior`).

    Returns:
        A :class:`Comparison` with these tables:

        * ``money``: scenario, replication, month (YYYY-MM), month_index, payer (the ledger's
          payers and ``society``), net_sek_undiscounted_baseline, net_sek_undiscounted_scenario,
          saving_undiscounted_sek,
          discount_factor, saving_discounted_sek, cumulative_saving_discounted_sek;
        * ``headline``: scenario, metric, horizon_months, payer ("" for people metrics), p10,
          p50, p90, mean, n (replications with a value). Metrics: extra_in_work,
          extra_person_months_in_work, extra_in_work_or_studies, programme_starts (and
          ``programme_starts.<name>`` with several programmes), net_saving_discounted_sek,
          net_saving_sek, payback_month (over replications in which the payer pays first; NaN
          quantile = not paid back), payback_share (of those, in p50 and mean),
          pays_first_share, extra_person_years_in_work, cost_per_extra_person_year_in_work_sek
          (NaN where the extra person-years' P10 is not above zero) and cost_per_participant_sek
          (municipality, society; discounted net cost, NaN where the divisor is <= 0);
        * ``categories``: scenario, horizon_months, payer, category, p10, p50, p90, mean: the
          cumulative discounted saving by ledger category (what each payer's saving is made of);
        * ``goals``: scenario, goal, programme, measure, within_months_of_start, target_share,
          probability, median/p10/p90 achieved share, median participants, replications, source;
        * ``stock_bands``: scenario (baseline included), month, stage, p10, p50, p90;
        * ``assumptions``: scenario, path, value_baseline, value_scenario, source, status;
        * ``sources``: path, value, scenarios, source, status;
        * ``parameters``: path, scenarios, value, status (calibrated or uncalibrated), drawn,
          calibration, posterior_draws, draws_used, source
          (:func:`sim.analysis.assumptions.parameter_table`).
    """
    scenarios = list(scenarios)
    if not scenarios:
        raise ValueError("give at least one scenario to compare with the baseline")
    check_pairable(baseline, scenarios)
    # The baseline and the scenarios asked for at once (blocks of one batched model where they can
    # share one), then the assumption lines' re-runs, at once too. Two models, not one: the
    # money-only lines post the comparison's runs again under other rates, and a batch's books
    # post every block's states together (SharedPostings), so re-runs in the same model would be
    # posted again with them (measured: +1.1 CPU-s in the main job, more than a model costs).
    # The runs book their money at the a-kassa line's other shares too (membership changes who is
    # paid what, not what people do): that line needs no re-runs.
    def shares(s: Scenario) -> tuple[float, ...]:
        return member_shares(s) if sensitivity else ()

    asked = [Request(baseline, seed, replications, False, fixed_parameters, member_shares=shares(baseline))] + [
        Request(s, seed, replications, bool(s.goals) or bridge, fixed_parameters, member_shares=shares(s))
        for s in scenarios]
    done = replicate_all(asked, workers=workers, progress=progress, store=store)
    base, ens = done[0], done[1:]
    out = Comparison.from_ensembles(base, ens, bridge=bridge)  # checks that the runs pair up
    if sensitivity:
        out.tables["assumption_lines"] = _frame("assumption_lines", assumption_lines(
            base, ens, out.scenarios, workers=workers, progress=progress, store=store))
    return out
