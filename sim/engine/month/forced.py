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

__all__ = ["step", "coded_ids", "guarantee_ids"]

_S = Stage
_NO_CODES = np.zeros(0, np.uint8)


@kernel
def coded_ids(code, moved):  # noqa: ANN001, ANN201
    """Who enters the guarantee this month and who passes into Fas 3: the ids (ascending) whose
    guarantee code (:func:`~sim.engine.month.sweep.month_sweep`) is ``ENTERS``, then
    ``INTO_FAS3``, among the people who have not moved this month.

    Few codes are not 0, so a first pass lists the blocks of 64 codes that hold one (the eight
    uint64 words of each block OR-ed together, branch-free: vectorised), and only those blocks
    are read, a word of eight codes at a time, skipping the words that are 0, into lists with
    room for all their codes (10^6 people, ~3,400 codes: ~0.1 ms, against ~0.35 skipping zero
    words one at a time over everyone and ~1.3 with ``np.flatnonzero``; counting the lists
    before filling them cost as much to run and ~0.25 CPU-s more to compile).
    """
    n = code.size
    whole = n // 64
    words = code[:whole * 64].view(np.uint64)
    blocks = np.empty(whole + 1, np.int64)
    k = 0
    for b in range(whole):
        w = 8 * b
        x = (words[w] | words[w + 1] | words[w + 2] | words[w + 3] | words[w + 4] | words[w + 5]
             | words[w + 6] | words[w + 7])
        blocks[k] = b
        k += x != 0
    if n > whole * 64:  # (the codes after the last whole block)
        blocks[k] = whole
        k += 1
    enter = np.empty(64 * k, np.int64)  # (room for every code of the blocks listed)
    to_fas3 = np.empty(64 * k, np.int64)
    a = 0
    f = 0
    for j in range(k):
        for lo in range(64 * blocks[j], 64 * blocks[j] + 64, 8):  # the block's words that are not 0
            if lo < whole * 64 and words[lo // 8] == 0:
                continue
            hi = lo + 8
            for i in range(lo, n if n < hi else hi):  # (min(hi, n))
                c = code[i]
                if c and not moved[i]:
                    if c == 1:
                        enter[a] = i
                        a += 1
                    else:
                        to_fas3[f] = i
                        f += 1
    return enter[:a].copy(), to_fas3[:f].copy()


def guarantee_ids(state: RunState) -> tuple[np.ndarray, np.ndarray]:
    """Who enters the guarantee and who passes into Fas 3 this month (:func:`coded_ids` of the
    codes the month's sweep kept), among those not moved so far."""
    if state.guarantee_month != state.t:
        raise RuntimeError(f"month {state.t}: the forced moves need this month's sweep (sim.engine.month.sweep) first")
    code, state.guarantee_code = state.guarantee_code, _NO_CODES  # (read once: not kept for the month)
    return state.run(coded_ids, code, state.moved)


def step(state: RunState) -> None:
    """Apply the forced moves, in the order of the module docstring."""
    pop, r = state.pop, state.regime
    st = pop.stage
    # the months in the array's own dtype: a list of Python ints made numpy convert the whole
    # array (10^6 people: ~1 ms a month) before searching
    lo, hi = np.searchsorted(state.retire_sorted, np.array([state.t, state.t + 1], state.retire_sorted.dtype))
    old = state.retire_order[lo:hi].astype(np.int64)  # (the moves' kernels take int64 ids)
    old = old[st[old] < _S.OTHER]
    if old.size:
        in_prog = (pop.programme[old] >= 0) & (st[old] >= _S.COACHING) & (st[old] <= _S.SUBSIDISED)
        for p in r.programmes:  # participants leave their programme, counted as a pension exit
            leaving = old[in_prog & (pop.programme[old] == p.index)]
            moves.leave_programme(state, leaving, p, completed=False, reason="pension", to=int(_S.OTHER))
        moves.move(state, old[~in_prog], _S.OTHER)
    # UI exhausted, or registered long enough: into the guarantee (also people in
    # municipal coaching, training or education: they stay registered); 450 JOB days: Fas 3.
    enter, to_fas3 = guarantee_ids(state)
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
