"""The month of a batch (:mod:`sim.engine.batch`): the ordinary sub-steps written over blocks.

Each function here is the sub-step of the same name in :mod:`sim.engine.month`, in the same
order (:data:`MONTH`), with every programme's places, budgets and values taken per block from
arrays, and every count made per block. The passes over everyone (:mod:`sim.accounts.jit`
kernels) and the moves (:mod:`sim.engine.moves`) are the ordinary ones. Within each block, the
moves happen in the same order as in a separate run, so the event logs agree row for row;
``tests/test_batch.py`` compares every table of every block with a separate run, which is what
keeps the two versions of each sub-step's Python-level rule in step.
"""

from __future__ import annotations

import numpy as np

from sim.accounts.book import ceiling_steps, ledger_keys
from sim.engine import moves
from sim.engine.batch_records import block_counts
from sim.engine.batch_state import BatchState
from sim.engine.capacity import priority_order
from sim.engine.in_force import DROPOUT
from sim.engine.month.book import differs_at_shares
from sim.engine.month.exits import hazard_pass, kept_bounds, stage_bounds
from sim.engine.month.forced import guarantee_ids
from sim.engine.month.intake import months_left_in_budget_year
from sim.engine.month.referrals import meets, stage_table
from sim.engine.month.sweep import run_sweep
from sim.scenario.stages import PROGRAMME_STAGES, Stage

__all__ = ["MONTH", "rank_in_block"]

_S = Stage
_NS = len(Stage)
_BIG = np.iinfo(np.int64).max
_IN_PROGRAMME = np.zeros(_NS, bool)
_IN_PROGRAMME[sorted(PROGRAMME_STAGES)] = True
#: stages before OTHER (people who can still retire), the stages people retire from out of a
#: programme (:mod:`sim.engine.month.forced`), and stage codes as numpy scalars (an array
#: compared with a Stage, an IntEnum, costs numpy ~2 us more a call)
_NOT_GONE = np.arange(_NS) < _S.OTHER
_RETIRE_FROM_PROGRAMME = (np.arange(_NS) >= _S.COACHING) & (np.arange(_NS) <= _S.SUBSIDISED)
_OPEN, _WAITING = np.uint8(_S.OPEN), np.uint8(_S.WAITING)


def rank_in_block(blocks: np.ndarray) -> np.ndarray:
    """Each position's rank among the positions of its block (``blocks`` sorted)."""
    idx = np.arange(blocks.size)
    if blocks.size == 0:
        return idx
    change = np.empty(blocks.size, bool)
    change[0] = True
    change[1:] = blocks[1:] != blocks[:-1]
    return idx - np.maximum.accumulate(np.where(change, idx, 0))


def _first_of_each(state: BatchState, ids: np.ndarray, keys: tuple[np.ndarray, ...], k: np.ndarray) -> np.ndarray:
    """The first ``k[b]`` of ``ids`` in each block ``b``, ordered by ``keys`` (as np.lexsort, the
    last most important) inside each block; blocks one after another."""
    order = np.lexsort(keys + (state.block[ids],))
    chosen = ids[order]
    return chosen[rank_in_block(state.block[chosen]) < k[state.block[chosen]]]


def _affordable(state: BatchState, i: int, k: int, cost_each: np.ndarray, committed: np.ndarray | float = 0.0
                ) -> np.ndarray:
    """:meth:`Budget.room` (and ``affordable``) of programme ``i``'s payer ``k`` in every block."""
    level = state.level[i][:, k]
    out = np.full(state.blocks, _BIG, np.int64)
    lim = (cost_each > 0) & ~np.isinf(level)
    if lim.any():
        room = level - state.spent[i][:, k] - committed
        out[lim] = np.maximum(np.floor((np.broadcast_to(room, lim.shape)[lim] + 1e-6) / cost_each[lim]), 0)
    return out


