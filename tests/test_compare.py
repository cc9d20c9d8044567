"""Paired comparisons and break-even: invariants on real runs, arithmetic on synthetic ones."""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from factories import JOBS, PROGRAMME, scenario

from sim.accounts.payers import BEFORE_EQUALISATION, TRANSFERS
from sim.analysis.breakeven import BreakevenResult, breakeven, no_entry_baseline, parse_horizon
from sim.analysis.comparison import (
    ALL_PAYERS,
    MONEY_COLUMNS,
    SOCIETY,
    TABLES,
    Comparison,
    compare,
    discount_factors,
    goal_achievement,
    payback_months,
)
from sim.analysis.comparison_math import column_quantiles, quantiles
from sim.runs.replications import Ensemble, replicate
from sim.runs.results import RunResult
from sim.scenario.dated import format_month
from sim.scenario.schema import Goal

SMALL = {"population": {"cohort": {"size": 300}}, "horizon_months": 72}
GOAL = {"name": "coach_work_12m", "programme": "coach", "measure": "work_or_studies",
        "within_months_of_start": 12, "target_share": 0.3, "source": "test goal"}


def _programme(base: dict, **changes: object) -> dict:
    out = copy.deepcopy(base)
    out.update(copy.deepcopy(changes))
    return out


@pytest.fixture(scope="module")
def baseline():
    return scenario([], name="base", **SMALL)


@pytest.fixture(scope="module")
def policy():
    coach = _programme(PROGRAMME, lock_in_hazard_ratio={"value": 0.7, "source": "test prior",
                                                         "status": "uncalibrated"})
    return scenario([coach, JOBS], name="policy", title="Coaching & <jobs>", goals=[GOAL], **SMALL)


@pytest.fixture(scope="module")
def comparison(baseline, policy):
    return compare(baseline, [policy], seed=3, replications=4)


# --------------------------------------------------------------------------------------------
# Invariants on real runs


def test_tables_and_columns(comparison):
    assert set(comparison.tables) == set(TABLES)
    m = comparison.money
    assert tuple(m.columns) == MONEY_COLUMNS
    assert set(m["payer"]) == set(ALL_PAYERS)
    assert len(m) == 4 * 72 * len(ALL_PAYERS)
    assert m["month"].iloc[0] == "2012-01" and m["month"].iloc[-1] == "2017-12"
    assert m["month_index"].max() == 71
    np.testing.assert_allclose(m["discount_factor"], 1.035 ** (-m["month_index"] / 12), rtol=1e-15)
    assert (m["months_from_programme_start"] == m["month_index"]).all()  # the programmes start with the run
    gap = m["net_sek_undiscounted_scenario"] - m["net_sek_undiscounted_baseline"]
    np.testing.assert_allclose(m["saving_undiscounted_sek"], gap, rtol=0, atol=1e-6)
    assert set(comparison.stock_bands["scenario"]) == {"base", "policy"}
    assert comparison.scenarios == ["policy"] and comparison.baseline == "base"


def test_replications_are_paired_with_the_same_seeds(comparison):
    base_seeds = [r.seed for r in comparison.runs["base"]]
    assert [r.seed for r in comparison.runs["policy"]] == base_seeds
    assert comparison.meta["replication_seeds"] == base_seeds
    assert base_seeds[0] == 3


def _stripped(ens: Ensemble, *, book: bool) -> Ensemble:
    """The same runs without their records (tables only), and without their ledger books unless ``book``."""
    runs = [dataclasses.replace(r, records=None, ledger_book=r.ledger_book if book else None) for r in ens.results]
    out = Ensemble(ens.scenario, ens.seed, ens.seeds, runs)
    out.parameter_draws, out.fixed_parameters = ens.parameter_draws, ens.fixed_parameters
    return out


@pytest.mark.parametrize("book", [True, False], ids=["tables-and-books", "tables-only"])
def test_the_comparison_from_records_equals_the_one_from_tables(baseline, policy, book):
    """Every table (the bridge included) read from the runs' records and books equals the same
    table read from their tables; without books the bridge re-runs everyone followed."""
    base, pol = replicate(baseline, 3, 3, record_events=False), replicate(policy, 3, 3)
    fast = Comparison.from_ensembles(base, [pol], bridge=True)
    slow = Comparison.from_ensembles(_stripped(base, book=book), [_stripped(pol, book=book)], bridge=True)
    assert not fast.tables["bridge"].empty and not fast.tables["goals"].empty
    for name in TABLES:
        pd.testing.assert_frame_equal(fast.tables[name], slow.tables[name], check_exact=True, obj=name)


