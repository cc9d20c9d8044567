"""The payoff-style estimate and the bridge to the simulated one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from factories import JOBS, PROGRAMME, scenario

from sim import replicate
from sim.accounts.payers import ALL_PAYERS
from sim.analysis.comparison import cumulative_saving
from sim.analysis.payoff import BRIDGE_STEPS, WRITTEN_OFF, _spread, explain, payoff_bridge

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
    assert list(m.index) == [s for s, _ in BRIDGE_STEPS] + [WRITTEN_OFF[0]]
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
    assert np.abs(bridge.written_off).max() < 1e-6


def test_writing_off_over_3_years_by_hand():
    # A 12-month job costing the organiser 10,000 SEK a month (wage + fees - subsidy): written
    # off over 36 months, month t of the year carries (t + 1) / 36 of a month's cost, so the
    # first year counts 10,000 * (1 + 2 + ... + 12) / 36 = 21,666.67 SEK instead of 120,000.
    cost = np.zeros((60, 1))
    cost[:12] = -10_000.0
    spread = _spread(cost)[:, 0]
    assert spread[:12].sum() == pytest.approx(-10_000 * 78 / 36)
    assert spread[:36].sum() == pytest.approx(-10_000 * (36 * 12 - 66) / 36)  # month j counts (36 - j) / 36
    assert spread.sum() == pytest.approx(-120_000.0)  # all of it, once 47 months have passed
    assert (spread[47:] == 0).all()


def test_the_write_off_lightens_the_first_year_for_those_who_pay_the_programme(runs):
    base, prog, bridge = runs
    t = bridge.table("prog")
    m = t[(t["payer"] == "municipality") & (t["horizon_months"] == 12)].set_index("step")["mean"]
    # the municipality pays the programme (staff, wages): spreading its cost over 3 years
    # leaves less of it in the first year
    assert m[WRITTEN_OFF[0]] > m["payoff_style"]
    lines = explain(t, "prog", 12, "municipality")
    assert any("written off over 3 years" in line for line in lines)


def test_the_participants_are_the_programmes_starters_from_records_and_from_the_table_alike():
    """Who counts as a participant: each person's first start, read from the run's records or
    from its events table (the same); not the waiting people who left a subsidised-job
    programme's list for an ordinary subsidised job (the same two stages, no start)."""
    from sim import load_scenario
    from sim.analysis.payoff import _people, _starts
    from sim.runs.replications import simulate

    scn = load_scenario("scenarios/sigtuna-resursjobb.yaml", ["horizon_months=36"])
    r = simulate(scn, 5, record_events=True)
    n = _people(scn)
    first = _starts(r, scn.start_month, scn.horizon_months, n)
    from_table = _starts(dataclasses.replace(r, records=None), scn.start_month, scn.horizon_months, n)
    assert np.array_equal(first, from_table)
    assert (first >= 0).sum() == r.tables["queues"]["starts"].sum() > 0
    ev = r.tables["events"]
    left = ev[(ev["from_stage"] == "waiting") & (ev["to_stage"] == "subsidised") & ~ev["programme_start"]]
    months = pd.Index(r.tables["stocks"]["month"].unique())
    assert len(left) and (first[left["person"].to_numpy()] != months.get_indexer(left["month"])).all()
    assert (first[left["person"].to_numpy()] < 0).any()  # (some of them never start)


def test_a_large_populations_bridge_from_runs_again_equals_the_runs_own(monkeypatch):
    """Above a few thousand people the runs' books count their keys, so the bridge runs each pair
    again keeping everyone's keys (the same seeds, so the same runs): it gives what the runs' own
    books give when they are made to keep everyone's keys, to the bit."""
    from sim.accounts.book import LedgerBook

    big = {"population": {"cohort": {"size": LedgerBook.RAW_KEYS + 500}}, "horizon_months": 30}
    base_s, prog_s = scenario([], name="base", **big), scenario([PROGRAMME, JOBS], name="prog", **big)
    base, prog = replicate(base_s, 5, 2), replicate(prog_s, 5, 2, record_events=True)
    assert base.results[0].ledger_book.people(("municipality",)) is None  # (counted: the runs again)
    again = payoff_bridge(base, prog)
    monkeypatch.setattr(LedgerBook, "RAW_KEYS", 10**6)
    base, prog = replicate(base_s, 5, 2), replicate(prog_s, 5, 2, record_events=True)
    assert base.results[0].ledger_book.people(("municipality",)) is not None  # (everyone's keys kept)
    own = payoff_bridge(base, prog)
    np.testing.assert_array_equal(again.values, own.values)
    np.testing.assert_array_equal(again.written_off, own.written_off)
    assert np.abs(own.values).max() > 0
