"""Commands on scenario files: ``almsim validate``, ``almsim parse`` and ``almsim new``."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING

from sim.cli.command import CommandList, add_set_option

if TYPE_CHECKING:
    from sim.scenario.schema import Scenario

__all__ = ["COMMANDS", "load_all", "load_checked", "new_scenario_text"]

COMMANDS = CommandList()


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="scenario files (or almsim:NAME), or calibration jobs (with their targets, space and "
                             "scenarios)")
    add_set_option(parser)


#: The top-level keys every calibration job has and no scenario has (``sim.calibration.fit``).
_JOB_KEYS = frozenset({"targets", "scenarios"})


@COMMANDS.add("validate", "check scenario files or calibration jobs; print 'ok' or the first error of each",
              _validate_arguments)
def cmd_validate(args: argparse.Namespace) -> int:
    """Load each file and check it fits in memory; exit 2 if any of them is invalid.

    A calibration job is refused as a scenario at a top-level key (the first a scenario does not
    have); it is then loaded as the job it is (its target and space files and its scenarios with their ``set:``),
    as ``almsim calibrate`` would, instead of calling that key unknown.
    """
    from sim.scenario.errors import ScenarioError
    from sim.scenario.load import overrides_per_file

    failed = False
    for file, overrides in zip(args.files, overrides_per_file(args.files, args.overrides), strict=True):
        what = ""
        try:
            try:
                load_checked(file, overrides)
            except ScenarioError as exc:
                if exc.key is None or "." in exc.key or not _is_job(file):
                    raise
                if overrides:
                    raise ScenarioError("applies to scenarios, not to a calibration job", file="--set") from None
                from sim.calibration.fit import load_job

                load_job(file)
                what = " (calibration job)"
        except ScenarioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed = True
        else:
            print(f"ok  {file}{what}")
    return 2 if failed else 0


def _is_job(file: str) -> bool:
    """Whether ``file`` reads as a calibration job: a mapping with a job's own top-level keys."""
    from sim.scenario.errors import ScenarioError
    from sim.scenario.load import read_document

    try:
        raw, _ = read_document(file, "calibration job")
    except ScenarioError:
        return False
    return set(raw) >= _JOB_KEYS


def _parse_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="scenario file (or almsim:NAME)")
    add_set_option(parser)


@COMMANDS.add("parse", "print the fully resolved scenario (extends and overrides applied) as YAML",
              _parse_arguments)
def cmd_parse(args: argparse.Namespace) -> int:
    """Print the resolved scenario; it loads back to the same scenario."""
    from sim.scenario.load import dump_scenario, load_scenario, overrides_per_file

    (overrides,) = overrides_per_file([args.file], args.overrides)
    text = dump_scenario(load_scenario(args.file, overrides))
    sys.stdout.write(text)
    return 0


def _new_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the new scenario's name; writes NAME.yaml here")
    parser.add_argument("--from", dest="base", required=True, metavar="BASE",
                        help="the scenario it extends: almsim:NAME (a shipped scenario) or a file")


@COMMANDS.add("new", "write NAME.yaml extending a scenario, with the levers one usually changes",
              _new_arguments)
