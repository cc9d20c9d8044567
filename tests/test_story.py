"""One person's story (sim.present.story) and `almsim story`: what it tells, and its one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import sim.cli.teach  # noqa: F401 - registers `almsim story` and `almsim teach`
from sim import ProgrammeModel, load_scenario, simulate
from sim.cli.main import main
from sim.present.story import StoryError, story_from_run, tell_story
from sim.runs.results import RunResult

ROOT = Path(__file__).resolve().parents[1]
C2 = ROOT / "scenarios" / "c2-lycksele.yaml"
SIGTUNA = ROOT / "scenarios" / "sigtuna-resursjobb.yaml"
UMEA = ROOT / "scenarios" / "umea-insteget-baseline.yaml"


def test_a_story_tells_who_the_referral_the_wait_and_who_pays():
    text = tell_story(SIGTUNA, seed=1, person=0)
    assert text.startswith("The story of person 0 in 'Sigtuna Resursjobb")
    assert re.search(r"Who: a \d+-year-old (wo)?man", text)
    # almsim's one sign convention, worded the same way as in the reports and the app.
    assert "Money is per month, per payer: + = the payer is better off (receives), − = it pays." in text
    assert "− the payer pays, + it receives" not in text
    assert "is referred to Resursjobb" in text
    assert re.search(r"gets a place in Resursjobb .*(after waiting \d+ months?|without waiting)", text)
    assert "Money each month: municipality −" in text  # social assistance, then wages
    assert "social assistance" in text and "wages" in text
    assert "In all, over 84 months:" in text and "Society (all payers together" in text


def test_the_same_seed_tells_the_same_story_and_another_replication_may_differ():
    scenario = load_scenario(C2)
    assert tell_story(scenario, 2, 7) == tell_story(scenario, 2, 7)
    assert "replication 3" in tell_story(scenario, 2, 7, replication=3)


def _requalified(scenario, seed: int) -> int:
    """A person who had a Resursjobb and later started a new a-kassa period."""
    model = ProgrammeModel(scenario, rng=seed, track=range(scenario.population.cohort.size))
    model.run()
    st = RunResult.from_model(model).tracked_state.sort_values(["person", "month"])
    had = st[(st["stage"] == "subsidised") & (st["programme"] == "resursjobb")].groupby("person")["month"].min()
    new = st["ui_entitled"] & ~st.groupby("person")["ui_entitled"].shift(fill_value=True)
    later = st[new & (st["month"] > st["person"].map(had))]
    assert not later.empty
    return int(later["person"].iloc[0])


def test_a_person_who_requalified_for_a_kassa_hears_about_ui():
    scenario = load_scenario(SIGTUNA)
    person = _requalified(scenario, seed=1)
    text = tell_story(scenario, 1, person)
    assert "meets the a-kassa work condition" in text
    assert "unemployment-insurance (UI) period starts" in text
    assert "living on unemployment insurance (a-kassa, paid by the state)" in text
    assert re.search(r"state \(UI funds, taxes on wages, the equalisation grant\) −[\d ]+ kr \(unemployment "
                     r"insurance −[\d ]+ kr, income equalisation \+[\d ]+ kr\)", text)


def test_the_ui_lines_say_what_the_money_says_for_the_basic_amount_and_income_related_ui():
    """Without a-kassa membership UI is the basic amount: it does not fall after 200 days, and
    social assistance tops it up; the story says so instead of the income-related rule."""
    scenario = load_scenario(C2)
    model = ProgrammeModel(scenario, rng=1, track=range(scenario.population.cohort.size))
    model.run()
    money = RunResult.from_model(model).tracked_money
    ui = money[(money["payer"] == "individual") & (money["category"] == "unemployment_insurance")]
    basic = scenario.money.ui_basic_sek_per_day.first * scenario.money.benefit_days_per_month.first
    # (a period's last month pays only the days left: a full month, the largest, tells the rule)
    on_basic = ui.groupby("person")["sek"].apply(lambda x: bool(abs(x.max() - basic) < 1))
    months = ui.groupby("person").size()  # the longest UI spells pass 200 days
    basic_text = tell_story(scenario, 1, int(months[on_basic].idxmax()))
    assert "UI day 200 is reached: the basic amount stays as it is." in basic_text
    assert "at 80% of the former wage" not in basic_text
    assert "topped up by social assistance from the municipality (the basic amount" in basic_text
    person = int(months[~on_basic].idxmax())
    found = re.search(r"In (\d{4}-\d\d) UI day 200 is reached: the a-kassa pays (\d+) of the month's 21.7 days at "
                      r"80% of the former wage and the rest at 70%, as every day after.",
                      tell_story(scenario, 1, person))
    assert found
    # the money of that month: the days told at the month before's daily rate, the rest at the next month's
    paid = ui[ui["person"] == person].set_index("month")["sek"]
    month = list(paid.index).index(found[1])
    before, crossing, after = paid.iloc[month - 1], paid.iloc[month], paid.iloc[month + 1]
    days = int(found[2])
    assert 0 < days < 21.7
    assert crossing == pytest.approx((days * before + (21.7 - days) * after) / 21.7, rel=1e-9)


def test_the_last_month_of_a_ui_period_is_told_with_the_days_the_ledger_paid():
    """The month a UI period runs out pays only the days left; the story's count of them is the
    one the money shows: that month's UI over the month before's (the same daily rate, past day
    200) is the days told over a full month's."""
    scenario = load_scenario(C2)
    model = ProgrammeModel(scenario, rng=1, track=range(scenario.population.cohort.size))
    model.run()
    money = RunResult.from_model(model).tracked_money
    ui = money[(money["payer"] == "individual") & (money["category"] == "unemployment_insurance")]
    full = scenario.money.benefit_days_per_month.first
    told = 0
    for person in range(60):
        found = re.search(r"In (\d{4}-\d\d) the UI days run out: the a-kassa pays the last (\d+) of the period's "
                          r"(300|450) days", tell_story(scenario, 1, person))
        if not found:
            continue
        month, days = found.group(1), int(found.group(2))
        mine = ui[ui["person"] == person].set_index("month")["sek"]
        before = mine.index[mine.index.get_loc(month) - 1]
        assert 0 < days <= full
        assert mine[month] / mine[before] == pytest.approx(min(days, full) / full, rel=1e-9)
        told += 1
    assert told >= 2


