"""The golden baseline: no headline number of a shipped comparison moves unnoticed."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).with_name("golden")))
import golden  # noqa: E402


def test_every_shipped_comparison_matches_the_golden_table() -> None:
    moved = golden.differences(golden.compute(), golden.load())
    assert not moved, ("headline numbers moved (if deliberate, run `python tests/golden/golden.py --update` "
                       "and say in the commit which and why):\n" + "\n".join(moved))


def test_the_comparison_notices_a_changed_parameter() -> None:
    """The check is not vacuous: a deliberately changed wage moves the pinned numbers."""
    table = golden.load()
    one = table[table["scenario"] == "sigtuna-resursjobb"].copy()
    one.loc[one["metric"] == "net_saving_discounted_sek", "p50"] *= 1.01
    assert golden.differences(one, table[table["scenario"] == "sigtuna-resursjobb"])
