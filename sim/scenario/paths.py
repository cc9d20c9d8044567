"""Parameter sets: values at dotted paths of a scenario.

A *parameter set* maps dotted paths (``transitions.open.work``,
``programmes.c2.exit_rates_per_month.training``; after ``programmes`` a part is the
programme's name) to numbers. :func:`apply_values` writes them into a scenario document
(the plain data of :func:`sim.scenario.load.parse_file` or ``Scenario.model_dump(mode="json")``)
and :func:`with_values` does the same to a validated scenario. A value replaces the whole
parameter, dated steps included, and keeps its ``source:`` (a sweep or a calibration says
where the new number comes from).

Posterior draws of calibrated parameters (``parameters: {from_calibration: NAME}``) are
applied per replication by :mod:`sim.runs.posterior`.
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from sim.scenario.schema import Scenario

__all__ = ["get_value", "set_value", "apply_values", "with_values", "parameter_paths", "path_exists"]

_MONTH_KEY = re.compile(r"^(\d{4}-\d{1,2}|always)$")


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


def _locate(doc: Any, path: str) -> tuple[Any, Any]:
    parts = path.split(".")
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


def get_value(doc: Mapping[str, Any], path: str) -> float:
    """The number at ``path`` (the first value of a dated parameter).

    Raises:
        KeyError: if the path does not exist; TypeError: if it does not hold a number.
    """
    container, key = _locate(doc, path)
    return _number(container[key])


def set_value(doc: dict[str, Any], path: str, value: float, *, source: str | None = None,
              status: str | None = None) -> None:
    """Set the parameter at ``path`` to ``value`` in place (dated steps are replaced by the value).

    A parameter written ``{value: ..., source: ..., status: ...}`` keeps that form; ``source``
    and ``status`` replace its own when given. The path must exist.

    Raises:
        KeyError: if the path does not exist.
    """
    container, key = _locate(doc, path)
    old = container[key]
    np = sys.modules.get("numpy")  # a numpy number can only come from a program that imported numpy
    if np is not None and isinstance(value, (np.integer, np.floating)):
        value = value.item()
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


def apply_values(doc: Mapping[str, Any], values: Mapping[str, float], *, source: str | None = None,
                 status: str | None = None, skip_missing: bool = False) -> dict[str, Any]:
    """A copy of ``doc`` with every ``path: value`` of ``values`` set (see :func:`set_value`)."""
    out = copy.deepcopy(dict(doc))
    for path, value in values.items():
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


def path_exists(doc: Mapping[str, Any], path: str) -> bool:
    try:
        _locate(doc, path)
    except KeyError:
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
