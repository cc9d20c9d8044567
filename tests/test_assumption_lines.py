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
        horizons = sorted(set(h["horizon_months"]))  # (1 and 5 years and the full one: every headline horizon)
        assert sorted(set(lines.loc[lines["assumption"] == name, "horizon_months"])) == horizons
        for hz in horizons:
            for payer in ("municipality", "state", "society"):
                want = h[(h["metric"] == "net_saving_discounted_sek") & (h["horizon_months"] == hz)
                         & (h["payer"] == payer)]["p50"].iloc[0]
                got = lines[(lines["assumption"] == name) & (lines["value"] == value) & (lines["horizon_months"] == hz)
                            & (lines["payer"] == payer)]["p50"].iloc[0]
                assert got == pytest.approx(want, rel=1e-9, abs=1e-3), (name, hz, payer)


def test_a_membership_line_is_the_headline_of_a_comparison_at_that_share(pair, comparison):
    """The a-kassa lines (booked in the comparison's own runs) give what comparing the scenarios with
    that membership share gives."""
    from sim.analysis.assumptions_driving import _with_member_share

    base, policy = pair
    lines = comparison.tables["assumption_lines"]
    for value in (0.0, 0.5):
        h = compare(_with_member_share(base, value), [_with_member_share(policy, value)], seed=2, replications=4,
                    sensitivity=False, bridge=False).headline
        for hz in sorted(set(h["horizon_months"])):
            for payer in ("municipality", "state", "society"):
                want = h[(h["metric"] == "net_saving_discounted_sek") & (h["horizon_months"] == hz)
                         & (h["payer"] == payer)]["p50"].iloc[0]
                got = lines[(lines["assumption"] == "ui_member_share") & (lines["value"] == value)
                            & (lines["horizon_months"] == hz) & (lines["payer"] == payer)]["p50"].iloc[0]
                assert got == pytest.approx(want, rel=1e-9, abs=1e-3), (value, hz, payer)


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


def test_the_reruns_are_kept_as_their_nets_and_a_resume_reads_them_back(pair, comparison, tmp_path, monkeypatch):
    """The lines' re-runs (the exit rates after Fas 3) keep only their nets by month and payer (all
    the lines read): in a store too, under keys of their own. The comparison's own runs keep what
    each other a-kassa share changes (that line has no re-runs). A compare resumed from that store
    runs nothing again and gives the same lines."""
    import pandas as pd

    from sim.accounts.payers import PAYERS
    from sim.analysis.assumptions_driving import member_shares
    from sim.engine import batch
    from sim.runs.partial import ReplicationStore
    from sim.runs.replications import RunResult

    base, policy = pair
    first = compare(base, [policy], seed=2, replications=4, store=tmp_path / "kept")
    kept = ReplicationStore(tmp_path / "kept")
    results = [kept.get(k) for k in kept]
    slim = [r for r in results if isinstance(r, RunResult) and not r.tables]
    own = [r for r in results if isinstance(r, RunResult) and r.tables]
    assert len(results) == 4 * (2 + 2) and len(slim) == 4 * 2  # the runs, and one value's re-runs of each
    assert all(r.records is None and r.ledger_book is None for r in slim)
    assert all(r.nets is not None and r.nets.shape == (r.horizon_months, len(PAYERS)) for r in slim)
    # nor their headline numbers (the lines read the nets); the comparison's own runs keep theirs
    assert all(not r.summary for r in slim)
    assert all(r.summary.get("people") for r in own)
    assert member_shares(base) == (0.5,)  # (0 is the scenarios' own: its line is their runs)
    assert all(set(r.member_changes) == {0.5} and r.member_changes[0.5].shape == (r.horizon_months, len(PAYERS))
               for r in own)
    models: list[object] = []
    monkeypatch.setattr(batch.BatchModel, "run", lambda self: models.append(self))
    again = compare(base, [policy], seed=2, replications=4, store=tmp_path / "kept")
    assert models == []
    for c in (first, again):
        pd.testing.assert_frame_equal(c.tables["assumption_lines"], comparison.tables["assumption_lines"])


