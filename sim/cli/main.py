"""The ``almsim`` command line (also ``python -m sim``): the registry and the entry point.

Commands live in one module per group, each with a :class:`~sim.cli.command.CommandList`;
:data:`REGISTRY` lists those modules explicitly, in the order ``almsim --help`` shows them.
To add a command, add a handler to the group's list (or a new module to :data:`REGISTRY`).

Exit codes: 0 success, 2 a bad scenario or bad usage (one ``error:`` line on stderr, no
traceback), 1 a fault of the machine (a full disk, a file that cannot be written: one line),
130 interrupted (Ctrl-C: ``interrupted`` on stderr, in any phase, from this process alone:
worker processes ignore SIGINT and are stopped by this one). ``almsim --version`` prints
``almsim X.Y.Z`` and exits 0 without importing anything heavy.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
from collections.abc import Callable
from typing import NoReturn

from sim.cli import calibrate, runs, scenarios, studio, teach, validation
from sim.cli.command import Command

__all__ = ["main", "build_parser", "version", "REGISTRY", "FALLBACK_VERSION"]

#: The version printed when the package's metadata cannot be read (e.g. run from a source tree
#: that was never installed); keep it equal to ``version`` in ``pyproject.toml``.
FALLBACK_VERSION = "0.1.0"

#: Every command, by group: scenarios, simulation, calibration, validation, teaching, the policy studio.
REGISTRY: tuple[Command, ...] = (*scenarios.COMMANDS, *runs.COMMANDS, *calibrate.COMMANDS, *validation.COMMANDS,
                                 *teach.COMMANDS, *studio.COMMANDS)


#: The cyclic garbage collector's thresholds for its young and middle generations while a command
#: runs (Python's are 700 and 10; the oldest generation's stays as it is). A command imports pandas,
#: numba, pydantic and matplotlib (millions of long-lived objects) and makes few reference cycles,
#: so each scan of the older generations mostly walks objects that live as long as the process.
#: In the main job (``gc.callbacks``, runs alternated with Python's thresholds): 0.29 CPU-s
#: collecting at 700 and 10, 0.19 of it in 4 scans of the whole heap; 0.11-0.15 at 10,000 and 10
#: (4 middle, no whole-heap scans); 0.07-0.08 at 10,000 and 50 (one middle scan); peak memory
#: 445-449 MB against 462-466. Cycles are still collected, in larger batches.
GC_THRESHOLDS = (10_000, 50)


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


def _interrupt_handler(main_pid: int) -> Callable[[int, object], None]:
    """SIGINT raises ``KeyboardInterrupt`` in this process only: a worker *forked* from it (the
    calibration's ABC samplers fork) inherits the handler and ignores Ctrl-C; the parent stops it."""
    def on_interrupt(signum: int, frame: object) -> None:
        if os.getpid() == main_pid:
            raise KeyboardInterrupt
    return on_interrupt


def _interrupted() -> int:
    # Ignore a second Ctrl-C while the interpreter winds down (stopping workers, removing
    # temporary files): it would only turn the one line into a traceback.
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("interrupted", file=sys.stderr)
    return 130


def main(argv: list[str] | None = None) -> int:
    """Run ``almsim`` with ``argv`` (default: the process arguments); return the exit code.

    While it runs, Ctrl-C interrupts this process only (see :func:`_interrupt_handler`); the
    previous handler is put back on return, unless interrupted (then SIGINT stays ignored while
    the process exits). The garbage collector runs less often meanwhile (:data:`GC_THRESHOLDS`;
    its thresholds are put back on return).
    """
    try:
        previous = signal.signal(signal.SIGINT, _interrupt_handler(os.getpid()))
    except ValueError:  # not the main thread: Python's own handling stays
        previous = None
    thresholds = gc.get_threshold()
    if thresholds[0] > 0:  # (0: the collector was switched off; it stays off)
        young, middle, *oldest = thresholds
        gc.set_threshold(max(young, GC_THRESHOLDS[0]), max(middle, GC_THRESHOLDS[1]), *oldest)
    interrupted = False
    try:
        return _run(argv)
    except KeyboardInterrupt:
        interrupted = True
        return _interrupted()
    finally:
        gc.set_threshold(*thresholds)
        if previous is not None and not interrupted:
            signal.signal(signal.SIGINT, previous)


def _run(argv: list[str] | None) -> int:
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
    except BrokenPipeError:  # e.g. `almsim parse x.yaml | head`: the reader left early
        with contextlib.suppress(OSError, ValueError):  # no second failure at exit's flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # a fault of the machine found while working (e.g. the disk filled up)
        shown = ScenarioError(exc.strerror or str(exc), file=str(exc.filename or "almsim"))  # one line, escaped
        print(f"error: {shown}", file=sys.stderr)
        return 1
