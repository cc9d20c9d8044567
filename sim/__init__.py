"""almsim: agent-based simulation of Swedish labour-market programmes.

The public API is small: load a scenario, run it once or as replications, and read the
tables. Everything else is reachable through the submodules.
"""

from sim.ensemble import Ensemble, replicate, simulate
from sim.errors import ScenarioError
from sim.model import ProgrammeModel
from sim.results import RunResult
from sim.scenario import dump_scenario, load_scenario
from sim.schema import Scenario
from sim.stages import Stage

__all__ = ["load_scenario", "dump_scenario", "simulate", "replicate", "Ensemble", "RunResult",
           "ProgrammeModel", "Scenario", "ScenarioError", "Stage"]
