"""A scenario's parameters as dotted paths: what differs between scenarios, and where numbers come from.

A resolved :class:`~sim.scenario.schema.Scenario` is flattened to ``{dotted path: Leaf}``, walking the
pydantic objects and their ``model_dump(mode="json")`` side by side, so that

* every dated :class:`~sim.scenario.dated.Param` is one leaf (its whole schedule, e.g.
  ``"2012-01: 1, 2013-01: 0"``) carrying its ``source`` and ``status``;
* lists of named objects (programmes, goals) are keyed by name, not position
  (``programmes.resursjobb.capacity.slots``), so adding a programme does not shift another;
* plain values are shown as the scenario file would write them (months as ``YYYY-MM``).

Descriptive text (``name``, ``title``, ``description``) is not a parameter and is left out.
:func:`assumption_table` lists the paths whose value differs between a baseline and a
scenario; :func:`source_table` lists every sourced parameter the scenarios use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel

from sim.scenario.dated import Param, format_month
from sim.scenario.schema import Scenario

__all__ = ["Leaf", "flatten_parameters", "assumption_table", "source_table", "format_value",
           "ASSUMPTION_COLUMNS", "SOURCE_COLUMNS"]

ASSUMPTION_COLUMNS = ("scenario", "path", "value_baseline", "value_scenario", "source", "status")
SOURCE_COLUMNS = ("path", "value", "scenarios", "source", "status")
#: Shown when a path exists in one scenario only (e.g. a programme the baseline lacks).
ABSENT = "—"
_SKIP = frozenset({"name", "title", "description", "source"})
_NAMED_LISTS = frozenset({"programmes", "goals"})


@dataclass(frozen=True)
class Leaf:
    """One parameter: its value as text, its source and status, and whether it is a :class:`Param`."""

    value: str
    source: str | None = None
    status: str | None = None
    is_param: bool = False


def format_value(value: Any) -> str:
    """A number or plain value as short, exact text (``0.15``, ``722222.2``, ``['open', 'job']``)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else format(value, ".10g")
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _param_text(p: Param) -> str:
    if len(p.steps) == 1 and p.steps[0][0] is None:
        return format_value(p.steps[0][1])
    return ", ".join(f"{'always' if m is None else format_month(m)}: {format_value(v)}" for m, v in p.steps)


def _walk(obj: Any, dump: Any, path: str, out: dict[str, Leaf], source: str | None) -> None:
    if isinstance(obj, Param):
        out[path] = Leaf(_param_text(obj), obj.source or source, obj.status, is_param=True)
    elif isinstance(obj, BaseModel):
        own = getattr(obj, "source", None)
        inherited = own if isinstance(own, str) else source
        for name in type(obj).model_fields:
            if name in _SKIP:
                continue
            _walk(getattr(obj, name), dump[name], f"{path}.{name}" if path else name, out, inherited)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _walk(value, dump[key], f"{path}.{key}", out, source)
    elif isinstance(obj, (tuple, list)) and path.split(".")[-1] in _NAMED_LISTS:
        for item, item_dump in zip(obj, dump, strict=True):
            _walk(item, item_dump, f"{path}.{item.name}", out, source)
    else:
        out[path] = Leaf(format_value(dump), source)


def flatten_parameters(scenario: Scenario) -> dict[str, Leaf]:
    """Every parameter of ``scenario`` by dotted path (see the module docstring)."""
    out: dict[str, Leaf] = {}
    _walk(scenario, scenario.model_dump(mode="json"), "", out, None)
    return out


def assumption_table(baseline: Scenario, scenarios: Sequence[Scenario], labels: Sequence[str]) -> pd.DataFrame:
    """Parameters whose value differs between ``baseline`` and each scenario.

    Args:
        labels: the name shown for each scenario (same order as ``scenarios``).

    Returns:
        Columns :data:`ASSUMPTION_COLUMNS`; a path present on one side only shows
        ``"—"`` on the other. ``source``/``status`` are the scenario's if given, else the
        baseline's.
    """
    base = flatten_parameters(baseline)
    rows = []
    for label, scn in zip(labels, scenarios, strict=True):
        flat = flatten_parameters(scn)
        for path in sorted(set(base) | set(flat)):
            b, s = base.get(path), flat.get(path)
            if b is not None and s is not None and b.value == s.value:
                continue
            if (b is None or b.value == "null") and (s is None or s.value == "null"):
                continue  # an unset option of a programme only one side has
            src = (s.source if s is not None else None) or (b.source if b is not None else None)
            status = (s.status if s is not None else None) or (b.status if b is not None else None)
            rows.append((label, path, b.value if b else ABSENT, s.value if s else ABSENT, src or "", status or ""))
    return pd.DataFrame(rows, columns=list(ASSUMPTION_COLUMNS))


def source_table(scenarios: Sequence[Scenario], labels: Sequence[str]) -> pd.DataFrame:
    """Every sourced parameter used by any of ``scenarios``, plus each stated goal.

    One row per (path, value, source, status); ``scenarios`` lists (comma-separated) the
    labels using that value. Goals appear as ``goals.<name>`` with status ``goal``.
    """
    seen: dict[tuple[str, str, str, str], list[str]] = {}
    for label, scn in zip(labels, scenarios, strict=True):
        for path, leaf in flatten_parameters(scn).items():
            if leaf.is_param and leaf.source:
                seen.setdefault((path, leaf.value, leaf.source, leaf.status or ""), []).append(label)
        for g in scn.goals:
            value = f"{format_value(g.target_share)} of participants in {g.measure.replace('_', ' ')} " \
                    f"within {g.within_months_of_start} months of starting {g.programme}"
            seen.setdefault((f"goals.{g.name}", value, g.source or "", "goal"), []).append(label)
    rows = [(p, v, ", ".join(dict.fromkeys(labs)), s, st) for (p, v, s, st), labs in sorted(seen.items())]
    return pd.DataFrame(rows, columns=list(SOURCE_COLUMNS))
