"""Parameter sets: values at dotted paths of a scenario.

A *parameter set* maps dotted paths (``transitions.open.work``,
``programmes.c2.exit_rates_per_month.training``; after ``programmes`` a part is the
programme's name) to numbers. :func:`apply_values` writes them into a scenario document
(the plain data of :func:`sim.scenario.load.parse_file` or ``Scenario.model_dump(mode="json")``)
and :func:`with_values` does the same to a validated scenario. A value replaces the whole
parameter, dated steps included, and keeps its ``source:`` (a sweep or a calibration says
where the new number comes from).

A path ending ``@YYYY-MM`` (``programmes.c2.lock_in_hazard_ratio@2009-01``) names one dated
step instead: reading it gives the value in force in that month, setting it makes (or
replaces) a step from that month on and keeps the values before it. :func:`apply_values`
sets whole parameters before steps, so a set holding both ``x`` and ``x@2009-01`` means "x,
and from 2009-01 on the other value", whatever its order.

Posterior draws of calibrated parameters (``parameters: {from_calibration: NAME}``) are
applied per replication by :mod:`sim.runs.posterior`.
"""

from __future__ import annotations

import copy
import functools
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from sim.scenario.schema import Scenario

__all__ = ["get_node", "get_value", "set_value", "apply_values", "apply_values_shared", "with_values",
           "parameter_paths", "path_exists", "split_step", "ordered"]

_MONTH_KEY = re.compile(r"^(\d{4}-\d{1,2}|always)$")
_STEP = re.compile(r"^(?P<path>.+)@(?P<month>\d{4}-\d{2})$")


def split_step(path: str) -> tuple[str, str | None]:
    """``("x.y", "2009-01")`` for ``"x.y@2009-01"``; ``(path, None)`` for a path without a step.

    Raises:
        ValueError: if the part after ``@`` is not a month written YYYY-MM.
    """
    if "@" not in path:
        return path, None
    m = _STEP.match(path)
    if m is None:
        raise ValueError(f"{path}: a dated step is written path@YYYY-MM (e.g. x.y@2009-01)")
    from sim.scenario.dated import parse_month

    parse_month(m["month"])
    return m["path"], m["month"]


def _child(node: Any, part: str, path: str) -> tuple[Any, Any]:
    """The container key (or index) of ``part`` inside ``node``."""
    if isinstance(node, dict):
        if part in node:
            return node, part
        raise KeyError(f"{path}: no key {part!r} here (keys: {', '.join(map(str, node))})")
    if isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, dict) and item.get("name") == part:
                return node, i
        if part.isdigit() and int(part) < len(node):
            return node, int(part)
        names = [str(item.get("name")) for item in node if isinstance(item, dict)]
        raise KeyError(f"{path}: no item named {part!r} (names: {', '.join(names)})")
    raise KeyError(f"{path}: {part!r} is below a single value")


#: Where the inflow's own composition is written: a key it does not write is the population's.
_INFLOW_COMPOSITION = ("population", "inflow", "composition")


def _inherited(doc: Any, parts: Sequence[str]) -> tuple[dict[str, Any], str, Any] | None:
    """For a path into a key of the inflow's composition that the inflow does not write itself
    (it inherits the population's): that composition's mapping, the key and the population's
    value (as the population writes it, or the default where it does not). None for any other
    path, and where the inflow has no composition of its own (its people are the cohort's)."""
    if len(parts) < 4 or tuple(parts[:3]) != _INFLOW_COMPOSITION or not isinstance(doc, Mapping):
        return None
    population = doc.get("population")
    inflow = population.get("inflow") if isinstance(population, Mapping) else None
    own = inflow.get("composition") if isinstance(inflow, Mapping) else None
    key = parts[3]
    if not isinstance(own, dict) or key in own:
        return None
    base = population.get("composition")
    if isinstance(base, Mapping) and key in base:
        return own, key, base[key]
    from sim.scenario.schema import Composition

    if key not in Composition.model_fields:
        return None
    return own, key, Composition().model_dump(mode="json")[key]


