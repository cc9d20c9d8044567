"""A policy variant: a scenario pair, the levers one may move, and the variant saved as a file.

The policy studio (:mod:`sim.present.studio`) works on a **pair**: a baseline (today's policy)
and a programme scenario that ``extends:`` it, directly or through other files. This module
owns everything about a variant that is not the page:

* :func:`shipped_pairs` lists the shipped programme scenarios with their baselines, and
  :func:`baseline_of` finds the baseline of any file by following its ``extends:`` chain to the
  first scenario without programmes;
* :func:`programme_levers` reads the levers of every programme from the scenario itself (places
  or staff and caseload, starts a month, wage, wage subsidy, longest stay, eligible ages and
  months on assistance, referral rate, staff cost): a lever exists only where the programme has
  the value; :func:`assumption_levers` gives the key assumptions of
  :mod:`sim.analysis.assumptions_driving` (value of the work done, the tax the municipality keeps
  after equalisation, a-kassa membership), which apply to the baseline and the programme alike;
* :func:`lever_overrides` turns moved levers into the loader's dotted overrides (``path=VALUE``,
  the same path as ``--set``); a lever left at the file's value changes nothing;
* :func:`variant_text` and :func:`save_variant` write the variant as a scenario file that
  ``extends:`` the programme scenario and sets only the moved levers, each with a ``source:``
  saying it was changed in the studio and from what.

**Dated values.** A lever shows the value in force when the programme starts. Moving it scales
every dated step of the value by the same factor, so the file's reforms keep their shape (a wage
that rises each year still rises; a referral rate that closes in 2013 still closes). A value
that is zero at the start is replaced by one constant, and so is an assumption's: its lever sets
one value for every month, as the comparison's assumption lines do (activity support after the
basic amount moved to 223 is 223 throughout, not 223 scaled up with the minimum's rise of 2015).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.scenario.dated import Param, format_month
from sim.scenario.errors import ScenarioError
from sim.scenario.schema import MAX_NAME, Scenario
from sim.scenario.shipped import PREFIX, is_shipped, shipped_folders, shipped_names, shipped_path

__all__ = ["Pair", "Lever", "shipped_pairs", "baseline_of", "extends_of", "programme_levers",
           "assumption_levers", "levers", "lever_overrides", "baseline_overrides", "variant_text",
           "save_variant", "extends_target", "VARIANT_SOURCE"]

#: The ``source:`` of a value changed in the studio (followed by what it was changed from).
VARIANT_SOURCE = "almsim studio"


@dataclass(frozen=True)
class Pair:
    """A baseline file and a programme scenario file (paths, or ``almsim:NAME``)."""

    baseline: str
    scenario: str
    label: str = ""


@dataclass(frozen=True)
class Lever:
    """One number the studio lets a user change.

    Attributes:
        path: the dotted path (``programmes.resursjobb.capacity.slots``), as ``--set`` takes it;
            an assumption may set several paths (``also``).
        label: what the page shows.
        value: the file's value (in force at the programme's start).
        min, max, step: the input's range and step.
        integer: whether only whole numbers make sense.
        group: ``programme NAME`` or ``assumption``.
        param: whether the value is a dated parameter (it may carry ``source:``); else a plain number.
        dated: the parameter's steps (month or None, value), to scale when the lever moves.
        also: further paths set to the same value (an assumption written in several places).
    """

    path: str
    label: str
    value: float
    min: float
    max: float
    step: float
    integer: bool = False
    group: str = ""
    param: bool = True
    dated: tuple[tuple[int | None, float], ...] = ()
    also: tuple[tuple[str, tuple[tuple[int | None, float], ...], bool], ...] = ()


# ---------------------------------------------------------------------------------- pairs
def extends_of(file: str) -> str | None:
    """The file that ``file`` extends (a path as the loader resolves it, or ``almsim:NAME``), or None.

    Raises:
        ScenarioError: if the file cannot be read (the loader's safe reader is used).
    """
    from sim.scenario.yaml_reader import check_path, parse_text, read_text

    real = str(shipped_path(file)) if is_shipped(file) else os.path.realpath(file)
    tree = parse_text(read_text(file, check_path(real)), file, [])
    node = tree.value.get("extends") if tree is not None and isinstance(tree.value, dict) else None
    target = node.value if node is not None else None
    if not isinstance(target, str) or not target.strip():
        return None
    if is_shipped(target):
        return target
    return os.path.normpath(os.path.join(os.path.dirname(real), os.path.expanduser(target)))


def baseline_of(file: str) -> str:
    """The baseline of ``file``: the first scenario without programmes along its ``extends:`` chain.

    Raises:
        ScenarioError: if the chain has no scenario without programmes, or a file is bad.
    """
    from sim.scenario.load import load_scenario

    seen: list[str] = []
    current = extends_of(file)
    while current is not None and len(seen) < 16:
        if not load_scenario(current).programmes:
            return _shipped_name(current)
        seen.append(current)
        current = extends_of(current)
    raise ScenarioError("no baseline found: none of the files it extends is a scenario without programmes",
                        file=file, key="extends")


def _shipped_name(path: str) -> str:
    """``almsim:NAME`` for a file in a shipped folder, else the path itself."""
    if is_shipped(path):
        return path
    real = os.path.realpath(path)
    for folder in shipped_folders():
        if os.path.dirname(real) == os.path.realpath(folder):
            return PREFIX + Path(real).stem
    return path


def shipped_pairs() -> list[Pair]:
    """Every shipped programme scenario with its baseline, labelled with its title."""
    from sim.scenario.load import load_scenario

    out = []
    for name in shipped_names():
        target = PREFIX + name
        try:
            scenario = load_scenario(target)
            if not scenario.programmes:
                continue
            baseline = baseline_of(target)
        except ScenarioError:
            continue
        out.append(Pair(baseline, target, f"{scenario.title or name} ({name})"))
    return out


# --------------------------------------------------------------------------------- levers
def _nice_ceiling(x: float) -> float:
    """A round number >= x (1, 2, 5 x 10^k)."""
    if x <= 0:
        return 1.0
    k = 10 ** math.floor(math.log10(x))
    return float(next(m * k for m in (1, 2, 5, 10) if m * k >= x))


def _reference(p: Param, month: int) -> float:
    """The value a lever shows: in force at ``month``, or the first non-zero step if that is zero."""
    v = p.at(month)
    if v == 0:
        v = next((x for _, x in p.steps if x > 0), 0.0)
    return float(v)


#: The levers a programme may have: attribute path below the programme, label, step, integer,
#: whether the range is a share (0..1), and the kinds of programme it applies to (None: all).
_PROGRAMME_LEVERS: tuple[tuple[str, str, float, bool, bool, tuple[str, ...] | None], ...] = (
    ("capacity.slots", "Places", 1, True, False, None),
    ("capacity.staff", "Staff (full-time)", 0.25, False, False, None),
    ("capacity.caseload_per_staff", "Caseload per staff member", 1, True, False, None),
    ("capacity.max_starts_per_month", "Most new starts a month", 1, True, False, None),
    ("wage_sek_per_month", "Wage (SEK a month)", 100, True, False, ("subsidised_job",)),
    ("wage_subsidy_share_of_wage_cost", "Wage subsidy from Arbetsförmedlingen (share of the wage cost)", 0.05,
     False, True, ("subsidised_job",)),
    ("max_duration_months", "Longest stay (months)", 1, True, False, None),
    ("referral_rate_per_month", "Referral rate (share of the eligible referred a month)", 0.01, False, True, None),
    ("eligibility.age_min", "Eligible from age", 1, True, False, None),
    ("eligibility.age_max", "Eligible up to age", 1, True, False, None),
    ("eligibility.min_months_on_assistance", "Eligible after months on assistance", 1, True, False, None),
    ("staff_cost_sek_per_month", "Staff cost, in all (SEK a month)", 1000, True, False, None),
    ("cost_sek_per_staff_month", "Cost per staff member (SEK a month)", 1000, True, False, None),
)


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _bounds(attr: str, value: float, step: float, share: bool) -> tuple[float, float]:
    """The range of a lever's input: ages 16-70, months on assistance up to 10 years, shares
    0-1, anything else from 0 to a round number at least twice the file's value."""
    if attr.startswith("eligibility.age"):
        return 16.0, 70.0
    if attr == "eligibility.min_months_on_assistance":
        return 0.0, 120.0
    return 0.0, 1.0 if share else _nice_ceiling(max(2 * value, 10 * step))


def programme_levers(scenario: Scenario) -> list[Lever]:
    """The levers of every programme of ``scenario``, in the order of :data:`_PROGRAMME_LEVERS`.

    A lever exists where the programme has the value (places *or* staff and caseload; a wage
    and a subsidy only for subsidised jobs; a staff cost as the programme writes it).
    """
    out = []
    for p in scenario.programmes:
        month = p.start_month if p.start_month is not None else scenario.start_month
        for attr, label, step, integer, share, kinds in _PROGRAMME_LEVERS:
            if kinds is not None and p.kind not in kinds:
                continue
            if attr == "staff_cost_sek_per_month" and p.cost_sek_per_staff_month is not None:
                continue
            raw = _get(p, attr)
            if raw is None:
                continue
            if isinstance(raw, Param):
                value, dated, param = _reference(raw, month), raw.steps, True
            else:
                value, dated, param = float(raw), (), False
            lo, hi = _bounds(attr, value, step, share)
            out.append(Lever(f"programmes.{p.name}.{attr}", label, value, lo, hi, step, integer,
                             f"programme {p.name}", param, dated))
    return out


def _assumption_paths(name: str, scenario: Scenario) -> list[tuple[str, Param]]:
    """Where the assumption ``name`` of :data:`sim.analysis.assumptions_driving.ASSUMPTIONS` is written."""
    if name == "production_value_share_of_wage_cost":
        paths = [(f"programmes.{p.name}.{name}", p.production_value_share_of_wage_cost)
                 for p in scenario.programmes if p.kind == "subsidised_job"]
        return [*paths, (f"money.{name}", scenario.money.production_value_share_of_wage_cost)]
    if hasattr(scenario.money, name):  # a money rate
        return [(f"money.{name}", getattr(scenario.money, name))]
    if hasattr(scenario.rules, name):  # a rule
        return [(f"rules.{name}", getattr(scenario.rules, name))]
    if name == "ui_member_share":
        return [(f"population.composition.{name}", scenario.population.composition.ui_member_share)]
    raise KeyError(name)


def assumption_levers(scenario: Scenario) -> list[Lever]:
    """The key assumptions (:data:`sim.analysis.assumptions_driving.ASSUMPTIONS`) as levers.

    Each shows the value the scenario uses where its programmes are (a subsidised job's own
    production value before the general one); moving it sets every place it is written.
    """
    from sim.analysis.assumptions_driving import ASSUMPTIONS
    from sim.analysis.comparison_math import programme_start

    month = programme_start(scenario)
    out = []
    for a in ASSUMPTIONS:
        (path, param), *rest = _assumption_paths(a.name, scenario)
        label = a.title[0].upper() + a.title[1:]
        # shares move in 0..1; an amount a day from 0 to twice the line's largest value, by the krona
        hi, step = (2 * max(a.values), 1.0) if a.name.endswith("_sek_per_day") else (1.0, a.step or 0.05)
        out.append(Lever(path, label, float(param.at(month)), 0.0, hi, step, False, "assumption", True,
                         param.steps, tuple((q, r.steps, True) for q, r in rest)))
    return out


def levers(scenario: Scenario) -> list[Lever]:
    """The programme levers, then the assumptions."""
    return programme_levers(scenario) + assumption_levers(scenario)


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _moved(lever: Lever, value: float) -> Any:
    """The new value of a moved lever as plain YAML data (dated steps scaled; see the module)."""
    if lever.integer:
        value = float(round(value))
    if not lever.param or len(lever.dated) <= 1 or lever.value == 0 or lever.group == "assumption":
        return _number(value)
    factor = value / lever.value  # a step scaled out of bounds is refused by the loader, never clipped
    return {format_month(m) if m is not None else "always":
            _number(round(v * factor, 6) if not lever.integer else round(v * factor)) for m, v in lever.dated}


def _changes(known: Sequence[Lever], values: Mapping[str, float | None]) -> list[tuple[Lever, str, Any]]:
    """(lever, path, new value) for every moved lever and every path it sets."""
    out = []
    for lever in known:
        value = values.get(lever.path)
        if value is None or not math.isfinite(float(value)) or abs(float(value) - lever.value) < 1e-9:
            continue
        out.append((lever, lever.path, _moved(lever, float(value))))
        for path, steps, param in lever.also:
            twin = Lever(path, lever.label, lever.value, lever.min, lever.max, lever.step, lever.integer,
                         lever.group, param, steps)
            out.append((lever, path, _moved(twin, float(value)) if len(steps) <= 1 else
                        {format_month(m) if m is not None else "always": _number(float(value)) for m, _ in steps}))
    return out


def _yaml(value: Any) -> str:
    """One-line YAML (flow style) of a number or a dated mapping."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float) and math.isfinite(value):
        value = _number(value)
    return json.dumps(value)


def lever_overrides(known: Sequence[Lever], values: Mapping[str, float | None]) -> list[str]:
    """``path=VALUE`` overrides for the levers whose value differs from the file's."""
    return [f"{path}={_yaml(v)}" for _, path, v in _changes(known, values)]


def baseline_overrides(baseline: Scenario, scenario: Scenario) -> list[str]:
    """Overrides that give the baseline the assumptions the programme scenario runs with.

    Assumptions are about the world, not the programme: wherever the baseline writes an
    assumption (:func:`assumption_levers`) and the scenario (with its moved levers applied) has
    another value at the same path, the baseline takes the scenario's value.
    """
    from sim.analysis.assumptions_driving import ASSUMPTIONS

    out = []
    for a in ASSUMPTIONS:
        theirs = dict(_assumption_paths(a.name, scenario))
        for path, mine in _assumption_paths(a.name, baseline):
            other = theirs.get(path)
            if other is not None and other.steps != mine.steps:
                out.append(f"{path}={_yaml(_plain(other))}")
    return out


def _plain(p: Param) -> Any:
    """A parameter's value as plain YAML data (a number or a dated mapping), without its source."""
    return Param(p.steps).to_yaml()


# ------------------------------------------------------------------------------ the file
def extends_target(scenario_file: str, folder: str | os.PathLike[str]) -> str:
    """How a file saved in ``folder`` names ``scenario_file``: ``almsim:NAME`` for a shipped
    scenario, else a path relative to ``folder`` (absolute if there is none)."""
    shipped = _shipped_name(scenario_file)
    if is_shipped(shipped):
        return shipped
    real = os.path.realpath(scenario_file)
    try:
        return os.path.relpath(real, os.path.realpath(folder))
    except ValueError:  # another drive
        return real


def variant_text(name: str, title: str, extends: str, known: Sequence[Lever], values: Mapping[str, float | None],
                 *, baseline: str = "", baseline_sets: Sequence[str] = ()) -> str:
    """The scenario file of a variant: ``extends:``, name, title and one dotted key per moved value.

    A moved parameter is written ``{value: ..., source: "almsim studio: changed from X", status:
    assumed}`` so the report's sources say where it came from; a plain number (an eligible age)
    is written alone, with that note as a comment.
    """
    today = _dt.date.today().isoformat()
    lines = [f"# A variant of {extends}, saved by almsim studio on {today}.",
             "# Each dotted key below changes one value of the scenario it extends."]
    if baseline:
        target = baseline.removeprefix(PREFIX) if is_shipped(baseline) else baseline
        sets = "".join(f" --set '{target}:{s}'" for s in baseline_sets)
        lines.append(f"# Compare it with today's policy: almsim compare {baseline} {name}.yaml{sets}")
        if baseline_sets:
            lines.append("# (the --set values give the baseline the same assumptions, as the studio does)")
    lines += [f"extends: {extends}", f"name: {name}", f"title: {json.dumps(title, ensure_ascii=False)}", ""]
    for lever, path, v in _changes(known, values):
        was = lever.dated if path == lever.path else next(s for q, s, _ in lever.also if q == path)
        before = _yaml({format_month(m) if m is not None else "always": _number(x) for m, x in was}) \
            if len(was) > 1 else _yaml(_number(was[0][1]) if was else _number(lever.value))
        note = f"{VARIANT_SOURCE}: changed from {before}"
        if lever.param:
            lines.append(f"{path}: {{value: {_yaml(v)}, source: {json.dumps(note, ensure_ascii=False)}, "
                         "status: assumed}")
        else:
            lines.append(f"{path}: {_yaml(v)}  # {note}")
    return "\n".join(lines) + "\n"


def save_variant(folder: str | os.PathLike[str], name: str, pair: Pair, scenario: Scenario,
                 values: Mapping[str, float | None]) -> Path:
    """Write ``folder/NAME.yaml`` (never over an existing file) and check that it loads.

    Returns:
        The path written.

    Raises:
        ScenarioError: for a bad name, an existing file, a folder that cannot be written, or a
            file that does not load (it is then removed again).
    """
    from sim.scenario.load import load_scenario

    name = name.strip().removesuffix(".yaml")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_\-]*", name, re.ASCII) or len(name) > MAX_NAME:
        raise ScenarioError(f"a scenario name is lower-case letters, digits, '-' and '_' (at most {MAX_NAME}), "
                            f"got {name!r}", file="almsim studio", key="name")
    folder = Path(folder)
    target = folder / f"{name}.yaml"
    title = f"{scenario.title or scenario.name} (variant {name})"
    known = levers(scenario)
    moved = load_scenario(pair.scenario, lever_overrides(known, values))
    sets = baseline_overrides(load_scenario(pair.baseline), moved)
    text = variant_text(name, title, extends_target(pair.scenario, folder), known, values,
                        baseline=pair.baseline, baseline_sets=sets)
    try:
        with open(target, "x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise ScenarioError("already exists; choose another name", file=str(target)) from None
    except OSError as exc:
        raise ScenarioError(f"cannot write the file ({exc.strerror or exc})", file=str(target)) from None
    try:
        load_scenario(target)
    except ScenarioError:
        target.unlink(missing_ok=True)
        raise
    return target

