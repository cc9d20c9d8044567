"""What a command is, and the small argument helpers the command modules share.

A command module (:mod:`sim.cli.scenarios`, :mod:`sim.cli.runs`, ...) keeps a
:class:`CommandList` and adds each of its commands to it with :meth:`CommandList.add`; the
registry in :mod:`sim.cli.main` lists the modules' lists explicitly. Nothing registers itself
by being imported.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["Command", "CommandList", "Handler", "at_least", "add_set_option"]

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    """``almsim NAME``: its one-line help, a function adding its options, and its handler."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Handler


class CommandList:
    """The commands of one module, in the order ``--help`` lists them."""

    def __init__(self) -> None:
        self._commands: list[Command] = []

    def add(self, name: str, help: str,  # noqa: A002 - argparse's word
            arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None,
            ) -> Callable[[Handler], Handler]:
        """Decorator: the decorated function runs ``almsim NAME``; ``arguments`` adds its options."""
        def register(run: Handler) -> Handler:
            self._commands.append(Command(name, help, arguments, run))
            return run
        return register

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands)


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
    """The ``--set [FILE_OR_NAME:]dotted.path=VALUE`` option shared by commands that load scenarios."""
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="[FILE:]PATH=VALUE",
                        help="override a value after loading, e.g. --set programmes.c2.capacity.staff=4 "
                             "(every file that has the path) or --set c2.yaml:horizon_months=48 (one file, "
                             "by its path, base name or scenario name); repeatable; VALUE is YAML")
