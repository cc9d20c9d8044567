"""Moving people between stages: the only code that writes ``Population.stage``.

Each function selects nothing itself: it takes the ids a sub-step chose, applies the entry
and exit rules of the stages involved (clocks, guarantee enrolment, UI re-qualification,
post-programme effects), and tells the recorder who moved where, so the engine counts every
flow. Every move goes through one compiled pass, :func:`apply_moves`. Stage-level
bookkeeping lives here so the sub-steps (:mod:`sim.engine.month`) read as the rules they are.

Functions take the run's :class:`~sim.engine.state.RunState`; this module may import
:mod:`sim.scenario`, :mod:`sim.accounts` and the engine's state and the modules below it,
never :mod:`sim.engine.model` or :mod:`sim.engine.month`.
"""

from __future__ import annotations

import numpy as np

from sim.accounts.jit import kernel
from sim.engine.in_force import DROPOUT, ProgrammeRegime
from sim.engine.population import HOUSEHOLD_CODES, NO_PROGRAMME, NOT_MEMBER
from sim.engine.state import RunState
from sim.scenario.stages import LEGAL, Stage

__all__ = ["move", "move_apart", "arrive", "refer", "admit", "leave_programme", "leave_queue", "resolve_unemployed",
           "priority_mask", "apply_moves", "unemployed_stages"]

_S = Stage
_WAITING, _WORK, _STUDIES = np.uint8(_S.WAITING), np.uint8(_S.WORK), np.uint8(_S.STUDIES)
_JOB, _FAS3, _SUBSIDISED = np.uint8(_S.JOB), np.uint8(_S.FAS3), np.uint8(_S.SUBSIDISED)
#: stage codes as numpy scalars for the Python-level code: comparing an array with a ``Stage``
#: (an IntEnum) costs numpy ~2 us more a call than with its own scalar
_OPEN, _OTHER = np.uint8(_S.OPEN), np.uint8(_S.OTHER)
_N_STAGES = len(Stage)
_DROPOUT = np.uint8(DROPOUT)
_EMPLOYED = np.zeros(len(Stage), bool)
_EMPLOYED[[_S.WORK, _S.SUBSIDISED]] = True


@kernel
def apply_moves(ids, dst, keep_programme, stage, months_in_stage, programme, motivation, moved,  # noqa: ANN001, ANN201
                in_guarantee, job_days, months_out_of_work, legal, flow, total):
    """Set the new stages of distinct ``ids``, apply the entry and exit rules every move
    shares, and count the month's flows (``flow[src * n_stages + dst]``) and, unless it is
    empty (a batch), the people in each stage (``total``: kept, so that the month's stocks are
    not counted by a pass over everyone).

    A move ends any waiting or participation (the programme tag is cleared, and leaving a
    queue restores motivation) unless it is a referral or an admission (``keep_programme``).
    Leaving for work or studies ends the guarantee; entering JOB or Fas 3 starts it; work
    resets the months out of work.

    Returns each person's previous stage and programme tag, -1 and the programmes whose tagged
    people moved (bit ``p`` for programme ``p``); or, if a move is not allowed (a bug), the
    position of the first such move, with nothing written.
    """
    n = ids.size
    src = np.empty(n, np.uint8)
    prog = np.empty(n, np.int8)
    for j in range(n):  # check every move before writing any
        src[j] = stage[ids[j]]
        if not legal[src[j], dst[j]]:
            return src, prog, j, 0
    touched = 0
    for j in range(n):
        i = ids[j]
        s = src[j]
        d = dst[j]
        p = programme[i]
        prog[j] = p
        if p >= 0:
            touched |= 1 << np.int64(p)
        stage[i] = d
        months_in_stage[i] = 0
        if not keep_programme:
            if s == _WAITING and p >= 0:
                motivation[i] = 1.0
            programme[i] = NO_PROGRAMME
        moved[i] = True
        if (d == _WORK) | (d == _STUDIES):
            in_guarantee[i] = False
            job_days[i] = 0.0
        if (d == _JOB) | (d == _FAS3):
            in_guarantee[i] = True
        if d == _WORK:
            months_out_of_work[i] = 0
        flow[np.int64(s) * _N_STAGES + d] += 1
        if total.size:
            total[s] -= 1
            total[d] += 1
    return src, prog, -1, touched


