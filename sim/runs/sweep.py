"""Parameter sweeps: many runs of one scenario, resumable, on a process pool or a Dask cluster.

A :class:`Sweep` is a base scenario file, a list of parameter sets (dotted path -> value,
see :mod:`sim.scenario.paths`), seeds, and a **store** folder. Each run (one parameter set, one
seed) has a **key**: the SHA-256 of the resolved base scenario, the parameter set, the seed,
what is measured and the code version. Runs are written to ``<store>/runs.sqlite`` one by one,
as they finish, by the main process only (workers just compute), each in its own SQLite
transaction: a sweep killed at any moment keeps every run it stored, and starting it again
computes only the keys not yet stored. The store is a cache keyed by content, so two sweeps
that share runs share them.

Seeds never depend on workers: with ``replications`` R, replication r of every parameter set
uses seed ``replication_seeds(seed, R)[r]`` (common random numbers across parameter sets, which
is what a sensitivity analysis wants); with ``seeds=`` each parameter set i gets ``seeds[i]``
(a posterior predictive wants one independent seed per draw). Results are read back in
sweep order (parameter set, replication), so 1 or 4 workers give identical tables.

Workers: in-process (``workers=1``), a local pool of *spawn* processes
(:func:`sim.runs.workers.process_pool`: workers ignore Ctrl-C, the main process stops them), or a
Dask cluster (``scheduler="tcp://host:8786"``, or a ``distributed.Client``).
The pool and Dask differ only in how a job is submitted and waited for; the job function
(:func:`execute`) and the storing loop are the same.

Every finished computation is also appended to ``<store>/computations.log`` (key, session,
process id) by the worker that did it, so one can check that a restarted sweep did not
compute a stored run again.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.engine.streams import replication_seeds
from sim.runs.identity import code_version
from sim.runs.replications import flatten_summary, simulate
from sim.runs.run_statistics import Measured, simulate_target
from sim.runs.workers import process_pool
from sim.scenario.paths import apply_values

__all__ = ["Sweep", "Job", "execute", "code_version", "RunStore", "flatten_summary", "summary_columns", "NET_PREFIX"]


#: Money columns of a sweep's results, named in almsim's one convention: a payer's net (its
#: signed ledger sum over the whole run: + = the payer is better off), in SEK, undiscounted.
NET_PREFIX = "net_sek_undiscounted."


def summary_columns(summary: Mapping[str, Any]) -> dict[str, float]:
    """A run summary's numbers as result columns: ``flatten_summary``, with the money columns
    saying their unit and that they are undiscounted (``net_sek_undiscounted.municipality``, and
    ``net_sek_undiscounted_society`` -> ``net_sek_undiscounted.society``)."""
    out: dict[str, float] = {}
    for key, value in flatten_summary(summary).items():
        if key == "net_sek_undiscounted_society":
            key = NET_PREFIX + "society"
        out[key] = value
    return out


def target_columns(target: Measured) -> list[str]:
    """Output columns a target's statistic is stored in."""
    if target.likelihood == "multinomial":
        return [f"{target.name}.{c}" for c in target.categories]
    if target.likelihood == "binomial":
        return [f"{target.name}.successes", f"{target.name}.trials"]
    return [f"{target.name}.value"]


@dataclass(frozen=True)
class Job:
    """One run: what a worker needs, and nothing that depends on the worker."""

    key: str
    doc: Mapping[str, Any]
    values: Mapping[str, float]
    seed: int
    record_events: bool
    targets: tuple[Measured, ...]
    summary: bool
    log: str | None
    session: str


