"""Sub-step 8, follow-up: the stage of people k months after leaving a programme."""

from __future__ import annotations

from sim.engine.state import RunState

__all__ = ["step"]


def step(state: RunState) -> None:
    """Record the follow-ups of this month (after its moves)."""
    state.rec.follow_up(state.t, state.pop, state.spec.calendar.follow_up_months_after_exit)
