"""Many runs of a small cohort in one model: one block of people per run.

A C2 cohort is 174 people; one run of it is ~400 small numpy calls a month, so its cost is the
interpreter's, not the arithmetic's. :class:`BatchModel` runs many such runs (replications, or
the particles of a calibration) as **blocks** of one population: block ``b`` is people
``first[b] .. first[b+1] - 1``, with its own seed, its own scenario (programme values may differ
from block to block: the parameters a calibration moves) and its own places, budgets and
records. Each month's passes run once over everyone, so the per-month overhead is shared by
all blocks. Every block's tables are **identical** to a separate run of its scenario and seed
(``tests/test_batch.py`` compares every table):

* **draws**: a person's draw is SplitMix64 output ``i`` from their block's stream offset
  (:mod:`sim.engine.streams`); a block's offset is shifted by ``first[b]`` outputs
  (:class:`BlockStreams`), so the draw for global id ``first[b] + i`` is the draw for id ``i``
  of a separate run;
* **programme values**: per block and programme in arrays (``values[name][b, p]``); the
  hazard pass reads block ``b``'s programme rows at ``len(Stage) + b * P``;
* **places and budgets**: arrays per block and programme; the monthly sub-steps
  (:mod:`sim.engine.batch_month`) are the ordinary ones written over blocks, and the moves are
  the ordinary :mod:`sim.engine.moves` (they ask the state for per-person programme values);
* **records**: :class:`sim.engine.batch_records.BatchRecorder` keeps each month's counts per
  block and hands back an ordinary :class:`~sim.engine.recorder.Recorder` per block.

The blocks must share everything but their programmes' numbers, their transition rates, their
population's composition and the exit rates after Fas 3 closed (``rules.fas3_rates_after_closure``,
read per block): the same cohort size and arrivals, money rates, other rules, calendar, horizon
and programmes by name, kind and eligibility; :func:`check_batchable` says what differs
otherwise. A block's scenario may have only the first few of the batch's programmes (a baseline
without the programme beside the scenario with it): in that block the others are closed (no
places, no referrals, no staff costs), and its records are of its own programmes only. So the
replications of a comparison's baseline and scenarios, and of their assumption lines, run as
blocks of one model. Each block may keep its event log or not (``record_events`` per block).
Transition rates are the hazard table's stage rows: every block's are in one table, blocks with
the same rates sharing theirs, and one hazard pass a month goes over every block
(:class:`~sim.engine.batch_state.BatchHazardRows`). It may import everything the ordinary model
does; nothing in the engine imports it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.engine import batch_month, moves
from sim.engine.batch_records import BlockRun
from sim.engine.batch_state import BatchError, BatchState, BlockStreams, check_batchable
from sim.engine.calendar import Calendar
from sim.scenario.dated import Month
from sim.scenario.schema import Scenario

__all__ = ["BatchModel", "BatchState", "BlockStreams", "check_batchable", "BatchError"]


class BatchModel:
    """Many runs of one small cohort as blocks of one population (see the module docstring).

    The month is the ordinary month (:class:`~sim.engine.model.ProgrammeModel`), written over
    blocks in :mod:`sim.engine.batch_month`; the calendar is the ordinary SimPy calendar, with
    each block's reforms at the months its own scenario dates them.

    Args:
        scenarios: one scenario per block (the same object for replications of one scenario).
        seeds: one seed per block.
        record_events: keep the person-level event log of every block (or, a list, of those
            blocks whose flag is true).
        compiled: run the passes over everyone compiled (numba) or as plain Python.
        member_shares: other shares of a-kassa members at entry at which every block's nets are
            worked out too (as :class:`~sim.engine.model.ProgrammeModel`'s).

    Raises:
        BatchError: if the scenarios differ in more than those numbers.
    """

    def __init__(self, scenarios: Sequence[Scenario], seeds: Sequence[int], *,
                 record_events: bool | Sequence[bool] = True, compiled: bool = True,
                 member_shares: Sequence[float] = ()) -> None:
        self.state = BatchState(scenarios, seeds, record_events=record_events, compiled=compiled,
                                member_shares=member_shares)
        self.seeds = [int(s) for s in seeds]
        self.calendar = Calendar(self._month, self._calendar_events(), yearly=self.state.refresh_multipliers)

    def _calendar_events(self) -> list[tuple[int, object]]:
        s = self.state
        ev: list[tuple[int, object]] = []
        by_month: dict[Month, list[int]] = {}
        for b in range(s.blocks):
            for m in s.reform_months(b):
                by_month.setdefault(m, []).append(b)
        for m in sorted(by_month):
            ev.append((m - s.start, lambda m=m: s.reform(m, by_month[m])))
        for m in np.unique(s.pop.arrival_month):
            ev.append((int(m) - s.start, lambda m=int(m): self._arrive(m)))
        first = s.spec.calendar.budget_year_start_month - 1
        for t in range(1, s.horizon):
            if (s.start + t) % 12 == first:
                ev.append((t, s.new_budget_year))
        for d in s.spec.calendar.status_dates:
            ev.append((d - s.start, lambda d=d: s.rec.status(d, s.pop, s.block)))
        return ev

    def _arrive(self, month: Month) -> None:
        ids = np.flatnonzero(self.state.pop.arrival_month == month)
        self.state.refresh_multipliers(ids)
        moves.arrive(self.state, ids)

    def _month(self) -> None:
        self.state.new_month()
        for sub_step in batch_month.MONTH:
            sub_step(self.state)

    def step(self) -> None:
        """Simulate one month of every block."""
        self.calendar.advance()
        self.state.t = self.calendar.month

    def run(self) -> None:
        """Simulate every block to the end of the horizon."""
        while self.calendar.month < self.state.horizon:
            self.step()

    def block(self, b: int, *, ledger_only: bool = False) -> BlockRun:
        """Block ``b`` as a finished run: what :meth:`sim.runs.results.RunResult.from_model` reads
        (``ledger_only``: with its ledger book as its only record, for a run of which only the
        nets are read)."""
        s = self.state
        if s.rec.record_events and s.rec.final is None:  # the last month's movers, as they stand at the end
            s.rec.final = (batch_month.keys(s), list(s.regimes))
        return s.rec.block_run(b, s.specs[b], self.seeds[b], s.pop, s.start, s.horizon, ledger_only=ledger_only)

    @property
    def blocks(self) -> int:
        """Runs in the batch."""
        return self.state.blocks
