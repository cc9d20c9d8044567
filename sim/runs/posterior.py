"""Calibrated posterior draws, applied per replication.

A scenario with ``parameters: {from_calibration: NAME}`` uses the posterior draws that
``almsim calibrate`` saved in ``calibration/results/NAME/posterior.parquet``:
:func:`replication_scenarios` gives replication ``i`` of seed ``s`` draw ``order[i mod n]``,
where ``order`` is a permutation of the ``n`` draws fixed by ``s``. So every draw is used
once before any is used again, and the choice depends only on the seed and the replication,
never on workers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.scenario.errors import ScenarioError
from sim.scenario.paths import apply_values, as_number, path_exists
from sim.scenario.schema import Scenario

__all__ = ["find_posterior", "load_posterior", "replication_draws", "replication_scenarios", "POSTERIOR_FILE"]

POSTERIOR_FILE = "posterior.parquet"
_ROOT = Path(__file__).resolve().parents[2]


def find_posterior(name: str) -> Path:
    """The folder of calibration ``name``: ``calibration/results/<name>/`` under the working
    folder, else under the repository that holds this package.

    Raises:
        ScenarioError: if neither has a ``posterior.parquet``.
    """
    tried = []
    for root in (Path.cwd(), _ROOT):
        folder = root / "calibration" / "results" / name
        if (folder / POSTERIOR_FILE).is_file():
            return folder
        tried.append(str(folder))
    raise ScenarioError(f"calibration {name!r} has no {POSTERIOR_FILE} (looked in {' and '.join(tried)}); "
                        f"run: almsim calibrate calibration/{name}.yaml", file="<scenario>",
                        key="parameters.from_calibration")


def load_posterior(name: str) -> tuple[pd.DataFrame, str]:
    """The equally weighted posterior draws of calibration ``name`` (one column per dotted path)
    and the SHA-256 of the file they came from."""
    path = find_posterior(name) / POSTERIOR_FILE
    data = path.read_bytes()
    draws = pd.read_parquet(path)
    return draws, hashlib.sha256(data).hexdigest()


def _draw_order(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng([int(seed), 0xCA11B]).permutation(n)


def replication_draws(name: str, doc: Mapping[str, Any], seed: int, replications: int
                      ) -> tuple[list[dict[str, float | int]], dict[str, Any]]:
    """The calibrated values (dotted path -> value) of each replication, for calibration ``name``.

    Only paths that exist in ``doc`` are used (a baseline without the programme gets none of
    the programme's parameters, and the same draws of the rest).

    Returns:
        One parameter set per replication, and a description of the draws for the manifest
        (calibration name, file hash, paths applied, draw of each replication).
    """
    draws, digest = load_posterior(name)
    if not draws.shape[0]:
        raise ScenarioError(f"calibration {name!r} has no draws", file="<scenario>", key="parameters")
    paths = [c for c in draws.columns if c != "draw" and not c.startswith("param.") and path_exists(doc, c)]
    order = _draw_order(seed, len(draws))
    chosen = [int(order[i % len(draws)]) for i in range(replications)]
    ids = draws["draw"].to_numpy() if "draw" in draws else np.arange(len(draws))
    sets = [{p: as_number(draws[p].iloc[k]) for p in paths} for k in chosen]
    info = {"from_calibration": name, "posterior_sha256": digest, "paths": paths,
            "draws": [int(ids[k]) for k in chosen]}
    return sets, info


def replication_scenarios(scenario: Scenario, seed: int, replications: int
                          ) -> tuple[list[Scenario], dict[str, Any] | None]:
    """One scenario per replication, each with its posterior draw applied (if ``parameters:`` is set).

    Returns:
        The scenarios, and ``None`` or a description of the draws used (calibration name,
        file hash, draw index per replication) for the run's manifest.
    """
    if scenario.parameters is None:
        return [scenario] * replications, None
    from sim.scenario.load import build

    name = scenario.parameters.from_calibration
    doc = scenario.model_dump(mode="json")
    doc["parameters"] = None
    sets, info = replication_draws(name, doc, seed, replications)
    cache: dict[int, Scenario] = {}
    out = []
    for values, d in zip(sets, info["draws"], strict=True):
        if d not in cache:
            cache[d] = build(apply_values(doc, values, source=f"calibration {name}, draw {d}", status="calibrated"))
        out.append(cache[d])
    return out, info
