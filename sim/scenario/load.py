"""Scenario files: YAML in, a validated :class:`~sim.scenario.schema.Scenario` out.

This module owns reading scenario files and everything that happens before the schema sees
the data: safe YAML, ``extends:``, dotted overrides, and the provenance that lets every error
name the file, line and key it comes from. The shape of a scenario lives in :mod:`sim.scenario.schema`;
reading one file's YAML text into located values (the safe loader) lives in :mod:`sim.scenario.yaml_reader`.

Loading is two explicit steps, as in demes:

1. :func:`parse_file` reads a file and its bases into plain data plus a :class:`Provenance`
   (which file and line wrote each key);
2. :func:`build` validates plain data into a frozen :class:`~sim.scenario.schema.Scenario`.

:func:`load_scenario` does both. Every bad input raises :class:`~sim.scenario.errors.ScenarioError`.

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
  only make sense together. A base is any readable regular file: a path relative to the
  folder of the file that names it, an absolute path, or ``almsim:NAME`` for a scenario shipped
  with almsim (:mod:`sim.scenario.shipped`). A path with a NUL byte, a folder, a FIFO or a
  device is refused before it is opened.
  Chains are limited to 16 files and cycles are reported with the whole chain.
* A key containing dots, at any level, is an override applied after this file's merge:
  ``transitions.open.work: 0.02`` or ``programmes.c2.capacity.staff: {2007-01: 3}``. After
  ``programmes`` (or any list of mappings with a ``name``) a path part is the item's name.
  An override behaves as if the nested mapping had been written out, so it merges and
  replaces by the rules above. A path that does not exist is an error, except that a new key
  may be added to an existing mapping (the schema then judges it). Overrides given to
  :func:`load_scenario` (the command line's ``--set path=VALUE``) are applied last; one written
  ``FILE_OR_NAME:path=VALUE`` only to the file it names (:func:`overrides_per_file` shares the
  ``--set`` values of a command out among its files).

Calibration jobs, target and space files are read by :func:`read_document` with the same rules.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import typing
from collections.abc import Iterable, Sequence
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.scenario.dated import Param
from sim.scenario.errors import (
    MISSING,
    ScenarioError,
    did_you_mean,
    find_key,
    from_validation_error,
    schema_keys_at,
    schema_type_at,
    show_path,
)
from sim.scenario.schema import Scenario
from sim.scenario.shipped import is_shipped, shipped_path
from sim.scenario.yaml_reader import (
    MAX_FILE_BYTES,
    KeyPath,
    Location,
    Node,
    Override,
    check_path,
    parse_text,
    read_text,
)

__all__ = [
    "load_scenario", "parse_file", "build", "rebuild", "dump_scenario", "scenario_hash",
    "split_set", "set_matches", "overrides_per_file", "read_document",
    "Location", "Provenance", "KeyPath", "MAX_FILE_BYTES",
]

_MAX_EXTENDS = 16
_MAX_INT = 2**63 - 1  # no count or amount in a scenario needs more; bigger breaks float()
_SET = "--set"


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

    def error(self, path: KeyPath, message: str, key: str | None = None) -> ScenarioError:
        """A :class:`ScenarioError` at the place ``path`` was written, shown as ``key``."""
        loc = self.locate(tuple(path))
        if key is None:
            key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[") or None
        return ScenarioError(message, file=loc.file, line=loc.line, key=key)


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
    file, real = _top_file(path)
    tree = _resolve(file, real, [])
    if isinstance(overrides, str):
        overrides = [overrides]
    mine = [body for target, body in map(split_set, overrides)
            if target is None or set_matches(target, file, _tree_name(tree))]
    for ov in _command_line_overrides(mine):
        _apply_override(tree, ov)
    provenance = Provenance(file)
    doc = _flatten(tree, (), provenance)
    assert isinstance(doc, dict)
    return doc, provenance


def split_set(text: str) -> tuple[str | None, str]:
    """``"FILE_OR_NAME:path=VALUE"`` -> ``(FILE_OR_NAME, "path=VALUE")``; a bare
    ``"path=VALUE"`` -> ``(None, "path=VALUE")``. The target ends at the last ``:`` before ``=``
    (so ``almsim:national:horizon_months=12`` targets ``almsim:national``)."""
    text = str(text)
    left = text.partition("=")[0]
    if ":" not in left:
        return None, text
    target = left.rsplit(":", 1)[0]
    return target, text[len(target) + 1:]


def set_matches(target: str, file: str, name: str | None) -> bool:
    """Whether ``--set TARGET:...`` is meant for ``file``: the path as given, its base name
    (with or without ``.yaml``), or the scenario's ``name``."""
    base = os.path.basename(file)
    return target in (file, base, os.path.splitext(base)[0], name) or (
        "\0" not in target and os.path.normpath(target) == os.path.normpath(file))