def test_with_several_scenarios_each_gets_the_lines_it_gets_alone(pair, comparison, monkeypatch):
    """The baseline's lines are worked out once for every scenario (its books are posted again once
    per value, not once per scenario); each scenario's lines are those of comparing it alone."""
    import pandas as pd

    from sim.accounts.book import LedgerBook

    base, policy = pair
    other = with_values(policy, {"money.municipal_tax_kept_share": 0.5}).model_copy(update={"name": "other"})
    posted: list[int] = []
    reposted = LedgerBook.reposted
    monkeypatch.setattr(LedgerBook, "reposted", lambda self, *a, **k: posted.append(1) or reposted(self, *a, **k))
    both = compare(base, [policy, other], seed=2, replications=4)
    lines = both.tables["assumption_lines"]
    mine = lines[lines["scenario"] == "policy"].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, comparison.tables["assumption_lines"])
    money_values = 9  # production value 0, 0.5, 1; tax kept 0.05, 0.5, 1; activity support 223, 320, 365
    assert len(posted) == 4 * money_values * 3  # the baseline's, the policy's, the other's: 4 replications each
    alone = compare(base, [other], seed=2, replications=4).tables["assumption_lines"]
    got = lines[lines["scenario"] == "other"].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, alone)


def test_a_rerun_block_built_from_its_ledger_alone_has_the_nets_of_the_whole_block(pair):
    """A re-run kept as its nets is built from its block's ledger book alone (no other records):
    the same nets, bit for bit, as the whole block's, in a batch that mixes both kinds of block."""
    from sim.runs.replications import _batch, nets_only

    base, policy = pair
    scenarios, seeds = [base, policy, base, policy], [5, 5, 6, 6]
    whole = _batch(scenarios, seeds, False)
    mixed = _batch(scenarios, seeds, False, nets=[True, False, False, True])
    for b in (0, 3):
        assert mixed[b].records.rec.stocks == [] and not mixed[b].summary  # (its ledger only)
        np.testing.assert_array_equal(nets_only(mixed[b]).nets, nets_only(whole[b]).nets)
    assert mixed[1].summary == whole[1].summary


def test_a_starred_line_is_the_headline_and_a_rate_that_changes_over_the_horizon_stars_none(pair, comparison):
    """The line marked as the scenario's value is its headline, payer by payer and horizon by
    horizon; a rate dated to change inside the horizon (activity support after the basic amount:
    320, then 365 from September 2015) is no single line's value, so none of its lines is marked."""
    _, policy = pair
    lines, h = comparison.tables["assumption_lines"], comparison.headline
    starred = lines[lines["current"]]
    assert "municipal_tax_kept_share" in set(starred["assumption"])
    for row in starred.itertuples():
        want = h[(h["metric"] == "net_saving_discounted_sek") & (h["horizon_months"] == row.horizon_months)
                 & (h["payer"] == row.payer)]["p50"].iloc[0]
        assert row.p50 == pytest.approx(want, rel=1e-9, abs=1e-3), (row.assumption, row.value, row.payer)
    assert policy.start_month < 2015 * 12 + 8 < policy.start_month + policy.horizon_months
    support = lines[lines["assumption"] == "activity_support_after_basic_sek_per_day"]
    assert sorted(set(support["value"])) == [223.0, 320.0, 365.0] and not support["current"].any()
    kept = with_values(policy, {"money.activity_support_after_basic_sek_per_day": 365.0})
    from sim.analysis.assumptions_driving import ASSUMPTIONS

    line = next(a for a in ASSUMPTIONS if a.name == "activity_support_after_basic_sek_per_day")
    assert line.current(kept) == 365.0 and np.isnan(line.current(policy))


