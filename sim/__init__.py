"""almsim: agent-based simulation of Swedish labour-market programmes.

The public API is small: load a scenario, run it once or as replications, and read the
tables. The sub-packages follow the data flow (see ``docs/architecture.md``)::

    scenario -> accounts -> engine -> runs -> analysis -> calibration -> present -> cli

Each imports only from those before it. The names below are loaded on first use, so that
``almsim --help`` does not import the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["load_scenario", "dump_scenario", "simulate", "replicate", "Ensemble", "RunResult",
           "ProgrammeModel", "Scenario", "ScenarioError", "Stage"]

_WHERE = {
    "load_scenario": "sim.scenario.load", "dump_scenario": "sim.scenario.load", "Scenario": "sim.scenario.schema",
    "ScenarioError": "sim.scenario.errors", "Stage": "sim.scenario.stages", "ProgrammeModel": "sim.engine.model",
    "simulate": "sim.runs.replications", "replicate": "sim.runs.replications", "Ensemble": "sim.runs.replications",
    "RunResult": "sim.runs.results",
}

if TYPE_CHECKING:
    from sim.engine.model import ProgrammeModel
    from sim.runs.replications import Ensemble, replicate, simulate
    from sim.runs.results import RunResult
    from sim.scenario.errors import ScenarioError
    from sim.scenario.load import dump_scenario, load_scenario
    from sim.scenario.schema import Scenario
    from sim.scenario.stages import Stage


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
