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
scenario; :func:`source_table` lists every sourced parameter the scenarios use;
:func:`parameter_table` says which are calibrated (drawn per replication from which fit, or fixed)
and which are priors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel

from sim.scenario.dated import Param, format_month
from sim.scenario.schema import Scenario

__all__ = ["Leaf", "flatten_parameters", "assumption_table", "source_table", "parameter_table", "parameters_text",
           "format_value",
           "ASSUMPTION_COLUMNS", "SOURCE_COLUMNS", "PARAMETER_COLUMNS"]

ASSUMPTION_COLUMNS = ("scenario", "path", "value_baseline", "value_scenario", "source", "status")
SOURCE_COLUMNS = ("path", "value", "scenarios", "source", "status")
#: ``status`` is ``calibrated`` or ``uncalibrated`` (a prior); ``drawn``: drawn per replication from
#: the posterior of ``calibration`` (``posterior_draws`` draws, ``draws_used`` distinct ones used);
#: ``value``: the value as written (for a calibrated one, the posterior median).
PARAMETER_COLUMNS = ("path", "scenarios", "value", "status", "drawn", "calibration", "posterior_draws",
                     "draws_used", "source")
_FIT = re.compile(r"calibration/([a-z0-9][a-z0-9_\-]*)\.yaml")
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
            if name in _SKIP or name not in dump:  # (not dumped: a key the inflow inherits)
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


def parameter_table(scenarios: Sequence[Scenario], labels: Sequence[str],
                    draws: Sequence[Mapping[str, Any] | None]) -> pd.DataFrame:
    """Which of the scenarios' parameters are calibrated and which are priors.

    A row per parameter (and value) that is calibrated (drawn per replication, or fixed at its
    written value) or a prior (status ``uncalibrated``); ``scenarios`` lists the labels using it.

    Args:
        draws: each scenario's draws as :func:`sim.runs.posterior.replication_scenarios` describes
            them (``Ensemble.parameter_draws``; ``None``: nothing drawn).

    Returns:
        Columns :data:`PARAMETER_COLUMNS`, calibrated rows first (drawn before fixed), then priors,
        each by path.
    """
    from sim.runs.posterior import drawn_defaults

    seen: dict[tuple[Any, ...], list[str]] = {}
    for label, scn, info in zip(labels, scenarios, draws, strict=True):
        flat = flatten_parameters(scn)
        drawn: dict[str, tuple[str, int, int]] = {}
        if info:
            if info.get("from_calibration"):
                for p in info["paths"]:
                    drawn[p] = (info["from_calibration"], int(info.get("posterior_draws", 0)),
                                len(set(info["draws"])))
            for d in info.get("calibrated_defaults", ()):
                for p in d["paths"]:
                    drawn.setdefault(p, (d["calibration"], int(d["posterior_draws"]), len(set(d["draws"]))))
        explicit = scn.parameters.from_calibration if scn.parameters is not None else None
        defaults = {p: t.calibration for t, paths in drawn_defaults(scn.model_dump(mode="json"), (explicit,))
                    for p in paths}
        for path in sorted(set(flat) | set(drawn) | set(defaults)):
            leaf = flat.get(path, Leaf(""))
            if path in drawn:
                fit, n, used = drawn[path]
                key = (path, leaf.value, "calibrated", True, fit, n, used, leaf.source or "")
            elif leaf.status == "calibrated" or path in defaults:
                match = _FIT.search(leaf.source or "")
                fit = defaults.get(path) or (match.group(1) if match else "")
                key = (path, leaf.value, "calibrated", False, fit, 0, 0, leaf.source or "")
            elif leaf.status == "uncalibrated":
                key = (path, leaf.value, "uncalibrated", False, "", 0, 0, leaf.source or "")
            else:
                continue
            seen.setdefault(key, []).append(label)
    rows = [(k[0], ", ".join(dict.fromkeys(labs)), *k[1:]) for k, labs in seen.items()]
    rows.sort(key=lambda r: (r[3] != "calibrated", not r[4], r[0], r[1]))
    return pd.DataFrame(rows, columns=list(PARAMETER_COLUMNS))


def parameters_text(table: pd.DataFrame, examples: int = 4) -> list[str]:
    """The terminal's lines on a :func:`parameter_table`: the calibrated parameters drawn per
    replication (by fit, with how many draws), those fixed, and how many values are priors."""
    if table.empty:
        return []
    out = []
    cal = table[table["status"] == "calibrated"]
    drawn = cal[cal["drawn"].astype(bool)]
    for fit, rows in drawn.groupby("calibration", sort=True):
        paths = ", ".join(dict.fromkeys(rows["path"]))
        out.append(f"calibrated, drawn per replication from fit {fit} ({int(rows['posterior_draws'].max())} "
                   f"posterior draws, {int(rows['draws_used'].max())} used): {paths}")
    fixed = cal[~cal["drawn"].astype(bool) & ~cal["path"].isin(drawn["path"])]
    if len(fixed):
        fits = ", ".join(f for f in dict.fromkeys(fixed["calibration"]) if f) or "fit not named"
        out.append(f"calibrated, fixed at the written posterior median ({fits}): "
                   f"{', '.join(dict.fromkeys(fixed['path']))}")
    priors = list(dict.fromkeys(table.loc[table["status"] == "uncalibrated", "path"]))
    if priors:
        more = f" and {len(priors) - examples} more" if len(priors) > examples else ""
        out.append(f"priors (uncalibrated, fixed): {len(priors)} values, e.g. {', '.join(priors[:examples])}{more}")
    return ["Parameters:", *(f"  {line}" for line in out)]
