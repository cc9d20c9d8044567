"""Moving people between stages: the only code that writes ``Population.stage``.

Each function selects nothing itself: it takes the ids the model chose, applies the entry
and exit rules of the stages involved (clocks, guarantee enrolment, UI re-qualification,
post-programme effects), and tells the recorder who moved where, so the engine counts every
flow. Stage-level bookkeeping lives here so the monthly loop in :mod:`sim.engine.model` reads as
the list of sub-steps it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine import kernels
from sim.engine.in_force import DROPOUT, ProgrammeRegime
from sim.engine.population import HOUSEHOLD_CODES, NO_PROGRAMME
from sim.scenario.stages import LEGAL, Stage

if TYPE_CHECKING:
    from sim.engine.model import ProgrammeModel

__all__ = ["move", "arrive", "refer", "admit", "leave_programme", "leave_queue", "resolve_unemployed",
           "priority_mask", "requalifies"]

_S = Stage
_LEAVES_GUARANTEE = np.zeros(len(Stage), bool)
_LEAVES_GUARANTEE[[_S.WORK, _S.STUDIES]] = True
_ENTERS_GUARANTEE = np.zeros(len(Stage), bool)
_ENTERS_GUARANTEE[[_S.JOB, _S.FAS3]] = True
_EMPLOYED = np.zeros(len(Stage), bool)
_EMPLOYED[[_S.WORK, _S.SUBSIDISED]] = True


def _apply(model: ProgrammeModel, ids: np.ndarray, dst: np.ndarray, *, keep_programme: bool = False) -> None:
    """Set the new stage of ``ids`` and record the move.

    A move ends any waiting or participation (the programme tag is cleared) unless it is a
    referral or an admission (``keep_programme``). Leaving for work or studies ends the
    guarantee; entering JOB or Fas 3 starts it; work resets the months out of work.
    """
    if ids.size == 0:
        return
    pop = model.pop
    if model.compiled:
        src, prog, bad = kernels.apply_moves(
            ids, dst, keep_programme, pop.stage, pop.months_in_stage, pop.programme, pop.motivation, model._moved,
            pop.in_guarantee, pop.job_days, pop.months_out_of_work, LEGAL, model.rec.flow_counts(model.t))
        if bad >= 0:
            _illegal(src[bad], dst[bad])
        model.rec.log_events(model.t, ids, src, dst, prog)
        return
    src = pop.stage[ids]  # (indexing with ids copies)
    if not LEGAL[src, dst].all():  # a bug, never bad input: fail loudly
        bad = np.flatnonzero(~LEGAL[src, dst])[0]
        _illegal(src[bad], dst[bad])
    prog = pop.programme[ids]
    pop.stage[ids] = dst
    pop.months_in_stage[ids] = 0
    if not keep_programme:
        left_queue = ids[(src == _S.WAITING) & (prog >= 0)]
        pop.motivation[left_queue] = 1.0
        pop.programme[ids] = NO_PROGRAMME
    model._moved[ids] = True
    leave_g = _LEAVES_GUARANTEE[dst]
    if leave_g.any():
        gone = ids[leave_g]
        pop.in_guarantee[gone] = False
        pop.job_days[gone] = 0.0
    pop.in_guarantee[ids[_ENTERS_GUARANTEE[dst]]] = True
    pop.months_out_of_work[ids[dst == _S.WORK]] = 0
    model.rec.moved(model.t, ids, src, dst, prog)


def _illegal(src: int, dst: int) -> None:
    raise AssertionError(f"illegal move {Stage(int(src)).label} -> {Stage(int(dst)).label}")


def requalifies(model: ProgrammeModel, ids: np.ndarray) -> np.ndarray:
    """Whether each person meets the UI work condition (>= N qualifying months of the last 12)."""
    months = np.bitwise_count(model.pop.work_history[ids])
    return months >= model.spec.rules.work_condition_months


def resolve_unemployed(model: ProgrammeModel, ids: np.ndarray, src: np.ndarray) -> np.ndarray:
    """The unemployment stage each person returns to, opening a UI period where earned.

    People leaving a job (ordinary or subsidised) who meet the work condition start a new
    UI benefit period and leave the guarantee: their income support now comes from the state
    (UI) instead of the municipality. Others return to the guarantee if enrolled (Fas 3 once
    its day limit is passed), or to open unemployment.
    """
    pop = model.pop
    from_job = _EMPLOYED[src]
    if from_job.any():
        cand = ids[from_job]
        earned = requalifies(model, cand)
        new_period = cand[earned]
        pop.reference_wage[new_period] = _last_wage(model, new_period, src[from_job][earned])
        pop.ui_entitled[new_period] = True
        pop.ui_days[new_period] = 0.0
        pop.in_guarantee[new_period] = False
        pop.job_days[new_period] = 0.0
    g = pop.in_guarantee[ids]
    fas3 = pop.job_days[ids] >= model.regime.job_days_to_fas3
    return np.where(g, np.where(fas3, _S.FAS3, _S.JOB), _S.OPEN).astype(np.uint8)


def _last_wage(model: ProgrammeModel, ids: np.ndarray, src: np.ndarray) -> np.ndarray:
    """The monthly wage of the job each person is leaving (their new UI reference wage)."""
    m, pm = model.regime.money, model.regime.programme_money
    prog = model.pop.programme[ids]
    wage = np.where(src == _S.WORK, m.work_wage_sek_per_month, m.external_subsidised_wage_sek_per_month)
    return np.where((src == _S.SUBSIDISED) & (prog >= 0), pm.wage[np.maximum(prog, 0)], wage)


def move(model: ProgrammeModel, ids: np.ndarray, dest: Stage | np.ndarray) -> None:
    """Move ``ids`` to ``dest`` (one stage, or one per person); ``OPEN`` resolves to the
    guarantee stage for those enrolled."""
    if ids.size == 0:
        return
    dst = np.full(ids.size, dest, np.uint8) if np.isscalar(dest) else dest.astype(np.uint8)
    to_open = np.flatnonzero(dst == _S.OPEN)
    if to_open.size:
        dst[to_open] = resolve_unemployed(model, ids[to_open], model.pop.stage[ids[to_open]])
    _apply(model, ids, dst)


def arrive(model: ProgrammeModel, ids: np.ndarray) -> None:
    """People entering the model this month take their initial stage."""
    _apply(model, ids, model.pop.initial_stage[ids].copy())


def refer(model: ProgrammeModel, ids: np.ndarray, p: ProgrammeRegime) -> None:
    """Put ``ids`` on programme ``p``'s waiting list."""
    if ids.size == 0:
        return
    model.pop.programme[ids] = p.index
    model._tags_added()
    _apply(model, ids, np.full(ids.size, _S.WAITING, np.uint8), keep_programme=True)


