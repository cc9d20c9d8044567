"""Large runs allocate memory without huge pages and reuse freed memory (sim.runs.allocator),
in the command's process and in the workers it starts; small runs leave the process as it is.

Each case runs in a fresh interpreter: the switches are the process's own, and the test
process's must stay as they are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = r'''
import json, multiprocessing, os, sys
from numpy._core.multiarray import _set_madvise_hugepage

def state():
    madvise = _set_madvise_hugepage(True)  # (returns the switch as it was)
    _set_madvise_hugepage(madvise)
    return {"madvise": bool(madvise), "mmap": os.environ.get("MALLOC_MMAP_THRESHOLD_"),
            "numpy": os.environ.get("NUMPY_MADVISE_HUGEPAGE")}

if __name__ == "__main__":
    from sim.cli.scenarios import load_all
    load_all([sys.argv[1]], sys.argv[2:])
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        worker = pool.apply(state)
    print(json.dumps({"command": state(), "worker": worker}))
'''


def _probe(tmp_path: Path, scenario: str, *overrides: str) -> dict:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMPY_MADVISE_HUGEPAGE", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, str(script), str(ROOT / "scenarios" / scenario), *overrides], env=env,
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's thresholds: Linux only")
def test_a_national_run_and_its_workers_allocate_for_large_runs(tmp_path: Path) -> None:
    seen = _probe(tmp_path, "national-scale.yaml")
    for process in ("command", "worker"):
        assert seen[process] == {"madvise": False, "mmap": str(256 * 2**20), "numpy": "0"}, process


def test_a_small_run_leaves_the_process_as_it_is(tmp_path: Path) -> None:
    seen = _probe(tmp_path, "c2-lycksele.yaml")
    for process in ("command", "worker"):
        assert seen[process]["mmap"] is None and seen[process]["numpy"] is None, process
    # (numpy's own default where the test runs, the same in the command and its worker)
    assert seen["command"]["madvise"] == seen["worker"]["madvise"]


def test_just_under_the_threshold_is_small(tmp_path: Path) -> None:
    """10^7 person-months is large; a national population cut to just under it is not."""
    from sim.runs.allocator import LARGE_RUN

    months = 100
    under = _probe(tmp_path, "national-scale.yaml", f"horizon_months={months}", "population.inflow.people_per_month=0",
                   f"population.cohort.size={LARGE_RUN // months - 1}")
    at = _probe(tmp_path, "national-scale.yaml", f"horizon_months={months}", "population.inflow.people_per_month=0",
                f"population.cohort.size={LARGE_RUN // months}")
    assert under["command"]["mmap"] is None and at["command"]["mmap"] is not None
