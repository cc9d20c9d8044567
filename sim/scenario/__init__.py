"""Scenario files in, a frozen :class:`~sim.scenario.schema.Scenario` out.

Owns: the safe YAML reader with line numbers (``yaml_reader``), months and dated values
(``dated``), field types and physical caps (``fields``), the schema (``schema``; its money
section is ``rates``), the stage vocabulary and legal moves (``stages``), loading with
``extends:`` and overrides (``load``; shipped scenarios in ``shipped``), dotted paths
(``paths``), input checks shared by every input file (``checks``) and the one error a bad
input raises (``errors``). Imports nothing from the rest of ``sim``.
"""
