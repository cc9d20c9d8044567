"""Sub-step 5, exits: competing-risk hazard exits of everyone not moved this month.

Each person gets a row of hazards (:class:`sim.engine.in_force.HazardRows`): their stage's
base row; for people waiting, the row of the stage they wait from; for programme
participants, the programme's row. The work, studies and dropout hazards are scaled per
person (:mod:`sim.engine.hazards`); the total decides who leaves, and leavers choose a
destination in proportion to their hazards.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.accounts.jit import helper, kernel
from sim.engine import moves
from sim.engine.hazards import after_effect, leave_probability
from sim.engine.in_force import DROPOUT
from sim.engine.state import RunState
from sim.engine.streams import draw
from sim.scenario.stages import Stage

__all__ = ["step", "hazard_pass", "person_hazards", "stage_bounds", "hazard_bound", "kept_bounds"]

_S = Stage
_WAITING, _COACHING, _SUBSIDISED = np.uint8(_S.WAITING), np.uint8(_S.COACHING), np.uint8(_S.SUBSIDISED)
_WORK, _STUDIES, _OTHER = np.uint8(_S.WORK), np.uint8(_S.STUDIES), np.uint8(_S.OTHER)
_I_OPEN, _I_JOB, _I_FAS3 = int(_S.OPEN), int(_S.JOB), int(_S.FAS3)
_N_STAGES = len(Stage)
_DROPOUT = DROPOUT
_U_STUDIES, _U_DROPOUT = np.uint64(_STUDIES), np.uint64(DROPOUT)
_NEVER = 30000  # months since a programme: never been in one
_ONE_BLOCK = np.zeros(1, np.int64)  # an ordinary run is one block whose stage and programme rows start at 0
_PROG0 = np.int64(_N_STAGES)  # an ordinary run's table: its stage rows, then its programme rows
_CHUNK = 4096  # people the hazard pass bounds before working out the hazards of those flagged
_SLACK = 1.0 + 1e-6  # a hazard bound's margin for rounding (float32 factors: ~1e-7 each)
#: below ``H - H**2 / 2`` (at most ``1 - exp(-H)``) by this margin, a draw leaves whatever the
#: rounding of ``expm1``: the exact probability is worked out only for draws near it
_SURE = 1.0 - 1e-12


@helper
def person_hazards(i, stage, programme, in_guarantee, job_days, work_mult, studies_mult,  # noqa: ANN001, ANN201
                   months_out_of_work, months_since, last_programme, effect_at_exit, motivation,
                   table, constant_total, work_base, lock_in, is_programme, stage_work, duration, decay,
                   fas3_days, srow, prog0, prow):
    """Person ``i``'s hazard row, scaled work, studies and dropout hazards, and total hazard.

    The table holds stage rows, then programme rows from ``prog0`` (``len(Stage)`` in a run of
    one block). ``srow`` is where the person's block's stage rows start (0 in a run of one
    block; a batch's blocks with other transition rates have their own: see
    :mod:`sim.engine.batch`): stage ``s``'s row is ``srow + s``, and its work rate
    ``stage_work[srow + s]``. ``prow`` is where the block's programme rows start among the
    programme rows (0 in a run of one block): programme ``p``'s row is ``prog0 + prow + p`` and
    its decay row ``prow + p``. The row returned is the table's row.

    work = base x attributes and latent type x duration x after-effect (x lock-in x
    motivation in a programme); dropout = base / motivation (floored at 0.05). Written
    without branches on the person's state (every lookup is made, then selected), so the
    compiler can turn the choices into conditional moves. A factor that does not apply is
    exactly 1.0 and a hazard that does not apply exactly 0.0.

    The choices are conditional expressions of values already read (``a if c else b``, and
    ``b if b > a else a`` for ``max(a, b)``), not calls of a helper,
    ``min`` or ``max``: numba compiles each such call apart for every signature and types an
    inlined one again at each call site (~0.35 of the hazard pass's ~1.65 CPU-s to compile on
    a machine's first run). Each choice is a statement of its own, as a call's is: the
    origin's two choices nested in one expression compiled to branches (the hazard pass 4.9 ->
    11.7 ms a month at 10^6 people).
    """
    s = np.int64(stage[i])
    special = (s == _WAITING) | ((s >= _COACHING) & (s <= _SUBSIDISED))
    job_origin = _I_FAS3 if job_days[i] >= fas3_days else _I_JOB
    origin = srow + (job_origin if in_guarantee[i] else _I_OPEN)  # (row of the stage waited from)
    p = np.int64(programme[i])
    own = prog0 + prow + p  # (row of the person's programme)
    programme_row = own if special & (p >= 0) else srow + s
    row = origin if s == _WAITING else programme_row
    # in JOB past the day limit (only once Fas 3 is closed, with its rates kept): Fas 3's row
    row = srow + _I_FAS3 if (s == _I_JOB) & (job_days[i] >= fas3_days) else row
    # Lookups take unsigned indices (all are >= 0): numba then skips the wrap-around of
    # negative indices on each (~10 % of the pass, measured).
    r = np.uint64(row)
    bw = work_base[r]
    origin_work = stage_work[np.uint64(origin)]
    bw = origin_work if np.isnan(bw) else bw  # a programme row without its own work base
    w = bw * work_mult[i]
    out_of_work, longest = np.int64(months_out_of_work[i]), duration.size - 1
    out_of_work = longest if longest < out_of_work else out_of_work  # min(out_of_work, longest)
    w *= duration[np.uint64(out_of_work)]
    since, oldest = months_since[i], decay.shape[1] - 1
    since_capped = oldest if oldest < since else since
    last = np.int64(last_programme[i])
    last = 0 if last < 0 else last  # max(last, 0)
    after = after_effect(effect_at_exit[i], decay[np.uint64(prow + last), np.uint64(since_capped)])
    w *= after if since < _NEVER else np.float32(1.0)
    locked = lock_in[r] * motivation[i]
    w *= locked if is_programme[r] else 1.0
    w = w if bw > 0 else 0.0
    st = table[r, _U_STUDIES]
    studies = st * studies_mult[i]
    st = studies if st > 0 else 0.0
    d = table[r, _U_DROPOUT]
    mot, floor = motivation[i], np.float32(0.05)
    dropout = d / (floor if floor > mot else mot)
    d = dropout if d > 0 else 0.0
    return row, w, st, d, constant_total[r] + w + st + d


def stage_bounds(table: np.ndarray, constant_total: np.ndarray, work_base: np.ndarray, lock_in: np.ndarray,
                 is_programme: np.ndarray, stage_work: np.ndarray, duration: np.ndarray, srows: np.ndarray,
                 prog0: int, prows: np.ndarray, n_prog: int) -> np.ndarray:
    """Upper bounds of the parts of a person's total hazard (:func:`person_hazards`), per block
    (whose stage rows start at ``srows[b]``, its programme rows at ``prog0 + prows[b]``) and
    stage: ``out[b, 0..3, stage]``.

    A person of stage ``s`` may be on any of the rows it can be on (a waiting person on the
    open, JOB or Fas 3 row; a person in JOB on the JOB or Fas 3 row; a programme stage on its own
    row or any of the block's programme rows; every other stage on its own). For those rows:
    ``out[b, 0]`` the largest constant part, ``out[b, 1]`` the largest work base (x lock-in on a
    programme row, x the largest duration factor; a row without its own work base has that of
    the stage waited from, at most the largest of the block's), ``out[b, 2]`` the largest studies
    base and ``out[b, 3]`` the largest dropout base (negative parts count as 0, as in
    :func:`person_hazards`). A person's total is
    then at most ``out[0] + out[1] x work_mult x max(effect_at_exit, 1) x max(motivation, 1) +
    out[2] x studies_mult + out[3] / max(motivation, 0.05)`` (:func:`hazard_bound`). A NaN (a
    rate nobody set) makes the bound infinite: the person's total is then worked out. People
    not arrived or gone have bounds 0. Plain numpy, once a month: nothing to compile.
    """
    origins = np.array([_I_OPEN, _I_JOB, _I_FAS3])
    stage_rows = srows[:, None] + np.arange(_N_STAGES)  # block x stage
    programme_rows = prog0 + prows[:, None] + np.arange(n_prog)  # block x programme
    origin_work = _upper(stage_work[srows[:, None] + origins]).max(axis=1)  # per block
    fill = np.full(table.shape[0], np.inf)  # (rows no block reads: any bound)
    fill[stage_rows] = origin_work[:, None]
    fill[programme_rows] = origin_work[:, None]
    bw = np.where(np.isnan(work_base), fill, work_base)
    parts = np.stack([constant_total, bw * np.where(is_programme, lock_in, 1.0) * np.float64(duration.max()),
                      table[:, _STUDIES], table[:, _DROPOUT]], axis=1)  # row x part
    parts = _upper(np.where(parts < 0, 0.0, parts))
    out = parts[stage_rows].transpose(0, 2, 1).copy()  # block x part x stage
    out[:, :, _OTHER:] = 0.0
    out[:, :, _WAITING] = parts[srows[:, None] + origins].max(axis=1)
    # (JOB past the day limit: Fas 3's row)
    out[:, :, _I_JOB] = parts[srows[:, None] + np.array([_I_JOB, _I_FAS3])].max(axis=1)
    if n_prog:
        own = parts[programme_rows].max(axis=1)  # block x part: the largest of its programme rows
        programme_stages = slice(int(_COACHING), int(_SUBSIDISED) + 1)
        out[:, :, programme_stages] = np.maximum(out[:, :, programme_stages], own[:, :, None])
    return out


def kept_bounds(state: object, made_from: tuple, make: Callable[[], object]) -> object:
    """:func:`stage_bounds` worked out by ``make`` once per set of hazard rows: kept on the state
    with the objects ``made_from`` (the rows and what else they read), made again when any of
    them is another object (a reform puts new rows in force; rows are never changed in place)."""
    kept = getattr(state, "_hazard_bounds", None)
    if kept is None or any(a is not b for a, b in zip(kept[0], made_from, strict=True)):
        kept = state._hazard_bounds = (made_from, make())  # type: ignore[attr-defined]
    return kept[1]


def _upper(x: np.ndarray) -> np.ndarray:
    """``x`` with NaN as infinity (an upper bound of whatever a NaN rate leads to)."""
    return np.where(np.isnan(x), np.inf, x)


@helper
def hazard_bound(i, stage, work_mult, studies_mult, effect_at_exit, motivation, bound):  # noqa: ANN001, ANN201
    """An upper bound of person ``i``'s total hazard (:func:`person_hazards`) from their stage's
    bounds (:func:`stage_bounds`) and their own multipliers; 0 for people not arrived or gone.
    Slightly above the exact bound: its products are taken in another order than the hazard's,
    with float32 factors."""
    u = np.uint64(i)
    s = np.uint64(stage[u])
    mot, effect = motivation[u], effect_at_exit[u]
    one, floor = np.float32(1.0), np.float32(0.05)  # (max(a, b) written as in person_hazards)
    most = (bound[0, s] + bound[1, s] * work_mult[u] * (one if one > effect else effect)
            * (one if one > mot else mot) + bound[2, s] * studies_mult[u]
            + bound[3, s] / (floor if floor > mot else mot))
    return most * _SLACK


@kernel
def hazard_pass(stage, moved, programme, in_guarantee, job_days, work_mult, studies_mult,  # noqa: ANN001, ANN201
                months_out_of_work, months_since, last_programme, effect_at_exit, motivation,
                table, constant_total, work_base, lock_in, is_programme, stage_work,
                duration, decay, fas3_days, transition, destination, prows, srows, prog0, bounds, live, live_first):
    """Who leaves their stage this month, to where, and from which hazard row.

    People come in blocks (ids ``first[b] .. first[b+1] - 1`` of the run's state; one block in an
    ordinary run), and the pass goes through the ids ``live`` (ascending; block ``b``'s are
    ``live[live_first[b]:live_first[b+1]]``): everyone who may not be in 'other', which nobody
    leaves (:meth:`WaitingLists.live <sim.engine.state.WaitingLists.live>`; at 10^6 people over
    ten years ~22 % of everyone are in 'other' on average, and the pass took ~0.3 ms a month
    less, 4.95-5.10 -> 4.65-4.75). Block ``b``'s stage rows start at ``srows[b]`` and its programme rows at ``prog0 +
    prows[b]`` (:func:`person_hazards`), its people past ``fas3_days[b]`` guarantee days are on
    Fas 3's row (:attr:`~sim.engine.in_force.Regime.fas3_rate_days`), its hazards are bounded by ``bounds[b]``
    (:func:`stage_bounds`) and its draws use the stream offsets ``transition[b]`` and
    ``destination[b]`` (for a batch, shifted so that a
    person's draw is that of their id inside the block: :mod:`sim.engine.batch`).

    Nobody whose uniform draw is above their total hazard ``H`` can leave (``1 - exp(-H) <=
    H``), and most draws are far above anyone's. So a first pass, without a branch, flags the
    people whose draw is below a cheap upper bound of their ``H`` (:func:`stage_bounds`: the
    largest rates of the rows their stage can be on, times their own multipliers; 0 for people
    not arrived or gone), listing them as it goes (every id is written, the list's end advances
    for the flagged); a second pass over those few (~5 % of the living) works out ``H``, keeps
    those whose draw is below ``1 - exp(-H)`` and draws their destinations, ``d`` with
    probability ``h_d / H``. Working out ``H`` for everyone, with a branch to skip the gone, cost
    1.2-1.5x as much at 10^6 people. Both passes go a chunk of :data:`_CHUNK` people at a time:
    the second then finds the chunk's arrays in the cache the first brought them to, instead of
    reading from memory again the arrays of everyone, most of whose cache lines hold someone
    flagged (10^6 people: ~10 -> ~8.3 ms a month, measured under load; chunks of 1,024 to 65,536
    all gain about as much). The first pass is not vectorised (its look-ups of the stage's bounds
    are gathers, which the compiler does not vectorise here; a branch-free sum over the stages
    instead was vectorised but slower), so a flag per person, then a count and a scan of the
    flags, only added passes (6.7 -> 5.6 ms); its indices are unsigned, so numba does not wrap
    negative ones. Returns the leavers (ascending ids), their destination codes and their hazard
    rows, as in a run of one block (a stage's code, or ``len(Stage) + p`` for programme ``p``).
    """
    n = live.size
    ncol = table.shape[1]
    flagged = np.empty(n if n < _CHUNK else _CHUNK, np.int64)  # a chunk's flagged, ascending (min: see
    # person_hazards)
    out_id = np.empty(n, np.int64)  # (room for everyone: only the pages written are ever used)
    out_dest = np.empty(n, np.int16)
    out_row = np.empty(n, np.int16)
    haz = np.empty(ncol)
    m = 0
    for b in range(live_first.size - 1):
        tb = transition[b]
        bound = bounds[b]
        pr = prows[b]
        sr = srows[b]
        fd = fas3_days[b]
        for start in range(live_first[b], live_first[b + 1], _CHUNK):
            k = 0
            end = start + _CHUNK
            end = live_first[b + 1] if live_first[b + 1] < end else end
            for j in range(start, end):  # (no branch: every id written, the end advanced if flagged; a
                # NaN bound flags the person: their hazard is then worked out)
                i = live[np.uint64(j)]
                most = hazard_bound(i, stage, work_mult, studies_mult, effect_at_exit, motivation, bound)
                u = np.uint64(i)
                flagged[k] = i
                k += (stage[u] < _OTHER) & (not moved[u]) & (not draw(tb, i) >= most)
            for j in range(k):
                i = flagged[j]
                row, w, st, d, total = person_hazards(i, stage, programme, in_guarantee, job_days, work_mult,
                                                      studies_mult, months_out_of_work, months_since, last_programme,
                                                      effect_at_exit, motivation, table, constant_total, work_base,
                                                      lock_in, is_programme, stage_work, duration, decay, fd, sr,
                                                      prog0, pr)
                u = draw(tb, i)
                if not u < total:  # (flagged by the bound, not by H itself)
                    continue
                if not u < total * (1.0 - 0.5 * total) * _SURE and u >= leave_probability(total):
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
                out_dest[m] = ncol - 1 if ncol - 1 < col else col
                out_row[m] = row - sr if row < prog0 else row - prog0 - pr + _N_STAGES
                m += 1
    return out_id[:m].copy(), out_dest[:m].copy(), out_row[:m].copy()


def step(state: RunState) -> None:
    """Draw the month's hazard exits and move the leavers."""
    pop, hr = state.pop, state.regime.hazard_rows
    bounds = kept_bounds(state, (hr, state.stage_work, state.duration), lambda: stage_bounds(
        hr.table, hr.constant_total, hr.work_base, hr.lock_in, hr.is_programme, state.stage_work, state.duration,
        _ONE_BLOCK, _PROG0, _ONE_BLOCK, len(state.regime.programmes)))
    leavers, dest, lrow = state.run(
        hazard_pass, pop.stage, state.moved, pop.programme, pop.in_guarantee, pop.job_days, state.work_mult,
        state.studies_mult, pop.months_out_of_work, pop.months_since_programme, pop.last_programme,
        pop.effect_at_exit, pop.motivation, hr.table, hr.constant_total, hr.work_base, hr.lock_in,
        hr.is_programme, state.stage_work, state.duration, state.decay,
        np.array([state.regime.fas3_rate_days], np.float32),
        np.array([state.streams.base("transition", state.t)]), np.array([state.streams.base("destination", state.t)]),
        _ONE_BLOCK, _ONE_BLOCK, _PROG0, bounds, *state.live())
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
