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

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.runs.run_statistics import REST, STATISTICS, month_arg, simulate_target, statistic
from sim.scenario.checks import Checker
from sim.scenario.errors import describe_value, did_you_mean
from sim.scenario.fields import MAX_PEOPLE
from sim.scenario.load import read_document
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


_TARGET_KEYS = ("name", "kind", "statistic", "args", "likelihood", "value", "n", "sd", "time", "definition",
                "source", "scenario", "weight", "notes", "unit")
_FILE_KEYS = ("name", "title", "source", "targets")
#: Caps on a target's numbers: counts are people (at most MAX_PEOPLE); a normal target's value
#: and sd are at most 1e12 in size (money in SEK); a weight at most 1e6.
_MAX_VALUE = 1e12
_MAX_WEIGHT = 1e6
_MAX_TARGETS = 1000


def _check_target(raw: Any, c: Checker, i: int, default_source: str) -> Target:
    path: tuple[Any, ...] = ("targets", i)
    raw = c.mapping(raw, path, f"targets[{i}]", "a target: a mapping")
    name = raw.get("name")
    where = f"targets.{name}" if isinstance(name, str) else f"targets[{i}]"
    c.keys(raw, path, _TARGET_KEYS, where, required=("name", "kind", "statistic", "likelihood", "value"))
    name = c.text(name, (*path, "name"), f"{where}.name", max_length=100)
    kind = c.text(raw["kind"], (*path, "kind"), f"{where}.kind")
    if kind not in KINDS:
        raise c.fail((*path, "kind"), f"must be one of {', '.join(KINDS)}, got {kind!r}{did_you_mean(kind, KINDS)}",
                     f"{where}.kind")
    lik = c.text(raw["likelihood"], (*path, "likelihood"), f"{where}.likelihood")
    if lik not in LIKELIHOODS:
        raise c.fail((*path, "likelihood"), f"must be one of {', '.join(LIKELIHOODS)}, got {lik!r}"
                     f"{did_you_mean(lik, LIKELIHOODS)}", f"{where}.likelihood")
    stat = c.text(raw["statistic"], (*path, "statistic"), f"{where}.statistic")
    if stat not in STATISTICS:
        raise c.fail((*path, "statistic"), f"unknown statistic {stat!r}; known: {', '.join(sorted(STATISTICS))}",
                     f"{where}.statistic")
    args = c.mapping(raw.get("args", {}) if raw.get("args") is not None else {}, (*path, "args"), f"{where}.args")
    value, n, sd = raw["value"], raw.get("n"), raw.get("sd")
    vkey, vpath = f"{where}.value", (*path, "value")
    if n is not None:
        n = c.number(n, (*path, "n"), f"{where}.n", gt=0, le=MAX_PEOPLE, whole=True)
    if sd is not None:
        sd = c.number(sd, (*path, "sd"), f"{where}.sd", gt=0, le=_MAX_VALUE)
    if lik == "multinomial":
        c.mapping(value, vpath, vkey, "{category: count >= 0}")
        if not value:
            raise c.fail(vpath, "a multinomial target's value is {category: count >= 0}", vkey)
        for cat, v in value.items():
            c.number(v, (*vpath, cat), f"{vkey}.{cat}", ge=0, le=MAX_PEOPLE)
        cats = args.get("categories", {})
        if not isinstance(cats, dict) or list(cats) != list(value):
            shown = list(cats) if isinstance(cats, dict) else cats
            raise c.fail(vpath, f"categories {list(value)} must match args.categories {shown}", vkey)
        if n is not None and abs(sum(value.values()) - n) > 1e-9:
            raise c.fail((*path, "n"), f"counts add up to {sum(value.values()):g}, not n = {n}", f"{where}.n")
        n = int(sum(value.values()))
    elif lik == "binomial":
        if kind == "goal":
            c.number(value, vpath, vkey, ge=0, le=1)
        else:
            if n is None:
                raise c.fail(path, "a binomial target needs a count 'value' and a whole 'n' >= value", where)
            c.number(value, vpath, vkey, ge=0, le=n)
    else:
        c.number(value, vpath, vkey, ge=-_MAX_VALUE, le=_MAX_VALUE)
        if sd is None:
            raise c.fail(path, "a normal target needs a number 'value' and 'sd' > 0", where)
    weight = c.number(raw.get("weight", 1.0), (*path, "weight"), f"{where}.weight", ge=0, le=_MAX_WEIGHT)
    time = raw.get("time")
    if time is not None and (isinstance(time, bool) or not isinstance(time, (str, int))):
        raise c.fail((*path, "time"), f"expected text (a month or a year), got {describe_value(time)}",
                     f"{where}.time")
    scenario = raw.get("scenario")
    if scenario is not None:
        scenario = c.text(scenario, (*path, "scenario"), f"{where}.scenario", max_length=100)
    texts = {k: c.text(raw[k], (*path, k), f"{where}.{k}", empty=True) if raw.get(k) is not None else ""
             for k in ("definition", "source", "notes", "unit")}
    return Target(name=name, kind=kind, statistic=stat, args=dict(args),
                  likelihood=lik, value=value, n=n, sd=sd, time=None if time is None else str(time),
                  definition=texts["definition"].strip(), source=texts["source"] or default_source,
                  scenario=scenario, weight=float(weight), notes=texts["notes"].strip(), unit=texts["unit"])


