"""Named streams: reproducible, keyed by person, independent across names and seeds."""

import numpy as np
import pytest

from sim.engine.streams import Streams, replication_seeds


def test_draws_are_a_function_of_seed_stream_month_and_person():
    ids = np.arange(10_000)
    a, b = Streams(5), Streams(5)
    np.testing.assert_array_equal(a.uniform("x", 3, ids), b.uniform("x", 3, ids))
    # a subset, in any order, gets the same draws as in the full vector
    sub = np.array([9_999, 17, 4_000, 17])
    np.testing.assert_array_equal(a.uniform("x", 3, sub), a.uniform("x", 3, ids)[sub])


@pytest.mark.parametrize("other", [("y", 3, 5), ("x", 4, 5), ("x", 3, 6)])
def test_changing_stream_month_or_seed_gives_unrelated_draws(other):
    ids = np.arange(50_000)
    name, month, seed = other
    u = Streams(5).uniform("x", 3, ids)
    v = Streams(seed).uniform(name, month, ids)
    assert abs(np.corrcoef(u, v)[0, 1]) < 0.02
    assert (u != v).mean() > 0.999


def test_uniforms_are_uniform_and_normals_normal():
    ids = np.arange(200_000)
    s = Streams(1)
    u = s.uniform("u", 0, ids)
    assert u.min() >= 0 and u.max() < 1
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert np.all(np.abs(counts - 20_000) < 600)  # ~4 sd
    z = s.normal("z", 0, ids)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01


def test_replication_seeds_start_with_the_seed_and_are_distinct():
    seeds = replication_seeds(42, 20)
    assert seeds[0] == 42 and len(set(seeds)) == 20
    assert replication_seeds(42, 5) == seeds[:5]


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seeds_are_refused(bad):
    with pytest.raises(ValueError):
        Streams(bad)
