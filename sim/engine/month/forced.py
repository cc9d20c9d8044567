"""Sub-step 4, forced moves: the rules that move people whatever their hazards.

Pension age -> other; UI exhausted or ``job_entry_months`` registered without UI -> the
guarantee (JOB; people in a municipal programme enrol but stay in it); the guarantee's day
limit -> Fas 3; maximum programme length -> completion; maximum wait -> off the list; a
closed programme -> everyone out.
"""

from __future__ import annotations

import numpy as np

from sim.accounts.jit import kernel, pick
from sim.engine import moves
from sim.engine.state import RunState, flagged
from sim.scenario.stages import Stage

__all__ = ["step", "guarantee_moves"]

_S = Stage
_OPEN, _JOB, _WAITING = np.uint8(_S.OPEN), np.uint8(_S.JOB), np.uint8(_S.WAITING)
_EDUCATION = np.uint8(_S.EDUCATION)


@kernel
def guarantee_moves(stage, moved, in_guarantee, ui_entitled, ui_days, children, registered,  # noqa: ANN001, ANN201
                    months_out_of_work, job_days, ui_days_max, ui_days_max_with_child, entry_months, fas3_days):
    """Who enters the guarantee this month and who passes into Fas 3.

    People on a benefit outside the guarantee (open, waiting .. education) who have used up
    their UI days (more with children) or, without UI, have been registered for
    ``entry_months``, enter; people in JOB with ``fas3_days`` JOB days pass into Fas 3.
    Nobody moved earlier in the month is considered. Returns both lists of ids (ascending).

    Each rule is a loop of its own writing a flag per person, and the ids are found from the
    flags (:func:`~sim.engine.state.flagged`): one loop writing both lists of ids as it went
    (every id written, the list's end advanced only for the chosen) could not be vectorised and
    cost ~2x as much at 10^6 people (measured, 7.4 -> 3.9 ms a month). The loops are written
    here, not as helpers of their own: each helper is typed and compiled apart (~0.3-0.6 CPU-s
    each on a machine's first run).
    """
    n = stage.size
    enter = np.empty(n, np.bool_)
    for i in range(n):
        s = stage[i]
        before = ((s == _OPEN) | ((s >= _WAITING) & (s <= _EDUCATION))) & (not in_guarantee[i]) & (not moved[i])
        ui = ui_entitled[i]
        limit = pick(children[i] > 0, ui_days_max_with_child, ui_days_max)
        exhausted = ui & (ui_days[i] >= limit)
        long_reg = registered[i] & (months_out_of_work[i] >= entry_months) & (not ui)
        enter[i] = before & (exhausted | long_reg)
    fas3 = np.empty(n, np.bool_)
    for i in range(n):
        fas3[i] = (stage[i] == _JOB) & (job_days[i] >= fas3_days) & (not moved[i])
    return flagged(enter), flagged(fas3)


def step(state: RunState) -> None:
    """Apply the forced moves, in the order of the module docstring."""
    pop, r = state.pop, state.regime
    st = pop.stage
    # the months in the array's own dtype: a list of Python ints made numpy convert the whole
    # array (10^6 people: ~1 ms a month) before searching
    lo, hi = np.searchsorted(state.retire_sorted, np.array([state.t, state.t + 1], state.retire_sorted.dtype))
    old = state.retire_order[lo:hi]
    old = old[st[old] < _S.OTHER]
    if old.size:
        in_prog = (pop.programme[old] >= 0) & (st[old] >= _S.COACHING) & (st[old] <= _S.SUBSIDISED)
        for p in r.programmes:  # participants leave their programme, counted as a pension exit
            leaving = old[in_prog & (pop.programme[old] == p.index)]
            moves.leave_programme(state, leaving, p, completed=False, reason="pension", to=int(_S.OTHER))
        moves.move(state, old[~in_prog], _S.OTHER)
    # UI exhausted, or registered long enough: into the guarantee (also people in
    # municipal coaching, training or education: they stay registered); 450 JOB days: Fas 3.
    enter, to_fas3 = state.run(
        guarantee_moves, st, state.moved, pop.in_guarantee, pop.ui_entitled, pop.ui_days, pop.children,
        pop.registered, pop.months_out_of_work, pop.job_days, float(r.ui_days_max), float(r.ui_days_max_with_child),
        int(r.job_entry_months), np.float32(r.job_days_to_fas3))
    pop.ui_entitled[enter] = False
    pop.in_guarantee[enter] = True
    moves.move(state, enter[st[enter] == _S.OPEN], _S.JOB)
    moves.move(state, to_fas3, _S.FAS3)
    waiting = state.waiting()
    waiting = waiting[~state.moved[waiting]]
    for p in r.programmes:
        part = state.participants(p)
        part = part[~state.moved[part]]
        w = waiting[pop.programme[waiting] == p.index]
        if not p.active:
            moves.leave_programme(state, part, p, completed=False, reason="closed")
            moves.leave_queue(state, w)
            continue
        done = part[pop.months_in_stage[part] >= p.max_duration_months]
        moves.leave_programme(state, done, p, completed=True, reason="completed")
        if p.max_wait_months is not None:
            moves.leave_queue(state, w[pop.months_in_stage[w] >= p.max_wait_months])