def admit(model: ProgrammeModel, ids: np.ndarray, p: ProgrammeRegime) -> None:
    """Start ``ids`` (on ``p``'s waiting list) in programme ``p`` from next month."""
    if ids.size == 0:
        return
    pop = model.pop
    pop.programme_start[ids] = model.month + 1
    pop.started[ids] |= np.uint32(1 << p.index)
    _apply(model, ids, np.full(ids.size, p.stage, np.uint8), keep_programme=True)
    model.rec.started(model.t, p.index, ids.size)


def leave_queue(model: ProgrammeModel, ids: np.ndarray) -> None:
    """Take ``ids`` off their waiting list, back to where they came from."""
    if ids.size == 0:
        return
    _apply(model, ids, resolve_unemployed(model, ids, model.pop.stage[ids]))


def leave_programme(model: ProgrammeModel, ids: np.ndarray, p: ProgrammeRegime, *, completed: bool,
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
    pop = model.pop
    src = pop.stage[ids].copy()
    if completed:
        u = model.streams.uniform("completion/" + p.name, model.t, ids)
        to_work = u < p.completion_to_work
    else:
        to_work = np.zeros(ids.size, bool)
    if to is None:
        dst = np.where(to_work, _S.WORK, DROPOUT).astype(np.uint8)
    else:
        dst = np.full(ids.size, to, np.uint8) if np.isscalar(to) else to.astype(np.uint8)
    back = np.flatnonzero(dst == DROPOUT)
    if back.size:
        dst[back] = resolve_unemployed(model, ids[back], src[back])
    if reason == "exit":
        credited = np.ones(ids.size, bool)
        credited[back] = False  # dropouts get no post-programme effect
    else:  # a programme that closes has given what it offered; a cut or a dropout has not
        credited = np.full(ids.size, reason in ("completed", "closed"))
    pop.last_programme[ids] = p.index
    pop.months_since_programme[ids] = 0
    pop.effect_at_exit[ids] = np.where(credited, 1.0 + (p.effect_after - 1.0) * pop.motivation[ids], 1.0)
    pop.motivation[ids] = 1.0
    _apply(model, ids, dst)
    if reason == "exit" and back.size:
        model.rec.exited(model.t, p.index, "dropout", back.size)
        if ids.size > back.size:
            model.rec.exited(model.t, p.index, "exit", ids.size - back.size)
    else:
        model.rec.exited(model.t, p.index, reason, ids.size)


def priority_mask(model: ProgrammeModel, ids: np.ndarray, group: str) -> np.ndarray:
    """Membership of ``ids`` in a priority group (see :data:`sim.scenario.schema.PRIORITY_GROUPS`)."""
    pop = model.pop
    if group == "single_parent":
        return pop.household[ids] == HOUSEHOLD_CODES["single_parent"]
    if group == "children":
        return pop.children[ids] > 0
    if group == "youth":
        return pop.age_years(model.month, ids) < 25
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
