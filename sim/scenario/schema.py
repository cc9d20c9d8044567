"""The scenario as frozen, typed objects (validated with pydantic).

This module owns the *shape* of a scenario: every key a scenario file may contain, its type,
unit (in the name) and bounds, and the cross-field rules (shares sum to 1, transitions are
legal, dates inside the horizon). Reading files, ``extends:``, dotted overrides and error
messages with file and line live in :mod:`sim.scenario.load`; nothing downstream re-validates or
mutates these objects.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_serializer,
    field_validator,
    model_validator,
)

from sim.scenario.dated import Month, Param, format_month, parse_month
from sim.scenario.fields import (
    MAX_DAYS,
    MAX_MONTHS,
    MAX_PEOPLE,
    Count,
    Days,
    Duration,
    FieldError,
    HazardRatio,
    MonthField,
    Months,
    People,
    Rate,
    Sek,
    Share,
    _Frozen,
)
from sim.scenario.fields import (
    Inflow as InflowCount,
)
from sim.scenario.rates import Money
from sim.scenario.stages import PROGRAMME_KINDS, STAGES, Stage, legal, stage_from_name

__all__ = [
    "Scenario", "Population", "Composition", "Cohort", "Inflow", "Effects", "Rules",
    "Programme", "Capacity", "Eligibility", "CalendarSpec", "Goal", "CalibrationRef",
    "PAYERS", "PRIORITY_GROUPS", "ATTRIBUTES", "HOUSEHOLDS", "EDUCATION_LEVELS",
    "DESTINATIONS", "MAX_PEOPLE",
]

#: Who pays or receives money (used by budgets here and by the ledger).
PAYERS = ("municipality", "arbetsformedlingen", "forsakringskassan", "state", "region",
          "individual", "employer", "samordningsforbund", "esf")
#: Groups a programme's waiting list can put first, in the order the scenario lists them.
PRIORITY_GROUPS = ("single_parent", "children", "youth", "sfi", "foreign_born", "rehab_need",
                   "long_term", "couple_no_work")
#: Person attributes whose effects on hazards a scenario can set (log hazard ratios).
ATTRIBUTES = ("youth", "age_50_plus", "female", "foreign_born", "sfi", "rehab_need",
              "compulsory_only", "tertiary", "children", "single_parent")
HOUSEHOLDS = ("single", "single_parent", "couple", "couple_children")
EDUCATION_LEVELS = ("compulsory", "upper_secondary", "tertiary")
#: Hazard destinations: stage names, plus ``dropout`` (leave a programme or queue early).
DESTINATIONS = tuple(s.label for s in STAGES) + ("dropout",)
#: Hard ceiling on people in one scenario (:data:`sim.scenario.fields.MAX_PEOPLE`); the memory
#: guard refines it by the horizon.
#: Longest scenario or programme name: it names output folders and files.
MAX_NAME = 100
#: Most programmes in one scenario (the population arrays store a programme in an int8).
MAX_PROGRAMMES = 31  # (the ledger key holds programme + 1 in 5 bits: sim.accounts.book)
#: The codes the population arrays store for household types and education levels.
HOUSEHOLD_CODES = {name: i for i, name in enumerate(HOUSEHOLDS)}
EDUCATION_CODES = {name: i for i, name in enumerate(EDUCATION_LEVELS)}


def _shares(name: str, value: dict[str, float], allowed: tuple[str, ...] | None = None,
            tol: float = 1e-6) -> dict[str, float]:
    if allowed is not None:
        for key in value:
            if key not in allowed:
                raise ValueError(f"unknown {name} {key!r}; allowed: {', '.join(allowed)}")
    for key, share in value.items():
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share for {key!r} must be between 0 and 1, got {share}")
    total = sum(value.values())
    if value and abs(total - 1.0) > tol:
        raise ValueError(f"{name} shares must sum to 1, got {total:.6g}")
    return value


def parse_band(band: str) -> tuple[int, int]:
    """``"18-24"`` -> ``(18, 24)`` (inclusive); ``"60+"`` style is not allowed, give an upper end."""
    parts = str(band).split("-")
    if len(parts) != 2 or not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
        raise ValueError(f"band {band!r} is not written 'LOW-HIGH' with whole numbers, e.g. '18-24'")
    lo, hi = int(parts[0]), int(parts[1])
    if hi < lo:
        raise ValueError(f"band {band!r} ends before it starts")
    return lo, hi


class Composition(_Frozen):
    """Who the people are: shares and distributions used to synthesise a population."""

    age_bands: dict[str, StrictFloat] = Field(default_factory=lambda: {"18-24": 0.25, "25-34": 0.3,
                                                                   "35-49": 0.3, "50-64": 0.15})
    female_share: StrictFloat = Field(0.5, ge=0, le=1)
    households: dict[str, StrictFloat] = Field(default_factory=lambda: {"single": 0.55, "single_parent": 0.2,
                                                                    "couple": 0.1, "couple_children": 0.15})
    children_per_family_mean: StrictFloat = Field(1.8, ge=1, le=10)
    foreign_born_share: StrictFloat = Field(0.4, ge=0, le=1)
    sfi_share_of_foreign_born: StrictFloat = Field(0.3, ge=0, le=1)
    rehab_need_share: StrictFloat = Field(0.2, ge=0, le=1)
    education: dict[str, StrictFloat] = Field(default_factory=lambda: {"compulsory": 0.4, "upper_secondary": 0.45,
                                                                   "tertiary": 0.15})
    months_on_assistance: dict[str, StrictFloat] = Field(default_factory=lambda: {"0-11": 0.4, "12-35": 0.3,
                                                                              "36-96": 0.3})
    employability_sd: StrictFloat = Field(0.7, ge=0, le=5)
    registered_share: StrictFloat = Field(0.8, ge=0, le=1)
    ui_entitled_share: StrictFloat = Field(0.1, ge=0, le=1)  # share with a UI history (entitled, if outside JOB)
    # share who have been a-kassa members for at least the membership condition at entry
    ui_member_share: Share = Param.constant(0.0)
    # share whose Fas 3 placement (if they reach Fas 3) is in municipal operations: the
    # municipality, not ``money.fas3_organiser``, receives its organiser grant
    fas3_municipal_place_share: Share = Param.constant(0.0)
    # entry clocks consistent with history: the share of a registered recipient's months beyond
    # the guarantee's entry (rules.job_entry_after_months_registered) that were paid JOB days.
    # Above 0, such people start in JOB with those days, or in Fas 3 once past the day limit.
    guarantee_history_share: Share = Param.constant(0.0)
    initial_stages: dict[str, StrictFloat] = Field(default_factory=lambda: {"open": 1.0})
    job_days_at_entry: tuple[StrictFloat, StrictFloat] = (0.0, 0.0)
    fas3_days_at_entry: tuple[StrictFloat, StrictFloat] = (450.0, 900.0)

    @field_validator("age_bands")
    @classmethod
    def _ages(cls, v: dict[str, float]) -> dict[str, float]:
        for band in v:
            lo, hi = parse_band(band)
            if lo < 16 or hi > 70:
                raise ValueError(f"age band {band!r} must lie within 16-70")
        return _shares("age band", v)

    @field_validator("months_on_assistance")
    @classmethod
    def _moa(cls, v: dict[str, float]) -> dict[str, float]:
        for band in v:
            parse_band(band)
        return _shares("months-on-assistance band", v)

    @field_validator("households")
    @classmethod
    def _households(cls, v: dict[str, float]) -> dict[str, float]:
        return _shares("household type", v, HOUSEHOLDS)

    @field_validator("education")
    @classmethod
    def _education(cls, v: dict[str, float]) -> dict[str, float]:
        return _shares("education level", v, EDUCATION_LEVELS)

    @field_validator("initial_stages")
    @classmethod
    def _initial(cls, v: dict[str, float]) -> dict[str, float]:
        return _shares("initial stage", v, ("open", "job", "fas3", "work"))

    @field_validator("job_days_at_entry", "fas3_days_at_entry")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(math.isfinite(x) for x in v) or v[0] < 0 or v[1] < v[0]:
            raise ValueError(f"expected [low, high] with 0 <= low <= high, got {list(v)}")
        if v[1] > MAX_DAYS:
            raise ValueError(f"days must be at most {MAX_DAYS} (100 years), got {v[1]:g}")
        return v


def _month_keys(v: object) -> object:
    """Write the keys of a dated table as YYYY-MM (YAML may read 2012-01-01 as a date); two
    keys naming the same month are refused."""
    if not isinstance(v, dict):
        return v
    out: dict[object, object] = {}
    for k, n in v.items():
        key = format_month(parse_month(k)) if not isinstance(k, str) else k
        if key in out:
            shown = k.isoformat() if hasattr(k, "isoformat") else str(k)
            raise ValueError(f"'{shown}' is a second wave in the month {key}; give one number per month")
        out[key] = n
    return out


class Cohort(_Frozen):
    """A reported cohort: ``size`` people, arriving at the start or in dated waves."""

    size: StrictInt = Field(ge=0, le=MAX_PEOPLE)
    waves: Annotated[dict[str, StrictInt] | None, BeforeValidator(_month_keys)] = None  # {YYYY-MM: people}

    @model_validator(mode="after")
    def _waves(self) -> Cohort:
        if self.waves is not None:
            for key, n in self.waves.items():
                try:
                    parse_month(key)
                except ValueError as exc:
                    raise FieldError(str(exc), "waves", key) from None
                if n < 0:
                    raise FieldError(f"wave {key} must have >= 0 people, got {n}", "waves", key)
            if sum(self.waves.values()) != self.size:
                raise ValueError(f"waves must add up to size {self.size}, got {sum(self.waves.values())}")
        return self

    def arrivals(self, start: Month) -> dict[Month, int]:
        """People arriving per month."""
        if self.waves is None:
            return {start: self.size}
        return {parse_month(k): n for k, n in self.waves.items()}


class Inflow(_Frozen):
    """New people arriving every month (e.g. new social-assistance recipients)."""

    people_per_month: InflowCount
    from_month: MonthField | None = None
    to_month: MonthField | None = None
    #: Who the new arrivals are, where they differ from the population's composition: the
    #: keys given here (the inflow's own, ``composition.model_fields_set``) replace the
    #: population's (e.g. new JOB entrants start in JOB with no JOB days used); the rest is the
    #: population's, resolved by :class:`Population` whenever it is built, so a change of the
    #: population's value reaches the inflow. A dump writes the own keys only. None: the same
    #: people as the cohort.
    composition: Composition | None = None

    @field_serializer("composition", mode="wrap")
    def _own_keys(self, composition: Composition | None, handler: SerializerFunctionWrapHandler) -> object:
        """Write the inflow's own keys only: the rest is inherited again when the dump is built."""
        out = handler(composition)
        if composition is None or not isinstance(out, dict):
            return out
        own = composition.model_fields_set
        return {k: v for k, v in out.items() if k in own}

    def __eq__(self, other: object) -> bool:
        """Equal values and the same own keys (inflows that resolve alike but inherit different
        keys follow the population differently)."""
        if not isinstance(other, Inflow):
            return NotImplemented
        if not super().__eq__(other):
            return False
        mine, theirs = self.composition, other.composition
        return mine is None or theirs is None or mine.model_fields_set == theirs.model_fields_set

    @model_validator(mode="after")
    def _order(self) -> Inflow:
        if self.from_month is not None and self.to_month is not None and self.to_month < self.from_month:
            raise FieldError(f"to_month {format_month(self.to_month)} is before from_month "
                             f"{format_month(self.from_month)}", "to_month")
        return self