def load_targets(path: str | Path) -> TargetSet:
    """Read and check a target file (with the scenario reader's rules: see
    :func:`sim.scenario.load.read_document`).

    Raises:
        ScenarioError: naming the file, the line and the target at fault.
    """
    file = str(path)
    raw, prov = read_document(path, "target file")
    c = Checker(raw, prov)
    c.keys(raw, (), _FILE_KEYS, required=("targets",))
    items = raw["targets"]
    if not isinstance(items, list):
        raise c.fail(("targets",), f"expected a list of targets, got {describe_value(items)}", "targets")
    if len(items) > _MAX_TARGETS:
        raise c.fail(("targets",), f"expected at most {_MAX_TARGETS} targets, got {len(items)}", "targets")
    source = c.text(raw["source"], ("source",), "source", empty=True) if raw.get("source") is not None else ""
    for key in ("name", "title"):
        if raw.get(key) is not None:
            c.text(raw[key], (key,), key, max_length=100 if key == "name" else 10_000)
    targets = tuple(_check_target(t, c, i, source) for i, t in enumerate(items))
    seen: dict[str, int] = {}
    for i, t in enumerate(targets):
        if t.name in seen:
            first = prov.locate(("targets", seen[t.name], "name")).line
            raise c.fail(("targets", i, "name"), f"target {t.name!r} is listed twice (first on line {first})",
                         f"targets.{t.name}.name")
        seen[t.name] = i
    for i, t in enumerate(targets):
        args_path = ("targets", i, "args")
        if "categories" in t.args:
            cats = c.mapping(t.args["categories"], (*args_path, "categories"), f"targets.{t.name}.args.categories")
            for cat, stages in cats.items():
                if stages == REST:
                    continue
                here, shown = (*args_path, "categories", cat), f"targets.{t.name}.args.categories.{cat}"
                for s in c.text_list(stages, here, shown):
                    try:
                        stage_from_name(s)
                    except ValueError as exc:
                        raise c.fail(here, str(exc), shown) from None
        for key in ("by", "before", "month", "start", "end"):
            if key in t.args:
                if not isinstance(t.args[key], str) and not hasattr(t.args[key], "isoformat"):
                    raise c.fail((*args_path, key), f"expected a month written YYYY-MM (e.g. 2012-01), got "
                                 f"{describe_value(t.args[key])}", f"targets.{t.name}.args.{key}")
                try:
                    month_arg(t.args[key])
                except (ValueError, TypeError) as exc:
                    raise c.fail((*args_path, key), str(exc), f"targets.{t.name}.args.{key}") from None
    name = raw["name"] if isinstance(raw.get("name"), str) else Path(path).stem
    return TargetSet(name=name, title=str(raw.get("title") or ""), source=source, targets=targets, file=file)
