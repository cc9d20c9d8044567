"""Scenario files: YAML in, a validated :class:`~sim.schema.Scenario` out.

This module owns reading scenario files and everything that happens before the schema sees
the data: safe YAML, ``extends:``, dotted overrides, and the provenance that lets every error
name the file, line and key it comes from. The shape of a scenario lives in :mod:`sim.schema`.

Loading is two explicit steps, as in demes:

1. :func:`parse_file` reads a file and its bases into plain data plus a :class:`Provenance`
   (which file and line wrote each key);
2. :func:`build` validates plain data into a frozen :class:`~sim.schema.Scenario`.

:func:`load_scenario` does both. Every bad input raises :class:`~sim.errors.ScenarioError`.

Rules for files:

* At most 1 MiB of UTF-8 text, one YAML document holding a mapping, indented with spaces
  (a line whose indentation contains a tab is refused, even inside a block scalar).
* Safe YAML only: plain text, numbers, booleans, null, dates, lists and mappings. Anchors and
  aliases (``&a``/``*a``), merge keys (``<<``) and tags such as ``!!python/...`` are refused
  (anchors are the "billion laughs" vector; ``extends:`` and dotted overrides do their job).
  Duplicate keys are an error. Nesting deeper than 32 levels is refused.
* ``extends: base.yaml`` names a base file relative to the extending file. The base is
  loaded first (recursively), then this file is merged on top: mappings merge key by key;
  everything else replaces, in particular *lists replace wholesale* (all programmes of a
  child replace all of the base's) and so does a *single parameter* (a number, a dated
  value ``{2012-01: 100, 2013-07: 200}``, or ``{value: ..., source: ...}``) or a table of plain
  numbers (shares such as ``age_bands``, ``effects.work``, cohort ``waves``), whose entries
  only make sense together. Bases must resolve (after following links) to a file inside the
  *parent of the top-level file's folder*: ``scenarios/c2.yaml`` may extend
  ``national.yaml`` or ``defaults/national.yaml`` but not ``/etc/x`` or ``../../x.yaml``.
  Chains are limited to 16 files and cycles are reported with the whole chain.
* A key containing dots, at any level, is an override applied after this file's merge:
  ``transitions.open.work: 0.02`` or ``programmes.c2.capacity.staff: {2007-01: 3}``. After
  ``programmes`` (or any list of mappings with a ``name``) a path part is the item's name.
  An override behaves as if the nested mapping had been written out, so it merges and
  replaces by the rules above. A path that does not exist is an error, except that a new key
  may be added to an existing mapping (the schema then judges it). Overrides given to
  :func:`load_scenario` (the command line's ``--set path=VALUE``) are applied last.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import stat
import typing
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.events import AliasEvent, StreamEndEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from sim.errors import (
    MISSING,
    ScenarioError,
    did_you_mean,
    find_key,
    from_validation_error,
    schema_keys_at,
    schema_type_at,
    show_path,
)
from sim.params import Param
from sim.schema import Scenario

__all__ = [
    "load_scenario", "parse_file", "build", "dump_scenario", "scenario_hash",
    "Location", "Provenance", "KeyPath", "MAX_FILE_BYTES",
]

#: A key's place in a document: mapping keys and list indices from the top.
KeyPath = tuple[Hashable, ...]

#: Largest scenario file accepted (1 MiB).
MAX_FILE_BYTES = 1024 * 1024
_MAX_DEPTH = 32
_MAX_EXTENDS = 16
_MAX_INT = 2**63 - 1  # no count or amount in a scenario needs more; bigger breaks float()
_SET = "--set"

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # what YAML counts as a new line


@dataclass(frozen=True, slots=True)
class Location:
    """Where a key was written: a file (``--set`` for the command line) and a 1-based line."""

    file: str
    line: int | None = None


class Provenance(dict[KeyPath, Location]):
    """Where each key of a parsed document was written, keyed by its :data:`KeyPath`.

    Attributes:
        file: the top-level file (used for problems that belong to no key).
    """

    def __init__(self, file: str, entries: dict[KeyPath, Location] | None = None) -> None:
        super().__init__(entries or {})
        self.file = file

    def locate(self, path: KeyPath) -> Location:
        """The location of ``path``, or of its nearest ancestor that was written down."""
        for n in range(len(path), -1, -1):
            loc = self.get(path[:n])
            if loc is not None:
                return loc
        return Location(self.file)


# --------------------------------------------------------------------------------------------
# Public API


def load_scenario(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Scenario:
    """Read, resolve and validate a scenario file.

    Args:
        path: the scenario file.
        overrides: ``"dotted.path=VALUE"`` strings applied last (VALUE is read as YAML).

    Raises:
        ScenarioError: for any problem with the file, its bases, the overrides or the values.
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    doc, provenance = parse_file(path, overrides)
    return build(doc, provenance)


