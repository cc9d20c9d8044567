"""Shipped scenarios: ``almsim:NAME`` names a scenario that comes with almsim.

``extends: almsim:sigtuna-resursjobb`` (or ``almsim validate almsim:national``) reads
``NAME.yaml`` from the first of these folders that has it:

1. the repository's ``scenarios/`` folder beside the ``sim`` package, when almsim runs from a
   clone or an editable install (recognised by the ``pyproject.toml`` next to it);
2. ``sim/shipped_scenarios/`` inside the installed package (a wheel carries the repository's
   ``scenarios/*.yaml`` there when pyproject maps that folder as package data).

A name is a scenario name (``[a-z0-9][a-z0-9_-]*``), so it can never reach outside those folders.
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path

__all__ = ["PREFIX", "is_shipped", "shipped_folders", "shipped_path", "shipped_names"]

PREFIX = "almsim:"
_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,99}", re.ASCII)


def is_shipped(target: str) -> bool:
    """Whether ``target`` is written ``almsim:NAME``."""
    return target.startswith(PREFIX)


def shipped_folders() -> list[Path]:
    """The folders searched for shipped scenarios, in order (only those that exist)."""
    package = Path(__file__).resolve().parent.parent  # the 'sim' package
    folders = []
    repo = package.parent
    if (repo / "pyproject.toml").is_file() and (repo / "scenarios").is_dir():
        folders.append(repo / "scenarios")
    try:
        inside = importlib.resources.files("sim") / "shipped_scenarios"
        if isinstance(inside, Path) and inside.is_dir():
            folders.append(inside)
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - 'sim' is always importable here
        pass
    return folders


def shipped_names() -> list[str]:
    """Names of the shipped scenarios (complete ones and bases alike)."""
    names: set[str] = set()
    for folder in shipped_folders():
        names.update(p.stem for p in folder.glob("*.yaml") if _NAME.fullmatch(p.stem))
    return sorted(names)


def shipped_path(target: str) -> Path:
    """The file ``almsim:NAME`` names.

    Raises:
        ValueError: with a message fit for a scenario author, if the name is malformed or no
            shipped scenario has it.
    """
    name = target.removeprefix(PREFIX)
    if not _NAME.fullmatch(name):
        raise ValueError(f"{target!r}: after 'almsim:' comes the name of a shipped scenario "
                         f"(lower-case letters, digits, '-' and '_')")
    folders = shipped_folders()
    for folder in folders:
        path = folder / f"{name}.yaml"
        if path.is_file():
            return path
    if not folders:
        raise ValueError(f"{target!r}: this installation has no shipped scenarios")
    from sim.scenario.errors import did_you_mean

    hint = did_you_mean(name, shipped_names(), cutoff=0.5)
    return_hint = hint or f"; shipped: {', '.join(shipped_names())}"
    raise ValueError(f"no shipped scenario named {name!r}{return_hint}")
