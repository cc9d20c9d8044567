"""An inflow's own composition: the keys it writes are its own, the rest is the population's, and
stays the population's through every rebuild of the scenario (dumps, ``with_values``,
``rebuild``, posterior draws); and every key of it reaches the inflow's people, the spread of
employability included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from factories import scenario

from sim.engine.hazards import attribute_log_hr
from sim.engine.population import synthesise
from sim.engine.streams import Streams
from sim.scenario.load import build, dump_scenario, load_scenario, parse_file, rebuild, scenario_hash
from sim.scenario.paths import apply_values_shared, get_value, path_exists, with_values
from sim.scenario.schema import Composition

UMEA = Path(__file__).resolve().parents[1] / "scenarios" / "umea-insteget-baseline.yaml"
POP = "population.composition."
INFLOW = "population.inflow.composition."


def _own(female_share: float = 0.9, **more: object) -> object:
    """A scenario whose inflow writes its own female_share (and ``more``), inheriting the rest."""
    return scenario([], population={"cohort": {"size": 500},
                                    "composition": {"female_share": 0.4, "foreign_born_share": 0.3},
                                    "inflow": {"people_per_month": 20,
                                               "composition": {"female_share": female_share, **more}}})


def test_a_population_value_moves_what_the_inflow_inherits_and_not_what_it_owns() -> None:
    sc = _own()
    moved = with_values(sc, {POP + "female_share": 0.1, POP + "foreign_born_share": 0.8})
    inflow = moved.population.inflow.composition
    assert inflow.foreign_born_share == 0.8  # inherited: follows the population (was stuck at 0.3)
    assert inflow.female_share == 0.9  # its own: kept
    assert moved.population.composition.female_share == 0.1


@pytest.mark.parametrize("key", ["foreign_born_share", "employability_sd", "ui_member_share", "rehab_need_share"])
def test_breakeven_and_sweeps_on_a_population_path_reach_umea_new_entrants(key: str) -> None:
    """Umeå's new JOB entrants write their stage, JOB days and months out of work; every other key
    of theirs is the population's, after a with_values (break-even, assumption lines; a plain
    number such as foreign_born_share takes no source, the break-even search used to fail on it), an
    apply_values on the file's document (sweeps) or a rebuild (calibration particles, posterior
    draws) as well."""
    umea = load_scenario(UMEA)
    path = POP + key
    moved = with_values(umea, {path: 0.45}, source="break-even search", status="assumed")  # as breakeven sets it
    assert get_value(moved.model_dump(mode="json"), path) == 0.45
    month = umea.start_month
    for sc in (moved, build(apply_values_shared(parse_file(UMEA)[0], {path: 0.45})),
               rebuild(umea, apply_values_shared(umea.model_dump(mode="json"), {path: 0.45}), [path])):
        got = getattr(sc.population.inflow.composition, key)
        assert (got.at(month) if hasattr(got, "at") else got) == 0.45, key
        assert sc.population.inflow.composition.initial_stages == {"job": 1.0}  # its own, kept


def test_a_dumped_scenario_reloads_equal_and_writes_the_inflows_own_keys_only(tmp_path: Path) -> None:
    umea = load_scenario(UMEA)
    doc = umea.model_dump(mode="json")
    assert set(doc["population"]["inflow"]["composition"]) == {"initial_stages", "job_days_at_entry",
                                                                "months_on_assistance"}
    again = build(doc)
    assert again == umea and again.model_dump(mode="json") == doc and scenario_hash(again) == scenario_hash(umea)
    file = tmp_path / "umea.yaml"
    file.write_text(dump_scenario(umea), encoding="utf-8")
    loaded = load_scenario(file)
    assert loaded == umea and scenario_hash(loaded) == scenario_hash(umea)
    # ... and the reloaded one still inherits
    assert with_values(loaded, {POP + "female_share": 0.7}).population.inflow.composition.female_share == 0.7
    assert yaml.safe_load(dump_scenario(umea))["population"]["inflow"]["composition"] == \
        doc["population"]["inflow"]["composition"]


def test_inflows_that_resolve_alike_but_own_other_keys_differ() -> None:
    """Owning a key that equals the population's is not inheriting it: the two follow a change of
    the population differently, so they are not equal and do not hash alike."""
    owns, inherits = _own(female_share=0.4), _own(female_share=0.4)
    owns = with_values(owns, {INFLOW + "foreign_born_share": 0.3})  # = the population's, but its own
    assert owns.population.inflow.composition.foreign_born_share == 0.3
    assert owns != inherits and scenario_hash(owns) != scenario_hash(inherits)
    assert with_values(owns, {POP + "foreign_born_share": 0.6}).population.inflow.composition.foreign_born_share == 0.3


def test_an_inherited_inflow_key_can_be_read_and_set_by_its_path() -> None:
    """``population.inflow.composition.K`` exists where the inflow has a composition: reading an
    inherited K gives the population's value, setting it makes K the inflow's own."""
    sc = _own()
    doc = sc.model_dump(mode="json")
    assert path_exists(doc, INFLOW + "foreign_born_share") and not path_exists(doc, INFLOW + "nonsense")
    assert get_value(doc, INFLOW + "foreign_born_share") == 0.3
    assert "foreign_born_share" not in doc["population"]["inflow"]["composition"]  # reading wrote nothing
    own = with_values(sc, {INFLOW + "foreign_born_share": 0.05})
    assert own.population.inflow.composition.foreign_born_share == 0.05
    assert own.population.composition.foreign_born_share == 0.3
    shared = apply_values_shared(doc, {INFLOW + "ui_member_share@2013-01": 0.5})
    assert "ui_member_share" not in doc["population"]["inflow"]["composition"]  # the original is untouched
    built = build(shared)
    assert built.population.inflow.composition.ui_member_share.at(sc.start_month + 12) == 0.5
    assert built.population.inflow.composition.ui_member_share.at(sc.start_month) == 0.0
    assert not path_exists(scenario([]).model_dump(mode="json"), INFLOW + "female_share")  # no inflow


def test_shipped_scenarios_resolve_as_written() -> None:
    """The inflow's resolved composition is the population's with the written keys replaced."""
    umea = load_scenario(UMEA)
    inflow, base = umea.population.inflow.composition, umea.population.composition
    for key in Composition.model_fields:
        want = getattr(inflow if key in ("initial_stages", "job_days_at_entry", "months_on_assistance") else base, key)
        assert getattr(inflow, key) == want, key
    assert inflow.months_on_assistance == {"14-18": 1.0}


def test_the_inflows_own_spread_of_employability_reaches_its_people() -> None:
    """An inflow's employability_sd is the spread of its people's latent type (was the
    population's for everyone); the cohort keeps the population's."""
    sc = _own(employability_sd=0.0)
    pop = synthesise(sc.population, sc.start_month, sc.horizon_months, Streams(4))
    cohort, inflow = np.arange(len(pop)) < 500, np.arange(len(pop)) >= 500
    assert (pop.employability[inflow] == 0).all()
    assert pop.employability[cohort].std() == pytest.approx(0.7, rel=0.1)
    wide = _own(employability_sd=2.0)
    pop2 = synthesise(wide.population, wide.start_month, wide.horizon_months, Streams(4))
    np.testing.assert_array_equal(pop2.employability[cohort], pop.employability[cohort])
    assert pop2.employability[inflow].std() == pytest.approx(2.0, rel=0.1)


def test_the_inflows_own_spread_changes_its_work_hazards_in_a_run() -> None:
    from sim import ProgrammeModel

    sc = _own(employability_sd=0.0)
    model = ProgrammeModel(sc, rng=2)
    model.run(1)  # the cohort and the first month's inflow arrive: their multipliers are set
    state, month = model.state, sc.start_month
    arrived = np.flatnonzero(state.pop.arrival_month == month)
    inflow, cohort = arrived[arrived >= 500], arrived[arrived < 500]
    assert inflow.size == 20 and cohort.size == 500
    plain = np.exp(attribute_log_hr(state.pop, inflow, sc.effects.work, month))
    np.testing.assert_array_equal(state.work_mult[inflow], plain)  # no latent type: spread 0
    spread = np.exp(attribute_log_hr(state.pop, cohort, sc.effects.work, month))
    assert not np.isclose(state.work_mult[cohort], spread).all()  # the cohort's spread: 0.7


def test_a_drawn_spread_reaches_umea_new_entrants_per_replication() -> None:
    """Posterior draws of ``population.composition.employability_sd`` (Umeå uses the national
    calibrated default) reach the inflow, which inherits it."""
    from sim.runs.posterior import replication_scenarios

    umea = load_scenario(UMEA)
    scenarios, info = replication_scenarios(umea, 7, 4)
    if info is None or not any(POP + "employability_sd" in d["paths"] for d in info.get("calibrated_defaults", [])):
        pytest.skip("Umeå draws no spread of employability")
    sds = [s.population.composition.employability_sd for s in scenarios]
    assert len(set(sds)) > 1
    assert [s.population.inflow.composition.employability_sd for s in scenarios] == sds
