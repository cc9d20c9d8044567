"""``almsim calibrate``, ``almsim sensitivity`` and ``almsim sweep``.

Registered on the command line of :mod:`sim.cli.main` by importing this module. The heavy
libraries (pyabc, SALib, dask) are imported only when a command runs; they come with the
``calibrate`` extra (``pip install -e ".[calibrate]"``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.cli.command import CommandList, add_set_option, at_least

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["cmd_calibrate", "cmd_sensitivity", "cmd_sweep"]


COMMANDS = CommandList()


def _parallel_arguments(parser: argparse.ArgumentParser, default_workers: int | None = 1) -> None:
    parser.add_argument("--workers", "-w", type=at_least(1), default=default_workers,
                        help="local worker processes (results of sweeps do not depend on it)")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="run on a Dask cluster, e.g. tcp://127.0.0.1:8786 (instead of local processes)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def _missing(exc: ImportError) -> int:
    print(f"error: {exc.name or 'a library'} is not installed; install the calibration extra: "
          f"pip install -e \".[calibrate]\"", file=sys.stderr)
    return 2


# ----------------------------------------------------------------------------- calibrate
def _calibrate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", metavar="JOB", help="calibration job, e.g. calibration/c2.yaml")
    parser.add_argument("--out", default=None,
                        help="results folder (default calibration/results/<name>/); the ABC database and the "
                             "predictive runs are kept in outputs/calibration/ under the current folder either way")
    parser.add_argument("--leave-out", action="append", default=[], metavar="TARGET",
                        help="fit without this outcome target (repeatable)")
    parser.add_argument("--no-held-back", action="store_true", help="skip the job's held-back fits")
    parser.add_argument("--report-only", action="store_true",
                        help="render the reports and figures again from the saved results (no fitting)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny budget for a smoke test (results go to outputs/calibration-quick/)")
    _parallel_arguments(parser, default_workers=None)


def _print_targets(summary: pd.DataFrame) -> None:
    import numpy as np

    print(f"  {'target':44s} {'reported':>9s}  {'simulated median [90 %]':>24s}  inside")
    for _, r in summary[summary["kind"] != "goal"].iterrows():
        src = "post" if np.isfinite(r.get("post_median", np.nan)) else "written"
        sim = f"{r[f'{src}_median']:.1f} [{r[f'{src}_q05']:.1f}, {r[f'{src}_q95']:.1f}]"
        print(f"  {r['label'][:44]:44s} {r['reported']:9.1f}  {sim:>24s}  {'yes' if r['inside'] else 'NO'}")
    for _, r in summary[summary["kind"] == "goal"].iterrows():
        src = "post" if np.isfinite(r.get("post_median", np.nan)) else "written"
        print(f"  goal {r['target']}: aim {r['reported']:.0f} %, P(reached) = {r.get(f'{src}_p_reach', np.nan):.2f}")


@COMMANDS.add("calibrate", "fit a calibration job (ABC-SMC); write posterior, fit report and figures",
            _calibrate_arguments)
def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the job, then its held-back fits; print every target beside the simulation."""
    try:
        from sim.calibration.fit import fit, load_fit, load_job
        from sim.present.calibration_report import rewrite_report, target_summary, write_results
    except ImportError as exc:
        return _missing(exc)
    job = load_job(args.job)
    for name in args.leave_out:
        if name not in [t.name for t in job.outcome_targets()]:
            print(f"error: --leave-out: {name!r} is not an outcome target of {args.job}", file=sys.stderr)
            return 2
    if args.quick:
        job.method.update(population_size=30, max_generations=2, max_simulations=400, draws=20,
                          as_written_replications=10)
    root = Path(args.out) if args.out else (Path("outputs/calibration-quick") / job.name if args.quick
                                            else Path(job.file).parent / "results" / job.name)
    folder = root if not args.leave_out else root / "held-back" / "-".join(args.leave_out)
    workers = job.workers if args.workers is None else args.workers
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr))
    held = [] if (args.leave_out or args.no_held_back) else list(job.held_back)
    try:
        if args.report_only and not (folder / "meta.json").is_file():
            print(f"error: --report-only: no results in {folder}/ (run without --report-only first)", file=sys.stderr)
            return 2
        if args.report_only:
            held = [h for h in held if (root / "held-back" / h / "meta.json").is_file()]
            for name in held:
                write_results(load_fit(job, root / "held-back" / name))
            main = load_fit(job, folder)
            write_results(main)
        else:
            main = fit(job, folder, leave_out=args.leave_out, workers=workers, scheduler=args.scheduler,
                       progress=not args.quiet, log=log)
            written = main.predictive[main.predictive["source"] == "as_written"]  # the same in every fit
            # Each fit's folder is written in a thread while the next fit runs (mostly waiting for its
            # workers); one folder at a time, in order (the main folder is rebuilt whole, with what
            # its held-back/ holds, so it is finished before a held-back fit's folder is written).
            # Nothing written draws random numbers, so the fits are as without the thread.
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(1) as writer:
                pending = writer.submit(write_results, main)
                for name in held:
                    res = fit(job, root / "held-back" / name, leave_out=[name], workers=workers,
                              scheduler=args.scheduler, progress=not args.quiet, log=log, as_written=written)
                    pending.result()
                    pending = writer.submit(write_results, res)
                pending.result()
            if held:
                rewrite_report(main)
    except ImportError as exc:
        return _missing(exc)
    summary = target_summary(job, main.predictive)
    print(f"{job.name}: results in {folder}/ (fit_report.md, fit.png"
          + (", posterior.parquet" if main.posterior is not None else "") + ")")
    _print_targets(summary)
    for name in held:
        import pandas as pd

        df = pd.read_csv(root / "held-back" / name / "targets.csv")
        for _, r in df[df["target"] == name].iterrows():
            print(f"  held back {r['label'][:34]:34s} {r['reported']:9.1f}  "
                  f"{r['post_median']:.1f} [{r['post_q05']:.1f}, {r['post_q95']:.1f}]  "
                  f"{'yes' if r['inside'] else 'NO'}")
    return 0


