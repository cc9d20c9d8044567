"""Input files other than scenarios, and the input side of the command line.

* The invalid corpus of calibration jobs, target and space files (``tests/inputs/invalid/``):
  each file fails in its loader with one line naming the file, the line and the key, and a bad
  job makes ``almsim calibrate`` exit 2 with that line and nothing else.
* ``--set FILE_OR_NAME:path=VALUE`` and bare ``--set`` over several files.
* ``almsim new NAME --from almsim:NAME`` in a folder outside the repository.
* Control characters are escaped in every message.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from factories import corpus_headers

from sim.calibration.fit import load_job
from sim.calibration.spaces import load_space
from sim.calibration.targets import load_targets
from sim.cli.main import main
from sim.scenario.errors import ScenarioError
from sim.scenario.load import load_scenario, overrides_per_file, split_set

ROOT = Path(__file__).resolve().parents[1]
INVALID = ROOT / "tests" / "inputs" / "invalid"
LOADERS = {"jobs": load_job, "targets": load_targets, "spaces": load_space}
INVALID_FILES = sorted(p for kind in LOADERS for p in (INVALID / kind).glob("*.yaml"))
SCENARIOS = ROOT / "scenarios"




def _check(error: ScenarioError, path: Path) -> None:
    headers = corpus_headers(path)
    text = str(error)
    assert "\n" not in text and "\r" not in text
    assert headers["expect"] in text, text
    shown = os.path.normpath(path.parent / headers["file"]) if "file" in headers else str(path)
    assert error.file == shown
    if headers.get("line", "") == "none":
        assert error.line is None
    else:
        assert error.line == int(headers["line"]), text
        assert text.startswith(f"{shown}:{error.line}: ")


def test_the_input_corpus_is_big_enough() -> None:
    assert len(INVALID_FILES) >= 60
    assert all(len(list((INVALID / kind).glob("*.yaml"))) >= 15 for kind in LOADERS)


@pytest.mark.parametrize("path", INVALID_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_invalid_input_fails_with_a_one_line_message(path: Path) -> None:
    assert "expect" in corpus_headers(path), f"{path.name} needs a first line '# expect: <text>'"
    with pytest.raises(ScenarioError) as info:
        LOADERS[path.parent.name](path)
    _check(info.value, path)


@pytest.mark.parametrize("path", sorted((INVALID / "jobs").glob("*.yaml")), ids=lambda p: p.name)
def test_a_bad_job_makes_calibrate_exit_2_with_one_line(path: Path, capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path) -> None:
    out_folder = tmp_path / "out"
    assert main(["calibrate", str(path), "--out", str(out_folder)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err
    assert not out_folder.exists()  # nothing written


def test_a_bad_job_as_a_process() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    bad = INVALID / "jobs" / "targets_list.yaml"
    result = subprocess.run([sys.executable, "-m", "sim", "calibrate", str(bad.relative_to(ROOT))], cwd=ROOT,
                            env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "error: tests/inputs/invalid/jobs/targets_list.yaml:4: targets: expected text, got a list\n"


def test_non_utf8_input_names_the_file(tmp_path: Path) -> None:
    for loader, name in ((load_targets, "t.yaml"), (load_space, "s.yaml"), (load_job, "j.yaml")):
        path = tmp_path / name
        path.write_bytes(b"name: x\ntitle: G\xe5rd\n")
        error = pytest.raises(ScenarioError, loader, path).value
        assert str(error) == f"{path}:2: not valid UTF-8 text (byte 0xe5); save the file as UTF-8"


def test_shipped_jobs_targets_and_spaces_still_load() -> None:
    for job in sorted((ROOT / "calibration").glob("*.yaml")):
        assert load_job(job).targets.targets
    for space in sorted((ROOT / "calibration" / "spaces").glob("*.yaml")):
        load_space(space)


# --------------------------------------------------------------------------------------------
# --set per file


def test_split_set() -> None:
    assert split_set("horizon_months=12") == (None, "horizon_months=12")
    assert split_set("a.yaml:horizon_months=12") == ("a.yaml", "horizon_months=12")
    assert split_set("almsim:national:horizon_months=1") == ("almsim:national", "horizon_months=1")
    assert split_set("programmes.c2.capacity.staff={2012-01: 3}") == (
        None, "programmes.c2.capacity.staff={2012-01: 3}")


def test_set_targets_one_file_by_path_base_name_or_scenario_name() -> None:
    c2, sig = str(SCENARIOS / "c2-lycksele.yaml"), str(SCENARIOS / "sigtuna-resursjobb.yaml")
    sig_name = load_scenario(sig).name
    for target in (sig, "sigtuna-resursjobb.yaml", "sigtuna-resursjobb", sig_name):
        per = overrides_per_file([c2, sig], [f"{target}:horizon_months=40"])
        assert per == [[], [f"{target}:horizon_months=40"]]
        assert load_scenario(sig, per[1]).horizon_months == 40
        assert load_scenario(c2, per[1]).horizon_months != 40  # aimed at another file: left out


def test_bare_set_goes_to_every_file_that_has_the_path() -> None:
    c2, sig = str(SCENARIOS / "c2-lycksele.yaml"), str(SCENARIOS / "sigtuna-resursjobb.yaml")
    assert overrides_per_file([c2, sig], ["programmes.c2.capacity.staff=4"]) == [
        ["programmes.c2.capacity.staff=4"], []]
    assert overrides_per_file([c2, sig], ["horizon_months=20"]) == [["horizon_months=20"]] * 2
    error = pytest.raises(ScenarioError, overrides_per_file, [c2, sig], ["programmes.zz.capacity.staff=4"]).value
    assert str(error) == (f"--set: programmes.zz.capacity.staff: none of the scenarios has this path ({c2}, {sig})")
    error = pytest.raises(ScenarioError, overrides_per_file, [c2, sig], ["nope.yaml:horizon_months=4"]).value
    assert error.file == "--set" and "'nope.yaml' names none of the scenarios given" in error.message


def test_validate_with_a_set_per_file(capsys: pytest.CaptureFixture[str]) -> None:
    c2, sig = str(SCENARIOS / "c2-lycksele.yaml"), str(SCENARIOS / "sigtuna-resursjobb.yaml")
    assert main(["validate", c2, sig, "--set", "programmes.c2.capacity.staff=4",
                 "--set", "sigtuna-resursjobb.yaml:horizon_months=48"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"ok  {c2}", f"ok  {sig}"]
    assert main(["validate", c2, sig, "--set", "sigtuna-resursjobb:horizon_months=700"]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"ok  {c2}"]
    assert err == "error: --set: horizon_months: must be <= 600, got 700\n"


# --------------------------------------------------------------------------------------------
# almsim new, almsim:NAME, validate's memory check


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)


def test_new_scenario_from_a_shipped_one_outside_the_repository(tmp_path: Path) -> None:
    made = _run(["new", "myvariant", "--from", "almsim:sigtuna-resursjobb"], tmp_path)
    assert made.returncode == 0, made.stderr
    text = (tmp_path / "myvariant.yaml").read_text(encoding="utf-8")
    assert "extends: almsim:sigtuna-resursjobb\n" in text and "name: myvariant\n" in text
    assert "# programmes.resursjobb.capacity.slots: 200" in text
    checked = _run(["validate", "myvariant.yaml"], tmp_path)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "ok  myvariant.yaml\n", "")
    parsed = _run(["parse", "myvariant.yaml"], tmp_path)
    assert parsed.returncode == 0 and parsed.stdout.startswith("name: myvariant\n")
    again = _run(["new", "myvariant", "--from", "almsim:sigtuna-resursjobb"], tmp_path)
    assert again.returncode == 2
    assert again.stderr == "error: myvariant.yaml: already exists; choose another name or remove the file\n"


def test_every_lever_of_a_new_scenario_is_valid_when_uncommented(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new", "all-levers", "--from", "almsim:c2-lycksele"]) == 0
    lines = (tmp_path / "all-levers.yaml").read_text(encoding="utf-8").splitlines()
    levers = [line.removeprefix("# ") for line in lines if re.match(r"# [a-z_]+(\.[a-z0-9_]+)*: ", line)]
    assert len(levers) >= 5
    (tmp_path / "all-levers.yaml").write_text("\n".join([*lines, *levers]) + "\n", encoding="utf-8")
    assert load_scenario(tmp_path / "all-levers.yaml").name == "all-levers"


def test_new_refuses_a_bad_name(tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new", "../escape", "--from", "almsim:national"]) == 2
    assert main(["new", "ok", "--from", "almsim:no-such"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: almsim new: NAME: a scenario name is")
    assert err[1].startswith("error: almsim:no-such: no shipped scenario named 'no-such'")
    assert list(tmp_path.iterdir()) == []


def test_validate_refuses_a_population_too_large_for_memory(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("extends: almsim:sigtuna-resursjobb\nname: big\nhorizon_months: 600\n"
                    "population.inflow: {people_per_month: 50000000}\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:4: population: ") and "GiB of memory" in err


# --------------------------------------------------------------------------------------------
# Control characters are escaped where messages are formatted


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[31m", "\\x1b[31m"), ("\x00", "\\x00"), ("\x7f", "\\x7f"), ("\x9b", "\\x9b"), ("\n", "\\n"),
    ("\r", "\\r"), ("\t", "\\t"), ("\u2028", "\\u2028"), ("\u202e", "\\u202e"), ("\u2066", "\\u2066"),
])
def test_control_characters_are_escaped_in_every_part(raw: str, shown: str) -> None:
    error = ScenarioError(f"bad {raw}", file=f"f{raw}.yaml", line=3, key=f"k{raw}")
    assert str(error) == f"f{shown}.yaml:3: k{shown}: bad {shown}"
    assert str(ScenarioError("plain åäö – ok", file="a.yaml")) == "a.yaml: plain åäö – ok"
