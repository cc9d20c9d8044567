"""The ``almsim`` command line (also ``python -m sim``): the registry and the entry point.

Commands live in one module per group, each with a :class:`~sim.cli.command.CommandList`;
:data:`REGISTRY` lists those modules explicitly, in the order ``almsim --help`` shows them.
To add a command, add a handler to the group's list (or a new module to :data:`REGISTRY`).

Exit codes: 0 success, 2 a bad scenario or bad usage (one ``error:`` line on stderr, no
traceback), 130 interrupted. ``almsim --version`` prints ``almsim X.Y.Z`` and exits 0 without
importing anything heavy.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import NoReturn

from sim.cli import calibrate, runs, scenarios, teach, validation
from sim.cli.command import Command

__all__ = ["main", "build_parser", "version", "REGISTRY", "FALLBACK_VERSION"]

#: The version printed when the package's metadata cannot be read (e.g. run from a source tree
#: that was never installed); keep it equal to ``version`` in ``pyproject.toml``.
FALLBACK_VERSION = "0.1.0"

#: Every command, by group: scenarios, simulation, calibration, teaching.
REGISTRY: tuple[Command, ...] = (*scenarios.COMMANDS, *runs.COMMANDS, *calibrate.COMMANDS, *validation.COMMANDS,
                                 *teach.COMMANDS)


def version() -> str:
    """The installed version of almsim (from its package metadata), else :data:`FALLBACK_VERSION`."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("almsim")
    except PackageNotFoundError:
        return FALLBACK_VERSION


class _Version(argparse.Action):
    """``--version``: print ``almsim X.Y.Z`` and exit 0 (the version is looked up only when asked)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the version (almsim X.Y.Z) and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"almsim {version()}")
        parser.exit(0)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (the usage itself is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = _Parser(prog="almsim", description="Agent-based simulation of labour-market programmes.")
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    for command in REGISTRY:
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
    from sim.scenario.errors import ScenarioError

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
