"""The SimPy calendar's ordering, replications and atomic run folders."""

import json

import numpy as np
import pytest
from factories import PROGRAMME, scenario

from sim.engine.calendar import Calendar
from sim.runs.replications import content_hash, replicate, simulate
from sim.runs.results import RunResult, atomic_dir


def test_calendar_events_of_a_month_run_before_that_months_step():
    log = []
    cal = Calendar(lambda: log.append(("step", cal.month)),
                   [(2, lambda: log.append(("reform", cal.month))), (0, lambda: log.append(("arrive", cal.month))),
                    (2, lambda: log.append(("budget", cal.month)))],
                   yearly=lambda: log.append(("year", cal.month)))
    for _ in range(13):
        cal.advance()
    assert log[:5] == [("arrive", 0), ("step", 0), ("step", 1), ("reform", 2), ("budget", 2)]
    assert log[5] == ("step", 2)
    assert log.index(("year", 12)) == log.index(("step", 12)) - 1
    assert [e for e in log if e[0] == "step"] == [("step", t) for t in range(13)]


def test_replications_give_bands_and_do_not_depend_on_workers():
    scn = scenario([PROGRAMME], population={"cohort": {"size": 500}}, horizon_months=24)
    one = replicate(scn, seed=3, replications=4, workers=1)
    two = replicate(scn, seed=3, replications=4, workers=2)
    assert one.summary() == two.summary()
    bands = one.bands()
    assert (bands["p10"] <= bands["p50"]).all() and (bands["p50"] <= bands["p90"]).all()
    s = one.summary()
    assert s["replications"] == 4
    assert s["share_in_work_12m"]["p10"] <= s["share_in_work_12m"]["p90"]
    # replication 0 is the plain run with the seed itself
    assert simulate(scn, 3).summary == one.results[0].summary


def test_save_writes_a_complete_folder_and_reruns_replace_it(tmp_path):
    scn = scenario([PROGRAMME], population={"cohort": {"size": 300}}, horizon_months=18)
    ens = replicate(scn, seed=1, replications=2)
    path = ens.save(tmp_path)
    names = {p.name for p in path.iterdir()}
    assert {"stocks.parquet", "flows.parquet", "events.parquet", "summary.json", "manifest.json"} <= names
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["content_hash"] == content_hash(scn) and manifest["seed"] == 1
    assert manifest["resolved_scenario"]["name"] == "test"
    again = ens.save(tmp_path)
    assert again == path
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary leftovers


def test_content_hash_changes_with_the_scenario_only():
    a = scenario([PROGRAMME])
    assert content_hash(a) == content_hash(scenario([PROGRAMME]))
    assert content_hash(a) != content_hash(scenario([PROGRAMME], horizon_months=37))


def test_a_failure_while_writing_leaves_nothing(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "half.parquet").write_text("x")
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_run_result_round_trips_through_disk(tmp_path):
    r = simulate(scenario([PROGRAMME], population={"cohort": {"size": 300}}), 4)
    back = RunResult.load(r.save(tmp_path / "one"))
    assert back.summary == json.loads(json.dumps(r.summary))
    for name, df in r.tables.items():
        assert len(back.tables[name]) == len(df)
        if len(df):
            np.testing.assert_array_equal(back.tables[name].iloc[:, 0].to_numpy(), df.iloc[:, 0].to_numpy())


def test_a_manifests_sorted_scenario_rebuilds_the_same_run(tmp_path):
    from sim.scenario.load import build, load_scenario

    scn = load_scenario("scenarios/sigtuna-resursjobb.yaml")
    path = replicate(scn, seed=2, replications=1).save(tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())  # written with sorted keys
    again = build(manifest["resolved_scenario"])
    assert content_hash(again) == content_hash(scn)
    a, b = simulate(scn, 2), simulate(again, 2)
    assert a.summary == b.summary
    assert a.tables["people"].equals(b.tables["people"])


def test_arrivals_are_logged_in_their_own_month():
    scn = scenario([], population={"cohort": {"size": 30, "waves": {"2012-01": 10, "2012-04": 20}}})
    ev = simulate(scn, 0).tables["events"]
    arrivals = ev[ev["from_stage"] == "not_arrived"].groupby("month")["person"].count()
    assert arrivals.to_dict() == {"2012-01": 10, "2012-04": 20}


