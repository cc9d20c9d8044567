"""How much memory a population takes, known before anything is allocated (and without numpy).

Owns the dtype of every array of :class:`~sim.engine.population.Population` (:data:`PERSON_DTYPES`,
which the population's arrays are made from), the number of people a population spec creates
(:func:`population_size`) and the memory guard (:func:`check_fits`). It imports nothing heavy, so
``almsim validate`` checks that a scenario fits in memory without loading numpy
(:mod:`sim.engine.population` re-exports these names).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.scenario.dated import Month
    from sim.scenario.schema import Population as PopulationSpec

__all__ = ["PERSON_DTYPES", "person_bytes", "population_size", "ResourceError", "memory_estimate", "check_fits"]

#: The dtype of each of a person's arrays, in the order of :class:`~sim.engine.population.Population`'s
#: fields; the narrowest that holds the range.
PERSON_DTYPES: dict[str, str] = {
    # attributes (fixed at synthesis)
    "arrival_month": "int32", "birth_month": "int32", "female": "bool", "household": "uint8",
    "children": "uint8", "foreign_born": "bool", "sfi": "bool", "rehab_need": "bool", "education": "uint8",
    "months_on_assistance_at_entry": "int16", "employability": "float32", "registered": "bool",
    "initial_stage": "uint8",
    # state (changed by the model)
    "stage": "uint8", "months_in_stage": "int16", "programme": "int8", "months_out_of_work": "int16",
    "ui_entitled": "bool", "ui_income_related": "bool", "ui_member_since": "int32",
    "ui_fund_joined": "int32", "ui_member_alt": "uint8", "ui_related_alt": "uint8", "fas3_municipal": "bool",
    "ui_days": "float32", "reference_wage": "float32", "in_guarantee": "bool", "job_days": "float32",
    "work_history": "uint16", "motivation": "float32", "last_programme": "int8",
    "months_since_programme": "int16", "effect_at_exit": "float32", "programme_start": "int32",
    "started": "uint32",
}


def _itemsize(dtype: str) -> int:
    """Bytes of one value of a sized numpy dtype name (``bool``: one byte)."""
    if dtype == "bool":
        return 1
    bits = re.fullmatch(r"u?int(8|16|32|64)|float(16|32|64)", dtype)
    if bits is None:
        raise ValueError(f"not a sized numeric dtype: {dtype!r}")
    return int(bits[1] or bits[2]) // 8


def person_bytes() -> int:
    """Bytes one person takes in the arrays (the memory guard's unit; equal to
    :func:`sim.engine.population.bytes_per_person`, which measures the arrays)."""
    return sum(_itemsize(d) for d in PERSON_DTYPES.values())


def population_size(spec: PopulationSpec, start: Month, horizon_months: int) -> int:
    """How many people the spec creates over the horizon (cohort plus inflow)."""
    n = spec.cohort.size if spec.cohort is not None else 0
    if spec.inflow is not None:
        first = spec.inflow.from_month if spec.inflow.from_month is not None else start
        last = spec.inflow.to_month if spec.inflow.to_month is not None else start + horizon_months - 1
        for m in range(max(first, start), min(last, start + horizon_months - 1) + 1):
            n += int(spec.inflow.people_per_month.at(m))
    return n


class ResourceError(ValueError):
    """A scenario too large for this machine (raised before anything is allocated)."""


#: Working memory per person beyond the arrays: hazard multipliers, masks and the
#: temporaries of one sub-step (measured with tracemalloc on a 10^6-person run, rounded up).
_WORKING_BYTES_PER_PERSON = 120
#: The interpreter and the libraries a run imports (importing what the main job imports peaks at
#: ~180 MB), and the pages the allocator keeps.
_BASE_BYTES = 256 * 2**20
#: A run's records and the tables built from them when it finishes, per person-month.
_RUN_BYTES_PER_PERSON_MONTH = 8
#: The event log and what is built from it when it is kept (the moves, about 0.1 per
#: person-month, their ledger keys and their tables), per person-month.
_EVENT_BYTES_PER_PERSON_MONTH = 12
#: Everyone's ledger keys, which a batched run that keeps its event log keeps to the end (its
#: events read the movers'; without events each month's keys are counted as booked:
#: ``BatchRecorder.counts_only``), per person-month.
_KEY_BYTES_PER_PERSON_MONTH = 8
#: What a finished replication keeps in memory until its command writes the folder (its people,
#: ledger book and the sources of its tables), per person-month; with its event log, that much
#: more.
_KEPT_BYTES_PER_PERSON_MONTH = 3
_KEPT_EVENT_BYTES_PER_PERSON_MONTH = 3
#: What a comparison's payoff-style bridge needs at its peak, per person-month of the population:
#: it follows every person, from the runs' own books for populations of a few thousand, else by
#: running each pair again keeping everyone's ledger keys (``sim.analysis.payoff``), and holds
#: every person's money by month and payer (ten payers: 80 bytes a person-month a run) while it
#: sums the steps a chunk of people at a time. Measured: a national population cut to 20,000 and
#: 40,000 people (120 months, one replication) peaks at 1.29 and 2.02 GB with the bridge, 0.31 and
#: 0.35 without: ~310 bytes a person-month; rounded up.
_BRIDGE_BYTES_PER_PERSON_MONTH = 350
# The run's, the event log's and the kept replications' bytes are fitted to the peaks of
# ``almsim run scenarios/national-scale.yaml -r R`` (498,000 people, 120 months; session 18,
# /usr/bin/time): with events 2.08, 2.67, 3.69 and 8.33 GB for R = 1, 3, 6 and 20 (~5.6 bytes a
# person-month a replication kept, ~1.7 GB for the first), without 0.74, 1.03 and 1.39 GB for R =
# 1, 3, 6 (~2.2 and ~0.6 GB), and rounded up: the estimates are 2.40, 3.12, 4.19 and 9.21 GB with
# events, 1.02, 1.38 and 1.92 without (the first measured again in its own process by the tests:
# 2.14 GB).


def memory_estimate(people: int, horizon_months: int, record_events: bool = True, kept: int = 0,
                    kept_events: int | None = None, bridge: bool = False) -> int:
    """Bytes a run of ``people`` over ``horizon_months`` needs at its peak (an estimate, on the high
    side), with ``kept`` finished replications of the same size held until they are written,
    ``kept_events`` of them with their event logs (default: all if ``record_events``, else none;
    a comparison keeps its baseline's without), and a comparison's payoff-style ``bridge``."""
    per_month = _RUN_BYTES_PER_PERSON_MONTH + (
        _EVENT_BYTES_PER_PERSON_MONTH + _KEY_BYTES_PER_PERSON_MONTH if record_events else 0)
    per_person = person_bytes() + _WORKING_BYTES_PER_PERSON + per_month * horizon_months
    with_events = (kept if record_events else 0) if kept_events is None else kept_events
    per_kept = kept * _KEPT_BYTES_PER_PERSON_MONTH + with_events * _KEPT_EVENT_BYTES_PER_PERSON_MONTH
    per_kept += _BRIDGE_BYTES_PER_PERSON_MONTH if bridge else 0
    return _BASE_BYTES + people * per_person + people * horizon_months * per_kept


def _available_bytes() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def check_fits(spec: PopulationSpec, start: Month, horizon_months: int, record_events: bool = True,
               available: int | None = None, kept: int = 0, kept_events: int | None = None,
               bridge: bool = False) -> int:
    """Refuse a population that would not fit in memory, with ``kept`` finished replications
    (``kept_events`` of them with event logs) held until they are written and a comparison's
    ``bridge`` (a command's: :func:`memory_estimate`); return its size.

    Raises:
        ResourceError: with the estimate, if it exceeds 80 % of the available memory.
    """
    n = population_size(spec, start, horizon_months)
    need = memory_estimate(n, horizon_months, record_events, kept, kept_events, bridge)
    have = _available_bytes() if available is None else available
    if need > 0.8 * have:
        runs = f", with {kept} finished runs kept until written," if kept > 1 else ""
        hint = ("; fewer replications, or no event log, need less" if kept > 1 and record_events
                else "; fewer replications need less" if kept > 1 else "")
        if bridge:  # (most of it, for a population of more than a few thousand)
            without = memory_estimate(n, horizon_months, record_events, kept, kept_events)
            hint = (f"; the payoff-style bridge follows every person: without it (--no-bridge), about "
                    f"{without / 2**30:,.1f} GiB")
        raise ResourceError(
            f"{n:,} people over {horizon_months} months{runs} need about {need / 2**30:,.1f} GiB of memory; "
            f"this machine has {have / 2**30:,.1f} GiB available{hint}")
    return n
