"""The programme model: one Mesa model, one monthly loop over arrays of people.

This module owns construction, the calendar's hooks and the order of a month (see
:class:`ProgrammeModel`); each sub-step is a function in :mod:`sim.engine.month` and all
the state they share is a :class:`~sim.engine.state.RunState`. It may import
:mod:`sim.scenario`, :mod:`sim.accounts` and every other engine module; no engine module
imports it.
"""

from __future__ import annotations

from collections.abc import Sequence

import mesa
import numpy as np

from sim.engine import moves
from sim.engine.calendar import Calendar
from sim.engine.capacity import Budget, Slots
from sim.engine.in_force import Regime, reform_months, regime_at
from sim.engine.month import exits, follow_up, forced, intake, limits, record, referrals, spend, sweep
from sim.engine.population import Population
from sim.engine.recorder import Recorder
from sim.engine.state import RunState
from sim.engine.streams import Streams
from sim.scenario.dated import Month
from sim.scenario.schema import Scenario

__all__ = ["ProgrammeModel"]

#: The sub-steps of a month, in order (numbered as in the class docstring).
MONTH = (limits, record, sweep, spend, forced, exits, referrals, intake, follow_up)


class ProgrammeModel(mesa.Model):
    """People moving month by month through programmes under capacities and budgets.

    Each :meth:`step` is one month. The SimPy calendar (:mod:`sim.engine.calendar`) first runs the
    events dated to the month — **reforms** (parameters in force change), **arrivals**
    (cohort waves, inflow), **budget-year resets**, **status dates** and the **yearly**
    refresh of age-dependent multipliers — and then the month itself, in this order (one
    module of :mod:`sim.engine.month` each, ``step(state)``):

    0. **limits**: if a reform cut a programme's places or a new budget year cannot pay for
       everyone in it, the newest participants leave ("cut") before the month starts, so
       capacity is never exceeded and budgets never overspent;
    1. **record and book**: stocks by stage, queues, occupancy and capacity (the state
       *during* the month), and the month's money flows per payer and category
       (:mod:`sim.accounts.rules`);
    2. **clocks**: UI days and JOB days advance by ``benefit_days_per_month`` for those
       drawing them; the work-condition history shifts; months in stage, months out of work
       and months since a programme advance; waiting lowers motivation (the book of 1 and
       these clocks are one pass over everyone: :mod:`sim.engine.month.sweep`);
    3. **spend**: each programme pays this month's participant costs from its budgets;
    4. **forced moves** (the rules): pension age -> other; UI exhausted or 18 months
       registered -> the guarantee (JOB; people in a municipal programme enrol but stay in
       it); 450 JOB days -> Fas 3; maximum programme length -> completion; maximum wait ->
       off the list; a closed programme -> everyone out;
    5. **exits**: competing-risk hazard exits for everyone not moved in 4;
    6. **referrals**: eligible people not moved this month join waiting lists;
    7. **intake**: waiting lists are admitted in priority order within places, starts and
       budget (money is committed to the end of the budget year);
    8. **follow-up**: the stage of people k months after leaving a programme is recorded.

    Moves made in 4-7 define the state of the next month. All random draws come from named
    streams keyed by person and month (:mod:`sim.engine.streams`), so a baseline and a scenario with
    the same seed use the same draws wherever the policy does not differ.

    Args:
        scenario: a validated scenario.
        rng: the seed (a non-negative int); it keys every random stream.
        record_events: keep the person-level event log (turn off for large sweeps).
        track: ids of people whose state and money are recorded every month (for telling one
            person's story; see the ``tracked`` tables of the results).
        compiled: run the passes over everyone compiled with numba (the default), or the same
            functions as plain Python (bit for bit the same results; slow, for tests on small
            populations).
        member_shares: other shares of a-kassa members at entry (at most 8) at which the run's
            nets are worked out too: a-kassa membership changes who is paid what, not what people
            do, so one run gives its nets at each share
            (:meth:`Recorder.member_changes <sim.engine.recorder.Recorder.member_changes>`), equal
            to a run of the scenario with that share up to the order of floating-point additions
            (the a-kassa assumption line).

    Raises:
        ResourceError: if the population would not fit in memory (before allocating it).
    """

    def __init__(self, scenario: Scenario, rng: int = 0, *, record_events: bool = True,
                 track: Sequence[int] = (), compiled: bool = True, member_shares: Sequence[float] = ()) -> None:
        super().__init__(rng=rng)
        self.seed = int(rng)
        #: everything the sub-steps share
        self.state = RunState(scenario, self.seed, record_events=record_events, track=track, compiled=compiled,
                              member_shares=member_shares)
        self.calendar = Calendar(self._month, self._calendar_events(), yearly=self.state.refresh_multipliers)

    # ----------------------------------------------------------------- calendar hooks
    def _calendar_events(self) -> list[tuple[int, object]]:
        s = self.state
        ev: list[tuple[int, object]] = []
        for m in reform_months(s.spec):
            ev.append((m - s.start, lambda m=m: self._reform(m)))
        for m in np.unique(s.pop.arrival_month):
            ev.append((int(m) - s.start, lambda m=int(m): self._arrive(m)))
        first = s.spec.calendar.budget_year_start_month - 1
        for t in range(1, s.horizon):
            if (s.start + t) % 12 == first:
                ev.append((t, s.new_budget_year))
        for d in s.spec.calendar.status_dates:
            ev.append((d - s.start, lambda d=d: s.rec.status(d, s.pop)))
        return ev

    def _reform(self, month: Month) -> None:
        self.state.set_regime(regime_at(self.state.spec, month))
        self.state.rec.reform(month)

    def _arrive(self, month: Month) -> None:
        ids = np.flatnonzero(self.state.pop.arrival_month == month)
        self.state.refresh_multipliers(ids)
        moves.arrive(self.state, ids)

    # ----------------------------------------------------------------- time
    def step(self) -> None:
        """Simulate one month (see the class docstring for the order)."""
        self.calendar.advance()
        self.state.t = self.calendar.month

    def run(self, months: int | None = None) -> None:
        """Simulate ``months`` months (default: to the end of the horizon)."""
        n = self.horizon - self.calendar.month if months is None else months
        if n > 0:
            self.run_for(n)  # Mesa's clock: one step per unit of time
        self.running = self.calendar.month < self.horizon

    def _month(self) -> None:
        self.state.new_month()
        for sub_step in MONTH:
            sub_step.step(self.state)

    # ----------------------------------------------------------------- read-only views
    @property
    def t(self) -> int:
        """Month index being simulated (between steps: the month the next step simulates)."""
        return self.state.t

    @property
    def month(self) -> Month:
        """The absolute month being simulated."""
        return self.state.month

    @property
    def compiled(self) -> bool:
        """Whether the passes over everyone run compiled."""
        return self.state.compiled

    @property
    def spec(self) -> Scenario:
        """The scenario."""
        return self.state.spec

    @property
    def start(self) -> Month:
        """The start month."""
        return self.state.start

    @property
    def horizon(self) -> int:
        """Months simulated in a full run."""
        return self.state.horizon

    @property
    def pop(self) -> Population:
        """The population's arrays."""
        return self.state.pop

    @property
    def rec(self) -> Recorder:
        """What the run has recorded so far."""
        return self.state.rec

    @property
    def regime(self) -> Regime:
        """The parameters in force."""
        return self.state.regime

    @property
    def slots(self) -> list[Slots]:
        """Each programme's places."""
        return self.state.slots

    @property
    def budgets(self) -> list[dict[str, Budget]]:
        """Each programme's budgets by payer."""
        return self.state.budgets

    @property
    def streams(self) -> Streams:
        """The run's random streams."""
        return self.state.streams

    @property
    def track(self) -> np.ndarray:
        """Ids of the followed people."""
        return self.state.track

    @property
    def people(self) -> int:
        """People in the population (arrived or not)."""
        return len(self.state.pop)