class Population(_Frozen):
    """The people simulated: a cohort, a monthly inflow, or both."""

    composition: Composition = Field(default_factory=Composition)
    cohort: Cohort | None = None
    inflow: Inflow | None = None

    @model_validator(mode="after")
    def _inflow_inherits(self) -> Population:
        """The inflow's composition is the population's with the inflow's own keys replaced.

        Resolved here, after both are built, from the own keys the inflow's composition was
        given (its ``model_fields_set``): a built inflow passed in again (``load.rebuild``) is
        resolved against the new population's composition as one read from a file is."""
        inflow = self.inflow
        if inflow is None or inflow.composition is None:
            return self
        own = inflow.composition
        keys = own.model_fields_set
        values = {k: getattr(own if k in keys else self.composition, k) for k in type(own).model_fields}
        if all(values[k] is getattr(own, k) for k in values):
            return self  # (already resolved against this composition)
        resolved = Composition.model_construct(_fields_set=set(keys), **values)
        # (self is this validation's own new object: nobody else holds it yet)
        object.__setattr__(self, "inflow", inflow.model_copy(update={"composition": resolved}))
        return self

    @model_validator(mode="after")
    def _some(self) -> Population:
        if self.cohort is None and self.inflow is None:
            raise ValueError("give a 'cohort' or an 'inflow' (or both)")
        return self


