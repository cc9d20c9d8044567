"""Slots, budgets and waiting-list order, alone."""

import contextlib
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.engine.capacity import Budget, OverspendError, Slots, admissible, priority_order


def test_slots_cannot_be_overfilled_or_overreleased():
    s = Slots(3)
    s.occupy(2)
    assert s.free == 1
    with pytest.raises(ValueError):
        s.occupy(2)
    s.set_capacity(1)
    assert s.excess == 1 and s.free == 0
    with pytest.raises(ValueError):
        s.release(3)
    with pytest.raises(ValueError):
        Slots(-1)



def test_counting_participants_sets_occupancy_within_capacity_only():
    s = Slots(3)
    s.count(3)
    assert s.occupied == 3 and s.free == 0
    s.count(0)
    assert s.occupied == 0 and s.free == 3
    for bad in (-1, 4):
        with pytest.raises(ValueError, match="participants"):
            s.count(bad)
    assert s.occupied == 0

@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10)), max_size=50), st.integers(0, 20))
def test_slots_occupancy_stays_within_capacity(ops, capacity):
    s = Slots(capacity)
    for take, n in ops:
        with contextlib.suppress(ValueError):
            s.occupy(n) if take else s.release(n)
        assert 0 <= s.occupied <= s.capacity


@given(st.floats(0, 1e7), st.lists(st.floats(0, 1e6), max_size=40))
def test_a_budget_is_never_overspent(level, spends):
    b = Budget(level)
    for amount in spends:
        with contextlib.suppress(OverspendError):
            b.spend(amount)
        assert b.spent <= b.level + 1e-6


def test_budget_room_accounts_for_commitments_and_unlimited_budgets():
    b = Budget(100_000)
    b.spend(10_000)
    assert b.affordable(30_000) == 3
    assert b.room(committed=60_000, cost_each=10_000) == 3
    assert b.room(committed=95_000, cost_each=10_000) == 0
    assert Budget(math.inf).room(1e12, 1.0) > 10**12
    b.reset(5)
    assert b.spent == 0 and b.remaining == 5


def test_admissible_is_the_least_of_queue_places_starts_and_money():
    assert admissible(10, 4, None, 100) == 4
    assert admissible(10, 40, 3, 100) == 3
    assert admissible(10, 40, None, 2) == 2
    assert admissible(1, 40, 5, 100) == 1


def test_priority_order_groups_then_longest_wait_then_id():
    ids = np.array([10, 11, 12, 13, 14])
    parent = np.array([False, True, False, True, False])
    youth = np.array([True, False, False, True, True])
    waited = np.array([5, 1, 9, 0, 5])
    order = priority_order([parent, youth], waited, ids)
    # 13 (both groups), 11 (parent), then youth by wait (10 and 14 tie on 5: lower id first), then 12
    assert list(ids[order]) == [13, 11, 10, 14, 12]


def test_priority_order_is_that_of_sorting_by_each_key_in_turn():
    """The order (packed into one key where it fits, else np.lexsort) is the order of sorting by
    block, groups, longest wait and id in turn; and its first k are the first k of it."""
    rng = np.random.default_rng(3)
    for n, top_id, top_block in ((500, 10**6, None), (2_000, 10**6, 40), (300, 2**62, None), (300, 2**40, 2**30)):
        ids = rng.choice(top_id, n, replace=False).astype(np.int64)
        groups = [rng.random(n) < 0.3 for _ in range(3)]
        waited = rng.integers(0, 40, n).astype(np.int16)
        blocks = None if top_block is None else np.sort(rng.integers(0, top_block, n))
        rank = [tuple(-int(g[j]) for g in groups) + (-int(waited[j]), int(ids[j])) for j in range(n)]
        if blocks is not None:
            rank = [(int(blocks[j]),) + r for j, r in enumerate(rank)]
        expected = sorted(range(n), key=rank.__getitem__)
        assert list(priority_order(groups, waited, ids, blocks)) == expected
        for k in (0, 1, 37, n, n + 5):
            assert list(priority_order(groups, waited, ids, blocks, first=k)) == expected[:k]
    assert priority_order([], np.zeros(0, np.int16), np.zeros(0, np.int64), first=3).size == 0