def overrides_per_file(files: Sequence[str], overrides: Sequence[str]) -> list[list[str]]:
    """The ``--set`` values each of ``files`` gets.

    ``FILE_OR_NAME:path=VALUE`` goes to the files it names (see :func:`set_matches`); a bare
    ``path=VALUE`` goes to every file where the path exists (with one file: to that file, which
    then reports a path it lacks).

    Raises:
        ScenarioError: (file ``--set``) for a target that names no file, or a bare path that
            exists in none of several files, naming the files.
    """
    files = [os.fspath(f) for f in files]
    per: list[list[str]] = [[] for _ in files]
    trees: dict[int, Node | None] = {}

    def tree(i: int) -> Node | None:
        if i not in trees:
            try:
                trees[i] = _resolve(*_top_file(files[i]), [])
            except ScenarioError:
                trees[i] = None  # the file's own error is reported when it is loaded
        return trees[i]

    def fits(i: int, ov: Override) -> bool:
        t = tree(i)
        if t is None:
            return True
        try:
            _apply_override(copy.deepcopy(t), ov)
        except ScenarioError:
            return False
        return True

    for text in overrides:
        target, body = split_set(text)
        (ov,) = _command_line_overrides([body])
        path = ".".join(ov.parts)
        if target is not None:
            hits = [i for i, f in enumerate(files) if set_matches(target, f, _tree_name(tree(i)))]
            if not hits:
                raise ScenarioError(f"{target!r} names none of the scenarios given ({', '.join(files)}): "
                                    f"give a file, its base name or a scenario's name", file=_SET, key=path)
        elif len(files) == 1:
            hits = [0]
        else:
            hits = [i for i in range(len(files)) if fits(i, ov)]
            if not hits:
                raise ScenarioError(f"none of the scenarios has this path ({', '.join(files)})",
                                    file=_SET, key=path)
        for i in hits:
            per[i].append(text)
    return per


def read_document(path: str | os.PathLike[str], what: str) -> tuple[dict[str, Any], Provenance]:
    """Read an input file that is not a scenario (a calibration job, a target or a space file)
    with the scenario reader's rules: a regular file of at most 1 MiB of UTF-8, safe YAML (no
    anchors, merge keys, tags or duplicate keys), one mapping at the top. Keys with dots are
    plain keys here.

    Returns:
        The plain data and where each key was written (for errors with a line).

    Raises:
        ScenarioError: naming the file (and the line and key, where there is one).
    """
    file = os.fspath(path)
    real = check_path(file, what)
    tree = parse_text(read_text(file, real, what), file, None, dotted=False)
    if tree is None:
        raise ScenarioError(f"the file holds no {what} (it is empty or only comments)", file=file)
    if not isinstance(tree.value, dict):
        raise ScenarioError(f"the top level of a {what} must be a mapping (key: value lines), "
                            f"got {_kind(tree.value)}", file=file, line=tree.loc.line)
    tree.loc = Location(file)
    provenance = Provenance(file)
    doc = _flatten(tree, (), provenance)
    _refuse_huge_numbers(doc, (), doc, provenance)
    return doc, provenance


