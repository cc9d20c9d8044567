"""Places, waiting lists and budgets: small objects with invariants.

Modelled on SimPy's ``Resource`` (capacity, users, queue) and ``Container`` (a level that
cannot go below zero). Nothing here knows about stages, people's attributes or money
categories: the model hands in counts and amounts and gets back how many may start.

Invariants (tested alone and as properties of whole runs):

* :class:`Slots`: ``0 <= occupied <= capacity`` after every count and admission; occupancy
  changes only through :meth:`Slots.count`, :meth:`Slots.occupy` and :meth:`Slots.release`.
* :class:`Budget`: ``spent <= level`` at all times within a budget year; a spend that would
  overdraw it is refused.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Slots", "Budget", "OverspendError", "admissible", "priority_order"]


class OverspendError(RuntimeError):
    """A spend would take a budget below zero."""


class Slots:
    """Places in a programme.

    Args:
        capacity: number of places (>= 0).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = 0
        self.occupied = 0
        self.set_capacity(capacity)

    def set_capacity(self, capacity: int) -> None:
        """Change the number of places (a reform). Occupancy above it must then be shed."""
        if capacity < 0 or int(capacity) != capacity:
            raise ValueError(f"capacity must be a whole number >= 0, got {capacity!r}")
        self.capacity = int(capacity)

    @property
    def free(self) -> int:
        """Places not taken."""
        return max(self.capacity - self.occupied, 0)

    @property
    def excess(self) -> int:
        """People above capacity after a cut (they must leave)."""
        return max(self.occupied - self.capacity, 0)

    def count(self, n: int) -> None:
        """Set occupancy to the ``n`` participants counted this month.

        Within capacity by the time it is called (limits have shed any excess), so an
        ``n`` outside ``0 .. capacity`` is a bug and raises.
        """
        if n < 0 or n > self.capacity:
            raise ValueError(f"counted {n} participants in {self.capacity} places")
        self.occupied = int(n)

    def occupy(self, n: int) -> None:
        """Fill ``n`` places; raises if that would exceed capacity."""
        if n < 0 or self.occupied + n > self.capacity:
            raise ValueError(f"cannot occupy {n} of {self.free} free places")
        self.occupied += n

    def release(self, n: int) -> None:
        """Free ``n`` places."""
        if n < 0 or n > self.occupied:
            raise ValueError(f"cannot release {n} of {self.occupied} occupied places")
        self.occupied -= n


class Budget:
    """A yearly budget of one funder for one programme (SEK).

    Intake uses :meth:`room` with commitments: a new participant is admitted only if the
    budget can pay for them, and for everyone already in, to the end of the budget year.

    Args:
        level: money available this budget year (>= 0; ``math.inf`` for no limit).
    """

    def __init__(self, level: float) -> None:
        if level < 0 or level != level:
            raise ValueError(f"budget must be >= 0, got {level!r}")
        self.level = float(level)
        self.spent = 0.0

    def reset(self, level: float) -> None:
        """Start a new budget year with ``level``."""
        if level < 0 or level != level:
            raise ValueError(f"budget must be >= 0, got {level!r}")
        self.level = float(level)
        self.spent = 0.0

    @property
    def remaining(self) -> float:
        """Money not yet spent this year."""
        return self.level - self.spent

    def spend(self, amount: float) -> None:
        """Pay ``amount``; refuses (raises) rather than overdraw."""
        if amount < 0:
            raise ValueError(f"cannot spend a negative amount {amount!r}")
        if amount > self.remaining + 1e-6:
            raise OverspendError(f"spending {amount:,.0f} SEK would overdraw {self.remaining:,.0f} SEK")
        self.spent += amount

    def affordable(self, cost_each: float) -> int:
        """How many payments of ``cost_each`` fit in what remains (all, if free)."""
        if cost_each <= 0 or math.isinf(self.level):
            return np.iinfo(np.int64).max
        return max(int(math.floor((self.remaining + 1e-6) / cost_each)), 0)

    def room(self, committed: float, cost_each: float) -> int:
        """New participants affordable after ``committed`` money is set aside."""
        if cost_each <= 0 or math.isinf(self.level):
            return np.iinfo(np.int64).max
        return max(int(math.floor((self.remaining - committed + 1e-6) / cost_each)), 0)


def admissible(waiting: int, free: int, starts_cap: int | None, affordable: int) -> int:
    """How many of ``waiting`` may start: the least of the queue, places, starts and money."""
    n = min(waiting, free, affordable)
    if starts_cap is not None:
        n = min(n, starts_cap)
    return max(n, 0)


#: From this many people on a list, the keys are packed into one (below, np.lexsort's three sorts
#: of a short list cost less than the packing's few more numpy calls).
_PACK_FROM = 256


def priority_order(groups: list[np.ndarray], months_waiting: np.ndarray, ids: np.ndarray,
                   blocks: np.ndarray | None = None, first: int | None = None) -> np.ndarray:
    """Order a waiting list: priority groups in the order given, then longest wait, then id.

    With ``blocks`` (a block of people per run, :mod:`sim.engine.batch`), each block's list is
    ordered so, one block after another.

    Args:
        groups: one boolean array per priority group (first listed = most important),
            each aligned with ``ids``.
        months_waiting: months each person has waited.
        ids: person ids, all different (the final tie-break, so the order is deterministic).
        first: only this many positions are wanted (the first of the order).

    Returns:
        Positions into ``ids``, first to be admitted first (the first ``first`` of them).

    The three keys are packed into one integer when they fit in 63 bits (always, in practice:
    ids, months and a few groups), so one sort of one key (or, for the first few, a partition
    and a sort of those) replaces np.lexsort's sorts of three: the same order, since no two
    people share an id. At 10^6 people (waiting lists of ~20,000, a few hundred admitted a
    month) ~0.7 instead of ~1.6 ms a list.
    """
    score = np.zeros(ids.shape[0], dtype=np.int64)
    for g in groups:
        score = (score << 1) | g.astype(np.int64)
    n = ids.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    months = months_waiting.astype(np.int64)
    lo_m, hi_m, hi_id = int(months.min()), int(months.max()), int(ids.max())
    m_bits, id_bits = (hi_m - lo_m).bit_length(), hi_id.bit_length()
    b_bits = 0 if blocks is None else int(blocks.max()).bit_length()
    if n >= _PACK_FROM and int(ids.min()) >= 0 and (blocks is None or int(blocks.min()) >= 0) and (
            b_bits + len(groups) + m_bits + id_bits <= 63):
        # higher score first, then longer wait, then lower id: each as a field of one key
        packed = (((((np.int64((1 << len(groups)) - 1) - score) << m_bits) | (hi_m - months)) << id_bits)
                  | ids.astype(np.int64))
        if blocks is not None:
            packed |= blocks.astype(np.int64) << (len(groups) + m_bits + id_bits)
        if first is not None and first < n:
            if first <= 0:
                return np.zeros(0, np.int64)
            top = np.argpartition(packed, first - 1)[:first]
            return top[np.argsort(packed[top])]
        return np.argsort(packed)
    # np.lexsort sorts by the last key first; negate to get "higher first".
    keys = (ids, -months, -score)
    order = np.lexsort(keys if blocks is None else keys + (blocks,))
    return order if first is None else order[:max(first, 0)]