def limits(state: BatchState) -> None:
    """Sub-step 0: shed participants above each block's places or budget, newest first."""
    pop = state.pop
    for p in state.regime.programmes:
        i = p.index
        n = state.participants_per_block(p)
        shed = np.maximum(n - state.values["slots"][:, i], 0)
        for k in range(len(state.payers[i])):
            keep = np.minimum(n - shed, _affordable(state, i, k, state.charge[i][:, k]))
            shed = np.maximum(shed, n - keep)
        if shed.any():
            part = state.participants(p)
            newest = _first_of_each(state, part, (-part, pop.months_in_stage[part]), shed)
            moves.leave_programme(state, newest, p, completed=False, reason="cut")


def record(state: BatchState) -> None:
    """Sub-step 1a: stocks, queues, occupancy and capacity of every block."""
    spent = [sum((state.spent[i][:, k] for k in range(len(state.payers[i]))), np.zeros(state.blocks))
             for i in range(state.n_prog)]
    counts = state.run(block_counts, state.pop.stage, state.pop.programme, state.first, state.n_prog, _IN_PROGRAMME,
                       int(_S.WAITING))
    state.rec.record(state.t, counts, state.values["slots"], spent)


def keys(state: BatchState, ids: np.ndarray | None = None) -> np.ndarray:
    """Everyone's ledger grouping key this month (or that of the people ``ids``), as
    :func:`sim.engine.month.book.keys` (the UI ceiling's step looked for under every block's rules)."""
    pop, r = state.pop, state.regime
    arrays = (pop.stage, pop.programme, pop.household, pop.children, pop.ui_entitled, pop.ui_income_related,
              pop.fas3_municipal, pop.ui_days, pop.in_guarantee, pop.job_days, pop.reference_wage, pop.birth_month)
    if ids is not None:
        arrays = tuple(a[ids] for a in arrays)
    return state.run(ledger_keys, *arrays, state.month - 26 * 12, np.float32(r.job_days_to_fas3),
                     np.bool_(not r.fas3_open), np.float32(r.ui_days_max), np.float32(r.ui_days_max_with_child),
                     ceiling_steps(g.money for g in state.money_regimes))


def sweep(state: BatchState) -> None:
    """Sub-steps 1b and 2 (:mod:`sim.engine.month.sweep`): everyone's ledger key and each
    block's staff costs and money rules booked, the clocks advanced; people waiting lose
    motivation at their block's rate."""
    key = run_sweep(state, ceiling_steps(g.money for g in state.money_regimes))
    cost = state.values["staff_cost_per_month"]
    booked = state.active & (state.values["slots"] > 0) & (cost != 0)
    changed = differs_at_shares(state.pop, len(state.member_shares)) if state.member_shares else None
    state.rec.book(state.t, key, list(state.regimes), np.where(booked, cost, 0.0), booked, changed)
    pop = state.pop
    loss = state.values["motivation_loss"]
    if (loss > 0).any():
        for i in range(state.n_prog):
            same = state.same["motivation_loss"][i]
            if same is not None:  # (every block's rate)
                if same > 0:
                    pop.motivation[state.queue(i)] *= np.float32(1.0 - same)
            elif (loss[:, i] > 0).any():
                w = state.queue(i)
                lw = loss[state.block[w], i]
                w, lw = w[lw > 0], lw[lw > 0]
                pop.motivation[w] *= (1.0 - lw).astype(np.float32)


def spend(state: BatchState) -> None:
    """Sub-step 3: each block's programmes pay this month's participant costs."""
    for p in state.regime.programmes:
        i = p.index
        n = state.participants_per_block(p)
        over = n > state.values["slots"][:, i]
        if over.any():
            b = int(np.flatnonzero(over)[0])
            raise ValueError(f"block {b}: counted {n[b]} participants in {state.values['slots'][b, i]} places")
        for k in range(len(state.payers[i])):
            state.spend(i, n * state.charge[i][:, k], k)


