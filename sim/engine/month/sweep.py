"""Sub-steps 1b and 2, book and clocks: one pass over everyone.

**Book**: everyone's state is packed into a ledger grouping key
(:func:`sim.accounts.book.person_key`) and booked (:func:`sim.engine.month.book.book`); the
posting rules run once per distinct state at the end of the run.

**Clocks**: UI days and JOB days advance by ``benefit_days_per_month`` for those drawing them
(UI for those paid UI, as the ledger pays it; JOB days for those in the guarantee); the
12-month work-condition history shifts in whether this month qualified; months in stage,
months out of work and months since a programme advance; waiting lowers motivation.

Both read most of the same arrays, and so do the guarantee's rules of sub-step 4 (who has used
up their UI days or been registered long enough, who has reached the day limit), on the
clocks as advanced. So one compiled pass (:func:`month_sweep`) goes through everyone a chunk of
:data:`CHUNK` people at a time: the chunk's keys (the state the month is booked in), then its
clocks, then its guarantee codes (:data:`ENTERS`, :data:`INTO_FAS3`), each loop reading the
chunk's arrays from the cache the previous one brought them to. Sub-step 4 (:mod:`~sim.engine.month.forced`)
reads the codes (``state.guarantee_code``) after the pension moves, leaving out whoever has
moved this month. At 10^6 people, book, clocks and forced moves took ~1 ms a month less this way
than as three passes (~9.1 against ~9.9 ms; ``docs/design.md``, session 19).
"""

from __future__ import annotations

import numpy as np

from sim.accounts.book import ceiling_steps, person_key
from sim.accounts.jit import kernel
from sim.engine.month.book import book, track
from sim.engine.state import RunState
from sim.scenario.stages import Stage

__all__ = ["step", "month_sweep", "run_sweep", "CHUNK", "ENTERS", "INTO_FAS3"]

_S = Stage
_OPEN, _JOB, _WAITING = np.uint8(_S.OPEN), np.uint8(_S.JOB), np.uint8(_S.WAITING)
_EDUCATION, _SUBSIDISED, _FAS3 = np.uint8(_S.EDUCATION), np.uint8(_S.SUBSIDISED), np.uint8(_S.FAS3)
_WORK, _NOT_ARRIVED = np.uint8(_S.WORK), np.uint8(_S.NOT_ARRIVED)
#: months since a programme stop counting here ("never been in one" is this value too)
_NEVER = 30000
#: people the sweep takes at a time (2,048 to 32,768 are about as fast at 10^6 people)
CHUNK = 8192
#: guarantee codes: bit 0, enters the guarantee; bit 1, passes into Fas 3 (never both: their
#: stages differ)
ENTERS, INTO_FAS3 = 1, 2


