"""The compiled kernels (sim.engine.kernels) compute exactly what the numpy reference path computes.

A run with numba and a run without must give the same people the same moves in the same
months and the same money: the numpy path is the readable reference, and it is what runs
where numba is missing (or with ALMSIM_ENGINE=numpy).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import ProgrammeModel, load_scenario
from sim.accounts.book import grouping_key
from sim.accounts.rules import LedgerInput
from sim.engine import kernels
from sim.engine.streams import Streams
from sim.scenario.stages import Stage

ROOT = Path(__file__).resolve().parents[1]
needs_numba = pytest.mark.skipif(kernels.select is None, reason="numba is not installed")


def _run(path: Path, compiled: bool, seed: int, overrides: list[str]) -> ProgrammeModel:
    model = ProgrammeModel(load_scenario(path, overrides), rng=seed)
    model.compiled = compiled
    model.run()
    return model


def _same_runs(a: ProgrammeModel, b: ProgrammeModel) -> None:
    assert len(a.rec.events) == len(b.rec.events)
    for ea, eb in zip(a.rec.events, b.rec.events, strict=True):
        assert ea[0] == eb[0]
        for x, y in zip(ea[1:], eb[1:], strict=True):
            np.testing.assert_array_equal(x, y)
    assert a.rec.ledger == b.rec.ledger  # floats compared exactly
    assert a.rec.exits == b.rec.exits and a.rec.starts == b.rec.starts
    np.testing.assert_array_equal(np.array(a.rec.stocks), np.array(b.rec.stocks))


@needs_numba
@pytest.mark.parametrize("name", ["c2-lycksele", "sigtuna-resursjobb", "umea-insteget", "traning-ger-fardighet",
                                  "mjolby", "national"])
def test_compiled_run_equals_numpy_run(name: str) -> None:
    path = ROOT / "scenarios" / f"{name}.yaml"
    _same_runs(_run(path, False, 11, []), _run(path, True, 11, []))


@needs_numba
def test_compiled_equals_numpy_at_scale_with_grouped_ledger() -> None:
    # 30,000 people: the ledger groups people by state (the compiled key path) and the
    # hazard pass meets every stage, queues, budgets and the guarantee clocks.
    overrides = ["population.cohort.size=30000", "population.inflow.people_per_month=300", "horizon_months=48"]
    path = ROOT / "scenarios" / "national-scale.yaml"
    _same_runs(_run(path, False, 4, overrides), _run(path, True, 4, overrides))


@needs_numba
def test_kernel_draws_are_the_streams_draws() -> None:
    streams = Streams(123)
    ids = np.arange(0, 5000, 7, dtype=np.int64)
    base = streams.base("transition", 17)
    expected = streams.uniform("transition", 17, ids)
    got = np.array([kernels._uniform(base, int(i)) for i in ids])
    np.testing.assert_array_equal(got, expected)


@needs_numba
def test_select_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    stage = rng.integers(0, len(Stage), 10_000).astype(np.uint8)
    moved = rng.random(10_000) < 0.1
    wanted = rng.random(len(Stage)) < 0.5
    np.testing.assert_array_equal(kernels.select(stage, moved, wanted), np.flatnonzero(wanted[stage] & ~moved))


@needs_numba
def test_ledger_keys_match_grouping_key() -> None:
    rng = np.random.default_rng(1)
    n = 5_000
    stage = rng.integers(0, len(Stage), n).astype(np.uint8)
    programme = rng.integers(-1, 3, n).astype(np.int8)
    in_guarantee = rng.random(n) < 0.5
    job_days = rng.choice([0.0, 300.0, 450.0, 600.0], n).astype(np.float32)
    birth = rng.integers(-400, 0, n).astype(np.int32)
    x = LedgerInput(stage=stage, programme=programme, household=rng.integers(0, 4, n).astype(np.uint8),
                    children=rng.integers(0, 20, n).astype(np.uint8), age_years=None,
                    ui_entitled=rng.random(n) < 0.5,
                    ui_days=rng.choice([0.0, 199.5, 200.0, 300.0], n).astype(np.float32),
                    in_guarantee=in_guarantee, reference_wage=(rng.random(n) * 30000).astype(np.float32),
                    fas3_placement=(stage == Stage.FAS3) | (in_guarantee & (job_days >= 450.0)
                                                            & (stage >= Stage.WAITING) & (stage <= Stage.EDUCATION)),
                    under_26=birth > -312)
    got = kernels.ledger_keys(x.stage, x.programme, x.household, x.children, x.ui_entitled, x.ui_days,
                              x.in_guarantee, job_days, x.reference_wage, birth, -312, np.float32(450.0))
    np.testing.assert_array_equal(got, grouping_key(x))


def test_engine_switch_turns_numba_off() -> None:
    env = dict(os.environ, ALMSIM_ENGINE="numpy")
    out = subprocess.run([sys.executable, "-c", "import sim.engine.kernels as k; print(k.ENABLED)"], env=env,
                         capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("compiled", [False, pytest.param(True, marks=needs_numba)])
def test_an_illegal_move_fails_loudly_and_writes_nothing(compiled: bool) -> None:
    from sim.engine import moves

    model = ProgrammeModel(load_scenario(ROOT / "scenarios" / "c2-lycksele.yaml"), rng=0)
    model.compiled = compiled
    model.run(12)
    gone = np.flatnonzero(model.pop.stage == Stage.OTHER)[:1]  # 'other' is absorbing
    working = np.flatnonzero(model.pop.stage == Stage.WORK)[:1]
    assert gone.size and working.size
    ids = np.concatenate([working, gone])
    before = model.pop.stage.copy()
    with pytest.raises(AssertionError, match="illegal move other -> open"):
        moves._apply(model, ids, np.array([Stage.OPEN, Stage.OPEN], np.uint8))
    np.testing.assert_array_equal(model.pop.stage, before)


@needs_numba
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), staff=st.integers(0, 5), referral=st.floats(0, 1), duration=st.integers(1, 24),
       slots=st.integers(0, 80), budget=st.one_of(st.none(), st.floats(0, 2e6)), size=st.integers(0, 400),
       motivation_loss=st.floats(0, 0.3), ui_share=st.floats(0, 1))
def test_compiled_equals_numpy_for_random_programmes(seed, staff, referral, duration, slots, budget, size,
                                                     motivation_loss, ui_share) -> None:
    from factories import JOBS, PROGRAMME, merge, scenario

    coach = merge(PROGRAMME, {"capacity": {"staff": {"2012-01": staff, "2012-07": max(staff - 1, 0)},
                                           "caseload_per_staff": 10},
                              "referral_rate_per_month": referral, "max_duration_months": duration,
                              "motivation_loss_per_waiting_month": motivation_loss})
    if budget is None:
        coach.pop("budget_sek_per_year", None)
    else:
        coach["budget_sek_per_year"] = {"municipality": {"2012-01": budget, "2013-01": budget / 2}}
    jobs = merge(JOBS, {"capacity": {"slots": slots}})
    scn = scenario([coach, jobs], population={"cohort": {"size": size},
                                              "composition": {"ui_entitled_share": ui_share}}, horizon_months=30)
    runs = []
    for compiled in (False, True):
        model = ProgrammeModel(scn, rng=seed)
        model.compiled = compiled
        model.run()
        runs.append(model)
    _same_runs(*runs)
