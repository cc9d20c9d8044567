"""The golden baseline: no headline number of a shipped comparison moves unnoticed.

One test per shipped comparison (so the comparisons run side by side on the test workers),
and one that the pinned table holds exactly those comparisons.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).with_name("golden")))
import golden  # noqa: E402


@pytest.mark.parametrize("pair", golden.PAIRS, ids=[f"{b}-vs-{s}" for b, s in golden.PAIRS])
def test_every_shipped_comparison_matches_the_golden_table(pair: tuple[str, str]) -> None:
    table = golden.load()
    pinned = table[(table["baseline"] == pair[0]) & (table["scenario"] == pair[1])]
    assert not pinned.empty, f"{pair} is not in the golden table: run `python tests/golden/golden.py --update`"
    moved = golden.differences(golden.compute((pair,)), pinned)
    assert not moved, ("headline numbers moved (if deliberate, run `python tests/golden/golden.py --update` "
                       "and say in the commit which and why):\n" + "\n".join(moved))


def test_the_golden_table_pins_every_shipped_comparison_and_nothing_else() -> None:
    table = golden.load()
    assert set(zip(table["baseline"], table["scenario"], strict=True)) == set(golden.PAIRS)


def test_the_comparison_notices_a_changed_parameter() -> None:
    """The check is not vacuous: a deliberately changed wage moves the pinned numbers."""
    table = golden.load()
    one = table[table["scenario"] == "sigtuna-resursjobb"].copy()
    one.loc[one["metric"] == "net_saving_discounted_sek", "p50"] *= 1.01
    assert golden.differences(one, table[table["scenario"] == "sigtuna-resursjobb"])


def test_the_main_jobs_bridge_and_assumption_lines_are_pinned() -> None:
    """What the main job prints beside its headline (the payoff-style estimate, every step of the
    bridge, each assumption line) is pinned for its pair, for each payer it prints."""
    table = golden.load()
    mine = table[(table["baseline"] == golden.EXPLAINED[0]) & (table["scenario"] == golden.EXPLAINED[1])]
    for payer in golden.EXPLAINED_PAYERS:
        rows = mine[mine["payer"] == payer]
        steps = set(rows["metric"][rows["metric"].str.startswith("bridge:")])
        assert {"bridge:payoff_style", "bridge:simulated", "bridge:leave_for_work_or_studies"} <= steps
        lines = rows["metric"][rows["metric"].str.startswith("line:")]
        assert {m.split("=")[0] for m in lines} >= {"line:production_value_share_of_wage_cost",
                                                    "line:municipal_tax_kept_share", "line:ui_member_share"}
