"""Commands that simulate: ``almsim run``, ``almsim compare`` and ``almsim breakeven``.

The heavy modules (the engine, pandas, the report's figures) are imported inside the
handlers, so ``almsim --help`` starts without them.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sim.accounts.payers import ALL_PAYERS
from sim.cli.command import CommandList, add_set_option, at_least
from sim.cli.scenarios import load_all

__all__ = ["COMMANDS"]

COMMANDS = CommandList()


def _ensemble_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=at_least(0), default=0, help="seed of the random streams (default 0)")
    parser.add_argument("--replications", "-r", type=at_least(1), default=20,
                        help="replications with spawned seeds (default 20)")
    parser.add_argument("--workers", "-w", type=at_least(1), default=1,
                        help="worker processes (results do not depend on it; default 1)")
    parser.add_argument("--out", default="outputs", help="folder for results (default outputs/)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _fixed_parameters_option(parser)
    add_set_option(parser)


def _fixed_parameters_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fixed-parameters", action="store_true",
                        help="keep the calibrated national defaults at their written posterior medians "
                             "(default: each replication draws them from the fits' posteriors, the same "
                             "draw for a scenario and its baseline)")


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="scenario files")
    parser.add_argument("--no-events", action="store_true",
                        help="do not keep the person-level event log (large populations)")
    _ensemble_arguments(parser)


def _fmt_band(band: dict[str, float | None], scale: float = 1.0, digits: int = 0) -> str:
    if band.get("p50") is None:
        return "-"
    f = f"{{:,.{digits}f}}"
    return f"{f.format(band['p50'] * scale)} [{f.format(band['p10'] * scale)}, {f.format(band['p90'] * scale)}]"


@COMMANDS.add("run", "simulate scenarios; write outputs/<scenario>/<run-id>/", _run_arguments)
def cmd_run(args: argparse.Namespace) -> int:
    """Run each scenario's replications and save them; print headline numbers.

    Before any work: every file is loaded and checked, every output folder is checked (writable,
    names that fit, free disk space for the estimate) and locked against a second writer. Each
    replication is kept as it finishes (``.<run-id>.partial/``), so the same command resumes a
    killed run; the kept replications are removed once the run's folder is written.
    """
    from sim.runs.identity import run_id

    record = not args.no_events
    scenarios = load_all(args.files, args.overrides, record, kept=args.replications)
    folders = [Path(args.out) / s.name / run_id(s, args.seed, args.replications, record, args.fixed_parameters)
               for s in scenarios]
    return _with_folders(folders, lambda: sum(_estimate(s, args.replications, record) for s in scenarios),
                         lambda: _run(args, scenarios, folders))


def _run(args: argparse.Namespace, scenarios: list[Any], folders: list[Path]) -> int:
    from tqdm import tqdm

    from sim.runs.folders import partial_folder
    from sim.runs.partial import ReplicationStore
    from sim.runs.replications import replicate

    for file, scenario, folder in zip(args.files, scenarios, folders, strict=True):
        kept = ReplicationStore(partial_folder(folder))
        _note_resumed(args, kept, scenario.name)
        with tqdm(total=args.replications, desc=scenario.name, unit="run", disable=args.quiet or None,
                  file=sys.stderr, leave=False) as bar:
            ens = replicate(scenario, args.seed, args.replications, workers=args.workers,
                            record_events=not args.no_events, progress=bar.update, store=kept.folder,
                            fixed_parameters=args.fixed_parameters)
        if args.workers > 1 and ens.worker_processes == 0 and not args.quiet:
            print(f"{scenario.name}: ran in this process, not on {args.workers} workers: its replications fit in "
                  "one batched model, which costs less than starting workers", file=sys.stderr)
        path = ens.save(args.out, source=file)
        kept.remove()
        s = ens.summary()
        print(f"{scenario.name}: {args.replications} replications -> {path}")
        for d in (ens.parameter_draws or {}).get("calibrated_defaults", []):
            print(f"  calibrated, drawn per replication from fit {d['calibration']} ({d['posterior_draws']} posterior "
                  f"draws): {', '.join(d['paths'])}")
        print("  median [P10, P90]")
        rows = (("share_in_work_12m", "in work after 1 year (%)", 100, 1),
                ("share_in_work_60m", "in work after 5 years (%)", 100, 1),
                ("person_months_in_work", "person-months in work", 1, 0),
                ("net_sek_undiscounted_society", "society, net (MSEK, undiscounted)", 1e-6, 1))
        for key, label, scale, digits in rows:
            if key in s:
                print(f"  {label:32s} {_fmt_band(s[key], scale, digits)}")
        for name in scenario.programmes:
            key = f"programme.{name.name}.starts"
            if key in s:
                print(f"  {name.name + ' starts':32s} {_fmt_band(s[key])}")
    return 0


def _note_resumed(args: argparse.Namespace, kept: Any, name: str) -> None:
    """One line on stderr when an interrupted command is resumed (not with --quiet)."""
    if len(kept) and not args.quiet:
        print(f"{name}: resuming: {len(kept)} finished replications kept by an interrupted run are used",
              file=sys.stderr)


def _estimate(scenario: Any, replications: int, record_events: bool, kept: int | None = None) -> int:
    """Bytes of disk the runs of ``scenario`` need at their peak (an over-estimate)."""
    from sim.engine.footprint import population_size
    from sim.runs.folders import output_estimate

    people = population_size(scenario.population, scenario.start_month, scenario.horizon_months)
    return output_estimate(people, scenario.horizon_months, replications, record_events, kept)


def _with_folders(folders: list[Path], need: Callable[[], int], work: Callable[[], int]) -> int:
    """Check every output folder, lock them, check the free space for ``need()`` bytes, then work.

    A problem with the folders is one line before any work: exit 2 (1 for too little disk).
    """
    from sim.runs.folders import OutputError, check_free_space, check_output_folder, output_lock

    try:
        for folder in folders:
            check_output_folder(folder)
        with contextlib.ExitStack() as locks:
            for folder in dict.fromkeys(folders):  # the same folder twice is locked once
                locks.enter_context(output_lock(folder))
            check_free_space(folders[0], need())
            return work()
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def _folder_name(text: str) -> str:
    """An argparse type: a name for one folder (letters, digits, ``-``, ``_``, ``.``; no ``/``), so
    ``--name a/../b`` cannot put the results anywhere but ``OUT/compare-NAME/``."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", text):
        raise argparse.ArgumentTypeError(f"a folder name is letters, digits, '-', '_' and '.', got {text!r}")
    return text


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", metavar="BASELINE", help="the scenario of today's policy")
    parser.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenarios to compare with it")
    parser.add_argument("--name", type=_folder_name,
                        help="name of the output folder outputs/compare-NAME/<run-id>/ (default: the scenarios')")
    parser.add_argument("--no-sensitivity", action="store_true",
                        help="leave out the sensitivity lines of the driving assumptions (they re-run the "
                             "replications for a-kassa membership and the exit rates after Fas 3)")
    parser.add_argument("--no-bridge", action="store_true",
                        help="leave out the payoff-style estimate and the bridge to the simulated one")
    _ensemble_arguments(parser)