def build(doc: Any, provenance: Provenance | None = None) -> Scenario:
    """Validate plain data into a :class:`~sim.scenario.schema.Scenario`.

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
    _refuse_case_twins(doc, (), doc, prov)
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


def rebuild(base: Scenario, doc: dict[str, Any], paths: Iterable[str]) -> Scenario:
    """:func:`build` of ``doc``, a copy of the document ``base`` was built from with new values at
    the dotted ``paths``: only the values at the paths are validated again, with the checks of
    every model and mapping above them (and the scenario's own checks across parts); the parts
    beside them pass as ``base`` has them built. A calibration builds a scenario per particle this
    way, and a run one per posterior draw, at a fraction of a full build's cost; the result
    equals ``build(doc)``.

    Raises:
        ScenarioError: if the data is not a valid scenario.
    """
    split = [str(p).split(".") for p in paths]
    tops = {p[0] for p in split}
    if not tops <= set(Scenario.model_fields) or not tops <= set(doc) or _reads_written(Scenario):
        return build(doc)
    prov = Provenance("<scenario>")
    data: dict[str, Any] = {}
    for name in base.model_fields_set - tops:  # parts already checked pass as they are
        value = getattr(base, name)
        data[name] = value if _built_whole(value) else doc[name]  # months, rates: as written
    for top in tops:  # (validation reads the data and never changes it)
        data[top] = _touched(getattr(base, top), doc[top], [p[1:] for p in split if p[0] == top])
        # the part of the document around each new value, each part once (a fit's paths share one)
        for where in dict.fromkeys(_written_part(doc, p) for p in split if p[0] == top):
            _refuse_huge_numbers(_node_at(doc, where), where, doc, prov)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, doc, lambda path: (prov.file, None)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise ScenarioError(f"internal error while checking the scenario ({type(exc).__name__}: "
                            f"{exc}); please report this", file=prov.file) from exc


def _built_whole(value: Any) -> bool:
    """Whether a built value can stand for its written form in a validation: a model or a dated
    value (pydantic takes them as they are; a value's bounds are checked again), or a tuple or
    text-keyed mapping of such. Months, enums and plain numbers are validated as written."""
    if isinstance(value, (BaseModel, Param)):
        return True
    if isinstance(value, tuple):
        return bool(value) and all(_built_whole(v) for v in value)
    if isinstance(value, dict):
        return bool(value) and all(isinstance(k, str) and _built_whole(v) for k, v in value.items())
    return False


def _touched(built: Any, written: Any, rests: list[list[str]]) -> Any:
    """What to validate for one part on the paths (``rests``: the paths below it): the written
    value, where a path ends here or the part is not a model or mapping whose keys are those
    written; else its keys as written, each one that no path goes into as built
    (:func:`_built_whole`)."""
    if any(not r for r in rests) or not isinstance(written, dict):
        return written
    heads = {r[0] for r in rests}
    if isinstance(built, BaseModel):
        if not set(written) <= set(type(built).model_fields) or _reads_written(type(built)):
            return written
        part = {k: getattr(built, k) for k in written}
    elif isinstance(built, dict) and set(built) == set(written):
        part = built
    else:
        return written
    if not heads <= set(written):
        return written
    return {k: _touched(part[k], v, [r[1:] for r in rests if r[0] == k]) if k in heads
            else part[k] if _built_whole(part[k]) else v
            for k, v in written.items()}


@functools.cache
def _reads_written(model: type[BaseModel]) -> bool:
    """Whether a check of ``model`` reads its data as written, before its fields are built (a
    ``before``, ``wrap`` or ``plain`` validator): then its parts are validated as written, never
    as built. (``Population`` resolved its inflow's composition so until it did it after, from
    the inflow's own keys, which a built inflow keeps.)"""
    decorators = model.__pydantic_decorators__
    return any(d.info.mode in ("before", "wrap", "plain")
               for d in (*decorators.model_validators.values(), *decorators.field_validators.values()))


def _written_part(doc: Any, path: list[str]) -> tuple[str, ...]:
    """The longest start of ``path`` that names mappings' keys in ``doc`` (a path into a list of
    programmes, or to a dated step ``name@YYYY-MM``, stops above it)."""
    out: list[str] = []
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            break
        doc = doc[key]
        out.append(key)
    return tuple(out)


def _node_at(doc: Any, path: Sequence[str]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


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
# extends: and merging


def _top_file(path: str | os.PathLike[str]) -> tuple[str, str]:
    """The file as shown in messages and its checked real path (``almsim:NAME`` resolved)."""
    file = os.fspath(path)
    if is_shipped(file):
        try:
            return file, check_path(str(shipped_path(file)))
        except ValueError as exc:
            raise ScenarioError(str(exc), file=file) from None
    return file, check_path(file)


def _resolve(file: str, real: str, chain: list[tuple[str, str]]) -> Node:
    """Read ``file``, merge it onto its base (if it extends one), apply its dotted keys."""
    overrides: list[Override] = []
    tree = parse_text(read_text(file, real), file, overrides)
    if tree is None:
        raise ScenarioError("the file holds no scenario (it is empty or only comments)", file=file)
    if not isinstance(tree.value, dict):
        raise ScenarioError("the top level of a scenario must be a mapping (key: value lines), "
                            f"got {_kind(tree.value)}", file=file, line=tree.loc.line)
    tree.loc = Location(file)
    extends = tree.value.pop("extends", None)
    if extends is not None:
        chain = [*chain, (file, real)]
        base_file, base_real = _base_of(extends, file, real, chain)
        tree = _merge(_resolve(base_file, base_real, chain), tree, ())
    for ov in overrides:
        _apply_override(tree, ov)
    return tree


def _base_of(extends: Node, file: str, real: str, chain: list[tuple[str, str]]) -> tuple[str, str]:
    """Check an ``extends:`` value; return the base's shown name and real path.

    A base is ``almsim:NAME`` (a shipped scenario), an absolute path, or a path relative to
    the folder of the file that names it (after following links).
    """
    def fail(message: str) -> ScenarioError:
        return ScenarioError(message, file=extends.loc.file, line=extends.loc.line, key="extends")

    target = extends.value
    if not isinstance(target, str) or not target.strip():
        raise fail(f"must name a base scenario file, got {_kind(target)}")
    if is_shipped(target):
        try:
            found = shipped_path(target)
        except ValueError as exc:
            raise fail(str(exc)) from None
        base_file = str(found)
        candidate = str(found)
    else:
        if "\0" in target:
            raise fail(f"{target!r} contains a NUL byte")
        candidate = os.path.join(os.path.dirname(real), os.path.expanduser(target))
        base_file = os.path.normpath(os.path.join(os.path.dirname(file), os.path.expanduser(target)))
    try:
        base_real = os.path.realpath(candidate)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read base {target!r} ({exc})") from None
    if base_real in [r for _, r in chain]:
        top_dir = os.path.dirname(chain[0][1])
        names = [os.path.relpath(r, top_dir) for _, r in chain] + [os.path.relpath(base_real, top_dir)]
        raise fail("extends cycle: " + " -> ".join(names))
    if len(chain) >= _MAX_EXTENDS:
        raise fail(f"the extends chain is longer than {_MAX_EXTENDS} files")
    try:
        check_path(base_real)
    except ScenarioError as exc:
        if exc.message == "file not found":
            raise fail(f"base file {target!r} not found (looked for {base_file})") from None
        raise fail(f"base {target!r} {exc.message}") from None
    return base_file, base_real


def _merge(base: Node, child: Node, path: KeyPath) -> Node:
    """``child`` written on top of ``base``: mappings merge key by key unless the schema says
    the value at ``path`` is one value (a parameter or a table of numbers); the rest replaces."""
    if not (isinstance(base.value, dict) and isinstance(child.value, dict)) or _is_one_value(path):
        return child
    out = dict(base.value)
    for key, node in child.value.items():
        out[key] = _merge(out[key], node, (*path, key)) if key in out else node
    return Node(out, child.loc)


def _apply_override(tree: Node, ov: Override) -> None:
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
                node.value[part] = Node({}, ov.loc)
                key = part
            if last:
                node.value[key] = _merge(node.value[key], ov.value, tuple(schema_path))
                return
            node = node.value[key]
        else:
            raise fail(f"is a single value ({_kind(node.value)}), so it has no {part!r} inside", shown)
        shown = here


def _command_line_overrides(overrides: Sequence[str]) -> list[Override]:
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
            value = parse_text(value_text, _SET, None, lines=False)
        except ScenarioError as exc:
            raise ScenarioError(exc.message, file=_SET, key=path) from None
        loc = Location(_SET)
        out.append(Override((), "", parts, value if value is not None else Node(None, loc), loc))
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


def _flatten(node: Node, path: KeyPath, provenance: Provenance) -> Any:
    provenance[path] = node.loc
    if isinstance(node.value, dict):
        return {k: _flatten(v, (*path, k), provenance) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [_flatten(v, (*path, i), provenance) for i, v in enumerate(node.value)]
    return node.value


def _tree_name(node: Node | None) -> str | None:
    """The ``name:`` of a resolved scenario tree, if it is text."""
    if node is not None and isinstance(node.value, dict):
        name = node.value.get("name")
        if name is not None and isinstance(name.value, str):
            return name.value
    return None


def _item_name(node: Node) -> str | None:
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


def _refuse_case_twins(value: Any, path: KeyPath, doc: Any, prov: Provenance) -> None:
    """Refuse two keys of one mapping that differ only in case (``open:`` and ``OPEN:``): a
    stage, a payer or a programme would otherwise be given twice."""
    if isinstance(value, dict):
        seen: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str):
                folded = key.casefold()
                if folded in seen:
                    loc, first = prov.locate((*path, key)), prov.locate((*path, seen[folded]))
                    where = f" (line {first.line})" if first.line is not None and first.file == loc.file else ""
                    raise ScenarioError(f"differs only in case from {seen[folded]!r}{where}; write each key once",
                                        file=loc.file, line=loc.line, key=show_path(doc, (*path, key)))
                seen[folded] = key
            _refuse_case_twins(item, (*path, key), doc, prov)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_case_twins(item, (*path, i), doc, prov)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"[:80]
