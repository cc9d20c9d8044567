"""Compiled passes over everyone, for the few sub-steps that touch the whole population.

The engine is written in vectorised numpy (:mod:`sim.engine.model`); that code is the reference.
Profiling a national run (10^6 people) showed that the month was spent in a handful of
passes over every person: the hazard pass (a dozen gathers and temporaries) and the ledger's
grouping key. Each is a loop over people that numpy must split into many
full-array operations; compiled with numba, each becomes a single pass that reads every
person's few bytes once and allocates nothing per person.

Every kernel here computes *bit for bit* what the numpy path computes: the same float32 and
float64 operations in the same order, and the same counter-based random draws
(:mod:`sim.engine.streams`), so a run gives the same result with or without numba. The test suite runs
both paths and compares them (``tests/test_kernels.py``).

numba is optional at run time: if it cannot be imported, or the environment variable
``ALMSIM_ENGINE=numpy`` is set, :data:`ENABLED` is false and the model uses numpy.
Compiled code is cached on disk (``cache=True``), so only the first run on a machine pays
for compilation (a few seconds).
"""

from __future__ import annotations

import os

import numpy as np

from sim.scenario.stages import Stage

__all__ = ["ENABLED", "hazard_pass", "ledger_keys", "select", "advance_clocks",
           "guarantee_moves", "apply_moves"]

try:  # pragma: no cover - exercised by whichever environment runs the tests
    from numba import njit

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    _HAVE_NUMBA = False

#: Whether the model uses the compiled kernels (numba importable and not switched off).
ENABLED: bool = _HAVE_NUMBA and os.environ.get("ALMSIM_ENGINE", "numba").lower() != "numpy"

_OPEN, _JOB, _WAITING = np.uint8(Stage.OPEN), np.uint8(Stage.JOB), np.uint8(Stage.WAITING)
_COACHING, _SUBSIDISED = np.uint8(Stage.COACHING), np.uint8(Stage.SUBSIDISED)
_EDUCATION, _FAS3, _WORK = np.uint8(Stage.EDUCATION), np.uint8(Stage.FAS3), np.uint8(Stage.WORK)
_STUDIES, _OTHER, _NOT_ARRIVED = np.uint8(Stage.STUDIES), np.uint8(Stage.OTHER), np.uint8(Stage.NOT_ARRIVED)
_I_OPEN, _I_JOB, _I_FAS3 = int(Stage.OPEN), int(Stage.JOB), int(Stage.FAS3)
_N_STAGES = len(Stage)
_DROPOUT = len(Stage)
_NEVER = 30000

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_ONE = np.uint64(1)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / (1 << 53)


def _uniform(base: np.uint64, i: int) -> float:
    """:meth:`sim.engine.streams.Streams.uniform` for one person: SplitMix64 output ``i`` of a stream."""
    z = (np.uint64(i) + _ONE) * _GOLDEN + base
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return np.float64(z >> _S11) * _TO_UNIT


def _pick(cond, a, b):  # noqa: ANN001, ANN202
    """``a if cond else b``, both evaluated (the compiler emits a conditional move)."""
    return a if cond else b


def _person_hazards(i, stage, programme, in_guarantee, job_days, work_mult, studies_mult,  # noqa: ANN001, ANN202
                    months_out_of_work, months_since, last_programme, effect_at_exit, motivation,
                    table, constant_total, work_base, lock_in, is_programme, stage_work, duration, decay,
                    fas3_days):
    """Person ``i``'s hazard row, scaled work, studies and dropout hazards, and total hazard.

    Written without branches on the person's state (every lookup is made, then selected), so
    the compiler can turn the choices into conditional moves: stages are mixed at random
    along the arrays, and mispredicted branches would cost more than the arithmetic. A
    factor that does not apply is exactly 1.0 and a hazard that does not apply exactly 0.0,
    so the result is bit for bit what the numpy path computes.
    """
    s = np.int64(stage[i])
    special = (s == _WAITING) | ((s >= _COACHING) & (s <= _SUBSIDISED))
    origin = _pick(in_guarantee[i], _pick(job_days[i] >= fas3_days, _I_FAS3, _I_JOB), _I_OPEN)
    p = np.int64(programme[i])
    row = _pick(s == _WAITING, origin, _pick(special & (p >= 0), _N_STAGES + p, s))
    bw = work_base[row]
    bw = _pick(np.isnan(bw), stage_work[origin], bw)  # a programme row without its own work base
    w = bw * work_mult[i]
    w *= duration[min(months_out_of_work[i], duration.size - 1)]
    since = months_since[i]
    one32 = np.float32(1.0)
    after = one32 + (effect_at_exit[i] - one32) * decay[max(last_programme[i], 0), min(since, decay.shape[1] - 1)]
    w *= _pick(since < _NEVER, after, one32)
    w *= _pick(is_programme[row], lock_in[row] * motivation[i], 1.0)
    w = _pick(bw > 0, w, 0.0)
    st = table[row, _STUDIES]
    st = _pick(st > 0, st * studies_mult[i], 0.0)
    d = table[row, _DROPOUT]
    d = _pick(d > 0, d / max(motivation[i], np.float32(0.05)), 0.0)
    return row, w, st, d, constant_total[row] + w + st + d


