"""Replications of a scenario: spawned seeds, P10/P50/P90 bands, and saving a run folder.

Replication ``r`` of seed ``s`` uses :func:`sim.engine.streams.replication_seeds` (replication 0 is
``s`` itself), so results do not depend on how many worker processes run them or in which
order they finish. Workers are a local process pool (``workers > 1``,
:func:`sim.runs.workers.process_pool`: Ctrl-C reaches only this process, which stops them);
results are gathered and sorted by replication before anything is summarised. With
``store=``, each replication is kept on disk as it finishes and read back instead of computed
when the same replication is asked for again (:mod:`sim.runs.partial`): a killed command
resumes. Each replication gets its own posterior draw of the calibrated parameters the scenario
uses (named by ``parameters: {from_calibration: NAME}``, and the calibrated national defaults
unless ``fixed_parameters``: :func:`sim.runs.posterior.replication_scenarios`), so the bands carry
parameter uncertainty as well as chance.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.engine.model import ProgrammeModel
from sim.engine.streams import replication_seeds
from sim.runs.identity import VERSION, code_version, content_hash, replication_key, run_id
from sim.runs.partial import ReplicationStore
from sim.runs.posterior import replication_scenarios
from sim.runs.results import RunResult, atomic_dir
from sim.runs.workers import process_pool
from sim.scenario.schema import Scenario

__all__ = ["simulate", "simulate_batch", "replicate", "replicate_batched", "Ensemble", "content_hash",
           "code_version", "replication_key", "run_id", "flatten_summary", "VERSION", "QUANTILES"]

QUANTILES = (0.1, 0.5, 0.9)


def simulate(scenario: Scenario, seed: int = 0, *, record_events: bool = True, compiled: bool = True) -> RunResult:
    """Run one replication of ``scenario`` to its horizon (``compiled=False``: the engine's
    plain-Python reference, slow; see :class:`~sim.engine.model.ProgrammeModel`)."""
    model = ProgrammeModel(scenario, rng=seed, record_events=record_events, compiled=compiled)
    model.run()
    return RunResult.from_model(model)


#: People per batched model: enough blocks to share each month's overhead, few enough that the
#: ledger's keys of every month (8 bytes a person-month) stay small.
BATCH_PEOPLE = 60_000


def simulate_batch(scenarios: Sequence[Scenario], seeds: Sequence[int], *, record_events: bool = True,
                   compiled: bool = True, summary: bool = True, people_per_model: int = BATCH_PEOPLE
                   ) -> list[RunResult]:
    """Run scenario ``i`` with seed ``i`` for every ``i``, many at a time as blocks of one model
    (:class:`~sim.engine.batch.BatchModel`): each result equals ``simulate(scenarios[i], seeds[i])``.

    The scenarios may differ only in their programmes' numbers (replications pass the same
    scenario; a calibration, one per parameter set). Small cohorts run many times faster so.
    ``summary=False`` leaves out each result's headline numbers (they post its ledger).

    Raises:
        BatchError: if the scenarios differ in more than their programmes' numbers.
    """
    from sim.engine.batch import BatchModel
    from sim.engine.population import population_size

    if len(scenarios) != len(seeds):
        raise ValueError(f"{len(scenarios)} scenarios for {len(seeds)} seeds")
    if not scenarios:
        return []
    sc = scenarios[0]
    people = max(population_size(sc.population, sc.start_month, sc.horizon_months), 1)
    step = max(1, people_per_model // people)
    results: list[RunResult] = []
    for lo in range(0, len(seeds), step):
        model = BatchModel(scenarios[lo:lo + step], seeds[lo:lo + step], record_events=record_events,
                           compiled=compiled)
        model.run()
        results.extend(RunResult.from_model(model.block(b), summary=summary)  # type: ignore[arg-type]
                       for b in range(model.blocks))
    return results


def _one(args: tuple[Scenario, int, bool]) -> RunResult:
    scenario, seed, events = args
    return simulate(scenario, seed, record_events=events)


def replicate(scenario: Scenario, seed: int = 0, replications: int = 1, *, workers: int = 1,
              record_events: bool = True, progress: Callable[[int], None] | None = None,
              store: str | Path | None = None, fixed_parameters: bool = False) -> Ensemble:
    """Run ``replications`` independent replications.

    Args:
        progress: called with 1 each time a replication finishes (e.g. ``tqdm.update``), also
            for one read back from ``store``.
        store: a folder (:class:`~sim.runs.partial.ReplicationStore`) where each finished
            replication is kept as it finishes, and from which one kept earlier is read instead
            of computed (the results are the same either way).
        fixed_parameters: keep the calibrated defaults' written values (posterior medians)
            instead of drawing them per replication (:mod:`sim.runs.posterior`).
    """
    if replications < 1:
        raise ValueError(f"replications must be >= 1, got {replications}")
    seeds = replication_seeds(seed, replications)
    # Replication i uses its own posterior draw of the calibrated parameters (named by
    # `parameters: {from_calibration: NAME}`, and the calibrated defaults unless fixed), chosen by
    # seed and i only, so independent of workers.
    scenarios, draws = replication_scenarios(scenario, seed, replications, fixed_parameters=fixed_parameters)
    jobs = [(sc, s, record_events) for sc, s in zip(scenarios, seeds, strict=True)]
    kept = ReplicationStore(store) if store is not None else None
    results: dict[int, RunResult] = {}
    keys: list[str] = []
    if kept is not None:  # read back what a killed command kept
        kept.clean()
        code = code_version()
        keys = [replication_key(sc, s, record_events, code) for sc, s, _ in jobs]
        for i, key in enumerate(keys):
            found = kept.get(key)
            if isinstance(found, RunResult):
                results[i] = found
                if progress:
                    progress(1)

    def finished(i: int, result: RunResult) -> None:
        results[i] = result
        if kept is not None:
            kept.put(keys[i], result)
        if progress:
            progress(1)

    todo = [i for i in range(replications) if i not in results]
    if workers <= 1 or len(todo) <= 1:
        for i in todo:
            finished(i, _one(jobs[i]))
    else:
        with process_pool(min(workers, len(todo))) as pool:
            futures = {pool.submit(_one, jobs[i]): i for i in todo}
            for fut in as_completed(futures):  # kept as each finishes, in any order
                finished(futures[fut], fut.result())
    ens = Ensemble(scenario, seed, seeds, [results[i] for i in range(replications)])
    ens.parameter_draws = draws
    ens.record_events = record_events
    ens.fixed_parameters = fixed_parameters
    return ens


def replicate_batched(scenario: Scenario, seed: int = 0, replications: int = 1, *, record_events: bool = True,
                      fixed_parameters: bool = False) -> Ensemble:
    """:func:`replicate`, the replications run as blocks of batched models (:func:`simulate_batch`):
    the same results, in one process, many times faster for a small cohort. Replications with
    posterior draws that change more than programme numbers run one by one.
    """
    from sim.engine.batch_state import BatchError

    if replications < 1:
        raise ValueError(f"replications must be >= 1, got {replications}")
    seeds = replication_seeds(seed, replications)
    scenarios, draws = replication_scenarios(scenario, seed, replications, fixed_parameters=fixed_parameters)
    try:
        results = simulate_batch(scenarios, seeds, record_events=record_events)
    except BatchError:
        results = [simulate(sc, s, record_events=record_events) for sc, s in zip(scenarios, seeds, strict=True)]
    ens = Ensemble(scenario, seed, seeds, results)
    ens.parameter_draws = draws
    ens.fixed_parameters = fixed_parameters
    return ens


def _bands(values: Sequence[float | None]) -> dict[str, float | None]:
    vals = np.array([v for v in values if v is not None], dtype=float)
    if vals.size == 0:
        return {"p10": None, "p50": None, "p90": None, "mean": None}
    q = np.quantile(vals, QUANTILES)
    return {"p10": float(q[0]), "p50": float(q[1]), "p90": float(q[2]), "mean": float(vals.mean())}


class Ensemble:
    """The replications of one scenario and seed."""

    def __init__(self, scenario: Scenario, seed: int, seeds: list[int], results: list[RunResult]) -> None:
        self.scenario = scenario
        self.seed = seed
        self.seeds = seeds
        self.results = results
        #: calibrated draws used per replication (``parameters: {from_calibration: ...}``), else None
        self.parameter_draws: dict[str, Any] | None = None
        #: whether the replications kept the person-level event log (part of the run's folder name)
        self.record_events = True
        #: whether the calibrated defaults kept their written values instead of being drawn
        #: (part of the run's folder name when the scenario uses any)
        self.fixed_parameters = False

    def table(self, name: str) -> pd.DataFrame:
        """One table of all replications, with a ``replication`` column first."""
        frames = []
        for i, r in enumerate(self.results):
            df = r.tables[name].copy()
            df.insert(0, "replication", i)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    def bands(self, name: str = "stocks", value: str = "people",
              by: Sequence[str] = ("month", "stage")) -> pd.DataFrame:
        """P10/P50/P90 over replications of ``value`` by ``by`` (missing rows count as 0)."""
        df = self.table(name)
        by = list(by)
        wide = df.pivot_table(index=by, columns="replication", values=value, aggfunc="sum", fill_value=0)
        wide = wide.reindex(columns=range(len(self.results)), fill_value=0)
        q = np.quantile(wide.to_numpy(dtype=float), QUANTILES, axis=1)
        out = wide.index.to_frame(index=False)
        out["p10"], out["p50"], out["p90"] = q[0], q[1], q[2]
        return out

    def summary(self) -> dict[str, Any]:
        """Headline numbers: replication 0's descriptors, P10/P50/P90 for every number."""
        first = self.results[0].summary
        out: dict[str, Any] = {k: first[k] for k in ("scenario", "start_month", "start_month_index",
                                                    "horizon_months", "people", "programmes")}
        out["seed"] = self.seed
        out["replications"] = len(self.results)
        numeric = flatten_summary(first)
        for key in sorted(numeric):
            if key in ("seed", "start_month_index", "horizon_months", "people", "months_simulated"):
                continue
            out[key] = _bands([flatten_summary(r.summary).get(key) for r in self.results])
        return out

    def save(self, root: str | Path = "outputs", *, source: str | None = None) -> Path:
        """Write ``root/<scenario>/<run-id>/`` (:func:`run_id`) atomically and return its path."""
        h = content_hash(self.scenario)
        name = run_id(self.scenario, self.seed, len(self.results), self.record_events, self.fixed_parameters)
        path = Path(root) / self.scenario.name / name
        manifest = {
            "scenario": self.scenario.name,
            "source_file": source,
            "run_id": name,
            "events": self.record_events,
            "seed": self.seed,
            "replications": len(self.results),
            "replication_seeds": self.seeds,
            "almsim_version": VERSION,
            "content_hash": h,
            "fixed_parameters": self.fixed_parameters,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "resolved_scenario": self.scenario.model_dump(mode="json"),
        }
        if self.parameter_draws is not None:
            manifest["parameter_draws"] = self.parameter_draws
        with atomic_dir(path) as tmp:
            for name in self.results[0].tables:
                self.table(name).to_parquet(tmp / f"{name}.parquet", index=False)
            self.bands().to_parquet(tmp / "stock_bands.parquet", index=False)
            (tmp / "summary.json").write_text(json.dumps(self.summary(), indent=2, sort_keys=True) + "\n")
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        return path


def flatten_summary(d: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numbers of a run summary as ``{"dotted.key": value}`` (booleans and text left out)."""
    out: dict[str, float] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, (int, float)):
            out[key] = float(v)
        elif isinstance(v, Mapping):
            out.update(flatten_summary(v, key + "."))
    return out
