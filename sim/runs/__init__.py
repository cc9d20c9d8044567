"""Results of runs: one run's tables (``results``), replications with spawned seeds
(``replications``), posterior draws per replication (``posterior``), statistics of a run
(``run_statistics``) and resumable sweeps on processes or Dask (``sweep``).

May import :mod:`sim.scenario`, :mod:`sim.accounts` and :mod:`sim.engine`.
"""