def _apply(state: RunState, ids: np.ndarray, dst: np.ndarray, *, keep_programme: bool = False) -> None:
    """Move ``ids`` to the stages ``dst`` (:func:`apply_moves`) and log the moves (``dst`` is
    logged as it is: the caller's own array, not changed afterwards)."""
    if ids.size == 0:
        return
    pop = state.pop
    src, prog, bad, touched = state.run(
        apply_moves, ids, dst, keep_programme, pop.stage, pop.months_in_stage, pop.programme, pop.motivation,
        state.moved, pop.in_guarantee, pop.job_days, pop.months_out_of_work, LEGAL, state.rec.flow_counts(state.t),
        state.stage_total)
    if bad >= 0:  # a bug, never bad input: fail loudly
        _illegal(src[bad], dst[bad])
    if touched:
        state.tagged_moved(int(touched))
    state.rec.log_events(state.t, ids, src, dst, prog)


def _illegal(src: int, dst: int) -> None:
    raise AssertionError(f"illegal move {Stage(int(src)).label} -> {Stage(int(dst)).label}")


def resolve_unemployed(state: RunState, ids: np.ndarray, src: np.ndarray) -> np.ndarray:
    """The unemployment stage each person returns to, opening a UI period where earned.

    People leaving a job (ordinary or subsidised) who meet the work condition start a new
    UI benefit period (income-related if they have been a-kassa members long enough, else the
    basic amount) and leave the guarantee: their income support now comes from the state
    (UI) instead of the municipality. Others return to the guarantee if enrolled (Fas 3 once
    its day limit is passed), or to open unemployment. One compiled pass over the movers,
    :func:`unemployed_stages`, instead of ~15 numpy calls (``docs/design.md``, session 18).
    """
    pop = state.pop
    m = state.regime.money
    wage, block = state.wage_blocks()
    return state.run(
        unemployed_stages, ids, src, _EMPLOYED, pop.work_history, np.int64(state.spec.rules.work_condition_months),
        np.int64(state.month + 1), np.float64(state.spec.rules.ui_membership_months.at(state.month)),
        np.int64(len(state.member_shares)), pop.arrival_month, pop.ui_fund_joined, pop.ui_member_alt,
        pop.ui_related_alt, pop.ui_member_since, pop.reference_wage, pop.ui_entitled, pop.ui_income_related,
        pop.ui_days, pop.in_guarantee, pop.job_days, np.float32(state.regime.fas3_entry_days),
        np.float64(m.work_wage_sek_per_month), np.float64(m.external_subsidised_wage_sek_per_month),
        pop.programme, wage, block)


@kernel
def unemployed_stages(ids, src, employed, work_history, condition_months, next_month, needed, shares,  # noqa: ANN001, ANN201
                      arrival_month, ui_fund_joined, ui_member_alt, ui_related_alt, ui_member_since,
                      reference_wage, ui_entitled, ui_income_related, ui_days, in_guarantee, job_days,
                      fas3_entry_days, work_wage, external_wage, programme, wage, block):
    """:func:`resolve_unemployed` for distinct ``ids`` (whose stages are ``src``): open the UI
    periods earned and return each one's stage (``_OPEN``, ``_JOB`` or ``_FAS3``).

    A period is earned by leaving a stage of ``employed`` with at least ``condition_months``
    qualifying months of the last 12 (``work_history``'s bits). It starts next month
    (``next_month``): the reference wage is that of the job left (a programme's subsidised job
    pays its own wage, ``wage[block, programme]``, ``block`` empty for a run of one block); it
    is income-related after ``needed`` months of a-kassa membership; bit ``k < shares`` of
    ``ui_related_alt`` says whether it would be had the a-kassa share at entry been the run's
    ``k``-th other share (members at entry joined two years before arriving, the others when a
    programme first enrolled them); its days and the guarantee's start again.
    """
    n = ids.size
    out = np.empty(n, np.uint8)
    for j in range(n):
        i = ids[j]
        s = src[j]
        if employed[s]:
            x = np.int64(work_history[i])  # (qualifying months: the history's bits set)
            x = x - ((x >> 1) & 0x5555)
            x = (x & 0x3333) + ((x >> 2) & 0x3333)
            x = (x + (x >> 4)) & 0x0F0F
            if ((x + (x >> 8)) & 0x1F) >= condition_months:
                w = work_wage if s == _WORK else external_wage
                p = programme[i]
                if (s == _SUBSIDISED) & (p >= 0):
                    w = wage[block[i] if block.size else 0, p]
                reference_wage[i] = w
                ui_entitled[i] = True
                ui_income_related[i] = next_month - np.int64(ui_member_since[i]) >= needed
                if shares:
                    arrived_member = np.int64(arrival_month[i]) - 24
                    joined = np.int64(ui_fund_joined[i])
                    bits = 0
                    for k in range(shares):
                        since = arrived_member if (ui_member_alt[i] >> k) & 1 == 1 else joined
                        bits |= np.int64(next_month - since >= needed) << k
                    ui_related_alt[i] = bits
                ui_days[i] = 0.0
                in_guarantee[i] = False
                job_days[i] = 0.0
        if not in_guarantee[i]:
            out[j] = _OPEN
        elif job_days[i] >= fas3_entry_days:
            out[j] = _FAS3
        else:
            out[j] = _JOB
    return out