# ----------------------------------------------------------------------------- shared
def _load_doc(file: str, overrides: list[str]) -> tuple[dict[str, Any], str, Any]:
    """A scenario document from a scenario file or a calibration job (its longest scenario, and its space).

    The file is read once with the strict reader to tell which it is (a regular file of at most
    1 MiB, safe YAML: a FIFO, a device or a NUL byte is refused at once, with the file and line).
    """
    from sim.scenario.load import build, parse_file, read_document

    head, _ = read_document(file, "scenario file or calibration job")
    if "targets" in head and "scenarios" in head:
        from sim.calibration.fit import load_job

        job = load_job(file)
        spec = max(job.scenarios.values(), key=lambda s: build(s.doc).horizon_months)
        doc, prov = parse_file(spec.file, list(spec.overrides) + list(overrides))
        build(doc, prov)
        return doc, job.name, job.space
    doc, prov = parse_file(file, overrides)
    scenario = build(doc, prov)
    return doc, scenario.name, None


def _space(doc: dict[str, Any], space_file: str | None, job_space: Any) -> Any:
    from sim.calibration.sensitivity import uncalibrated_space
    from sim.calibration.spaces import load_space

    if space_file:
        return load_space(space_file)
    if job_space is not None and job_space.parameters:
        return job_space
    return uncalibrated_space(doc)


# ----------------------------------------------------------------------------- sensitivity
def _sensitivity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a scenario file or a calibration job")
    parser.add_argument("--output", "-o", default="share_in_work_12m",
                        help="a number of the run summary (default share_in_work_12m; e.g. "
                             "net_sek_undiscounted.society, share_in_work_60m, net_sek_undiscounted.municipality, "
                             "programme.c2.starts)")
    parser.add_argument("--method", choices=("morris", "sobol"), default="morris")
    parser.add_argument("--samples", "-n", type=at_least(1), default=10,
                        help="Morris trajectories (at least 2: sigma is their spread), or Sobol base samples "
                             "(default 10)")
    parser.add_argument("--space", default=None,
                        help="parameter space file (default: the job's space, else every single-valued "
                             "'status: uncalibrated' parameter from half to twice its value)")
    parser.add_argument("--replications", "-r", type=at_least(1), default=2, help="runs per design point (default 2)")
    parser.add_argument("--seed", type=at_least(0), default=0)
    parser.add_argument("--out", default=None,
                        help="folder for the table and figure (default: the runs' store, "
                             "outputs/sensitivity/<name>-<hash>/, where the runs are kept either way)")
    add_set_option(parser)
    _parallel_arguments(parser)


@COMMANDS.add("sensitivity", "rank parameters by their effect on an output (Morris or Sobol, SALib)",
            _sensitivity_arguments)
