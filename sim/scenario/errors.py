"""The one exception a bad scenario raises, and how each problem is put into words.

Every problem with a scenario file -- unreadable bytes, YAML syntax, an unknown key, a value out
of bounds, a broken ``extends:`` chain -- becomes a :class:`ScenarioError` that names the file,
the line and the key, so the command line can print it as one line and exit with code 2.

This module also turns pydantic's validation errors into such a line: it picks the first error
in document order, words it for a scenario author (with a suggestion for a misspelt key, taken
from the keys the schema allows at that place), and finds the key it is about, including for
checks across fields that pydantic reports on a whole model. Files and lines come from the
caller (:mod:`sim.scenario.load` keeps the provenance).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
import types
import typing
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.scenario.dated import format_month, parse_month
from sim.scenario.schema import Scenario

__all__ = [
    "ScenarioError", "did_you_mean", "describe_value", "validation_message",
    "from_validation_error", "show_path", "find_key", "MISSING", "schema_type_at", "schema_keys_at",
]

# Control characters (C0, DEL, C1), line and paragraph separators and bidirectional-text
# controls would break the one-line promise or garble a terminal; they are shown as escapes.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _one_line(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\n``)."""
    return "".join(_escape(ch) if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI else ch
                   for ch in text)


class ScenarioError(Exception):
    """A scenario that cannot be used, with where the problem was written.

    ``str(error)`` is one line, ``FILE:LINE: KEY: message``, leaving out the parts that are
    unknown, e.g. ``scenarios/c2.yaml:14: programmes.c2.capacitty: unknown key (did you mean
    'capacity'?)``.

    Attributes:
        file: the file the problem is in, as the user named it (``--set`` for a value given
            on the command line).
        line: 1-based line of the key or value at fault, or ``None`` when no line applies
            (an empty file, a missing top-level key, a ``--set`` value).
        key: dotted path to the key at fault, programmes and goals by name
            (``programmes.c2.capacity.slots``), other list items by index
            (``calendar.status_dates[1]``); ``None`` for problems with the file as a whole.
        message: what is wrong, in words meant for the scenario's author.
    """

    def __init__(self, message: str, *, file: str, line: int | None = None,
                 key: str | None = None) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where] + ([self.key] if self.key else []) + [self.message]
        return _one_line(": ".join(parts))

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments need help to survive pickling (process pools, Dask).
        return (_rebuild, (self.message, self.file, self.line, self.key))


def _rebuild(message: str, file: str, line: int | None, key: str | None) -> ScenarioError:
    return ScenarioError(message, file=file, line=line, key=key)


def did_you_mean(word: object, choices: Iterable[object], cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to ``word``, or ``""``.

    ``cutoff`` is difflib's similarity threshold; short names such as ``c2`` need about 0.5.
    """
    names = [str(c) for c in choices]
    close = difflib.get_close_matches(str(word), names, n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def describe_value(value: Any, limit: int = 60) -> str:
    """A short, one-line description of a value as the author wrote it."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, _dt.date):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# pydantic error type -> message; ``{got}`` is the value as written, the rest come from ``ctx``.
_TEMPLATES = {
    "missing": "missing required key",
    "int_parsing": "expected a whole number, got {got}",
    "int_type": "expected a whole number, got {got}",
    "int_from_float": "expected a whole number, got {got}",
    "float_parsing": "expected a number, got {got}",
    "float_type": "expected a number, got {got}",
    "finite_number": "expected a finite number, got {got}",
    "string_type": "expected text, got {got}",
    "bool_parsing": "expected true or false, got {got}",
    "bool_type": "expected true or false, got {got}",
    "model_type": "expected a mapping (key: value lines), got {got}",
    "model_attributes_type": "expected a mapping (key: value lines), got {got}",
    "dict_type": "expected a mapping (key: value lines), got {got}",
    "tuple_type": "expected a list, got {got}",
    "list_type": "expected a list, got {got}",
    "greater_than_equal": "must be >= {ge}, got {got}",
    "greater_than": "must be > {gt}, got {got}",
    "less_than_equal": "must be <= {le}, got {got}",
    "less_than": "must be < {lt}, got {got}",
    "string_pattern_mismatch": "must match the pattern {pattern!r}, got {got}",
    "too_long": "expected at most {max_length} items, got {actual_length}",
    "string_too_long": "must be at most {max_length} characters long, got {got}",
    "too_short": "expected at least {min_length} items, got {actual_length}",
}


def validation_message(error: Mapping[str, Any], allowed: Sequence[str] | None = None) -> str:
    """Words for one pydantic error (an item of ``ValidationError.errors()``).

    Args:
        error: the pydantic error dict (``type``, ``loc``, ``msg``, ``input``, ``ctx``).
        allowed: for an unknown key, the keys allowed at that place, to suggest the closest.
    """
    kind = error.get("type", "")
    ctx = dict(error.get("ctx") or {})
    value = error.get("input")
    loc = tuple(error.get("loc") or ())
    if kind == "extra_forbidden":
        key = loc[-1] if loc else value
        if allowed:
            hint = did_you_mean(key, allowed) or f" (allowed: {', '.join(allowed)})"
        else:
            hint = ""
        return f"unknown key{hint}"
    if kind == "invalid_key" or (len(loc) > 1 and loc[-1] == "[key]"):
        key = loc[-1] if kind == "invalid_key" and loc else loc[-2] if len(loc) > 1 else value
        return f"keys here must be text, got {describe_value(key)}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        choices = re.findall(r"'([^']*)'", expected)
        return f"must be one of {expected}; got {describe_value(value)}" + (
            did_you_mean(value, choices) if isinstance(value, str) else "")
    template = _TEMPLATES.get(kind)
    if template is not None:
        ctx = {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in ctx.items()}
        try:
            return template.format(got=describe_value(value), **ctx)
        except (KeyError, IndexError, ValueError):
            pass
    msg = str(error.get("msg", "invalid value"))
    msg = msg[:1].lower() + msg[1:]
    return f"{msg}, got {describe_value(value)}"