def test_the_fas3_rates_line_is_the_headline_of_a_comparison_with_fas3_rates_kept(pair, comparison):
    """The line of the exit rates after Fas 3 closed (re-runs with ``rules.fas3_rates_after_closure``
    at 1) gives what comparing the scenarios with that rule gives; its 0 line, the scenario's own
    value, is the headline itself; a scenario that ends before Fas 3 closed has no such line."""
    base, policy = pair
    lines = comparison.tables["assumption_lines"]
    kept = {"rules.fas3_rates_after_closure": 1.0}
    h = compare(with_values(base, kept), [with_values(policy, kept)], seed=2, replications=4, sensitivity=False,
                bridge=False).headline
    own = comparison.headline
    for payer in ("municipality", "state", "society"):
        def at(table: object, value: float | None = None, payer: str = payer) -> float:
            t = table[(table["horizon_months"] == 60) & (table["payer"] == payer)]
            if value is None:
                return t[t["metric"] == "net_saving_discounted_sek"]["p50"].iloc[0]
            return t[(t["assumption"] == "fas3_rates_after_closure") & (t["value"] == value)]["p50"].iloc[0]

        assert at(lines, 1.0) == pytest.approx(at(h), rel=1e-9, abs=1e-3), payer
        assert at(lines, 0.0) == pytest.approx(at(own), rel=1e-9, abs=1e-3), payer
    short = {"horizon_months": 36}
    early = compare(with_values(base, short), [with_values(policy, short)], seed=2, replications=2,
                    bridge=False).tables["assumption_lines"]
    assert "fas3_rates_after_closure" not in set(early["assumption"])  # (2012-2014: Fas 3 still open)


@pytest.mark.parametrize("name", ["sigtuna-resursjobb", "umea-insteget"])
def test_a_kassa_membership_changes_who_is_paid_what_not_what_people_do(name):
    """Membership at entry decides only whether a UI period pays income-related UI or the basic
    amount, which only the ledger reads: with the same seed, every share gives the same stocks,
    moves, queues, programme exits and status counts, and other money. (So the a-kassa line is booked
    inside the comparison's own runs instead of re-running them; if this fails, membership has
    started to change what people do, and the line must go back to re-runs.)"""
    from pathlib import Path

    from sim.analysis.assumptions_driving import _with_member_share
    from sim.runs.replications import simulate
    from sim.scenario.load import load_scenario

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.yaml")
    runs = [simulate(_with_member_share(sc, value), 7) for value in (0.0, 0.5, 1.0)]
    for r in runs[1:]:
        for table in ("stocks", "flows", "queues", "exits", "status"):
            assert r.tables[table].equals(runs[0].tables[table]), table
    assert not runs[0].ledger.equals(runs[2].ledger)  # (while the money differs)


@pytest.mark.parametrize("name", ["sigtuna-resursjobb-akassa", "umea-insteget", "c2-lycksele"])
def test_a_run_gives_its_nets_at_another_akassa_share_as_a_run_with_that_share(name):
    """A run asked for other a-kassa shares at entry (``member_shares``) gives its nets at each as
    a run of the scenario with that share does, month by month and payer by payer (to float
    noise: its own nets plus the change for the people whose UI would be income-related or not
    the other way), run alone or as blocks of a batch. Sigtuna's variant enrols resursjobb
    employees in a fund (members from then on, at every share), Umeå's inflow has a composition of
    its own (it inherits the share), C2 starts with a cohort only."""
    from pathlib import Path

    from sim.accounts.payers import PAYERS
    from sim.analysis.assumptions_driving import _with_member_share
    from sim.runs.replications import _batch, simulate
    from sim.scenario.load import load_scenario

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.yaml", ["horizon_months=60"])
    shares = (0.0, 0.5, 1.0)
    alone = simulate(sc, 4, record_events=False, member_shares=shares)
    blocks = _batch([sc] * 2, [4, 5], False, member_shares=[shares, shares[1:]])
    assert set(blocks[1].member_changes) == {0.5, 1.0}
    for share in shares:
        at = [simulate(_with_member_share(sc, share), seed, record_events=False).ledger_book.net(PAYERS, 60)
              for seed in (4, 5)]
        scale = max(np.abs(at[0]).max(), 1.0)
        np.testing.assert_allclose(alone.nets_at_member_share(share, 60), at[0], rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(blocks[0].nets_at_member_share(share, 60), at[0], rtol=0, atol=1e-12 * scale)
        if share in blocks[1].member_changes:
            np.testing.assert_allclose(blocks[1].nets_at_member_share(share, 60), at[1], rtol=0, atol=1e-12 * scale)
    # the shares differ in money (the test is not vacuous), and a run that books none keeps none
    assert np.abs(alone.member_changes[1.0]).max() > 1e3
    assert simulate(sc, 4, record_events=False).member_changes is None
