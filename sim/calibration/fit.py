"""Calibration: calibration jobs, the ABC-SMC fit and its posterior predictive.

A **calibration job** (``calibration/<name>.yaml``) names its scenario(s), a target file
(:mod:`sim.calibration.targets`), a parameter space file (:mod:`sim.calibration.spaces`: the calibrated parameters
with their priors, and the fixed ones with reasons) and the method's settings.

:func:`fit` runs ABC-SMC (pyabc) with the binomial/multinomial deviance of the outcome
targets as the distance (:func:`sim.calibration.targets.deviance`), then simulates every target (goals
and checks too) under the posterior draws and under the scenario as written (the
**posterior predictive**, through :class:`sim.runs.sweep.Sweep`), and saves under
``calibration/results/<name>/``: ``posterior.parquet`` (equally weighted draws, one column per
dotted path, what ``parameters: {from_calibration: <name>}`` reads), ``population.parquet``
(the last ABC population with weights), ``predictive.parquet``, ``fit_report.md`` and figures.
A job whose space is empty (or without outcome targets) only checks: it simulates the
scenario as written and reports the same table.

Why ABC-SMC with a deviance distance, and not a likelihood on averaged runs: see
``docs/calibration.md``.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.spaces import Parameter, Prior, Space, load_space
from sim.calibration.targets import Target, TargetSet, deviance, load_targets, shares, simulate_target
from sim.engine.streams import replication_seeds
from sim.runs.posterior import read_transfers
from sim.runs.replications import batch_groups, simulate, simulate_batch
from sim.scenario.checks import Checker
from sim.scenario.errors import ScenarioError, did_you_mean
from sim.scenario.paths import apply_values, apply_values_shared, get_value

__all__ = ["Prior", "Parameter", "Space", "load_space", "ScenarioSpec", "Job", "load_job", "Simulator",
           "FitResult", "fit", "load_fit", "predictive", "DEFAULT_METHOD"]

#: Method settings and their defaults (a job's ``method:`` may change any of them).
DEFAULT_METHOD: dict[str, Any] = {
    "population_size": 300,  # particles per ABC-SMC generation
    "max_generations": 8,
    "max_simulations": 20000,  # stop after this many simulations in all
    "max_minutes": 30.0,  # a wall-clock cap; null: none (then results never depend on machine load)
    "min_acceptance_rate": 0.01,
    "epsilon_quantile": 0.5,  # next tolerance = this quantile of the last generation's distances
    "draws": 200,  # equally weighted posterior draws kept (and simulated for the predictive)
    "as_written_replications": 100,  # replications of the scenario as written, for comparison
    "batch_particles": 128,  # particles simulated together as blocks of one model (see batching.py)
}


# ------------------------------------------------------------------------------ jobs
@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario of a job: a file, overrides, and whether its runs keep the event log."""

    key: str
    file: str
    overrides: tuple[str, ...]
    doc: Mapping[str, Any]
    record_events: bool


@dataclass(frozen=True)
class Job:
    """A calibration job (``calibration/<name>.yaml``)."""

    name: str
    title: str
    file: str
    scenarios: dict[str, ScenarioSpec]
    targets: TargetSet
    space: Space
    method: dict[str, Any]
    seed: int
    workers: int
    held_back: tuple[str, ...]
    notes: str = ""
    #: posterior paths other scenarios draw where they use this fit's default (``transfers:``;
    #: :mod:`sim.runs.posterior`)
    transfers: tuple[str, ...] = ()

    def scenario_of(self, target: Target) -> str:
        """The job's scenario key a target is computed on."""
        return target.scenario or next(iter(self.scenarios))

    def outcome_targets(self, leave_out: Sequence[str] = ()) -> list[Target]:
        """The targets fitted: outcomes not left out."""
        return [t for t in self.targets.targets if t.kind == "outcome" and t.name not in leave_out]


_JOB_KEYS = ("name", "title", "targets", "space", "scenarios", "method", "seed", "workers", "held_back", "notes",
             "transfers")