def move(state: RunState, ids: np.ndarray, dest: Stage | np.ndarray) -> None:
    """Move ``ids`` to ``dest`` (one stage, or one per person); ``OPEN`` resolves to the
    guarantee stage for those enrolled."""
    if ids.size == 0:
        return
    if isinstance(dest, np.ndarray):
        dst = dest.astype(np.uint8)
        to_open = np.flatnonzero(dst == _OPEN)
        if to_open.size:
            dst[to_open] = resolve_unemployed(state, ids[to_open], state.pop.stage[ids[to_open]])
    elif dest == _OPEN:
        dst = resolve_unemployed(state, ids, state.pop.stage[ids])
    else:
        dst = np.full(ids.size, int(dest), np.uint8)
    _apply(state, ids, dst)


def move_apart(state: RunState, groups: tuple[tuple[np.ndarray, Stage], ...]) -> None:
    """Move groups of people, no one in two groups, each group to one stage (not ``OPEN``): as
    :func:`move` group after group (a move reads and writes its person's own state only, and
    the log lists the groups in order), in one pass instead of one per group."""
    ids = np.concatenate([g for g, _ in groups])
    if ids.size == 0:
        return
    _apply(state, ids, np.repeat(np.array([int(d) for _, d in groups], np.uint8), [g.size for g, _ in groups]))


def arrive(state: RunState, ids: np.ndarray) -> None:
    """People entering the model this month take their initial stage (after the start, Fas 3 only
    while it takes entrants: else JOB)."""
    dst = state.pop.initial_stage[ids].copy()
    if state.t > 0 and not state.regime.fas3_open:
        dst[dst == _FAS3] = _JOB
    _apply(state, ids, dst)


_IN_FAS3 = np.zeros(len(Stage), bool)
_IN_FAS3[_FAS3] = True


def end_fas3(state: RunState) -> None:
    """Fas 3 emptied back into the guarantee (JOB): while it is phased out, each month a share
    ``rules.fas3_phaseout_per_month`` of its people (drawn from a stream of their own); once its
    placements no longer run (February 2018), everyone left. The latter is looked for once per
    set of parameters in force, not every month: with the placements ended, nobody enters Fas 3
    again (:class:`~sim.scenario.schema.Rules`)."""
    r = state.regime
    if r.fas3_runs:
        if r.fas3_phaseout > 0:
            ids = state.select(_IN_FAS3)
            move(state, ids[state.streams.uniform("fas3_phaseout", state.t, ids) < r.fas3_phaseout], _S.JOB)
        return
    if getattr(state, "_fas3_ended_under", None) is r:
        return
    state._fas3_ended_under = r  # type: ignore[attr-defined]
    move(state, state.select(_IN_FAS3), _S.JOB)


def refer(state: RunState, ids: np.ndarray, p: ProgrammeRegime) -> None:
    """Put ``ids`` on programme ``p``'s waiting list."""
    if ids.size == 0:
        return
    state.pop.programme[ids] = p.index
    state.tags_added(ids)
    _apply(state, ids, np.full(ids.size, _WAITING, np.uint8), keep_programme=True)


