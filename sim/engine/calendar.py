"""The calendar: SimPy processes that drive the model month by month.

There is one clock, a SimPy :class:`~simpy.Environment` whose time is the month index
``t = 0, 1, ...`` counted from the scenario's start month. Dated things are processes on
that clock:

* **reforms**: at every month where a dated parameter changes, the parameters in force are
  rebuilt (:func:`sim.engine.in_force.regime_at`);
* **arrivals**: cohort waves and monthly inflow enter the population;
* **budget years**: each programme's budgets are reset on the budget-year start month;
* **status dates**: dated follow-ups (e.g. "status of participants in April 2013");
* **years**: age-dependent hazard multipliers are refreshed every twelve months;
* **the month**: the model's monthly step, run *after* all calendar events of the same month
  (it is scheduled with a later priority than SimPy's normal events), so a reform dated
  2013-07 already applies to July 2013.

``Calendar.advance()`` runs the environment until the next month begins, which is what
:meth:`sim.engine.model.ProgrammeModel.step` calls.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import Any

import simpy
from simpy.events import Event

__all__ = ["Calendar", "MONTH_PRIORITY"]

#: SimPy orders simultaneous events by priority (URGENT = 0, NORMAL = 1); the month's step
#: uses a later one so that the calendar events dated to a month come first.
MONTH_PRIORITY = 2


class _MonthTick(Event):
    """A timeout with :data:`MONTH_PRIORITY` (SimPy's Timeout is fixed to NORMAL)."""

    def __init__(self, env: simpy.Environment, delay: int) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, MONTH_PRIORITY, delay)


class Calendar:
    """The model's clock and its dated processes.

    Args:
        month_step: called once per month, after that month's calendar events.
        events: ``(month index, callback)`` pairs; each callback runs at the start of its
            month. Several callbacks may share a month; they run in the order given.
        yearly: called every twelve months from month 12 on.
    """

    def __init__(self, month_step: Callable[[], None], events: Iterable[tuple[int, Callable[[], None]]],
                 yearly: Callable[[], None] | None = None) -> None:
        self.env = simpy.Environment()
        self._next = 0
        self._month_step = month_step
        self.env.process(self._months())
        self.env.process(self._dated(sorted(events, key=lambda e: e[0])))
        if yearly is not None:
            self.env.process(self._years(yearly))

    @property
    def month(self) -> int:
        """The month index the next :meth:`advance` will simulate."""
        return self._next

    def advance(self) -> None:
        """Simulate one month: its calendar events, then the monthly step.

        Steps the environment through every event dated before the next month (what
        ``env.run(until=...)`` does, without its stop event and exception each month).
        """
        env, end = self.env, self._next + 1
        while env.peek() < end:
            env.step()
        self._next = end

    def _months(self) -> Generator[Event, Any, None]:
        delay = 0
        while True:
            yield _MonthTick(self.env, delay)
            self._month_step()
            delay = 1

    def _dated(self, events: list[tuple[int, Callable[[], None]]]) -> Generator[Event, Any, None]:
        for t, callback in events:
            if t < self.env.now:
                continue
            yield self.env.timeout(t - self.env.now)
            callback()

    def _years(self, callback: Callable[[], None]) -> Generator[Event, Any, None]:
        while True:
            yield self.env.timeout(12)
            callback()