@COMMANDS.add("compare", "compare scenarios with a baseline: who pays, who saves; writes a report",
            _compare_arguments)
def cmd_compare(args: argparse.Namespace) -> int:
    """Paired replications (common random numbers); table in the terminal; files and report.

    The folder is ``<out>/compare-NAME/<run-id>/``: the run id names the seed, the replications
    and a hash of the resolved scenarios (overrides included) and of what is left out, so two
    what-ifs never share a folder. As for ``run``: folders checked and locked before any work,
    replications kept as they finish and resumed by the same command.
    """
    from sim.analysis.comparison import check_pairable

    # every pair's runs are kept until the folder is written; the scenarios' with their event logs
    # for the bridge (and a scenario's goals), the baseline's without
    events = not args.no_bridge
    baseline, *scenarios = load_all([args.baseline, *args.scenarios], args.overrides, events,
                                    kept=args.replications * (1 + len(args.scenarios)),
                                    kept_events=args.replications * len(args.scenarios) if events else 0,
                                    bridge=events)
    for file, scenario in zip(args.scenarios, scenarios, strict=True):
        try:  # before any run or folder: a scenario of other months cannot be paired
            check_pairable(baseline, [scenario])
        except ValueError as exc:
            print(f"error: {file}: {exc}", file=sys.stderr)
            return 2
        if baseline.programmes and not scenario.programmes:  # legal, but mostly two files swapped
            print(f"warning: the baseline {baseline.name!r} has programmes and the scenario {scenario.name!r} has "
                  "none: savings are the scenario's minus the baseline's (almsim compare BASELINE SCENARIO...)",
                  file=sys.stderr)
    name = args.name or "-".join(s.name for s in scenarios)[:80]
    folder = Path(args.out) / f"compare-{name}" / _comparison_id(args, baseline, scenarios)

    def need() -> int:
        r = args.replications
        return (_REPORT_BYTES + _estimate(baseline, r, False)
                + sum(_estimate(s, r, not args.no_bridge or bool(s.goals)) for s in scenarios)
                + sum(_estimate(x, 0, False, kept=r * _reruns(args, x)) for s in scenarios for x in (baseline, s)))

    return _with_folders([folder], need, lambda: _compare(args, baseline, scenarios, folder))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused (switched back on after, unless it was off), for
    work that makes objects which live to the end of the command and little cyclic garbage.

    Measured on the main job: writing the report and the tables (0.9 CPU-s) ran ~12 young
    passes and the one middle pass of the whole command, over every object made since start-up
    (the imported pandas, numba and matplotlib, the runs): 0.15 of the collector's 0.22 CPU-s.
    The objects made meanwhile are handed to the oldest generation as the collector is switched
    back on (``freeze`` then ``unfreeze``: a move of one list), else its first young pass would go
    over all of them. Not around the runs: a finished batched model is a reference cycle, freed
    only by the collector, so pausing it there would keep every model of a command to its end.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if was:
            gc.enable()