class Effects(_Frozen):
    """How attributes, duration and the latent type scale hazards."""

    work: dict[str, StrictFloat] = Field(default_factory=dict)  # attribute -> log hazard ratio
    studies: dict[str, StrictFloat] = Field(default_factory=dict)
    duration_log_hr_per_year: StrictFloat = Field(-0.15, ge=-5, le=5)
    duration_cap_years: StrictFloat = Field(5.0, ge=0, le=50)

    @field_validator("work", "studies")
    @classmethod
    def _attrs(cls, v: dict[str, float]) -> dict[str, float]:
        for key, val in v.items():
            if key not in ATTRIBUTES:
                raise ValueError(f"unknown attribute {key!r}; allowed: {', '.join(ATTRIBUTES)}")
            if not -10 <= val <= 10:
                raise ValueError(f"log hazard ratio for {key!r} must be within -10..10, got {val}")
        return v


class Rules(_Frozen):
    """Benefit rules and clocks (DOMAIN.md B2); dated where reforms changed them."""

    benefit_days_per_month: StrictFloat = Field(21.7, gt=0, le=31)
    ui_days_max: Days = Param.constant(300)
    ui_days_max_with_child: Days = Param.constant(450)
    job_days_to_fas3: Days = Param.constant(450)
    job_entry_after_months_registered: Months = Param.constant(18)
    # Fas 3 (the sysselsättningsfas): 1 while the guarantee's day limit moves people into it, 0
    # from February 2016, when it took nobody new; 1 while its placements run, 0 from February
    # 2018, when the last had ended (those left go back to the guarantee). The day limit stays:
    # activity support without a UI history still ends there.
    fas3_open_to_entrants: Share = Param(((None, 1.0), (2016 * 12 + 1, 0.0)))
    fas3_placements_run: Share = Param(((None, 1.0), (2018 * 12 + 1, 0.0)))
    # each month, the share of Fas 3's stock moved back to the guarantee while it is emptied
    fas3_phaseout_per_month: Rate = Param(((None, 0.0), (2016 * 12 + 1, 0.057)))
    # 1: people past the day limit keep Fas 3's exit rates once it is closed (an assumption line's
    # other value); 0: they leave at the guarantee's (JOB's) rates
    fas3_rates_after_closure: Share = Param.constant(0.0)
    work_condition_months: StrictInt = Field(6, ge=1, le=12)  # within the last 12 months
    # 12 months of a-kassa membership for income-related UI; from March 2020 each month counted as
    # four (DOMAIN D1: 3 months from 2020)
    ui_membership_months: Months = Param(((None, 12.0), (2020 * 12 + 2, 3.0)))
    pension_age: StrictFloat = Field(65, ge=50, le=80)

    @model_validator(mode="after")
    def _fas3_switches(self) -> Rules:
        for name in ("fas3_open_to_entrants", "fas3_placements_run", "fas3_rates_after_closure"):
            bad = [v for _, v in getattr(self, name).steps if v not in (0.0, 1.0)]
            if bad:
                raise FieldError(f"expected 1 (yes) or 0 (no) in every month, got {bad[0]:g}", name)
        both = self.fas3_open_to_entrants.change_months + self.fas3_placements_run.change_months
        for month in (None, *both):
            at = self.fas3_open_to_entrants.first if month is None else self.fas3_open_to_entrants.at(month)
            run = self.fas3_placements_run.first if month is None else self.fas3_placements_run.at(month)
            if at > run:
                when = "" if month is None else f" from {format_month(month)}"
                raise FieldError(f"Fas 3 cannot take entrants while its placements do not run{when}",
                                 "fas3_open_to_entrants")
        return self