def parse_file(path: str | os.PathLike[str],
               overrides: Sequence[str] = ()) -> tuple[dict[str, Any], Provenance]:
    """Read a scenario file into plain data, resolving ``extends:`` and dotted overrides.

    Returns:
        The merged document (no ``extends`` and no dotted keys left) and its provenance.

    Raises:
        ScenarioError: for unreadable files, bad YAML, broken ``extends:`` or overrides.
    """
    file = os.fspath(path)
    real = os.path.realpath(file)
    allowed_root = os.path.dirname(os.path.dirname(real))
    tree = _resolve(file, real, allowed_root, [])
    for ov in _command_line_overrides(overrides):
        _apply_override(tree, ov)
    provenance = Provenance(file)
    doc = _flatten(tree, (), provenance)
    assert isinstance(doc, dict)
    return doc, provenance


def build(doc: Any, provenance: Provenance | None = None) -> Scenario:
    """Validate plain data into a :class:`~sim.schema.Scenario`.

    The input is copied, never changed. The first problem (in document order) is raised,
    located with ``provenance`` when given.

    Raises:
        ScenarioError: if the data is not a valid scenario.
    """
    prov = provenance if provenance is not None else Provenance("<scenario>")
    if not isinstance(doc, dict):
        raise ScenarioError(f"a scenario must be a mapping of keys to values, got "
                            f"{type(doc).__name__}", file=prov.file)
    doc = copy.deepcopy(doc)
    _refuse_huge_numbers(doc, (), doc, prov)
    def where(path: KeyPath) -> tuple[str, int | None]:
        loc = prov.locate(path)
        return loc.file, loc.line

    try:
        return Scenario.model_validate(doc)
    except ValidationError as exc:
        raise from_validation_error(exc, doc, where) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        # A schema check that failed in a way it did not plan for; still one clean line.
        raise ScenarioError(f"internal error while checking the scenario ({type(exc).__name__}: "
                            f"{exc}); please report this", file=prov.file) from exc