def execute(job: Job) -> dict[str, Any]:
    """Run one job and return its record (module-level, so pools and Dask can pickle it)."""
    from sim.scenario.load import build

    t0 = time.perf_counter()
    scenario = build(apply_values(job.doc, job.values))
    result = simulate(scenario, job.seed, record_events=job.record_events)
    outputs: dict[str, float] = {}
    if job.summary:
        outputs.update(summary_columns(result.summary))
    for t in job.targets:
        outputs.update(zip(target_columns(t), (float(x) for x in simulate_target(t, result, scenario)), strict=True))
    seconds = time.perf_counter() - t0
    if job.log:
        with contextlib.suppress(OSError):  # a remote worker may not see the store's folder
            fd = os.open(job.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{job.key} {job.session} {os.getpid()}\n".encode())
            finally:
                os.close(fd)
    return {"key": job.key, "outputs": outputs, "seconds": seconds, "worker": f"{os.uname().nodename}:{os.getpid()}"}


class RunStore:
    """Finished runs in SQLite (``runs.sqlite``): one row per key, written in its own transaction."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "runs.sqlite"
        self.db = sqlite3.connect(self.path, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # safe against a killed process (not a power cut)
        self.db.execute("CREATE TABLE IF NOT EXISTS runs (key TEXT PRIMARY KEY, params TEXT, seed INTEGER, "
                        "outputs TEXT, seconds REAL, finished_utc TEXT, worker TEXT)")
        self.db.commit()

    def keys(self) -> set[str]:
        """Keys already stored."""
        return {k for (k,) in self.db.execute("SELECT key FROM runs")}

    def put(self, key: str, params: Mapping[str, float], seed: int, record: Mapping[str, Any]) -> None:
        """Store one finished run (ignored if the key is already there)."""
        with self.db:
            self.db.execute("INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (key, json.dumps(dict(params), sort_keys=True), int(seed),
                             json.dumps(record["outputs"], sort_keys=True), float(record["seconds"]),
                             _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"), record["worker"]))

    def get(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Outputs of the given keys that are stored."""
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(keys), 500):
            chunk = list(keys[i:i + 500])
            q = f"SELECT key, outputs, finished_utc FROM runs WHERE key IN ({','.join('?' * len(chunk))})"
            for k, outputs, finished in self.db.execute(q, chunk):
                out[k] = {"outputs": json.loads(outputs), "finished_utc": finished}
        return out

    def close(self) -> None:
        """Close the database."""
        self.db.close()