def test_self_comparison_gives_exactly_zero(policy):
    c = compare(policy, [policy], seed=1, replications=3, sensitivity=False, bridge=False)
    assert c.scenarios == ["policy#2"]
    m = c.money
    for col in ("saving_undiscounted_sek", "saving_discounted_sek", "cumulative_saving_discounted_sek"):
        assert (m[col].to_numpy() == 0.0).all(), col
    assert (m["net_sek_undiscounted_baseline"].to_numpy() == m["net_sek_undiscounted_scenario"].to_numpy()).all()
    h = c.headline
    for metric in ("extra_in_work", "extra_person_months_in_work", "net_saving_discounted_sek"):
        vals = h.loc[h["metric"] == metric, ["p10", "p50", "p90"]].to_numpy()
        assert (vals == 0.0).all(), metric
    assert (c.categories.empty or (c.categories[["p10", "p50", "p90"]].to_numpy() == 0).all())
    assert c.assumptions.empty


def test_programme_nobody_enters_gives_the_baseline_exactly(baseline):
    """A programme that exists but takes no one (referral rate 0) changes nothing, to the bit."""
    silent = scenario([_programme(PROGRAMME, referral_rate_per_month=0.0),
                       _programme(JOBS, referral_rate_per_month=0.0)], name="silent", **SMALL)
    c = compare(baseline, [silent], seed=2, replications=3, sensitivity=False, bridge=False)
    assert (c.money["saving_undiscounted_sek"].to_numpy() == 0.0).all()
    assert (c.money["cumulative_saving_discounted_sek"].to_numpy() == 0.0).all()
    bands = c.stock_bands.pivot_table(index=["month", "stage"], columns="scenario", values="p50")
    assert (bands["base"] == bands["silent"]).all()


def test_zero_capacity_gives_the_baseline_exactly(baseline):
    zero = scenario([_programme(PROGRAMME, capacity={"slots": 0}), _programme(JOBS, capacity={"slots": 0})],
                    name="zero", **SMALL)
    c = compare(baseline, [zero], seed=2, replications=3, sensitivity=False, bridge=False)
    assert (c.money["saving_undiscounted_sek"].to_numpy() == 0.0).all()


def test_society_is_the_sum_over_payers(comparison):
    m = comparison.money
    keys = ["scenario", "replication", "month_index"]
    cols = ["net_sek_undiscounted_baseline", "net_sek_undiscounted_scenario", "saving_undiscounted_sek",
            "saving_discounted_sek",
            "cumulative_saving_discounted_sek"]
    payers = m[m["payer"] != SOCIETY].groupby(keys)[cols].sum().sort_index()
    society = m[m["payer"] == SOCIETY].set_index(keys)[cols].sort_index()
    assert len(society) == 4 * 72
    scale = max(1.0, float(m[cols].abs().to_numpy().max()))
    np.testing.assert_allclose(society.to_numpy(), payers.to_numpy(), rtol=0, atol=1e-9 * scale)


def test_transfers_cancel_over_payers_in_every_run(comparison):
    for label, runs in comparison.runs.items():
        for r in runs:
            led = r.tables["ledger"]
            led = led[led["category"].isin(TRANSFERS)]
            assert len(led), label
            per_month = led.groupby(["month", "category"])["sek"].sum()
            assert per_month.abs().max() < 1e-6, (label, r.seed, per_month.abs().idxmax())


def test_headline_metrics_and_horizons(comparison):
    h = comparison.headline
    assert sorted(h["horizon_months"].unique()) == [12, 60, 72]
    metrics = set(h["metric"])
    for m in ("extra_in_work", "extra_person_months_in_work", "net_saving_discounted_sek", "payback_month",
              "payback_share", "pays_first_share", "cost_per_extra_person_year_in_work_sek", "programme_starts",
              "programme_starts.coach", "programme_starts.jobs"):
        assert m in metrics, m
    net = h[h["metric"] == "net_saving_discounted_sek"]
    assert set(net["payer"]) == {*ALL_PAYERS, BEFORE_EQUALISATION}
    cost = h[h["metric"] == "cost_per_extra_person_year_in_work_sek"]
    assert set(cost["payer"]) == {"municipality", SOCIETY}
    # the headline agrees with the money table: cumulative saving at month 59, median over replications
    m = comparison.money
    at = m[(m["payer"] == "municipality") & (m["month_index"] == 59)]["cumulative_saving_discounted_sek"]
    row = net[(net["payer"] == "municipality") & (net["horizon_months"] == 60)].iloc[0]
    assert row["p50"] == pytest.approx(float(np.median(at)))
    starts = h[(h["metric"] == "programme_starts") & (h["horizon_months"] == 72)].iloc[0]
    assert starts["p50"] > 0


