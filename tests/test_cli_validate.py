"""Tests of ``almsim validate`` and ``almsim parse`` (in process, and as ``python -m sim``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import sim.cli.main
import sim.scenario.load
from sim.cli.main import main
from sim.scenario.load import build, load_scenario

ROOT = Path(__file__).resolve().parents[1]
INVALID = ROOT / "tests" / "scenarios" / "invalid"
VALID = ROOT / "tests" / "scenarios" / "valid"
INVALID_FILES = sorted(INVALID.glob("*.yaml"))
VALID_FILES = sorted(VALID.glob("*.yaml"))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --------------------------------------------------------------------------------------------
# In process


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in VALID_FILES]
    assert main(["validate", *files]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"ok  {f}" for f in files]
    assert err == ""


def test_validate_reports_each_bad_file_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = str(VALID / "base.yaml"), str(INVALID / "misspelt_programme_key.yaml")
    assert main(["validate", good, bad, good]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"ok  {good}", f"ok  {good}"]
    assert err.splitlines() == [
        f"error: {bad}:12: programmes.c2.capacitty: unknown key (did you mean 'capacity'?)"]


def test_validate_checks_a_calibration_job_as_a_job(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A user checking a job file gets the job checked (its targets, space and scenarios), not
    "targets: unknown key" as if it were a scenario; a fault in a file it names is one line."""
    jobs = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "calibration").glob("*.yaml"))
    monkeypatch.chdir(ROOT)
    assert main(["validate", *jobs]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"ok  {j} (calibration job)" for j in jobs] and err == ""
    job = tmp_path / "job.yaml"
    job.write_text(f"name: c2\ntargets: {tmp_path / 'missing.yaml'}\nscenarios:\n"
                   f"  c2: {{file: {ROOT / 'scenarios' / 'c2-lycksele.yaml'}}}\n")
    assert main(["validate", str(job)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {job}:2: targets: file not found ({tmp_path / 'missing.yaml'})\n"


def test_validate_with_set(capsys: pytest.CaptureFixture[str]) -> None:
    child = str(VALID / "child.yaml")
    assert main(["validate", child, "--set", "programmes.c2.capacity.staff=4"]) == 0
    assert main(["validate", child, "--set", "programmes.c9.capacity.staff=4"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ["error: --set: programmes.c9: no programme named 'c9' (did you mean 'c2'?)"]


def test_parse_prints_the_resolved_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    child = VALID / "child.yaml"
    assert main(["parse", str(child), "--set", "horizon_months=48"]) == 0
    out = capsys.readouterr().out
    printed = build(yaml.safe_load(out))
    assert printed == load_scenario(child, ["horizon_months=48"])
    assert printed.horizon_months == 48
    assert "extends" not in yaml.safe_load(out)


def test_parse_of_a_bad_file_prints_nothing_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(INVALID / "duplicate_key.yaml")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["no-such-command"]) == 2
    assert main(["validate"]) == 2
    assert main(["--help"]) == 0
    assert "validate" in capsys.readouterr().out


def test_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.scenario.load, "load_scenario", interrupted)
    assert main(["parse", str(VALID / "base.yaml")]) == 130


# --------------------------------------------------------------------------------------------
# As a process: exit code 2, one line on stderr, no traceback


@pytest.mark.parametrize("name", [
    "unknown_top_key.yaml", "non_utf8.yaml", "anchor_bomb.yaml", "extends_cycle.yaml",
    "yaml_syntax.yaml", "huge_population.yaml", "too_many_digits.yaml", "empty.yaml",
    "extends_device.yaml", "escape_in_key.yaml", "inflow_too_large_for_memory.yaml", "follow_ups_yes_and_text.yaml",
])
def test_process_reports_one_line(name: str) -> None:
    result = _run("validate", _relative(INVALID / name))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: tests/scenarios/invalid/")
    assert "Traceback" not in result.stderr


def test_process_validates_the_whole_corpus_at_once() -> None:
    files = [_relative(p) for p in INVALID_FILES]
    result = _run("validate", *files)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == len(files)
    for file, line in zip(files, lines, strict=True):
        assert line.startswith("error: tests/scenarios/invalid/")
        assert Path(file).stem in line or "_parts/" in line


def test_process_validate_and_parse_valid_files() -> None:
    result = _run("validate", *[_relative(p) for p in VALID_FILES])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"ok  {_relative(p)}" for p in VALID_FILES]
    parsed = _run("parse", _relative(VALID / "child.yaml"))
    assert parsed.returncode == 0, parsed.stderr
    assert build(yaml.safe_load(parsed.stdout)) == load_scenario(VALID / "child.yaml")


def test_process_missing_file() -> None:
    result = _run("validate", "no/such/file.yaml")
    assert result.returncode == 2
    assert result.stderr == "error: no/such/file.yaml: file not found\n"


def test_a_50_megabyte_file_is_refused_before_parsing(tmp_path):
    import subprocess
    import sys

    big = tmp_path / "big.yaml"
    with big.open("w") as fh:
        fh.write("name: big\nstart_month: 2012-01\nhorizon_months: 12\npopulation:\n  cohort: {size: 1}\n")
        line = "# " + "x" * 1000 + "\n"
        for _ in range(50 * 1024):
            fh.write(line)
    res = subprocess.run([sys.executable, "-m", "sim", "validate", str(big)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2
    assert "too large" in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [[], ["bogus"], ["run"], ["run", "x.yaml", "--replications", "0"],
                                  ["compare", "a.yaml"], ["run", "x.yaml", "--no-such-flag"]])
def test_usage_errors_are_one_line_with_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: almsim") and "--help" in lines[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_process_refuses_a_fifo_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    child = tmp_path / "child.yaml"
    child.write_text(f"name: x\nextends: {fifo}\n", encoding="utf-8")
    result = _run("validate", str(fifo), str(child))  # would wait for a writer if the FIFO were opened
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {fifo}: is a FIFO (named pipe), not a scenario file",
        f"error: {child}:2: extends: base '{fifo}' is a FIFO (named pipe), not a scenario file"]


def test_process_escapes_control_characters(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('name: tiny\n"colour\\e[31m": red\n', encoding="utf-8")
    result = _run("validate", str(bad))
    assert result.returncode == 2
    assert "\x1b" not in result.stderr
    assert result.stderr.startswith(f"error: {bad}:2: colour\\x1b[31m: unknown key")