@dataclass
class Sweep:
    """Runs of one scenario over parameter sets and seeds, stored as they finish.

    Args:
        doc: the base scenario as plain data (:func:`sim.scenario.load.parse_file`).
        parameter_sets: dotted path -> value, one mapping per point of the sweep.
        store: the folder of ``runs.sqlite`` and ``computations.log``.
        replications: seeds per parameter set (ignored when ``seeds`` is given).
        seed: the sweep's seed (replication seeds are spawned from it).
        seeds: one seed per parameter set instead (paired).
        targets: calibration targets whose statistics each run records.
        summary: record the run summary's numbers too.
        record_events: keep the event log (needed by some targets).
        name: shown on the progress bar.

    A base scenario with ``parameters: {from_calibration: NAME}`` gives replication r of every
    parameter set the posterior draw that ``almsim run`` gives replication r (with ``seeds``,
    set i gets draw i); the set's own values override the draw's.
    """

    doc: Mapping[str, Any]
    parameter_sets: Sequence[Mapping[str, float]]
    store: str | Path
    replications: int = 1
    seed: int = 0
    seeds: Sequence[int] | None = None
    targets: Sequence[Measured] = ()
    summary: bool = True
    record_events: bool = False
    name: str = "sweep"
    _jobs: list[tuple[int, int, Job]] = field(default_factory=list, init=False, repr=False)
    #: posterior draws per replication when the base scenario says ``parameters: {from_calibration: ...}``
    draws: list[dict[str, float | int]] | None = field(default=None, init=False, repr=False)
    draw_info: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        from sim.scenario.load import build, scenario_hash

        if self.seeds is not None and len(self.seeds) != len(self.parameter_sets):
            raise ValueError("give one seed per parameter set")
        if self.replications < 1:
            raise ValueError("replications must be >= 1")
        calibration = (self.doc.get("parameters") or {}).get("from_calibration")
        if calibration:
            # `parameters: {from_calibration: NAME}`: replication r of every set runs with the
            # posterior draw `almsim run` would give replication r (the set's own values win).
            from sim.runs.posterior import replication_draws

            self.doc = dict(self.doc, parameters=None)
            n = len(self.parameter_sets) if self.seeds is not None else self.replications
            self.draws, self.draw_info = replication_draws(calibration, self.doc, self.seed, n)
        else:
            self.draws, self.draw_info = None, None
        base = scenario_hash(build(self.doc))
        spec = json.dumps({"targets": [repr(t) for t in self.targets], "summary": self.summary,
                           "events": self.record_events}, sort_keys=True)
        version = code_version()
        self.session = uuid.uuid4().hex[:12]
        log = str(Path(self.store) / "computations.log")
        reps = replication_seeds(self.seed, self.replications) if self.seeds is None else None
        for i in range(len(self.parameter_sets)):
            run_seeds = [int(self.seeds[i])] if self.seeds is not None else reps
            for r, s in enumerate(run_seeds):  # type: ignore[arg-type]
                drawn = {} if self.draws is None else self.draws[i if self.seeds is not None else r]
                values = {p: _clean(v) for p, v in {**drawn, **self.parameter_sets[i]}.items()}
                key = hashlib.sha256(json.dumps({"base": base, "values": {p: repr(v) for p, v in values.items()},
                                                 "seed": s, "spec": spec, "version": version},
                                                sort_keys=True).encode()).hexdigest()
                job = Job(key, self.doc, values, s, self.record_events, tuple(self.targets), self.summary, log,
                          self.session)
                self._jobs.append((i, r, job))

    @property
    def runs(self) -> int:
        """Runs in the sweep (parameter sets x seeds)."""
        return len(self._jobs)

    def pending(self) -> list[Job]:
        """Jobs whose key is not stored yet (each key once)."""
        store = RunStore(self.store)
        try:
            done = store.keys()
        finally:
            store.close()
        seen: set[str] = set()
        out = []
        for _, _, job in self._jobs:
            if job.key not in done and job.key not in seen:
                seen.add(job.key)
                out.append(job)
        return out

    def run(self, *, workers: int = 1, scheduler: Any = None, progress: bool = True) -> pd.DataFrame:
        """Compute every run not yet stored, storing each as it finishes; return :meth:`results`.

        Args:
            workers: local worker processes (1: in this process).
            scheduler: a Dask scheduler address (or a ``distributed.Client``); overrides ``workers``.
            progress: show a progress bar (on stderr).
        """
        from tqdm import tqdm

        todo = self.pending()
        unique = self.distinct_runs
        store = RunStore(self.store)
        params = {job.key: job.values for _, _, job in self._jobs}
        seeds = {job.key: job.seed for _, _, job in self._jobs}
        try:
            with tqdm(total=unique, initial=unique - len(todo), desc=self.name, unit="run", file=sys.stderr,
                      disable=not progress, leave=False) as bar:
                for record in _results(todo, workers, scheduler):
                    store.put(record["key"], params[record["key"]], seeds[record["key"]], record)
                    bar.update(1)
        finally:
            store.close()
        return self.results()

    def results(self) -> pd.DataFrame:
        """One row per run in sweep order: ``set, replication, seed, key``, the parameters, the outputs.

        Runs not stored yet have no outputs (NaN). Timing and worker columns are left out, so the
        table depends only on what was computed.
        """
        store = RunStore(self.store)
        try:
            stored = store.get([job.key for _, _, job in self._jobs])
        finally:
            store.close()
        rows = []
        for i, r, job in self._jobs:
            row: dict[str, Any] = {"set": i, "replication": r, "seed": job.seed, "key": job.key}
            row.update(job.values)
            if job.key in stored:
                row.update(stored[job.key]["outputs"])
            rows.append(row)
        return pd.DataFrame(rows)

    @property
    def distinct_runs(self) -> int:
        """Distinct keys (a parameter set listed twice with the same seed is one run)."""
        return len({job.key for _, _, job in self._jobs})

    def done(self) -> int:
        """Distinct runs of this sweep already stored."""
        return self.distinct_runs - len(self.pending())