def test_headline_skips_horizons_beyond_the_run(baseline):
    short = scenario([], name="short", population={"cohort": {"size": 100}}, horizon_months=30)
    c = compare(short, [short], replications=2, sensitivity=False, bridge=False)
    assert sorted(c.headline["horizon_months"].unique()) == [12, 30]


def test_mismatched_months_are_refused(baseline):
    other = scenario([], name="other", population={"cohort": {"size": 300}}, horizon_months=48)
    with pytest.raises(ValueError, match="same months"):
        compare(baseline, [other], replications=1)


def test_goals_table(comparison):
    g = comparison.goals
    assert list(g["goal"]) == ["coach_work_12m"]
    row = g.iloc[0]
    assert 0.0 <= row["probability"] <= 1.0
    assert 0.0 <= row["median_achieved_share"] <= 1.0
    assert row["median_participants"] > 0 and row["replications"] == 4


def test_assumptions_and_sources(comparison):
    a = comparison.assumptions
    paths = set(a["path"])
    assert "programmes.coach.capacity.staff" in paths
    assert "programmes.jobs.wage_sek_per_month" in paths
    assert not any(p.endswith((".name", ".title", ".description")) for p in paths)
    row = a[a["path"] == "programmes.coach.lock_in_hazard_ratio"].iloc[0]
    assert (row["value_baseline"], row["value_scenario"]) == ("—", "0.7")
    assert row["source"] == "test prior" and row["status"] == "uncalibrated"
    s = comparison.sources
    assert "programmes.coach.lock_in_hazard_ratio" in set(s["path"])
    assert "goals.coach_work_12m" in set(s["path"])


def test_assumptions_list_changed_values_only(baseline):
    changed = scenario([], name="changed", money={"discount_rate_per_year": {"value": 0.04, "source": "ASEK"}},
                       **SMALL)
    c = compare(baseline, [changed], replications=1, sensitivity=False, bridge=False)
    assert list(c.assumptions["path"]) == ["money.discount_rate_per_year"]
    row = c.assumptions.iloc[0]
    assert (row["value_baseline"], row["value_scenario"], row["source"]) == ("0.035", "0.04", "ASEK")
    # the scenario's own rate discounts its savings
    m = c.money
    np.testing.assert_allclose(m["discount_factor"], 1.04 ** (-m["month_index"] / 12))


def test_save_load_and_text(comparison, tmp_path):
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    assert comparison.save(out) == out
    assert not (out / "stale.txt").exists()  # replaced as a whole
    for name in TABLES:
        assert (out / f"{name}.parquet").is_file() and (out / f"{name}.csv").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left
    back = Comparison.load(out)
    for name in TABLES:
        pd.testing.assert_frame_equal(back.tables[name], comparison.tables[name], check_dtype=False)
    csv = pd.read_csv(out / "money.csv")
    assert len(csv) == len(comparison.money)
    text = comparison.to_text()
    for payer in ALL_PAYERS:
        assert payer in text
    assert "coach_work_12m" in text and "5 years" in text


# --------------------------------------------------------------------------------------------
# Arithmetic on synthetic runs