def _reruns(args: argparse.Namespace, scenario: Any) -> int:
    """Re-runs of every replication of ``scenario`` for the assumption lines that are not money only."""
    from sim.analysis.assumptions_driving import rerun_values

    return 0 if args.no_sensitivity else rerun_values(scenario)


#: The report and its figures (measured: about 0.6 MB for the main job; rounded up).
_REPORT_BYTES = 2_000_000


def _comparison_id(args: argparse.Namespace, baseline: Any, scenarios: list[Any]) -> str:
    """``seed<N>-r<R>-<hash>``: the hash of the resolved scenarios (in order), of the calibrated
    defaults they draw (none with ``--fixed-parameters``) and of the parts left out
    (``--no-sensitivity``, ``--no-bridge``)."""
    import hashlib
    import json

    from sim.runs.identity import content_hash
    from sim.runs.posterior import draw_identity

    what: dict[str, Any] = {"scenarios": [content_hash(s) for s in (baseline, *scenarios)],
                            "sensitivity": not args.no_sensitivity, "bridge": not args.no_bridge}
    drawn = [draw_identity(s, args.fixed_parameters) for s in (baseline, *scenarios)]
    if any(drawn):  # with nothing drawn, the folder of the values as written
        what["drawn"] = drawn
    text = json.dumps(what)
    return f"seed{args.seed}-r{args.replications}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def _compare(args: argparse.Namespace, baseline: Any, scenarios: list[Any], folder: Path) -> int:
    from tqdm import tqdm

    from sim.analysis.comparison import compare
    from sim.present.report import render_report
    from sim.runs.folders import partial_folder
    from sim.runs.partial import ReplicationStore

    kept = ReplicationStore(partial_folder(folder))
    _note_resumed(args, kept, folder.parent.name)
    # (the baseline's re-runs count once for each scenario's lines: see compare's progress)
    total = args.replications * (1 + len(scenarios) + sum(_reruns(args, s) + _reruns(args, baseline)
                                                          for s in scenarios))
    with tqdm(total=total, desc="replications", unit="run", disable=args.quiet or None, file=sys.stderr,
              leave=False) as bar:
        comparison = compare(baseline, scenarios, seed=args.seed, replications=args.replications,
                             workers=args.workers, progress=bar.update, sensitivity=not args.no_sensitivity,
                             bridge=not args.no_bridge, store=kept.folder,
                             fixed_parameters=args.fixed_parameters)
    # The report is rendered first and written with the tables: the folder is all or nothing.
    text = comparison.to_text()  # once, for the terminal and summary.txt
    with _collector_paused():  # (the runs are done: what is made now lives to the end)
        out = comparison.save(folder, extra={"report.html": render_report(comparison)}, text=text)
    kept.remove()
    report = out / "report.html"
    print(text)
    print(f"\nresults: {out}\nreport:  {report}")
    return 0


