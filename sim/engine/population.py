"""The population as a struct of arrays, and its synthesis from a cohort description.

One numpy array per attribute, indexed by person; a person's id is their index and never
changes. Attributes (who someone is) are set once at synthesis; state (where they are and
their clocks) is changed only by the model's monthly sub-steps. Dtypes are the narrowest
that hold the range, so a national population stays small (see :meth:`Population.nbytes`).

Synthesis draws every attribute from the ``"population/*"`` random streams keyed by person
id, so a baseline and a scenario with the same cohort and seed get the same people.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

# The memory guard lives in footprint (no numpy: `almsim validate` uses it); these names stay importable here.
from sim.engine.footprint import (
    PERSON_DTYPES,
    ResourceError,
    _available_bytes,  # noqa: F401  (used by the batch engine)
    check_fits,
    memory_estimate,
    population_size,
)
from sim.engine.streams import Streams
from sim.scenario.dated import Month
from sim.scenario.schema import EDUCATION_CODES, EDUCATION_LEVELS, HOUSEHOLD_CODES, HOUSEHOLDS, Composition, parse_band
from sim.scenario.schema import Population as PopulationSpec
from sim.scenario.stages import Stage

__all__ = ["Population", "synthesise", "population_size", "bytes_per_person", "NO_PROGRAMME",
           "HOUSEHOLD_CODES", "EDUCATION_CODES", "ResourceError", "memory_estimate", "check_fits"]

NO_PROGRAMME = -1
#: ``months_since_programme`` for people who never left a programme.
NEVER = np.iinfo(np.int16).max
#: ``ui_member_since`` of someone who has never joined an a-kassa
NOT_MEMBER = np.iinfo(np.int32).max


@dataclass(eq=False)
class Population:
    """People as arrays. All arrays have the same length, the number of people."""

    # --- attributes (fixed at synthesis) ---
    arrival_month: np.ndarray  #: int32, absolute month the person enters the model
    birth_month: np.ndarray  #: int32, absolute month of birth
    female: np.ndarray  #: bool
    household: np.ndarray  #: uint8 code of :data:`HOUSEHOLDS`
    children: np.ndarray  #: uint8, number of children in the household
    foreign_born: np.ndarray  #: bool
    sfi: np.ndarray  #: bool, studying Swedish for immigrants
    rehab_need: np.ndarray  #: bool, needs rehabilitation involving several agencies
    education: np.ndarray  #: uint8 code of :data:`EDUCATION_LEVELS`
    months_on_assistance_at_entry: np.ndarray  #: int16
    #: float32, the latent type's log hazard ratio of work: ``employability_sd`` x z, z ~ N(0, 1),
    #: with the spread of the composition the person was drawn from (the cohort's or the inflow's)
    employability: np.ndarray
    registered: np.ndarray  #: bool, registered at Arbetsförmedlingen
    initial_stage: np.ndarray  #: uint8 stage entered at arrival
    # --- state (changed by the model) ---
    stage: np.ndarray  #: uint8 :class:`Stage`
    months_in_stage: np.ndarray  #: int16
    programme: np.ndarray  #: int8 index of the programme waited for or attended (-1: none)
    months_out_of_work: np.ndarray  #: int16, months on benefits since last work (duration)
    ui_entitled: np.ndarray  #: bool, has an open UI benefit period
    ui_income_related: np.ndarray  #: bool, that period pays income-related UI (else the basic amount)
    ui_member_since: np.ndarray  #: int32 absolute month of joining an a-kassa (NOT_MEMBER: never)
    #: int32 absolute month of first joining an a-kassa through a programme (NOT_MEMBER: never;
    #: members at entry too): what ``ui_member_since`` would be for someone not a member at entry
    ui_fund_joined: np.ndarray
    #: uint8 bit mask: bit k set = an a-kassa member at entry had the share been the run's
    #: ``member_shares[k]`` (see :func:`synthesise`); all zero in a run that asked for none
    ui_member_alt: np.ndarray
    #: uint8 bit mask: bit k = ``ui_income_related`` had the share been ``member_shares[k]``
    ui_related_alt: np.ndarray
    fas3_municipal: np.ndarray  #: bool, a Fas 3 placement of this person is in municipal operations
    ui_days: np.ndarray  #: float32, UI days used in the current benefit period
    reference_wage: np.ndarray  #: float32, monthly wage UI and activity support are based on (0: none)
    in_guarantee: np.ndarray  #: bool, enrolled in the job and development guarantee
    job_days: np.ndarray  #: float32, days used in the guarantee (Fas 3 at 450)
    work_history: np.ndarray  #: uint16 bit mask: bit k set = qualifying work k+1 months ago
    motivation: np.ndarray  #: float32 in (0, 1]; waiting lowers it
    last_programme: np.ndarray  #: int8, the last programme left (-1: none)
    months_since_programme: np.ndarray  #: int16, months since leaving it
    effect_at_exit: np.ndarray  #: float32 hazard ratio on work right after leaving it
    programme_start: np.ndarray  #: int32 absolute month the last programme started (-1)
    started: np.ndarray  #: uint32 bit mask: bit i set = has started programme i

    def __len__(self) -> int:
        return int(self.stage.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by all arrays."""
        return sum(getattr(self, f.name).nbytes for f in fields(self))

    def age_years(self, month: Month, ids: np.ndarray | slice | None = None) -> np.ndarray:
        """Age in years in ``month`` (float32), for everyone or for ``ids`` (an index of people)."""
        birth = self.birth_month if ids is None else self.birth_month[ids]
        return ((month - birth) / np.float32(12.0)).astype(np.float32)