@kernel
def month_sweep(stage, programme, household, children, ui_entitled, ui_income_related, fas3_municipal,  # noqa: ANN001, ANN201
                ui_days, in_guarantee, job_days, reference_wage, birth_month, work_history, months_in_stage,
                months_out_of_work, months_since, registered, young_after, fas3_placement_days, job_too,
                ui_days_max, ui_days_max_with_child, ceiling_step, counts_as_work, days, entry_months, fas3_days):
    """Everyone's ledger key this month, their clocks advanced in place, and their guarantee codes.

    Returns ``(key, code)``. ``key`` is :func:`~sim.accounts.book.ledger_keys` of the state
    before the clocks advance (its arguments ``young_after``, ``fas3_placement_days``,
    ``job_too``, ``ceiling_step`` and the UI period's days ``ui_days_max`` and
    ``ui_days_max_with_child``, taken as float32 there). ``code`` (uint8) is, on the advanced
    clocks, :data:`ENTERS` for people on a benefit outside the guarantee (open, waiting ..
    education) who have used up their UI days (more with children: compared as float64) or,
    without UI, been registered for ``entry_months``; :data:`INTO_FAS3` for people in JOB with
    ``fas3_days`` JOB days; 0 otherwise. Whether they moved this month is not looked at
    (:func:`~sim.engine.month.forced.coded_ids` does).

    The clocks: on a benefit are open, JOB, waiting, coaching, training, education and Fas 3
    (stage codes 0-5 and 7: two comparisons rather than a table look-up). Work qualifies for
    the work condition; so does a subsidised job, unless it is a programme that does not count
    as work (``counts_as_work``, read as a bit mask: a look-up kept the loop from being
    vectorised). Counters cannot overflow int16: they start below 30,000 and a horizon is <=
    600 months.

    One loop per clock and chunk, each branch-free: numba vectorises these small loops, not one
    loop over all the clocks (12 ms a month as one loop at 10^6 people, ~3 as loops apart when
    each went over everyone). Indices are unsigned: with a signed index inside the loop over
    chunks, numba checks each for a negative value, and the loops were not vectorised (~7x
    slower). The zeros are written in place, not as one variable (with a shared zero the
    JOB-days loop compiled to a branch, ~35x slower); choices are conditional expressions, not
    calls of a helper, ``min`` or ``max`` (see :func:`~sim.engine.month.exits.person_hazards`).
    """
    n = stage.size
    key = np.empty(n, np.int64)
    code = np.empty(n, np.uint8)
    ui_max32, ui_child32 = np.float32(ui_days_max), np.float32(ui_days_max_with_child)
    last = counts_as_work.size - 1
    counted = np.uint32(0)  # counts_as_work as bits (at most 32 programmes): a shift, not a gather
    for q in range(counts_as_work.size):
        counted |= np.uint32(counts_as_work[q]) << np.uint32(q)
    for c in range((n + CHUNK - 1) // CHUNK):
        start = c * CHUNK
        end = start + CHUNK
        end = n if n < end else end
        for i in range(start, end):
            u = np.uint64(i)
            key[u] = person_key(u, stage, programme, household, children, ui_entitled, ui_income_related,
                                fas3_municipal, ui_days, in_guarantee, job_days, reference_wage, birth_month,
                                young_after, fas3_placement_days, job_too, ui_max32, ui_child32, ceiling_step)
        for i in range(start, end):
            u = np.uint64(i)
            s = stage[u]
            benefit = (s <= _EDUCATION) | (s == _FAS3)
            paid = benefit & ui_entitled[u] & (not in_guarantee[u])
            ui_days[u] += days if paid else np.float32(0.0)
        for i in range(start, end):
            u = np.uint64(i)
            s = stage[u]
            benefit = (s <= _EDUCATION) | (s == _FAS3)
            paid = benefit & in_guarantee[u]
            job_days[u] += days if paid else np.float32(0.0)
        for i in range(start, end):
            u = np.uint64(i)
            s = stage[u]
            p = programme[u]
            q = np.int64(p)
            q = 0 if q < 0 else q  # min(max(p, 0), last)
            q = last if last < q else q
            counts = (counted >> np.uint32(q)) & np.uint32(1)
            qualifying = (s == _WORK) | ((s == _SUBSIDISED) & ((p < 0) | (counts != 0)))
            work_history[u] = ((work_history[u] << 1) & 0x0FFF) | qualifying
        for i in range(start, end):
            u = np.uint64(i)
            months_in_stage[u] += stage[u] != _NOT_ARRIVED
        for i in range(start, end):
            u = np.uint64(i)
            s = stage[u]
            months_out_of_work[u] += (s <= _EDUCATION) | (s == _FAS3)
        for i in range(start, end):
            u = np.uint64(i)
            months_since[u] += months_since[u] < _NEVER
        for i in range(start, end):
            u = np.uint64(i)
            s = stage[u]
            before = ((s == _OPEN) | ((s >= _WAITING) & (s <= _EDUCATION))) & (not in_guarantee[u])
            ui = ui_entitled[u]
            limit = ui_days_max_with_child if children[u] > 0 else ui_days_max
            exhausted = ui & (ui_days[u] >= limit)
            long_reg = registered[u] & (months_out_of_work[u] >= entry_months) & (not ui)
            fas3 = (s == _JOB) & (job_days[u] >= fas3_days)
            code[u] = np.uint8(before & (exhausted | long_reg)) | (np.uint8(fas3) << np.uint8(1))
    return key, code


def run_sweep(state: RunState, ceiling_step: bool) -> np.ndarray:
    """Run :func:`month_sweep` over ``state``'s people (a run's or a batch's): returns their keys,
    keeps their guarantee codes as ``state.guarantee_code`` for this month, advances their clocks.
    ``ceiling_step``: :func:`~sim.accounts.book.ceiling_steps` of the money rules booked under."""
    pop, r = state.pop, state.regime
    key, state.guarantee_code = state.run(
        month_sweep, pop.stage, pop.programme, pop.household, pop.children, pop.ui_entitled, pop.ui_income_related,
        pop.fas3_municipal, pop.ui_days, pop.in_guarantee, pop.job_days, pop.reference_wage, pop.birth_month,
        pop.work_history, pop.months_in_stage, pop.months_out_of_work, pop.months_since_programme, pop.registered,
        state.month - 26 * 12, np.float32(r.job_days_to_fas3), np.bool_(not r.fas3_open), float(r.ui_days_max),
        float(r.ui_days_max_with_child), ceiling_step, state.counts_as_work,
        np.float32(state.spec.rules.benefit_days_per_month), int(r.job_entry_months), np.float32(r.fas3_entry_days))
    state.guarantee_month = state.t
    return key


def step(state: RunState) -> None:
    """Book this month's money, advance the clocks; people waiting for a place lose motivation."""
    track(state)  # (the followed people's postings read their clocks before they advance)
    key = run_sweep(state, ceiling_steps([state.regime.money]))
    book(state, key)
    pop = state.pop
    for p in state.regime.programmes:
        if p.motivation_loss > 0:
            w = state.queue(p.index)
            pop.motivation[w] *= np.float32(1.0 - p.motivation_loss)
