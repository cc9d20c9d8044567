"""What the difference is: paired comparisons, the payoff-style estimate and the bridge, the
binding limit, the assumptions that drive the answer, and break-even on any lever.

May import :mod:`sim.scenario`, :mod:`sim.accounts`, :mod:`sim.engine` and :mod:`sim.runs`.
"""
