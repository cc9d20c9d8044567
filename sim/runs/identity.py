"""What names a run: the code's version, a scenario's content hash, a replication's key in a
:class:`~sim.runs.partial.ReplicationStore`, and a run folder's id.

Kept free of the engine and of pandas, so the command line can name (and lock) a run's folder
before it imports anything heavy. :mod:`sim.runs.replications` re-exports these names.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from sim.scenario.schema import Scenario

__all__ = ["VERSION", "content_hash", "code_version", "replication_key", "run_id"]

VERSION = "0.1.0"
_SIM = Path(__file__).resolve().parents[1]  # the sim package


def content_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario and the code version (changes when either does)."""
    doc = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"almsim {VERSION}\n{doc}".encode()).hexdigest()


@functools.cache
def code_version() -> str:
    """The package version and a digest of its source files (a code change makes new keys).

    Read once per process (a comparison keys its runs and its re-runs with it): the code a
    process runs is the code it imported, even if the files change meanwhile."""
    h = hashlib.sha256(VERSION.encode())
    for f in sorted(_SIM.rglob("*.py")):
        h.update(f.relative_to(_SIM).as_posix().encode())
        h.update(f.read_bytes())
    return f"{VERSION}+{h.hexdigest()[:12]}"


def replication_key(scenario: Scenario, seed: int, record_events: bool, code: str | None = None, *,
                    nets_only: bool = False, member_shares: tuple[float, ...] = ()) -> str:
    """What names one replication in a :class:`~sim.runs.partial.ReplicationStore`: the resolved
    scenario, its seed, whether events are kept, the code (``code``: :func:`code_version`) and
    whether only its nets are kept (:func:`sim.runs.replications.nets_only`), and the other
    a-kassa shares whose nets it keeps the changes of (:attr:`~sim.runs.results.RunResult.member_changes`).

    The scenario enters as the SHA-256 of pydantic's own JSON of it (``model_dump_json``, the
    same content as :func:`content_hash` reads, without sorting its keys in Python: 0.16 against
    0.67 ms, and a comparison keys 120 replications); a key only has to tell scenarios apart
    within one store, where equal scenarios are made the same way."""
    scenario_text = hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()
    what = {"scenario": scenario_text, "seed": int(seed), "events": bool(record_events),
            "code": code_version() if code is None else code}
    if nets_only:
        what["nets_only"] = True
    if member_shares:
        what["member_shares"] = [float(v) for v in member_shares]
    text = json.dumps(what, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def run_id(scenario: Scenario, seed: int, replications: int, record_events: bool = True,
           fixed_parameters: bool = False) -> str:
    """The name of a run's folder under ``<out>/<scenario>/``: what makes the run distinct (seed,
    replications, the resolved scenario with its overrides, whether events are kept, and the
    calibrated defaults drawn per replication: their calibrations, paths and posterior files,
    :func:`sim.runs.posterior.draw_identity`). With ``fixed_parameters``, or when nothing is
    drawn, the name is that of the scenario as written."""
    from sim.runs.posterior import draw_identity

    h = content_hash(scenario)
    drawn = draw_identity(scenario, fixed_parameters)
    if drawn:
        h = hashlib.sha256(f"{h}\ndrawn {drawn}".encode()).hexdigest()
    return f"seed{seed}-r{replications}-{h[:10]}" + ("" if record_events else "-noevents")