_SCENARIO_KEYS = ("file", "set", "record_events")
#: Bounds of each method setting (``whole``: a whole number). Caps keep a typo (1e9 particles)
#: from asking for more than a machine can do.
_METHOD_BOUNDS: dict[str, dict[str, Any]] = {
    "population_size": {"whole": True, "ge": 2, "le": 1_000_000},
    "max_generations": {"whole": True, "ge": 1, "le": 10_000},
    "max_simulations": {"whole": True, "ge": 1, "le": 1_000_000_000},
    "max_minutes": {"gt": 0, "le": 1e6},
    "min_acceptance_rate": {"ge": 0, "le": 1},
    "epsilon_quantile": {"gt": 0, "lt": 1},
    "draws": {"whole": True, "ge": 1, "le": 1_000_000},
    "as_written_replications": {"whole": True, "ge": 1, "le": 1_000_000},
    "batch_particles": {"whole": True, "ge": 1, "le": 100_000},
}
_MAX_SCENARIOS = 32


def _job_file(here: Path, c: Checker, value: Any, path: tuple[Any, ...], key: str, what: str) -> Path:
    """A file named in a job, relative to the job's folder (a scenario may also be ``almsim:NAME``,
    a shipped one); checked before it is opened."""
    from sim.scenario.shipped import is_shipped, shipped_path
    from sim.scenario.yaml_reader import check_path

    text = c.text(value, path, key, max_length=4096)
    if "\0" in text:
        raise c.fail(path, f"{text!r} contains a NUL byte", key)
    if what == "scenario file" and is_shipped(text):
        try:
            return shipped_path(text)
        except ValueError as exc:
            raise c.fail(path, str(exc), key) from None
    target = here / text
    try:
        check_path(str(target), what)
    except ScenarioError as exc:
        raise c.fail(path, f"{exc.message} ({target})", key) from None
    return target


