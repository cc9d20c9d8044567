"""Safe YAML reading: scenario file text in, plain Python values that know where they were written.

This module is the bottom layer of :mod:`sim.scenario.load`. It checks a path before opening it
(:func:`check_path`: no NUL byte, a regular file -- never a folder, a FIFO or a device), reads
one file's bytes (at most :data:`MAX_FILE_BYTES` of UTF-8, no tab indentation) and parses them with a restricted
``yaml.SafeLoader`` that refuses anchors and aliases, merge keys, tags other than plain
scalars, duplicate keys, several documents and nesting deeper than 32 levels. Where PyYAML has
libyaml, the events come from libyaml's parser (about 15x faster than PyYAML's own, which took
most of ``almsim validate``'s work) and everything after them -- composing, the checks, the
values -- is the same Python code; a text libyaml refuses is parsed again by PyYAML's parser, so
every problem is worded as before (``tests/test_yaml_reader.py`` checks both give the same trees). The result is a
tree of :class:`Node` values, each carrying the :class:`Location` (file and line) of the key
that wrote it, with dotted keys set aside as :class:`Override` records. It knows nothing of
``extends:``, of merging, or of the schema; :mod:`sim.scenario.load` does those. Every problem
raises :class:`~sim.scenario.errors.ScenarioError`.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, StreamEndEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.resolver import Resolver

try:
    from yaml.cyaml import CParser
except ImportError:  # PyYAML built without libyaml: its own parser only
    CParser = None

from sim.scenario.errors import ScenarioError

__all__ = ["KeyPath", "Location", "Node", "Override", "MAX_FILE_BYTES", "check_path", "read_text", "parse_text"]

#: A key's place in a document: mapping keys and list indices from the top.
KeyPath = tuple[Hashable, ...]

#: Largest scenario file accepted (1 MiB).
MAX_FILE_BYTES = 1024 * 1024
_MAX_DEPTH = 32

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # what YAML counts as a new line


@dataclass(frozen=True, slots=True)
class Location:
    """Where a key was written: a file (``--set`` for the command line) and a 1-based line."""

    file: str
    line: int | None = None


@dataclass(eq=False, slots=True)
class Node:
    """A value with where it was written; ``value`` is a dict or list of nodes, or a scalar."""

    value: Any
    loc: Location


@dataclass(slots=True)
class Override:
    """A dotted key, applied after its file has been merged onto its base."""

    prefix: KeyPath  # where the mapping holding the dotted key sits in its file
    shown: str  # that place, as shown in messages
    parts: list[str]
    value: Node
    loc: Location


class _Checks:
    """What both loaders add to composing: anchors, aliases and deep nesting refused, and
    problems raised as :class:`ScenarioError` naming the file and line."""

    def _setup(self, text: str, file: str, lines: bool, dotted: bool) -> None:
        self.file = file
        self.lines = lines
        self.dotted = dotted
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
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self.depth -= 1


class _Loader(_Checks, yaml.SafeLoader):
    """PyYAML's own parser (the reference: its messages are the ones users see)."""

    def __init__(self, text: str, file: str, lines: bool, dotted: bool = True) -> None:
        yaml.SafeLoader.__init__(self, text)
        self._setup(text, file, lines, dotted)


if CParser is not None:
    class _FastLoader(_Checks, CParser, Composer, SafeConstructor, Resolver):
        """libyaml's events, composed, checked and constructed by the same Python code as :class:`_Loader`."""

        def __init__(self, text: str, file: str, lines: bool, dotted: bool = True) -> None:
            CParser.__init__(self, text)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._setup(text, file, lines, dotted)
else:  # PyYAML without libyaml
    _FastLoader = None


