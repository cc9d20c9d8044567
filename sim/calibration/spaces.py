"""Parameter spaces: which scenario values a calibration (or a sensitivity analysis) varies.

A space file (``calibration/spaces/*.yaml``) lists the calibrated parameters -- each a dotted
path into the scenario, or several paths scaled together by one factor -- with a uniform or
log-uniform prior, and, for the record, the parameters held fixed and why.

A path may name one dated step, ``path@YYYY-MM`` (see :mod:`sim.scenario.paths`): the value
from that month on. Scaled, a step's base is the value an earlier parameter of the space gives
the whole path, else the scenario's value in force in that month; so a factor on
``x@2009-01`` moves the fitted ``x`` from 2009-01 on (a change over time, fitted as one ratio).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.scenario.checks import Checker
from sim.scenario.errors import describe_value
from sim.scenario.load import read_document
from sim.scenario.paths import get_value, ordered, split_step

__all__ = ["Prior", "Parameter", "Space", "load_space", "read_yaml"]


@dataclass(frozen=True)
class Prior:
    """A uniform or log-uniform prior on ``[low, high]``."""

    distribution: str
    low: float
    high: float

    def to_unit(self, x: np.ndarray | float) -> np.ndarray | float:
        """The sampler's coordinate (log for log-uniform) of a natural value."""
        return np.log(x) if self.distribution == "loguniform" else x

    def from_unit(self, u: np.ndarray | float) -> np.ndarray | float:
        """The natural value of a sampler coordinate."""
        return np.exp(u) if self.distribution == "loguniform" else u

    @property
    def unit_bounds(self) -> tuple[float, float]:
        """Bounds in the sampler's coordinate."""
        return float(self.to_unit(self.low)), float(self.to_unit(self.high))


@dataclass(frozen=True)
class Parameter:
    """One calibrated quantity.

    ``transform: value`` sets each path to the value; ``transform: scale`` multiplies each
    path's value in the scenario by it (several rates moved together, their ratio kept).
    """

    name: str
    paths: tuple[str, ...]
    prior: Prior
    transform: str = "value"
    integer: bool = False
    why: str = ""

    def natural(self, x: float) -> float:
        """The value applied (rounded for whole-number parameters)."""
        return float(round(x)) if self.integer else float(x)