def test_temporary_folders_of_killed_writers_are_swept_whatever_their_run(tmp_path):
    import os
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".seed1-r4-abc.tmp-{dead.pid}-x").mkdir()  # a killed run of another seed
    (tmp_path / f".seed2-r4-abc.old-{dead.pid}").mkdir()
    (tmp_path / f".seed3-r4-abc.tmp-{os.getpid()}-y").mkdir()  # a live writer: kept
    with atomic_dir(tmp_path / "seed0-r1-abc") as tmp:
        (tmp / "a.txt").write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".seed3-r4-abc.tmp-{os.getpid()}-y", "seed0-r1-abc"]


def test_the_event_logs_programme_starts_are_the_admissions_and_nothing_else():
    """``programme_start`` marks exactly the admissions: month by month as many as the queues
    table's starts; a person who leaves a subsidised-job programme's waiting list for an ordinary
    subsidised job moves between the same stages but is not a start (counting those as
    participants was a known error: Resursjobb ~162 participants against ~157-160 starts)."""
    from sim import load_scenario

    scn = load_scenario("scenarios/sigtuna-resursjobb.yaml", ["horizon_months=36"])
    r = simulate(scn, 3, record_events=True)
    ev, q = r.tables["events"], r.tables["queues"]
    starts = ev[ev["programme_start"]]
    assert (starts["from_stage"] == "waiting").all() and (starts["to_stage"] == "subsidised").all()
    assert (starts["programme"] == "resursjobb").all()
    by_month = starts.groupby("month").size()
    want = q[q["starts"] > 0].set_index("month")["starts"]
    assert by_month.to_dict() == want.to_dict()
    left = ev[(ev["from_stage"] == "waiting") & (ev["to_stage"] == "subsidised") & ~ev["programme_start"]]
    assert len(left) > 0 and (left["programme"] == "resursjobb").all()  # (the case exists in this run)


def test_an_ensemble_writes_each_table_of_every_replication_as_one_frame_stacks_them(tmp_path):
    """The ensemble's Parquet tables are written one replication at a time, and read back as
    ``table(name)`` (every replication's frame with its number, stacked as pandas stacks them); a
    table built only to be written is let go (a national population's event logs do not all wait
    in memory), one built before is kept."""
    import pandas as pd

    ens = replicate(scenario([PROGRAMME], population={"cohort": {"size": 300}}), seed=4, replications=3)
    kept = ens.results[0].tables["stocks"]
    path = ens.save(tmp_path)
    for name in ens.results[0].tables:
        pd.testing.assert_frame_equal(pd.read_parquet(path / f"{name}.parquet"), ens.table(name), check_exact=True)
    fresh = replicate(scenario([PROGRAMME], population={"cohort": {"size": 300}}), seed=4, replications=3)
    fresh.results[0].tables["stocks"]
    fresh.save(tmp_path / "again")
    assert fresh.results[0].tables.built("stocks") and not fresh.results[1].tables.built("events")
    assert kept is ens.results[0].tables["stocks"]


def test_replications_whose_column_types_differ_are_written_as_pandas_stacks_them(tmp_path):
    """Where a replication's table has other column types than the first's (a column empty in one,
    numbers in another), the table is written as ``table(name)`` stacks it, not one replication at
    a time (Arrow would refuse the second part)."""
    import pandas as pd

    from sim.runs.replications import Ensemble

    def result(events: pd.DataFrame) -> RunResult:
        return RunResult(scenario="x", seed=0, start_month=0, horizon_months=1, programmes=[],
                         tables={"events": events})

    first = pd.DataFrame({"person": pd.Series([], dtype=object), "n": pd.Series([], dtype="int64")})
    second = pd.DataFrame({"person": [3, 4], "n": [1, 2]})
    ens = Ensemble(scenario([]), 0, [0, 1], [result(first), result(second)])
    ens._write_table("events", tmp_path / "events.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "events.parquet"), ens.table("events"),
                                  check_dtype=False)
    assert pd.read_parquet(tmp_path / "events.parquet")["person"].tolist() == [3, 4]