def cmd_new(args: argparse.Namespace) -> int:
    """Write ``NAME.yaml`` in the current folder (never over an existing file)."""
    import os

    from sim.scenario.errors import ScenarioError
    from sim.scenario.load import load_scenario
    from sim.scenario.schema import MAX_NAME
    from sim.scenario.shipped import is_shipped

    name = args.name.removesuffix(".yaml")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_\-]*", name, re.ASCII) or len(name) > MAX_NAME:
        raise ScenarioError(f"a scenario name is lower-case letters, digits, '-' and '_' (at most {MAX_NAME}), "
                            f"got {args.name!r}", file="almsim new", key="NAME")
    base = load_scenario(args.base)
    target = f"{name}.yaml"
    # A base file is named relative to the new file's folder (the current one).
    extends = args.base if is_shipped(args.base) or os.path.isabs(args.base) else os.path.relpath(args.base)
    text = new_scenario_text(name, extends, base)
    try:
        with open(target, "x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise ScenarioError("already exists; choose another name or remove the file", file=target) from None
    except OSError as exc:
        raise ScenarioError(f"cannot write the file ({exc.strerror or exc})", file=target) from None
    print(f"wrote {target} (extends {extends}); check it with: almsim validate {target}")
    return 0


def new_scenario_text(name: str, extends: str, base: Scenario) -> str:
    """The text of a new scenario extending ``base``: its name and, commented out, the levers
    one typically changes, with the base's values."""
    from sim.scenario.dated import Param

    def shown(value: object) -> str:
        note = ""
        if isinstance(value, Param):
            note = f"  # {value.status}" if value.status else ""
            value = Param(value.steps).to_yaml()  # the value alone; a new value brings its own source
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, (int, float)) else f"{value:g}"
        return text + note

    lines = [
        f"# A variant of {extends}; see scenarios/README.md for every key.",
        "# Uncomment a line to change a lever; dotted keys change one value of the base.",
        f"extends: {extends}",
        f"name: {name}",
        f"title: {json.dumps(f'{base.title or base.name} (variant)', ensure_ascii=False)}",
        "",
        f"# horizon_months: {base.horizon_months}",
    ]
    population = base.population
    if population.cohort is not None:
        lines.append(f"# population.cohort.size: {population.cohort.size}")
    if population.inflow is not None:
        lines.append(f"# population.inflow.people_per_month: {shown(population.inflow.people_per_month)}")
    for p in base.programmes:
        lines += ["", f"# Programme {p.name}" + (f": {p.title}" if p.title else "")]
        at = f"programmes.{p.name}"
        lines.append(f"# {at}.referral_rate_per_month: {shown(p.referral_rate_per_month)}")
        cap = p.capacity
        if cap.slots is not None:
            lines.append(f"# {at}.capacity.slots: {shown(cap.slots)}")
        else:
            lines.append(f"# {at}.capacity.staff: {shown(cap.staff)}")
            lines.append(f"# {at}.capacity.caseload_per_staff: {shown(cap.caseload_per_staff)}")
        lines.append(f"# {at}.max_duration_months: {shown(p.max_duration_months)}")
        if p.wage_sek_per_month is not None:
            lines.append(f"# {at}.wage_sek_per_month: {shown(p.wage_sek_per_month)}")
        lines.append(f"# {at}.effect_after_hazard_ratio: {shown(p.effect_after_hazard_ratio)}")
        if p.cost_sek_per_staff_month is not None:
            lines.append(f"# {at}.cost_sek_per_staff_month: {shown(p.cost_sek_per_staff_month)}")
        else:
            lines.append(f"# {at}.staff_cost_sek_per_month: {shown(p.staff_cost_sek_per_month)}")
    return "\n".join(lines) + "\n"


def load_checked(file: str, overrides: list[str], record_events: bool = True, kept: int = 0,
                 kept_events: int | None = None, bridge: bool = False) -> Scenario:
    """Load one scenario and check that its population fits in memory, with ``kept`` finished
    replications (``kept_events`` of them with event logs) held until they are written, and a
    comparison's payoff-style ``bridge`` (:func:`~sim.engine.footprint.check_fits`).

    Raises:
        ScenarioError: for a bad scenario, or one too large for this machine (at ``population``).
    """
    from sim.engine.footprint import ResourceError, check_fits
    from sim.scenario.errors import ScenarioError
    from sim.scenario.load import load_scenario, parse_file

    scenario = load_scenario(file, overrides)
    try:
        check_fits(scenario.population, scenario.start_month, scenario.horizon_months, record_events, kept=kept,
                   kept_events=kept_events, bridge=bridge)
    except ResourceError as exc:
        doc, provenance = parse_file(file, overrides)
        loc = provenance.locate(("population",))
        if loc.file != provenance.file:
            # Written in a base: point at what this file made large (its inflow or cohort), if anything.
            population = doc.get("population") or {}
            for part, size in (("inflow", "people_per_month"), ("cohort", "size")):
                if isinstance(population.get(part), dict) and size in population[part]:
                    here = provenance.locate(("population", part, size))
                    if here.file == provenance.file:
                        loc = here
                        break
        raise ScenarioError(str(exc), file=loc.file, line=loc.line, key="population") from None
    return scenario


def load_all(files: list[str], overrides: list[str], record_events: bool = True, kept: int = 0,
             kept_events: int | None = None, bridge: bool = False) -> list[Scenario]:
    """Load and check every file before any work starts, so bad input writes nothing (``kept``:
    finished replications the command holds until it writes them, ``kept_events`` of them with
    event logs, and ``bridge``, :func:`load_checked`).

    ``--set FILE_OR_NAME:path=VALUE`` changes one scenario; a bare ``--set path=VALUE`` every
    scenario that has the path (see :func:`sim.scenario.load.overrides_per_file`).

    A scenario of :data:`~sim.runs.allocator.LARGE_RUN` person-months or more has the
    process's memory allocated as large runs need (:func:`~sim.runs.allocator.tune_for_large_runs`).
    """
    from sim.engine.footprint import population_size
    from sim.runs.allocator import LARGE_RUN, tune_for_large_runs
    from sim.scenario.load import overrides_per_file

    scenarios = [load_checked(file, mine, record_events, kept, kept_events, bridge)
                 for file, mine in zip(files, overrides_per_file(files, overrides), strict=True)]
    if any(population_size(s.population, s.start_month, s.horizon_months) * s.horizon_months >= LARGE_RUN
           for s in scenarios):
        tune_for_large_runs()
    return scenarios
