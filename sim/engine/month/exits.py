"""Sub-step 5, exits: competing-risk hazard exits of everyone not moved this month.

Each person gets a row of hazards (:class:`sim.engine.in_force.HazardRows`): their stage's
base row; for people waiting, the row of the stage they wait from; for programme
participants, the programme's row. The work, studies and dropout hazards are scaled per
person (:mod:`sim.engine.hazards`); the total decides who leaves, and leavers choose a
destination in proportion to their hazards.
"""

from __future__ import annotations

import numpy as np

from sim.accounts.jit import helper, kernel, pick
from sim.engine import moves
from sim.engine.hazards import after_effect, leave_probability
from sim.engine.in_force import DROPOUT
from sim.engine.state import RunState
from sim.engine.streams import draw
from sim.scenario.stages import Stage

__all__ = ["step", "hazard_pass", "person_hazards"]

_S = Stage
_WAITING, _COACHING, _SUBSIDISED = np.uint8(_S.WAITING), np.uint8(_S.COACHING), np.uint8(_S.SUBSIDISED)
_WORK, _STUDIES, _OTHER = np.uint8(_S.WORK), np.uint8(_S.STUDIES), np.uint8(_S.OTHER)
_I_OPEN, _I_JOB, _I_FAS3 = int(_S.OPEN), int(_S.JOB), int(_S.FAS3)
_N_STAGES = len(Stage)
_DROPOUT = DROPOUT
_U_STUDIES, _U_DROPOUT = np.uint64(_STUDIES), np.uint64(DROPOUT)
_NEVER = 30000  # months since a programme: never been in one
_ONE_BLOCK = np.zeros(1, np.int64)  # an ordinary run is one block whose programme rows start at 0


@helper
def person_hazards(i, stage, programme, in_guarantee, job_days, work_mult, studies_mult,  # noqa: ANN001, ANN201
                   months_out_of_work, months_since, last_programme, effect_at_exit, motivation,
                   table, constant_total, work_base, lock_in, is_programme, stage_work, duration, decay,
                   fas3_days, prow):
    """Person ``i``'s hazard row, scaled work, studies and dropout hazards, and total hazard.

    ``prow`` is where the person's block's programme rows start (0 in a run of one block; see
    :mod:`sim.engine.batch`): programme ``p``'s row is ``len(Stage) + prow + p`` and its decay
    row ``prow + p``. The row returned is the table's row.

    work = base x attributes and latent type x duration x after-effect (x lock-in x
    motivation in a programme); dropout = base / motivation (floored at 0.05). Written
    without branches on the person's state (every lookup is made, then selected), so the
    compiler can turn the choices into conditional moves. A factor that does not apply is
    exactly 1.0 and a hazard that does not apply exactly 0.0.
    """
    s = np.int64(stage[i])
    special = (s == _WAITING) | ((s >= _COACHING) & (s <= _SUBSIDISED))
    origin = pick(in_guarantee[i], pick(job_days[i] >= fas3_days, _I_FAS3, _I_JOB), _I_OPEN)
    p = np.int64(programme[i])
    row = pick(s == _WAITING, origin, pick(special & (p >= 0), _N_STAGES + prow + p, s))
    # Lookups take unsigned indices (all are >= 0): numba then skips the wrap-around of
    # negative indices on each (~10 % of the pass, measured).
    r = np.uint64(row)
    bw = work_base[r]
    bw = pick(np.isnan(bw), stage_work[np.uint64(origin)], bw)  # a programme row without its own work base
    w = bw * work_mult[i]
    w *= duration[np.uint64(min(months_out_of_work[i], duration.size - 1))]
    since = months_since[i]
    after = after_effect(effect_at_exit[i], decay[np.uint64(prow + max(last_programme[i], 0)),
                                                  np.uint64(min(since, decay.shape[1] - 1))])
    w *= pick(since < _NEVER, after, np.float32(1.0))
    w *= pick(is_programme[r], lock_in[r] * motivation[i], 1.0)
    w = pick(bw > 0, w, 0.0)
    st = table[r, _U_STUDIES]
    st = pick(st > 0, st * studies_mult[i], 0.0)
    d = table[r, _U_DROPOUT]
    d = pick(d > 0, d / max(motivation[i], np.float32(0.05)), 0.0)
    return row, w, st, d, constant_total[r] + w + st + d