def admit(state: RunState, ids: np.ndarray, p: ProgrammeRegime) -> None:
    """Start ``ids`` (on ``p``'s waiting list) in programme ``p`` from next month."""
    if ids.size == 0:
        return
    pop = state.pop
    pop.programme_start[ids] = state.month + 1
    if p.enrols_in_ui_fund:  # joins an a-kassa as the programme starts (members stay members)
        joining = ids[pop.ui_member_since[ids] == NOT_MEMBER]
        pop.ui_member_since[joining] = state.month + 1
        first = ids[pop.ui_fund_joined[ids] == NOT_MEMBER]  # (members at entry too: see ui_related_alt)
        pop.ui_fund_joined[first] = state.month + 1
    pop.started[ids] |= np.uint32(1 << p.index)
    _apply(state, ids, np.full(ids.size, int(p.stage), np.uint8), keep_programme=True)
    state.rec.started(state.t, p.index, ids)


def leave_queue(state: RunState, ids: np.ndarray) -> None:
    """Take ``ids`` off their waiting list, back to where they came from."""
    if ids.size == 0:
        return
    _apply(state, ids, resolve_unemployed(state, ids, state.pop.stage[ids]))


def leave_programme(state: RunState, ids: np.ndarray, p: ProgrammeRegime, *, completed: bool,
                    reason: str, to: int | np.ndarray | None = None) -> None:
    """End participation in ``p``.

    Args:
        completed: reached the maximum length; goes to work with probability
            ``completion_to_work`` (own stream), else back to unemployment.
        reason: ``completed``, ``exit`` (a hazard exit), ``dropout``, ``cut`` (capacity or
            budget fell), ``closed`` (the programme ended) or ``pension`` (reached pension age).
        to: the destination code of a hazard exit (one, or one per person); ``DROPOUT``
            means back to unemployment and is counted as reason ``dropout``.
    """
    if ids.size == 0:
        return
    pop = state.pop
    src = pop.stage[ids].copy()
    if completed:
        u = state.streams.uniform("completion/" + p.name, state.t, ids)
        to_work = u < state.programme_value(p, "completion_to_work", ids)
    else:
        to_work = np.zeros(ids.size, bool)
    if to is None:
        dst = np.where(to_work, _WORK, _DROPOUT)
    else:
        dst = to.astype(np.uint8) if isinstance(to, np.ndarray) else np.full(ids.size, int(to), np.uint8)
    back = np.flatnonzero(dst == DROPOUT)
    if back.size:
        dst[back] = resolve_unemployed(state, ids[back], src[back])
    pop.last_programme[ids] = p.index
    pop.months_since_programme[ids] = 0
    state.left_programme(ids)
    # a programme that closes has given what it offered; a cut or a dropout has not
    if reason in ("exit", "completed", "closed"):
        # float32 arithmetic, as a Python float times a float32 array gives in one run and in a batch
        gain = np.asarray(state.programme_value(p, "effect_after", ids) - 1.0, np.float32)
        effect = np.float32(1.0) + gain * pop.motivation[ids]
        if reason == "exit":
            effect[back] = 1.0  # dropouts get no post-programme effect
        pop.effect_at_exit[ids] = effect
    else:
        pop.effect_at_exit[ids] = 1.0
    pop.motivation[ids] = 1.0
    _apply(state, ids, dst)
    if reason == "exit" and back.size:
        state.rec.exited(state.t, p.index, "dropout", ids[back])
        if ids.size > back.size:
            exited = np.ones(ids.size, bool)
            exited[back] = False
            state.rec.exited(state.t, p.index, "exit", ids[exited])
    else:
        state.rec.exited(state.t, p.index, reason, ids)


def priority_mask(state: RunState, ids: np.ndarray, group: str) -> np.ndarray:
    """Membership of ``ids`` in a priority group (see :data:`sim.scenario.schema.PRIORITY_GROUPS`)."""
    pop = state.pop
    if group == "single_parent":
        return pop.household[ids] == HOUSEHOLD_CODES["single_parent"]
    if group == "children":
        return pop.children[ids] > 0
    if group == "youth":
        return pop.age_years(state.month, ids) < 25
    if group == "sfi":
        return pop.sfi[ids]
    if group == "foreign_born":
        return pop.foreign_born[ids]
    if group == "rehab_need":
        return pop.rehab_need[ids]
    if group == "long_term":
        return pop.months_out_of_work[ids] >= 24
    if group == "couple_no_work":
        return np.isin(pop.household[ids], [HOUSEHOLD_CODES["couple"], HOUSEHOLD_CODES["couple_children"]])
    raise ValueError(f"unknown priority group {group!r}")