def dump_scenario(scenario: Scenario) -> str:
    """The fully resolved scenario as YAML that :func:`load_scenario` reads back equal."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 (hex) of the scenario's canonical JSON: equal scenarios, equal hashes.

    Whole floats are written as integers first, so a default of ``3880`` and a loaded
    ``3880.0`` (equal values, and equal scenarios) hash the same.
    """
    canonical = json.dumps(_canonical(scenario.model_dump(mode="json")), sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# Reading one file into a tree of located nodes


@dataclass(eq=False, slots=True)
class _Node:
    """A value with where it was written; ``value`` is a dict or list of nodes, or a scalar."""

    value: Any
    loc: Location


@dataclass(slots=True)
class _Override:
    """A dotted key, applied after its file has been merged onto its base."""

    prefix: KeyPath  # where the mapping holding the dotted key sits in its file
    shown: str  # that place, as shown in messages
    parts: list[str]
    value: _Node
    loc: Location = field(default_factory=lambda: Location(_SET))


class _Loader(yaml.SafeLoader):
    """A SafeLoader that refuses anchors, aliases and deep nesting while composing."""

    def __init__(self, text: str, file: str, lines: bool) -> None:
        super().__init__(text)
        self.file = file
        self.lines = lines
        self.depth = 0
        # Errors at the end of the stream point one line past the text; keep them on it.
        self.last_line = max(1, len(_LINE_BREAKS.findall(text.rstrip("\r\n\x85\u2028\u2029"))) + 1)

    def fail(self, message: str, mark: yaml.Mark | None, key: str | None = None) -> ScenarioError:
        line = min(mark.line + 1, self.last_line) if mark is not None and self.lines else None
        return ScenarioError(message, file=self.file, line=line, key=key)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            raise self.fail("YAML anchors and aliases (&name, *name) are not allowed: they can "
                            "expand into huge documents ('billion laughs'); write the values out "
                            "or use 'extends:'", event.start_mark)
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail(f"nested more than {_MAX_DEPTH} levels deep", event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _read_text(file: str, real: str) -> str:
    """The file's text, after the checks that come before any YAML parsing."""
    try:
        info = os.stat(real)
        if stat.S_ISDIR(info.st_mode):
            raise ScenarioError("is a folder, not a scenario file", file=file)
        if info.st_size > MAX_FILE_BYTES:
            raise ScenarioError(f"file is too large ({info.st_size / 2**20:.1f} MB; the limit "
                                f"is 1 MB)", file=file)
        with open(real, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError("file not found", file=file) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read the file ({exc.strerror or exc})", file=file) from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError("file is too large (more than 1 MB; the limit is 1 MB)", file=file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ScenarioError(f"not valid UTF-8 text (byte 0x{data[exc.start]:02x}); save the file "
                            f"as UTF-8", file=file, line=line) from None
    text = text.removeprefix("\ufeff")
    for number, line_text in enumerate(_LINE_BREAKS.split(text), 1):
        content = line_text.lstrip(" \t")
        if content and not content.startswith("#") and "\t" in line_text[: len(line_text) - len(content)]:
            raise ScenarioError("a tab character is used for indentation; YAML needs spaces",
                                file=file, line=number)
    return text


def _parse_text(text: str, file: str, overrides: list[_Override] | None,
                lines: bool = True) -> _Node | None:
    """YAML text -> located tree (``None`` for no document). Dotted keys go to ``overrides``
    (``None``: dotted keys are not allowed here)."""
    try:
        loader = _Loader(text, file, lines)  # the reader checks characters right away
    except yaml.reader.ReaderError as exc:
        line = len(_LINE_BREAKS.findall(text, 0, exc.position)) + 1 if lines else None
        raise ScenarioError(f"invalid YAML: the character U+{exc.character:04X} is not allowed",
                            file=file, line=line) from None
    try:
        loader.get_event()  # stream start
        if loader.check_event(StreamEndEvent):
            return None
        node = loader.compose_document()
        if not loader.check_event(StreamEndEvent):
            raise loader.fail("more than one YAML document in the file (a second one starts "
                              "here); put one scenario in each file", loader.get_event().start_mark)
        if node is None:
            return None
        return _to_tree(loader, node, (), "", overrides)
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or "syntax error"
        context = f" ({exc.context})" if exc.context else ""
        raise loader.fail(f"invalid YAML: {problem}{context}", exc.problem_mark) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"invalid YAML: {' '.join(str(exc).split())}", file=file) from None
    finally:
        loader.dispose()


def _to_tree(loader: _Loader, node: Any, path: KeyPath, shown: str,
             overrides: list[_Override] | None) -> _Node:
    loc = Location(loader.file, node.start_mark.line + 1 if loader.lines else None)
    if isinstance(node, ScalarNode):
        return _Node(_scalar(loader, node, shown), loc)
    if isinstance(node, SequenceNode):
        if node.tag != _TAG + "seq":
            raise loader.fail(f"the YAML tag {node.tag!r} is not allowed", node.start_mark, shown or None)
        items = []
        for i, item in enumerate(node.value):
            name = _node_name(item)
            item_shown = f"{shown}.{name}" if name is not None else f"{shown}[{i}]"
            items.append(_to_tree(loader, item, (*path, i), item_shown, overrides))
        return _Node(items, loc)
    if not isinstance(node, MappingNode) or node.tag != _TAG + "map":
        raise loader.fail(f"the YAML tag {node.tag!r} is not allowed", node.start_mark, shown or None)
    out: dict[Hashable, _Node] = {}
    seen: dict[Hashable, int] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            raise loader.fail("a key must be a plain value (text or a number), not a list or "
                              "mapping", key_node.start_mark, shown or None)
        if key_node.tag == _TAG + "merge":
            raise loader.fail("YAML merge keys ('<<') are not allowed; use 'extends:' or dotted "
                              "overrides", key_node.start_mark, shown or None)
        key = _scalar(loader, key_node, shown)
        key_shown = f"{shown}.{key}" if shown else str(key)
        key_line = key_node.start_mark.line + 1
        if key in seen:
            where = f" (first written on line {seen[key]})" if loader.lines else ""
            raise loader.fail(f"duplicate key{where}", key_node.start_mark, key_shown)
        seen[key] = key_line
        key_loc = Location(loader.file, key_line if loader.lines else None)
        if isinstance(key, str) and "." in key:
            if overrides is None:
                raise loader.fail("a dotted key cannot appear inside the value of another dotted "
                                  "key or a --set value", key_node.start_mark, key_shown)
            parts = key.split(".")
            if not all(p.strip() for p in parts):
                raise loader.fail("a dotted key has an empty part", key_node.start_mark, key_shown)
            value = _to_tree(loader, value_node, (*path, key), key_shown, None)
            value.loc = key_loc
            overrides.append(_Override(path, shown, parts, value, key_loc))
            continue
        value = _to_tree(loader, value_node, (*path, key), key_shown, overrides)
        value.loc = key_loc  # a value is reported where its key was written
        out[key] = value
    return _Node(out, loc)


def _scalar(loader: _Loader, node: ScalarNode, shown: str) -> Any:
    if node.tag == _TAG + "value":  # a lone '=' is text, not the YAML 1.1 'value' type
        return node.value
    if node.tag not in _SCALAR_TAGS:
        raise loader.fail(f"the YAML tag {node.tag!r} is not allowed; scenario files hold text, "
                          "numbers, dates, lists and mappings", node.start_mark, shown or None)
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        raise loader.fail(f"cannot read the value {node.value[:40]!r} ({exc})", node.start_mark,
                          shown or None) from None


def _node_name(node: Any) -> str | None:
    """The ``name:`` of a list item written as a mapping, if it is plain text."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == "name" and isinstance(v, ScalarNode) \
                    and v.tag == _TAG + "str":
                return str(v.value)
    return None


# --------------------------------------------------------------------------------------------
# extends: and merging


def _resolve(file: str, real: str, allowed_root: str, chain: list[tuple[str, str]]) -> _Node:
    """Read ``file``, merge it onto its base (if it extends one), apply its dotted keys."""
    overrides: list[_Override] = []
    tree = _parse_text(_read_text(file, real), file, overrides)
    if tree is None:
        raise ScenarioError("the file holds no scenario (it is empty or only comments)", file=file)
    if not isinstance(tree.value, dict):
        raise ScenarioError("the top level of a scenario must be a mapping (key: value lines), "
                            f"got {_kind(tree.value)}", file=file, line=tree.loc.line)
    tree.loc = Location(file)
    extends = tree.value.pop("extends", None)
    if extends is not None:
        chain = [*chain, (file, real)]
        base_file, base_real = _base_of(extends, file, real, allowed_root, chain)
        tree = _merge(_resolve(base_file, base_real, allowed_root, chain), tree, ())
    for ov in overrides:
        _apply_override(tree, ov)
    return tree


def _base_of(extends: _Node, file: str, real: str, allowed_root: str,
             chain: list[tuple[str, str]]) -> tuple[str, str]:
    """Check an ``extends:`` value; return the base's shown name and real path."""
    def fail(message: str) -> ScenarioError:
        return ScenarioError(message, file=extends.loc.file, line=extends.loc.line, key="extends")

    target = extends.value
    if not isinstance(target, str) or not target.strip():
        raise fail(f"must name a base scenario file, got {_kind(target)}")
    if os.path.isabs(target) or target.startswith("~"):
        raise fail(f"{target!r} is an absolute path; name the base relative to this file")
    base_real = os.path.realpath(os.path.join(os.path.dirname(real), target))
    base_file = os.path.normpath(os.path.join(os.path.dirname(file), target))
    if os.path.commonpath([base_real, allowed_root]) != allowed_root:
        root_shown = os.path.normpath(os.path.join(os.path.dirname(chain[0][0]), ".."))
        raise fail(f"{target!r} is outside {root_shown!r}; a base must be inside the parent of "
                   f"the top-level file's folder")
    if base_real in [r for _, r in chain]:
        top_dir = os.path.dirname(chain[0][1])
        names = [os.path.relpath(r, top_dir) for _, r in chain] + [os.path.relpath(base_real, top_dir)]
        raise fail("extends cycle: " + " -> ".join(names))
    if len(chain) >= _MAX_EXTENDS:
        raise fail(f"the extends chain is longer than {_MAX_EXTENDS} files")
    if not os.path.exists(base_real):
        raise fail(f"base file {target!r} not found (looked for {base_file})")
    if not os.path.isfile(base_real):
        raise fail(f"base {target!r} is not a file")
    return base_file, base_real


def _merge(base: _Node, child: _Node, path: KeyPath) -> _Node:
    """``child`` written on top of ``base``: mappings merge key by key unless the schema says
    the value at ``path`` is one value (a parameter or a table of numbers); the rest replaces."""
    if not (isinstance(base.value, dict) and isinstance(child.value, dict)) or _is_one_value(path):
        return child
    out = dict(base.value)
    for key, node in child.value.items():
        out[key] = _merge(out[key], node, (*path, key)) if key in out else node
    return _Node(out, child.loc)


def _apply_override(tree: _Node, ov: _Override) -> None:
    """Write ``ov.value`` at ``ov.prefix`` + ``ov.parts`` in the merged ``tree``."""
    def fail(message: str, shown: str) -> ScenarioError:
        return ScenarioError(message, file=ov.loc.file, line=ov.loc.line, key=shown or None)

    node, schema_path, shown = tree, list(ov.prefix), ov.shown
    for key in ov.prefix:  # the mapping that held the dotted key (an earlier one may have replaced it)
        inner = node.value
        if not (isinstance(inner, dict) and key in inner) and not (
                isinstance(inner, list) and isinstance(key, int) and key < len(inner)):
            raise fail("an earlier dotted key in this file replaced the mapping this dotted key is in",
                       shown)
        node = inner[key]
    for i, part in enumerate(ov.parts):
        last = i == len(ov.parts) - 1
        here = f"{shown}.{part}" if shown else part
        if isinstance(node.value, list):
            names = [_item_name(item) for item in node.value]
            if not node.value or None in names:
                raise fail("is a list without names; set the whole list instead", shown)
            if part not in names:
                noun = shown.rsplit(".", 1)[-1].removesuffix("s") or "item"
                known = did_you_mean(part, names, cutoff=0.5) or f"; known: {', '.join(names)}"
                raise fail(f"no {noun} named {part!r}{known}", here)
            index = len(names) - 1 - names[::-1].index(part)
            schema_path.append(index)
            if last:
                node.value[index] = _merge(node.value[index], ov.value, tuple(schema_path))
                return
            node = node.value[index]
        elif isinstance(node.value, dict):
            key = find_key(node.value, part)
            schema_path.append(part)
            if key is MISSING:
                if last:
                    node.value[part] = ov.value
                    return
                if not _is_mapping_type(schema_type_at(schema_path)):
                    allowed = schema_keys_at(schema_path[:-1])
                    if allowed is not None and part not in allowed:
                        raise fail(f"unknown key{did_you_mean(part, allowed)}", here)
                    raise fail(f"no key {part!r} here to set values inside", here)
                node.value[part] = _Node({}, ov.loc)
                key = part
            if last:
                node.value[key] = _merge(node.value[key], ov.value, tuple(schema_path))
                return
            node = node.value[key]
        else:
            raise fail(f"is a single value ({_kind(node.value)}), so it has no {part!r} inside", shown)
        shown = here


def _command_line_overrides(overrides: Sequence[str]) -> list[_Override]:
    out = []
    for text in overrides:
        path, sep, value_text = str(text).partition("=")
        path = path.strip()
        if not sep or not path:
            raise ScenarioError(f"expected dotted.path=VALUE, got {text!r}", file=_SET)
        parts = path.split(".")
        if not all(p.strip() for p in parts):
            raise ScenarioError("a dotted path has an empty part", file=_SET, key=path)
        try:
            value = _parse_text(value_text, _SET, None, lines=False)
        except ScenarioError as exc:
            raise ScenarioError(exc.message, file=_SET, key=path) from None
        loc = Location(_SET)
        out.append(_Override((), "", parts, value if value is not None else _Node(None, loc), loc))
    return out


def _is_mapping_type(tp: Any) -> bool:
    return (isinstance(tp, type) and issubclass(tp, BaseModel)) or typing.get_origin(tp) is dict


def _is_one_value(path: KeyPath) -> bool:
    """Whether the schema makes the value at ``path`` one value that replaces, never merges:
    a parameter, or a table of plain numbers (shares, effects, waves)."""
    tp = schema_type_at(path)
    if tp is Param:
        return True
    return typing.get_origin(tp) is dict and schema_type_at([*path, ""]) in (int, float)


def _flatten(node: _Node, path: KeyPath, provenance: Provenance) -> Any:
    provenance[path] = node.loc
    if isinstance(node.value, dict):
        return {k: _flatten(v, (*path, k), provenance) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [_flatten(v, (*path, i), provenance) for i, v in enumerate(node.value)]
    return node.value


def _item_name(node: _Node) -> str | None:
    if isinstance(node.value, dict):
        name = node.value.get("name")
        if name is not None and isinstance(name.value, str):
            return name.value
    return None


def _refuse_huge_numbers(value: Any, path: KeyPath, doc: Any, prov: Provenance) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_INT:
        loc = prov.locate(path)
        raise ScenarioError(f"number is too large ({len(str(abs(value)))} digits)",
                            file=loc.file, line=loc.line, key=show_path(doc, path) or None)
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_huge_numbers(item, (*path, key), doc, prov)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_huge_numbers(item, (*path, i), doc, prov)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"[:80]
