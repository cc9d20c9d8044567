"""The sub-steps of a month, one module each, in the order :class:`~sim.engine.model.ProgrammeModel`
runs them (its docstring is where the order is written).

Each sub-step's module exposes ``step(state)``, a plain function of the run's
:class:`~sim.engine.state.RunState`, and keeps beside it the compiled pass over everyone that
it uses, if any (:mod:`sim.accounts.jit`), and its per-person rules as helpers. Record, book
and clocks are one pass over everyone (:mod:`~sim.engine.month.sweep`, which calls the
per-person helpers of :mod:`~sim.engine.month.clocks`, :mod:`~sim.engine.month.forced` and
:mod:`~sim.engine.month.exits`, and the book's pieces); ``clocks`` and ``book`` have no
``step`` of their own. Modules here may import :mod:`sim.scenario`, :mod:`sim.accounts`,
:mod:`sim.engine.state`, :mod:`sim.engine.moves` and the engine modules those import; never
:mod:`sim.engine.model`; only ``sweep`` (and ``follow_up``, the book's ledger input) import
other sub-steps.
"""