def bytes_per_person() -> int:
    """Bytes one person takes in the arrays (the memory guard's unit)."""
    pop = _empty(1)
    return pop.nbytes


#: Arrays that do not start at zero, and what they start at.
_START = {"stage": Stage.NOT_ARRIVED, "programme": NO_PROGRAMME, "ui_member_since": NOT_MEMBER,
          "ui_fund_joined": NOT_MEMBER, "motivation": 1,
          "last_programme": NO_PROGRAMME, "months_since_programme": NEVER, "effect_at_exit": 1, "programme_start": -1}


def _empty(n: int) -> Population:
    """``n`` people's arrays, of the dtypes :data:`~sim.engine.footprint.PERSON_DTYPES` names."""
    return Population(**{name: np.zeros(n, dtype) if name not in _START else np.full(n, _START[name], dtype)
                         for name, dtype in PERSON_DTYPES.items()})


def _categorical(u: np.ndarray, shares: dict[str, float], order: tuple[str, ...] | None = None
                 ) -> tuple[list[str], np.ndarray]:
    """Map uniforms to category indices by cumulative shares (last category takes rounding).

    Categories are taken in a canonical order (``order``, else sorted bands or names), never
    in the order the file happened to list them, so the same composition gives the same people
    however its keys are ordered (a manifest stores them sorted).
    """
    if order is not None:
        names = [k for k in order if k in shares]
    else:
        names = sorted(shares, key=_band_key)
    cum = np.cumsum([shares[k] for k in names])
    # the number of cumulative shares <= u (np.searchsorted(cum, u, side="right")), counted a
    # share at a time: a pass per category, ~3x faster than a binary search per person
    idx = np.zeros(u.shape, np.intp)
    for c in cum[:-1]:  # (the last category takes the rest anyway)
        idx += u >= c
    return names, idx


def _band_key(name: str) -> tuple[int, int, str]:
    try:
        lo, hi = parse_band(name)
        return (lo, hi, name)
    except ValueError:
        return (0, 0, name)


def _band_values(u_cat: np.ndarray, u_within: np.ndarray, bands: dict[str, float]) -> np.ndarray:
    """Draw a value uniformly within a band chosen by its share."""
    names, idx = _categorical(u_cat, bands)
    lo = np.array([parse_band(b)[0] for b in names], dtype=np.float64)
    hi = np.array([parse_band(b)[1] + 1 for b in names], dtype=np.float64)
    # lo + u * (hi - lo), each band's width looked up (not subtracted per person), in place
    value = (hi - lo)[idx]
    value *= u_within
    value += lo[idx]
    return value


def _arrivals(spec: PopulationSpec, start: Month, horizon_months: int) -> np.ndarray:
    months: list[np.ndarray] = []
    if spec.cohort is not None:
        for m, n in sorted(spec.cohort.arrivals(start).items()):
            months.append(np.full(n, m, np.int32))
    if spec.inflow is not None:
        first = spec.inflow.from_month if spec.inflow.from_month is not None else start
        last = spec.inflow.to_month if spec.inflow.to_month is not None else start + horizon_months - 1
        for m in range(max(first, start), min(last, start + horizon_months - 1) + 1):
            months.append(np.full(int(spec.inflow.people_per_month.at(m)), m, np.int32))
    return np.concatenate(months) if months else np.zeros(0, np.int32)


