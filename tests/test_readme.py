"""What README.md tells a user about the commands, checked against the commands themselves."""

from __future__ import annotations

import re
from pathlib import Path

from sim.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]


def _subparsers() -> dict[str, object]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]
    return dict(action.choices)


def test_the_commands_the_readme_says_take_set_are_those_that_do():
    """The README names the commands that take ``--set``; a user trying it elsewhere gets a usage error."""
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    (sentence,) = [s for s in re.split(r"(?<=\.) ", text) if "`--set dotted.path=value`" in s]
    commands = _subparsers()
    named = {w for w in re.findall(r"`([a-z]+)`", sentence) if w in commands}
    said = named or set(commands)  # no command named: the sentence speaks of every command
    take = {name for name, sub in commands.items() if any("--set" in a.option_strings for a in sub._actions)}
    assert said == take