@dataclass(frozen=True)
class Space:
    """The calibrated parameters of a job, and the ones held fixed (with reasons)."""

    name: str
    parameters: tuple[Parameter, ...]
    fixed: tuple[Mapping[str, str], ...] = ()
    file: str = ""

    @property
    def names(self) -> list[str]:
        """Parameter names in order."""
        return [p.name for p in self.parameters]

    def path_values(self, values: Mapping[str, float], docs: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """Dotted path -> value for named parameter values (scales resolved against ``docs``; a
        dated step's base against the parameters before it), whole paths before dated steps."""
        out: dict[str, float] = {}
        for p in self.parameters:
            v = p.natural(values[p.name])
            for path in p.paths:
                if p.transform == "scale":
                    whole, month = split_step(path)
                    base = out[whole] if month is not None and whole in out else _first_value(docs, path)
                    out[path] = base * v
                else:
                    out[path] = int(v) if p.integer else v
        return ordered(out)


def _first_value(docs: Sequence[Mapping[str, Any]], path: str) -> float:
    for d in docs:
        try:
            return get_value(d, path)
        except (KeyError, TypeError):
            continue
    raise KeyError(path)


_PARAMETER_KEYS = ("name", "path", "paths", "prior", "transform", "integer", "why")
_FILE_KEYS = ("name", "title", "parameters", "fixed", "notes")
#: Caps: at most 100 parameters; prior bounds at most 1e12 in size.
_MAX_PARAMETERS = 100
_MAX_BOUND = 1e12


def load_space(path: str | Path) -> Space:
    """Read and check a parameter space file (with the scenario reader's rules: see
    :func:`sim.scenario.load.read_document`).

    Raises:
        ScenarioError: naming the file, the line and the parameter at fault.
    """
    file = str(path)
    raw, prov = read_document(path, "space file")
    c = Checker(raw, prov)
    c.keys(raw, (), _FILE_KEYS)
    items = raw.get("parameters") or []
    if not isinstance(items, list):
        raise c.fail(("parameters",), f"expected a list of parameters, got {describe_value(items)}", "parameters")
    if len(items) > _MAX_PARAMETERS:
        raise c.fail(("parameters",), f"expected at most {_MAX_PARAMETERS} parameters, got {len(items)}",
                     "parameters")
    params = []
    seen: dict[str, int] = {}
    for i, p in enumerate(items):
        here: tuple[Any, ...] = ("parameters", i)
        p = c.mapping(p, here, f"parameters[{i}]", "a parameter: a mapping")
        name = p.get("name")
        where = f"parameters.{name}" if isinstance(name, str) else f"parameters[{i}]"
        c.keys(p, here, _PARAMETER_KEYS, where, required=("name", "prior"))
        name = c.text(name, (*here, "name"), f"{where}.name", max_length=100)
        if not name.isidentifier() or not name.isascii():
            raise c.fail((*here, "name"), "must be an identifier (ASCII letters, digits, _)", f"{where}.name")
        if name in seen:
            raise c.fail((*here, "name"), f"parameter name {name!r} is used twice (first on line "
                         f"{prov.locate(('parameters', seen[name], 'name')).line})", f"{where}.name")
        seen[name] = i
        if ("path" in p) == ("paths" in p):
            raise c.fail(here, "needs a 'path' (or a list 'paths'), not both", where)
        if "path" in p:
            paths = [c.text(p["path"], (*here, "path"), f"{where}.path", max_length=1000)]
        else:
            paths = c.text_list(p["paths"], (*here, "paths"), f"{where}.paths", max_items=100)
            if not paths:
                raise c.fail((*here, "paths"), "list at least one path", f"{where}.paths")
        for j, x in enumerate(paths):
            key = f"{where}.path" if "path" in p else f"{where}.paths[{j}]"
            loc = (*here, "path") if "path" in p else (*here, "paths", j)
            if any(not part.strip() for part in x.split(".")):
                raise c.fail(loc, f"not a dotted path: {x!r}", key)
            try:
                split_step(x)
            except ValueError as e:
                raise c.fail(loc, str(e), key) from None
        ppath, pkey = (*here, "prior"), f"{where}.prior"
        prior = c.mapping(p["prior"], ppath, pkey)
        c.keys(prior, ppath, ("distribution", "low", "high"), pkey, required=("distribution", "low", "high"))
        dist = prior["distribution"]
        if dist not in ("uniform", "loguniform"):
            raise c.fail((*ppath, "distribution"), f"must be uniform or loguniform, got {describe_value(dist)}",
                         f"{pkey}.distribution")
        low = c.number(prior["low"], (*ppath, "low"), f"{pkey}.low", ge=-_MAX_BOUND, le=_MAX_BOUND)
        high = c.number(prior["high"], (*ppath, "high"), f"{pkey}.high", ge=-_MAX_BOUND, le=_MAX_BOUND)
        if not low < high:
            raise c.fail((*ppath, "high"), f"must be above low ({low:g}), got {high:g}", f"{pkey}.high")
        if dist == "loguniform" and low <= 0:
            raise c.fail((*ppath, "low"), f"a log-uniform prior needs low > 0, got {low:g}", f"{pkey}.low")
        transform = p.get("transform", "value")
        if transform not in ("value", "scale"):
            raise c.fail((*here, "transform"), f"must be value or scale, got {describe_value(transform)}",
                         f"{where}.transform")
        integer = c.flag(p.get("integer", False), (*here, "integer"), f"{where}.integer")
        why = c.text(p["why"], (*here, "why"), f"{where}.why", empty=True) if p.get("why") is not None else ""
        params.append(Parameter(name, tuple(paths), Prior(dist, float(low), float(high)), transform,
                                integer, why.strip()))
    fixed_raw = raw.get("fixed") or []
    if not isinstance(fixed_raw, list):
        raise c.fail(("fixed",), f"expected a list, got {describe_value(fixed_raw)}", "fixed")
    for i, f in enumerate(fixed_raw):
        here = ("fixed", i)
        f = c.mapping(f, here, f"fixed[{i}]", "a fixed parameter: {path: ..., why: ...}")
        c.keys(f, here, ("path", "paths", "why"), f"fixed[{i}]")
        for k in ("path", "why"):
            if f.get(k) is not None:
                c.text(f[k], (*here, k), f"fixed[{i}].{k}")
        if f.get("paths") is not None:
            c.text_list(f["paths"], (*here, "paths"), f"fixed[{i}].paths")
    fixed = tuple(dict(f) for f in fixed_raw)
    name = c.text(raw["name"], ("name",), "name", max_length=100) if raw.get("name") is not None else Path(path).stem
    return Space(name, tuple(params), fixed, file)


def read_yaml(path: str | Path, what: str = "file") -> dict[str, Any]:
    """A YAML mapping read with the scenario reader's rules (see
    :func:`sim.scenario.load.read_document`).

    Raises:
        ScenarioError: naming the file and the line.
    """
    return read_document(path, what)[0]
