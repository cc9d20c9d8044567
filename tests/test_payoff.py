"""The payoff-style estimate and the bridge to the simulated one."""

from __future__ import annotations

import numpy as np
import pytest
from factories import JOBS, PROGRAMME, scenario

from sim import replicate
from sim.accounts.payers import ALL_PAYERS
from sim.analysis.comparison import cumulative_saving
from sim.analysis.payoff import BRIDGE_STEPS, explain, payoff_bridge

SMALL = {"population": {"cohort": {"size": 150}}, "horizon_months": 48}


@pytest.fixture(scope="module")
def runs():
    base = replicate(scenario([], name="base", **SMALL), 4, 3)
    prog = replicate(scenario([PROGRAMME, JOBS], name="prog", **SMALL), 4, 3)
    return base, prog, payoff_bridge(base, prog)


def test_the_steps_add_up_to_the_simulated_saving_in_every_replication(runs):
    base, prog, bridge = runs
    steps = bridge.values[..., :-1].sum(axis=-1)
    np.testing.assert_allclose(steps, bridge.values[..., -1], rtol=0, atol=1e-6)
    # and the simulated step is the comparison's own saving, replication by replication
    for k, h in enumerate(bridge.horizons):
        for j, payer in enumerate(ALL_PAYERS):
            sim = cumulative_saving(base, prog, payer, h)
            np.testing.assert_allclose(bridge.values[:, j, k, -1], sim, rtol=1e-9, atol=1e-3)


def test_the_payoff_style_estimate_differs_from_the_simulated_one_by_named_mechanisms(runs):
    base, prog, bridge = runs
    t = bridge.table("prog")
    m = t[(t["payer"] == "municipality") & (t["horizon_months"] == 48)].set_index("step")["mean"]
    assert list(m.index) == [s for s, _ in BRIDGE_STEPS]
    # People leave assistance on their own in the baseline: the static counterfactual
    # overstates what the municipality saves.
    assert m["leave_for_work_or_studies"] < 0
    assert m["payoff_style"] > m["simulated"]
    lines = explain(t, "prog", 48, "municipality")
    assert lines[0].startswith("Payoff-style estimate") and lines[-1].startswith("almsim's simulated estimate")


def test_a_programme_nobody_enters_has_every_step_zero():
    silent = dict(PROGRAMME, referral_rate_per_month=0.0)
    base = replicate(scenario([], name="base", **SMALL), 1, 2)
    prog = replicate(scenario([silent], name="silent", **SMALL), 1, 2)
    bridge = payoff_bridge(base, prog)
    assert np.abs(bridge.values).max() < 1e-6
