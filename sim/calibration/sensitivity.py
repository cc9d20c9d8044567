"""Sensitivity analysis: which parameters move an output most (Morris or Sobol, with SALib).

The parameters come from a space file (:func:`sim.calibration.fit.load_space`: the calibrated ones,
with their priors as ranges) or, without one, from the scenario itself: every single-valued
parameter marked ``status: uncalibrated``, varied log-uniformly from half to twice its value
(capped where the schema caps it, e.g. a monthly rate at 1). SALib draws the design; each
point is run ``replications`` times through :class:`sim.runs.sweep.Sweep` (so it is resumable and
runs on a process pool or Dask), with the same seeds at every point (common random numbers:
differences between points are the parameters', not chance's); the output is averaged over
replications before SALib analyses it.

* **Morris** (elementary effects): ``samples`` trajectories of D + 1 points; ranks by mu*
  (mean absolute effect of moving a parameter across its range), sigma shows interactions
  or non-linearity. Cheap: a screening method.
* **Sobol** (Saltelli design): ``samples`` x (D + 2) points; first-order S1 and total-order
  ST shares of the output's variance. Needs many more runs for stable estimates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.spaces import Parameter, Prior, Space
from sim.runs.sweep import Sweep
from sim.scenario.errors import ScenarioError

__all__ = ["uncalibrated_space", "SensitivityResult", "run_sensitivity", "METHODS"]

METHODS = ("morris", "sobol")


def _walk(node: Any, path: tuple[str, ...], out: list[tuple[str, Any]]) -> None:
    if isinstance(node, dict):
        if "value" in node and node.get("status") == "uncalibrated":
            out.append((".".join(path), node["value"]))
            return
        for k, v in node.items():
            _walk(v, path + (str(k),), out)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            name = item.get("name") if isinstance(item, dict) else None
            _walk(item, path + (str(name if name is not None else i),), out)


def uncalibrated_space(doc: Mapping[str, Any]) -> Space:
    """Every single-valued ``status: uncalibrated`` parameter of a scenario, from half to twice its value.

    Dated values and zeros are left out (a range around them has no natural scale).
    """
    from sim.scenario.load import build
    from sim.scenario.paths import apply_values

    found: list[tuple[str, Any]] = []
    _walk(dict(doc), (), found)
    params = []
    for path, value in found:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            continue
        low, high = value / 2.0, value * 2.0
        integer = isinstance(value, int) and not isinstance(value, bool)
        try:
            build(apply_values(doc, {path: high if not integer else int(round(high))}))
        except ScenarioError:
            high = 1.0  # rates and shares stop at 1
            if high <= value:
                continue
        if integer:
            low = max(1.0, np.floor(low))
        params.append(Parameter(path, (path,), Prior("loguniform", float(low), float(high)), "value", integer))
    return Space("uncalibrated", tuple(params))


@dataclass
class SensitivityResult:
    """A ranked table (``parameter, effect, spread, ...``), the design and the outputs."""

    output: str
    method: str
    table: pd.DataFrame
    design: pd.DataFrame
    runs: pd.DataFrame
    store: Path


def _problem(space: Space) -> dict[str, Any]:
    return {"num_vars": len(space.parameters), "names": space.names,
            "bounds": [list(p.prior.unit_bounds) for p in space.parameters]}


def run_sensitivity(doc: Mapping[str, Any], space: Space, output: str, *, method: str = "morris",
                    samples: int = 10, replications: int = 2, seed: int = 0, store: str | Path | None = None,
                    workers: int = 1, scheduler: Any = None, progress: bool = True,
                    name: str = "sensitivity") -> SensitivityResult:
    """Rank the space's parameters by their effect on ``output`` (a key of the run summary).

    Raises:
        ValueError: for an unknown method or output, or an empty space.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    if not space.parameters:
        raise ValueError("no parameters to vary (the space is empty)")
    problem = _problem(space)
    if method == "morris":
        from SALib.sample import morris as sampler

        unit = sampler.sample(problem, N=samples, num_levels=4, seed=seed)
    else:
        from SALib.sample import sobol as sampler

        unit = sampler.sample(problem, samples, calc_second_order=False, seed=seed)
    natural = np.column_stack([[p.natural(float(p.prior.from_unit(u))) for u in unit[:, j]]
                               for j, p in enumerate(space.parameters)])
    sets = [space.path_values(dict(zip(space.names, row, strict=True)), [doc]) for row in natural]
    if store is None:
        h = hashlib.sha256(json.dumps({"space": [repr(p) for p in space.parameters], "method": method,
                                       "samples": samples, "seed": seed, "reps": replications},
                                      sort_keys=True).encode()).hexdigest()[:10]
        store = Path("outputs") / "sensitivity" / f"{name}-{h}"
    sweep = Sweep(doc, sets, store, replications=replications, seed=seed, name=f"{name} ({method})")
    runs = sweep.run(workers=workers, scheduler=scheduler, progress=progress)
    if output not in runs.columns:
        known = sorted(c for c in runs.columns if c not in ("set", "replication", "seed", "key")
                       and not c.startswith(("programmes.", "transitions.", "population.", "effects.", "money.")))
        raise ValueError(f"unknown output {output!r}; outputs: {', '.join(known)}")
    y = runs.groupby("set")[output].mean().reindex(range(len(sets))).to_numpy(float)
    if not np.all(np.isfinite(y)):
        y = np.where(np.isfinite(y), y, np.nanmean(y))
    if method == "morris":
        from SALib.analyze import morris as analyser

        si = analyser.analyze(problem, unit, y, num_levels=4, seed=seed)
        table = pd.DataFrame({"parameter": space.names, "effect": np.asarray(si["mu_star"], float),
                              "spread": np.asarray(si["sigma"], float),
                              "effect_conf": np.asarray(si["mu_star_conf"], float),
                              "mu": np.asarray(si["mu"], float)})
    else:
        from SALib.analyze import sobol as analyser

        si = analyser.analyze(problem, y, calc_second_order=False, seed=seed)
        table = pd.DataFrame({"parameter": space.names, "effect": np.asarray(si["ST"], float),
                              "spread": np.asarray(si["ST_conf"], float),
                              "first_order": np.asarray(si["S1"], float),
                              "first_order_conf": np.asarray(si["S1_conf"], float)})
    low = {p.name: p.prior.low for p in space.parameters}
    high = {p.name: p.prior.high for p in space.parameters}
    table["low"], table["high"] = table["parameter"].map(low), table["parameter"].map(high)
    table = table.sort_values("effect", ascending=False).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    design = pd.DataFrame(natural, columns=space.names)
    design[output] = y
    return SensitivityResult(output, method, table, design, runs, Path(store))
