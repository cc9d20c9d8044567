"""Commands on scenario files: ``almsim validate`` and ``almsim parse``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from sim.cli.command import CommandList, add_set_option

if TYPE_CHECKING:
    from sim.scenario.schema import Scenario

__all__ = ["COMMANDS", "load_all"]

COMMANDS = CommandList()


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="scenario files")
    add_set_option(parser)


@COMMANDS.add("validate", "check scenario files; print 'ok' or the first error of each",
            _validate_arguments)
def cmd_validate(args: argparse.Namespace) -> int:
    """Load each file; exit 2 if any of them is invalid."""
    from sim.scenario.errors import ScenarioError
    from sim.scenario.load import load_scenario

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


@COMMANDS.add("parse", "print the fully resolved scenario (extends and overrides applied) as YAML",
            _parse_arguments)
def cmd_parse(args: argparse.Namespace) -> int:
    """Print the resolved scenario; it loads back to the same scenario."""
    from sim.scenario.load import dump_scenario, load_scenario

    text = dump_scenario(load_scenario(args.file, args.overrides))
    sys.stdout.write(text)
    return 0


def load_all(files: list[str], overrides: list[str], record_events: bool = True) -> list[Scenario]:
    """Load and check every file before any work starts, so bad input writes nothing."""
    from sim.engine.population import ResourceError, check_fits
    from sim.scenario.errors import ScenarioError
    from sim.scenario.load import load_scenario, parse_file

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


