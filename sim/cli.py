"""The ``almsim`` command line (also ``python -m sim``).

Each subcommand is one function decorated with :func:`subcommand`, which names it, gives
its one-line help and a function adding its arguments; the function takes the parsed
arguments and returns the exit code. To add ``run`` or ``compare``, write one such function.

Exit codes: 0 success, 2 a bad scenario or bad usage (one ``error:`` line on stderr, no
traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from tqdm import tqdm

from sim.breakeven import PARAMETER_RANGES, breakeven, parse_horizon
from sim.compare import ALL_PAYERS, compare
from sim.ensemble import replicate
from sim.errors import ScenarioError
from sim.population import ResourceError, check_fits
from sim.report import write_report
from sim.scenario import dump_scenario, load_scenario, parse_file
from sim.schema import Scenario

__all__ = ["main", "subcommand", "build_parser", "add_set_option"]

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class _Command:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Handler


_COMMANDS: list[_Command] = []


def subcommand(name: str, help: str,
               arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None,
               ) -> Callable[[Handler], Handler]:
    """Register ``almsim NAME``: ``arguments`` adds its options, the decorated function runs it."""
    def register(run: Handler) -> Handler:
        _COMMANDS.append(_Command(name, help, arguments, run))
        return run
    return register


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``low`` (a usage error, exit 2, otherwise)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    return parse


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """The ``--set dotted.path=VALUE`` option shared by commands that load scenarios."""
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="PATH=VALUE",
                        help="override a value after loading, e.g. "
                             "--set programmes.c2.capacity.staff=4 (repeatable; VALUE is YAML)")


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="scenario files")
    add_set_option(parser)


@subcommand("validate", "check scenario files; print 'ok' or the first error of each",
            _validate_arguments)
def cmd_validate(args: argparse.Namespace) -> int:
    """Load each file; exit 2 if any of them is invalid."""
    failed = False
    for file in args.files:
        try:
            load_scenario(file, args.overrides)
        except ScenarioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed = True
        else:
            print(f"ok  {file}")
    return 2 if failed else 0


def _parse_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="scenario file")
    add_set_option(parser)


@subcommand("parse", "print the fully resolved scenario (extends and overrides applied) as YAML",
            _parse_arguments)
def cmd_parse(args: argparse.Namespace) -> int:
    """Print the resolved scenario; it loads back to the same scenario."""
    text = dump_scenario(load_scenario(args.file, args.overrides))
    sys.stdout.write(text)
    return 0


def _load_all(files: list[str], overrides: list[str], record_events: bool = True) -> list[Scenario]:
    """Load and check every file before any work starts, so bad input writes nothing."""
    scenarios = []
    for file in files:
        scenario = load_scenario(file, overrides)
        try:
            check_fits(scenario.population, scenario.start_month, scenario.horizon_months, record_events)
        except ResourceError as exc:
            line = parse_file(file, overrides)[1].locate(("population",)).line
            raise ScenarioError(str(exc), file=file, line=line, key="population") from None
        scenarios.append(scenario)
    return scenarios


def _ensemble_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=at_least(0), default=0, help="seed of the random streams (default 0)")
    parser.add_argument("--replications", "-r", type=at_least(1), default=20,
                        help="replications with spawned seeds (default 20)")
    parser.add_argument("--workers", "-w", type=at_least(1), default=1,
                        help="worker processes (results do not depend on it; default 1)")
    parser.add_argument("--out", default="outputs", help="folder for results (default outputs/)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_set_option(parser)


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


@subcommand("run", "simulate scenarios; write outputs/<scenario>/<run-id>/", _run_arguments)
def cmd_run(args: argparse.Namespace) -> int:
    """Run each scenario's replications and save them; print headline numbers."""
    scenarios = _load_all(args.files, args.overrides, not args.no_events)
    for file, scenario in zip(args.files, scenarios, strict=True):
        with tqdm(total=args.replications, desc=scenario.name, unit="run", disable=args.quiet or None,
                  file=sys.stderr, leave=False) as bar:
            ens = replicate(scenario, args.seed, args.replications, workers=args.workers,
                            record_events=not args.no_events, progress=bar.update)
        path = ens.save(args.out, source=file)
        s = ens.summary()
        print(f"{scenario.name}: {args.replications} replications -> {path}")
        print("  median [P10, P90]")
        for key, label, scale, digits in (("share_in_work_12m", "in work after 1 year (%)", 100, 1),
                                          ("share_in_work_60m", "in work after 5 years (%)", 100, 1),
                                          ("person_months_in_work", "person-months in work", 1, 0),
                                          ("net_sek_society", "society, net (MSEK)", 1e-6, 1)):
            if key in s:
                print(f"  {label:32s} {_fmt_band(s[key], scale, digits)}")
        for name in scenario.programmes:
            key = f"programme.{name.name}.starts"
            if key in s:
                print(f"  {name.name + ' starts':32s} {_fmt_band(s[key])}")
    return 0


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", metavar="BASELINE", help="the scenario of today's policy")
    parser.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenarios to compare with it")
    parser.add_argument("--name", help="name of the output folder outputs/compare-NAME/ (default: the scenarios')")
    _ensemble_arguments(parser)