@kernel
def hazard_pass(stage, moved, programme, in_guarantee, job_days, work_mult, studies_mult,  # noqa: ANN001, ANN201
                months_out_of_work, months_since, last_programme, effect_at_exit, motivation,
                table, constant_total, work_base, lock_in, is_programme, stage_work,
                duration, decay, fas3_days, transition, destination, first, prows):
    """Who leaves their stage this month, to where, and from which hazard row.

    People come in blocks (``first[b] .. first[b+1] - 1``; one block in an ordinary run):
    block ``b``'s programme rows start at ``prows[b]`` and its draws use the stream offsets
    ``transition[b]`` and ``destination[b]`` (for a batch, shifted so that a person's draw
    is that of their id inside the block: :mod:`sim.engine.batch`).

    A first pass over everyone flags the people whose uniform draw is below their total
    hazard ``H`` (since ``1 - exp(-H) <= H``, nobody else can leave; a flag per person, not a
    list written as it goes, which cannot be vectorised; people not arrived or gone, stage
    ``OTHER`` and after, are skipped by a branch: in runs of a block's people early on, and
    faster even where scattered, ~22 % of 300,000 at month 60: 5.5-5.8 ms against 6.6-7.3); a
    second pass over those few evaluates ``1 - exp(-H)`` and draws the destinations, ``d`` with probability
    ``h_d / H``. Returns the leavers (ascending ids), their destination codes and their
    hazard rows (programme rows counted from ``len(Stage)`` in every block).
    """
    lo = first[0]  # the blocks are contiguous: people lo .. first[-1] - 1
    flag = np.empty(first[-1] - lo, np.bool_)
    for b in range(first.size - 1):
        tb = transition[b]
        pr = prows[b]
        for i in range(first[b], first[b + 1]):
            if stage[i] >= _OTHER:  # (not arrived, or gone: whole runs of a block early and late)
                flag[i - lo] = False
                continue
            _, _, _, _, total = person_hazards(i, stage, programme, in_guarantee, job_days, work_mult, studies_mult,
                                               months_out_of_work, months_since, last_programme, effect_at_exit,
                                               motivation, table, constant_total, work_base, lock_in, is_programme,
                                               stage_work, duration, decay, fas3_days, pr)
            flag[i - lo] = (not moved[i]) & (draw(tb, i) < total)
    k = 0
    for j in range(flag.size):
        k += flag[j]
    ncol = table.shape[1]
    out_id = np.empty(k, np.int64)
    out_dest = np.empty(k, np.int16)
    out_row = np.empty(k, np.int16)
    haz = np.empty(ncol)
    m = 0
    b = 0
    for j in range(flag.size):  # the flagged, ascending; their blocks found as the loop passes them
        if not flag[j]:
            continue
        i = lo + j
        while i >= first[b + 1]:
            b += 1
        pr = prows[b]
        row, w, st, d, total = person_hazards(i, stage, programme, in_guarantee, job_days, work_mult, studies_mult,
                                              months_out_of_work, months_since, last_programme, effect_at_exit,
                                              motivation, table, constant_total, work_base, lock_in, is_programme,
                                              stage_work, duration, decay, fas3_days, pr)
        if draw(transition[b], i) >= leave_probability(total):
            continue
        for c in range(ncol):
            haz[c] = table[row, c]
        haz[_WORK] = w
        haz[_STUDIES] = st
        haz[_DROPOUT] = d
        for c in range(1, ncol):
            haz[c] += haz[c - 1]
        cut = draw(destination[b], i) * haz[ncol - 1]
        col = 0
        for c in range(ncol):
            col += haz[c] <= cut
        out_id[m] = i
        out_dest[m] = min(col, ncol - 1)
        out_row[m] = row - pick(row >= _N_STAGES, pr, 0)
        m += 1
    return out_id[:m], out_dest[:m], out_row[:m]


def step(state: RunState) -> None:
    """Draw the month's hazard exits and move the leavers."""
    pop, hr = state.pop, state.regime.hazard_rows
    leavers, dest, lrow = state.run(
        hazard_pass, pop.stage, state.moved, pop.programme, pop.in_guarantee, pop.job_days, state.work_mult,
        state.studies_mult, pop.months_out_of_work, pop.months_since_programme, pop.last_programme,
        pop.effect_at_exit, pop.motivation, hr.table, hr.constant_total, hr.work_base, hr.lock_in,
        hr.is_programme, state.stage_work, state.duration, state.decay, np.float32(state.regime.job_days_to_fas3),
        np.array([state.streams.base("transition", state.t)]), np.array([state.streams.base("destination", state.t)]),
        state.first, _ONE_BLOCK)
    if leavers.size == 0:
        return
    in_prog = lrow >= len(Stage)
    plain = np.flatnonzero(~in_prog)
    if (dest[plain] == DROPOUT).any():
        raise AssertionError("dropout outside a programme")
    moves.move(state, leavers[plain], dest[plain])
    if in_prog.any():
        present = np.bincount(lrow[in_prog] - len(Stage), minlength=len(state.regime.programmes))
        for i in np.flatnonzero(present):
            sel = lrow == len(Stage) + i
            moves.leave_programme(state, leavers[sel], state.regime.programmes[i],
                                  completed=False, reason="exit", to=dest[sel])
