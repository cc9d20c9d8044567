"""The sub-steps of a month, one module each, in the order :class:`~sim.engine.model.ProgrammeModel`
runs them (its docstring is where the order is written).

Each module exposes ``step(state)``, a plain function of the run's
:class:`~sim.engine.state.RunState`, and keeps beside it the compiled pass over everyone that
it uses, if any (:mod:`sim.accounts.jit`). Modules here may import :mod:`sim.scenario`,
:mod:`sim.accounts`, :mod:`sim.engine.state`, :mod:`sim.engine.moves` and the engine modules
those import; never :mod:`sim.engine.model` or each other, but for :mod:`~sim.engine.month.book`
(the ledger's view of people, which the sweep and the follow-up use).
"""