class Capacity(_Frozen):
    """How many can take part at once: fixed slots, or staff x caseload."""

    slots: Count | None = None
    staff: People | None = None
    caseload_per_staff: People | None = None
    starts_per_staff_per_month: People | None = None
    max_starts_per_month: Count | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Capacity:
        has_slots = self.slots is not None
        has_staff = self.staff is not None or self.caseload_per_staff is not None
        if has_slots == has_staff:
            raise ValueError("give either 'slots' or both 'staff' and 'caseload_per_staff'")
        if has_staff and (self.staff is None or self.caseload_per_staff is None):
            raise ValueError("'staff' and 'caseload_per_staff' go together")
        if self.starts_per_staff_per_month is not None and self.staff is None:
            raise ValueError("'starts_per_staff_per_month' needs 'staff'")
        return self

    def slots_at(self, month: Month) -> int:
        """Places in ``month``."""
        if self.slots is not None:
            return int(self.slots.at(month))
        assert self.staff is not None and self.caseload_per_staff is not None
        return int(self.staff.at(month) * self.caseload_per_staff.at(month) + 1e-9)

    def starts_cap_at(self, month: Month) -> int | None:
        """The most new starts in ``month`` (None: unlimited)."""
        caps = []
        if self.max_starts_per_month is not None:
            caps.append(int(self.max_starts_per_month.at(month)))
        if self.starts_per_staff_per_month is not None:
            assert self.staff is not None
            caps.append(int(self.staff.at(month) * self.starts_per_staff_per_month.at(month) + 1e-9))
        return min(caps) if caps else None