def _locate(doc: Any, path: str, *, write: bool = False) -> tuple[Any, Any]:
    """The container and key (or index) ``path`` names in ``doc``. A key the inflow's composition
    inherits is read from the population's; to ``write`` one, the inflow's composition is given
    a copy of the population's value first (it becomes the inflow's own)."""
    parts = path.split(".")
    inherited = _inherited(doc, parts)
    if inherited is not None:
        own, key, value = inherited
        found = _walk({key: value}, parts[3:], path)
        if not write:
            return found
        own[key] = copy.deepcopy(value)
    return _walk(doc, parts, path)


def _walk(doc: Any, parts: Sequence[str], path: str) -> tuple[Any, Any]:
    node = doc
    for part in parts[:-1]:
        container, key = _child(node, part, path)
        node = container[key]
    return _child(node, parts[-1], path)


def _number(raw: Any) -> float:
    if isinstance(raw, dict) and "value" in raw:
        raw = raw["value"]
    if isinstance(raw, dict):  # dated: the first value
        raw = next(iter(raw.values()))
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise TypeError(f"not a number: {raw!r}")
    return float(raw)


def _steps(raw: Any) -> dict[str, Any]:
    """A parameter's plain value as ``{month or 'always': number}`` (a number: ``{'always': it}``)."""
    if isinstance(raw, dict) and "value" in raw:
        raw = raw["value"]
    if isinstance(raw, dict) and raw and all(_MONTH_KEY.match(str(k)) for k in raw):
        return {str(k): v for k, v in raw.items()}
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise TypeError(f"not a number: {raw!r}")
    return {"always": raw}


def _month_number(key: str) -> int:
    from sim.scenario.dated import parse_month

    return parse_month(key)


def _in_force(steps: Mapping[str, Any], month: str) -> float:
    """The value of dated ``steps`` in force in ``month`` (before the first date: the first value)."""
    at = _month_number(month)
    dated = sorted(((_month_number(k), v) for k, v in steps.items() if k != "always"), key=lambda kv: kv[0])
    current = steps.get("always", dated[0][1] if dated else None)
    for m, v in dated:
        if m <= at:
            current = v
    return float(current)


def get_node(doc: Mapping[str, Any], path: str) -> Any:
    """The value written at ``path`` as it is written (a number, dated steps, or a mapping with
    ``value``, ``source`` and ``status``).

    Raises:
        KeyError: if the path does not exist.
    """
    container, key = _locate(doc, path)
    return container[key]


def get_value(doc: Mapping[str, Any], path: str) -> float:
    """The number at ``path`` (the first value of a dated parameter; for ``path@YYYY-MM``, the
    value in force in that month).

    Raises:
        KeyError: if the path does not exist; TypeError: if it does not hold a number.
    """
    base, month = split_step(path)
    container, key = _locate(doc, base)
    if month is not None:
        return _in_force(_steps(container[key]), month)
    return _number(container[key])


def set_value(doc: dict[str, Any], path: str, value: float, *, source: str | None = None,
              status: str | None = None) -> None:
    """Set the parameter at ``path`` to ``value`` in place (dated steps are replaced by the value).

    A parameter written ``{value: ..., source: ..., status: ...}`` keeps that form; ``source``
    and ``status`` replace its own when given. A plain number of the schema (not a parameter,
    e.g. ``population.composition.employability_sd``) carries no source: it is set bare. The
    path must exist.

    Raises:
        KeyError: if the path does not exist.
    """
    base, month = split_step(path)
    container, key = _locate(doc, base, write=True)
    old = container[key]
    if (source is not None or status is not None) and not _takes_source(base):
        source = status = None
    np = sys.modules.get("numpy")  # a numpy number can only come from a program that imported numpy
    if np is not None and isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if month is not None:
        try:
            steps = _steps(old)
        except TypeError:
            raise KeyError(f"{path}: is a table, not a number") from None
        steps[month] = value
        value = dict(sorted(steps.items(), key=lambda kv: -1 if kv[0] == "always" else _month_number(kv[0])))
    if isinstance(old, dict) and "value" in old:
        new = dict(old, value=value)
    elif isinstance(old, dict) and old and not all(_MONTH_KEY.match(str(k)) for k in old):
        raise KeyError(f"{path}: is a table, not a number")
    else:
        new = value if source is None and status is None else {"value": value}
    if isinstance(new, dict):
        if source is not None:
            new["source"] = source
        if status is not None:
            new["status"] = status
    container[key] = new


