"""The population and the monthly loop: :class:`~sim.engine.model.ProgrammeModel`, its shared
:class:`~sim.engine.state.RunState`, one module per sub-step in :mod:`sim.engine.month`, moves,
places and budgets, the SimPy calendar, the parameters in force, hazards, named random streams
and the recorder.

May import :mod:`sim.scenario` and :mod:`sim.accounts`.
"""