def load_job(path: str | Path) -> Job:
    """Read a calibration job, its target and space files, and parse its scenarios.

    Every file is read with the scenario reader's rules (:func:`sim.scenario.load.read_document`).

    Raises:
        ScenarioError: for any problem in any of the files, with its file, line and key.
    """
    from sim.scenario.load import build, parse_file, read_document

    file = str(path)
    raw, prov = read_document(path, "calibration job")
    c = Checker(raw, prov)
    c.keys(raw, (), _JOB_KEYS, required=("name", "targets", "scenarios"))
    name = c.text(raw["name"], ("name",), "name", max_length=100)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_\-]*", name, re.ASCII):
        raise c.fail(("name",), f"must match the pattern '^[a-z0-9][a-z0-9_\\-]*$' (it names the results "
                     f"folder), got {name!r}", "name")
    title = c.text(raw["title"], ("title",), "title", empty=True) if raw.get("title") is not None else ""
    notes = c.text(raw["notes"], ("notes",), "notes", empty=True) if raw.get("notes") is not None else ""
    here = Path(path).parent
    targets = load_targets(_job_file(here, c, raw["targets"], ("targets",), "targets", "target file"))
    space = (load_space(_job_file(here, c, raw["space"], ("space",), "space", "space file"))
             if raw.get("space") is not None else Space("none", ()))
    method = dict(DEFAULT_METHOD)
    given = c.mapping(raw["method"], ("method",), "method") if raw.get("method") is not None else {}
    c.keys(given, ("method",), DEFAULT_METHOD, "method")
    for k, v in given.items():
        if k == "max_minutes" and v is None:  # no wall-clock cap: the fit stops on its counts alone
            method[k] = None
            continue
        method[k] = c.number(v, ("method", k), f"method.{k}", **_METHOD_BOUNDS[k])
    seed = c.number(raw.get("seed", 0), ("seed",), "seed", whole=True, ge=0, le=2**63 - 1)
    workers = c.number(raw.get("workers", 1), ("workers",), "workers", whole=True, ge=1, le=1024)
    needs_events: dict[str | None, bool] = {}
    for t in targets.targets:
        needs_events.setdefault(t.scenario, False)
        needs_events[t.scenario] |= t.needs_events
    specs: dict[str, ScenarioSpec] = {}
    scenarios = c.mapping(raw["scenarios"], ("scenarios",), "scenarios",
                          "a mapping of keys to {file: ..., set: [...]}")
    if not scenarios:
        raise c.fail(("scenarios",), "name at least one scenario", "scenarios")
    if len(scenarios) > _MAX_SCENARIOS:
        raise c.fail(("scenarios",), f"expected at most {_MAX_SCENARIOS} scenarios, got {len(scenarios)}",
                     "scenarios")
    first = next(iter(scenarios))
    for key, s in scenarios.items():
        here_path, shown = ("scenarios", key), f"scenarios.{key}"
        c.text(key, here_path, shown, max_length=100)
        if isinstance(s, str):
            s = {"file": s}
            file_path: tuple[Any, ...] = here_path
            file_key = shown
        else:
            s = c.mapping(s, here_path, shown, "a file name or {file: ..., set: [...]}")
            c.keys(s, here_path, _SCENARIO_KEYS, shown, required=("file",))
            file_path, file_key = (*here_path, "file"), f"{shown}.file"
        scenario_file = _job_file(here, c, s["file"], file_path, file_key, "scenario file")
        overrides = tuple(c.text_list(s["set"], (*here_path, "set"), f"{shown}.set")
                          if s.get("set") is not None else ())
        try:
            doc, sprov = parse_file(scenario_file, overrides)
            build(doc, sprov)  # fail early, with file and line
        except ScenarioError as exc:
            if exc.file != "--set":
                raise
            # A value of the job's 'set:' list: point at the list in the job file.
            raise c.fail((*here_path, "set"), f"{exc.key}: {exc.message}" if exc.key else exc.message,
                         f"{shown}.set") from None
        events = needs_events.get(key, False) or (key == first and needs_events.get(None, False))
        if s.get("record_events") is not None:
            events = c.flag(s["record_events"], (*here_path, "record_events"), f"{shown}.record_events")
        specs[key] = ScenarioSpec(key, str(scenario_file), overrides, doc, bool(events))
    for t in targets.targets:
        if t.scenario is not None and t.scenario not in specs:
            i = [x.name for x in targets.targets].index(t.name)
            loc = targets_line(targets.file, i)
            raise ScenarioError(f"target {t.name!r} names scenario {t.scenario!r}, not in this job "
                                f"({', '.join(specs)})", file=targets.file, line=loc,
                                key=f"targets.{t.name}.scenario")
    for p in space.parameters:
        for path_ in p.paths:
            if not any(_has(spec.doc, path_) for spec in specs.values()):
                raise ScenarioError(f"parameter {p.name!r}: no scenario of the job has {path_!r}", file=space.file,
                                    key=f"parameters.{p.name}")
    held = tuple(c.text_list(raw["held_back"], ("held_back",), "held_back")
                 if raw.get("held_back") is not None else ())
    names = [t.name for t in targets.targets]
    for i, h in enumerate(held):
        if h not in names:
            raise c.fail(("held_back", i), f"unknown target {h!r}{did_you_mean(h, names)}", f"held_back[{i}]")
    transfers = read_transfers(raw, prov, path)
    calibrated = [p_ for p in space.parameters for p_ in p.paths]
    for i, path_ in enumerate(transfers.paths if transfers is not None else ()):
        if path_ not in calibrated:
            raise c.fail(("transfers", i), f"{path_!r} is not a path this job calibrates"
                         f"{did_you_mean(path_, calibrated) or ' (' + (', '.join(calibrated) or 'none') + ')'}",
                         f"transfers[{i}]")
    return Job(name, title, file, specs, targets, space, method, int(seed), int(workers), held, notes.strip(),
               transfers.paths if transfers is not None else ())


def targets_line(file: str, index: int) -> int | None:
    """The line of the ``scenario:`` key of target ``index`` in a target file."""
    from sim.scenario.load import read_document

    _, prov = read_document(file, "target file")
    return prov.locate(("targets", index, "scenario")).line


def _has(doc: Mapping[str, Any], path: str) -> bool:
    try:
        get_value(doc, path)
    except (KeyError, TypeError):
        return False
    return True


