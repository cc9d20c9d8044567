"""Sub-step 7, intake: waiting lists are admitted within places, starts and budget.

Each open programme admits, in priority order (:func:`sim.engine.capacity.priority_order`),
as many as its free places, its cap on starts and its budgets allow. Money is committed to
the end of the budget year: a new participant is admitted only if the budget can pay for
them and for everyone already in until then. People admitted now start next month.
"""

from __future__ import annotations

import numpy as np

from sim.engine import moves
from sim.engine.capacity import admissible, priority_order
from sim.engine.state import RunState

__all__ = ["step", "months_left_in_budget_year"]


def step(state: RunState) -> None:
    """Admit from each programme's waiting list."""
    pop = state.pop
    months_left = months_left_in_budget_year(state)
    for p, spec, slots, budgets in zip(state.regime.programmes, state.spec.programmes, state.slots,
                                      state.budgets, strict=True):
        if not p.active:
            continue
        w = state.queue(p.index)
        if w.size == 0:
            continue
        part = state.participants(p)
        slots.count(part.size)
        affordable = np.iinfo(np.int64).max
        for payer, b in budgets.items():
            cost = p.budget_charge[payer]
            remaining = np.minimum(p.max_duration_months - pop.months_in_stage[part], months_left)
            committed = cost * float(np.maximum(remaining, 0).sum())
            affordable = min(affordable, b.room(committed, cost * min(p.max_duration_months, months_left)))
        k = admissible(w.size, slots.free, p.starts_cap, affordable)
        if k == 0:
            continue
        groups = [moves.priority_mask(state, w, g) for g in spec.priority]
        admitted = w[priority_order(groups, pop.months_in_stage[w], w, first=k)]
        slots.occupy(k)
        moves.admit(state, admitted, p)


def months_left_in_budget_year(state: RunState) -> int:
    """Months from next month to the end of its budget year (people admitted now start then)."""
    first = state.spec.calendar.budget_year_start_month - 1
    return (first - (state.month + 1)) % 12 or 12