def _fake_runs(scn, nets: list[np.ndarray], *, work: list[np.ndarray] | None = None,
               events: list[pd.DataFrame] | None = None) -> Ensemble:
    """An ensemble whose runs book ``nets[i][t]`` SEK to the municipality in month ``t``."""
    months = [format_month(scn.start_month + t) for t in range(scn.horizon_months)]
    empty_events = pd.DataFrame({"month": [], "person": [], "from_stage": [], "to_stage": [], "programme": [],
                                 "programme_start": []})
    results = []
    for i, net in enumerate(nets):
        ledger = pd.DataFrame({"month": months, "payer": "municipality", "category": "social_assistance",
                               "sek": np.asarray(net, dtype=float)})
        w = np.zeros(len(months)) if work is None else work[i]
        stocks = pd.DataFrame({"month": months, "stage": "work", "people": np.asarray(w, dtype=np.int64)})
        queues = pd.DataFrame({"month": pd.Series([], dtype=object), "programme": pd.Series([], dtype=object),
                               "starts": pd.Series([], dtype=np.int64)})
        tables = {"ledger": ledger, "stocks": stocks, "queues": queues,
                  "events": empty_events if events is None else events[i]}
        results.append(RunResult(scn.name, i, scn.start_month, scn.horizon_months,
                                 [p.name for p in scn.programmes], tables))
    return Ensemble(scn, 0, list(range(len(nets))), results)


def test_discount_factors():
    np.testing.assert_allclose(discount_factors(25, 0.04)[[0, 12, 24]], [1.0, 1 / 1.04, 1 / 1.04**2])


def test_constant_saving_discounts_to_the_closed_form():
    r, s_month = 0.04, 10_000.0
    scn = scenario([], name="flat", horizon_months=12, money={"discount_rate_per_year": r})
    base = _fake_runs(scn, [np.full(12, -50_000.0)])
    scen = _fake_runs(scn, [np.full(12, -50_000.0 + s_month)])
    c = Comparison.from_ensembles(base, [scen])
    v = (1 + r) ** (-1 / 12)
    expected = s_month * (1 - v**12) / (1 - v)  # = S * (1 - 1/(1+r)) / (1 - v)
    m = c.money[c.money["payer"] == "municipality"]
    assert m["saving_undiscounted_sek"].tolist() == [s_month] * 12
    assert m["cumulative_saving_discounted_sek"].iloc[-1] == pytest.approx(expected, rel=1e-12)
    net = c.headline[c.headline["metric"] == "net_saving_discounted_sek"].set_index("payer")
    assert net.loc["municipality", "p50"] == pytest.approx(expected, rel=1e-12)
    assert net.loc[SOCIETY, "p50"] == pytest.approx(expected, rel=1e-12)
    assert net.loc["state", "p50"] == 0.0
    assert c.headline[(c.headline["metric"] == "net_saving_sek")
                      & (c.headline["payer"] == "municipality")]["p50"].iloc[0] == pytest.approx(12 * s_month)


def test_horizons_discounting_and_payback_count_from_the_programme_start():
    """A programme that starts a year into the run: the year before it is not in any horizon."""
    late = _programme(PROGRAMME, start_month="2013-01")
    scn = scenario([late], name="late", horizon_months=36, money={"discount_rate_per_year": 0.04})
    base = _fake_runs(scn, [np.zeros(36)])
    # 12 months of noise before the start (ignored), then -10 for 3 months, then +10
    scen = _fake_runs(scn, [np.r_[np.full(12, 99.0), [-10.0] * 3, [10.0] * 21]])
    c = Comparison.from_ensembles(base, [scen])
    m = c.money[c.money["payer"] == "municipality"].reset_index(drop=True)
    assert m.loc[12, "months_from_programme_start"] == 0 and m.loc[12, "discount_factor"] == 1.0
    assert (m.loc[:11, "cumulative_saving_discounted_sek"] == 0).all()
    h = c.headline[(c.headline["payer"] == "municipality")]
    assert sorted(h["horizon_months"].unique()) == [12, 24]
    net12 = h[(h["metric"] == "net_saving_sek") & (h["horizon_months"] == 12)].iloc[0]
    assert net12["p50"] == pytest.approx(-30 + 90)  # months 12..23 only
    pb = h[(h["metric"] == "payback_month") & (h["horizon_months"] == 24)].iloc[0]
    assert pb["p50"] == 5  # cumulative -10,-20,-30,-20,-10,0 (to within discounting): from month 5
    assert c.meta["programme_start"] == {"late#2": "2013-01"}


def test_payback_only_for_a_payer_that_pays_first():
    scn = scenario([], name="gain", horizon_months=12, money={"discount_rate_per_year": 0.0})
    c = Comparison.from_ensembles(_fake_runs(scn, [np.zeros(12)] * 2), [_fake_runs(scn, [np.full(12, 5.0)] * 2)])
    h = c.headline[(c.headline["payer"] == "municipality") & (c.headline["horizon_months"] == 12)].set_index("metric")
    assert h.loc["pays_first_share", "p50"] == 0.0
    assert h.loc["payback_month", "n"] == 0 and np.isnan(h.loc["payback_month", "p50"])
    assert "does not pay first" in c.to_text()