def _clean(v: Any) -> float:
    v = float(v.item() if hasattr(v, "item") else v)
    if not math.isfinite(v):
        raise ValueError(f"parameter values must be finite, got {v}")
    return v


def digest(results: pd.DataFrame) -> str:
    """SHA-256 of a results table (rounded to 12 significant digits), to compare two sweeps.

    The ``key`` column is left out: it changes with the code version, the numbers may not.
    """
    df = results.drop(columns=["key"], errors="ignore").sort_values(["set", "replication"]).reset_index(drop=True)
    text = df.to_csv(index=False, float_format="%.12g")
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------------------- back-ends
def _results(jobs: Sequence[Job], workers: int, scheduler: Any) -> Iterator[dict[str, Any]]:
    """Records of ``jobs`` in the order they finish."""
    if not jobs:
        return iter(())
    if scheduler is not None:
        return _on_dask(jobs, scheduler)
    if workers <= 1:
        return (execute(job) for job in jobs)
    return _on_pool(jobs, workers)


def _on_pool(jobs: Sequence[Job], workers: int) -> Iterator[dict[str, Any]]:
    # Ctrl-C reaches only this process; on it (or on any failure) the workers are terminated
    # at once rather than waited for (sim.runs.workers).
    with process_pool(workers) as pool:
        yield from _drain(jobs, lambda job: pool.submit(execute, job), _wait_pool, 4 * workers)


def _wait_pool(pending: set[Any]) -> tuple[set[Any], set[Any]]:
    done, rest = wait(pending, return_when=FIRST_COMPLETED)
    return set(done), set(rest)


def _on_dask(jobs: Sequence[Job], scheduler: Any) -> Iterator[dict[str, Any]]:
    from distributed import Client
    from distributed import wait as dask_wait

    own = not isinstance(scheduler, Client)
    client = Client(scheduler) if own else scheduler
    try:
        threads = sum(client.nthreads().values()) or 1

        def submit(job: Job) -> Any:
            return client.submit(execute, job, key=f"almsim-run-{job.key[:16]}-{job.session}", pure=False)

        def wait_some(pending: set[Any]) -> tuple[set[Any], set[Any]]:
            res = dask_wait(list(pending), return_when="FIRST_COMPLETED")
            return set(res.done), set(res.not_done)

        yield from _drain(jobs, submit, wait_some, 4 * threads)
    finally:
        if own:
            client.close()


def _drain(jobs: Iterable[Job], submit: Callable[[Job], Any],
           wait_some: Callable[[set[Any]], tuple[set[Any], set[Any]]], in_flight: int) -> Iterator[dict[str, Any]]:
    """Keep at most ``in_flight`` jobs submitted; yield each result as it finishes."""
    it = iter(jobs)
    pending: set[Any] = set()
    try:
        for job in it:
            pending.add(submit(job))
            if len(pending) >= in_flight:
                break
        while pending:
            done, pending = wait_some(pending)
            for fut in done:
                yield fut.result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.add(submit(nxt))
    finally:
        for fut in pending:
            fut.cancel()


def parameter_grid(grid: Mapping[str, Sequence[float]]) -> list[dict[str, float]]:
    """Every combination of the values (the last path varies fastest)."""
    paths = list(grid)
    if not paths:
        return [{}]
    mesh = np.meshgrid(*[np.asarray(grid[p], dtype=float) for p in paths], indexing="ij")
    flat = [m.reshape(-1) for m in mesh]
    return [{p: float(flat[j][i]) for j, p in enumerate(paths)} for i in range(flat[0].size)]
