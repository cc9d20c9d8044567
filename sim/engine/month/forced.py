"""Sub-step 4, forced moves: the rules that move people whatever their hazards.

Pension age -> other; UI exhausted or ``job_entry_months`` registered without UI -> the
guarantee (JOB; people in a municipal programme enrol but stay in it); the guarantee's day
limit -> Fas 3; maximum programme length -> completion; maximum wait -> off the list; a
closed programme -> everyone out.
"""

from __future__ import annotations

import numpy as np

from sim.accounts.jit import kernel
from sim.engine import moves
from sim.engine.state import RunState
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

    One branch-free pass writes a code per person (bit 0: enters, bit 1: into Fas 3; never
    both, their stages differ), then the lists are counted and filled from the codes (few are
    chosen: the fill's branch is predictable). One loop writing both lists of ids as it went
    could not be vectorised and cost ~2x as much at 10^6 people (measured, 7.4 -> 3.9 ms a
    month); a loop and a list of flags per rule cost ~1.9 ms, one pass and one code ~1.4. The
    fill reads the codes eight at a time (as one uint64) and skips the words that are all 0
    (1.68 -> 1.38 ms; most of the rest is reading the nine arrays, 16 bytes a person).
    The loops are written here, not as helpers of their own: each helper is typed and compiled
    apart (~0.3-0.6 CPU-s each on a machine's first run); for the same reason the choices are
    conditional expressions, not calls of a helper or ``min``.
    """
    n = stage.size
    code = np.empty(n, np.uint8)
    for i in range(n):
        s = stage[i]
        free = not moved[i]
        before = ((s == _OPEN) | ((s >= _WAITING) & (s <= _EDUCATION))) & (not in_guarantee[i]) & free
        ui = ui_entitled[i]
        limit = ui_days_max_with_child if children[i] > 0 else ui_days_max
        exhausted = ui & (ui_days[i] >= limit)
        long_reg = registered[i] & (months_out_of_work[i] >= entry_months) & (not ui)
        fas3 = (s == _JOB) & (job_days[i] >= fas3_days) & free
        code[i] = np.uint8(before & (exhausted | long_reg)) | (np.uint8(fas3) << np.uint8(1))
    n_enter = 0
    n_fas3 = 0
    for i in range(n):
        c = np.int64(code[i])  # (uncompiled, a uint8 sum would wrap at 256)
        n_enter += c & 1
        n_fas3 += c >> 1
    enter = np.empty(n_enter, np.int64)
    to_fas3 = np.empty(n_fas3, np.int64)
    a = 0
    b = 0
    words = code[:n - n % 8].view(np.uint64)  # eight codes at a time: most are 0
    for w in range(words.size + (n % 8 > 0)):
        if w < words.size and words[w] == 0:
            continue
        end = 8 * w + 8
        for i in range(8 * w, n if n < end else end):  # (min(end, n))
            c = code[i]
            if c:  # (one test per person: c == 1, then c == 2, cost ~0.15 ms more)
                if c == 1:
                    enter[a] = i
                    a += 1
                else:
                    to_fas3[b] = i
                    b += 1
    return enter, to_fas3


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
        int(r.job_entry_months), np.float32(r.fas3_entry_days))
    pop.ui_entitled[enter] = False
    pop.in_guarantee[enter] = True
    moves.move(state, enter[st[enter] == _S.OPEN], _S.JOB)
    moves.move(state, to_fas3, _S.FAS3)
    moves.end_fas3(state)
    # (the few who reach a limit are found first, then those moved this month left out: the
    # same people, without a copy of every participant's and queuer's id)
    for p in r.programmes:
        part = state.participants(p)
        w = state.queue(p.index)
        if not p.active:
            moves.leave_programme(state, _unmoved(state, part), p, completed=False, reason="closed")
            moves.leave_queue(state, _unmoved(state, w))
            continue
        done = part[pop.months_in_stage[part] >= p.max_duration_months]
        moves.leave_programme(state, _unmoved(state, done), p, completed=True, reason="completed")
        if p.max_wait_months is not None:
            moves.leave_queue(state, _unmoved(state, w[pop.months_in_stage[w] >= p.max_wait_months]))


def _unmoved(state: RunState, ids: np.ndarray) -> np.ndarray:
    """Those of ``ids`` not moved this month."""
    return ids[~state.moved[ids]]