def test_cost_per_person_year_only_where_the_extra_work_is_surely_positive():
    scn = scenario([], name="ratio", horizon_months=12, money={"discount_rate_per_year": 0.0})
    base = _fake_runs(scn, [np.zeros(12)] * 4, work=[np.full(12, 10)] * 4)
    cost = [np.full(12, -1200.0)] * 4
    sure = Comparison.from_ensembles(base, [_fake_runs(scn, cost, work=[np.full(12, 11)] * 4)])
    r = sure.headline.set_index(["metric", "payer"]).loc[("cost_per_extra_person_year_in_work_sek", "municipality")]
    assert r["p50"] == pytest.approx(14_400.0)  # 14,400 SEK over 1 extra person-year
    unsure = Comparison.from_ensembles(base, [_fake_runs(scn, cost, work=[np.full(12, w) for w in (9, 11, 10, 12)])])
    r = unsure.headline.set_index(["metric", "payer"]).loc[("cost_per_extra_person_year_in_work_sek", "municipality")]
    assert np.isnan(r["p50"]) and r["n"] == 0
    assert "not meaningful" in unsure.to_text()


def test_quantiles_of_every_column_at_once_are_each_columns_own():
    rng = np.random.default_rng(5)
    for r in (1, 3, 8, 20, 41):
        v = rng.normal(size=(r, 30)) * 10.0 ** rng.integers(0, 9, size=30)
        v[:, 3] = np.nan
        v[0, 7] = np.inf
        got = column_quantiles(v)
        want = np.array([quantiles(v[:, x])[:4] for x in range(v.shape[1])])
        assert np.array_equal(got, want, equal_nan=True)  # exactly, not nearly
    assert np.isnan(column_quantiles(np.zeros((0, 2)))).all()


def test_payback_month_on_synthetic_series():
    assert payback_months(np.array([-5.0, -3, 2, -10, 4, 6])) == 4
    assert payback_months(np.array([1.0, 2, 3])) == 0
    assert np.isnan(payback_months(np.array([-10.0, -20])))
    assert np.isnan(payback_months(np.array([3.0, -10])))
    assert payback_months(np.array([-5.0, -0.5, 0.0])) == 1  # within the 1 SEK tolerance
    np.testing.assert_array_equal(payback_months(np.array([[-10.0, 1, 1], [1, 1, -10]])), [1, np.nan])


def test_payback_in_the_headline():
    scn = scenario([], name="pb", horizon_months=12, money={"discount_rate_per_year": 0.0})
    saving = [np.r_[[-10.0] * 3, [10.0] * 9],  # cumulative -10,-20,-30,-20,-10,0,...: month 5
              np.r_[[-10.0] * 2, [10.0] * 10],  # -10,-20,-10,0: month 3
              np.full(12, -10.0)]  # never
    base = _fake_runs(scn, [np.zeros(12)] * 3)
    c = Comparison.from_ensembles(base, [_fake_runs(scn, saving)])
    h = c.headline[(c.headline["payer"] == "municipality") & (c.headline["horizon_months"] == 12)]
    pb = h[h["metric"] == "payback_month"].iloc[0]
    assert pb["p10"] == 3 and pb["p50"] == 5 and np.isnan(pb["p90"])  # never ranks last
    assert pb["n"] == 2
    share = h[h["metric"] == "payback_share"].iloc[0]
    assert share["p50"] == pytest.approx(2 / 3)


def _events(rows: list[tuple], start: int) -> pd.DataFrame:
    """Crafted events: ``(t, person, from, to, programme[, start])``; a move from ``waiting`` into a
    programme's stage is a start unless the row says it is not."""
    starts = {"coaching", "training", "education", "subsidised"}
    return pd.DataFrame([(format_month(start + r[0]), r[1], r[2], r[3], r[4],
                          r[5] if len(r) > 5 else (r[2] == "waiting" and r[3] in starts and r[4] != ""))
                         for r in rows],
                        columns=["month", "person", "from_stage", "to_stage", "programme", "programme_start"])


