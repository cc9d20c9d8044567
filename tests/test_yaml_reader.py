"""The YAML reader's two parsers agree: libyaml's events (fast) and PyYAML's own parser (the
reference, whose messages users see) give the same located trees and dotted overrides for every
YAML file in the repository, and the same one-line error for bad texts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sim.scenario import yaml_reader
from sim.scenario.errors import ScenarioError
from sim.scenario.yaml_reader import Node, parse_text

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(p for folder in ("scenarios", "calibration", "tests") for p in (ROOT / folder).rglob("*.y*ml"))

BAD = {
    "anchor": "a: &x 1\nb: 2\n",
    "alias": "a: 1\nb: *x\n",
    "deep": "a: " + "[" * 40 + "]" * 40 + "\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "duplicate key": "a: 1\nb: 2\na: 3\n",
    "syntax": "a: [1, 2\nb: 3\n",
    "mapping values": "a: b: c\n",
    "tag": "a: !!python/object:os.system 1\n",
    "merge key": "a: {x: 1}\nb:\n  <<: {y: 2}\n",
    "bad character": "a: \x07\n",
    "dotted in dotted": "a.b:\n  c.d: 1\n",
    "unclosed quote": 'a: "x\n',
    "key is a list": "[1, 2]: 3\n",
}


def _plain(node: Node | None) -> Any:
    """A tree as plain values with every location, for comparing two parses."""
    if node is None:
        return None
    value = node.value
    if isinstance(value, dict):
        value = {k: _plain(v) for k, v in value.items()}
    elif isinstance(value, list):
        value = [_plain(v) for v in value]
    return (value, type(value).__name__, node.loc)


def _parse(text: str, fast: bool, monkeypatch: pytest.MonkeyPatch, dotted: bool = True) -> Any:
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(yaml_reader, "_FastLoader", None)
        overrides: list = []
        try:
            tree = parse_text(text, "x.yaml", overrides, dotted=dotted)
        except ScenarioError as exc:
            return ("error", str(exc))
        return _plain(tree), [(o.prefix, o.shown, o.parts, _plain(o.value), o.loc) for o in overrides]


def test_libyaml_is_used_here() -> None:
    assert yaml_reader._FastLoader is not None  # else the comparisons below compare a parser with itself


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_both_parsers_give_the_same_tree(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8 (a test of the reader's byte checks)")
    for dotted in (True, False):
        assert _parse(text, True, monkeypatch, dotted) == _parse(text, False, monkeypatch, dotted)


@pytest.mark.parametrize("name", sorted(BAD))
def test_both_parsers_refuse_bad_text_in_the_same_words(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, reference = _parse(BAD[name], True, monkeypatch), _parse(BAD[name], False, monkeypatch)
    assert reference[0] == "error", reference
    assert fast == reference


def test_a_good_file_is_parsed_by_libyaml_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path really is taken (the reference parser is not silently doing all the work)."""
    def no_reference(*args: object, **kwargs: object) -> None:
        raise AssertionError("the reference parser was used")

    monkeypatch.setattr(yaml_reader, "_Loader", no_reference)
    tree = parse_text((ROOT / "scenarios" / "national.yaml").read_text(encoding="utf-8"), "national.yaml", [])
    assert tree is not None and "money" in tree.value