def test_leaving_a_waiting_list_for_an_ordinary_subsidised_job_is_not_told_as_a_place():
    """Someone waiting for Resursjobb (a subsidised job) who finds a nystartsjobb moves to the same
    stage; the story says they left the list without a place, as the months after show."""
    scenario = load_scenario(SIGTUNA)
    model = ProgrammeModel(scenario, rng=0, track=range(scenario.population.cohort.size))
    model.run()
    res = RunResult.from_model(model)
    state = res.tracked_state.set_index(["person", "month"])["programme"]
    months = sorted(res.tracked_state["month"].unique())
    after = dict(zip(months, months[1:], strict=False))
    off_list = res.events[(res.events["from_stage"] == "waiting") & (res.events["to_stage"] == "subsidised")]
    (person, month) = next((int(r.person), r.month) for r in off_list.itertuples()
                           if state[(r.person, after[r.month])] == "")
    text = tell_story(scenario, 0, person)
    assert re.search(rf"In {month} the person leaves the waiting list for Resursjobb .* without a place", text)
    assert not re.search(rf"In {month} the person gets a place", text)


def test_the_guarantee_clock_to_fas3_is_told():
    scenario = load_scenario(UMEA)
    events = simulate(scenario, seed=1).events
    person = int(events[(events["from_stage"] == "job") & (events["to_stage"] == "fas3")]["person"].iloc[0])
    text = tell_story(scenario, 1, person)
    assert "450 days in the guarantee are used up: the person moves to Fas 3" in text
    assert "in Fas 3, an occupation placement" in text


@pytest.mark.parametrize("person", [-1, 174, 10_000])
def test_a_person_out_of_range_is_one_clear_error(person):
    with pytest.raises(StoryError, match=r"out of range: c2-lycksele has 174 people \(ids 0-173\)"):
        tell_story(C2, 1, person)


# ------------------------------------------------------------------------------ almsim story
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert main(["run", str(C2), "-r", "2", "--seed", "3", "--out", str(out), "-q"]) == 0
    (folder,) = out.glob("c2-lycksele/*")
    return folder


def test_almsim_story_tells_a_saved_run(run_dir, capsys):
    assert main(["story", str(run_dir), "--person", "5", "--replication", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("The story of person 5 in 'Lycksele C2 coaching project'")
    assert "seed 3, replication 1" in out and "referred to C2 individual coaching" in out
    assert "Note:" not in out  # the re-run matches the saved events


def test_a_story_from_a_run_folder_is_the_story_of_its_seed(run_dir):
    from_run = story_from_run(run_dir, 5, replication=1).splitlines()
    direct = tell_story(load_scenario(C2), 3, 5, replication=1, fixed_parameters=False).splitlines()
    assert from_run[1:] == direct[1:]


def test_a_story_from_a_run_folder_is_the_life_the_run_saved_with_its_posterior_draw(run_dir):
    """The run drew the calibrated national rates per replication (the default), so the story
    re-runs the replication with its draw: a person whose months differ under the rates as
    written is told as saved, with no note that the re-run differs."""
    import pandas as pd

    saved = pd.read_parquet(run_dir / "events.parquet")
    saved = saved[saved["replication"] == 1].drop(columns="replication").astype(str)
    seed_1 = [int(s) for s in json.loads((run_dir / "manifest.json").read_text())["replication_seeds"]][1]
    as_written = simulate(load_scenario(C2), seed=seed_1).events.astype(str)
    by_person = [{p: g.reset_index(drop=True) for p, g in ev.groupby("person")} for ev in (saved, as_written)]
    differ = sorted(int(p) for p in by_person[0].keys() | by_person[1].keys()
                    if not (p in by_person[0] and p in by_person[1] and by_person[0][p].equals(by_person[1][p])))
    assert differ, "the posterior draw should change someone's months"
    assert "Note:" not in story_from_run(run_dir, differ[0], replication=1)


@pytest.mark.parametrize("args, message", [
    (["--person", "5"], "no such run folder"),
    (["--person", "174"], "person 174 is out of range"),
    (["--person", "5", "--replication", "2"], "replication 2 is out of range: the run has 2"),
    (["--person", "5", "--replication", "-1"], "replication -1 is out of range"),
])
def test_almsim_story_errors_are_one_line_with_exit_2(run_dir, tmp_path, capsys, args, message):
    folder = tmp_path / "missing" if message == "no such run folder" else run_dir
    assert main(["story", str(folder), *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_almsim_story_on_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["story", str(tmp_path), "--person", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a run folder" in err and len(err.strip().splitlines()) == 1
