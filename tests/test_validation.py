"""The validation page and the statistics behind the national assistance calibration.

* ``docs/validation.md`` is what ``almsim validation`` writes from the committed results, and
  every miss on it carries a reason;
* who is on assistance each month, as the statistics read it from the event log, is the stage
  the engine itself records each month (checked against a run that follows everyone);
* the yearly statistics (months a year, long-term share, persistence) and the composition
  checks count what they say on such a run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from sim.cli.main import main
from sim.engine.model import ProgrammeModel
from sim.present.validation import PAGE, render, validation_rows
from sim.runs.results import RunResult
from sim.runs.run_statistics import ASSISTANCE_STAGES, STATISTICS, assistance_months
from sim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def page() -> tuple[str, list]:
    jobs, rows = validation_rows(ROOT)
    return render(jobs, rows), rows


def test_committed_page_equals_a_rebuild(page: tuple[str, list]) -> None:
    text, _ = page
    committed = (ROOT / PAGE).read_text(encoding="utf-8")
    assert committed == text, "docs/validation.md is out of date: run 'almsim validation'"


def test_every_miss_has_a_reason_and_every_target_was_run(page: tuple[str, list]) -> None:
    _, rows = page
    assert rows, "no calibration results found"
    unexplained = [f"{r.job}/{r.target}" for r in rows
                   if r.passed is False and (not r.reason or r.reason.startswith("No reason"))]
    assert not unexplained, f"misses without notes in their target files: {unexplained}"
    not_run = [f"{r.job}/{r.target}" for r in rows if r.role == "not run"]
    assert not not_run, f"targets missing from the committed results (run the jobs again): {not_run}"
    goals = [r for r in rows if r.role == "goal"]
    assert goals and all(r.passed is None and 0 <= r.p_reach <= 1 for r in goals)


def test_check_flag_tells_a_stale_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validation", "--root", str(ROOT), "--check"]) == 0
    stale = tmp_path / "validation.md"
    shutil.copy(ROOT / PAGE, stale)
    stale.write_text(stale.read_text(encoding="utf-8").replace("pass", "miss", 1), encoding="utf-8")
    assert main(["validation", "--root", str(ROOT), "--check", "--out", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_validation_outside_a_repository_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validation", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:")


@pytest.fixture(scope="module")
def followed() -> tuple[RunResult, object]:
    scenario = load_scenario(ROOT / "scenarios" / "national.yaml", [
        "population.cohort.size=300", "horizon_months=36",
        "population.inflow={people_per_month: 10, from_month: 2012-02, "
        "composition: {months_on_assistance: {'0-0': 1.0}}}"])
    n = 300 + 10 * 35
    model = ProgrammeModel(scenario, rng=7, record_events=True, track=np.arange(n))
    model.run()
    return RunResult.from_model(model), scenario


def test_assistance_months_are_the_engines_own_monthly_stages(followed: tuple[RunResult, object]) -> None:
    result, _ = followed
    on = assistance_months(result)
    ts = result.tables["tracked_state"]
    month = {m: i for i, m in enumerate(sorted(ts["month"].unique()))}
    truth = np.zeros_like(on)
    truth[ts["person"].to_numpy(), ts["month"].map(month).to_numpy()] = ts["stage"].isin(ASSISTANCE_STAGES).to_numpy()
    assert on.shape == (len(result.tables["people"]), result.horizon_months)
    assert np.array_equal(on, truth)
    # people not yet arrived are on nothing
    arrival = result.tables["people"]["arrival_month"].to_numpy()
    assert not on[arrival == "2013-01", :12].any()


def test_yearly_assistance_statistics_count_what_they_say(followed: tuple[RunResult, object]) -> None:
    result, scenario = followed
    on = assistance_months(result)
    months_2013 = on[:, 12:24].sum(axis=1)
    recipients = months_2013 > 0
    stat = lambda name, **a: STATISTICS[name].fn(result, scenario, **a)  # noqa: E731
    assert stat("assistance_months_per_year", year=2013) == pytest.approx(months_2013[recipients].mean())
    long_term, of = stat("long_term_assistance", year=2013)
    assert (long_term, of) == ((months_2013 >= 10).sum(), recipients.sum())
    assert 0 < long_term < of
    children = result.tables["people"]["children"].to_numpy()
    assert stat("long_term_assistance", year=2013, weight="children") == (
        children[recipients & (months_2013 >= 10)].sum(), children[recipients].sum())
    assert stat("assistance_recipients_ratio", year=2013, base_year=2012) == pytest.approx(
        recipients.sum() / on[:, :12].any(axis=1).sum())
    stayed, entrants = stat("assistance_persistence", entry_year=2012, years=2)
    assert entrants == 300 + 10 * 11  # the January stock and the inflow of February-December 2012
    assert stayed == (on[:, :12].any(axis=1) & on[:, 12:24].any(axis=1)).sum()
    with pytest.raises(ValueError, match="does not cover the calendar year 2016"):
        stat("assistance_months_per_year", year=2016)


def test_composition_checks_count_people(followed: tuple[RunResult, object]) -> None:
    result, scenario = followed
    people = result.tables["people"]
    stat = lambda name, **a: STATISTICS[name].fn(result, scenario, **a)  # noqa: E731
    assert stat("people_with", column="sex", values=["female"], by="2012-01") == (
        int((people["sex"][:300] == "female").sum()), 300)
    long_, all_ = stat("people_with", column="months_on_assistance_at_entry", at_least=24)
    assert (long_, all_) == (int((people["months_on_assistance_at_entry"] >= 24).sum()), len(people))
    assert stat("people_total", column="children", by="2012-01") == float(people["children"][:300].sum())
    with pytest.raises(ValueError, match="unknown column"):
        stat("people_with", column="employability", values=[1])