def test_goal_achievement_on_crafted_events():
    start = 2012 * 12
    ev = _events([
        (0, 1, "waiting", "coaching", "coach"), (5, 1, "coaching", "work", "coach"),       # work in 5: yes
        (1, 2, "waiting", "coaching", "coach"), (10, 2, "coaching", "studies", "coach"),   # studies in 9
        (0, 3, "waiting", "coaching", "coach"), (14, 3, "open", "work", ""),               # too late (14)
        (0, 4, "open", "work", ""), (1, 4, "work", "open", ""),
        (2, 4, "waiting", "coaching", "coach"),                                              # work before start
        (30, 5, "waiting", "coaching", "coach"), (31, 5, "coaching", "work", "coach"),     # not followed 12 m
        (0, 6, "waiting", "training", "other"), (2, 6, "training", "work", "other"),       # other programme
        (3, 7, "open", "waiting", "coach"), (4, 7, "waiting", "open", "coach"),            # never admitted
        (3, 8, "open", "waiting", "coach"), (4, 8, "waiting", "coaching", "coach", False),  # not a start: left
        (6, 8, "coaching", "work", ""),                                                     # for the same stage
    ], start)
    goal = Goal(name="g", programme="coach", measure="work_or_studies", within_months_of_start=12, target_share=0.5)
    assert goal_achievement(ev, goal, start, 36) == (0.5, 4)
    goal_work = goal.model_copy(update={"measure": "work"})
    assert goal_achievement(ev, goal_work, "2012-01", 36) == (0.25, 4)
    assert goal_achievement(ev, goal, start, 10)[1] == 0  # nobody followed 12 months
    assert math.isnan(goal_achievement(ev.iloc[:0], goal, start, 36)[0])


def test_goal_probability_over_replications():
    scn = scenario([PROGRAMME], name="goals", horizon_months=36,
                   goals=[{"name": "g", "programme": "coach", "measure": "work", "within_months_of_start": 12,
                           "target_share": 0.5}])
    start = scn.start_month

    def run(reached: int) -> pd.DataFrame:  # 4 participants, ``reached`` of them in work by month 6
        rows = [(0, p, "waiting", "coaching", "coach") for p in range(4)]
        rows += [(6, p, "coaching", "work", "coach") for p in range(reached)]
        return _events(rows, start)

    zero = [np.zeros(36)] * 3
    ens = _fake_runs(scn, zero, events=[run(2), run(1), run(3)])
    c = Comparison.from_ensembles(_fake_runs(scn, zero), [ens])
    g = c.goals.iloc[0]
    assert g["probability"] == pytest.approx(2 / 3)  # 0.5 and 0.75 meet 0.5; 0.25 does not
    assert g["median_achieved_share"] == pytest.approx(0.5)
    assert g["median_participants"] == 4


# --------------------------------------------------------------------------------------------
# Break-even


@pytest.mark.parametrize(("text", "months"), [("4y", 48), ("48m", 48), ("48", 48), (18, 18), ("1.5y", 18),
                                               ("18 months", 18), ("2 years", 24), (" 6M ", 6)])
def test_parse_horizon(text, months):
    assert parse_horizon(text) == months


@pytest.mark.parametrize("text", ["", "four years", "0", "-3m", "1.3y", "4w", "601", "y", True])
def test_parse_horizon_rejects(text):
    with pytest.raises(ValueError, match="horizon"):
        parse_horizon(text)


def _coaching(cost_sek_per_month: float) -> object:
    """300 people on assistance with little chance of work; a 6-month coaching programme for 100."""
    coach = {"name": "coach", "kind": "coaching", "referral_rate_per_month": {"2012-01": 0.5, "2012-07": 0.0},
             "capacity": {"slots": 100}, "max_duration_months": 6, "exit_rates_per_month": {"dropout": 0.01},
             "completion_to_work_share": 0.1,
             "cost_sek_per_participant_month": {"municipality": cost_sek_per_month}}
    return scenario([coach], name="coaching", population={"cohort": {"size": 300}}, horizon_months=48,
                    transitions={"open": {"work": 0.01, "other": 0.002}, "job": {"work": 0.01},
                                 "work": {"open": 0.01}})


def test_no_entry_baseline_takes_no_one():
    base = no_entry_baseline(_coaching(3000))
    assert all(p.referral_rate_per_month.at(base.start_month) == 0 for p in base.programmes)
    assert all(p.staff_cost_sek_per_month.at(base.start_month) == 0 for p in base.programmes)


