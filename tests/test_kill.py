"""A run killed with SIGKILL at a random moment leaves no partial output behind."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _visible_runs(out: Path) -> list[Path]:
    return [p for p in out.glob("*/*") if not p.name.startswith(".")]


def test_sigkill_at_random_moments_leaves_only_complete_runs(tmp_path):
    out = tmp_path / "out"
    rng = random.Random(7)
    complete = {"stocks.parquet", "events.parquet", "ledger.parquet", "summary.json", "manifest.json"}
    for attempt in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim", "run", "scenarios/umea-insteget.yaml", "-r", "4", "--seed", str(attempt),
             "--out", str(out), "-q"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 4.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for run in _visible_runs(out):  # whatever is visible is whole
            assert complete <= {p.name for p in run.iterdir()}, run
    # A later run sweeps temporary folders left by killed writers and completes.
    res = subprocess.run([sys.executable, "-m", "sim", "run", "scenarios/umea-insteget.yaml", "-r", "1",
                          "--out", str(out), "-q"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    leftovers = [p for p in out.glob("*/.*")]
    assert leftovers == []