_BLOCK = 1 << 16  # people drawn at a time


def synthesise(spec: PopulationSpec, start: Month, horizon_months: int, streams: Streams,
               previous_wage_sek_per_month: float = 0.0, *, guarantee: tuple[float, float, float] = (18, 21.7, 450),
               member_shares: tuple[float, ...] = ()) -> Population:
    """Create the people a population spec describes.

    Everyone is created up front with an arrival month (cohort waves and monthly inflow);
    people are in stage ``NOT_ARRIVED`` until then. Those entitled to UI at entry have
    ``previous_wage_sek_per_month`` as their UI reference wage. Attributes are drawn independently
    given the composition shares, each from its own stream keyed by person id. ``guarantee`` is
    (months registered before the guarantee, benefit days a month, days to Fas 3), for entry
    clocks drawn from history (``composition.guarantee_history_share``).

    ``member_shares``: other shares of a-kassa members at entry (at most 8), at which the run's
    nets are worked out too (the a-kassa assumption line, :mod:`sim.analysis.assumptions_driving`):
    bit ``k`` of ``ui_member_alt`` and
    ``ui_related_alt`` is who would be a member, and whose UI would be income-related, at
    ``member_shares[k]`` (the same uniform draw against the other share, for the people whose
    composition's share is the population's: an inflow with a share of its own keeps it, as
    :func:`~sim.scenario.paths.with_values` keeps it).
    """
    if len(member_shares) > 8:
        raise ValueError(f"at most 8 other a-kassa membership shares, got {len(member_shares)}")
    arrival = _arrivals(spec, start, horizon_months)
    n = arrival.shape[0]
    pop = _empty(n)
    pop.arrival_month[:] = arrival
    # Cohort first, then the inflow (see _arrivals), each with its own composition. Every draw
    # is keyed by person, so drawing block by block gives the same people while keeping the
    # float64 temporaries of a block, not of everyone, in memory.
    parts = [(0, n, spec.composition, member_shares)]
    if spec.inflow is not None and spec.inflow.composition is not None:
        n_cohort = sum(spec.cohort.arrivals(start).values()) if spec.cohort is not None else 0
        own = "ui_member_share" in spec.inflow.composition.model_fields_set
        parts = [(0, n_cohort, spec.composition, member_shares),
                 (n_cohort, n, spec.inflow.composition, (None,) * len(member_shares) if own else member_shares)]
    for first, stop, c, shares in parts:
        for lo in range(first, stop, _BLOCK):
            _draw(pop, lo, min(lo + _BLOCK, stop), c, streams, previous_wage_sek_per_month, guarantee,
                  member_shares=shares)
    return pop


