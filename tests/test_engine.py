"""The model's rules and invariants, checked month by month on whole runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from factories import JOBS, PROGRAMME, merge, scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engine.model import ProgrammeModel
from sim.runs.replications import simulate
from sim.runs.results import RunResult
from sim.scenario.stages import LEGAL, PROGRAMME_STAGES, Stage


def run_checked(scn, seed=0):
    """Run month by month, asserting the invariants after every month."""
    m = ProgrammeModel(scn, rng=seed)
    pop = m.pop
    prev_job = pop.job_days.copy()
    prev_ui = pop.ui_days.copy()
    prev_stage = pop.stage.copy()
    for _ in range(scn.horizon_months):
        m.step()
        arrived = pop.stage != Stage.NOT_ARRIVED
        # people are conserved: the stocks recorded this month cover everyone arrived then
        assert m.rec.stocks[-1][: Stage.NOT_ARRIVED].sum() + m.rec.stocks[-1][Stage.NOT_ARRIVED] == len(pop)
        # capacity never exceeded, budgets never overspent
        for p, slots, budgets in zip(m.regime.programmes, m.slots, m.budgets, strict=True):
            inside = ((pop.programme == p.index) & np.isin(pop.stage, list(PROGRAMME_STAGES))).sum()
            assert inside <= slots.capacity, (p.name, inside, slots.capacity)
            for b in budgets.values():
                assert b.spent <= b.level + 1e-6
        # clocks only move forward, except when a clock legitimately restarts
        restarted_job = ~pop.in_guarantee & (pop.job_days == 0)
        assert np.all((pop.job_days >= prev_job) | restarted_job)
        # a new UI period opens only when a job ends; it may already have run one month
        # (a job cut at the start of a month is followed by that month's UI)
        left_job = (prev_stage == Stage.WORK) | (prev_stage == Stage.SUBSIDISED)
        new_period = pop.ui_entitled & (pop.ui_days <= scn.rules.benefit_days_per_month + 1e-3) & left_job
        assert np.all((pop.ui_days >= prev_ui) | new_period)
        assert np.all(pop.months_in_stage[arrived] >= 0)
        prev_job, prev_ui, prev_stage = pop.job_days.copy(), pop.ui_days.copy(), pop.stage.copy()
    ev = m.rec.events
    if ev:
        src = np.concatenate([e[2] for e in ev])
        dst = np.concatenate([e[3] for e in ev])
        assert LEGAL[src, dst].all()
    return m


def test_invariants_with_capacity_queue_and_budget():
    m = run_checked(scenario([PROGRAMME, JOBS]))
    q = RunResult.from_model(m).queues
    assert q["waiting"].max() > 0, "the test should produce a queue"
    assert (q["participants"] <= q["capacity"]).all()


def test_invariants_on_100k_people():
    scn = scenario([PROGRAMME, merge(JOBS, {"capacity": {"slots": 2000}})],
                   population={"cohort": {"size": 100_000}}, horizon_months=24)
    run_checked(scn, seed=3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    staff=st.integers(0, 5),
    caseload=st.integers(0, 20),
    referral=st.floats(0, 1),
    budget=st.one_of(st.none(), st.floats(0, 2e6)),
    duration=st.integers(1, 24),
    slots=st.integers(0, 80),
    starts=st.one_of(st.none(), st.integers(0, 10)),
    size=st.integers(0, 400),
    cut=st.integers(0, 3),
)
def test_invariants_hold_for_random_programmes(seed, staff, caseload, referral, budget, duration, slots, starts,
                                               size, cut):
    coach = merge(PROGRAMME, {"capacity": {"staff": {"2012-01": staff, "2012-07": max(staff - cut, 0)},
                                           "caseload_per_staff": caseload},
                              "referral_rate_per_month": referral, "max_duration_months": duration})
    if starts is not None:
        coach["capacity"]["max_starts_per_month"] = starts
    if budget is None:
        coach.pop("budget_sek_per_year")
    else:
        coach["budget_sek_per_year"] = {"municipality": {"2012-01": budget, "2013-01": budget / 2}}
    jobs = merge(JOBS, {"capacity": {"slots": slots}, "budget_sek_per_year": {"municipality": 3e6}})
    run_checked(scenario([coach, jobs], population={"cohort": {"size": size}}, horizon_months=30), seed)


def test_same_seed_same_result_and_other_seed_differs():
    scn = scenario([PROGRAMME])
    a, b, c = simulate(scn, 7), simulate(scn, 7), simulate(scn, 8)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    assert a.summary == b.summary
    assert not a.tables["events"].equals(c.tables["events"])


def _histories(result):
    ev = result.tables["events"]
    return {p: tuple(map(tuple, g[["month", "from_stage", "to_stage"]].to_numpy()))
            for p, g in ev.groupby("person")}


def test_baseline_and_scenario_diverge_only_for_people_the_policy_touches():
    base = simulate(scenario([]), 11)
    policy = simulate(scenario([PROGRAMME]), 11)
    hb, hp = _histories(base), _histories(policy)
    touched = set(policy.tables["events"].query("to_stage == 'waiting'")["person"])
    assert touched, "the programme should reach someone"
    untouched = set(hp) - touched
    assert len(untouched) > 1000
    differing = {p for p in untouched if hb.get(p) != hp.get(p)}
    assert differing == set()
    # and the policy does change the path of some of those it touches
    assert any(hb.get(p) != hp.get(p) for p in touched)


def _lone_person(**composition):
    comp = {"age_bands": {"30-30": 1.0}, "households": {"single": 1.0}, "registered_share": 1.0,
            "ui_entitled_share": 0.0, "employability_sd": 0.0}
    comp.update(composition)
    return {"cohort": {"size": 50}, "composition": comp}


def test_fas3_rule_450_job_days_without_work_means_fas3():
    # Everyone starts in JOB at 400 days; nobody can find work; 21.7 days a month.
    scn = scenario([], population=_lone_person(initial_stages={"job": 1.0}, job_days_at_entry=[400, 400]),
                   transitions={"job": {"work": 0.0}, "open": {"work": 0.0}}, horizon_months=6)
    m = ProgrammeModel(scn, rng=1)
    m.run()
    ev = RunResult.from_model(m).events
    to_fas3 = ev[ev["to_stage"] == "fas3"]
    assert set(to_fas3["person"]) == set(range(50))
    # 400 + 3 * 21.7 = 465.1 >= 450 after the third month: the move happens at its end
    assert set(to_fas3["month"]) == {"2012-03"}
    assert (m.pop.stage == Stage.FAS3).all()


@pytest.mark.parametrize(("start", "into_fas3"), [("2015-09", True), ("2016-02", False)])
def test_the_day_limit_moves_people_into_fas3_only_while_it_takes_entrants(start, into_fas3):
    """Until January 2016 the guarantee's day limit moves people from JOB into Fas 3; from
    February 2016 Fas 3 took nobody new, and people past the limit stay in JOB."""
    scn = scenario([], population=_lone_person(initial_stages={"job": 1.0}, job_days_at_entry=[440, 440]),
                   transitions={"job": {"work": 0.0}, "open": {"work": 0.0}}, start_month=start, horizon_months=4)
    m = ProgrammeModel(scn, rng=1)
    m.run()
    guarantee = np.isin(m.pop.stage, [Stage.JOB, Stage.FAS3])  # (a few leave for studies or other)
    assert guarantee.sum() >= 40 and (m.pop.job_days[guarantee] >= 450).all()
    assert (m.pop.stage[guarantee] == (Stage.FAS3 if into_fas3 else Stage.JOB)).all()


@pytest.mark.parametrize(("kept", "leave"), [(0, True), (1, False)])
def test_after_fas3_closed_people_past_the_limit_leave_at_the_guarantees_rates_or_at_fas3s(kept, leave):
    """From February 2016 people in JOB past the day limit leave at JOB's exit rates, or, with
    ``rules.fas3_rates_after_closure: 1`` (the assumption line's other value), at Fas 3's."""
    scn = scenario([], population=_lone_person(initial_stages={"job": 1.0}, job_days_at_entry=[500, 500]),
                   transitions={"job": {"work": 0.5}, "fas3": {"work": 0.0, "other": 0.0, "studies": 0.0}},
                   start_month="2016-03", horizon_months=3, rules={"fas3_rates_after_closure": kept})
    m = ProgrammeModel(scn, rng=1)
    m.run()
    worked = (m.pop.stage == Stage.WORK).sum()
    assert (worked > 30) if leave else (worked == 0)


def test_fas3_is_emptied_at_its_phase_out_rate_from_february_2016():
    """From February 2016 a share ``rules.fas3_phaseout_per_month`` (5.7 %) of Fas 3's people goes
    back to the guarantee each month: of 2,000 with no other exit, (1 - 0.057)^10 = 56 % are left
    after ten months."""
    pop = _lone_person(initial_stages={"fas3": 1.0}, fas3_days_at_entry=[500, 600])
    pop["cohort"]["size"] = 2000
    scn = scenario([], population=pop, transitions={"fas3": {"work": 0.0, "other": 0.0, "studies": 0.0,
                                                             "subsidised": 0.0, "education": 0.0}},
                   start_month="2016-02", horizon_months=10)
    m = ProgrammeModel(scn, rng=4)
    m.run()
    left = (m.pop.stage == Stage.FAS3).mean()
    assert 0.52 < left < 0.60, left


def test_fas3_placements_end_in_february_2018_and_those_left_go_back_to_jobs():
    """Everyone still in Fas 3 when its placements end (February 2018) goes back to JOB that
    month, and nobody is in Fas 3 after."""
    scn = scenario([], population=_lone_person(initial_stages={"fas3": 1.0}, fas3_days_at_entry=[500, 600]),
                   transitions={"fas3": {"work": 0.0, "other": 0.0}}, start_month="2017-10", horizon_months=8,
                   rules={"fas3_phaseout_per_month": 0.0})
    m = ProgrammeModel(scn, rng=1)
    m.run()
    ev = RunResult.from_model(m).events
    back = ev[(ev["from_stage"] == "fas3") & (ev["to_stage"] == "job")]
    assert len(back) >= 40 and set(back["month"]) == {"2018-02"}
    left = ev[(ev["from_stage"] == "fas3") & (ev["month"] < "2018-02")]["person"]
    assert set(back["person"]) == set(range(50)) - set(left)  # everyone still in Fas 3 then
    assert not (m.pop.stage == Stage.FAS3).any()


def test_a_twelve_month_job_that_counts_as_work_requalifies_for_ui():
    # People on social assistance (no UI) take a 12-month job that counts as work.
    jobs = merge(JOBS, {"referral_rate_per_month": 1.0, "capacity": {"slots": 50}})
    quiet = {"open": {"work": 0.0, "studies": 0.0, "other": 0.0, "training": 0.0}, "work": {"open": 0.0, "other": 0.0}}
    new = _lone_person(registered_share=0.0, months_on_assistance={"0-0": 1.0})
    scn = scenario([jobs], population=new, transitions=quiet, horizon_months=16)
    m = ProgrammeModel(scn, rng=2)
    m.run(14)
    pop = m.pop
    back = pop.stage == Stage.OPEN
    assert back.all(), np.bincount(pop.stage)
    assert pop.ui_entitled.all() and not pop.in_guarantee.any()
    # without counts_as_work nobody earns UI
    scn2 = scenario([merge(jobs, {"counts_as_work": False})], population=new, transitions=quiet,
                    horizon_months=16)
    m2 = ProgrammeModel(scn2, rng=2)
    m2.run(14)
    assert not m2.pop.ui_entitled.any()


@pytest.mark.parametrize(("start", "related"), [("2019-06", False), ("2020-06", True)])
def test_four_months_of_membership_give_income_related_ui_only_under_the_rules_of_2020(start, related):
    """People who leave a job after meeting the work condition open a UI period; it is income
    related only if they meet the membership condition, 12 months of a-kassa membership, which
    the temporary rules of 2020 cut to 3 (from March 2020). Joined four months before the period
    begins: the basic amount in 2019, income related in 2020."""
    from sim.engine import moves

    scn = scenario([], population=_lone_person(months_on_assistance={"0-0": 1.0}), start_month=start,
                   horizon_months=6)
    m = ProgrammeModel(scn, rng=0)
    m.run(1)
    state, pop = m.state, m.pop
    ids = np.arange(10)
    pop.work_history[ids] = 0xFFF  # worked every one of the last 12 months
    pop.ui_member_since[ids] = state.month + 1 - 4  # a member for 4 months when the period begins
    pop.ui_income_related[ids] = not related
    moves.resolve_unemployed(state, ids, np.full(ids.size, Stage.WORK, np.uint8))
    assert pop.ui_entitled[ids].all()
    assert (pop.ui_income_related[ids] == related).all()


def test_ui_exhaustion_moves_people_into_the_guarantee():
    scn = scenario([], population=_lone_person(ui_entitled_share=1.0, registered_share=0.0,
                                               months_on_assistance={"0-0": 1.0}),
                   transitions={"open": {"work": 0.0, "studies": 0.0, "other": 0.0, "training": 0.0}},
                   horizon_months=20)
    m = ProgrammeModel(scn, rng=0)
    m.run()
    ev = RunResult.from_model(m).events
    moved = ev[(ev["from_stage"] == "open") & (ev["to_stage"] == "job")]
    assert set(moved["person"]) == set(range(50))
    # UI days at entry are below 250, so everyone is in JOB within 14 months (300 / 21.7)
    assert moved["month"].max() <= "2013-02"


def test_dated_capacity_reform_takes_effect_in_its_month():
    coach = merge(PROGRAMME, {"capacity": {"staff": {"2012-01": 3, "2012-10": 1}}, "referral_rate_per_month": 0.5})
    coach.pop("budget_sek_per_year")
    r = simulate(scenario([coach]), 0)
    cap = r.tables["queues"].set_index("month")["capacity"]
    assert cap["2012-09"] == 36 and cap["2012-10"] == 12
    part = r.tables["queues"].set_index("month")["participants"]
    assert part["2012-11"] <= 12


def test_priority_groups_are_admitted_first():
    coach = merge(PROGRAMME, {"referral_rate_per_month": 1.0, "priority": ["children"],
                              "capacity": {"staff": 1, "caseload_per_staff": 20}})
    coach.pop("budget_sek_per_year")
    m = ProgrammeModel(scenario([coach]), rng=5)
    m.step()
    started = m.pop.stage == Stage.COACHING
    assert started.sum() == 20
    assert (m.pop.children[started] > 0).all()


def test_waiting_lowers_motivation_and_budget_stops_intake():
    coach = merge(PROGRAMME, {"referral_rate_per_month": 1.0, "budget_sek_per_year": {"municipality": 30000}})
    m = ProgrammeModel(scenario([coach]), rng=5)
    m.run(6)
    # 30 000 SEK at 3 000 SEK/month, committed to year end: at most one person at a time
    assert (m.pop.stage == Stage.COACHING).sum() <= 1
    waited = (m.pop.stage == Stage.WAITING) & (m.pop.months_in_stage >= 1)
    assert waited.any() and (m.pop.motivation[waited] < 1).all()


@pytest.mark.parametrize("size", [0, 1])
def test_empty_and_single_person_populations_run(size):
    r = simulate(scenario([PROGRAMME], population={"cohort": {"size": size}}), 0)
    assert r.tables["stocks"].groupby("month")["people"].sum().max() == size


def test_participants_reaching_pension_age_leave_with_an_exit_row():
    coach = merge(PROGRAMME, {"referral_rate_per_month": 1.0, "max_duration_months": 24,
                              "eligibility": {"age_max": 70}})
    coach.pop("budget_sek_per_year")
    people = {"cohort": {"size": 20}, "composition": {"age_bands": {"64-64": 1.0}, "registered_share": 0.0}}
    m = ProgrammeModel(scenario([coach], population=people, horizon_months=14), rng=1)
    m.run()
    r = RunResult.from_model(m)
    exits = r.tables["exits"]
    pension = exits[exits["reason"] == "pension"]["people"].sum()
    to_other = r.tables["events"].query("from_stage == 'coaching' and to_stage == 'other'")
    assert pension == len(to_other) > 0
    assert (m.pop.stage[m.pop.age_years(m.month) >= 65] == Stage.OTHER).all()


def test_follow_ups_say_who_is_on_assistance_k_months_after_exit():
    """The follow-ups split each stage by income support, as the money rules pay it: nobody in
    regular studies or outside the model is on assistance, nobody openly unemployed is without
    support, and the split adds up to the stage counts."""
    from sim import load_scenario, simulate

    fu = simulate(load_scenario("scenarios/c2-lycksele.yaml"), 2).tables["follow_ups"]
    assert set(fu["income_support"]) <= {"none", "social_assistance", "unemployment_insurance", "activity_support"}
    assert (fu.loc[fu["stage"].isin(["studies", "other"]), "income_support"] == "none").all()
    opened = fu[fu["stage"] == "open"]
    assert len(opened) and opened["income_support"].isin(["social_assistance", "unemployment_insurance"]).all()
    assert (fu.loc[fu["stage"] == "fas3", "income_support"] != "unemployment_insurance").all()
    by_stage = fu.groupby(["month", "months_after_exit", "stage"])["people"].sum()
    assert (by_stage > 0).all()
    share_off = (fu.loc[fu["income_support"] != "social_assistance", "people"].sum() / fu["people"].sum())
    assert 0.0 < share_off < 1.0


def test_the_event_log_says_each_movers_income_support_as_the_ledger_pays_it_next():
    """Every event carries the mover's income support in the first month booked after the move;
    for people followed one by one it agrees with their own postings that month."""
    from sim import load_scenario

    scn = load_scenario("scenarios/c2-lycksele.yaml")
    m = ProgrammeModel(scn, rng=3, track=range(60))
    m.run()
    r = RunResult.from_model(m)
    ev = r.tables["events"]
    assert set(ev["income_support"]) <= {"none", "social_assistance", "unemployment_insurance", "activity_support"}
    assert (ev.loc[ev["to_stage"].isin(["studies", "other"]), "income_support"] == "none").all()
    money = r.tables["tracked_money"]
    paid = money[(money["payer"] == "individual") & (money["sek"] > 0.5)]
    labels = list(r.tables["stocks"]["month"].unique())
    checked = 0
    for e in ev[ev["person"] < 60].itertuples():
        t = labels.index(e.month) - (e.from_stage == "not_arrived")  # arrivals are booked in their month
        if t + 1 >= len(labels) or ((ev["person"] == e.person) & (ev["month"] == e.month)).sum() > 1:
            continue  # moved twice in a month, or no month after: checked elsewhere
        nxt = paid[(paid["person"] == e.person) & (paid["month"] == labels[t + 1])]
        cats = set(nxt["category"])
        want = ("social_assistance" if "social_assistance" in cats else "unemployment_insurance"
                if "unemployment_insurance" in cats else "activity_support" if "activity_support" in cats
                else "none")
        assert e.income_support == want, e
        checked += 1
    assert checked > 30


def test_the_list_of_the_tagged_holds_everyone_tagged_in_order(monkeypatch) -> None:  # noqa: ANN001
    """The list of the tagged, kept from month to month (people referred merged in, those gone
    dropped), is ascending, without repeats, and holds everyone on a waiting list or in a
    programme after every sub-step."""
    from pathlib import Path

    from sim import load_scenario
    from sim.engine import model as model_module

    monkeypatch.setattr("sim.engine.state.SMALL", 0)  # the kept list, not the one made anew in small runs
    root = Path(__file__).resolve().parents[1]
    m = ProgrammeModel(load_scenario(root / "scenarios" / "sigtuna-resursjobb.yaml"), rng=4)
    checked = []
    for sub_step in model_module.MONTH:
        def step(state, original=sub_step.step):  # noqa: ANN001, ANN202
            original(state)
            tagged = state.tagged()
            assert (np.diff(tagged) > 0).all()
            assert np.isin(np.flatnonzero(state.pop.programme >= 0), tagged).all()
            checked.append(tagged.size)

        monkeypatch.setattr(sub_step, "step", step)
    m.run(36)
    assert len(checked) == 36 * len(model_module.MONTH) and max(checked) > 0


def test_participants_and_queues_kept_per_programme_are_those_a_scan_finds(monkeypatch) -> None:  # noqa: ANN001
    """Each programme's participants and queue, kept until someone tagged to that programme
    moves, are the people a scan of everyone finds (ascending) after every sub-step, with
    several programmes referring, admitting and losing people in the same months."""
    from pathlib import Path

    from sim import load_scenario
    from sim.engine import model as model_module
    from sim.scenario.stages import Stage

    root = Path(__file__).resolve().parents[1]
    m = ProgrammeModel(load_scenario(root / "scenarios" / "national-scale.yaml",
                                     ["population.cohort.size=6000", "population.inflow.people_per_month=20"]), rng=2)
    checked = []
    for sub_step in model_module.MONTH:
        def step(state, original=sub_step.step):  # noqa: ANN001, ANN202
            original(state)
            pop = state.pop
            for p in state.regime.programmes:
                for got, stage in ((state.participants(p), p.stage), (state.queue(p.index), Stage.WAITING)):
                    want = np.flatnonzero((pop.programme == p.index) & (pop.stage == stage))
                    np.testing.assert_array_equal(got, want)
                    checked.append(got.size)

        monkeypatch.setattr(sub_step, "step", step)
    m.run(30)
    assert len(checked) == 30 * len(model_module.MONTH) * 2 * len(m.regime.programmes)
    assert sum(checked) > 0


def test_income_support_from_ledger_keys_is_that_of_posting_each_person(monkeypatch) -> None:  # noqa: ANN001
    """The follow-ups' income support, read from the postings of each distinct ledger key, is
    what posting each person's own state gives (everyone, every few months)."""
    from pathlib import Path

    from sim import load_scenario
    from sim.accounts.rules import post
    from sim.engine.month.book import ledger_input
    from sim.engine.month.follow_up import income_support, support_codes

    monkeypatch.setattr("sim.engine.month.follow_up.BY_KEY_FROM", 0)
    root = Path(__file__).resolve().parents[1]
    m = ProgrammeModel(load_scenario(root / "scenarios" / "national-scale.yaml",
                                     ["population.cohort.size=2000", "population.inflow.people_per_month=10"]), rng=3)
    seen = set()
    for _ in range(6):
        m.run(5)
        s, ids = m.state, m.state.ids
        want = support_codes(post(ledger_input(s, ids), s.regime.money, s.regime.programme_money), ids.size)
        np.testing.assert_array_equal(income_support(s, ids), want)
        seen |= set(want.tolist())
    assert len(seen) == 4  # every code occurs


@pytest.mark.parametrize(("name", "overrides"), [
    ("national-scale.yaml", ["population.cohort.size=3000", "population.inflow.people_per_month=20",
                             "horizon_months=48"]),
    ("sigtuna-resursjobb.yaml", []),
])
def test_the_stocks_are_everyones_stages_counted(name: str, overrides: list[str], monkeypatch) -> None:
    """The month's stocks come from the count of people in each stage that the moves keep
    (``RunState.stage_total``), not from a pass over everyone: they must be everyone's stages
    counted when the month is recorded (after arrivals and limits), in every month of runs with
    arrivals, programmes, pensions and exits."""
    from pathlib import Path

    from sim import load_scenario
    from sim.engine.month import record

    root = Path(__file__).resolve().parents[1]
    counted = []
    step = record.step

    def counting(state) -> None:  # noqa: ANN001
        counted.append(np.bincount(state.pop.stage, minlength=len(Stage)))
        step(state)

    monkeypatch.setattr(record, "step", counting)
    m = ProgrammeModel(load_scenario(root / "scenarios" / name, overrides), rng=5)
    m.run()
    stocks = np.array(m.state.rec.stocks)
    assert len(counted) == stocks.shape[0] == m.horizon
    np.testing.assert_array_equal(stocks, np.array(counted))
    np.testing.assert_array_equal(m.state.stage_total, np.bincount(m.state.pop.stage, minlength=len(Stage)))
    assert (np.diff(stocks, axis=0) != 0).any(axis=0).sum() >= 5  # (people moved between many stages)


def test_the_hazard_pass_goes_through_everyone_not_in_other() -> None:
    """The list the hazard pass goes through (``WaitingLists.live``) holds everyone not in
    'other' every month, ascending, with each block's place in it; made anew from time to time,
    it leaves out those in 'other' (nobody leaves it)."""
    from pathlib import Path

    from sim import load_scenario

    root = Path(__file__).resolve().parents[1]
    m = ProgrammeModel(load_scenario(root / "scenarios" / "national-scale.yaml",
                                     ["population.cohort.size=3000", "population.inflow.people_per_month=20"]), rng=4)
    left_out = 0
    for _ in range(40):
        m.run(1)
        live, at = m.state.live()
        stage = m.state.pop.stage
        assert np.all(np.diff(live) > 0)
        assert np.isin(np.flatnonzero(stage != Stage.OTHER), live).all()
        np.testing.assert_array_equal(at, np.searchsorted(live, m.state.first))
        left_out = max(left_out, stage.size - live.size)
    assert left_out > 50


def test_age_groups_are_the_ages_the_multipliers_see() -> None:
    """The age groups and the age effects are read in whole months since birth (int32): they
    must be those of the float32 ages ("youth": under 25, "age_50_plus": 50 or over), at every
    age around and between the limits, for everyone and for a selection."""
    from types import SimpleNamespace

    from sim.engine.hazards import age_groups, attribute_log_hr
    from sim.engine.population import Population
    from sim.scenario.dated import Month

    month = Month(2015 * 12 + 3)
    birth = (int(month) - np.arange(-24, 1300)).astype(np.int32)  # ages -2 .. 108 years, month by month
    pop = SimpleNamespace(birth_month=birth)
    age = Population.age_years(pop, month)
    want = (age < 25).astype(np.uint8) | ((age >= 50).astype(np.uint8) << 1)
    np.testing.assert_array_equal(age_groups(pop, None, month), want)
    some = np.array([0, 323, 324, 325, 623, 624, 625, 1300])
    np.testing.assert_array_equal(age_groups(pop, some, month), want[some])
    assert set(want.tolist()) == {0, 1, 2}
    effect = np.zeros(birth.size, np.float32)
    effect += np.float32(0.3) * (age < 25)
    effect += np.float32(-0.2) * (age >= 50)
    np.testing.assert_array_equal(attribute_log_hr(pop, slice(None), {"youth": 0.3, "age_50_plus": -0.2}, month),
                                  effect)