# --------------------------------------------------------------------------------------------
# What the schema expects at a place in a document


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated[...]`` and ``X | None`` down to the type that matters."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def schema_type_at(path: Sequence[Any]) -> Any:
    """The schema type of the value at ``path`` (``None`` if the schema has no such place)."""
    tp: Any = Scenario
    for part in path:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            info = tp.model_fields.get(part) if isinstance(part, str) else None
            if info is None:
                return None
            tp = info.annotation
        elif origin in (tuple, list):
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    return _unwrap(tp)


def schema_keys_at(path: Sequence[Any]) -> list[str] | None:
    """Keys allowed in the mapping at ``path``, if the schema fixes them."""
    tp = schema_type_at(path)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return None


# --------------------------------------------------------------------------------------------
# pydantic errors -> one located ScenarioError


class _Missing:
    pass


MISSING: Any = _Missing()


def find_key(mapping: dict[Any, Any], part: Any) -> Any:
    """The key of ``mapping`` that ``part`` names (pydantic and dotted paths write keys as text)."""
    try:
        if part in mapping:
            return part
    except TypeError:
        return MISSING
    for key in mapping:
        if str(key) == str(part) or repr(key) == part:
            return key
    return MISSING


def _walk(doc: Any, loc: Sequence[Any]) -> tuple[list[Any], list[Any], tuple[float, ...]]:
    """Split a pydantic ``loc`` into the part present in ``doc`` (as real keys) and the rest;
    also return the document-order position of the place."""
    path: list[Any] = []
    order: list[float] = []
    node = doc
    for i, part in enumerate(loc):
        if isinstance(node, dict):
            key = find_key(node, part)
            if key is not MISSING:
                order.append(list(node).index(key))
                path.append(key)
                node = node[key]
                continue
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            order.append(part)
            path.append(part)
            node = node[part]
            continue
        rest = [p for p in loc[i:] if not (isinstance(p, str) and ("[" in p or "(" in p))]
        return path, rest, (*order, float("inf"))
    return path, [], tuple(order)


