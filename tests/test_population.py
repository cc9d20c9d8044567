"""Synthesis: sizes, arrivals, composition shares, determinism."""

from pathlib import Path

import numpy as np
from factories import scenario

from sim.engine.population import HOUSEHOLD_CODES, NOT_MEMBER, bytes_per_person, population_size, synthesise
from sim.engine.streams import Streams
from sim.scenario.stages import Stage


def _pop(seed=1, **changes):
    scn = scenario([], **changes)
    return scn, synthesise(scn.population, scn.start_month, scn.horizon_months, Streams(seed))


def test_composition_shares_are_reproduced():
    comp = {"female_share": 0.3, "foreign_born_share": 0.5, "sfi_share_of_foreign_born": 0.4,
            "households": {"single": 0.5, "single_parent": 0.5}, "children_per_family_mean": 2.0,
            "age_bands": {"18-24": 0.5, "50-59": 0.5}, "months_on_assistance": {"0-11": 0.53, "24-59": 0.17,
                                                                                  "60-119": 0.3}}
    scn, pop = _pop(population={"cohort": {"size": 40_000}, "composition": comp})
    assert abs(pop.female.mean() - 0.3) < 0.01
    assert abs(pop.foreign_born.mean() - 0.5) < 0.01
    assert abs(pop.sfi[pop.foreign_born].mean() - 0.4) < 0.015
    assert not pop.sfi[~pop.foreign_born].any()
    sp = pop.household == HOUSEHOLD_CODES["single_parent"]
    assert abs(sp.mean() - 0.5) < 0.01
    assert (pop.children[sp] >= 1).all() and (pop.children[~sp] == 0).all()
    assert abs(pop.children[sp].mean() - 2.0) < 0.05
    age = pop.age_years(scn.start_month)
    assert ((age >= 18) & (age < 25)).mean() > 0.48 and ((age >= 50) & (age < 60)).mean() > 0.48
    moa = pop.months_on_assistance_at_entry
    assert abs((moa >= 24).mean() - 0.47) < 0.01 and abs((moa >= 60).mean() - 0.30) < 0.01


def test_same_seed_same_people_and_waves_and_inflow():
    pop_a = _pop(population={"cohort": {"size": 300, "waves": {"2012-01": 100, "2012-06": 200}},
                             "inflow": {"people_per_month": {"2012-01": 10, "2013-01": 20}}})[1]
    pop_b = _pop(population={"cohort": {"size": 300, "waves": {"2012-01": 100, "2012-06": 200}},
                             "inflow": {"people_per_month": {"2012-01": 10, "2013-01": 20}}})[1]
    np.testing.assert_array_equal(pop_a.employability, pop_b.employability)
    arrivals = np.bincount(pop_a.arrival_month - pop_a.arrival_month.min())
    assert arrivals[0] == 110 and arrivals[5] == 210 and arrivals[12] == 20
    assert len(pop_a) == 300 + 12 * 10 + 24 * 20
    assert (pop_a.stage == Stage.NOT_ARRIVED).all()


def test_population_size_matches_synthesis_and_people_are_small():
    scn, pop = _pop(population={"cohort": {"size": 1000}, "inflow": {"people_per_month": 7}})
    assert population_size(scn.population, scn.start_month, scn.horizon_months) == len(pop)
    assert bytes_per_person() <= 100
    assert pop.nbytes == len(pop) * bytes_per_person()


def test_initial_stages_set_guarantee_and_clocks():
    comp = {"initial_stages": {"job": 0.5, "fas3": 0.5}, "job_days_at_entry": [0, 400],
            "fas3_days_at_entry": [450, 700]}
    _, pop = _pop(population={"cohort": {"size": 2000}, "composition": comp})
    job = pop.initial_stage == Stage.JOB
    assert pop.in_guarantee.all() and not pop.ui_entitled.any()
    assert pop.job_days[job].max() <= 400 and pop.job_days[~job].min() >= 450


