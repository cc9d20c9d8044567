"""Value types shared by the scenario schema modules (pydantic annotated types)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from sim.scenario.dated import Month, Param, format_month, param_from_yaml, parse_month

__all__ = ["Share", "Rate", "NonNeg", "Count", "HazardRatio", "MonthField", "FieldError", "Sek", "Days",
           "Months", "Duration", "People", "Inflow", "DaysPerMonth", "MAX_SEK", "MAX_DAYS", "MAX_MONTHS", "MAX_PEOPLE"]

# Physical caps: no value of a scenario is meaningful beyond them, and a larger one (1e300 days)
# would overflow the engine's counters or make every sum infinite.
#: Largest amount of money (SEK) in any one parameter: a trillion, about Sweden's state budget.
MAX_SEK = 1e12
#: Largest number of days (benefit days, JOB days): 100 years.
MAX_DAYS = 36_500
#: Largest number of months in a duration or a clock: 100 years.
MAX_MONTHS = 1_200
#: Largest number of people (a cohort, an inflow per month, staff, slots): above Sweden's population.
MAX_PEOPLE = 50_000_000


def _param(*, ge: float | None = None, le: float | None = None, integer: bool = False) -> Any:
    return Annotated[
        Param,
        BeforeValidator(lambda v: param_from_yaml(v, ge=ge, le=le, integer=integer)),
        PlainSerializer(lambda p: p.to_yaml(), return_type=Any),
    ]


Share = _param(ge=0.0, le=1.0)  # a probability or a share, 0..1
Rate = _param(ge=0.0, le=1.0)  # a monthly probability
NonNeg = _param(ge=0.0, le=MAX_SEK)  # any other non-negative number (ratios, per-staff counts)
Sek = _param(ge=0.0, le=MAX_SEK)  # an amount of money
Count = _param(ge=0.0, le=MAX_PEOPLE, integer=True)  # a non-negative whole number of people or places
#: People arriving per month: capped loosely (10^12), as the memory check (which knows the
#: horizon and the machine) refuses a population too large long before.
Inflow = _param(ge=0.0, le=1e12, integer=True)
People = _param(ge=0.0, le=MAX_PEOPLE)  # people, possibly fractional (staff in full-time equivalents)
Days = _param(ge=0.0, le=MAX_DAYS, integer=True)  # a whole number of days
DaysPerMonth = _param(ge=0.0, le=31.0)
Months = _param(ge=0.0, le=MAX_MONTHS)  # a number of months
Duration = _param(ge=1.0, le=600.0, integer=True)  # a programme's longest stay: 1 to 600 months
HazardRatio = _param(ge=0.0, le=100.0)


def _month(v: Any) -> Month:
    """A month as written in a file: 'YYYY-MM' (or a date); a number is not a month."""
    return parse_month(v)


MonthField = Annotated[int, BeforeValidator(_month), PlainSerializer(format_month, return_type=str)]


class FieldError(ValueError):
    """A check across fields that knows which key it is about.

    ``at`` is the path of that key below the object whose validator raised, e.g.
    ``("exit_rates_per_month", "coaching")``; the loader turns it into the file and line.
    """

    def __init__(self, message: str, *at: object) -> None:
        super().__init__(message)
        self.at = tuple(at)


class _Frozen(BaseModel):
    """Base of every scenario object: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True,
                              arbitrary_types_allowed=True)


