"""What a comparison measures, as pure functions of run tables and arrays.

Ledger nets per month and payer (and category), discount factors, payback months, goal
achievement from an event log, and quantile summaries. Nothing here runs a model or knows
about baselines: :mod:`sim.analysis.comparison` pairs runs and calls these. Conventions (month index,
horizons as windows ``t < H``, payback) are those of :mod:`sim.analysis.comparison`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.accounts.payers import CATEGORIES, PAYERS
from sim.runs.run_statistics import GOAL_STAGES, goal_counts
from sim.scenario.dated import format_month, parse_month
from sim.scenario.schema import Goal, Scenario

if TYPE_CHECKING:
    from sim.runs.results import RunResult

__all__ = ["discount_factors", "payback_months", "horizons_for", "month_labels", "net_by_payer",
           "net_by_payer_category", "ledger_cube", "net_of_cube", "stage_series", "starts_series",
           "goal_achievement", "quantiles", "column_quantiles",
           "HORIZONS", "PAYBACK_TOLERANCE_SEK", "GOAL_STAGES"]

#: Horizons (months) reported besides the scenario's full horizon.
HORIZONS = (12, 60)
#: Cumulative savings above minus this count as "paid back" (rounding of sums of SEK).
PAYBACK_TOLERANCE_SEK = 1.0


def discount_factors(months: int, rate_per_year: float, origin: int = 0) -> np.ndarray:
    """``(1 + r) ** (-(t - origin) / 12)`` for ``t = 0 .. months - 1``: money is valued at the
    month ``origin`` (the programme's start), so that month's factor is 1."""
    if rate_per_year <= -1.0:
        raise ValueError(f"discount rate must be > -100 % a year, got {rate_per_year}")
    return (1.0 + rate_per_year) ** (-(np.arange(months, dtype=np.float64) - origin) / 12.0)


def programme_start(scenario: Scenario) -> int:
    """The month a scenario's programmes start: the earliest ``start_month`` of its programmes
    (the run's start for a programme without one, or for a scenario without programmes).

    Horizons, discounting, payback and break-even count from this month, as payoff-style
    evaluations do (DOMAIN.md B5); the run's start is only where the simulation begins.
    """
    starts = [p.start_month if p.start_month is not None else scenario.start_month for p in scenario.programmes]
    return max(scenario.start_month, min(starts)) if starts else scenario.start_month


def pays_first(cumulative: np.ndarray, tolerance: float = PAYBACK_TOLERANCE_SEK) -> np.ndarray:
    """Whether the cumulative saving goes below ``-tolerance`` in some month (the payer pays
    before it may save): a payback month means something only then."""
    return (np.asarray(cumulative, dtype=np.float64) < -tolerance).any(axis=-1)


def payback_months(cumulative: np.ndarray, tolerance: float = PAYBACK_TOLERANCE_SEK) -> np.ndarray:
    """Payback month of cumulative savings over the last axis (months).

    Args:
        cumulative: ``[..., months]`` cumulative (discounted) savings.
        tolerance: values ``>= -tolerance`` count as non-negative.

    Returns:
        ``[...]`` floats: the first month index from which the series stays non-negative to
        its end; NaN where its last value is negative.
    """
    cum = np.asarray(cumulative, dtype=np.float64)
    neg = cum < -tolerance
    n = cum.shape[-1]
    # index of the last negative month, -1 if none
    last_neg = np.where(neg.any(axis=-1), n - 1 - np.argmax(neg[..., ::-1], axis=-1), -1)
    return np.where(last_neg == n - 1, np.nan, last_neg + 1.0)


def horizons_for(horizon_months: int) -> list[int]:
    """The reported horizons of a run of ``horizon_months``: 12, 60 (if they fit) and the full one."""
    return sorted({h for h in HORIZONS if h <= horizon_months} | {horizon_months})


def month_labels(start: int, months: int) -> list[str]:
    """``YYYY-MM`` of each month of a run."""
    return [format_month(start + t) for t in range(months)]


def net_by_payer(ledger: pd.DataFrame, start_month: int, months: int) -> np.ndarray:
    """Net SEK per month and payer (``[months, len(PAYERS)]``) from a run's ledger table.

    Sums are taken row by row in the table's order, so two identical ledgers give
    bit-identical nets.
    """
    t = pd.Index(month_labels(start_month, months)).get_indexer(ledger["month"])
    p = pd.Index(PAYERS).get_indexer(ledger["payer"])
    if (t < 0).any():
        raise ValueError(f"ledger month {ledger['month'].to_numpy()[t < 0][0]!r} outside the run")
    if (p < 0).any():
        raise ValueError(f"unknown payer {ledger['payer'].to_numpy()[p < 0][0]!r} in the ledger")
    flat = np.bincount(t * len(PAYERS) + p, weights=ledger["sek"].to_numpy(np.float64),
                       minlength=months * len(PAYERS))
    return flat.reshape(months, len(PAYERS))


def net_by_payer_category(ledger: pd.DataFrame, start_month: int, months: int) -> np.ndarray:
    """Net SEK per month, payer and category (``[months, len(PAYERS), len(CATEGORIES)]``)."""
    t = pd.Index(month_labels(start_month, months)).get_indexer(ledger["month"])
    p = pd.Index(PAYERS).get_indexer(ledger["payer"])
    c = pd.Index(CATEGORIES).get_indexer(ledger["category"])
    if (t < 0).any() or (p < 0).any() or (c < 0).any():
        raise ValueError("ledger rows outside the run's months, payers or categories")
    n = len(PAYERS) * len(CATEGORIES)
    flat = np.bincount((t * len(PAYERS) + p) * len(CATEGORIES) + c, weights=ledger["sek"].to_numpy(np.float64),
                       minlength=months * n)
    return flat.reshape(months, len(PAYERS), len(CATEGORIES))


#: categories in the order a ledger table lists them (sorted), which is the order its rows are summed in
_SORTED_CATEGORIES = [CATEGORIES.index(c) for c in sorted(CATEGORIES)]


def ledger_cube(r: RunResult, start: int, months: int) -> np.ndarray:
    """Net SEK ``[month, payer, category]`` of a run (:func:`net_by_payer_category` of its ledger
    table, which lists each month's nonzero amounts of :meth:`LedgerBook.months`), from its
    ledger book when it has one (without building the table); computed once per run."""
    cache = r.__dict__.setdefault("_cubes", {})
    if (start, months) in cache:
        return cache[(start, months)]
    book = r.ledger_book
    if book is None or r.start_month != start:
        cube = net_by_payer_category(r.tables["ledger"], start, months)
    else:
        cube = book.cube(tuple(PAYERS), tuple(CATEGORIES), months)
    cache[(start, months)] = cube
    return cube


def net_of_cube(cube: np.ndarray) -> np.ndarray:
    """Net SEK ``[month, payer]`` of a :func:`ledger_cube`: the categories added in the order
    :func:`net_by_payer` adds a ledger table's rows (so the same numbers)."""
    out = np.zeros(cube.shape[:2])
    for c in _SORTED_CATEGORIES:
        out += cube[:, :, c]
    return out


def category_series(ledger: pd.DataFrame, start_month: int, months: int, payer: str, category: str) -> np.ndarray:
    """Net SEK per month (``[months]``) of one payer in one ledger category."""
    rows = ledger[(ledger["payer"] == payer) & (ledger["category"] == category)]
    t = pd.Index(month_labels(start_month, months)).get_indexer(rows["month"])
    if (t < 0).any():
        raise ValueError("ledger rows outside the run's months")
    return np.bincount(t, weights=rows["sek"].to_numpy(np.float64), minlength=months)


def stage_series(stocks: pd.DataFrame, start_month: int, months: int, stages: Sequence[str]) -> np.ndarray:
    """People in ``stages`` per month, from a run's stocks table."""
    sel = stocks[stocks["stage"].isin(list(stages))]
    t = pd.Index(month_labels(start_month, months)).get_indexer(sel["month"])
    ok = t >= 0
    return np.bincount(t[ok], weights=sel["people"].to_numpy(np.float64)[ok], minlength=months)


def starts_series(queues: pd.DataFrame, start_month: int, months: int) -> np.ndarray:
    """Programme starts per month, from (a selection of) a run's queues table."""
    t = pd.Index(month_labels(start_month, months)).get_indexer(queues["month"])
    ok = t >= 0
    return np.bincount(t[ok], weights=queues["starts"].to_numpy(np.float64)[ok], minlength=months)


def goal_achievement(events: pd.DataFrame, goal: Goal, start_month: int | str, months: int) -> tuple[float, int]:
    """The share of a goal's participants who reached its measure in time, and how many
    participants there are, from one run's event log (``events``: ``month, person, from_stage,
    to_stage, programme, programme_start``; ``start_month``: ``"YYYY-MM"`` or a month number;
    ``months``: months simulated). Who counts and what reaching means:
    :func:`sim.runs.run_statistics.goal_counts`. The share is NaN when no participant can be
    followed.
    """
    start = parse_month(start_month) if isinstance(start_month, str) else int(start_month)
    reached, participants = goal_counts(events, goal, start, months)
    return (reached / participants if participants else float("nan")), participants


def quantiles(values: np.ndarray, *, never_is_inf: bool = False) -> tuple[float, float, float, float, int]:
    """P10, P50, P90, mean and count over the finite values (NaN = missing).

    With ``never_is_inf`` NaN means "never" and ranks above every number (a quantile that
    falls on it is NaN): used for payback months.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    if never_is_inf:
        if v.size == 0:
            return (np.nan,) * 4 + (0,)  # type: ignore[return-value]
        q = np.quantile(np.where(np.isnan(v), np.inf, v), (0.1, 0.5, 0.9), method="inverted_cdf")
        q = np.where(np.isinf(q), np.nan, q)
        mean = float(finite.mean()) if finite.size else np.nan
        return float(q[0]), float(q[1]), float(q[2]), mean, int(finite.size)
    if finite.size == 0:
        return (np.nan,) * 4 + (0,)  # type: ignore[return-value]
    q = np.quantile(finite, (0.1, 0.5, 0.9))
    return float(q[0]), float(q[1]), float(q[2]), float(finite.mean()), int(finite.size)


def column_quantiles(values: np.ndarray) -> np.ndarray:
    """``quantiles(values[:, x])[:4]`` (P10, P50, P90, mean) of every column ``x`` of ``[replication, x]``
    values, as ``[x, 4]``: the same numbers, computed for all columns at once where they are finite."""
    v = np.asarray(values, dtype=np.float64)
    out = np.empty((v.shape[1], 4))
    ok = np.isfinite(v).all(axis=0) & (v.shape[0] > 0)
    if ok.any():
        w = v[:, ok]
        out[ok, :3] = np.quantile(w, (0.1, 0.5, 0.9), axis=0).T
        out[ok, 3] = np.ascontiguousarray(w.T).mean(axis=1)  # each column's mean as its own (contiguous) sum
    for x in np.flatnonzero(~ok):
        out[x] = quantiles(v[:, x])[:4]
    return out
