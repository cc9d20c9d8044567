"""A run killed with SIGKILL at a random moment leaves no partial output behind."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sim.runs.partial import ReplicationStore

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
    # The last command again: it sweeps temporary folders left by killed writers, resumes its
    # kept replications, completes and removes them. The other killed runs' kept replications
    # stay (the same command resumes them), each a whole file.
    res = subprocess.run([sys.executable, "-m", "sim", "run", "scenarios/umea-insteget.yaml", "-r", "4", "--seed",
                          "3", "--out", str(out), "-q"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    leftovers = [p for p in out.glob("*/.*") if not p.name.endswith(".lock")]  # (a killed writer's lock
    # is free: the kernel let go of it; the next writer of that folder takes it)
    assert all(p.name.endswith(".partial") and not p.name.startswith(".seed3-") for p in leftovers), leftovers
    assert not list(out.glob("*/.seed3-*.lock"))
    for kept in leftovers:
        for f in kept.iterdir():  # a write cut short has a temporary name, never read
            assert f.suffix == ".pickle" or ".tmp-" in f.name, f
        store = ReplicationStore(kept)
        assert store
        for k in store:
            assert store.get(k).summary["months_simulated"] == 72, (kept, k)
