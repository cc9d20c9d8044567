"""Every ``source:`` string of the shipped scenario and calibration files resolves to an entry of
``docs/sources.md``, by the rule written at the top of that file:

* each entry is a ``###`` heading with an anchor ``{#id}`` and a ``Cited as:`` line of keys in
  backticks; a string resolves to an entry if it contains one of its keys (case-insensitive, no
  letter or digit directly before or after the key);
* every string resolves to at least one entry; every seed file it names (``seeds/NNN``) and every
  section of the domain brief it names (``DOMAIN.md B4``, ``DOMAIN C``) resolves to its own entry.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sim.scenario.references import cited, references

ROOT = Path(__file__).resolve().parents[1]
SOURCES_MD = ROOT / "docs" / "sources.md"
SHIPPED = sorted([*ROOT.glob("scenarios/*.yaml"), *ROOT.glob("calibration/**/*.yaml")])

_SEED = re.compile(r"seeds/(\d{3})")
_SECTION = re.compile(r"DOMAIN(?:\.md)?\s+([A-D]\d?)(?![A-Za-z0-9])")


def _source_strings(node: object) -> list[str]:
    """Every value of a ``source`` key, anywhere in a parsed YAML document."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "source" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_source_strings(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_source_strings(value))
    return found


def _all_sources() -> list[tuple[str, str]]:
    return [(str(path.relative_to(ROOT)), text) for path in SHIPPED
            for text in _source_strings(yaml.safe_load(path.read_text(encoding="utf-8")))]


ENTRIES = references(SOURCES_MD)


def test_sources_md_is_well_formed() -> None:
    ids = [e.id for e in ENTRIES]
    assert len(ids) >= 20, ids
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for e in ENTRIES:
        assert e.keys, f"{e.id}: no 'Cited as:' keys"
        assert "Publisher:" in e.body and "Year:" in e.body, f"{e.id}: needs a publisher and a year"
    keys = [k.lower() for e in ENTRIES for k in e.keys]
    assert len(keys) == len(set(keys)), sorted({k for k in keys if keys.count(k) > 1})
    # every internal link points at an entry or section that exists
    anchors = set(re.findall(r"\{#([a-z0-9-]+)\}", SOURCES_MD.read_text(encoding="utf-8")))
    links = set(re.findall(r"\]\(#([a-z0-9-]+)\)", SOURCES_MD.read_text(encoding="utf-8")))
    assert links <= anchors, sorted(links - anchors)


def test_the_shipped_files_have_sources() -> None:
    assert len(SHIPPED) >= 10
    assert len(_all_sources()) >= 100


@pytest.mark.parametrize(("text", "expected"), [
    ("DOMAIN.md B4 (SCB 2015): municipal part 20.70 %", {"dom-b4", "scb"}),
    ("prior; DOMAIN C (SBU 351): regular workplaces beat constructed ones", {"priors", "dom-c", "sbu-351"}),
    ("seeds/000_421d5f570112b9a0.txt (slide 4): ca 200 people employed", {"seed-000"}),
    ("a priority group", set()),  # 'prior' inside a word is not a citation
    ("DOMAIN.md B20", set()),
])
def test_the_rule(text: str, expected: set[str]) -> None:
    assert {e.id for e in ENTRIES if e.cited_by(text)} == expected


def test_every_source_string_resolves() -> None:
    unresolved = sorted({f"{file}: {text!r}" for file, text in _all_sources()
                         if not any(e.cited_by(text) for e in ENTRIES)})
    assert not unresolved, ("source strings with no entry in docs/sources.md (add one, or a key to "
                            "an entry's 'Cited as' line):\n" + "\n".join(unresolved))


def test_every_seed_and_domain_section_cited_has_its_own_entry() -> None:
    keys = {k.lower() for e in ENTRIES for k in e.keys}
    missing = set()
    for file, text in _all_sources():
        missing |= {f"{file}: seeds/{n} in {text!r}" for n in _SEED.findall(text) if f"seeds/{n}" not in keys}
        missing |= {f"{file}: DOMAIN.md {s} in {text!r}" for s in _SECTION.findall(text)
                    if f"domain.md {s}".lower() not in keys or f"domain {s}".lower() not in keys}
    assert not missing, "\n".join(sorted(missing))


def test_every_source_string_becomes_full_references() -> None:
    """What the report prints for a source: each entry it cites as title, publisher and year."""
    for _file, text in _all_sources()[:400]:
        refs = cited(text)
        assert refs
        for r in refs:
            full = r.full()
            assert r.field("Publisher") and r.field("Year"), r.id
            assert "*" not in full and "`" not in full and full.count(". ") >= 2, full
    sigtuna = cited("seeds/000_421d5f570112b9a0.txt (slide 4)")[0].full()
    assert sigtuna.startswith("Resursjobb. Sigtunamodellen 1.0") and "Sigtuna kommun" in sigtuna and "2014" in sigtuna
