"""``almsim --version``: one line ``almsim X.Y.Z`` on stdout, exit code 0, nothing heavy imported."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import sim.cli.main
from sim.cli.main import FALLBACK_VERSION, main, version

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("matplotlib", "seaborn", "scipy", "pandas", "numpy", "numba", "mesa", "pydantic", "yaml")


def test_version_prints_one_line_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    out, err = capsys.readouterr()
    assert re.fullmatch(r"almsim \d+\.\d+\.\d+\S*\n", out), out
    assert err == ""


def test_version_is_the_project_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == FALLBACK_VERSION
    assert version() == project["version"]


def test_version_falls_back_without_package_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert version() == FALLBACK_VERSION
    assert sim.cli.main.version() == FALLBACK_VERSION


def test_version_as_a_command_imports_nothing_heavy() -> None:
    code = ("import sys\nfrom sim.cli.main import main\ncode = main(['--version'])\n"
            f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
            "print('EXIT:%d HEAVY:%s' % (code, ','.join(heavy)))")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.splitlines()[0].startswith("almsim ")
    assert "EXIT:0 HEAVY:\n" in out.stdout, out.stdout
    cli = subprocess.run([sys.executable, "-m", "sim", "--version"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert cli.returncode == 0 and cli.stdout.startswith("almsim "), (cli.returncode, cli.stdout, cli.stderr)
