"""Sub-step 1a, record: stocks by stage, queues, occupancy and capacity during the month."""

from __future__ import annotations

from sim.engine.recorder import stage_counts
from sim.engine.state import RunState
from sim.scenario.stages import Stage

__all__ = ["step"]


def step(state: RunState) -> None:
    """Record the state the month starts in (after arrivals and limits)."""
    counts = state.run(stage_counts, state.pop.stage, len(Stage))
    state.rec.record(state.t, counts, state.tagged_by_stage(), state.slots, state.budgets)
