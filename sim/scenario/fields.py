"""Value types shared by the scenario schema modules (pydantic annotated types)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from sim.scenario.dated import Month, Param, format_month, param_from_yaml, parse_month

__all__ = ["Share", "Rate", "NonNeg", "Count", "HazardRatio", "MonthField", "FieldError"]


def _param(*, ge: float | None = None, le: float | None = None, integer: bool = False) -> Any:
    return Annotated[
        Param,
        BeforeValidator(lambda v: param_from_yaml(v, ge=ge, le=le, integer=integer)),
        PlainSerializer(lambda p: p.to_yaml(), return_type=Any),
    ]


Share = _param(ge=0.0, le=1.0)  # a probability or a share, 0..1
Rate = _param(ge=0.0, le=1.0)  # a monthly probability
NonNeg = _param(ge=0.0)  # any non-negative number (SEK, counts, ratios)
Count = _param(ge=0.0, integer=True)  # a non-negative whole number
HazardRatio = _param(ge=0.0, le=100.0)


def _month(v: Any) -> Month:
    if isinstance(v, int) and not isinstance(v, bool) and 1900 * 12 <= v < 2201 * 12:
        return v
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