def _draw(pop: Population, first: int, stop: int, c: Composition, streams: Streams,
          previous_wage_sek_per_month: float, guarantee: tuple[float, float, float] = (18, 21.7, 450),
          spread: float | np.ndarray | None = None, member_shares: tuple[float | None, ...] = ()) -> None:
    """Draw the attributes and entry clocks of people ``first .. stop - 1`` (arrival months
    set) from ``c``. ``spread``: the spread of employability, one or one per person (float32),
    where it is not ``c.employability_sd`` (a batch's blocks that draw their own).
    ``member_shares``: the other a-kassa membership shares of :func:`synthesise` (None: the
    composition's own, for an inflow that keeps its share)."""
    ids = np.arange(first, stop, dtype=np.int64)
    sel = slice(first, stop)
    n = ids.size
    arrival = pop.arrival_month[sel]

    def u(name: str) -> np.ndarray:
        return streams.uniform("population/" + name, 0, ids)

    age = _band_values(u("age_band"), u("age_within"), c.age_bands)
    pop.birth_month[sel] = arrival - np.floor(age * 12).astype(np.int32)
    pop.female[sel] = u("female") < c.female_share
    names, hh = _categorical(u("household"), c.households, HOUSEHOLDS)
    household = np.array([HOUSEHOLD_CODES[k] for k in names], np.uint8)[hh]
    pop.household[sel] = household
    with_children = np.isin(household, [HOUSEHOLD_CODES["single_parent"], HOUSEHOLD_CODES["couple_children"]])
    # 1 + Poisson(mean - 1) children in families with children, by inverse-CDF on one uniform.
    lam = c.children_per_family_mean - 1.0
    uc = u("children")
    k = np.zeros(n, np.uint8)
    cdf = p = np.exp(-lam)
    for j in range(1, 12):
        k += (uc > cdf).astype(np.uint8)
        p = p * lam / j
        cdf = cdf + p
    pop.children[sel] = np.where(with_children, 1 + k, 0)
    foreign_born = u("foreign_born") < c.foreign_born_share
    pop.foreign_born[sel] = foreign_born
    pop.sfi[sel] = foreign_born & (u("sfi") < c.sfi_share_of_foreign_born)
    pop.rehab_need[sel] = u("rehab_need") < c.rehab_need_share
    names, ed = _categorical(u("education"), c.education, EDUCATION_LEVELS)
    pop.education[sel] = np.array([EDUCATION_CODES[k] for k in names], np.uint8)[ed]
    moa = _band_values(u("moa_band"), u("moa_within"), c.months_on_assistance)
    months_on_assistance = np.minimum(np.floor(moa), 30000).astype(np.int16)
    pop.months_on_assistance_at_entry[sel] = months_on_assistance
    # the latent type times its spread, as a float32 product (as the hazards used to form it)
    sd = np.float32(c.employability_sd) if spread is None else np.asarray(spread, np.float32)
    pop.employability[sel] = sd * streams.normal("population/employability", 0, ids).astype(np.float32)
    pop.registered[sel] = u("registered") < c.registered_share
    names, st = _categorical(u("initial_stage"), c.initial_stages, tuple(s.label for s in Stage))
    initial = np.array([Stage[k.upper()] for k in names], np.uint8)[st]
    pop.initial_stage[sel] = initial

    # Clocks at entry.
    in_job = initial == Stage.JOB
    in_fas3 = initial == Stage.FAS3
    u_days = u("job_days")
    lo, hi = c.job_days_at_entry
    flo, fhi = c.fas3_days_at_entry
    pop.job_days[sel] = np.where(in_job, lo + u_days * (hi - lo), np.where(in_fas3, flo + u_days * (fhi - flo), 0))
    in_guarantee = in_job | in_fas3
    pop.in_guarantee[sel] = in_guarantee
    # A UI history: entitled now if outside the guarantee; inside it, the history sets the
    # level of activity support (65 % of the previous wage instead of the flat rate).
    had_ui = u("ui_entitled") < c.ui_entitled_share
    ui_entitled = ~in_guarantee & had_ui
    pop.ui_entitled[sel] = ui_entitled
    # a-kassa members at entry have met the membership condition (joined two years before).
    months, at = np.unique(arrival, return_inverse=True)
    share = np.array([c.ui_member_share.at(int(m)) for m in months])[at]  # the share in force at arrival
    drawn = u("ui_member")
    member = drawn < share
    pop.ui_member_since[sel] = np.where(member, pop.arrival_month[sel] - 24, NOT_MEMBER)
    # the last UI period was income-related: for those entitled now, and for those in the
    # guarantee with a UI history (their activity support is 65 % of it), if members
    pop.ui_income_related[sel] = had_ui & member
    alt_member = np.zeros(n, np.uint8)
    for k, other in enumerate(member_shares):  # the same draw against each other share
        alt_member |= (member if other is None else drawn < other).astype(np.uint8) << k
    pop.ui_member_alt[sel] = alt_member
    pop.ui_related_alt[sel] = np.where(had_ui, alt_member, 0)
    municipal = np.array([c.fas3_municipal_place_share.at(int(m)) for m in months])[at]
    pop.fas3_municipal[sel] = u("fas3_municipal") < municipal
    pop.ui_days[sel] = np.where(ui_entitled, u("ui_days") * 250.0, 0.0)
    pop.reference_wage[sel] = np.where(had_ui, previous_wage_sek_per_month, 0.0)
    # Entry clocks from history: registered recipients past the guarantee's entry have been in it.
    history = np.array([c.guarantee_history_share.at(int(m)) for m in months])[at]
    entry, per_month, fas3_days = guarantee
    past = (pop.registered[sel] & (initial == Stage.OPEN) & ~had_ui & (history > 0)
            & (months_on_assistance >= entry))
    if past.any():
        days = np.where(past, (months_on_assistance - entry) * per_month * history, 0.0).astype(np.float32)
        initial = np.where(past, np.where(days >= fas3_days, Stage.FAS3, Stage.JOB), initial).astype(np.uint8)
        pop.initial_stage[sel] = initial
        pop.job_days[sel] = np.where(past, days, pop.job_days[sel])
        pop.in_guarantee[sel] |= past
    pop.months_out_of_work[sel] = np.where(initial == Stage.WORK, 0, months_on_assistance)
