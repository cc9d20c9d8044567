"""Results of runs: one run's tables (``results``), replications with spawned seeds
(``replications``), posterior draws per replication (``posterior``), statistics of a run
(``run_statistics``) and resumable sweeps on processes or Dask (``sweep``); what names a run
(``identity``), its output folder checked and locked before any work (``folders``), finished
replications kept until the folder is written (``partial``) and worker pools that Ctrl-C
cannot reach (``workers``).

May import :mod:`sim.scenario`, :mod:`sim.accounts` and :mod:`sim.engine`.
"""
