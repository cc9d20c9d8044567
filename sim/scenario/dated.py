"""Months and dated parameters: the value types scenario files are made of.

A *month* is an ``int`` counting months since year 0 (``2012-01`` is ``2012 * 12 + 0``), so
month arithmetic is integer arithmetic. A :class:`Param` is a possibly dated value, in the
style of OpenFisca's parameters: a scalar, or ``{2012-01: 100, 2013-07: 200}`` meaning 100
from January 2012 and 200 from July 2013, optionally wrapped as
``{value: ..., source: "...", status: uncalibrated}`` so each number can carry where it
comes from and whether it is still a guess.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Month", "parse_month", "format_month", "Param", "STATUSES", "param_from_yaml"]

Month = int
_MONTH_RE = re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)  # ASCII digits only, two for the month

#: Where a parameter's value comes from.
STATUSES = ("rule", "reported", "derived", "assumed", "uncalibrated", "calibrated")
Status = Literal["rule", "reported", "derived", "assumed", "uncalibrated", "calibrated"]


def parse_month(value: Any) -> Month:
    """Parse ``"2012-01"`` (or a ``datetime.date``, which YAML makes of ``2012-01-01``) into a
    month number. Nothing else is a month: not a number, not ``2012-1``, not other digits.

    Raises:
        ValueError: if the value is not a month of the form YYYY-MM.
    """
    if isinstance(value, _dt.date):
        if not 1900 <= value.year <= 2200:
            raise ValueError(f"the year must be within 1900-2200, got {value.isoformat()}")
        return value.year * 12 + value.month - 1
    if isinstance(value, str):
        m = _MONTH_RE.fullmatch(value)
        if m:
            year, month = int(m.group(1)), int(m.group(2))
            if 1 <= month <= 12 and 1900 <= year <= 2200:
                return year * 12 + month - 1
    shown = value.isoformat() if isinstance(value, _dt.date) else repr(value)
    raise ValueError(f"expected a month written YYYY-MM (e.g. 2012-01), got {shown}")


def format_month(month: Month) -> str:
    """Write a month number as ``YYYY-MM``."""
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


@dataclass(frozen=True, slots=True)
class Param:
    """A number that may change on given months, with its source.

    Attributes:
        steps: ``((month, value), ...)`` in increasing month order. The first step's month
            is ``None`` for a value in force from the beginning of time.
        source: where the number comes from (a seed file or a public source), if given.
        status: how the number was obtained (see :data:`STATUSES`), if given.
    """

    steps: tuple[tuple[Month | None, float], ...]
    source: str | None = None
    status: str | None = None

    @classmethod
    def constant(cls, value: float, source: str | None = None, status: str | None = None) -> Param:
        """A value in force at all times."""
        return cls(((None, value),), source, status)

    def at(self, month: Month) -> float:
        """The value in force in ``month``.

        Before the first dated step the first value applies (a scenario's first date is the
        date the parameter was introduced; the simulation may start earlier).
        """
        current = self.steps[0][1]
        for start, value in self.steps:
            if start is None or start <= month:
                current = value
            else:
                break
        return current

    @property
    def change_months(self) -> tuple[Month, ...]:
        """Months at which the value changes (dated reforms)."""
        return tuple(m for m, _ in self.steps[1:] if m is not None)

    @property
    def first(self) -> float:
        """The first value (the one in force before any reform)."""
        return self.steps[0][1]

    def to_yaml(self) -> Any:
        """The plain-data form that :func:`param_from_yaml` reads back."""
        if self.steps[0][0] is None and len(self.steps) == 1:
            value: Any = self.steps[0][1]
        else:
            value = {format_month(m) if m is not None else "always": v for m, v in self.steps}
        if self.source is None and self.status is None:
            return value
        out: dict[str, Any] = {"value": value}
        if self.source is not None:
            out["source"] = self.source
        if self.status is not None:
            out["status"] = self.status
        return out


_PARAM_KEYS = {"value", "source", "status"}


def _check_number(value: Any, *, ge: float | None, le: float | None, integer: bool) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    if not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, int) and abs(value) > 2**63:
        raise ValueError(f"number too large: {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"expected a finite number, got {value!r}")
    if integer and value != int(value):
        raise ValueError(f"expected a whole number, got {value!r}")
    if ge is not None and value < ge:
        raise ValueError(f"must be >= {ge:g}, got {value!r}")
    if le is not None and value > le:
        raise ValueError(f"must be <= {le:g}, got {value!r}")
    return int(value) if integer else float(value)


def param_from_yaml(
    raw: Any, *, ge: float | None = None, le: float | None = None, integer: bool = False
) -> Param:
    """Build a :class:`Param` from its YAML form, checking every value against the bounds.

    Accepted forms: ``3.5``; ``{2012-01: 100, 2013-07: 200}``;
    ``{value: <either of those>, source: "...", status: uncalibrated}``.

    Raises:
        ValueError: with a message fit for a scenario author.
    """
    if isinstance(raw, Param):
        for _, v in raw.steps:
            _check_number(v, ge=ge, le=le, integer=integer)
        return raw
    source = status = None
    if isinstance(raw, dict) and "value" in raw:
        extra = set(raw) - _PARAM_KEYS
        if extra:
            raise ValueError(
                f"unexpected key {sorted(map(str, extra))[0]!r} next to 'value' (allowed: value, source, status)"
            )
        source = raw.get("source")
        if source is not None and not isinstance(source, str):
            raise ValueError("'source' must be text")
        status = raw.get("status")
        if status is not None and status not in STATUSES:
            raise ValueError(f"'status' must be one of {', '.join(STATUSES)}; got {status!r}")
        raw = raw["value"]
    if isinstance(raw, dict):
        if not raw:
            raise ValueError("a dated value needs at least one 'YYYY-MM: value' entry")
        steps: list[tuple[Month | None, float]] = []
        for key, v in raw.items():
            month = None if key == "always" else parse_month(key)
            steps.append((month, _check_number(v, ge=ge, le=le, integer=integer)))
        # 'always' (the value before the first date) may stand anywhere: JSON with sorted
        # keys puts it after the dates.
        steps.sort(key=lambda step: step[0] is not None)
        months = [m for m, _ in steps]
        dated = [m for m in months if m is not None]
        if any(b <= a for a, b in zip(dated, dated[1:], strict=False)):
            raise ValueError("dates of a dated value must be in increasing order")
        return Param(tuple(steps), source, status)
    return Param(((None, _check_number(raw, ge=ge, le=le, integer=integer)),), source, status)