def _kind_of(mode: int) -> str | None:
    """What a file that is not a regular file is, in words (``None`` for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_path(file: str, what: str = "scenario file") -> str:
    """The real path of ``file`` after checking, without opening it, that it is a regular file.

    A path with a NUL byte, a missing file, a folder, a FIFO or a device is refused at once
    (opening a FIFO would wait for a writer; a device such as /dev/zero never ends).

    Raises:
        ScenarioError: naming ``file``.
    """
    if "\0" in file:
        raise ScenarioError("the path contains a NUL byte", file=file)
    try:
        real = os.path.realpath(file)
        info = os.stat(real)
    except FileNotFoundError:
        raise ScenarioError("file not found", file=file) from None
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"cannot read the {what} ({getattr(exc, 'strerror', None) or exc})",
                            file=file) from None
    kind = _kind_of(info.st_mode)
    if kind is not None:
        raise ScenarioError(f"is {kind}, not a {what}" if kind.startswith("a ") else f"is {kind}",
                            file=file)
    return real


def read_text(file: str, real: str | None = None, what: str = "scenario file") -> str:
    """The file's text, after the checks that come before any YAML parsing."""
    real = check_path(file, what) if real is None else real
    try:
        # Checked again on the open file: a path may change between the check and the open.
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            kind = _kind_of(info.st_mode)
            if kind is not None:
                raise ScenarioError(f"is {kind}, not a {what}" if kind.startswith("a ") else f"is {kind}",
                                    file=file)
            if info.st_size > MAX_FILE_BYTES:
                raise ScenarioError(f"file is too large ({info.st_size / 2**20:.1f} MB; the limit "
                                    f"is 1 MB)", file=file)
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError("file not found", file=file) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read the {what} ({exc.strerror or exc})", file=file) from None
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


def parse_text(text: str, file: str, overrides: list[Override] | None,
               lines: bool = True, dotted: bool = True) -> Node | None:
    """YAML text -> located tree (``None`` for no document). Dotted keys go to ``overrides``
    (``None``: dotted keys are not allowed here); with ``dotted=False`` a key with dots is a
    plain key (files other than scenarios)."""
    if _FastLoader is not None:
        found: list[Override] | None = None if overrides is None else []
        try:
            tree = _parse(_FastLoader(text, file, lines, dotted), found)
        except Exception:  # noqa: BLE001 -- any problem: the reference parser below words it
            pass
        else:
            if overrides is not None and found:
                overrides.extend(found)
            return tree
    try:
        loader = _Loader(text, file, lines, dotted)  # the reader checks characters right away
    except yaml.reader.ReaderError as exc:
        line = len(_LINE_BREAKS.findall(text, 0, exc.position)) + 1 if lines else None
        raise ScenarioError(f"invalid YAML: the character U+{exc.character:04X} is not allowed",
                            file=file, line=line) from None
    return _parse(loader, overrides)


def _parse(loader: _Checks, overrides: list[Override] | None) -> Node | None:
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
        raise ScenarioError(f"invalid YAML: {' '.join(str(exc).split())}", file=loader.file) from None
    finally:
        loader.dispose()


def _to_tree(loader: Any, node: Any, path: KeyPath, shown: str,
             overrides: list[Override] | None) -> Node:
    loc = Location(loader.file, node.start_mark.line + 1 if loader.lines else None)
    if isinstance(node, ScalarNode):
        return Node(_scalar(loader, node, shown), loc)
    if isinstance(node, SequenceNode):
        if node.tag != _TAG + "seq":
            raise loader.fail(f"the YAML tag {node.tag!r} is not allowed", node.start_mark, shown or None)
        items = []
        for i, item in enumerate(node.value):
            name = _node_name(item)
            item_shown = f"{shown}.{name}" if name is not None else f"{shown}[{i}]"
            items.append(_to_tree(loader, item, (*path, i), item_shown, overrides))
        return Node(items, loc)
    if not isinstance(node, MappingNode) or node.tag != _TAG + "map":
        raise loader.fail(f"the YAML tag {node.tag!r} is not allowed", node.start_mark, shown or None)
    out: dict[Hashable, Node] = {}
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
        if isinstance(key, str) and "." in key and loader.dotted:
            if overrides is None:
                raise loader.fail("a dotted key cannot appear inside the value of another dotted "
                                  "key or a --set value", key_node.start_mark, key_shown)
            parts = key.split(".")
            if not all(p.strip() for p in parts):
                raise loader.fail("a dotted key has an empty part", key_node.start_mark, key_shown)
            value = _to_tree(loader, value_node, (*path, key), key_shown, None)
            value.loc = key_loc
            overrides.append(Override(path, shown, parts, value, key_loc))
            continue
        value = _to_tree(loader, value_node, (*path, key), key_shown, overrides)
        value.loc = key_loc  # a value is reported where its key was written
        out[key] = value
    return Node(out, loc)


def _scalar(loader: Any, node: ScalarNode, shown: str) -> Any:
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
