"""Replications of a scenario: spawned seeds, P10/P50/P90 bands, and saving a run folder.

Replication ``r`` of seed ``s`` uses :func:`sim.engine.streams.replication_seeds` (replication 0 is
``s`` itself), so results do not depend on how many worker processes run them or in which
order they finish. Replications run as blocks of batched models
(:class:`~sim.engine.batch.BatchModel`; each block's results equal a separate run's), or one by one
where their scenarios cannot share a model. Workers are a local process pool (``workers > 1``,
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
import gc
import json
import platform
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.accounts.payers import PAYERS
from sim.engine.streams import replication_seeds
from sim.runs.allocator import LARGE_RUN
from sim.runs.identity import VERSION, code_version, content_hash, replication_key, run_id
from sim.runs.partial import ReplicationStore
from sim.runs.posterior import replication_scenarios
from sim.runs.results import LazyTables, RunResult, atomic_dir
from sim.runs.workers import process_pool
from sim.scenario.schema import Scenario

__all__ = ["simulate", "simulate_batch", "replicate", "replicate_all", "Request", "Ensemble", "nets_only",
           "content_hash", "code_version", "replication_key", "run_id", "flatten_summary", "VERSION", "QUANTILES"]

QUANTILES = (0.1, 0.5, 0.9)


def simulate(scenario: Scenario, seed: int = 0, *, record_events: bool = True, compiled: bool = True,
             summary: bool = True, member_shares: Sequence[float] = ()) -> RunResult:
    """Run one replication of ``scenario`` to its horizon (``compiled=False``: the engine's
    plain-Python reference, slow; see :class:`~sim.engine.model.ProgrammeModel`; ``summary=False``:
    without the headline numbers, see :meth:`RunResult.from_model`; ``member_shares``: other
    shares of a-kassa members at entry the result can give its nets at too, :attr:`RunResult.member_changes`)."""
    from sim.engine.model import ProgrammeModel  # (mesa: imported only where an ordinary run is made)

    model = ProgrammeModel(scenario, rng=seed, record_events=record_events, compiled=compiled,
                           member_shares=member_shares)
    model.run()
    return RunResult.from_model(model, summary=summary)


#: From this many person-months a finished batched model is freed at once (``gc.collect``): its
#: calendar's processes and the model refer to each other, so it would otherwise wait for the
#: cyclic collector, which large arrays do not wake: a national run's model (~0.7 GB) stayed in
#: memory after every replication (``almsim run`` of 20 national replications ran out of memory).
COLLECT_FROM = LARGE_RUN

#: People per batched model: enough blocks to share each month's overhead, few enough that the
#: ledger's keys of every month (8 bytes a person-month) stay small.
BATCH_PEOPLE = 60_000


def _people(scenario: Scenario) -> int:
    from sim.engine.population import population_size

    return max(population_size(scenario.population, scenario.start_month, scenario.horizon_months), 1)


def _models(todo: Sequence[int], people: int, people_per_model: int | None = None) -> list[list[int]]:
    """``todo`` cut into batched models of at most ``people_per_model`` people (default
    :data:`BATCH_PEOPLE`; at least one run each), as even in size as they can be."""
    if not todo:
        return []
    step = max(1, (BATCH_PEOPLE if people_per_model is None else people_per_model) // people)
    n = -(-len(todo) // step)
    size, extra = divmod(len(todo), n)
    out, lo = [], 0
    for k in range(n):
        hi = lo + size + (k < extra)
        out.append(list(todo[lo:hi]))
        lo = hi
    return out


def simulate_batch(scenarios: Sequence[Scenario], seeds: Sequence[int], *, record_events: bool = True,
                   compiled: bool = True, summary: bool = True, people_per_model: int | None = None
                   ) -> list[RunResult]:
    """Run scenario ``i`` with seed ``i`` for every ``i``, many at a time as blocks of one model
    (:class:`~sim.engine.batch.BatchModel`): each result equals ``simulate(scenarios[i], seeds[i])``.

    The scenarios may differ only in their programmes' numbers (and have the first few of the
    programmes), the national values a calibration draws and their population's composition
    (:func:`~sim.engine.batch_state.check_batchable`; replications pass the same scenario, a
    calibration one per parameter set). Small cohorts run many times faster so.
    ``summary=False`` leaves out each result's headline numbers (they post its ledger).

    Raises:
        BatchError: if the scenarios differ in more than that.
    """
    if len(scenarios) != len(seeds):
        raise ValueError(f"{len(scenarios)} scenarios for {len(seeds)} seeds")
    if not scenarios:
        return []
    from sim.engine.batch_state import check_batchable

    check_batchable(scenarios)  # before any model runs
    results: list[RunResult] = []
    for chunk in _models(range(len(seeds)), _people(scenarios[0]), people_per_model):
        results.extend(_batch([scenarios[i] for i in chunk], [seeds[i] for i in chunk], record_events, compiled,
                              summary))
    return results


def batch_groups(scenarios: Sequence[Scenario]) -> list[list[int]]:
    """The indices of ``scenarios`` in groups that can each be blocks of one batched model
    (:func:`~sim.engine.batch_state.check_batchable`): one group when they all can, else the
    scenarios equal in everything a batch's blocks must share but their programmes (a
    comparison's baseline and scenario, each with its assumption lines' re-runs that change a
    rule), split further by their programmes where those cannot share a batch (e.g. a calibration
    that draws an inflow's size per particle: one group per size); in their first index's order."""
    from sim.engine.batch_state import shape_key

    if _batchable(scenarios):
        return [list(range(len(scenarios)))] if scenarios else []
    groups: dict[str, list[int]] = {}
    for i, sc in enumerate(scenarios):
        groups.setdefault(shape_key(sc, programmes=False), []).append(i)
    out: list[list[int]] = []
    for group in groups.values():
        if _batchable([scenarios[i] for i in group]):
            out.append(group)
            continue
        split: dict[str, list[int]] = {}
        for i in group:
            split.setdefault(shape_key(scenarios[i]), []).append(i)
        out += split.values()
    return sorted(out, key=lambda g: g[0])


def _batch(scenarios: Sequence[Scenario], seeds: Sequence[int], record_events: bool | Sequence[bool],
           compiled: bool = True, summary: bool | Sequence[bool] = True,
           nets: Sequence[bool] | None = None, member_shares: Sequence[tuple[float, ...]] | None = None
           ) -> list[RunResult]:
    """One batched model of ``scenarios`` with ``seeds``, run; each block's result (``record_events``
    and ``summary``: for every block, or one flag a block; a block whose ``nets`` flag is true is
    read for its nets only (:func:`nets_only`): its result has its ledger book and no other
    records, and no headline numbers; ``member_shares``: per block, the other a-kassa shares its
    result can give its nets at, :attr:`RunResult.member_changes`: the model books every share
    any block asks for)."""
    from sim.engine.batch import BatchModel

    asked = [()] * len(scenarios) if member_shares is None else [tuple(v) for v in member_shares]
    shares = tuple(sorted({v for own in asked for v in own}))
    model = BatchModel(scenarios, seeds, record_events=record_events, compiled=compiled, member_shares=shares)
    model.run()
    summaries = [summary] * model.blocks if isinstance(summary, bool) else list(summary)
    only = [False] * model.blocks if nets is None else list(nets)
    out = [RunResult.from_model(model.block(b, ledger_only=only[b]),  # type: ignore[arg-type]
                                summary=summaries[b] and not only[b])
           for b in range(model.blocks)]
    for r, own in zip(out, asked, strict=True):
        if r.member_changes is not None:
            r.member_changes = {v: r.member_changes[v] for v in own} or None
    size = len(model.state.pop) * model.state.horizon
    del model
    if size >= COLLECT_FROM:
        gc.collect()
    return out


#: What :func:`_run` runs: scenario, seed, record_events, whether only the run's nets are
#: kept (:func:`nets_only`: re-runs for a comparison's assumption lines; no headline numbers),
#: and the other a-kassa shares it can give its nets at (:attr:`RunResult.member_changes`).
_Item = tuple[Scenario, int, bool, bool, tuple[float, ...]]


def _batch_job(args: tuple[list[Scenario], list[int], list[bool], list[bool], list[tuple[float, ...]]]
               ) -> list[RunResult]:
    scenarios, seeds, events, nets, shares = args
    return _batch(scenarios, seeds, events, nets=nets, member_shares=shares)


def _one(args: _Item) -> list[RunResult]:
    scenario, seed, events, nets, shares = args
    return [simulate(scenario, seed, record_events=events, summary=not nets, member_shares=shares)]


def _batchable(scenarios: Sequence[Scenario]) -> bool:
    from sim.engine.batch_state import BatchError, check_batchable

    try:
        check_batchable(scenarios)
    except BatchError:
        return False
    return True


@dataclass(frozen=True)
class Request:
    """The replications :func:`replicate_all` is asked for: ``replications`` of ``scenario`` from
    ``seed`` (the arguments of :func:`replicate` of the same names)."""

    scenario: Scenario
    seed: int = 0
    replications: int = 1
    record_events: bool = True
    fixed_parameters: bool = False
    #: keep only each replication's net by month and payer (:func:`nets_only`; no tables, no
    #: headline numbers, no ledger book): what a comparison's re-runs for its assumption lines
    #: read; a store keeps them so, under keys of their own
    nets_only: bool = False
    #: other shares of a-kassa members at entry each replication can give its nets at too
    #: (:attr:`RunResult.member_changes`: the a-kassa assumption line without re-runs)
    member_shares: tuple[float, ...] = ()


def replicate(scenario: Scenario, seed: int = 0, replications: int = 1, *, workers: int = 1,
              record_events: bool = True, progress: Callable[[int], None] | None = None,
              store: str | Path | None = None, fixed_parameters: bool = False) -> Ensemble:
    """Run ``replications`` independent replications.

    The replications run as blocks of batched models (:class:`~sim.engine.batch.BatchModel`, at
    most :data:`BATCH_PEOPLE` people each; results identical to separate runs), or one by one
    (:func:`simulate`) if their scenarios cannot be blocks of one model (posterior draws of
    values a batch cannot hold per block). With ``workers > 1`` the models (or single runs) are
    shared out over a process pool; replications that fit in one batched model run in this
    process, since starting a worker costs more than the whole model.

    Args:
        progress: called with 1 each time a replication finishes (e.g. ``tqdm.update``), also
            for one read back from ``store``.
        store: a folder (:class:`~sim.runs.partial.ReplicationStore`) where each finished
            replication is kept as it finishes, and from which one kept earlier is read instead
            of computed (the results are the same either way).
        fixed_parameters: keep the calibrated defaults' written values (posterior medians)
            instead of drawing them per replication (:mod:`sim.runs.posterior`).
    """
    return replicate_all([Request(scenario, seed, replications, record_events, fixed_parameters)],
                         workers=workers, progress=progress, store=store)[0]


def replicate_all(requests: Sequence[Request], *, workers: int = 1, progress: Callable[[int], None] | None = None,
                  store: str | Path | None = None) -> list[Ensemble]:
    """The replications of several scenarios (one :class:`Ensemble` per request, each equal to
    :func:`replicate` of it), run together: where the scenarios can be blocks of one model
    (:func:`~sim.engine.batch_state.check_batchable`: e.g. a comparison's baseline, its scenarios
    and their assumption lines' re-runs), every replication of every request is a block of the
    same batched models, so they share each month's overhead; otherwise each request's
    replications run as :func:`replicate` runs them. ``workers``, ``progress`` and ``store`` as
    there (each replication kept under its own key as it finishes)."""
    todo: list[tuple[int, int]] = []  # (request, replication) not read back
    plans = []
    kept = ReplicationStore(store) if store is not None else None
    if kept is not None:
        kept.clean()
    code = code_version() if kept is not None else ""
    for rq in requests:
        if rq.replications < 1:
            raise ValueError(f"replications must be >= 1, got {rq.replications}")
        seeds = replication_seeds(rq.seed, rq.replications)
        # Replication i uses its own posterior draw of the calibrated parameters (named by
        # `parameters: {from_calibration: NAME}`, and the calibrated defaults unless fixed), chosen by
        # seed and i only, so independent of workers.
        scenarios, draws = replication_scenarios(rq.scenario, rq.seed, rq.replications,
                                                 fixed_parameters=rq.fixed_parameters)
        results: dict[int, RunResult] = {}
        keys: list[str] = []
        if kept is not None:  # read back what a killed command kept
            keys = [replication_key(sc, s, rq.record_events, code, nets_only=rq.nets_only,
                                    member_shares=rq.member_shares)
                    for sc, s in zip(scenarios, seeds, strict=True)]
            for i, key in enumerate(keys):
                found = kept.get(key)
                if isinstance(found, RunResult):
                    results[i] = found
                    if progress:
                        progress(1)
        plans.append((seeds, scenarios, draws, results, keys))
    # replication i of every request side by side: blocks that share a posterior draw (transition
    # rates) are neighbours, and share the hazard pass
    for i in range(max((rq.replications for rq in requests), default=0)):
        todo += [(j, i) for j, rq in enumerate(requests) if i < rq.replications and i not in plans[j][3]]

    def finished(done: list[tuple[tuple[int, int], RunResult]]) -> None:
        """Replications that finished together (one model's): kept in one file, then counted."""
        for n, ((j, i), result) in enumerate(done):
            if requests[j].nets_only:
                done[n] = ((j, i), nets_only(result))
            plans[j][3][i] = done[n][1]
        if kept is not None:
            kept.put_all([(plans[j][4][i], result) for (j, i), result in done])
        if progress:
            for _ in done:
                progress(1)

    started: list[int | None] = [None] * len(requests)  # worker processes each request's runs started
    if todo:
        items: list[_Item] = [(plans[j][1][i], plans[j][0][i], requests[j].record_events,
                               requests[j].nets_only, tuple(requests[j].member_shares)) for j, i in todo]
        together = _batchable([it[0] for it in items])
        if together or len(requests) == 1:
            n = _run(items, todo, workers, finished, together)
            started = [n if any(jj == j for jj, _ in todo) else None for j in range(len(requests))]
        else:  # scenarios that cannot all share a model: in groups that can (batch_groups)
            for group in batch_groups([it[0] for it in items]):
                n = _run([items[k] for k in group], [todo[k] for k in group], workers, finished, True)
                for j in {todo[k][0] for k in group}:
                    started[j] = n if started[j] is None else max(started[j], n)
    out = []
    for j, (rq, (seeds, _scenarios, draws, results, _keys)) in enumerate(zip(requests, plans, strict=True)):
        ens = Ensemble(rq.scenario, rq.seed, seeds, [results[i] for i in range(rq.replications)])
        ens.worker_processes = started[j]
        ens.parameter_draws = draws
        ens.record_events = rq.record_events
        ens.fixed_parameters = rq.fixed_parameters
        out.append(ens)
    return out


def _run(items: list[_Item], names: list[Any], workers: int,
         finished: Callable[[list[tuple[Any, RunResult]]], None], batchable: bool | None = None) -> int:
    """Run ``items`` (scenario, seed, record_events, nets only), batched if they can be (``batchable``,
    if known), calling ``finished`` with the names and results of those that finished together (a
    model's, or a run's); return the worker processes started (0: all in this process)."""
    if _batchable([it[0] for it in items]) if batchable is None else batchable:
        jobs: list[tuple[list[int], Callable[[Any], Any], Any]] = [
            (chunk, _batch_job, tuple([items[k][f] for k in chunk] for f in range(5)))
            for chunk in _models(range(len(items)), _people(items[0][0]))]
    else:
        jobs = [([k], _one, items[k]) for k in range(len(items))]

    def done(chunk: list[int], out: list[RunResult]) -> None:
        finished([(names[k], r) for k, r in zip(chunk, out, strict=True)])

    if workers <= 1 or len(jobs) <= 1:
        for chunk, fn, args in jobs:
            done(chunk, fn(args))
        return 0
    with process_pool(min(workers, len(jobs))) as pool:
        futures = {pool.submit(fn, args): chunk for chunk, fn, args in jobs}
        for fut in as_completed(futures):  # kept as each finishes, in any order
            done(futures[fut], fut.result())
    return min(workers, len(jobs))


def nets_only(result: RunResult) -> RunResult:
    """``result`` with only each payer's net by month over its horizon (:attr:`RunResult.nets`:
    its ledger book's :meth:`~sim.accounts.book.LedgerBook.net` of
    :data:`~sim.accounts.payers.PAYERS`) and its headline numbers if it has them
    (:func:`replicate_all` does not work them out for a :class:`Request` with ``nets_only``): no
    tables, no records, no book. For runs of which nothing else is read: a comparison's re-runs
    for its a-kassa lines. The book is posted here, as the lines would post it, and dropped: in
    memory and in a store a re-run is its nets (~7 kB in the main job), not a book (~32 kB,
    pickled with every key packed, ~0.5 ms a run)."""
    return RunResult(scenario=result.scenario, seed=result.seed, start_month=result.start_month,
                     horizon_months=result.horizon_months, programmes=list(result.programmes), tables={},
                     summary=result.summary, manifest=result.manifest,
                     nets=result.ledger_book.net(PAYERS, result.horizon_months),
                     member_changes=result.member_changes)


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
        #: worker processes :func:`replicate` started (0: it ran every replication in this
        #: process; None: it ran none, all were read back from its store)
        self.worker_processes: int | None = None

    def table(self, name: str) -> pd.DataFrame:
        """One table of all replications, with a ``replication`` column first."""
        frames = []
        for i, r in enumerate(self.results):
            df = r.tables[name].copy()
            df.insert(0, "replication", i)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    def _write_table(self, name: str, path: Path) -> None:
        """:meth:`table` ``name`` written to ``path`` as Parquet, one replication at a time: each
        replication's frame is converted and written (and let go, if it was built only for this),
        so the tables of every replication are never in memory at once (a national population's
        event logs: ~0.3 GB a replication as pandas). The same rows, columns and types as
        ``table(name).to_parquet(path, index=False)``, which is used where the replications' column
        types differ (then the frames are stacked as pandas stacks them)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        try:
            for i, r in enumerate(self.results):
                tables = r.tables
                kept = not isinstance(tables, LazyTables) or tables.built(name)
                frame = tables[name].copy(deep=False)
                frame.insert(0, "replication", i)
                part = pa.Table.from_pandas(frame, preserve_index=False)
                del frame
                if not kept:
                    tables.forget(name)  # type: ignore[union-attr]
                if writer is None:
                    writer = pq.ParquetWriter(path, part.schema)
                elif not part.schema.equals(writer.schema, check_metadata=False):
                    writer.close()
                    writer = None
                    self.table(name).to_parquet(path, index=False)
                    return
                writer.write_table(part)
        finally:
            if writer is not None:
                writer.close()

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
                self._write_table(name, tmp / f"{name}.parquet")
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