def _hazard_pass(stage, moved, programme, in_guarantee, job_days, work_mult, studies_mult,  # noqa: ANN001, ANN202
                 months_out_of_work, months_since, last_programme, effect_at_exit, motivation,
                 table, constant_total, work_base, lock_in, is_programme, stage_work,
                 duration, decay, fas3_days, transition, destination):
    """The competing-risk draws of :meth:`sim.engine.model.ProgrammeModel._hazards`.

    A first pass over everyone keeps the people whose uniform draw is below their total
    hazard ``H`` (since ``1 - exp(-H) <= H``, nobody else can leave); a second pass over
    those few evaluates ``1 - exp(-H)`` and draws the destinations. Returns the leavers
    (ascending ids), their destination codes and their hazard rows.
    """
    n = stage.size
    cand = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        _, _, _, _, total = _person_hazards(i, stage, programme, in_guarantee, job_days, work_mult, studies_mult,
                                            months_out_of_work, months_since, last_programme, effect_at_exit,
                                            motivation, table, constant_total, work_base, lock_in, is_programme,
                                            stage_work, duration, decay, fas3_days)
        cand[k] = i
        k += (stage[i] < _OTHER) & (not moved[i]) & (_uniform(transition, i) < total)
    ncol = table.shape[1]
    out_id = np.empty(k, np.int64)
    out_dest = np.empty(k, np.int16)
    out_row = np.empty(k, np.int16)
    haz = np.empty(ncol)
    m = 0
    for j in range(k):
        i = cand[j]
        row, w, st, d, total = _person_hazards(i, stage, programme, in_guarantee, job_days, work_mult, studies_mult,
                                               months_out_of_work, months_since, last_programme, effect_at_exit,
                                               motivation, table, constant_total, work_base, lock_in, is_programme,
                                               stage_work, duration, decay, fas3_days)
        if _uniform(transition, i) >= -np.expm1(-total):
            continue
        for c in range(ncol):
            haz[c] = table[row, c]
        haz[_WORK] = w
        haz[_STUDIES] = st
        haz[_DROPOUT] = d
        for c in range(1, ncol):
            haz[c] += haz[c - 1]
        cut = _uniform(destination, i) * haz[ncol - 1]
        col = 0
        for c in range(ncol):
            col += haz[c] <= cut
        out_id[m] = i
        out_dest[m] = min(col, ncol - 1)
        out_row[m] = row
        m += 1
    return out_id[:m], out_dest[:m], out_row[:m]


def _advance_clocks(stage, programme, ui_entitled, in_guarantee, ui_days, job_days, work_history,  # noqa: ANN001, ANN202
                    months_in_stage, months_out_of_work, months_since, counts_as_work, days):
    """The clocks of :meth:`sim.engine.model.ProgrammeModel._clocks` (all but motivation), in one
    branch-free pass: benefit days, the work-condition history and the month counters."""
    zero32 = np.float32(0.0)
    last = counts_as_work.size - 1
    for i in range(stage.size):
        s = stage[i]
        benefit = (s <= _EDUCATION) | (s == _FAS3)
        g = in_guarantee[i]
        ui_days[i] += _pick(benefit & ui_entitled[i] & (not g), days, zero32)
        job_days[i] += _pick(benefit & g, days, zero32)
        p = programme[i]
        qualifying = (s == _WORK) | ((s == _SUBSIDISED) & ((p < 0) | counts_as_work[min(max(p, 0), last)]))
        work_history[i] = ((work_history[i] << 1) & 0x0FFF) | qualifying
        months_in_stage[i] += s != _NOT_ARRIVED
        months_out_of_work[i] += benefit
        months_since[i] += months_since[i] < _NEVER


