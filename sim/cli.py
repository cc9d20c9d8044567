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

from sim.errors import ScenarioError
from sim.scenario import dump_scenario, load_scenario

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="almsim", description="Agent-based simulation of labour-market programmes.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
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
