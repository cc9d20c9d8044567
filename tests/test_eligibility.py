"""Eligibility with alternatives (any_of): conditions met by at least one group."""

from __future__ import annotations

from pathlib import Path

from factories import PROGRAMME, merge, scenario

from sim import ProgrammeModel, load_scenario
from sim.scenario.load import dump_scenario
from sim.scenario.stages import Stage

EITHER = {"stages": ["open", "job"],
          "any_of": [{"stages": ["open"], "min_months_on_assistance": 18, "social_assistance_only": True},
                     {"stages": ["job"]}]}


def _referred(eligibility: dict, months: int = 4) -> tuple[ProgrammeModel, set[int]]:
    coach = merge(PROGRAMME, {"referral_rate_per_month": 1.0, "eligibility": eligibility,
                              "capacity": {"staff": 100, "caseload_per_staff": 100}})
    coach.pop("budget_sek_per_year")
    comp = {"initial_stages": {"open": 0.6, "job": 0.4}, "ui_entitled_share": 0.3, "registered_share": 0.0,
            "months_on_assistance": {"0-9": 0.5, "24-35": 0.5}}
    model = ProgrammeModel(scenario([coach], population={"cohort": {"size": 600}, "composition": comp}), rng=5)
    model.step()  # month 0: arrivals, then referrals of everyone eligible (rate 1)
    ev = model.rec.events
    referred = {int(i) for _, ids, _, dst, _ in ev for i, d in zip(ids, dst, strict=True) if d == Stage.WAITING}
    return model, referred


def _meets_a_group(model: ProgrammeModel, i: int, stage: int) -> bool:
    pop = model.pop
    open_ok = stage == Stage.OPEN and pop.months_out_of_work[i] >= 18 and not pop.ui_entitled[i]
    return bool(open_ok or stage == Stage.JOB)


def test_referred_are_exactly_those_meeting_one_group() -> None:
    model, referred = _referred(EITHER)
    pop = model.pop
    source = {int(i): int(s) for _, ids, src, dst, _ in model.rec.events
              for i, s, d in zip(ids, src, dst, strict=True) if d == Stage.WAITING}
    assert referred and all(_meets_a_group(model, i, source[i]) for i in referred)
    # with a referral rate of 1, nobody left in open or JOB who meets a group and did not move was missed
    missed = [i for i in range(len(pop)) if i not in referred and not model.state.moved[i]
              and pop.stage[i] in (Stage.OPEN, Stage.JOB) and _meets_a_group(model, i, int(pop.stage[i]))]
    assert missed == []
    assert {source[i] for i in referred} == {Stage.OPEN, Stage.JOB}  # both groups reach someone
    assert any(pop.stage[i] == Stage.OPEN and not _meets_a_group(model, i, Stage.OPEN) for i in range(len(pop)))


def test_without_groups_everyone_in_the_stages_is_referred() -> None:
    _, referred_all = _referred({"stages": ["open", "job"]})
    _, referred_either = _referred(EITHER)
    assert referred_either < referred_all


def test_any_of_reads_back_equal(tmp_path: Path) -> None:
    coach = merge(PROGRAMME, {"eligibility": EITHER})
    sc = scenario([coach])
    path = tmp_path / "resolved.yaml"
    path.write_text(dump_scenario(sc))
    assert load_scenario(path) == sc
