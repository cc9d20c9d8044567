"""Sub-steps 1-2 in one pass over everyone: record, book and clocks, and the selections of 4 and 5.

At 10^6 people a month's cost is reading everyone's arrays, so the passes that go over
everyone before the first move of the month are one loop (:func:`sweep`): for each person,
the stock of their stage (record), their ledger grouping key counted in a hash table (book:
:func:`sim.accounts.book.ledger_key_counts`), their clocks advanced (:func:`~sim.engine.month.clocks.advance_person`),
and then, on the advanced clocks, whether they enter the guarantee or pass into Fas 3
(:func:`~sim.engine.month.forced.guarantee_person`) and whether their draw is below their total
hazard (:func:`~sim.engine.month.exits.may_leave`, the first pass of the hazard exits). Each
person's rules are the per-person helpers of the sub-steps' own modules, so no rule is written
twice; the batch engine (:mod:`sim.engine.batch_month`) runs the same helpers as separate passes.

The selections are made before the month's first moves (pension age, sub-step 4) and are
completed later: :mod:`~sim.engine.month.forced` drops the people moved since, and
:mod:`~sim.engine.month.exits` drops them too and re-examines the few whose hazards changed
without a move (people who entered the guarantee in a programme or a queue, and people whose
motivation waiting wore down): a superset of the candidates gives exactly the same exits,
since only people whose draw is below their total hazard can leave.
"""

from __future__ import annotations

import numpy as np

from sim.accounts.book import LedgerBook, count_key, grown_key_table, ledger_key, new_key_table, sorted_key_counts
from sim.accounts.jit import helper, kernel
from sim.engine.month import book, clocks
from sim.engine.month.clocks import advance_person
from sim.engine.month.exits import may_leave
from sim.engine.month.forced import guarantee_person
from sim.engine.state import RunState, Swept
from sim.scenario.stages import Stage

__all__ = ["step", "sweep"]

_N_STAGES = len(Stage)


#: people per chunk of the pass (the ledger's hash table and the lists grow between chunks)
_CHUNK = 4096


@helper
def _room(buf, used):  # noqa: ANN001, ANN201
    """``buf`` (its first ``used`` entries), with room for a chunk more."""
    if used + _CHUNK <= buf.size:
        return buf
    out = np.empty(2 * buf.size + _CHUNK, buf.dtype)
    out[:used] = buf[:used]
    return out


@kernel
def sweep(stage, moved, programme, household, children, ui_entitled, ui_income_related, fas3_municipal,  # noqa: ANN001, ANN201, PLR0913
          ui_days, in_guarantee, job_days, reference_wage, birth_month, young_after, fas3_days, count_keys,
          work_history, months_in_stage, months_out_of_work, months_since, counts_as_work, days,
          registered, ui_days_max, ui_days_max_with_child, entry_months,
          work_mult, studies_mult, last_programme, effect_at_exit, motivation, table, constant_total, work_base,
          lock_in, is_programme, stage_work, duration, decay, transition):
    """Record, book and advance everyone's clocks in one pass, and select for the forced moves
    and the hazard exits on the advanced clocks (see the module docstring).

    Returns the stocks by stage; the ledger's keys: if ``count_keys``, the distinct keys
    (ascending) and their counts, else everyone's key and an empty array; the ids (ascending)
    of those entering the guarantee, passing into Fas 3 and possibly leaving by a hazard exit.
    """
    n = stage.size
    stocks = np.zeros(_N_STAGES, np.int64)
    keys, key_counts, shift = new_key_table(12)
    every = np.empty(0 if count_keys else n, np.int64)
    wage_bits = reference_wage.view(np.uint32)
    # ids fit in int32 (a population is far below 2**31 people); the lists are short, so they
    # start small and grow between chunks (always room for one more chunk of people)
    room = n // 16 + _CHUNK
    enter = np.empty(room, np.int32)
    fas3 = np.empty(room, np.int32)
    cand = np.empty(room, np.int32)
    distinct = 0
    ke = 0
    kf = 0
    kc = 0
    for lo in range(0, n, _CHUNK):
        if count_keys and 2 * (distinct + _CHUNK) > keys.size:  # room for a chunk of new keys, half full
            keys, key_counts, shift = grown_key_table(keys, key_counts)
        enter = _room(enter, ke)
        fas3 = _room(fas3, kf)
        cand = _room(cand, kc)
        for i in range(lo, min(lo + _CHUNK, n)):
            stocks[stage[i]] += 1
            key = ledger_key(i, stage, programme, household, children, ui_entitled, ui_income_related,
                             fas3_municipal, ui_days, in_guarantee, job_days, wage_bits, birth_month, young_after,
                             fas3_days)
            if count_keys:
                distinct += count_key(key, keys, key_counts, shift)
            else:
                every[i] = key
            advance_person(i, stage, programme, ui_entitled, in_guarantee, ui_days, job_days, work_history,
                           months_in_stage, months_out_of_work, months_since, counts_as_work, days)
            e, f = guarantee_person(i, stage, moved, in_guarantee, ui_entitled, ui_days, children, registered,
                                    months_out_of_work, job_days, ui_days_max, ui_days_max_with_child, entry_months,
                                    fas3_days)
            c = may_leave(i, stage, moved, programme, in_guarantee, job_days, work_mult, studies_mult,
                          months_out_of_work, months_since, last_programme, effect_at_exit, motivation, table,
                          constant_total, work_base, lock_in, is_programme, stage_work, duration, decay, fas3_days,
                          transition, 0)
            enter[ke] = i
            ke += e
            fas3[kf] = i
            kf += f
            cand[kc] = i
            kc += c
    if count_keys:
        distinct_keys, counts = sorted_key_counts(keys, key_counts)
    else:
        distinct_keys, counts = every, np.zeros(0, np.int64)
    return stocks, distinct_keys, counts, enter[:ke].astype(np.int64), fas3[:kf].astype(np.int64), cand[:kc].astype(np.int64)


def step(state: RunState) -> None:
    """Record and book the month, advance the clocks, and keep the selections for later sub-steps."""
    pop, r = state.pop, state.regime
    hr = r.hazard_rows
    count_keys = not state.rec.record_events and len(pop) > LedgerBook.RAW_KEYS
    tagged = state.tagged()  # the state the month starts in (before the clocks advance)
    book.track(state)
    stocks, key, counts, enter, to_fas3, cand = state.run(
        sweep, pop.stage, state.moved, pop.programme, pop.household, pop.children, pop.ui_entitled,
        pop.ui_income_related, pop.fas3_municipal, pop.ui_days, pop.in_guarantee, pop.job_days, pop.reference_wage,
        pop.birth_month, state.month - 26 * 12, np.float32(r.job_days_to_fas3), count_keys,
        pop.work_history, pop.months_in_stage, pop.months_out_of_work, pop.months_since_programme,
        state.counts_as_work, np.float32(state.spec.rules.benefit_days_per_month),
        pop.registered, float(r.ui_days_max), float(r.ui_days_max_with_child), int(r.job_entry_months),
        state.work_mult, state.studies_mult, pop.last_programme, pop.effect_at_exit, pop.motivation, hr.table,
        hr.constant_total, hr.work_base, hr.lock_in, hr.is_programme, state.stage_work, state.duration, state.decay,
        state.streams.base("transition", state.t))
    state.rec.record(state.t, pop, tagged, state.slots, state.budgets, stocks=stocks)
    book.book(state, key, counts if count_keys else None)
    losing = clocks.lose_motivation(state)
    state.swept = Swept(enter=enter, to_fas3=to_fas3, candidates=cand, recheck=losing)