def test_breakeven_finds_a_root_inside_the_interval_of_replications():
    res = breakeven(_coaching(3000), payer="municipality", horizon_months="4y", replications=5, tol=0.02)
    assert isinstance(res, BreakevenResult)
    assert res.status == "found" and res.reachable
    assert res.path == "programmes.coach.completion_to_work_share"
    lo, hi = res.bracket
    assert 0.0 <= lo < hi <= 1.0 and hi - lo <= 0.02 and res.value == hi
    curve = res.curve.set_index("value")
    assert curve.loc[hi, "saving_p50"] >= 0 > curve.loc[lo, "saving_p50"]
    assert curve.loc[1.0, "saving_p50"] > 0 > curve.loc[0.0, "saving_p50"]
    assert 0 < res.implied_share_into_work <= 1
    # the point found lies within the interval of the replications' own crossings
    a, b = res.interval
    assert a <= res.value <= b or math.isclose(res.value, a, abs_tol=0.02) or math.isclose(res.value, b, abs_tol=0.02)
    # Under common random numbers a larger effect puts more participants into work.
    share = curve["share_of_participants_into_work"].sort_index()
    assert share.iloc[-1] > share.iloc[0] + 0.2
    assert np.corrcoef(share.index.to_numpy(), share.to_numpy())[0, 1] > 0.9
    text = res.to_text()
    assert "breaks even" in text and "Reference run:" in text and "P10..P90 over replications" in text


def test_breakeven_on_a_cost_that_lowers_the_saving():
    """A lever whose larger values cost the payer: the search finds the crossing from above."""
    res = breakeven(_coaching(3000), payer="municipality", horizon_months=48, replications=3,
                    parameter="programmes.coach.cost_sek_per_participant_month.municipality",
                    search_range=(0, 40_000), tol=500)
    assert res.status == "found"
    curve = res.curve.set_index("value")
    assert curve["saving_p50"].is_monotonic_decreasing
    assert curve.loc[res.value, "saving_p50"] >= 0
    text = res.to_text()  # amounts in kronor read as amounts, not in scientific notation
    assert "e+0" not in text and "40,000" in text and "\n    20,000  " in text


def test_breakeven_reports_no_break_even_within_the_range():
    res = breakeven(_coaching(200_000), payer="municipality", horizon_months=48, replications=2)
    assert res.status == "not_reachable" and not res.reachable
    assert math.isnan(res.value) and res.bracket is None
    assert (res.curve["saving_p50"] < 0).all()
    assert "Does not break even within the range" in res.to_text()


def test_breakeven_on_the_after_effect():
    res = breakeven(_coaching(200_000), parameter="effect_after_hazard_ratio", horizon_months=24, replications=2)
    assert res.search_range == (1.0, 3.0) and res.status == "not_reachable"


def test_breakeven_searches_monthly_rates_without_a_range():
    from sim.analysis.breakeven import MONTHLY_RATE_RANGE, _default_range

    assert _default_range("programmes.coach.exit_rates_per_month.dropout", 0.01) == MONTHLY_RATE_RANGE
    assert _default_range("transitions.open.work", 0.05) == MONTHLY_RATE_RANGE
    assert _default_range("programmes.coach.referral_rate_per_month", 0.05) == MONTHLY_RATE_RANGE


def test_breakeven_rejects_bad_input():
    scn = _coaching(3000)
    with pytest.raises(ValueError, match="payer"):
        breakeven(scn, payer="king")
    with pytest.raises(ValueError, match="no key"):
        breakeven(scn, parameter="programmes.coach.wage_of_nobody", search_range=(0, 1))
    with pytest.raises(ValueError, match="give a search range"):
        breakeven(scn, parameter="programmes.coach.max_duration_months")
    with pytest.raises(ValueError, match="beyond"):
        breakeven(scn, horizon_months="5y")
    with pytest.raises(ValueError, match="no programme"):
        breakeven(scn, programme="nope")
    with pytest.raises(ValueError, match="search range"):
        breakeven(scn, search_range=(0.6, 0.2))


