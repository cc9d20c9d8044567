"""Sub-step 1a, record: stocks by stage, queues, occupancy and capacity during the month."""

from __future__ import annotations

from sim.engine.state import RunState

__all__ = ["step"]


def step(state: RunState) -> None:
    """Record the state the month starts in (after arrivals and limits); the people in each
    stage are those the moves keep count of (``state.stage_total``)."""
    state.rec.record(state.t, state.stage_total.copy(), state.tagged_by_stage(), state.slots, state.budgets)