def forced(state: BatchState) -> None:
    """Sub-step 4: the forced moves, in the order of :mod:`sim.engine.month.forced`."""
    pop, r = state.pop, state.regime
    st = pop.stage
    old = state.retire_order[state.retire_bounds[state.t]:state.retire_bounds[state.t + 1]]
    if old.size:
        old = old[_NOT_GONE[st[old]]]
    if old.size:
        tag = pop.programme[old]
        in_prog = (tag >= 0) & _RETIRE_FROM_PROGRAMME[st[old]]
        for p in r.programmes:
            leaving = old[in_prog & (tag == p.index)]
            moves.leave_programme(state, leaving, p, completed=False, reason="pension", to=int(_S.OTHER))
        moves.move(state, old[~in_prog], _S.OTHER)
    enter, to_fas3 = guarantee_ids(state)
    pop.ui_entitled[enter] = False
    pop.in_guarantee[enter] = True
    moves.move_apart(state, ((enter[st[enter] == _OPEN], _S.JOB), (to_fas3, _S.FAS3)))  # (open -> JOB, JOB -> Fas 3)
    moves.end_fas3(state)
    for p in r.programmes:
        i = p.index
        part, w = state.participants(p), state.queue(i)
        if state.moved[part].any():  # (never in the month's order: people join programmes and queues later)
            part = part[~state.moved[part]]
        if state.moved[w].any():
            w = w[~state.moved[w]]
        if not state.open_everywhere[i]:  # (the blocks where the programme is closed)
            active = state.active[:, i]
            open_part, open_w = active[state.block[part]], active[state.block[w]]
            moves.leave_programme(state, part[~open_part], p, completed=False, reason="closed")
            moves.leave_queue(state, w[~open_w])
            part, w = part[open_part], w[open_w]
        done = part[pop.months_in_stage[part] >= state.block_value("max_duration_months", i, part)]
        moves.leave_programme(state, done, p, completed=True, reason="completed")
        if p.max_wait_months is not None:
            moves.leave_queue(state, w[pop.months_in_stage[w] >= p.max_wait_months])


def exits(state: BatchState) -> None:
    """Sub-step 5: competing-risk exits, every block's hazard rows and draws its own (one pass
    over every block: :class:`~sim.engine.batch_state.BatchHazardRows`)."""
    pop, h = state.pop, state.hazard
    bounds = kept_bounds(state, (h, state.duration), lambda: stage_bounds(
        h.table, h.constant_total, h.work_base, h.lock_in, h.is_programme, h.stage_work, state.duration, h.srows,
        h.prog0, state.prows, state.n_prog))
    leavers, dest, lrow = state.run(
        hazard_pass, pop.stage, state.moved, pop.programme, pop.in_guarantee, pop.job_days, state.work_mult,
        state.studies_mult, pop.months_out_of_work, pop.months_since_programme, pop.last_programme,
        pop.effect_at_exit, pop.motivation, h.table, h.constant_total, h.work_base, h.lock_in, h.is_programme,
        h.stage_work, state.duration, state.decay, state.fas3_rate_days,
        state.streams.offsets("transition", state.t), state.streams.offsets("destination", state.t), state.prows,
        h.srows, h.prog0, bounds, *state.live())
    if leavers.size == 0:
        return
    in_prog = lrow >= _NS
    plain = np.flatnonzero(~in_prog)
    if (dest[plain] == DROPOUT).any():
        raise AssertionError("dropout outside a programme")
    moves.move(state, leavers[plain], dest[plain])
    if in_prog.any():
        present = np.bincount(lrow[in_prog] - _NS, minlength=state.n_prog)
        for i in np.flatnonzero(present):
            sel = lrow == _NS + i
            moves.leave_programme(state, leavers[sel], state.regime.programmes[i], completed=False, reason="exit",
                                  to=dest[sel])