# ------------------------------------------------------------------------------ simulator
@dataclass
class Simulator:
    """Simulates the fitted targets of a job for one parameter set (picklable, for pyabc workers)."""

    job: Job
    targets: list[Target]
    by_scenario: dict[str, list[Target]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_scenario = {}
        for t in self.targets:
            self.by_scenario.setdefault(self.job.scenario_of(t), []).append(t)

    def path_values(self, values: Mapping[str, float]) -> dict[str, float]:
        """Dotted path -> value of a named parameter set."""
        return self.job.space.path_values(values, [s.doc for s in self.job.scenarios.values()])

    def __call__(self, values: Mapping[str, float], seed: int) -> dict[str, np.ndarray]:
        """Each fitted target's statistic (NaN if the values make an invalid scenario)."""
        from sim.scenario.load import build

        paths = self.path_values(values)
        out: dict[str, np.ndarray] = {}
        for key, targets in self.by_scenario.items():
            spec = self.job.scenarios[key]
            try:
                scenario = build(apply_values(spec.doc, paths, skip_missing=True))
            except ScenarioError:
                return self._invalid()
            result = simulate(scenario, seed, record_events=spec.record_events)
            for t in targets:
                out[t.name] = simulate_target(t, result, scenario)
        return out

    def _invalid(self) -> dict[str, np.ndarray]:
        return {t.name: np.full(len(t.categories) + (t.likelihood == "binomial"), np.nan) for t in self.targets}

    def simulate_paths(self, runs: Sequence[tuple[Mapping[str, float], int]]) -> list[dict[str, np.ndarray]]:
        """:meth:`__call__` for many ``(dotted path values, seed)`` at once, as blocks of batched
        models (:func:`sim.runs.replications.simulate_batch`): the same statistics, in order."""
        from sim.scenario.load import build, rebuild

        bases = self.__dict__.setdefault("_bases", {})  # each scenario as written, built once
        built: list[dict[str, Any] | None] = []
        for paths, _seed in runs:
            scenarios: dict[str, Any] | None = {}
            for key in self.by_scenario:
                doc = self.job.scenarios[key].doc
                if key not in bases:
                    bases[key] = build(doc)
                try:
                    scenarios[key] = rebuild(bases[key], apply_values_shared(doc, paths), paths)
                except ScenarioError:
                    scenarios = None
                    break
            built.append(scenarios)
        out: list[dict[str, np.ndarray]] = [{} if b is not None else self._invalid() for b in built]
        valid = [i for i, b in enumerate(built) if b is not None]
        for key, targets in self.by_scenario.items():
            scenarios = [built[i][key] for i in valid]  # type: ignore[index]
            # (a space that moves what blocks must share, e.g. an inflow's size, gives several models)
            for group in batch_groups(scenarios):
                results = simulate_batch([scenarios[g] for g in group], [runs[valid[g]][1] for g in group],
                                         record_events=self.job.scenarios[key].record_events, summary=False)
                for g, result in zip(group, results, strict=True):
                    for t in targets:
                        out[valid[g]][t.name] = simulate_target(t, result, scenarios[g])
        return out

    def distance(self, sim: Mapping[str, np.ndarray]) -> float:
        """Sum of the targets' deviances (inf for an invalid parameter set)."""
        total = 0.0
        for t in self.targets:
            x = np.asarray(sim[t.name], dtype=float)
            if not np.all(np.isfinite(x)):
                return math.inf
            total += deviance(t, x)
        return total


class _AbcModel:
    """pyabc's model: unit coordinates -> statistics (a seed drawn from the worker's generator)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def __call__(self, par: Mapping[str, float]) -> dict[str, np.ndarray]:
        from sim.calibration.batching import model_call

        values = {p.name: float(p.prior.from_unit(par[p.name])) for p in self.sim.job.space.parameters}
        seed = int(np.random.randint(0, 2**31 - 1))
        batched = model_call((self.sim.path_values(values), seed))  # inside a BatchSampler's lane
        return self.sim(values, seed) if batched is None else batched


def _simulate_chunk(args: tuple[Simulator, list[tuple[dict[str, float], int]]]) -> list[dict[str, np.ndarray]]:
    sim, runs = args
    return sim.simulate_paths(runs)


def _run_many(sim: Simulator, runs: Sequence[tuple[dict[str, float], int]], pool: Any,
              workers: int) -> list[dict[str, np.ndarray]]:
    """:meth:`Simulator.simulate_paths` of ``runs``, split in order over the pool's workers."""
    runs = list(runs)
    if pool is None or workers <= 1 or len(runs) < 2:
        return sim.simulate_paths(runs)
    k = min(workers, len(runs))
    bounds = np.linspace(0, len(runs), k + 1).astype(int)
    chunks = [(sim, runs[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return [res for part in pool.map(_simulate_chunk, chunks) for res in part]


_POOLS: dict[int, Any] = {}


def _pool(workers: int) -> Any:
    """Worker processes for fits, started once per process and kept for every later fit (a
    held-back fit, the predictive): each worker pays its imports once. None for one worker."""
    if workers <= 1:
        return None
    pool = _POOLS.get(workers)
    if pool is None:
        from sim.runs.workers import worker_pool

        pool = _POOLS[workers] = worker_pool(workers)  # Ctrl-C reaches only the command, which stops
    return pool


class _AbcDistance:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def __call__(self, x: Mapping[str, np.ndarray], x_0: Mapping[str, np.ndarray]) -> float:
        return self.sim.distance(x)


# ------------------------------------------------------------------------------ fit
@dataclass
class FitResult:
    """What a fit produced (also written to its folder)."""

    job: Job
    folder: Path
    population: pd.DataFrame | None  # named parameters (natural units), weight, distance
    posterior: pd.DataFrame | None  # equally weighted draws: draw + one column per dotted path
    generations: pd.DataFrame | None  # t, epsilon, particles, simulations, acceptance
    predictive: pd.DataFrame  # source, draw, target, category, value
    meta: dict[str, Any]
    leave_out: tuple[str, ...] = ()


def _systematic(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    cum = np.cumsum(w / w.sum())
    u = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(cum, u), len(w) - 1)


def _abc(job: Job, sim: Simulator, db: Path, workers: int, scheduler: Any, log: Callable[[str], None],
         progress: bool, pool: Any = None) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    import pyabc

    from sim.calibration.batching import BatchSampler

    # pyabc reports each generation (tolerance, acceptance, timing) at INFO, on stderr.
    logging.getLogger("ABC").setLevel(logging.INFO if progress else logging.WARNING)
    m = job.method
    prior = pyabc.Distribution(**{
        p.name: pyabc.RV("uniform", p.prior.unit_bounds[0], p.prior.unit_bounds[1] - p.prior.unit_bounds[0])
        for p in job.space.parameters})
    own_client = None
    if scheduler is not None:
        from distributed import Client

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        own_client = None if client is scheduler else client
        sampler = pyabc.sampler.DaskDistributedSampler(dask_client=client, batch_size=4)
    else:  # particles simulated many at a time, as blocks of batched models
        sampler = BatchSampler(lambda runs: _run_many(sim, runs, pool, workers), lanes=int(m["batch_particles"]))
    sampler.show_progress = False  # its bar is per particle and goes to stdout; the INFO lines are enough
    np.random.seed(job.seed % 2**32)
    abc = pyabc.ABCSMC(_AbcModel(sim), prior, _AbcDistance(sim), population_size=int(m["population_size"]),
                       sampler=sampler, eps=pyabc.QuantileEpsilon(alpha=float(m["epsilon_quantile"])))
    db.parent.mkdir(parents=True, exist_ok=True)
    abc.new("sqlite:///" + str(db), {t.name: t.observed() for t in sim.targets})
    try:
        history = abc.run(max_nr_populations=int(m["max_generations"]),
                          max_total_nr_simulations=int(m["max_simulations"]),
                          min_acceptance_rate=float(m["min_acceptance_rate"]),
                          max_walltime=(None if m["max_minutes"] is None
                                        else _dt.timedelta(minutes=float(m["max_minutes"]))))
    finally:
        if own_client is not None:
            own_client.close()
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0].reset_index(drop=True)
    gens = pd.DataFrame({"t": pops["t"].astype(int), "epsilon": pops["epsilon"].astype(float),
                         "simulations": pops["samples"].astype(int),
                         "particles": [history.get_nr_particles_per_population().get(t, 0) for t in pops["t"]]})
    gens["acceptance"] = gens["particles"] / gens["simulations"].clip(lower=1)
    df, w = history.get_distribution(m=0, t=history.max_t)
    pop = pd.DataFrame({p.name: np.array([p.natural(float(p.prior.from_unit(u))) for u in df[p.name].to_numpy()])
                        for p in job.space.parameters})
    pop["weight"] = np.asarray(w, dtype=float)
    dist = history.get_weighted_distances(t=history.max_t)
    pop["distance"] = dist["distance"].to_numpy() if len(dist) == len(pop) else np.nan
    for _, g in gens.iterrows():
        log(f"  generation {int(g.t)}: epsilon {g.epsilon:,.1f}, {int(g.simulations)} simulations, "
            f"acceptance {g.acceptance:.2f}")
    return pop, gens, int(history.total_nr_simulations)


def predictive(job: Job, parameter_sets: Sequence[Mapping[str, float]], seeds: Sequence[int], store: Path,
               source: str, *, workers: int = 1, scheduler: Any = None, progress: bool = True,
               pool: Any = None) -> pd.DataFrame:
    """Every target of the job simulated once per parameter set (dotted paths), with its seed.

    On a Dask cluster (``scheduler``) each run is a stored sweep run (a killed run resumes);
    locally the runs are simulated as blocks of batched models, split over ``pool``'s workers.

    Returns:
        Long table: ``source, draw, target, category, value`` (value in the units of
        :meth:`Target.observed`: shares for counts), plus ``successes``/``trials`` columns for
        binomial targets.
    """
    from sim.runs.sweep import Sweep, target_columns

    if scheduler is None:
        return _predictive_batched(job, parameter_sets, seeds, source, pool, workers)
    rows = []
    for key, spec in job.scenarios.items():
        targets = [t for t in job.targets.targets if job.scenario_of(t) == key]
        if not targets:
            continue
        sets = [{p: v for p, v in ps.items() if _has(spec.doc, p)} for ps in parameter_sets]
        sweep = Sweep(spec.doc, sets, store / key, seeds=list(seeds), targets=targets, summary=False,
                      record_events=spec.record_events, name=f"{job.name}/{key} {source}")
        res = sweep.run(workers=workers, scheduler=scheduler, progress=progress)
        for t in targets:
            raw = res[target_columns(t)].to_numpy(dtype=float)
            for d in range(len(res)):
                vals = shares(t, raw[d])
                for c, v in zip(t.categories, vals, strict=True):
                    rows.append((source, d, t.name, c, float(v), raw[d].sum() if t.likelihood == "multinomial"
                                 else raw[d][-1] if t.likelihood == "binomial" else np.nan))
    return pd.DataFrame(rows, columns=["source", "draw", "target", "category", "value", "trials"])


def _predictive_batched(job: Job, parameter_sets: Sequence[Mapping[str, float]], seeds: Sequence[int], source: str,
                        pool: Any, workers: int) -> pd.DataFrame:
    """:func:`predictive` with the runs simulated as blocks of batched models."""
    sim = Simulator(job, list(job.targets.targets))
    stats = _run_many(sim, [(dict(ps), int(s)) for ps, s in zip(parameter_sets, seeds, strict=True)], pool, workers)
    rows = []
    for key in job.scenarios:
        for t in sim.by_scenario.get(key, []):
            for d, st in enumerate(stats):
                raw = np.asarray(st[t.name], dtype=float)
                vals = shares(t, raw)
                for c, v in zip(t.categories, vals, strict=True):
                    rows.append((source, d, t.name, c, float(v), raw.sum() if t.likelihood == "multinomial"
                                 else raw[-1] if t.likelihood == "binomial" else np.nan))
    return pd.DataFrame(rows, columns=["source", "draw", "target", "category", "value", "trials"])


def fit(job: Job, out: str | Path | None = None, *, leave_out: Sequence[str] = (), workers: int | None = None,
        scheduler: Any = None, progress: bool = True, work: str | Path = "outputs/calibration",
        log: Callable[[str], None] = print, as_written: pd.DataFrame | None = None) -> FitResult:
    """Fit the job (unless it only checks) and simulate the predictive.

    :func:`sim.present.calibration_report.write_results` writes the result's folder.

    Args:
        out: results folder (default ``calibration/results/<name>/`` beside the job file).
        leave_out: outcome targets not fitted (held back to test the prediction).
        workers: local processes (default: the job's ``workers``); ``scheduler``: a Dask address.
        work: folder for the ABC database and the predictive sweeps (not committed).
        as_written: the as-written rows of an earlier fit's predictive of this job (e.g. the main
            fit's, for its held-back fits), used instead of simulating them again: they are the
            scenario as written with the job's seeds, whatever is fitted or left out.
    """
    workers = job.workers if workers is None else workers
    folder = Path(out) if out is not None else Path(job.file).parent / "results" / job.name
    tag = job.name + ("" if not leave_out else "-without-" + "-".join(leave_out))
    workdir = Path(work) / tag
    fitted = job.outcome_targets(leave_out)
    sim = Simulator(job, fitted)
    t0 = time.perf_counter()
    meta: dict[str, Any] = {"job": job.name, "file": job.file, "leave_out": list(leave_out), "seed": job.seed,
                            "workers": workers, "scheduler": None if scheduler is None else str(scheduler),
                            "method": job.method, "fitted_targets": [t.name for t in fitted],
                            "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                            "code_version": _code_version()}
    population = posterior = gens = None
    n = int(job.method["draws"])
    pool = _pool(workers) if scheduler is None else None
    if job.space.parameters and fitted:
        log(f"{job.name}: ABC-SMC over {len(job.space.parameters)} parameters, {len(fitted)} fitted targets"
            + (f" (left out: {', '.join(leave_out)})" if leave_out else ""))
        db = workdir / f"abc-{_dt.datetime.now(_dt.UTC).strftime('%Y%m%dT%H%M%S')}.db"
        population, gens, total = _abc(job, sim, db, workers, scheduler, log, progress, pool)
        meta.update(abc_database=str(db), simulations=total, generations=len(gens))
        idx = _systematic(population["weight"].to_numpy(), n, np.random.default_rng(job.seed))
        named = population.iloc[idx].reset_index(drop=True)
        draws = [sim.path_values(dict(zip(job.space.names, row, strict=True)))
                 for row in named[job.space.names].to_numpy()]
        posterior = pd.DataFrame(draws)
        posterior.insert(0, "draw", np.arange(len(posterior)))
        for name in job.space.names:
            posterior[f"param.{name}"] = named[name].to_numpy()
        meta["fit_seconds"] = time.perf_counter() - t0
        log(f"  fit: {total} simulations in {meta['fit_seconds']:.0f} s")
    else:
        log(f"{job.name}: no parameters to fit; checking the scenario as written")
    pred = []
    if posterior is not None:
        sets = posterior[[c for c in posterior.columns if c != "draw" and not c.startswith("param.")]]
        pred.append(predictive(job, sets.to_dict("records"), replication_seeds(job.seed + 1, n),
                               workdir / "predictive", "posterior", workers=workers, scheduler=scheduler,
                               progress=progress, pool=pool))
    r = int(job.method["as_written_replications"])
    if as_written is not None and set(as_written["source"]) == {"as_written"} and as_written["draw"].nunique() == r:
        pred.append(as_written.reset_index(drop=True))
    else:
        pred.append(predictive(job, [{}] * r, replication_seeds(job.seed + 2, r), workdir / "as_written",
                               "as_written", workers=workers, scheduler=scheduler, progress=progress, pool=pool))
    meta["total_seconds"] = time.perf_counter() - t0
    result = FitResult(job, folder, population, posterior, gens, pd.concat(pred, ignore_index=True), meta,
                       tuple(leave_out))
    return result


def _code_version() -> str:
    """The package's code version (:func:`sim.runs.sweep.code_version`) and, if known, the git commit."""
    import subprocess

    from sim.runs.sweep import code_version

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return code_version() + (f" (git {commit})" if commit else "")


def load_fit(job: Job, folder: str | Path) -> FitResult:
    """A fit read back from its results folder (to render its report again without fitting)."""
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text())

    def read(name: str) -> pd.DataFrame | None:
        path = folder / name
        if not path.is_file():
            return None
        return pd.read_csv(path) if name.endswith(".csv") else pd.read_parquet(path)

    return FitResult(job, folder, read("population.parquet"), read("posterior.parquet"), read("generations.csv"),
                     read("predictive.parquet"), meta, tuple(meta.get("leave_out", [])))

