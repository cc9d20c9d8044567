"""Strict checks of values read from input files other than scenarios (calibration jobs,
target and space files), each failing with the file, line and key of the value.

The scenario schema does the same with pydantic; these files are small and their rules mostly
relate values to each other, so they are checked by hand with these helpers. A number is an
``int`` or ``float`` read from YAML: never a boolean (``yes``) and never quoted text (``'12'``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sim.scenario.errors import ScenarioError, describe_value, did_you_mean
from sim.scenario.load import KeyPath, Provenance

__all__ = ["Checker"]


class Checker:
    """Checks values of one document, reporting with its provenance."""

    def __init__(self, doc: Mapping[str, Any], provenance: Provenance) -> None:
        self.doc = doc
        self.prov = provenance
        self.file = provenance.file

    def fail(self, path: KeyPath, message: str, key: str | None = None) -> ScenarioError:
        """An error at ``path`` (shown as ``key``, default: the path joined with dots)."""
        return self.prov.error(path, message, key)

    def keys(self, value: Mapping[str, Any], path: KeyPath, allowed: Any, key: str | None = None,
             required: tuple[str, ...] = ()) -> None:
        """Refuse unknown keys (with a suggestion) and missing required ones."""
        allowed = list(allowed)
        key = key if key is not None else (_shown(path) or None)
        for k in value:
            if k not in allowed:
                hint = did_you_mean(k, allowed) or f" (allowed: {', '.join(allowed)})"
                raise self.fail((*path, k), f"unknown key{hint}", _join(key, k))
        for k in required:
            if k not in value:
                raise self.fail(path, f"missing required key {k!r}", key)

    def mapping(self, value: Any, path: KeyPath, key: str | None = None, what: str = "a mapping") -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected {what} (key: value lines), got {describe_value(value)}", key)
        return value

    def text(self, value: Any, path: KeyPath, key: str | None = None, *, max_length: int = 10_000,
             empty: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"expected text, got {describe_value(value)}", key)
        if not empty and not value.strip():
            raise self.fail(path, "must not be empty", key)
        if len(value) > max_length:
            raise self.fail(path, f"must be at most {max_length} characters long, got {len(value)}", key)
        return value

    def number(self, value: Any, path: KeyPath, key: str | None = None, *, ge: float | None = None,
               gt: float | None = None, le: float | None = None, lt: float | None = None,
               whole: bool = False) -> float | int:
        """A finite number within the bounds (a whole number if ``whole``)."""
        if whole:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(path, f"expected a whole number, got {describe_value(value)}", key)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"expected a number, got {describe_value(value)}", key)
        if not math.isfinite(value):
            raise self.fail(path, f"expected a finite number, got {describe_value(value)}", key)
        got = describe_value(value)
        if ge is not None and value < ge:
            raise self.fail(path, f"must be >= {ge:g}, got {got}", key)
        if gt is not None and value <= gt:
            raise self.fail(path, f"must be > {gt:g}, got {got}", key)
        if le is not None and value > le:
            raise self.fail(path, f"must be <= {le:g}, got {got}", key)
        if lt is not None and value >= lt:
            raise self.fail(path, f"must be < {lt:g}, got {got}", key)
        return value

    def flag(self, value: Any, path: KeyPath, key: str | None = None) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {describe_value(value)}", key)
        return value

    def text_list(self, value: Any, path: KeyPath, key: str | None = None, *, max_items: int = 1000) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {describe_value(value)}", key)
        if len(value) > max_items:
            raise self.fail(path, f"expected at most {max_items} items, got {len(value)}", key)
        return [self.text(v, (*path, i), f"{key or _shown(path)}[{i}]") for i, v in enumerate(value)]


def _shown(path: KeyPath) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")


def _join(key: str | None, part: Any) -> str | None:
    return f"{key}.{part}" if key else str(part)