@subcommand("compare", "compare scenarios with a baseline: who pays, who saves; writes a report",
            _compare_arguments)
def cmd_compare(args: argparse.Namespace) -> int:
    """Paired replications (common random numbers); table in the terminal; files and report."""
    baseline, *scenarios = _load_all([args.baseline, *args.scenarios], args.overrides)
    name = args.name or "-".join(s.name for s in scenarios)[:80]
    total = args.replications * (1 + len(scenarios))
    with tqdm(total=total, desc="replications", unit="run", disable=args.quiet or None, file=sys.stderr,
              leave=False) as bar:
        comparison = compare(baseline, scenarios, seed=args.seed, replications=args.replications,
                             workers=args.workers, progress=bar.update)
    out = comparison.save(Path(args.out) / f"compare-{name}")
    report = write_report(comparison, out)
    print(comparison.to_text())
    print(f"\nresults: {out}\nreport:  {report}")
    return 0


def _breakeven_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a programme scenario")
    parser.add_argument("--payer", default="municipality", choices=ALL_PAYERS,
                        help="whose break-even (default municipality)")
    parser.add_argument("--horizon", default="4y", help="e.g. 4y, 48m or 48 (months); default 4y")
    parser.add_argument("--programme", help="the programme whose effect is varied (default: the only one)")
    parser.add_argument("--parameter", default="completion_to_work_share",
                        choices=sorted(PARAMETER_RANGES), help="the effect searched over")
    parser.add_argument("--seed", type=at_least(0), default=0, help="seed (default 0)")
    parser.add_argument("--replications", "-r", type=at_least(1), default=10,
                        help="replications per evaluation (default 10)")
    parser.add_argument("--workers", "-w", type=at_least(1), default=1, help="worker processes (default 1)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_set_option(parser)


@subcommand("breakeven", "find the effect a programme needs for a payer to break even", _breakeven_arguments)
def cmd_breakeven(args: argparse.Namespace) -> int:
    """Search the effect parameter by bisection under common random numbers."""
    (scenario,) = _load_all([args.file], args.overrides)
    try:
        horizon = parse_horizon(args.horizon)
    except ValueError as exc:
        print(f"error: --horizon: {exc}", file=sys.stderr)
        return 2
    try:
        with tqdm(desc="evaluations", unit="run", disable=args.quiet or None, file=sys.stderr, leave=False) as bar:
            result = breakeven(scenario, payer=args.payer, horizon_months=horizon, programme=args.programme,
                               parameter=args.parameter, seed=args.seed, replications=args.replications,
                               workers=args.workers, progress=bar.update)
    except ValueError as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 2
    print(result.to_text())
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (the usage itself is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = _Parser(prog="almsim", description="Agent-based simulation of labour-market programmes.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    for command in _COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``almsim`` with ``argv`` (default: the process arguments); return the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already reported
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.run(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `almsim parse x.yaml | head`: the reader left early
        with contextlib.suppress(OSError, ValueError):  # no second failure at exit's flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


# Subcommands defined in their own modules register themselves on import.
from sim import cli_calibrate, cli_teach  # noqa: E402,F401
