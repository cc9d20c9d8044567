"""Sub-step 3, spend: each programme pays this month's participant costs from its budgets."""

from __future__ import annotations

from sim.engine.state import RunState

__all__ = ["step"]


def step(state: RunState) -> None:
    """Count each programme's participants (its occupancy) and pay for them."""
    for p, slots, budgets in zip(state.regime.programmes, state.slots, state.budgets, strict=True):
        n = state.participants(p).size
        slots.count(n)
        for payer, b in budgets.items():
            b.spend(n * p.budget_charge[payer])
