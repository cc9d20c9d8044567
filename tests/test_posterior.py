"""Calibrated national defaults drawn per replication (issue 17 item 4): what transfers, where it
is drawn, --fixed-parameters, the pair's shared draw, run identity, and the parameters table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.analysis.assumptions import parameter_table, parameters_text
from sim.analysis.comparison import compare
from sim.calibration.fit import load_job
from sim.runs.identity import content_hash, run_id
from sim.runs.posterior import calibrated_defaults, replication_scenarios
from sim.runs.replications import replicate, simulate
from sim.scenario.errors import ScenarioError
from sim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
CAL = ROOT / "calibration"
BASE = ROOT / "scenarios" / "sigtuna-resursjobb-baseline.yaml"
JOBS = ROOT / "scenarios" / "sigtuna-resursjobb.yaml"
SMALL = ["horizon_months=30", "population.cohort.size=60"]
OPEN, SD = "transitions.open.work", "population.composition.employability_sd"
JOB_WORK, JOB_SUB = "transitions.job.work", "transitions.job.subsidised"
INFLOW = "population.inflow.people_per_month"


def _open_work(s):
    return s.transitions["open"]["work"].first


def _posterior(name: str) -> pd.DataFrame:
    return pd.read_parquet(CAL / "results" / name / "posterior.parquet")


def test_the_national_fits_declare_what_transfers():
    by_name = {t.calibration: t for t in calibrated_defaults()}
    assert set(by_name["national-assistance"].paths) == {OPEN, SD}
    assert set(by_name["national"].paths) == {JOB_WORK, JOB_SUB}
    assert INFLOW in _posterior("national-assistance").columns  # fitted, but that population's own
    assert load_job(CAL / "national-assistance.yaml").transfers == (OPEN, SD)
    for name in ("c2", "sigtuna", "umea"):
        assert name not in by_name  # a cohort's own fit lends nothing to other scenarios


def test_calibrated_defaults_are_drawn_by_default():
    sc = load_scenario(BASE)
    scenarios, info = replication_scenarios(sc, 0, 4)
    assert len({_open_work(s) for s in scenarios}) == 4  # four replications, four draws
    assert len({s.population.composition.employability_sd for s in scenarios}) == 4
    assert len({s.transitions["job"]["work"].first for s in scenarios}) == 4
    post = _posterior("national-assistance")
    drawn = {d["calibration"]: d for d in info["calibrated_defaults"]}
    assert set(drawn) == {"national-assistance", "national"}
    for s, d in zip(scenarios, drawn["national-assistance"]["draws"], strict=True):
        row = post[post["draw"] == d].iloc[0]
        assert _open_work(s) == pytest.approx(row[OPEN])
        assert s.population.composition.employability_sd == pytest.approx(row[SD])
        assert s.transitions["open"]["work"].status == "calibrated"
    again, info2 = replication_scenarios(sc, 0, 4)
    assert info2 == info and [_open_work(s) for s in again] == [_open_work(s) for s in scenarios]
    _, other_seed = replication_scenarios(sc, 1, 4)
    assert other_seed["calibrated_defaults"][0]["draws"] != drawn["national-assistance"]["draws"]


def test_fixed_parameters_keep_the_written_values():
    sc = load_scenario(BASE, SMALL)
    scenarios, info = replication_scenarios(sc, 0, 3, fixed_parameters=True)
    assert info is None and all(s is sc for s in scenarios)
    assert _open_work(sc) == 0.084 and sc.population.composition.employability_sd == 1.174
    fixed = replicate(sc, 5, 2, record_events=False, fixed_parameters=True)
    drawn = replicate(sc, 5, 2, record_events=False)
    one = simulate(sc, fixed.seeds[1], record_events=False)
    pd.testing.assert_frame_equal(fixed.results[1].tables["stocks"], one.tables["stocks"])
    assert fixed.parameter_draws is None and drawn.parameter_draws is not None
    assert not drawn.results[1].tables["stocks"].equals(one.tables["stocks"])


def test_the_pair_shares_the_draw():
    base, jobs = load_scenario(BASE, SMALL), load_scenario(JOBS, SMALL)
    b, bi = replication_scenarios(base, 3, 5)
    s, si = replication_scenarios(jobs, 3, 5)
    assert bi["calibrated_defaults"] == si["calibrated_defaults"]
    assert [_open_work(x) for x in b] == [_open_work(x) for x in s]
    assert [x.population.composition.employability_sd for x in b] == \
        [x.population.composition.employability_sd for x in s]
    c = compare(base, [jobs], seed=3, replications=2, sensitivity=False, bridge=False)
    table = c.parameters
    drawn = table[table["drawn"]]
    assert set(drawn["path"]) == {OPEN, SD, JOB_WORK, JOB_SUB}
    assert (drawn["scenarios"] == f"{base.name}, {jobs.name}").all()  # one row each: the same draws
    assert set(drawn["calibration"]) == {"national-assistance", "national"}
    assert (drawn["posterior_draws"] == 100).all() and (drawn["draws_used"] == 2).all()
    assert c.meta["fixed_parameters"] is False
    assert "calibrated, drawn per replication from fit national-assistance" in c.to_text()
    from sim.present.report import render_report

    html = render_report(c)
    assert "Calibrated parameters and priors" in html and "4 calibrated parameters are drawn" in html
    assert "calibration/national-assistance.yaml" in html


def test_a_path_that_does_not_transfer_is_never_drawn():
    inflow = "population.inflow={people_per_month: 40, from_month: 2012-01}"
    sc = load_scenario(ROOT / "scenarios" / "national.yaml", [*SMALL, inflow])
    scenarios, info = replication_scenarios(sc, 0, 6)
    assert {s.population.inflow.people_per_month.first for s in scenarios} == {40}
    assert all(INFLOW not in d["paths"] for d in info["calibrated_defaults"])
    assert len({_open_work(s) for s in scenarios}) == 6  # the transferable ones are drawn


def test_an_overridden_value_is_not_drawn():
    sc = load_scenario(BASE, [f"{OPEN}=0.07"])
    scenarios, info = replication_scenarios(sc, 0, 4)
    assert {_open_work(s) for s in scenarios} == {0.07}
    assert len({s.population.composition.employability_sd for s in scenarios}) == 4  # not overridden: drawn
    paths = {p for d in info["calibrated_defaults"] for p in d["paths"]}
    assert OPEN not in paths and SD in paths
    # The median itself written by --set is an override too (it has no calibrated source).
    same = load_scenario(BASE, [f"{OPEN}=0.084", f"{SD}=0.9", f"{JOB_WORK}=0.05", f"{JOB_SUB}=0.02"])
    scenarios, info = replication_scenarios(same, 0, 3)
    assert info is None and {_open_work(s) for s in scenarios} == {0.084}
    table = parameter_table([same], ["x"], [info])
    assert not table["drawn"].any()


def test_run_identity_includes_the_choice():
    sc = load_scenario(BASE)
    fixed, drawn = run_id(sc, 0, 20, fixed_parameters=True), run_id(sc, 0, 20)
    assert fixed == f"seed0-r20-{content_hash(sc)[:10]}"  # as before: the values as written
    assert drawn != fixed and drawn.startswith("seed0-r20-")
    own = load_scenario(BASE, [f"{OPEN}=0.07", f"{SD}=0.9", f"{JOB_WORK}=0.05", f"{JOB_SUB}=0.02"])
    assert run_id(own, 0, 20) == run_id(own, 0, 20, fixed_parameters=True)  # nothing drawn


def test_cli_run_fixed_parameters(tmp_path):
    def run(*extra):
        cmd = [sys.executable, "-m", "sim", "run", str(ROOT / "scenarios" / "national.yaml"), "-r", "2", "-q",
               "--out", str(tmp_path), "--no-events", *[x for s in SMALL for x in ("--set", s)], *extra]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert out.returncode == 0, out.stderr

    run("--fixed-parameters")
    run()
    manifests = [json.loads(p.read_text()) for p in sorted((tmp_path / "national").glob("*/manifest.json"))]
    assert len(manifests) == 2  # two folders: the choice is part of the run's identity
    by_choice = {m["fixed_parameters"]: m for m in manifests}
    assert "parameter_draws" not in by_choice[True]
    assert {d["calibration"] for d in by_choice[False]["parameter_draws"]["calibrated_defaults"]} == \
        {"national-assistance", "national"}


def test_parameters_text_names_fits_and_priors():
    sc = load_scenario(BASE)
    _, info = replication_scenarios(sc, 0, 3)
    table = parameter_table([sc], ["b"], [info])
    text = "\n".join(parameters_text(table))
    assert "from fit national (100 posterior draws, 3 used)" in text
    assert "priors (uncalibrated, fixed)" in text
    fixed = parameter_table([sc], ["b"], [None])
    assert set(fixed.loc[fixed["status"] == "calibrated", "path"]) >= {OPEN, SD, JOB_WORK, JOB_SUB}
    assert not fixed["drawn"].any()
    assert "calibrated, fixed at the written posterior median (national-assistance, national)" in \
        "\n".join(parameters_text(fixed))
    priors = table[table["status"] == "uncalibrated"]
    assert "transitions.open.studies" in set(priors["path"])


@pytest.mark.parametrize(("transfers", "message"), [
    ("[population.composition.registered_share]", "is not a path this job calibrates"),
    ("[transitions.open.work, transitions.open.work]", "is named twice"),
    ("[transitions.open.studies]", "has status 'uncalibrated'"),
    ("transitions.open.work", "expected a list"),
])
def test_bad_transfers_are_refused_with_file_line_and_key(tmp_path, transfers, message):
    text = (CAL / "national-assistance.yaml").read_text()
    start = text.index("transfers:")
    end = text.index("scenarios:")
    text = text[:start] + f"transfers: {transfers}\n" + text[end:]
    text = text.replace("targets: targets/", f"targets: {CAL}/targets/")
    text = text.replace("space: spaces/", f"space: {CAL}/spaces/")
    text = text.replace("file: ../scenarios/", f"file: {ROOT}/scenarios/")
    job = tmp_path / "job.yaml"
    job.write_text(text)
    line = text[:text.index("transfers:")].count("\n") + 1
    with pytest.raises(ScenarioError) as err:
        load_job(job)
    assert message in str(err.value)
    assert err.value.file == str(job) and err.value.line == line and err.value.key.startswith("transfers")


def test_each_drawn_scenario_equals_a_full_build_of_its_document():
    """The draws are applied by validating only what they change (``rebuild``): every
    replication's scenario equals a full build of its document, for scenarios with a cohort and
    with an inflow of their own composition."""
    from sim.scenario.load import build

    inflow = "population.inflow={people_per_month: 40, from_month: 2012-01, composition: {female_share: 0.3}}"
    for sc in (load_scenario(BASE), load_scenario(JOBS), load_scenario(ROOT / "scenarios" / "national.yaml",
                                                                       [*SMALL, inflow])):
        scenarios, _ = replication_scenarios(sc, 2, 5)
        for s in scenarios:
            doc = s.model_dump(mode="json")
            full = build(doc)
            assert s == full and s.model_dump() == full.model_dump() and content_hash(s) == content_hash(full)
        assert len({content_hash(s) for s in scenarios}) == 5
