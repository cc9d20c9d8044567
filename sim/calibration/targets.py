"""Calibration targets: reported numbers, and the statistics that put the model beside them.

A target file (``calibration/targets/*.yaml``) lists what a cohort or a statistic reported:
its value, how many people it counts (N), when, where it comes from, and -- in model
terms -- which **statistic** of a run (:class:`~sim.runs.results.RunResult`) measures the same
thing. Statistics are plain functions registered by name in :mod:`sim.runs.run_statistics`, so a
target file says ``statistic: exit_destinations`` with ``args: {programme: c2, by: 2009-06}``.

Each target has a **kind**:

* ``outcome``: an observed result; fitted when its job has parameters to calibrate;
* ``check``: reported, but never fitted (initial conditions, forecasts, surveys whose
  definition the model cannot match); reported beside the simulation;
* ``goal``: a programme's stated aim; never fitted, reported as the probability of reaching it.

and a **likelihood** saying how simulated and reported numbers are compared:

* ``binomial``: ``value`` of ``n`` (e.g. 153 of 174 enrolled); the statistic returns
  ``(successes, trials)`` and the simulated share is compared with ``value / n``;
* ``multinomial``: counts per category (e.g. exits by destination, ``n`` = 97); the statistic
  returns counts in the same categories;
* ``normal``: a number with a standard deviation ``sd`` (money, stocks, national shares given
  as a range).

:func:`deviance` is twice the log-likelihood ratio of the reported counts under the
simulated shares against their own shares (the G statistic; for ``normal``, the squared
z-score), so targets are weighted by the people they count, not by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.runs.run_statistics import REST, STATISTICS, month_arg, simulate_target, statistic
from sim.scenario.errors import ScenarioError
from sim.scenario.stages import stage_from_name

__all__ = ["Target", "TargetSet", "load_targets", "STATISTICS", "statistic", "simulate_target",
           "deviance", "shares", "KINDS", "LIKELIHOODS"]

KINDS = ("outcome", "check", "goal")
LIKELIHOODS = ("binomial", "multinomial", "normal")
_SMOOTH = 0.5  # pseudo-count on simulated counts, so a share of 0 is not infinitely unlikely


# ------------------------------------------------------------------------------ targets
@dataclass(frozen=True)
class Target:
    """One reported number and how to simulate it (see the module docstring).

    Attributes:
        value: a count (binomial), counts by category (multinomial) or a number (normal);
            for a goal, the share to reach.
        n: the people the reported count is out of (binomial, multinomial).
        sd: standard deviation of a ``normal`` target, in its own units.
        scenario: which scenario of the calibration job the statistic is computed on.
        weight: multiplies the target's deviance (1 = as many people as it counts).
    """

    name: str
    kind: str
    statistic: str
    args: Mapping[str, Any]
    likelihood: str
    value: float | Mapping[str, float]
    n: int | None = None
    sd: float | None = None
    time: str | None = None
    definition: str = ""
    source: str = ""
    scenario: str | None = None
    weight: float = 1.0
    notes: str = ""
    unit: str = ""

    @property
    def categories(self) -> list[str]:
        """Category names (``["share"]`` for binomial targets and goals, ``["value"]`` for normal)."""
        if self.likelihood == "multinomial":
            return list(self.value)  # type: ignore[arg-type]
        return ["share"] if self.likelihood == "binomial" else ["value"]

    @property
    def needs_events(self) -> bool:
        """Whether the statistic reads the person-level event log."""
        return STATISTICS[self.statistic].needs_events

    def observed(self) -> np.ndarray:
        """The reported value(s) in the units of :func:`shares` (shares for counts)."""
        if self.likelihood == "multinomial":
            y = np.array([float(v) for v in self.value.values()])  # type: ignore[union-attr]
            return y / y.sum()
        if self.likelihood == "binomial":
            return np.array([float(self.value) / float(self.n)])  # type: ignore[arg-type]
        return np.array([float(self.value)])  # type: ignore[arg-type]


def shares(target: Target, sim: np.ndarray) -> np.ndarray:
    """Simulated statistic in the units of :meth:`Target.observed` (NaN when nothing to divide)."""
    sim = np.asarray(sim, dtype=float)
    if target.likelihood == "multinomial":
        total = sim.sum()
        return sim / total if total > 0 else np.full(sim.shape, np.nan)
    if target.likelihood == "binomial":
        return np.array([sim[0] / sim[1] if sim[1] > 0 else np.nan])
    return sim


def _xlogy_ratio(y: np.ndarray, expected: np.ndarray) -> float:
    pos = y > 0
    return float(np.sum(y[pos] * np.log(y[pos] / expected[pos])))


def deviance(target: Target, sim: np.ndarray) -> float:
    """Twice the log-likelihood ratio of the reported value under the simulated one (weighted).

    Counts use the simulated shares with a pseudo-count of 0.5 per category; ``normal``
    targets use the squared z-score. 0 means a perfect match.
    """
    sim = np.asarray(sim, dtype=float)
    if target.likelihood == "normal":
        z = (sim[0] - float(target.value)) / float(target.sd)  # type: ignore[arg-type]
        return target.weight * z * z
    if target.likelihood == "binomial":
        n, y = float(target.n), float(target.value)  # type: ignore[arg-type]
        p = (sim[0] + _SMOOTH) / (sim[1] + 2 * _SMOOTH)
        obs = np.array([y, n - y])
        return target.weight * 2.0 * _xlogy_ratio(obs, n * np.array([p, 1.0 - p]))
    y = np.array([float(v) for v in target.value.values()])  # type: ignore[union-attr]
    p = (sim + _SMOOTH) / (sim.sum() + _SMOOTH * sim.size)
    return target.weight * 2.0 * _xlogy_ratio(y, y.sum() * p)


@dataclass(frozen=True)
class TargetSet:
    """The targets of one cohort or statistic file."""

    name: str
    title: str
    source: str
    targets: tuple[Target, ...] = field(default_factory=tuple)
    file: str = ""

    def get(self, name: str) -> Target:
        """The target called ``name``."""
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)


_TARGET_KEYS = {"name", "kind", "statistic", "args", "likelihood", "value", "n", "sd", "time", "definition",
                "source", "scenario", "weight", "notes", "unit"}


def _fail(file: str, key: str, message: str) -> ScenarioError:
    return ScenarioError(message, file=file, key=key)


def _check_target(raw: Any, file: str, i: int, default_source: str) -> Target:
    where = f"targets[{i}]"
    if not isinstance(raw, dict):
        raise _fail(file, where, "a target must be a mapping")
    where = f"targets.{raw.get('name', i)}"
    unknown = set(raw) - _TARGET_KEYS
    if unknown:
        raise _fail(file, where, f"unknown key {sorted(unknown)[0]!r}; allowed: {', '.join(sorted(_TARGET_KEYS))}")
    for key in ("name", "kind", "statistic", "likelihood", "value"):
        if key not in raw:
            raise _fail(file, where, f"missing key {key!r}")
    kind, lik, stat = raw["kind"], raw["likelihood"], raw["statistic"]
    if kind not in KINDS:
        raise _fail(file, f"{where}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    if lik not in LIKELIHOODS:
        raise _fail(file, f"{where}.likelihood", f"must be one of {', '.join(LIKELIHOODS)}, got {lik!r}")
    if stat not in STATISTICS:
        raise _fail(file, f"{where}.statistic", f"unknown statistic {stat!r}; known: {', '.join(sorted(STATISTICS))}")
    value, n, sd = raw["value"], raw.get("n"), raw.get("sd")
    if lik == "multinomial":
        if not isinstance(value, dict) or not value or not all(isinstance(v, (int, float)) and v >= 0
                                                               for v in value.values()):
            raise _fail(file, f"{where}.value", "a multinomial target's value is {category: count >= 0}")
        cats = (raw.get("args") or {}).get("categories", {})
        if list(cats) != list(value):
            raise _fail(file, f"{where}.value", f"categories {list(value)} must match args.categories {list(cats)}")
        if n is not None and abs(sum(value.values()) - n) > 1e-9:
            raise _fail(file, f"{where}.n", f"counts add up to {sum(value.values())}, not n = {n}")
        n = int(sum(value.values()))
    elif lik == "binomial":
        if kind == "goal":
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise _fail(file, f"{where}.value", "a goal's value is the share to reach (0..1)")
        elif not isinstance(n, int) or n <= 0 or not isinstance(value, (int, float)) or not 0 <= value <= n:
            raise _fail(file, where, "a binomial target needs a count 'value' and a whole 'n' >= value")
    else:
        if not isinstance(value, (int, float)) or not isinstance(sd, (int, float)) or not sd > 0:
            raise _fail(file, where, "a normal target needs a number 'value' and 'sd' > 0")
    weight = raw.get("weight", 1.0)
    if not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise _fail(file, f"{where}.weight", "must be a number >= 0")
    time = raw.get("time")
    return Target(name=str(raw["name"]), kind=kind, statistic=stat, args=dict(raw.get("args") or {}),
                  likelihood=lik, value=value, n=n, sd=sd, time=None if time is None else str(time),
                  definition=str(raw.get("definition", "")).strip(),
                  source=str(raw.get("source", default_source)), scenario=raw.get("scenario"),
                  weight=float(weight), notes=str(raw.get("notes", "")).strip(), unit=str(raw.get("unit", "")))


def load_targets(path: str | Path) -> TargetSet:
    """Read and check a target file.

    Raises:
        ScenarioError: naming the file and the target at fault.
    """
    file = str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"cannot read target file: {exc}".splitlines()[0], file=file) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("targets"), list):
        raise ScenarioError("a target file is a mapping with a 'targets' list", file=file)
    source = str(raw.get("source", ""))
    targets = tuple(_check_target(t, file, i, source) for i, t in enumerate(raw["targets"]))
    names = [t.name for t in targets]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ScenarioError(f"target {sorted(dup)[0]!r} is listed twice", file=file)
    for t in targets:
        for cats in ([t.args.get("categories")] if "categories" in t.args else []):
            for stages in cats.values():
                if stages != REST:
                    for s in stages:
                        try:
                            stage_from_name(s)
                        except ValueError as exc:
                            raise _fail(file, f"targets.{t.name}.args.categories", str(exc)) from None
        for key in ("by", "before", "month", "start", "end"):
            if key in t.args:
                try:
                    month_arg(t.args[key])
                except ValueError as exc:
                    raise _fail(file, f"targets.{t.name}.args.{key}", str(exc)) from None
    return TargetSet(name=str(raw.get("name", Path(path).stem)), title=str(raw.get("title", "")), source=source,
                     targets=targets, file=file)