def referrals(state: BatchState) -> None:
    """Sub-step 6: each block's drawn and eligible people join its waiting lists."""
    pop = state.pop
    rate = state.values["referral_rate"]
    for p, spec in zip(state.regime.programmes, state.spec.programmes, strict=True):
        i = p.index
        refers = state.active[:, i] & (rate[:, i] > 0) & (state.values["slots"][:, i] != 0)
        if not refers.any():
            continue
        el = spec.eligibility
        cand = state.select(stage_table(el.stages))
        if not refers.all():
            cand = cand[refers[state.block[cand]]]
        u = state.streams.uniform("referral/" + p.name, state.t, cand)
        cand = cand[u < state.block_value("referral_rate", i, cand)]
        if cand.size == 0:
            continue
        ok = meets(state, el, cand, stages=False)
        if not el.allow_repeat:
            ok &= (pop.started[cand] & np.uint32(1 << i)) == 0
        if el.any_of:
            ok &= np.logical_or.reduce([meets(state, group, cand) for group in el.any_of])
        moves.refer(state, cand[ok], p)


def intake(state: BatchState) -> None:
    """Sub-step 7: each block admits from its waiting lists within its places, starts and budget."""
    pop = state.pop
    months_left = months_left_in_budget_year(state)
    slots, maxdur, starts_cap = state.values["slots"], state.values["max_duration_months"], state.values["starts_cap"]
    for p, spec in zip(state.regime.programmes, state.spec.programmes, strict=True):
        i = p.index
        w = state.queue(i)
        if not state.open_everywhere[i]:
            w = w[state.active[state.block[w], i]]
        if w.size == 0:
            continue
        nw = state.per_block(w)
        part = state.participants(p)
        n = state.participants_per_block(p)
        over = (nw > 0) & (n > slots[:, i])
        if over.any():
            b = int(np.flatnonzero(over)[0])
            raise ValueError(f"block {b}: counted {n[b]} participants in {slots[b, i]} places")
        affordable = np.full(state.blocks, _BIG, np.int64)
        if state.payers[i]:
            remaining = np.minimum(maxdur[state.block[part], i] - pop.months_in_stage[part], months_left)
            months_committed = np.bincount(state.block[part], weights=np.maximum(remaining, 0), minlength=state.blocks)
            for k in range(len(state.payers[i])):
                cost = state.charge[i][:, k]
                each = cost * np.minimum(maxdur[:, i], months_left)
                affordable = np.minimum(affordable, _affordable(state, i, k, each, cost * months_committed))
        k = np.minimum(np.minimum(nw, np.maximum(slots[:, i] - n, 0)), affordable)
        k = np.maximum(np.minimum(k, starts_cap[:, i]), 0)
        if not k.any():
            continue
        groups = [moves.priority_mask(state, w, g) for g in spec.priority]
        order = priority_order(groups, pop.months_in_stage[w], w, state.block[w])
        chosen = w[order]
        admitted = chosen[rank_in_block(state.block[chosen]) < k[state.block[chosen]]]
        moves.admit(state, admitted, p)


def follow_up(state: BatchState) -> None:
    """Sub-step 8: follow-ups of every block, income support under each block's money rules
    (read by the recorder from the followed people's ledger keys, once per distinct key)."""
    months = state.spec.calendar.follow_up_months_after_exit
    if not state.spec.programmes or not months:
        return
    pop = state.pop
    wanted = np.zeros(max(months) + 1, bool)
    wanted[np.asarray(months)] = True
    followed = state.followed(wanted)
    if followed.size == 0:
        return
    key = keys(state, followed)
    group = state.money_group[state.block[followed]]
    present = np.flatnonzero(np.bincount(group))  # the groups present, ascending (np.unique's hash costs more)
    rules = []
    for g in present:
        r = state.money_regimes[g]
        at = np.arange(followed.size) if present.size == 1 else np.flatnonzero(group == g)
        rules.append((r.money, r.programme_money, at))
    state.rec.follow_up(state.t, pop, months, followed, key, rules, state.block)


#: The sub-steps of a month, in the order of :data:`sim.engine.model.MONTH`.
MONTH = (limits, record, sweep, spend, forced, exits, referrals, intake, follow_up)
