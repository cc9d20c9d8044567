"""Sensitivity analysis: parameter ranges, Morris and Sobol through the sweep machinery, the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.calibration.sensitivity import run_sensitivity, uncalibrated_space
from sim.calibration.spaces import Parameter, Prior, Space
from sim.present.calibration_report import save_sensitivity
from sim.scenario.load import build, parse_file
from sim.scenario.paths import apply_values

pytest.importorskip("SALib")

ROOT = Path(__file__).resolve().parents[1]
C2 = ROOT / "scenarios" / "c2-lycksele.yaml"


@pytest.fixture(scope="module")
def doc():
    return parse_file(C2, ["horizon_months=30"])[0]


def test_uncalibrated_space_takes_only_uncalibrated_values_with_valid_ranges(doc):
    space = uncalibrated_space(doc)
    names = set(space.names)
    assert "programmes.c2.lock_in_hazard_ratio" in names and "transitions.open.studies" in names
    assert "transitions.open.work" not in names  # calibrated (calibration/national-assistance.yaml)
    assert "programmes.c2.capacity.starts_per_staff_per_month" not in names  # derived, not uncalibrated
    assert "rules.job_days_to_fas3" not in names  # a rule
    for p in space.parameters:
        assert p.prior.low < p.prior.high
        for v in (p.prior.low, p.prior.high):
            build(apply_values(doc, {p.paths[0]: int(round(v)) if p.integer else v}))


def _small_space() -> Space:
    return Space("small", (
        Parameter("work_hr", ("programmes.c2.lock_in_hazard_ratio",), Prior("loguniform", 0.5, 4.0)),
        Parameter("dropout", ("programmes.c2.exit_rates_per_month.dropout",), Prior("uniform", 0.001, 0.04)),
        Parameter("effect_after", ("programmes.c2.effect_after_hazard_ratio",), Prior("uniform", 0.8, 1.5)),
    ))


def test_morris_ranks_the_work_hazard_first_for_exits_to_work(doc, tmp_path):
    res = run_sensitivity(doc, _small_space(), "share_in_work_12m", method="morris", samples=6,
                          replications=2, store=tmp_path / "m", progress=False)
    assert list(res.table["rank"]) == [1, 2, 3]
    assert res.table.iloc[0]["parameter"] == "work_hr"
    # the after-effect cannot matter at month 12 for people still in coaching by much; it ranks below
    assert res.table.set_index("parameter").loc["effect_after", "effect"] <= res.table.iloc[0]["effect"]
    assert len(res.runs) == 6 * 4 * 2
    paths = save_sensitivity(res, tmp_path / "out")
    assert all(p.is_file() for p in paths)
    # resumable: a second run computes nothing new
    again = run_sensitivity(doc, _small_space(), "share_in_work_12m", method="morris", samples=6,
                            replications=2, store=tmp_path / "m", progress=False)
    assert len((tmp_path / "m" / "computations.log").read_text().splitlines()) == res.runs["key"].nunique()
    assert again.table.equals(res.table)


def test_sobol_gives_first_and_total_order(doc, tmp_path):
    res = run_sensitivity(doc, _small_space(), "programme.c2.starts", method="sobol", samples=8,
                          replications=1, store=tmp_path / "s", progress=False)
    assert {"first_order", "effect", "spread"} <= set(res.table.columns)
    assert len(res.runs) == 8 * (3 + 2)


def test_unknown_output_is_refused(doc, tmp_path):
    with pytest.raises(ValueError, match="unknown output 'nope'"):
        run_sensitivity(doc, _small_space(), "nope", samples=2, replications=1, store=tmp_path / "x", progress=False)


def test_cli_sensitivity_prints_a_ranked_table(tmp_path, capsys, monkeypatch):
    import sim.cli.calibrate  # noqa: F401 - registers the subcommands
    import sim.cli.main

    monkeypatch.chdir(tmp_path)
    space = tmp_path / "space.yaml"
    space.write_text(
        "parameters:\n"
        "  - {name: work_hr, path: programmes.c2.lock_in_hazard_ratio,"
        " prior: {distribution: loguniform, low: 0.5, high: 4}}\n"
        "  - {name: studies, path: programmes.c2.exit_rates_per_month.studies,"
        " prior: {distribution: uniform, low: 0.002, high: 0.04}}\n")
    code = sim.cli.main.main(["sensitivity", str(C2), "--set", "horizon_months=30", "--space", str(space),
                         "--output", "programme.c2.starts", "--samples", "3", "--replications", "1",
                         "--out", str(tmp_path / "fig"), "-q"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "morris sensitivity of programme.c2.starts over 2 parameters" in out
    assert (tmp_path / "fig" / "sensitivity.png").is_file()
    assert sim.cli.main.main(["sensitivity", str(C2), "--output", "nope", "--samples", "1", "--space", str(space),
                         "--set", "horizon_months=13", "-q"]) == 2


def test_cli_morris_with_one_trajectory_is_refused_before_any_run(tmp_path, capsys, monkeypatch):
    """One trajectory has no spread: a one-line error, not a table of NaN under numpy's warnings."""
    import sim.cli.calibrate  # noqa: F401 - registers the subcommands
    import sim.cli.main

    monkeypatch.chdir(tmp_path)
    assert sim.cli.main.main(["sensitivity", str(C2), "-n", "1", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "at least 2 trajectories" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "outputs").exists()
