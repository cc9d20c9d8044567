"""Memory allocation for large runs: no transparent huge pages, and freed memory kept for reuse.

A national population's run allocates and frees arrays of tens to hundreds of megabytes many
times (each month's keys and records, each replication's results and event log). Two defaults
of the process then cost more system time than the simulation costs user time:

* numpy asks the kernel for transparent huge pages for every array of 4 MiB or more
  (``madvise``). Where huge pages are given on request with direct compaction (Linux's
  ``transparent_hugepage/enabled`` and ``defrag`` both ``madvise``, as on the machines this
  project runs on), the page faults of each new array compact memory first;
* glibc gives every freed block above its mmap threshold (at most 32 MiB by default) back to the
  system at once, so the next array of that size faults all its pages in again.

:func:`tune_for_large_runs` turns the first off (numpy's own switch) and raises glibc's
thresholds (``mallopt``), so freed memory is reused. ``almsim run scenarios/national-scale.yaml
-r 3`` (498,000 people, ten years, with events; three runs each, alternated): 17.5 user + 9.8-11.6
system CPU-s, 27.5-29.1 s wall as it was; 17.6-18.0 + 2.7-4.1, 20.0-21.9 s so, at 4-6 % more
peak memory (2.68 against 2.53-2.56 GB). The results are the same numbers: only where memory
comes from changes.

The command-line runs turn it on for scenarios of :data:`LARGE_RUN` person-months or more
(:func:`sim.cli.scenarios.load_all`); a program using almsim as a library keeps its process as
it is unless it calls this itself. Worker processes started afterwards inherit it through their
environment (``NUMPY_MADVISE_HUGEPAGE``, ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
which numpy and glibc read as a process starts). Elsewhere than Linux with glibc, nothing changes.
"""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["LARGE_RUN", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune_for_large_runs"]

#: Person-months (people over the horizon, times months) from which a scenario's runs are large.
LARGE_RUN = 10_000_000

#: Blocks below this are taken from (and freed back into) the heap, not mapped one by one.
MMAP_THRESHOLD = 256 * 2**20
#: Free memory at the top of the heap kept for reuse, up to this much.
TRIM_THRESHOLD = 2**30

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)


def tune_for_large_runs() -> bool:
    """Allocate this process's memory as large runs need (see the module's docstring), and set
    the environment so that worker processes started from now on do too. Returns whether glibc
    took the new thresholds (False elsewhere than Linux with glibc; numpy's switch is set anyway)."""
    with contextlib.suppress(ImportError, AttributeError):
        from numpy._core.multiarray import _set_madvise_hugepage

        _set_madvise_hugepage(False)
    os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        took = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(libc.mallopt(_M_TRIM_THRESHOLD,
                                                                                         TRIM_THRESHOLD))
    except (OSError, AttributeError):  # (another C library: no glibc, no mallopt)
        return False
    if took:
        os.environ["MALLOC_MMAP_THRESHOLD_"] = str(MMAP_THRESHOLD)
        os.environ["MALLOC_TRIM_THRESHOLD_"] = str(TRIM_THRESHOLD)
    return took
