"""Calibrated posterior draws, applied per replication.

Two kinds of draws, both chosen by the seed and the replication only (never by workers), so a
baseline and a programme scenario run with the same seed get the same draw in every pair:

* **Named**: a scenario with ``parameters: {from_calibration: NAME}`` uses every column of the
  posterior draws that ``almsim calibrate`` saved in ``calibration/results/NAME/posterior.parquet``.
* **Calibrated defaults** (by default; ``fixed_parameters=True`` turns them off): a calibration
  job may declare which of its posterior's paths **transfer** to other scenarios
  (``transfers:`` in ``calibration/NAME.yaml``, :func:`read_transfers`). The value of such a
  path in the job's (first) scenario file, e.g. ``scenarios/national.yaml``'s calibrated
  ``transitions.open.work``, is that posterior's median: a scenario whose value at the path is
  still exactly that default (not overridden by the scenario, a base of its own or ``--set``)
  draws the path from the posterior instead. A path that is the fit's own (its synthetic
  population's inflow) is simply not declared.

Replication ``i`` of seed ``s`` uses draw ``order[i mod n]``, where ``order`` is a permutation
of the ``n`` draws fixed by ``s`` (and, for calibrated defaults, the calibration's name): every
draw is used once before any is used again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.scenario.errors import ScenarioError
from sim.scenario.paths import apply_values, apply_values_shared, as_number, get_node, path_exists, set_value
from sim.scenario.schema import Scenario

if TYPE_CHECKING:
    import pandas as pd

    from sim.scenario.load import Provenance

__all__ = ["find_posterior", "load_posterior", "replication_draws", "replication_scenarios", "POSTERIOR_FILE",
           "Transfer", "read_transfers", "calibrated_defaults", "drawn_defaults", "draw_identity"]

POSTERIOR_FILE = "posterior.parquet"
_ROOT = Path(__file__).resolve().parents[2]


def _roots() -> list[Path]:
    """Where ``calibration/`` is looked for: the working folder, then the repository of this package."""
    return list(dict.fromkeys((Path.cwd().resolve(), _ROOT)))


def find_posterior(name: str) -> Path:
    """The folder of calibration ``name``: ``calibration/results/<name>/`` under the working
    folder, else under the repository that holds this package.

    Raises:
        ScenarioError: if neither has a ``posterior.parquet``.
    """
    tried = []
    for root in _roots():
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
    st = path.stat()
    draws, digest = _read_posterior(str(path), st.st_mtime_ns, st.st_size)
    return draws.copy(), digest


@functools.lru_cache(maxsize=16)
def _read_posterior(path: str, mtime_ns: int, size: int) -> tuple[pd.DataFrame, str]:
    import io

    import pandas as pd

    data = Path(path).read_bytes()
    return pd.read_parquet(io.BytesIO(data)), hashlib.sha256(data).hexdigest()


def _posterior_digest(name: str) -> str:
    path = find_posterior(name) / POSTERIOR_FILE
    st = path.stat()
    return _digest(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=16)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _draw_order(seed: int, n: int, calibration: str | None = None) -> np.ndarray:
    key = [int(seed), 0xCA11B] + ([] if calibration is None else [zlib.crc32(calibration.encode())])
    return np.random.default_rng(key).permutation(n)


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
    columns = {p: draws[p].to_numpy() for p in paths}
    sets = [{p: as_number(columns[p][k]) for p in paths} for k in chosen]
    info = {"from_calibration": name, "posterior_sha256": digest, "paths": paths,
            "posterior_draws": int(len(draws)), "draws": [int(ids[k]) for k in chosen]}
    return sets, info


# --------------------------------------------------------------------------------------------
# Calibrated defaults: what a calibration lends to other scenarios


@dataclass(frozen=True)
class Transfer:
    """The posterior paths a calibration job lends to other scenarios (``transfers:``).

    Attributes:
        calibration: the job's name (its results folder).
        job_file: the calibration job that declares them.
        defaults_file: the job's first scenario file, whose values at ``paths`` are the
            calibrated defaults (the posterior medians written there).
        paths: the dotted paths drawn from the posterior.
        defaults: each path's default, as ``Scenario.model_dump(mode="json")`` writes it (a
            dated parameter with its source and status, or a plain number).
    """

    calibration: str
    job_file: str
    defaults_file: str
    paths: tuple[str, ...]
    defaults: Mapping[str, Any]


def _first_scenario_file(job_file: Path, raw: Mapping[str, Any]) -> Path:
    from sim.scenario.shipped import is_shipped, shipped_path

    first = next(iter(raw["scenarios"].values()))
    text = first if isinstance(first, str) else first["file"]
    return shipped_path(text) if is_shipped(text) else job_file.parent / text


def read_transfers(raw: Mapping[str, Any], provenance: Provenance, job_file: str | Path) -> Transfer | None:
    """The ``transfers:`` of a calibration job (``None`` if it declares none), checked.

    ``transfers:`` is a list of dotted paths; each must be set in the job's first scenario file
    (whose value there is the default a scenario must still have to draw the path) and, where
    that value carries a status, be marked ``calibrated``. The calibration layer checks in
    addition that each path is one the job's space calibrates.

    Raises:
        ScenarioError: naming the job file, the line and ``transfers[i]``.
    """
    from sim.scenario.checks import Checker
    from sim.scenario.load import build, parse_file

    if raw.get("transfers") is None:
        return None
    c = Checker(raw, provenance)
    name = c.text(raw.get("name"), ("name",), "name", max_length=100)
    paths = c.text_list(raw["transfers"], ("transfers",), "transfers")
    scenarios = raw.get("scenarios")
    if not isinstance(scenarios, dict) or not scenarios:
        raise c.fail(("transfers",), "needs the job's scenarios (the first holds the calibrated defaults)",
                     "transfers")
    try:
        defaults_file = _first_scenario_file(Path(job_file), raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise c.fail(("scenarios",), f"the first scenario names no usable file ({exc})", "scenarios") from None
    doc = build(*parse_file(defaults_file)).model_dump(mode="json")
    defaults: dict[str, Any] = {}
    for i, p in enumerate(paths):
        if p in defaults:
            raise c.fail(("transfers", i), f"{p!r} is named twice", f"transfers[{i}]")
        if not path_exists(doc, p):
            raise c.fail(("transfers", i), f"{defaults_file} has no {p!r}", f"transfers[{i}]")
        node = get_node(doc, p)
        status = node.get("status") if isinstance(node, dict) else None
        if status not in (None, "calibrated"):
            raise c.fail(("transfers", i), f"{p!r} has status {status!r} in {defaults_file}; a transferred "
                         f"default must be the posterior median written there with status calibrated",
                         f"transfers[{i}]")
        defaults[p] = node
    return Transfer(name, str(job_file), str(defaults_file), tuple(paths), defaults)


@functools.lru_cache(maxsize=64)
def _job_doc(job_file: str, mtime_ns: int, size: int) -> tuple[dict[str, Any], Provenance]:
    from sim.scenario.load import read_document

    return read_document(job_file, "calibration job")


@functools.lru_cache(maxsize=64)
def _job_transfer(job_file: str, job_stamp: tuple[int, int], defaults_stamp: tuple[int, int] | None
                  ) -> Transfer | None:
    raw, prov = _job_doc(job_file, *job_stamp)
    return read_transfers(raw, prov, job_file)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def calibrated_defaults() -> list[Transfer]:
    """Every calibration job's ``transfers:`` under ``calibration/`` of the working folder, then
    of the repository (a job name found in the first is not read again from the second).

    Each job is read again only when it or its defaults file changed (a studio session sees
    an edited ``national.yaml``).
    """
    out: list[Transfer] = []
    seen: set[str] = set()
    files: dict[Path, None] = {}
    for root in _roots():
        folder = root / "calibration"
        if folder.is_dir():
            files.update(dict.fromkeys(f.resolve() for f in sorted(folder.glob("*.yaml"))))
    for f in files:
        stamp = _stamp(f)
        if stamp is None:
            continue
        raw, _ = _job_doc(str(f), *stamp)
        if raw.get("transfers") is None:
            continue
        try:
            defaults = _stamp(_first_scenario_file(f, raw).resolve())
        except (ValueError, KeyError, TypeError, AttributeError, StopIteration):
            defaults = None  # read_transfers names the problem
        t = _job_transfer(str(f), stamp, defaults)
        if t is not None and t.calibration not in seen:
            seen.add(t.calibration)
            out.append(t)
    return out


def drawn_defaults(doc: Mapping[str, Any], skip: Sequence[str | None] = ()) -> list[tuple[Transfer, list[str]]]:
    """The calibrated defaults a scenario document still uses: each transfer (not of a
    calibration in ``skip``) with its paths whose value in ``doc`` equals the default."""
    out = []
    for t in calibrated_defaults():
        if t.calibration in skip:
            continue
        paths = [p for p in t.paths if path_exists(doc, p) and get_node(doc, p) == t.defaults[p]]
        if paths:
            out.append((t, paths))
    return out


def draw_identity(scenario: Scenario, fixed_parameters: bool = False) -> str:
    """What the calibrated-default draws add to a run's identity: ``""`` when none apply (with
    ``fixed_parameters``, or when the scenario overrides every transferred default), else the
    calibrations, their paths and the SHA-256 of each posterior file, as JSON text."""
    if fixed_parameters:
        return ""
    doc = scenario.model_dump(mode="json")
    explicit = scenario.parameters.from_calibration if scenario.parameters is not None else None
    used = drawn_defaults(doc, skip=(explicit,))
    if not used:
        return ""
    return json.dumps([[t.calibration, paths, _posterior_digest(t.calibration)] for t, paths in used])


def _default_draws(doc: Mapping[str, Any], seed: int, replications: int, skip: Sequence[str | None]
                   ) -> tuple[list[dict[str, tuple[float | int, str]]], list[dict[str, Any]]]:
    """Per replication, path -> (drawn value, calibration and draw) for every calibrated default
    ``doc`` uses; and per calibration a description of the draws."""
    sets: list[dict[str, tuple[float | int, str]]] = [{} for _ in range(replications)]
    infos = []
    for t, paths in drawn_defaults(doc, skip):
        draws, digest = load_posterior(t.calibration)
        missing = [p for p in paths if p not in draws.columns]
        if missing or not draws.shape[0]:
            raise ScenarioError(f"calibration {t.calibration!r} transfers {', '.join(missing) or 'paths'} but its "
                                f"{POSTERIOR_FILE} has no draws of them; run: almsim calibrate {t.job_file}",
                                file=t.job_file, key="transfers")
        order = _draw_order(seed, len(draws), t.calibration)
        chosen = [int(order[i % len(draws)]) for i in range(replications)]
        ids = draws["draw"].to_numpy() if "draw" in draws else np.arange(len(draws))
        columns = {p: draws[p].to_numpy() for p in paths}
        for values, k in zip(sets, chosen, strict=True):
            for p in paths:
                values[p] = (as_number(columns[p][k]), f"calibration {t.calibration}, draw {int(ids[k])}")
        infos.append({"calibration": t.calibration, "posterior_sha256": digest, "paths": paths,
                      "posterior_draws": int(len(draws)), "draws": [int(ids[k]) for k in chosen]})
    return sets, infos


def replication_scenarios(scenario: Scenario, seed: int, replications: int, *, fixed_parameters: bool = False
                          ) -> tuple[list[Scenario], dict[str, Any] | None]:
    """One scenario per replication, each with its posterior draws applied.

    Named draws (``parameters: {from_calibration: NAME}``) always apply; the calibrated
    defaults the scenario still uses are drawn too unless ``fixed_parameters``.

    Returns:
        The scenarios, and ``None`` (nothing drawn) or a description of the draws used for the
        run's manifest: for named draws the calibration, file hash, paths and draw per
        replication at the top level; for calibrated defaults the same per calibration under
        ``calibrated_defaults``.
    """
    explicit = scenario.parameters.from_calibration if scenario.parameters is not None else None
    doc = scenario.model_dump(mode="json")
    doc["parameters"] = None
    defaults = ([[{} for _ in range(replications)], []] if fixed_parameters
                else list(_default_draws(doc, seed, replications, skip=(explicit,))))
    if explicit is None and not defaults[1]:
        return [scenario] * replications, None
    from sim.scenario.load import rebuild

    named: list[dict[str, float | int]] = [{} for _ in range(replications)]
    info: dict[str, Any] = {}
    if explicit is not None:
        named, info = replication_draws(explicit, doc, seed, replications)
    if defaults[1]:
        info["calibrated_defaults"] = defaults[1]
    cache: dict[str, Scenario] = {}
    out = []
    for i, (values, drawn) in enumerate(zip(named, defaults[0], strict=True)):
        key = json.dumps([info.get("draws", [None] * replications)[i],
                          [d["draws"][i] for d in defaults[1]]])
        if key not in cache:
            if values:
                new = apply_values(doc, values, source=f"calibration {explicit}, draw {info['draws'][i]}",
                                   status="calibrated")
            else:  # only the mappings on the way to each drawn value are copied (``doc`` is never changed)
                new = apply_values_shared(doc, {path: value for path, (value, _) in drawn.items()})
            for path, (value, source) in drawn.items():
                if path in values:
                    continue  # the named calibration's draw wins
                if isinstance(get_node(doc, path), dict):  # a parameter with its source and status
                    set_value(new, path, value, source=source, status="calibrated")
                elif values:  # a plain number carries no source (set already without named draws)
                    set_value(new, path, value)
            # only the parts the draws touch are validated again (``rebuild``, equal to ``build``)
            cache[key] = rebuild(scenario, new, ["parameters", *values, *drawn])
        out.append(cache[key])
    return out, info
