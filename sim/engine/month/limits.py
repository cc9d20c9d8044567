"""Sub-step 0, limits: participants beyond a cut capacity or an exhausted budget leave.

If a reform cut a programme's places, or a new budget year cannot pay for everyone in it,
the newest participants leave ("cut") before the month starts, so capacity is never
exceeded and budgets are never overspent.
"""

from __future__ import annotations

import numpy as np

from sim.engine import moves
from sim.engine.state import RunState

__all__ = ["step"]


def step(state: RunState) -> None:
    """Shed participants above each programme's places or budget, newest first."""
    pop = state.pop
    for p, slots, budgets in zip(state.regime.programmes, state.slots, state.budgets, strict=True):
        part = state.participants(p)
        shed = max(part.size - slots.capacity, 0)
        for payer, b in budgets.items():
            keep = min(part.size - shed, b.affordable(p.budget_charge[payer]))
            shed = max(shed, part.size - keep)
        if shed:
            newest = part[np.lexsort((-part, pop.months_in_stage[part]))][:shed]
            moves.leave_programme(state, newest, p, completed=False, reason="cut")
