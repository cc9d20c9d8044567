"""Sub-step 8, follow-up: the stage and income support of people k months after leaving a programme.

Income support is read from the posting rules for each followed person this month: on social
assistance (any amount, with or without other support), else on unemployment insurance, else on
activity support, else none. So "the share off assistance k months after exit" is exact.
"""

from __future__ import annotations

import numpy as np

from sim.accounts.book import ledger_keys, post_keys
from sim.accounts.rules import post
from sim.engine.in_force import Regime
from sim.engine.month.book import ledger_input
from sim.engine.state import RunState

__all__ = ["step", "INCOME_SUPPORT", "income_support", "support_codes", "support_of_keys"]

#: Codes of the ``income_support`` column of the follow-ups.
INCOME_SUPPORT = ("none", "social_assistance", "unemployment_insurance", "activity_support")


def income_support(state: RunState, ids: np.ndarray, regime: Regime | None = None) -> np.ndarray:
    """Each person's income support this month, as a code of :data:`INCOME_SUPPORT` (uint8),
    under the money rules of ``regime`` (default: the run's)."""
    r = state.regime if regime is None else regime
    return support_codes(post(ledger_input(state, ids), r.money, r.programme_money), ids.size)


def support_codes(amounts: dict[tuple[str, str], np.ndarray], n: int) -> np.ndarray:
    """Codes of :data:`INCOME_SUPPORT` from the postings of ``n`` people (what the individual gets)."""
    zero = np.zeros(n)
    sa = amounts.get(("individual", "social_assistance"), zero) > 0.5
    ui = amounts.get(("individual", "unemployment_insurance"), zero) > 0.5
    act = amounts.get(("individual", "activity_support"), zero) > 0.5
    return np.where(sa, 1, np.where(ui, 2, np.where(act, 3, 0))).astype(np.uint8)


def step(state: RunState) -> None:
    """Record the follow-ups of this month (after its moves)."""
    months = state.spec.calendar.follow_up_months_after_exit
    if not state.spec.programmes or not months:
        return
    wanted = np.zeros(max(months) + 1, bool)
    wanted[np.asarray(months)] = True
    followed = state.followed(wanted)
    support = np.zeros(len(state.pop), np.uint8)
    if followed.size:
        support[followed] = support_of_keys(state, followed)
    state.rec.follow_up(state.t, state.pop, months, support, among=followed)


def support_of_keys(state: RunState, ids: np.ndarray) -> np.ndarray:
    """:func:`income_support` of people ``ids``, from their ledger keys: the posting rules run
    once per distinct key (a key stands for everything the rules read, :mod:`sim.accounts.book`),
    not once per person (~3.5 ms a month at 10^6 people, most of it the rules' fixed cost), and
    only for keys not met before under the same rules (kept in ``state.support_cache``)."""
    pop, r = state.pop, state.regime
    key = state.run(ledger_keys, *(a[ids] for a in (
        pop.stage, pop.programme, pop.household, pop.children, pop.ui_entitled, pop.ui_income_related,
        pop.fas3_municipal, pop.ui_days, pop.in_guarantee, pop.job_days, pop.reference_wage, pop.birth_month)),
        state.month - 26 * 12, np.float32(r.job_days_to_fas3))
    distinct, inverse = np.unique(key, return_inverse=True)
    # Codes of the keys met so far under these rules (the same keys come back month after month).
    cached = state.support_cache
    if cached is None or cached[0] is not r.money or cached[1] is not r.programme_money:
        cached = (r.money, r.programme_money, np.zeros(0, np.int64), np.zeros(0, np.uint8))
    _m, _pm, known, codes = cached
    at = np.minimum(np.searchsorted(known, distinct), max(known.size - 1, 0))
    new = distinct[known[at] != distinct] if known.size else distinct
    if new.size:
        known = np.concatenate((known, new))
        codes = np.concatenate((codes, support_codes(post_keys(new, r.money, r.programme_money), new.size)))
        order = np.argsort(known)
        known, codes = known[order], codes[order]
        at = np.searchsorted(known, distinct)
    state.support_cache = (r.money, r.programme_money, known, codes)
    return codes[at][inverse]
