"""Parameter spaces: which scenario values a calibration (or a sensitivity analysis) varies.

A space file (``calibration/spaces/*.yaml``) lists the calibrated parameters -- each a dotted
path into the scenario, or several paths scaled together by one factor -- with a uniform or
log-uniform prior, and, for the record, the parameters held fixed and why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.scenario.errors import ScenarioError
from sim.scenario.paths import get_value

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
        """Dotted path -> value for named parameter values (scales resolved against ``docs``)."""
        out: dict[str, float] = {}
        for p in self.parameters:
            v = p.natural(values[p.name])
            for path in p.paths:
                if p.transform == "scale":
                    base = _first_value(docs, path)
                    out[path] = base * v
                else:
                    out[path] = int(v) if p.integer else v
        return out


def _first_value(docs: Sequence[Mapping[str, Any]], path: str) -> float:
    for d in docs:
        try:
            return get_value(d, path)
        except (KeyError, TypeError):
            continue
    raise KeyError(path)


def _space_error(file: str, key: str, msg: str) -> ScenarioError:
    return ScenarioError(msg, file=file, key=key)


def load_space(path: str | Path) -> Space:
    """Read and check a parameter space file.

    Raises:
        ScenarioError: naming the file and parameter at fault.
    """
    file = str(path)
    raw = read_yaml(path)
    params = []
    for i, p in enumerate(raw.get("parameters") or []):
        where = f"parameters.{p.get('name', i) if isinstance(p, dict) else i}"
        if not isinstance(p, dict):
            raise _space_error(file, where, "a parameter is a mapping")
        unknown = set(p) - {"name", "path", "paths", "prior", "transform", "integer", "why"}
        if unknown:
            raise _space_error(file, where, f"unknown key {sorted(unknown)[0]!r}")
        name = p.get("name")
        if not isinstance(name, str) or not name.isidentifier():
            raise _space_error(file, where, "needs a 'name' that is an identifier (letters, digits, _)")
        paths = p.get("paths") or ([p["path"]] if "path" in p else [])
        if not paths or not all(isinstance(x, str) and x for x in paths):
            raise _space_error(file, where, "needs a 'path' (or a list 'paths')")
        prior = p.get("prior") or {}
        dist, low, high = prior.get("distribution"), prior.get("low"), prior.get("high")
        if dist not in ("uniform", "loguniform"):
            raise _space_error(file, f"{where}.prior", "distribution must be uniform or loguniform")
        if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in (low, high)) or not low < high:
            raise _space_error(file, f"{where}.prior", "needs numbers low < high")
        if dist == "loguniform" and low <= 0:
            raise _space_error(file, f"{where}.prior", "a log-uniform prior needs low > 0")
        transform = p.get("transform", "value")
        if transform not in ("value", "scale"):
            raise _space_error(file, f"{where}.transform", "must be value or scale")
        params.append(Parameter(name, tuple(paths), Prior(dist, float(low), float(high)), transform,
                                bool(p.get("integer", False)), str(p.get("why", "")).strip()))
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise ScenarioError("a parameter name is used twice", file=file)
    fixed = tuple(dict(f) for f in raw.get("fixed") or [] if isinstance(f, dict))
    return Space(str(raw.get("name", Path(path).stem)), tuple(params), fixed, file)


def read_yaml(path: str | Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"cannot read: {exc}".splitlines()[0], file=str(path)) from None
    if not isinstance(raw, dict):
        raise ScenarioError("expected a mapping", file=str(path))
    return raw
