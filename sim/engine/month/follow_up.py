"""Sub-step 8, follow-up: the stage and income support of people k months after leaving a programme.

Income support is read from the posting rules for each followed person this month: on social
assistance (any amount, with or without other support), else on unemployment insurance, else on
activity support, else none. So "the share off assistance k months after exit" is exact.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from sim.accounts.book import post_keys
from sim.accounts.rules import ProgrammeMoney, post
from sim.engine.month.book import keys, ledger_input
from sim.engine.state import RunState

__all__ = ["step", "INCOME_SUPPORT", "BY_KEY_FROM", "income_support", "support_codes", "support_by_key"]

#: Codes of the ``income_support`` column of the follow-ups.
INCOME_SUPPORT = ("none", "social_assistance", "unemployment_insurance", "activity_support")


#: From this many people at once, income support is read by ledger key (see :func:`income_support`).
BY_KEY_FROM = 1_500


def income_support(state: RunState, ids: np.ndarray) -> np.ndarray:
    """Each person's income support this month, as a code of :data:`INCOME_SUPPORT` (uint8).

    From :data:`BY_KEY_FROM` people on, read from the postings of each distinct ledger key
    among them (:mod:`sim.accounts.book`: a key stands for everything the rules read, so the
    codes are those of posting each person, as a batch reads them): the rules then run once per
    distinct state, not per person. Fewer are posted one by one: the keys' own calls cost more
    than posting a few people (measured at 10^6 people, ~11,000 followed in ~1,000 states: 2.1
    -> 1.7 ms a month by key; 300 followed: 150 us per person, 186 by key; a single C2 run,
    ~10 followed a month: ~4 ms a run more by key).
    """
    r = state.regime
    if ids.size < BY_KEY_FROM:
        return support_codes(post(ledger_input(state, ids), r.money, r.programme_money), ids.size)
    return support_by_key(keys(state, ids), r.money, r.programme_money)


def support_by_key(key: np.ndarray, money: SimpleNamespace, programme_money: ProgrammeMoney) -> np.ndarray:
    """The income support codes of people whose ledger keys are ``key``, under the money rules
    ``money`` and ``programme_money``: each distinct key posted once."""
    distinct, inverse = np.unique(key, return_inverse=True)
    return support_codes(post_keys(distinct, money, programme_money), distinct.size)[inverse]


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
    support = income_support(state, followed) if followed.size else np.zeros(0, np.uint8)
    state.rec.follow_up(state.t, state.pop, months, followed, support)