@functools.lru_cache(maxsize=4096)
def _takes_source(path: str) -> bool:
    """Whether the scenario's value at ``path`` may carry a source and status (a parameter, or a
    place the schema does not know)."""
    from sim.scenario.dated import Param
    from sim.scenario.errors import schema_type_at

    tp = schema_type_at(path.split("."))
    return tp is None or tp is Param


def apply_values_shared(doc: Mapping[str, Any], values: Mapping[str, float]) -> dict[str, Any]:
    """``apply_values(doc, values, skip_missing=True)``, copying only the mappings and lists on
    the way to each changed value: the rest is shared with ``doc``, which is never changed (so
    neither may the result's parts be). A calibration builds a document per particle this way;
    a deep copy of the whole document cost a third of a particle."""
    out = dict(doc)
    fresh = {id(out)}

    def own(container: Any, key: Any) -> Any:
        child = container[key]
        if isinstance(child, (dict, list)) and id(child) not in fresh:
            child = container[key] = dict(child) if isinstance(child, dict) else list(child)
            fresh.add(id(child))
        return child

    for path, value in ordered(values).items():  # whole parameters before dated steps
        base, month = split_step(path)
        parts = base.split(".")
        try:  # a path the document does not have is skipped
            node: Any = out
            inherited = _inherited(out, parts)
            if inherited is not None:  # the inflow's own from now on (see _locate)
                _, key, base_value = inherited
                _walk({key: base_value}, parts[3:], path)
                for part in _INFLOW_COMPOSITION:
                    node = own(*_child(node, part, path))
                node[key] = copy.deepcopy(base_value)
                node = out
            for part in parts[:-1]:
                node = own(*_child(node, part, path))
            _child(node, parts[-1], path)  # set_value replaces the leaf, never changes it
            set_value(node, parts[-1] if month is None else f"{parts[-1]}@{month}", value)
        except KeyError:
            continue
    return out


def apply_values(doc: Mapping[str, Any], values: Mapping[str, float], *, source: str | None = None,
                 status: str | None = None, skip_missing: bool = False) -> dict[str, Any]:
    """A copy of ``doc`` with every ``path: value`` of ``values`` set (see :func:`set_value`):
    whole parameters first, then dated steps (``path@YYYY-MM``)."""
    out = copy.deepcopy(dict(doc))
    for path, value in ordered(values).items():
        try:
            set_value(out, path, value, source=source, status=status)
        except KeyError:
            if not skip_missing:
                raise
    return out


def with_values(scenario: Scenario, values: Mapping[str, float], *, source: str | None = None,
                status: str | None = None, skip_missing: bool = False) -> Scenario:
    """``scenario`` with the values set, validated again (``parameters:`` is cleared).

    Raises:
        ScenarioError: if a value is out of its bounds.
    """
    from sim.scenario.load import build

    doc = scenario.model_dump(mode="json")
    doc["parameters"] = None
    return build(apply_values(doc, values, source=source, status=status, skip_missing=skip_missing))


def ordered(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with whole parameters before dated steps (each group in its own order)."""
    return {**{p: v for p, v in values.items() if "@" not in p}, **{p: v for p, v in values.items() if "@" in p}}


def path_exists(doc: Mapping[str, Any], path: str) -> bool:
    try:
        _locate(doc, split_step(path)[0])
    except (KeyError, ValueError):
        return False
    return True


def as_number(v: Any) -> float | int:
    v = v.item() if hasattr(v, "item") else v
    return int(v) if isinstance(v, float) and v.is_integer() else v


def parameter_paths(values: Sequence[str]) -> list[str]:
    """Dotted paths, checked for shape (non-empty parts)."""
    for p in values:
        if not p or any(not part for part in p.split(".")):
            raise ValueError(f"not a dotted path: {p!r}")
    return list(values)