def test_a_programme_with_places_and_no_cost_is_warned_about(baseline):
    free = scenario([_programme(PROGRAMME, staff_cost_sek_per_month=0, cost_sek_per_participant_month={},
                                budget_sek_per_year={})],
                    name="free", **SMALL)
    c = compare(baseline, [free], seed=1, replications=1, sensitivity=False, bridge=False)
    assert any("has places but no staff" in w for w in c.meta["warnings"]["free"])
    assert "warning: programme 'coach' has places" in c.to_text()
    paid = scenario([_programme(PROGRAMME, staff_cost_sek_per_month=40_000)], name="paid", **SMALL)
    quiet = compare(baseline, [paid], seed=1, replications=1, sensitivity=False, bridge=False)
    assert quiet.meta["warnings"]["paid"] == []


def test_the_municipality_before_equalisation_adds_back_what_the_grant_takes(comparison):
    """'before equalisation' = the municipality's saving minus its income_equalisation category."""
    h = comparison.headline.set_index(["metric", "horizon_months", "payer"])
    cat = comparison.categories.set_index(["horizon_months", "payer", "category"])
    for x in (12, 60):
        after = h.loc[("net_saving_sek", x, "municipality")]
        before = h.loc[("net_saving_sek", x, BEFORE_EQUALISATION)]
        runs = comparison.runs
        eq = [float((s.tables["ledger"].query("payer == 'municipality' and category == 'income_equalisation'")
                     .set_index("month")["sek"].iloc[:x].sum())
                    - (b.tables["ledger"].query("payer == 'municipality' and category == 'income_equalisation'")
                       .set_index("month")["sek"].iloc[:x].sum()))
              for b, s in zip(runs["base"], runs["policy"], strict=True)]
        assert before["mean"] == pytest.approx(after["mean"] - np.mean(eq), rel=1e-9, abs=1e-3)
        # the grant takes back 95 % of a change in municipal tax: the two categories move together
        tax = cat.loc[(x, "municipality", "income_tax"), "p50"] if (x, "municipality", "income_tax") in cat.index else 0
        clawed = cat.loc[(x, "municipality", "income_equalisation"), "p50"] \
            if (x, "municipality", "income_equalisation") in cat.index else 0
        assert clawed == pytest.approx(-0.95 * tax, rel=1e-6, abs=1.0)


def test_scenario_pairs_are_paired_differences(baseline, policy):
    """A pair's interval comes from replication-by-replication differences, not from the two
    scenarios' intervals."""
    cheaper = scenario([_programme(PROGRAMME, cost_sek_per_participant_month={"municipality": 1000},
                                   lock_in_hazard_ratio=0.9), JOBS], name="cheaper", **SMALL)
    c = compare(baseline, [policy, cheaper], seed=5, replications=5, sensitivity=False, bridge=False)
    pair = c.tables["pairs"]
    assert set(pair["scenario"]) == {"cheaper vs policy"}
    row = pair[(pair["metric"] == "net_saving_discounted_sek") & (pair["payer"] == "municipality")
               & (pair["horizon_months"] == 60)].iloc[0]
    m = c.money[(c.money["payer"] == "municipality") & (c.money["month_index"] == 59)]
    per_rep = (m[m["scenario"] == "cheaper"].set_index("replication")["cumulative_saving_discounted_sek"]
               - m[m["scenario"] == "policy"].set_index("replication")["cumulative_saving_discounted_sek"])
    assert row["p50"] == pytest.approx(float(np.median(per_rep)), rel=1e-9)
    assert row["p10"] == pytest.approx(float(np.quantile(per_rep, 0.1)), rel=1e-9)
    assert "Pair: cheaper vs policy" in c.to_text()
    with pytest.raises(ValueError, match="pair"):
        Comparison.from_ensembles(_fake_runs(baseline, [np.zeros(72)]), [_fake_runs(baseline, [np.zeros(72)])],
                                  pairs=[("nope", "base#2")])


def test_the_binding_limit_is_named(baseline):
    few = scenario([_programme(PROGRAMME, capacity={"slots": 3})], name="few", **SMALL)
    idle = scenario([_programme(PROGRAMME, capacity={"slots": 250}, referral_rate_per_month=0.002)],
                    name="idle", **SMALL)
    c = compare(baseline, [few, idle], seed=1, replications=2, sensitivity=False, bridge=False)
    lim = c.tables["limits"].set_index("scenario")
    assert lim.loc["few", "limit"] == "places" and lim.loc["few", "months_full"] > 0
    assert lim.loc["idle", "limit"] == "referrals or eligibility"
    assert lim.loc["idle", "peak_participants"] < 250
    assert "limit: coach: places bind" in c.to_text()
