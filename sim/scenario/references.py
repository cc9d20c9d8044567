"""Full references for the ``source:`` strings of scenario and calibration files.

``docs/sources.md`` lists every document the shipped files cite: one ``###`` entry per document,
with an anchor ``{#id}``, ``Title:``, ``Publisher:``, ``Year:`` and ``URL:`` lines, and a
``Cited as:`` line of keys in backticks. A ``source:`` string cites an entry when it contains one
of the entry's keys (case-insensitive, with no letter or digit directly before or after the key,
so ``prior`` does not match ``priority``). The report turns each source string into the full
references it cites; ``tests/test_sources.py`` checks that every shipped string cites one.

In a clone the file is read from ``docs/``; an installed package carries a copy beside its
shipped scenarios (``setup.py``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Reference", "references", "cited", "sources_file"]

_HEADING = re.compile(r"^#{2,3} (?P<title>.+?) \{#(?P<id>[a-z0-9][a-z0-9-]*)\}\s*$")
_FIELD = re.compile(r"^- (?P<key>[A-Z][A-Za-z ]*?): ?(?P<value>.*)$")


@dataclass(frozen=True)
class Reference:
    """One entry of ``docs/sources.md``."""

    id: str
    heading: str
    fields: tuple[tuple[str, str], ...]
    keys: tuple[str, ...]
    body: str

    def field(self, name: str) -> str:
        return next((v for k, v in self.fields if k == name), "")

    def cited_by(self, text: str) -> bool:
        """Whether a ``source:`` string cites this entry (contains one of its keys)."""
        return _keys_pattern(self.keys).search(text) is not None

    def full(self) -> str:
        """The reference in one line: title, publisher, year (and where to find it)."""
        title = _plain(self.field("Title") or self.heading)
        title = title[:1].upper() + title[1:]
        parts = [title.rstrip("."), _plain(self.field("Publisher")), _plain(self.field("Year"))]
        text = ". ".join(p.rstrip(".") for p in parts if p) + "."
        if self.field("Draws on"):
            text += f" Draws on: {_plain(self.field('Draws on')).rstrip('.')}."
        url = self.field("URL")
        return f"{text} {_plain(url)}" if url and not url.lower().startswith("not ") else text


@functools.cache
def _keys_pattern(keys: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern matching any of ``keys`` as a whole word (case-insensitive), compiled once per entry."""
    words = "|".join(re.escape(k) for k in keys) or "(?!)"
    return re.compile(rf"(?<![A-Za-z0-9])(?:{words})(?![A-Za-z0-9])", re.IGNORECASE)


def _plain(text: str) -> str:
    """Markdown links, emphasis and code marks removed, whitespace folded."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    return re.sub(r"\s+", " ", re.sub(r"[*`]", "", text)).strip()


def _split_fields(key: str, value: str) -> list[tuple[str, str]]:
    """``Publisher: X; Year: 2026`` written on one line: one field each."""
    parts = re.split(r";\s*(Year|URL|Publisher|Title):\s*", value)
    return [(key, parts[0]), *zip(parts[1::2], parts[2::2], strict=True)]


def sources_file() -> Path | None:
    """``docs/sources.md`` of a clone, else the copy installed with the package."""
    here = Path(__file__).resolve().parents[1]
    for path in (here.parent / "docs" / "sources.md", here / "shipped_scenarios" / "sources.md"):
        if path.is_file():
            return path
    return None


@functools.cache
def references(path: Path | None = None) -> tuple[Reference, ...]:
    """The entries of ``docs/sources.md`` (``##`` headings are sections, not entries)."""
    path = path or sources_file()
    if path is None:
        return ()
    out: list[Reference] = []
    current: tuple[str, str, list[str]] | None = None

    def close() -> None:
        if current is None:
            return
        rid, heading, body = current
        fields: list[list[str]] = []
        for line in body:
            m = _FIELD.match(line)
            if m:
                fields.append([m["key"], m["value"]])
            elif fields and line.startswith("  ") and line.strip():
                fields[-1][1] += " " + line.strip()
            elif not line.strip() and fields:
                fields.append(["", ""])  # a blank line ends a field's continuation
        pairs = tuple((k2, v2.strip()) for k, v in fields if k
                      for k2, v2 in _split_fields(k, v))
        keys = tuple(k for name, value in pairs if name == "Cited as" for k in re.findall(r"`([^`]+)`", value))
        out.append(Reference(rid, heading, pairs, keys, "\n".join(body)))

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(("## ", "### ")):
            close()
            m = _HEADING.match(line)
            current = (m["id"], m["title"], []) if m and line.startswith("### ") else None
        elif current is not None:
            current[2].append(line)
    close()
    return tuple(out)


def cited(text: str) -> list[Reference]:
    """The entries a ``source:`` string cites, in the order of ``docs/sources.md``."""
    return [r for r in references() if r.cited_by(text)]