def _value_at(doc: Any, path: Sequence[Any]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def show_path(doc: Any, path: Sequence[Any], rest: Sequence[Any] = ()) -> str:
    """``path`` as shown to authors: programmes and goals by name, other list items by index."""
    out = ""
    node = doc
    for key in path:
        if isinstance(node, list):
            item = node[key]
            name = item.get("name") if isinstance(item, dict) else None
            out += f".{name}" if isinstance(name, str) else f"[{key}]"
        else:
            out += f".{key}"
        node = node[key]
    for part in rest:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.removeprefix(".")


def _index_where(items: Any, test: Callable[[Any], bool], last: bool = False) -> int | None:
    if not isinstance(items, list):
        return None
    hits = [i for i, item in enumerate(items) if test(item)]
    return (hits[-1] if last else hits[0]) if hits else None


def _same_month(a: Any, b: str) -> bool:
    try:
        return format_month(parse_month(a)) == b
    except ValueError:
        return False


def _month_key(table: Any, month: str) -> Any:
    """The key of ``table`` that names ``month`` (written YYYY-MM or as a date)."""
    if isinstance(table, dict):
        for key in table:
            if _same_month(key, month):
                return key
    return None


def _named(items: Any, name: str, last: bool = False) -> int | None:
    return _index_where(items, lambda p: isinstance(p, dict) and p.get("name") == name, last)


def _get(node: Any, key: str) -> Any:
    return node.get(key) if isinstance(node, dict) else None


# Checks across fields report no place of their own; these find the key their message is about.
# Each maps (value at the error's place, regex match) to a path below that place.
_LOCATORS: list[tuple[re.Pattern[str], Callable[[Any, re.Match[str]], tuple[Any, ...] | None]]] = [
    (re.compile(r"programme name '(.+?)' is used twice"),
     lambda v, m: ("programmes", i, "name") if (i := _named(_get(v, "programmes"), m[1], True))
     is not None else None),
    (re.compile(r"goal '(.+?)' names unknown programme"),
     lambda v, m: ("goals", i, "programme") if (i := _named(_get(v, "goals"), m[1]))
     is not None else None),
    (re.compile(r"status date (\S+) is outside"),
     lambda v, m: ("calendar", "status_dates", i) if (i := _index_where(
         _get(_get(v, "calendar"), "status_dates"), lambda d: _same_month(d, m[1]))) is not None
     else None),
    (re.compile(r"cohort wave (\S+) is outside"),
     lambda v, m: ("population", "cohort", "waves", k) if (k := _month_key(
         _get(_get(_get(v, "population"), "cohort"), "waves"), m[1])) is not None else None),
    (re.compile(r"budget for '(.+?)' but no"), lambda v, m: ("budget_sek_per_year", m[1])),
    (re.compile(r"a subsidised_job needs"), lambda v, m: ("kind",)),
    (re.compile(r"cannot count as work"), lambda v, m: ("counts_as_work",)),
    (re.compile(r"cannot exit to its own kind"), lambda v, m: ("exit_rates_per_month",)),
    (re.compile(r"end_month must come after"), lambda v, m: ("end_month",)),
    (re.compile(r"age_max .* is below age_min"), lambda v, m: ("age_max",)),
    (re.compile(r"max_job_days is below"), lambda v, m: ("max_job_days",)),
    (re.compile(r"waves must add up"), lambda v, m: ("waves",)),
    (re.compile(r"'starts_per_staff_per_month' needs"), lambda v, m: ("starts_per_staff_per_month",)),
]


def _refine(doc: Any, path: list[Any], message: str) -> list[Any]:
    """Point a value error at the key it is about, below the place pydantic reported."""
    value = _value_at(doc, path)
    for pattern, locate in _LOCATORS:
        match = pattern.search(message)
        if match:
            extra = locate(value, match)
            if extra is not None:
                found, rest, _ = _walk(doc, [*path, *extra])
                if not rest:
                    return found
            break
    # Otherwise follow the quoted names in the message ("a move from 'other' to 'work'").
    names = re.findall(r"'([^']+)'", message.split(";")[0])
    for _ in range(2):  # a second pass for names quoted before the key that holds them
        for name in names:
            if isinstance(value, dict) and (key := find_key(value, name)) is not MISSING:
                path, value = [*path, key], value[key]
            elif isinstance(value, list) and name in [str(v) for v in value]:
                index = [str(v) for v in value].index(name)
                path, value = [*path, index], value[index]
    return path


def from_validation_error(exc: ValidationError, doc: dict[str, Any],
                          locate: Callable[[tuple[Any, ...]], tuple[str, int | None]]) -> ScenarioError:
    """The first error of ``exc`` in document order, as a :class:`ScenarioError`.

    Args:
        exc: what pydantic raised while validating ``doc``.
        doc: the plain data that was validated.
        locate: maps a path of real keys in ``doc`` to the file and line that wrote it.
    """
    errors = exc.errors(include_url=False)
    placed = [(_walk(doc, err["loc"]), err) for err in errors]
    (path, rest, _), err = min(placed, key=lambda item: item[0][2])  # first in document order
    cause = (err.get("ctx") or {}).get("error")
    if err["type"] == "value_error" and not rest and getattr(cause, "at", None):
        found, left, _ = _walk(doc, [*path, *cause.at])
        path = found if not left else _refine(doc, path, validation_message(err))
    elif err["type"] in ("value_error", "assertion_error") and not rest:
        path = _refine(doc, path, validation_message(err))
    allowed = schema_keys_at(path[:-1]) if err["type"] == "extra_forbidden" and path else None
    file, line = locate(tuple(path))
    return ScenarioError(validation_message(err, allowed), file=file, line=line,
                         key=show_path(doc, path, rest) or None)