def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Run the design on the sweep machinery; print the ranked table; save table and figure."""
    if args.method == "morris" and args.samples < 2:  # one trajectory has no spread: sigma NaN, numpy warns
        print("error: almsim sensitivity: --samples: Morris needs at least 2 trajectories (sigma is their spread)",
              file=sys.stderr)
        return 2
    try:
        from sim.calibration.sensitivity import run_sensitivity
        from sim.present.calibration_report import save_sensitivity

        doc, name, job_space = _load_doc(args.file, args.overrides)
        space = _space(doc, args.space, job_space)
        res = run_sensitivity(doc, space, args.output, method=args.method, samples=args.samples,
                              replications=args.replications, seed=args.seed, workers=args.workers,
                              scheduler=args.scheduler, progress=not args.quiet, name=name)
    except ImportError as exc:
        return _missing(exc)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else res.store
    paths = save_sensitivity(res, out)
    label = "mu*" if args.method == "morris" else "ST"
    second = "sigma" if args.method == "morris" else "S1"
    print(f"{name}: {args.method} sensitivity of {args.output} over {len(space.parameters)} parameters, "
          f"{len(res.runs)} runs (store {res.store})")
    print(f"  {'rank':>4s}  {'parameter':60s} {label:>10s} {second:>10s}  range")
    for _, r in res.table.iterrows():
        sec = r["spread"] if args.method == "morris" else r["first_order"]
        print(f"  {int(r['rank']):4d}  {r['parameter'][:60]:60s} {r['effect']:10.4g} {sec:10.4g}  "
              f"{r['low']:.4g}-{r['high']:.4g}")
    print(f"  table: {paths[0]}  figure: {paths[2]}")
    return 0


# ----------------------------------------------------------------------------- sweep
def _sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a scenario file (or a calibration job: its longest scenario)")
    parser.add_argument("--grid", action="append", default=[], metavar="PATH=V1,V2,...",
                        help="values of a dotted path (repeatable; all combinations are run)")
    parser.add_argument("--space", default=None, help="sample parameter sets from this space file (Latin hypercube)")
    parser.add_argument("--samples", "-n", type=at_least(0), default=0, help="parameter sets sampled from --space")
    parser.add_argument("--replications", "-r", type=at_least(1), default=1, help="seeds per parameter set (default 1)")
    parser.add_argument("--seed", type=at_least(0), default=0)
    parser.add_argument("--store", default=None,
                        help="store folder (default outputs/sweeps/<scenario>-<hash of the sweep>/); "
                             "running again resumes it")
    parser.add_argument("--events", action="store_true", help="keep the event log of each run (slower)")
    add_set_option(parser)
    _parallel_arguments(parser)


def _grid(items: list[str]) -> dict[str, list[float]]:
    grid: dict[str, list[float]] = {}
    for item in items:
        path, sep, values = item.partition("=")
        if not sep or not path or not values:
            raise ValueError(f"--grid expects PATH=V1,V2,..., got {item!r}")
        try:
            grid[path.strip()] = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"--grid {path}: values must be numbers, got {values!r}") from None
    return grid


def _sample(space: Any, n: int, seed: int, doc: dict[str, Any]) -> list[dict[str, float]]:
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=len(space.parameters), seed=seed).random(n)
    sets = []
    for row in unit:
        values = {}
        for u, p in zip(row, space.parameters, strict=True):
            lo, hi = p.prior.unit_bounds
            values[p.name] = float(p.prior.from_unit(lo + u * (hi - lo)))
        sets.append(space.path_values(values, [doc]))
    return sets


@COMMANDS.add("sweep", "run a scenario over parameter sets and seeds; resumable; local processes or Dask",
            _sweep_arguments)
def cmd_sweep(args: argparse.Namespace) -> int:
    """Run (or resume) the sweep; print the store, a digest of the results and mean outputs per set."""
    import hashlib

    import pandas as pd

    from sim.runs.sweep import Sweep, digest, parameter_grid
    from sim.scenario.load import build
    from sim.scenario.paths import apply_values

    try:
        grid = _grid(args.grid)
        doc, name, job_space = _load_doc(args.file, args.overrides)
        sets = parameter_grid(grid) if grid else [{}]
        if args.space or args.samples:
            if not args.samples:
                raise ValueError("--space needs --samples N")
            space = _space(doc, args.space, job_space)
            sampled = _sample(space, args.samples, args.seed, doc)
            sets = [dict(g, **s) for g in sets for s in sampled]
        for values in sets[:1] + sets[-1:]:
            build(apply_values(doc, values))  # unknown paths and bad values stop here
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        return _missing(exc)
    definition = json.dumps({"file": str(Path(args.file).resolve()), "set": args.overrides, "grid": grid,
                             "space": args.space, "samples": args.samples, "reps": args.replications,
                             "seed": args.seed, "events": args.events}, sort_keys=True)
    store = Path(args.store) if args.store else Path("outputs") / "sweeps" / (
        f"{name}-{hashlib.sha256(definition.encode()).hexdigest()[:10]}")
    sweep = Sweep(doc, sets, store, replications=args.replications, seed=args.seed, record_events=args.events,
                  name=name)
    before = sweep.done()
    try:
        results = sweep.run(workers=args.workers, scheduler=args.scheduler, progress=not args.quiet)
    except ImportError as exc:
        return _missing(exc)
    tmp = store / ".results.parquet.tmp"
    results.to_parquet(tmp, index=False)
    tmp.replace(store / "results.parquet")
    print(f"{name}: {len(sets)} parameter sets x {args.replications} seeds = {sweep.runs} runs; "
          f"{before} were stored already, {sweep.distinct_runs - before} computed now")
    print(f"  store: {store}/runs.sqlite   results: {store}/results.parquet")
    print(f"  results digest: {digest(results)}")
    shown = [c for c in ("share_in_work_12m", "share_in_work_60m", "person_months_in_work",
                         "net_sek_undiscounted.society")
             if c in results.columns]
    paths = [c for c in (sets[0] if sets else {})]
    mean = results.groupby("set")[paths + shown].mean()
    with pd.option_context("display.width", 160, "display.max_columns", 12, "display.max_rows", 40):
        print(mean.to_string(float_format=lambda x: f"{x:.4g}"))
    return 0



