"""Calibration: targets and their statistics, spaces, jobs, the fit, and calibrated scenarios."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibration.fit import Simulator, fit, load_job, load_space
from sim.calibration.targets import Target, deviance, load_targets, shares, simulate_target
from sim.present.calibration_report import write_results
from sim.runs.posterior import replication_scenarios
from sim.runs.replications import replicate, simulate
from sim.scenario.errors import ScenarioError
from sim.scenario.load import build, load_scenario, parse_file
from sim.scenario.paths import apply_values, get_value, set_value, with_values

ROOT = Path(__file__).resolve().parents[1]
CAL = ROOT / "calibration"
C2 = ROOT / "scenarios" / "c2-lycksele.yaml"


@pytest.fixture  # (one short run: per test, so the tests of this file run side by side)
def c2_run():
    scenario = load_scenario(C2, ["horizon_months=30"])
    return scenario, simulate(scenario, 3, record_events=True)


# ------------------------------------------------------------------ files
@pytest.mark.parametrize("job", sorted(p.name for p in CAL.glob("*.yaml")))
def test_every_calibration_job_loads(job):
    j = load_job(CAL / job)
    assert j.targets.targets
    for t in j.targets.targets:
        assert t.source, f"{t.name} has no source"
        assert t.definition, f"{t.name} has no definition in model terms"


def write_fit(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201
    """Fit and write the results folder, as `almsim calibrate` does."""
    res = fit(*args, **kwargs)
    write_results(res)
    return res


def test_goals_are_never_fitted_and_outcomes_are():
    job = load_job(CAL / "c2.yaml")
    fitted = {t.name for t in job.outcome_targets()}
    assert "c2_self_supporting_12m" not in fitted and "c2_survey_social_assistance" not in fitted
    assert {"c2_enrolled", "c2_exit_destinations", "c2_follow_up_6m"} <= fitted
    assert "c2_follow_up_6m" not in {t.name for t in job.outcome_targets(["c2_follow_up_6m"])}


def test_c2_space_is_small_and_paths_exist():
    space = load_space(CAL / "spaces" / "c2.yaml")
    assert 5 <= len(space.parameters) <= 10
    doc, _ = parse_file(C2)
    for p in space.parameters:
        for path in p.paths:
            get_value(doc, path)


def test_bad_target_file_names_the_target(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("targets:\n  - {name: x, kind: outcome, statistic: nope, likelihood: binomial, value: 1, n: 2}\n")
    with pytest.raises(ScenarioError, match="targets.x.statistic: unknown statistic 'nope'"):
        load_targets(f)
    f.write_text("targets:\n  - {name: x, kind: outcome, statistic: enrolled, likelihood: multinomial,\n"
                 "     args: {categories: {a: [work], b: '*'}}, value: {a: 1, c: 2}}\n")
    with pytest.raises(ScenarioError, match="must match args.categories"):
        load_targets(f)


# ------------------------------------------------------------------ statistics
def test_exit_destinations_from_events_equal_from_flows(c2_run):
    scenario, result = c2_run
    t = load_targets(CAL / "targets" / "c2-lycksele.yaml").get("c2_exit_destinations")
    with_events = simulate_target(t, result, scenario)
    no_events = simulate(scenario, 3, record_events=False)
    assert no_events.tables["events"].empty
    np.testing.assert_array_equal(with_events, simulate_target(t, no_events, scenario))
    exited = simulate_target(load_targets(CAL / "targets" / "c2-lycksele.yaml").get("c2_exited"), result, scenario)
    # every exit has a destination ('rest' takes the others); the flows also count people moved out of
    # coaching by the pension-age rule, which the engine does not record as programme exits
    assert 0 <= with_events.sum() - exited[0] <= 2


def test_enrolment_and_follow_up_are_consistent(c2_run):
    scenario, result = c2_run
    ts = load_targets(CAL / "targets" / "c2-lycksele.yaml")
    starts, arrived = simulate_target(ts.get("c2_enrolled"), result, scenario)
    assert arrived == 174 and 0 < starts <= arrived
    before, by = simulate_target(ts.get("c2_exited_6m_earlier"), result, scenario)
    assert 0 < before <= by
    fu = simulate_target(ts.get("c2_follow_up_6m"), result, scenario)
    assert fu.sum() == before  # everyone who left by 2008-12 is measured 6 months later, by 2009-06


def test_deviance_is_smallest_at_the_reported_shares():
    t = Target(name="x", kind="outcome", statistic="enrolled", args={}, likelihood="binomial", value=40, n=100)
    assert deviance(t, np.array([40, 100])) < 0.05
    assert deviance(t, np.array([40, 100])) < deviance(t, np.array([30, 100])) < deviance(t, np.array([10, 100]))
    m = Target(name="m", kind="outcome", statistic="exit_destinations", args={}, likelihood="multinomial",
               value={"a": 40, "b": 60}, n=100)
    assert deviance(m, np.array([80, 120])) < 0.05 < deviance(m, np.array([60, 40]))
    assert np.allclose(shares(m, np.array([1, 3])), [0.25, 0.75])
    n = Target(name="n", kind="outcome", statistic="stock", args={}, likelihood="normal", value=10.0, sd=2.0)
    assert deviance(n, np.array([14.0])) == pytest.approx(4.0)


# ------------------------------------------------------------------ parameters
def test_set_value_keeps_the_parameter_form():
    doc, _ = parse_file(C2)
    before = doc["transitions"]["open"]["work"]["value"]
    assert before != 0.07
    out = apply_values(doc, {"programmes.c2.capacity.staff": 2, "transitions.open.work": 0.07,
                             "population.composition.employability_sd": 0.9})
    assert out["programmes"][0]["capacity"]["staff"]["value"] == 2  # dated steps replaced
    assert "source" in out["programmes"][0]["capacity"]["staff"]
    assert out["transitions"]["open"]["work"]["value"] == 0.07
    assert doc["transitions"]["open"]["work"]["value"] == before  # the input is not changed
    sc = build(out)
    assert sc.programme("c2").capacity.staff.at(sc.start_month + 30) == 2
    with pytest.raises(KeyError, match="no item named 'c3'"):
        set_value(out, "programmes.c3.max_duration_months", 3)
    with pytest.raises(KeyError, match="no key 'wrok'"):
        set_value(out, "transitions.open.wrok", 0.1)


def test_a_dated_step_is_set_after_the_whole_value_and_keeps_the_months_before():
    doc, _ = parse_file(C2)
    # the step first: apply_values still sets the whole value before it, so the step survives
    out = apply_values(doc, {"programmes.c2.lock_in_hazard_ratio@2009-01": 0.5,
                             "programmes.c2.lock_in_hazard_ratio": 2.0,
                             "programmes.c2.capacity.staff@2009-06": 1.0})
    sc = build(out)
    c2 = sc.programme("c2")
    assert c2.lock_in_hazard_ratio.at(sc.start_month) == 2.0
    assert c2.lock_in_hazard_ratio.at(sc.start_month + 24) == 0.5  # 2009-01 on
    assert c2.lock_in_hazard_ratio.source == doc["programmes"][0]["lock_in_hazard_ratio"]["source"]
    staff = c2.capacity.staff  # a step added to a dated value keeps the other steps
    assert [staff.at(sc.start_month + k) for k in (0, 10, 21, 24, 29)] == [3.0, 2.75, 1.75, 2.75, 1.0]
    assert get_value(out, "programmes.c2.capacity.staff@2008-12") == 1.75
    assert get_value(out, "programmes.c2.capacity.staff@2006-01") == 3.0  # before the first date: the first
    with pytest.raises(ValueError, match="path@YYYY-MM"):
        set_value(out, "programmes.c2.lock_in_hazard_ratio@2009", 1.0)
    with pytest.raises(KeyError, match="not a number"):
        set_value(out, "programmes.c2.exit_rates_per_month@2009-01", 1.0)


def test_a_scaled_step_moves_the_fitted_value_from_its_month_on(tmp_path):
    f = tmp_path / "space.yaml"
    f.write_text("parameters:\n"
                 "  - {name: hr, path: programmes.c2.lock_in_hazard_ratio,\n"
                 "     prior: {distribution: uniform, low: 1, high: 3}}\n"
                 "  - name: later\n"
                 "    paths: [programmes.c2.lock_in_hazard_ratio@2009-01,\n"
                 "            programmes.c2.exit_rates_per_month.other@2009-01]\n"
                 "    transform: scale\n"
                 "    prior: {distribution: loguniform, low: 0.2, high: 2}\n")
    space = load_space(f)
    doc, _ = parse_file(C2)
    values = space.path_values({"hr": 2.0, "later": 0.5}, [doc])
    assert list(values)[-2:] == ["programmes.c2.lock_in_hazard_ratio@2009-01",
                                 "programmes.c2.exit_rates_per_month.other@2009-01"]
    assert values["programmes.c2.lock_in_hazard_ratio@2009-01"] == 1.0  # 0.5 x the fitted 2.0
    other = get_value(doc, "programmes.c2.exit_rates_per_month.other")
    assert values["programmes.c2.exit_rates_per_month.other@2009-01"] == pytest.approx(0.5 * other)
    f.write_text("parameters:\n  - {name: x, path: programmes.c2.lock_in_hazard_ratio@09-2009,\n"
                 "     prior: {distribution: uniform, low: 1, high: 3}}\n")
    with pytest.raises(ScenarioError, match=r"parameters\.x\.path: .*path@YYYY-MM"):
        load_space(f)


def test_the_held_back_target_never_enters_the_distance():
    job = load_job(CAL / "c2.yaml")
    held = job.held_back[0]
    sim = Simulator(job, job.outcome_targets([held]))
    assert held not in {t.name for t in sim.targets}
    mid = {p.name: float(p.prior.from_unit(np.mean(p.prior.unit_bounds))) for p in job.space.parameters}
    stats = sim(mid, 1)
    assert held not in stats
    full = Simulator(job, job.outcome_targets())
    both = full(mid, 1)
    assert full.distance(both) > sim.distance(stats)  # the same run, one target fewer


def test_the_committed_c2_job_has_no_wall_clock_cap():
    job = load_job(CAL / "c2.yaml")
    assert job.method["max_minutes"] is None  # the committed fit stops on its counts alone


def test_with_values_validates():
    sc = load_scenario(C2)
    with pytest.raises(ScenarioError):
        with_values(sc, {"transitions.open.work": 2.0})  # a monthly rate above 1


# ------------------------------------------------------------------ the fit
def test_simulator_distance_is_finite_and_invalid_sets_are_infinite():
    job = load_job(CAL / "c2.yaml")
    sim = Simulator(job, job.outcome_targets())
    mid = {p.name: float(p.prior.from_unit(np.mean(p.prior.unit_bounds))) for p in job.space.parameters}
    assert np.isfinite(sim.distance(sim(mid, 1)))
    bad = dict(mid, studies_rate=5.0)  # a rate above 1: not a valid scenario
    assert sim.distance(sim(bad, 1)) == np.inf


def test_quick_fit_writes_posterior_report_and_held_back(tmp_path):
    job = load_job(CAL / "c2.yaml")
    job.method.update(population_size=16, max_generations=2, max_simulations=120, draws=8,
                      as_written_replications=4)
    out = tmp_path / "c2"
    res = write_fit(job, out, workers=1, work=tmp_path / "work", progress=False, log=lambda s: None)
    post = pd.read_parquet(out / "posterior.parquet")
    assert len(post) == 8 and "programmes.c2.lock_in_hazard_ratio" in post
    assert {"programmes.c2.exit_rates_per_month.training", "programmes.c2.exit_rates_per_month.subsidised"} <= set(post)
    assert (post["programmes.c2.max_duration_months"] % 1 == 0).all()  # whole months
    report = (out / "fit_report.md").read_text()
    for t in job.targets.targets:
        assert t.name in report
    assert (out / "fit.png").stat().st_size > 1000 and (out / "posterior.png").is_file()
    assert res.population["weight"].sum() == pytest.approx(1.0)
    table = pd.read_csv(out / "targets.csv")
    assert set(table["target"]) == {t.name for t in job.targets.targets}
    goal = table[table["kind"] == "goal"].iloc[0]
    assert 0.0 <= goal["post_p_reach"] <= 1.0
    # held back: fit without the follow-up, and its prediction shows up in the main report
    held = write_fit(job, out / "held-back" / "c2_follow_up_6m", leave_out=["c2_follow_up_6m"], workers=1,
               work=tmp_path / "work", progress=False, log=lambda s: None)
    assert "c2_follow_up_6m" not in held.meta["fitted_targets"]
    from sim.present.calibration_report import rewrite_report

    rewrite_report(res)
    assert "## Held-back check" in (out / "fit_report.md").read_text()


def test_check_job_without_parameters_only_compares(tmp_path):
    job = load_job(CAL / "sigtuna.yaml")
    job.method.update(as_written_replications=3)
    res = write_fit(job, tmp_path / "sig", workers=1, work=tmp_path / "work", progress=False, log=lambda s: None)
    assert res.posterior is None and not (tmp_path / "sig" / "posterior.parquet").exists()
    table = pd.read_csv(tmp_path / "sig" / "targets.csv")
    sa = table[table["target"] == "jobblyftet_social_assistance_year"].iloc[0]
    assert 10 < sa["written_median"] < 25  # MSEK, near the reported 15.8


def test_cli_calibrate_quick(tmp_path, capsys, monkeypatch):
    import sim.cli.calibrate  # noqa: F401 - registers the subcommands
    import sim.cli.main

    monkeypatch.chdir(tmp_path)  # the command's work files go to ./outputs/

    code = sim.cli.main.main(["calibrate", str(CAL / "traning-ger-fardighet.yaml"), "--quick", "--out", str(tmp_path),
                         "--workers", "1", "-q"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "goal tgf_work_or_education" in out and "P(reached)" in out
    assert sim.cli.main.main(["calibrate", str(CAL / "c2.yaml"), "--leave-out", "nope", "-q"]) == 2


# ------------------------------------------------------------------ calibrated scenarios
def _fake_posterior(root: Path, n: int = 4) -> None:
    folder = root / "calibration" / "results" / "c2"
    folder.mkdir(parents=True)
    pd.DataFrame({"draw": np.arange(n), "programmes.c2.lock_in_hazard_ratio": 0.5 + np.arange(n),
                  "programmes.c2.max_duration_months": 12 + np.arange(n)}).to_parquet(folder / "posterior.parquet")


def test_calibrated_scenario_replications_use_different_draws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _fake_posterior(tmp_path)
    sc = load_scenario(ROOT / "scenarios" / "c2-lycksele-calibrated.yaml", ["horizon_months=30"])
    assert sc.parameters is not None and sc.parameters.from_calibration == "c2"
    scenarios, info = replication_scenarios(sc, 7, 4)
    hr = sorted(s.programme("c2").lock_in_hazard_ratio.first for s in scenarios)
    assert hr == [0.5, 1.5, 2.5, 3.5]  # 4 replications, 4 draws: each draw once
    assert sorted(info["draws"]) == [0, 1, 2, 3]
    assert all(s.parameters is None for s in scenarios)
    assert scenarios[0].programme("c2").lock_in_hazard_ratio.status == "calibrated"
    again, info2 = replication_scenarios(sc, 7, 6)
    assert info2["draws"][:4] == info["draws"] and info2["draws"][4:] == info["draws"][:2]  # cycled
    ens = replicate(sc, 7, 2, record_events=False)
    assert ens.parameter_draws["draws"] == info["draws"][:2]
    path = ens.save(tmp_path / "out")
    assert json.loads((path / "manifest.json").read_text())["parameter_draws"]["from_calibration"] == "c2"


def test_missing_calibration_is_a_clean_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sc = load_scenario(ROOT / "scenarios" / "c2-lycksele.yaml", ["parameters={from_calibration: nowhere}"])
    with pytest.raises(ScenarioError, match="calibration 'nowhere' has no posterior.parquet"):
        replicate(sc, 0, 1)


def test_committed_c2_posterior_drives_the_calibrated_scenario():
    if not (CAL / "results" / "c2" / "posterior.parquet").is_file():
        pytest.skip("no committed C2 calibration")
    post = pd.read_parquet(CAL / "results" / "c2" / "posterior.parquet")
    sc = load_scenario(ROOT / "scenarios" / "c2-lycksele-calibrated.yaml")
    scenarios, info = replication_scenarios(sc, 0, 5)
    paths = set(info["paths"])
    assert "programmes.c2.lock_in_hazard_ratio" in paths and len(post) >= 100
    assert len(set(info["draws"])) == 5  # five replications, five different draws
    col = post.set_index("draw")["programmes.c2.lock_in_hazard_ratio"]
    # each replication runs with its own draw's value (draws may repeat a particle of the last
    # ABC population, so two draws can hold the same value; not all five do)
    values = [s.programme("c2").lock_in_hazard_ratio.first for s in scenarios]
    assert values == [col[d] for d in info["draws"]] and len(set(values)) > 1
    later = post.set_index("draw")["programmes.c2.lock_in_hazard_ratio@2009-01"]
    month = scenarios[0].start_month + 24  # 2009-01: the dated step of the draw is in force
    assert [s.programme("c2").lock_in_hazard_ratio.at(month) for s in scenarios] == [later[d] for d in info["draws"]]


def test_sweep_over_a_calibrated_scenario_uses_the_draws_of_run(tmp_path, monkeypatch):
    from sim.runs.sweep import Sweep

    monkeypatch.chdir(tmp_path)
    _fake_posterior(tmp_path)
    doc, _ = parse_file(ROOT / "scenarios" / "c2-lycksele-calibrated.yaml", ["horizon_months=30"])
    sweep = Sweep(doc, [{}, {"programmes.c2.max_duration_months": 30}], tmp_path / "s", replications=3, seed=7,
                  summary=False)
    sc = load_scenario(ROOT / "scenarios" / "c2-lycksele-calibrated.yaml", ["horizon_months=30"])
    _, info = replication_scenarios(sc, 7, 3)
    assert sweep.draw_info["draws"] == info["draws"]
    res = sweep.results()
    first = res[res["set"] == 0]["programmes.c2.lock_in_hazard_ratio"].tolist()
    assert first == [0.5 + d for d in info["draws"]]
    assert (res[res["set"] == 1]["programmes.c2.max_duration_months"] == 30).all()  # the set's value wins


# ------------------------------------------------------------------ batched particles
def test_particles_simulated_as_a_batch_give_each_particles_own_statistics():
    job = load_job(CAL / "c2.yaml")
    sim = Simulator(job, job.outcome_targets())
    rng = np.random.default_rng(3)
    values = [{p.name: float(p.prior.from_unit(rng.uniform(*p.prior.unit_bounds))) for p in job.space.parameters}
              for _ in range(3)]
    values.append({**values[0], "caseload_per_coach": -5.0})  # an invalid scenario: NaN, the others unharmed
    seeds = [11, 12, 13, 14]
    batched = sim.simulate_paths([(sim.path_values(v), s) for v, s in zip(values, seeds, strict=True)])
    for v, s, got in zip(values, seeds, batched, strict=True):
        want = sim(v, s)
        assert want.keys() == got.keys()
        for name in want:
            np.testing.assert_array_equal(got[name], want[name])
    assert all(np.isnan(x).all() for x in batched[-1].values())
    assert not any(np.isnan(x).any() for x in batched[0].values())


def test_a_batched_fit_is_the_same_with_one_or_two_workers(tmp_path):
    job = load_job(CAL / "c2.yaml")
    job.method.update(population_size=12, max_generations=2, max_simulations=80, draws=4, as_written_replications=2,
                      batch_particles=8)
    runs = [fit(job, tmp_path / f"w{w}", workers=w, work=tmp_path / f"work{w}", progress=False, log=lambda s: None)
            for w in (1, 2)]
    pd.testing.assert_frame_equal(runs[0].population, runs[1].population)
    pd.testing.assert_frame_equal(runs[0].predictive, runs[1].predictive)
    assert runs[0].meta["simulations"] == runs[1].meta["simulations"] >= 12


def test_a_fit_folder_is_written_all_or_nothing_and_keeps_its_held_back_fits(tmp_path, monkeypatch):
    import sim.present.calibration_report as report

    job = load_job(CAL / "sigtuna.yaml")
    job.method.update(as_written_replications=2)
    folder = tmp_path / "sig"
    res = write_fit(job, folder, workers=1, work=tmp_path / "work", progress=False, log=lambda s: None)
    (folder / "held-back" / "x").mkdir(parents=True)
    (folder / "held-back" / "x" / "meta.json").write_text("{}")
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}

    def fail_half_way(result, out):  # a full disk or Ctrl-C after the first file
        (out / "targets.csv").write_text("half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "_write_into", fail_half_way)
    with pytest.raises(OSError):
        report.write_results(res)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".sig")]  # no temporary left
    monkeypatch.undo()
    report.write_results(res)
    assert (folder / "held-back" / "x" / "meta.json").read_text() == "{}"  # held-back fits kept


# ------------------------------------------------------------------ a particle's scenario, built cheaply
@pytest.mark.parametrize("job_file", ["c2.yaml", "national-assistance.yaml", "national.yaml"])
def test_a_particles_scenario_rebuilt_from_its_parts_equals_a_full_build(job_file):
    from sim.scenario.load import rebuild
    from sim.scenario.paths import apply_values_shared

    job = load_job(CAL / job_file)
    sim = Simulator(job, job.outcome_targets())
    rng = np.random.default_rng(5)
    for spec in job.scenarios.values():
        doc = spec.doc
        written = json.dumps(doc, sort_keys=True, default=str)
        base = build(doc)
        for _ in range(5):
            values = {p.name: float(p.prior.from_unit(rng.uniform(*p.prior.unit_bounds))) for p in job.space.parameters}
            paths = sim.path_values(values)
            shared = apply_values_shared(doc, paths)
            assert shared == apply_values(doc, paths, skip_missing=True)
            fast, full = rebuild(base, shared, paths), build(shared)
            assert fast == full and fast.model_dump() == full.model_dump()
            assert fast.model_fields_set == full.model_fields_set
        assert json.dumps(doc, sort_keys=True, default=str) == written  # the job's document is never changed


def test_an_invalid_particle_is_refused_by_the_cheap_build_as_by_the_full_one():
    from sim.scenario.load import rebuild
    from sim.scenario.paths import apply_values_shared

    job = load_job(CAL / "c2.yaml")
    doc = job.scenarios["c2"].doc
    paths = {"programmes.c2.capacity.caseload_per_staff": -5.0}
    bad = apply_values_shared(doc, paths)
    with pytest.raises(ScenarioError):
        build(bad)
    with pytest.raises(ScenarioError):
        rebuild(build(doc), bad, paths)


def test_statistics_read_from_a_runs_records_equal_those_read_from_its_saved_tables(tmp_path):
    from sim.runs.results import RunResult

    for job_file in ("c2.yaml", "national-assistance.yaml"):
        job = load_job(CAL / job_file)
        for key, spec in job.scenarios.items():
            scenario = build(spec.doc)
            if scenario.horizon_months > 60 and job_file != "c2.yaml":
                scenario = build({**spec.doc, "horizon_months": 60, "start_month": spec.doc["start_month"]})
            result = simulate(scenario, 4)
            loaded = RunResult.load(result.save(tmp_path / f"{job.name}-{key}"))
            assert loaded.records is None
            for t in job.targets.targets:
                if job.scenario_of(t) != key:
                    continue
                try:
                    want = simulate_target(t, loaded, scenario)
                except ValueError:  # a target year beyond the shortened run
                    continue
                np.testing.assert_array_equal(simulate_target(t, result, scenario), want)


def test_target_summary_quantiles_and_median_deviance_whatever_the_row_order():
    job = load_job(CAL / "c2.yaml")
    binom, multi = job.targets.get("c2_enrolled"), job.targets.get("c2_exit_destinations")
    rng = np.random.default_rng(5)
    rows, devs = [], {binom.name: [], multi.name: []}
    for d in range(9):
        ok = int(rng.integers(120, 170))
        rows.append(("posterior", d, binom.name, "share", ok / 174, 174.0))
        devs[binom.name].append(deviance(binom, np.array([ok / 174 * 174.0, 174.0])))
        counts = rng.integers(5, 40, size=len(multi.categories)).astype(float)
        rows += [("posterior", d, multi.name, c, x / counts.sum(), counts.sum())
                 for c, x in zip(multi.categories, counts, strict=True)]
        devs[multi.name].append(deviance(multi, counts / counts.sum() * counts.sum()))
    rows += [("as_written", d, binom.name, "share", 0.5, 174.0) for d in range(3)]
    pred = pd.DataFrame(rows, columns=["source", "draw", "target", "category", "value", "trials"])
    from sim.present.calibration_report import target_summary

    summary = target_summary(job, pred)
    shuffled = target_summary(job, pred.sample(frac=1.0, random_state=1).reset_index(drop=True))
    pd.testing.assert_frame_equal(summary, shuffled)
    by = summary.set_index("label")
    assert by.loc[binom.name, "deviance"] == pytest.approx(np.median(devs[binom.name]))
    assert by.loc[f"{multi.name}: {multi.categories[0]}", "deviance"] == pytest.approx(np.median(devs[multi.name]))
    share = pred[(pred["target"] == binom.name) & (pred["source"] == "posterior")]["value"] * 100
    assert by.loc[binom.name, "post_median"] == pytest.approx(share.median())
    assert by.loc[binom.name, "written_median"] == pytest.approx(50.0)
    assert np.isnan(by.loc[f"{multi.name}: {multi.categories[0]}", "written_median"])  # no as-written runs


def test_the_cheap_build_refuses_a_huge_number_at_any_of_the_new_values():
    from sim.scenario.load import rebuild
    from sim.scenario.paths import apply_values_shared

    job = load_job(CAL / "c2.yaml")
    doc = job.scenarios["c2"].doc
    paths = {"programmes.c2.lock_in_hazard_ratio": 0.9, "programmes.c2.max_duration_months": 10**30}
    with pytest.raises(ScenarioError, match="too large"):
        rebuild(build(doc), apply_values_shared(doc, paths), paths)


def test_particles_that_cannot_share_a_model_are_simulated_in_groups_that_can():
    """The national assistance fit draws the inflow's size per particle, which the blocks of one
    batched model cannot differ in: its particles run as one model per size, each with its own
    statistics (this job failed with a batch error before)."""
    from sim.runs.replications import batch_groups

    job = load_job(CAL / "national-assistance.yaml")
    sim = Simulator(job, job.outcome_targets())
    rng = np.random.default_rng(5)
    values = [{p.name: float(p.prior.from_unit(rng.uniform(*p.prior.unit_bounds))) for p in job.space.parameters}
              for _ in range(3)]
    values.append({**values[0], "employability_sd": values[1]["employability_sd"]})  # the same inflow as the first
    seeds = [21, 22, 23, 24]
    runs = [(sim.path_values(v), s) for v, s in zip(values, seeds, strict=True)]
    batched = sim.simulate_paths(runs)
    for v, s, got in zip(values, seeds, batched, strict=True):
        want = sim(v, s)
        for name in want:
            np.testing.assert_array_equal(got[name], want[name])
    key = next(iter(sim.by_scenario))
    from sim.scenario.load import build

    scenarios = [build(apply_values(job.scenarios[key].doc, p, skip_missing=True)) for p, _ in runs]
    assert sorted(map(sorted, batch_groups(scenarios))) == [[0, 3], [1], [2]]