class Criteria(_Frozen):
    """Conditions on a person for a referral (see :class:`Eligibility`)."""

    stages: tuple[str, ...] | None = None  # None: any stage the programme refers from
    min_months_on_assistance: StrictInt = Field(0, ge=0, le=MAX_MONTHS)
    min_job_days: StrictFloat = Field(0, ge=0, le=MAX_DAYS)
    max_job_days: StrictFloat | None = Field(None, ge=0, le=MAX_DAYS)
    age_min: StrictFloat = Field(16, ge=16, le=70)
    age_max: StrictFloat = Field(66, ge=16, le=70)
    requires_rehab_need: StrictBool | None = None
    social_assistance_only: StrictBool = False

    @field_validator("stages")
    @classmethod
    def _stages(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("list at least one stage people are referred from")
        for name in v:
            stage = stage_from_name(name)
            if not legal(stage, Stage.WAITING):
                raise ValueError(f"people cannot be referred from stage {name!r}")
        return v

    @model_validator(mode="after")
    def _ages(self) -> Criteria:
        if self.age_max < self.age_min:
            raise ValueError(f"age_max {self.age_max} is below age_min {self.age_min}")
        if self.max_job_days is not None and self.max_job_days < self.min_job_days:
            raise ValueError("max_job_days is below min_job_days")
        return self


class Eligibility(Criteria):
    """Who may be referred to a programme: people meeting every condition given here and, if
    ``any_of`` lists groups, the conditions of at least one group (e.g. "people on social
    assistance unemployed 18 months, or anyone in the guarantee")."""

    stages: tuple[str, ...] = ("open",)
    allow_repeat: StrictBool = False  # may people who already started this programme be referred again?
    any_of: tuple[Criteria, ...] = ()

    @model_validator(mode="after")
    def _groups(self) -> Eligibility:
        for i, group in enumerate(self.any_of):
            for name in group.stages or ():
                if name not in self.stages:
                    raise FieldError(f"stage {name!r} is not among the programme's eligibility stages "
                                     f"({', '.join(self.stages)})", "any_of", i, "stages")
        return self


_PROGRAMME_EXITS = ("work", "studies", "training", "education", "subsidised", "coaching", "other",
                    "dropout")


class Programme(_Frozen):
    """One programme: who it takes, how many, for how long, what it costs and does."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=MAX_NAME)
    title: str = ""
    kind: Literal["coaching", "training", "education", "subsidised_job"]
    funder: Literal["municipality", "arbetsformedlingen", "forsakringskassan", "region", "samordningsforbund",
                    "esf"] = "municipality"
    eligibility: Eligibility = Field(default_factory=Eligibility)
    referral_rate_per_month: Rate
    capacity: Capacity
    priority: tuple[str, ...] = ()
    max_duration_months: Duration
    max_wait_months: StrictInt | None = Field(None, ge=0, le=600)
    motivation_loss_per_waiting_month: Share = Param.constant(0.0)
    exit_rates_per_month: dict[str, Rate] = Field(default_factory=dict)
    lock_in_hazard_ratio: HazardRatio = Param.constant(1.0)
    effect_after_hazard_ratio: HazardRatio = Param.constant(1.0)
    effect_fade_months: Months = Param.constant(12.0)
    completion_to_work_share: Share = Param.constant(0.0)
    counts_as_work: StrictBool = False
    # the programme enrols its participants in an a-kassa when they start (DOMAIN D1)
    enrols_in_ui_fund: StrictBool = False
    wage_sek_per_month: Sek | None = None
    employer: Literal["municipality", "employer"] = "municipality"  # who pays a subsidised job's wage
    wage_subsidy_share_of_wage_cost: Share = Param.constant(0.0)  # paid by Arbetsförmedlingen
    wage_subsidy_max_sek_per_month: Sek | None = None
    production_value_share_of_wage_cost: Share = Param.constant(0.5)
    cost_sek_per_participant_month: dict[str, Sek] = Field(default_factory=dict)
    staff_cost_sek_per_month: Sek = Param.constant(0.0)  # the programme's staff, in all
    cost_sek_per_staff_month: Sek | None = None  # or: per staff member, times capacity.staff
    budget_sek_per_year: dict[str, Sek] = Field(default_factory=dict)
    start_month: MonthField | None = None
    end_month: MonthField | None = None

    @field_validator("priority")
    @classmethod
    def _priority(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for g in v:
            if g not in PRIORITY_GROUPS:
                raise ValueError(f"unknown priority group {g!r}; allowed: {', '.join(PRIORITY_GROUPS)}")
        if len(set(v)) != len(v):
            raise ValueError("a priority group is listed twice")
        return v

    @field_validator("exit_rates_per_month")
    @classmethod
    def _exits(cls, v: dict[str, Param]) -> dict[str, Param]:
        for key in v:
            if key not in _PROGRAMME_EXITS:
                raise ValueError(f"unknown exit {key!r}; allowed: {', '.join(_PROGRAMME_EXITS)}")
        return v

    @field_validator("cost_sek_per_participant_month", "budget_sek_per_year")
    @classmethod
    def _payers(cls, v: dict[str, Param]) -> dict[str, Param]:
        for key in v:
            if key not in PAYERS:
                raise ValueError(f"unknown payer {key!r}; allowed: {', '.join(PAYERS)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Programme:
        if self.kind == "subsidised_job" and self.wage_sek_per_month is None:
            raise ValueError("a subsidised_job needs 'wage_sek_per_month'")
        if self.kind in ("coaching", "training", "education") and self.counts_as_work:
            raise ValueError(f"a {self.kind} programme cannot count as work toward the UI condition")
        own = PROGRAMME_KINDS[self.kind]
        for dest in self.exit_rates_per_month:
            if dest == "dropout":
                continue
            target = stage_from_name(dest)
            if target is own:
                raise FieldError(f"a {self.kind} programme cannot exit to its own kind ({dest!r})",
                                 "exit_rates_per_month", dest)
            if not legal(own, target):
                raise FieldError(f"a move from {own.label!r} to {dest!r} is not a legal transition",
                                 "exit_rates_per_month", dest)
        for payer in self.budget_sek_per_year:
            pays_wage = self.kind == "subsidised_job" and payer == self.employer
            if payer not in self.cost_sek_per_participant_month and not pays_wage:
                raise ValueError(f"budget for {payer!r} but no cost_sek_per_participant_month for it")
        if self.start_month is not None and self.end_month is not None and self.end_month <= self.start_month:
            raise ValueError("end_month must come after start_month")
        if self.cost_sek_per_staff_month is not None:
            if self.capacity.staff is None:
                raise FieldError("a cost per staff member needs 'capacity.staff'", "cost_sek_per_staff_month")
            if any(v for _, v in self.staff_cost_sek_per_month.steps):
                raise FieldError("give either 'staff_cost_sek_per_month' (in all) or 'cost_sek_per_staff_month' "
                                 "(per staff member), not both", "cost_sek_per_staff_month")
        return self

    def staff_cost_at(self, month: Month) -> float:
        """What the programme's staff cost in ``month`` (a total, or staff x cost per staff member)."""
        if self.cost_sek_per_staff_month is None:
            return self.staff_cost_sek_per_month.at(month)
        assert self.capacity.staff is not None
        return self.capacity.staff.at(month) * self.cost_sek_per_staff_month.at(month)

    @property
    def stage(self) -> Stage:
        """The stage participants occupy."""
        return PROGRAMME_KINDS[self.kind]


class CalendarSpec(_Frozen):
    """Dated events beyond reforms: budget years and follow-up measurements."""

    budget_year_start_month: StrictInt = Field(1, ge=1, le=12)
    follow_up_months_after_exit: tuple[StrictInt, ...] = (6, 12)
    status_dates: tuple[MonthField, ...] = ()

    @field_validator("follow_up_months_after_exit")
    @classmethod
    def _fu(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(m < 1 or m > 120 for m in v):
            raise ValueError("follow-up months must be between 1 and 120")
        return tuple(sorted(set(v)))


class Goal(_Frozen):
    """A programme's stated goal: reported as a probability, never fitted."""

    name: str
    programme: str
    measure: Literal["work", "work_or_studies"]
    within_months_of_start: StrictInt = Field(ge=1, le=120)
    target_share: StrictFloat = Field(ge=0, le=1)
    source: str | None = None


class CalibrationRef(_Frozen):
    """Calibrated parameters to use: ``parameters: {from_calibration: c2}``.

    Names a calibration result (``calibration/results/<name>/posterior.parquet``, written by
    ``almsim calibrate``). Each replication then uses one posterior draw of the calibrated
    parameters in place of the values written in the scenario (see :func:`sim.runs.replications.replicate`).
    """

    from_calibration: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$", max_length=MAX_NAME)


def _default_transitions() -> dict[str, dict[str, Param]]:
    return {}


class Scenario(_Frozen):
    """A fully resolved scenario (after ``extends:`` and overrides)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$", max_length=MAX_NAME)  # names output folders
    title: str = ""
    description: str = ""
    start_month: MonthField
    horizon_months: StrictInt = Field(ge=1, le=600)
    population: Population
    transitions: dict[str, dict[str, Rate]] = Field(default_factory=_default_transitions)
    effects: Effects = Field(default_factory=Effects)
    rules: Rules = Field(default_factory=Rules)
    programmes: tuple[Programme, ...] = ()
    calendar: CalendarSpec = Field(default_factory=CalendarSpec)
    goals: tuple[Goal, ...] = ()
    money: Money = Field(default_factory=Money)
    parameters: CalibrationRef | None = None  # posterior draws replace calibrated values per replication

    @field_validator("transitions")
    @classmethod
    def _transitions(cls, v: dict[str, dict[str, Param]]) -> dict[str, dict[str, Param]]:
        for src, dests in v.items():
            s = stage_from_name(src)
            if s is Stage.NOT_ARRIVED:
                raise ValueError("'not_arrived' has no hazards; arrivals are set by the population")
            for dst in dests:
                if dst == "dropout":
                    raise ValueError(f"'dropout' is for programmes, not for stage {src!r}")
                d = stage_from_name(dst)
                if not legal(s, d):
                    raise ValueError(f"a move from {src!r} to {dst!r} is not a legal transition")
                if d is Stage.WAITING:
                    raise ValueError("referrals to waiting lists are set per programme, not in transitions")
        return v

    @model_validator(mode="after")
    def _cross(self) -> Scenario:
        names = [p.name for p in self.programmes]
        if len(names) > MAX_PROGRAMMES:
            raise FieldError(f"at most {MAX_PROGRAMMES} programmes per scenario, got {len(names)}",
                             "programmes", MAX_PROGRAMMES)
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"programme name {sorted(dup)[0]!r} is used twice")
        end = self.start_month + self.horizon_months
        for goal in self.goals:
            if goal.programme not in names:
                raise ValueError(f"goal {goal.name!r} names unknown programme {goal.programme!r}")
        for d in self.calendar.status_dates:
            if not self.start_month <= d < end:
                raise ValueError(f"status date {format_month(d)} is outside the horizon "
                                 f"{format_month(self.start_month)}..{format_month(end - 1)}")
        if self.population.cohort is not None:
            for m in self.population.cohort.arrivals(self.start_month):
                if not self.start_month <= m < end:
                    raise ValueError(f"cohort wave {format_month(m)} is outside the horizon "
                                     f"{format_month(self.start_month)}..{format_month(end - 1)}")
        return self

    @property
    def end_month(self) -> Month:
        """The first month after the horizon."""
        return self.start_month + self.horizon_months

    def programme(self, name: str) -> Programme:
        """The programme called ``name``."""
        for p in self.programmes:
            if p.name == name:
                return p
        raise KeyError(name)
