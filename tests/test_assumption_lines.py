"""Sensitivity lines of the assumptions that drive the answer."""

from __future__ import annotations

import numpy as np
import pytest
from factories import JOBS, PROGRAMME, scenario

from sim.analysis.comparison import compare
from sim.scenario.paths import with_values

SMALL = {"population": {"cohort": {"size": 200}}, "horizon_months": 72}


@pytest.fixture(scope="module")
def pair():
    return scenario([], name="base", **SMALL), scenario([PROGRAMME, JOBS], name="policy", **SMALL)


@pytest.fixture(scope="module")
def comparison(pair):
    base, policy = pair
    return compare(base, [policy], seed=2, replications=4)


def test_a_money_line_is_the_headline_of_a_run_with_that_rate(pair, comparison):
    """Posting the same states again under another rate gives what a run with that rate gives."""
    base, policy = pair
    lines = comparison.tables["assumption_lines"]
    for path, name, value in (("money.municipal_tax_kept_share", "municipal_tax_kept_share", 1.0),
                              ("money.production_value_share_of_wage_cost", "production_value_share_of_wage_cost",
                               0.0)):
        values = {path: value}
        if name.startswith("production"):
            values.update({f"programmes.{p.name}.production_value_share_of_wage_cost": value
                           for p in policy.programmes})
        rerun = compare(with_values(base, values, skip_missing=True), [with_values(policy, values, skip_missing=True)],
                        seed=2, replications=4, sensitivity=False)
        h = rerun.headline
        for payer in ("municipality", "state", "society"):
            want = h[(h["metric"] == "net_saving_discounted_sek") & (h["horizon_months"] == 60)
                     & (h["payer"] == payer)]["p50"].iloc[0]
            got = lines[(lines["assumption"] == name) & (lines["value"] == value) & (lines["horizon_months"] == 60)
                        & (lines["payer"] == payer)]["p50"].iloc[0]
            assert got == pytest.approx(want, rel=1e-9, abs=1e-3), (name, payer)


def test_equalisation_moves_money_between_the_municipality_and_the_state_only(comparison):
    lines = comparison.tables["assumption_lines"]
    eq = lines[(lines["assumption"] == "municipal_tax_kept_share") & (lines["horizon_months"] == 60)]
    soc = eq[eq["payer"] == "society"]["p50"].to_numpy()
    np.testing.assert_allclose(soc, soc[0], rtol=1e-9)
    muni = eq[eq["payer"] == "municipality"].sort_values("value")["p50"].to_numpy()
    assert not np.allclose(muni, muni[0])


def test_the_lines_are_in_the_terminal_text(comparison):
    text = comparison.to_text()
    assert "Assumptions that drive the answer" in text
    assert "share who are a-kassa members at entry" in text


def test_the_membership_line_sets_new_entrants_too():
    """The a-kassa line is 'the share who are members at entry': for a scenario whose inflow has a
    composition of its own (Umeå's new JOB entrants), the re-run sets the inflow's share as well."""
    from pathlib import Path

    from sim.analysis.assumptions_driving import _with_member_share
    from sim.scenario.load import load_scenario

    umea = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "umea-insteget-baseline.yaml")
    assert umea.population.inflow is not None and umea.population.inflow.composition is not None
    for value in (0.0, 0.5):
        line = _with_member_share(umea, value)
        month = line.start_month
        assert float(line.population.composition.ui_member_share.at(month)) == value
        assert float(line.population.inflow.composition.ui_member_share.at(month)) == value
        # what the inflow declared itself is kept
        assert line.population.inflow.composition.initial_stages == umea.population.inflow.composition.initial_stages
