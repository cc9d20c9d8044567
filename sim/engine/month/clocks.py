"""Sub-step 2, clocks: benefit days, the work-condition history and the month counters.

UI days and JOB days advance by ``benefit_days_per_month`` for those drawing them (UI for
those paid UI, as the ledger pays it; JOB days for those in the guarantee); the 12-month
work-condition history shifts in whether this month qualified; months in stage, months out
of work and months since a programme advance; waiting lowers motivation.
"""

from __future__ import annotations

import numpy as np

from sim.accounts.jit import kernel
from sim.engine.state import RunState
from sim.scenario.stages import Stage

__all__ = ["step", "advance_clocks"]

_S = Stage
_EDUCATION, _SUBSIDISED, _FAS3 = np.uint8(_S.EDUCATION), np.uint8(_S.SUBSIDISED), np.uint8(_S.FAS3)
_WORK, _NOT_ARRIVED = np.uint8(_S.WORK), np.uint8(_S.NOT_ARRIVED)
#: months since a programme stop counting here ("never been in one" is this value too)
_NEVER = 30000


@kernel
def advance_clocks(stage, programme, ui_entitled, in_guarantee, ui_days, job_days, work_history,  # noqa: ANN001, ANN201
                   months_in_stage, months_out_of_work, months_since, counts_as_work, days):
    """Advance everyone's clocks by a month, in place, one array at a time.

    On a benefit are open, JOB, waiting, coaching, training, education and Fas 3 (stage codes
    0-5 and 7): two comparisons rather than a table lookup. Work qualifies for the work
    condition; so does a subsidised job, unless it is a programme that does not count as work.
    Counters cannot overflow int16: they start below 30,000 and a horizon is <= 600 months.

    One loop per clock, each branch-free: numba vectorises these small loops (the stage array
    they all read stays in the cache), not one loop over all the clocks (measured at 10^6
    people: 12 ms a month as one loop, ~3 ms as separate loops). The zeros are written in place,
    not as one variable: with a shared zero the JOB-days loop compiled to a branch (~35x slower).
    Whether a programme counts as work is read from a bit mask: a look-up in ``counts_as_work``
    kept the work-history loop from being vectorised (1.9 ms of the 3; 0.5 with the mask).
    Choices are conditional expressions, not calls of a helper, ``min`` or ``max`` (cheaper to
    compile, the same machine code: see :func:`~sim.engine.month.exits.person_hazards`).
    """
    n = stage.size
    for i in range(n):
        s = stage[i]
        benefit = (s <= _EDUCATION) | (s == _FAS3)
        g = in_guarantee[i]
        paid = benefit & ui_entitled[i] & (not g)
        ui_days[i] += days if paid else np.float32(0.0)
    for i in range(n):
        s = stage[i]
        benefit = (s <= _EDUCATION) | (s == _FAS3)
        g = in_guarantee[i]
        paid = benefit & g
        job_days[i] += days if paid else np.float32(0.0)
    last = counts_as_work.size - 1
    counted = np.uint32(0)  # counts_as_work as bits (at most 32 programmes): a shift, not a gather
    for q in range(counts_as_work.size):
        counted |= np.uint32(counts_as_work[q]) << np.uint32(q)
    for i in range(n):
        s = stage[i]
        p = programme[i]
        q = np.int64(p)
        q = 0 if q < 0 else q  # min(max(p, 0), last)
        q = last if last < q else q
        counts = (counted >> np.uint32(q)) & np.uint32(1)
        qualifying = (s == _WORK) | ((s == _SUBSIDISED) & ((p < 0) | (counts != 0)))
        work_history[i] = ((work_history[i] << 1) & 0x0FFF) | qualifying
    for i in range(n):
        months_in_stage[i] += stage[i] != _NOT_ARRIVED
    for i in range(n):
        s = stage[i]
        months_out_of_work[i] += (s <= _EDUCATION) | (s == _FAS3)
    for i in range(n):
        months_since[i] += months_since[i] < _NEVER


def step(state: RunState) -> None:
    """Advance the clocks; people waiting for a place lose motivation."""
    pop, r = state.pop, state.regime
    days = np.float32(state.spec.rules.benefit_days_per_month)
    state.run(advance_clocks, pop.stage, pop.programme, pop.ui_entitled, pop.in_guarantee, pop.ui_days,
              pop.job_days, pop.work_history, pop.months_in_stage, pop.months_out_of_work,
              pop.months_since_programme, state.counts_as_work, days)
    for p in r.programmes:
        if p.motivation_loss > 0:
            w = state.queue(p.index)
            pop.motivation[w] *= np.float32(1.0 - p.motivation_loss)