def test_the_guarantee_stock_keeps_the_kind_of_its_last_ui():
    """People in the guarantee at entry with a UI history had income-related UI if they were
    a-kassa members (their activity support is 65 % of its wage), else the basic amount (the
    minimum); outside the guarantee only the entitled have a UI period at all."""
    comp = {"initial_stages": {"job": 0.5, "open": 0.5}, "ui_entitled_share": 0.6, "ui_member_share": 0.5}
    scn = scenario([], population={"cohort": {"size": 4000}, "composition": comp})
    pop = synthesise(scn.population, scn.start_month, scn.horizon_months, Streams(1), 17_000.0)
    history = pop.reference_wage > 0
    member = pop.ui_member_since != NOT_MEMBER
    assert 0.3 < member.mean() < 0.7 and 0.5 < history.mean() < 0.7
    guarantee = pop.in_guarantee
    np.testing.assert_array_equal(pop.ui_income_related[guarantee], (history & member)[guarantee])
    np.testing.assert_array_equal(pop.ui_income_related[~guarantee], (pop.ui_entitled & member)[~guarantee])
    assert pop.ui_income_related[guarantee].any() and (history & ~pop.ui_income_related)[guarantee].any()


def test_inflow_has_its_own_composition_and_inherits_the_rest() -> None:
    from sim import load_scenario

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "umea-insteget-baseline.yaml")
    own = sc.population.inflow.composition
    assert own.initial_stages == {"job": 1.0} and own.job_days_at_entry == (0.0, 0.0)
    assert own.age_bands == sc.population.composition.age_bands  # not given for the inflow: inherited
    pop = synthesise(sc.population, sc.start_month, sc.horizon_months, Streams(1))
    cohort = pop.arrival_month == sc.start_month
    cohort[sc.population.cohort.size:] = False  # the first month's inflow arrives in the same month
    inflow = np.zeros(len(pop), bool)
    inflow[sc.population.cohort.size:] = True
    assert (pop.initial_stage[inflow] == Stage.JOB).all() and (pop.job_days[inflow] == 0).all()
    moa = pop.months_on_assistance_at_entry[inflow]
    assert ((moa >= 14) & (moa <= 18)).all()
    assert (pop.initial_stage[cohort] == Stage.FAS3).any() and (pop.job_days[cohort] > 0).any()


def test_entry_clocks_follow_the_history_of_registered_long_term_recipients():
    """With guarantee_history_share, people registered past the guarantee's entry start in it with
    JOB days for their months beyond entry (Fas 3 past 450); nobody else is touched."""
    from sim import ProgrammeModel, load_scenario
    from sim.scenario.paths import with_values

    base = load_scenario("scenarios/sigtuna-jobblyftet-baseline.yaml")
    off = ProgrammeModel(with_values(base, {"population.composition.guarantee_history_share": 0.0}), rng=3).pop
    on = ProgrammeModel(with_values(base, {"population.composition.guarantee_history_share": 1.0}), rng=3).pop
    moa = on.months_on_assistance_at_entry.astype(float)
    past = on.registered & (moa >= 18) & (off.initial_stage == Stage.OPEN)
    assert past.sum() > 50
    np.testing.assert_allclose(on.job_days[past], (moa[past] - 18) * 21.7, rtol=1e-6)
    assert (on.initial_stage[past & (on.job_days >= 450)] == Stage.FAS3).all()
    assert (on.initial_stage[past & (on.job_days < 450)] == Stage.JOB).all()
    assert on.in_guarantee[past].all()
    # everyone else is drawn exactly as without it (draws are keyed by person)
    np.testing.assert_array_equal(on.initial_stage[~past], off.initial_stage[~past])
    np.testing.assert_array_equal(on.job_days[~past], off.job_days[~past])


def test_a_category_is_the_count_of_cumulative_shares_at_or_below_the_draw() -> None:
    """People fall in categories by their uniform draw against the cumulative shares, as a binary
    search would put them (``np.searchsorted(..., side="right")``, the last category taking the
    rounding): on random share tables with empty categories and draws exactly on the edges."""
    from sim.engine.population import _categorical

    rng = np.random.default_rng(1)
    for _ in range(500):
        k = int(rng.integers(1, 9))
        shares = rng.random(k) * (rng.random(k) > 0.3)
        shares = shares / shares.sum() if shares.sum() else np.eye(k)[0]
        table = {f"c{j}": float(x) for j, x in enumerate(shares)}
        cum = np.cumsum(shares)
        u = np.concatenate([rng.random(200), cum, [0.0, np.nextafter(1.0, 0.0)]])
        names, idx = _categorical(u, table, tuple(table))
        assert names == list(table)
        assert np.array_equal(idx, np.minimum(np.searchsorted(cum, u, side="right"), k - 1))
