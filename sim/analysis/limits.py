"""Which limit binds a programme: places, starts or budget, or the people referred to it.

A programme can only admit people who are referred, eligible and waiting, and only as many as
its free places, its starts per month and its budget allow. Which of these binds decides what
a change of lever does: 200 places instead of 150 change nothing if 150 are never filled.
:func:`binding_limits` reads the ``queues`` table of each replication (waiting, participants,
capacity and starts per programme and month) and names the limit, with its numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sim.runs.results import RunResult

__all__ = ["binding_limits", "LIMIT_COLUMNS"]

LIMIT_COLUMNS = ("scenario", "programme", "capacity_max", "peak_participants", "peak_queue", "months_full",
                 "months_queue_with_free_places", "months_free_places_no_queue", "limit", "text")


def _queues(r: RunResult) -> dict[str, np.ndarray]:
    """The columns of a run's queues table that are read here (without building the table when the
    run still has its records)."""
    names = ("programme", "capacity", "participants", "waiting")
    if r.records is not None and hasattr(r.records, "column"):
        return {c: r.records.column("queues", c) for c in names}
    q = r.tables["queues"]
    return {c: q[c].to_numpy() for c in names if c in q.columns}


def _one(q: Mapping[str, np.ndarray]) -> tuple[float, float, float, float, float, float]:
    open_ = np.asarray(q["capacity"]) > 0
    part, cap, wait = (np.asarray(q[c]) for c in ("participants", "capacity", "waiting"))
    full = open_ & (part >= cap)
    queue_free = open_ & (wait > 0) & (part < cap)
    free_no_queue = open_ & (wait == 0) & (part < cap)
    return (float(cap.max(initial=0)), float(part.max(initial=0)), float(wait.max(initial=0)), float(full.sum()),
            float(queue_free.sum()), float(free_no_queue.sum()))


def binding_limits(label: str, programmes: Sequence[str], runs: Sequence[RunResult]) -> pd.DataFrame:
    """One row per programme: medians over replications of the peak participants and queue and
    of the months the programme was full, had a queue with free places, or had free places and
    no queue; ``limit`` is ``places``, ``starts or budget`` or ``referrals or eligibility``."""
    rows = []
    recorded = [_queues(r) for r in runs]
    recorded = [q for q in recorded if {"capacity", "participants", "waiting"} <= set(q)]
    for name in programmes:
        per_run = np.array([_one({c: v[q["programme"] == name] for c, v in q.items()}) for q in recorded])
        if not len(per_run):
            rows.append((label, name, *(np.nan,) * 6, "unknown", f"{name}: no queue records"))
            continue
        cap, peak, queue, full, queue_free, free = np.median(per_run, axis=0) if len(per_run) else (np.nan,) * 6
        if full >= 1:
            limit = "places"
            text = (f"{name}: places bind: all {cap:.0f} places were taken in {full:.0f} months "
                    f"(peak queue {queue:.0f})")
        elif queue_free >= 1:
            limit = "starts or budget"
            text = (f"{name}: starts per month or the budget bind, not places: people waited in "
                    f"{queue_free:.0f} months (peak queue {queue:.0f}) while places were free; at most "
                    f"{peak:.0f} of {cap:.0f} places were filled")
        else:
            limit = "referrals or eligibility"
            text = (f"{name}: referrals or eligibility bind, not places: at most {peak:.0f} of {cap:.0f} places "
                    f"were ever filled and no one was left waiting")
        rows.append((label, name, cap, peak, queue, full, queue_free, free, limit, text))
    return pd.DataFrame(rows, columns=list(LIMIT_COLUMNS))
