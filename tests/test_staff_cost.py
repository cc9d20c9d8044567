"""Staff costs: a programme total, or a cost per staff member that follows the dated staff."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.analysis.breakeven import no_entry_baseline
from sim.engine.in_force import regime_at
from sim.scenario.load import dump_scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
C2 = ROOT / "scenarios" / "c2-lycksele.yaml"
PER_COACH = "programmes.c2.cost_sek_per_staff_month=40000"


def test_cost_per_staff_member_follows_the_dated_staff_count() -> None:
    sc = load_scenario(C2, [PER_COACH])
    staff = sc.programmes[0].capacity.staff
    changes = [m for m, _ in staff.steps if m is not None and sc.start_month <= m < sc.end_month]
    assert changes, "C2's reported staff changes are dated"
    for m in [sc.start_month, *changes]:
        assert regime_at(sc, m).programmes[0].staff_cost_per_month == pytest.approx(40000 * staff.at(m))


def test_two_coaches_cost_two_thirds_of_three_in_the_ledger() -> None:
    from sim import ProgrammeModel

    def staff_cost(*extra: str) -> float:
        model = ProgrammeModel(load_scenario(C2, [PER_COACH, *extra]), rng=0, record_events=False)
        model.run(6)
        return sum(totals.get(("municipality", "programme_staff"), 0.0) for _, totals in model.rec.ledger)

    three, two = staff_cost("programmes.c2.capacity.staff=3"), staff_cost("programmes.c2.capacity.staff=2")
    assert three == pytest.approx(-6 * 3 * 40000) and two == pytest.approx(-6 * 2 * 40000)


def test_resolved_scenario_reads_back_equal(tmp_path: Path) -> None:
    sc = load_scenario(C2, [PER_COACH])
    path = tmp_path / "resolved.yaml"
    path.write_text(dump_scenario(sc))
    assert load_scenario(path) == sc


def test_break_even_baseline_has_no_staff_cost() -> None:
    base = no_entry_baseline(load_scenario(C2, [PER_COACH]))
    assert regime_at(base, base.start_month).programmes[0].staff_cost_per_month == 0.0