def _guarantee_moves(stage, moved, in_guarantee, ui_entitled, ui_days, children, registered,  # noqa: ANN001, ANN202
                     months_out_of_work, job_days, ui_days_max, ui_days_max_with_child, entry_months, fas3_days):
    """Who enters the guarantee this month and who passes into Fas 3, in one pass.

    The rules of :meth:`sim.engine.model.ProgrammeModel._guarantee_moves_numpy`: people on a
    benefit outside the guarantee who have used up their UI days or, without UI, have been
    registered for ``entry_months``, enter; people in JOB with ``fas3_days`` JOB days pass
    into Fas 3. Nobody moved earlier in the month is considered.
    """
    n = stage.size
    enter = np.empty(n, np.int64)
    fas3 = np.empty(n, np.int64)
    k = 0
    m = 0
    for i in range(n):
        s = stage[i]
        free = not moved[i]
        before = ((s == _OPEN) | ((s >= _WAITING) & (s <= _EDUCATION))) & (not in_guarantee[i]) & free
        ui = ui_entitled[i]
        limit = _pick(children[i] > 0, ui_days_max_with_child, ui_days_max)
        exhausted = ui & (ui_days[i] >= limit)
        long_reg = registered[i] & (months_out_of_work[i] >= entry_months) & (not ui)
        enter[k] = i
        k += before & (exhausted | long_reg)
        fas3[m] = i
        m += (s == _JOB) & (job_days[i] >= fas3_days) & free
    return enter[:k], fas3[:m]


def _apply_moves(ids, dst, keep_programme, stage, months_in_stage, programme, motivation, moved,  # noqa: ANN001, ANN202
                 in_guarantee, job_days, months_out_of_work, legal, flow):
    """:func:`sim.engine.moves._apply` for distinct ``ids``: the new stages, the entry and exit rules
    every move shares, and the month's flow counts (``flow[src * n_stages + dst]``).

    Returns each person's previous stage and programme tag, and -1; or, if a move is not
    allowed (a bug), the position of the first such move and nothing written.
    """
    n = ids.size
    src = np.empty(n, np.uint8)
    prog = np.empty(n, np.int8)
    for j in range(n):
        src[j] = stage[ids[j]]
        if not legal[src[j], dst[j]]:
            return src, prog, j
    for j in range(n):
        i = ids[j]
        s = src[j]
        d = dst[j]
        p = programme[i]
        prog[j] = p
        stage[i] = d
        months_in_stage[i] = 0
        if not keep_programme:
            if s == _WAITING and p >= 0:
                motivation[i] = 1.0
            programme[i] = -1
        moved[i] = True
        if (d == _WORK) | (d == _STUDIES):
            in_guarantee[i] = False
            job_days[i] = 0.0
        if (d == _JOB) | (d == _FAS3):
            in_guarantee[i] = True
        if d == _WORK:
            months_out_of_work[i] = 0
        flow[np.int64(s) * _N_STAGES + d] += 1
    return src, prog, -1


def _ledger_keys(stage, programme, household, children, ui_entitled, ui_days, in_guarantee, job_days,  # noqa: ANN001, ANN202
                 reference_wage, birth_month, young_after, fas3_days):
    """:func:`sim.accounts.rules.grouping_key` of everyone, with the model's Fas 3 placement rule
    (:meth:`sim.engine.model.ProgrammeModel._in_fas3_placement`), in one pass."""
    n = stage.size
    key = np.empty(n, np.int64)
    wage_bits = reference_wage.view(np.uint32)
    for i in range(n):
        s = stage[i]
        g = in_guarantee[i]
        fas3 = s == _FAS3 or (g and job_days[i] >= fas3_days and s >= _WAITING and s <= _EDUCATION)
        flags = (np.int64(fas3) | (np.int64(ui_days[i] < 200) << 1) | (np.int64(g) << 2)
                 | (np.int64(ui_entitled[i]) << 3) | (np.int64(birth_month[i] > young_after) << 4))
        small = (min(np.int64(children[i]), 15) | (np.int64(household[i]) << 4)
                 | (np.int64(programme[i] + 1) << 6) | (np.int64(s) << 12))
        key[i] = np.int64(wage_bits[i]) | (flags << 32) | (small << 37)
    return key


def _select(stage, moved, wanted):  # noqa: ANN001, ANN202
    """Ids of people whose stage is in ``wanted`` (a bool per stage code) and who have not
    moved this month: ``np.flatnonzero(wanted[stage] & ~moved)`` in one branch-free pass."""
    n = stage.size
    out = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        out[k] = i
        k += wanted[stage[i]] & (not moved[i])
    return out[:k]


if _HAVE_NUMBA:
    _jit = njit(cache=True, nogil=True, error_model="numpy")
    _uniform = _jit(_uniform)
    _pick = njit(inline="always")(_pick)
    _person_hazards = _jit(_person_hazards)
    hazard_pass = _jit(_hazard_pass)
    ledger_keys = _jit(_ledger_keys)
    advance_clocks = _jit(_advance_clocks)
    guarantee_moves = _jit(_guarantee_moves)
    apply_moves = _jit(_apply_moves)
    select = _jit(_select)
else:  # pragma: no cover
    hazard_pass = ledger_keys = select = advance_clocks = guarantee_moves = apply_moves = None