def _breakeven_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a programme scenario")
    parser.add_argument("--payer", default="municipality", choices=ALL_PAYERS,
                        help="whose break-even (default municipality)")
    parser.add_argument("--horizon", default="4y", help="e.g. 4y, 48m or 48 (months); default 4y")
    parser.add_argument("--programme", help="the programme of a bare --parameter name (default: the only one)")
    parser.add_argument("--parameter", default="completion_to_work_share", metavar="DOTTED.PATH",
                        help="any numeric scenario value, e.g. programmes.resursjobb.exit_rates_per_month.work, "
                             "programmes.resursjobb.wage_sek_per_month or programmes.c2.capacity.staff; a bare name "
                             "is the programme's (default completion_to_work_share)")
    parser.add_argument("--range", dest="search_range", metavar="LOW,HIGH",
                        help="the values searched (default 0,1 for shares; needed for other paths)")
    parser.add_argument("--baseline", metavar="FILE",
                        help="the reference scenario (default: the same scenario with no one referred)")
    parser.add_argument("--seed", type=at_least(0), default=0, help="seed (default 0)")
    parser.add_argument("--replications", "-r", type=at_least(1), default=10,
                        help="replications per evaluation (default 10)")
    parser.add_argument("--workers", "-w", type=at_least(1), default=1, help="worker processes (default 1)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _fixed_parameters_option(parser)
    add_set_option(parser)


@COMMANDS.add("breakeven", "find the value of a scenario number (default: the programme's effect) at which a payer "
              "breaks even", _breakeven_arguments)
def cmd_breakeven(args: argparse.Namespace) -> int:
    """Search the effect parameter by bisection under common random numbers."""
    from tqdm import tqdm

    from sim.analysis.breakeven import breakeven, parse_horizon

    (scenario,) = load_all([args.file], args.overrides)
    try:
        horizon = parse_horizon(args.horizon)
    except ValueError as exc:
        print(f"error: --horizon: {exc}", file=sys.stderr)
        return 2
    search_range = None
    if args.search_range is not None:
        try:
            lo, hi = (float(x) for x in args.search_range.split(","))
        except ValueError:
            print(f"error: --range: expected LOW,HIGH (two numbers), got {args.search_range!r}", file=sys.stderr)
            return 2
        search_range = (lo, hi)
    reference = load_all([args.baseline], [])[0] if args.baseline else None
    try:
        with tqdm(desc="evaluations", unit="run", disable=args.quiet or None, file=sys.stderr, leave=False) as bar:
            result = breakeven(scenario, payer=args.payer, horizon_months=horizon, programme=args.programme,
                               parameter=args.parameter, baseline=reference, search_range=search_range,
                               seed=args.seed, replications=args.replications, workers=args.workers,
                               progress=bar.update, fixed_parameters=args.fixed_parameters)
    except ValueError as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 2
    print(result.to_text())
    return 0


