"""Sweeps: resumable after a real kill, identical for any number of workers, the same on Dask."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.runs.sweep import Sweep, digest, parameter_grid
from sim.scenario.load import parse_file

ROOT = Path(__file__).resolve().parents[1]
C2 = ROOT / "scenarios" / "c2-lycksele.yaml"
GRID = {"programmes.c2.lock_in_hazard_ratio": [0.5, 1.0, 2.0], "programmes.c2.capacity.staff": [2, 3]}


@pytest.fixture  # (cheap: per test, so the tests of this file run side by side)
def doc():
    return parse_file(C2, ["horizon_months=30"])[0]


def _sweep(doc, store, **kw) -> Sweep:
    return Sweep(doc, parameter_grid(GRID), store, replications=2, seed=11, **kw)


def test_grid_and_keys(doc, tmp_path):
    grid = parameter_grid({"a.b": [1, 2], "c": [3, 4, 5]})
    assert len(grid) == 6 and grid[0] == {"a.b": 1.0, "c": 3.0} and grid[1] == {"a.b": 1.0, "c": 4.0}
    s = _sweep(doc, tmp_path / "s")
    keys = [job.key for _, _, job in s._jobs]
    assert len(set(keys)) == s.runs == 12
    # replication seeds are shared by every parameter set (common random numbers)
    res = s.results()
    assert res.groupby("replication")["seed"].nunique().eq(1).all()
    assert res["seed"].nunique() == 2


def test_store_resumes_without_recomputing(doc, tmp_path):
    s = _sweep(doc, tmp_path / "s")
    first = s.run(progress=False)
    assert first["share_in_work_12m"].notna().all()
    log = (tmp_path / "s" / "computations.log").read_text().splitlines()
    assert len(log) == 12
    again = _sweep(doc, tmp_path / "s")
    assert again.pending() == []
    pd.testing.assert_frame_equal(again.run(progress=False), first)
    assert len((tmp_path / "s" / "computations.log").read_text().splitlines()) == 12


def test_one_and_four_workers_give_identical_results(doc, tmp_path):
    one = _sweep(doc, tmp_path / "one").run(workers=1, progress=False)
    four = _sweep(doc, tmp_path / "four").run(workers=4, progress=False)
    pd.testing.assert_frame_equal(one, four)
    assert digest(one) == digest(four)
    # the rows really differ by parameter set and seed (not one result copied)
    assert one["programme.c2.starts"].nunique() > 3


def test_dask_local_cluster_gives_the_same_results(doc, tmp_path):
    distributed = pytest.importorskip("distributed")
    # (against the run in this process: a local pool equals it, test_one_and_four_workers_...)
    here = _sweep(doc, tmp_path / "here").run(workers=1, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        on_dask = _sweep(doc, tmp_path / "dask").run(scheduler=c.scheduler_address, progress=False)
    pd.testing.assert_frame_equal(here, on_dask)
    workers = {line.split()[2] for line in (tmp_path / "dask" / "computations.log").read_text().splitlines()}
    assert len(workers) == 2  # both Dask worker processes computed runs


_DRIVER = "import sys, sim.cli.main, sim.cli.calibrate; sys.exit(sim.cli.main.main(sys.argv[1:]))"


def _stored(store: Path) -> set[str]:
    db = store / "runs.sqlite"
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return {k for (k,) in con.execute("SELECT key FROM runs")}
    except sqlite3.OperationalError:  # the table is not created yet
        return set()


def test_sweep_killed_half_way_resumes_without_losing_or_redoing_runs(tmp_path):
    store = tmp_path / "killed"
    # (30 months, as the other sweeps here: what is checked is the store, not the horizon)
    args = ["sweep", str(C2), "--set", "horizon_months=30",
            "--grid", "programmes.c2.lock_in_hazard_ratio=0.5,0.8,1,1.3,1.6,2",
            "--grid", "programmes.c2.capacity.staff=2,3,4", "--replications", "3", "--seed", "5",
            "--events", "--workers", "2", "--store", str(store), "-q"]
    total = 6 * 3 * 3
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, *args], cwd=tmp_path, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(_stored(store)) < 8 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes, mid-flight
    proc.wait()
    kept = _stored(store)
    assert 8 <= len(kept) < total, f"kill came too late or too early: {len(kept)} of {total} stored"
    sessions_before = {line.split()[1] for line in (store / "computations.log").read_text().splitlines()}
    assert len(sessions_before) == 1

    done = subprocess.run([sys.executable, "-c", _DRIVER, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{len(kept)} were stored already, {total - len(kept)} computed now" in done.stdout
    final = _stored(store)
    assert kept <= final and len(final) == total  # nothing lost, everything done
    lines = [line.split() for line in (store / "computations.log").read_text().splitlines()]
    redone = {key for key, session, _ in lines if session not in sessions_before and key in kept}
    assert not redone, f"{len(redone)} stored runs were computed again"

    # the interrupted sweep's results equal an uninterrupted one's
    doc = parse_file(C2, ["horizon_months=30"])[0]
    grid = parameter_grid({"programmes.c2.lock_in_hazard_ratio": [0.5, 0.8, 1, 1.3, 1.6, 2],
                           "programmes.c2.capacity.staff": [2, 3, 4]})
    clean = Sweep(doc, grid, tmp_path / "clean", replications=3, seed=5, record_events=True).run(progress=False)
    resumed = pd.read_parquet(store / "results.parquet")
    pd.testing.assert_frame_equal(resumed, clean, check_dtype=False)
