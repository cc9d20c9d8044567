"""The ledger's view of people: their grouping keys, the posting rules' input, and the booking of
a month's money (sub-step 1b, run by :mod:`sim.engine.month.sweep`, which works out everyone's
keys in the pass that advances the clocks).

Everyone's state is packed into a grouping key (:func:`sim.accounts.book.ledger_keys`) and
booked; the posting rules (:mod:`sim.accounts.rules`) run once per distinct state at the end
of the run. Followed people (``track``) are posted one by one. Programme staff costs are not
per person and are booked as extras.
"""

from __future__ import annotations

import numpy as np

from sim.accounts.book import ceiling_steps, fas3_placements, ledger_keys
from sim.accounts.rules import LedgerInput, post, ui_days_left
from sim.engine.population import Population
from sim.engine.state import RunState

__all__ = ["book", "track", "keys", "ledger_input", "differs_at_shares"]


def track(state: RunState) -> None:
    """Record the followed people's state and postings this month (before their clocks advance)."""
    if state.track.size:
        r = state.regime
        x = ledger_input(state, state.track)
        state.rec.tracked(state.t, state.pop, state.track, post(x, r.money, r.programme_money))


def book(state: RunState, key: np.ndarray) -> None:
    """Book this month's money: everyone's keys ``key`` (people not arrived or in 'other' post
    nothing under the rules), programme staff, and the keys the a-kassa shares change."""
    r = state.regime
    staff: dict[tuple[str, str], float] = {}
    for p, spec in zip(r.programmes, state.spec.programmes, strict=True):
        if p.active and p.slots > 0 and p.staff_cost_per_month:
            pair = (spec.funder, "programme_staff")
            staff[pair] = staff.get(pair, 0.0) - p.staff_cost_per_month
    state.rec.book(state.t, key, r.money, r.programme_money, staff, compiled=state.compiled)
    if state.member_shares:  # the keys whose flag would differ at each other a-kassa share
        changed = differs_at_shares(state.pop, len(state.member_shares))
        state.rec.book_changed(state.t, [key[ids] for ids in changed], r.money, r.programme_money)
    if state.rec.record_events:  # last month's movers (and this month's arrivals), as paid now
        state.rec.key_events(key, r.money, r.programme_money)


def differs_at_shares(pop: Population, shares: int) -> list[np.ndarray]:
    """For each of a run's ``shares`` other a-kassa shares at entry: the people whose last UI
    period would be income-related or not the other way than it is (``ui_related_alt``)."""
    return [np.flatnonzero(((pop.ui_related_alt >> k) & 1).astype(bool) != pop.ui_income_related)
            for k in range(shares)]


def keys(state: RunState, ids: np.ndarray | None = None) -> np.ndarray:
    """Everyone's ledger grouping key this month (or that of the people ``ids``)."""
    pop = state.pop
    arrays = (pop.stage, pop.programme, pop.household, pop.children, pop.ui_entitled, pop.ui_income_related,
              pop.fas3_municipal, pop.ui_days, pop.in_guarantee, pop.job_days, pop.reference_wage, pop.birth_month)
    if ids is not None:
        arrays = tuple(a[ids] for a in arrays)
    r = state.regime
    return state.run(ledger_keys, *arrays, state.month - 26 * 12, np.float32(r.job_days_to_fas3),
                     np.bool_(not r.fas3_open), np.float32(r.ui_days_max), np.float32(r.ui_days_max_with_child),
                     ceiling_steps([r.money]))


def ledger_input(state: RunState, ids: np.ndarray | None = None) -> LedgerInput:
    """The posting rules' view of people ``ids`` (default everyone) this month."""
    pop = state.pop
    ids = state.ids if ids is None else ids
    fas3 = state.run(fas3_placements, pop.stage, pop.in_guarantee, pop.job_days, ids,
                     np.float32(state.regime.job_days_to_fas3), np.bool_(not state.regime.fas3_open))
    return LedgerInput(stage=pop.stage[ids], programme=pop.programme[ids], household=pop.household[ids],
                       children=pop.children[ids], age_years=pop.age_years(state.month, ids),
                       ui_entitled=pop.ui_entitled[ids], ui_days=pop.ui_days[ids],
                       in_guarantee=pop.in_guarantee[ids], reference_wage=pop.reference_wage[ids],
                       fas3_placement=fas3, ui_income_related=pop.ui_income_related[ids],
                       fas3_municipal=pop.fas3_municipal[ids],
                       ui_days_left=ui_days_left(pop.ui_days[ids], pop.children[ids], state.regime.ui_days_max,
                                                 state.regime.ui_days_max_with_child))
