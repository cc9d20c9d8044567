"""`almsim run`: results on disk, and bad input that writes nothing."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def almsim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_run_writes_a_run_folder_per_scenario(tmp_path):
    out = tmp_path / "out"
    res = almsim("run", "scenarios/c2-lycksele-baseline.yaml", "scenarios/c2-lycksele.yaml", "-r", "3",
                 "--seed", "5", "--out", str(out), "-q")
    assert res.returncode == 0, res.stderr
    runs = sorted(out.glob("*/*"))
    assert [p.parent.name for p in runs] == ["c2-lycksele", "c2-lycksele-baseline"]
    for run in runs:
        summary = json.loads((run / "summary.json").read_text())
        manifest = json.loads((run / "manifest.json").read_text())
        assert summary["replications"] == 3 and manifest["seed"] == 5
        assert {"p10", "p50", "p90"} <= set(summary["person_months_in_work"])
        assert (run / "stocks.parquet").exists() and (run / "ledger.parquet").exists()
    assert "in work after 1 year" in res.stdout


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_scenario_file_runs(path, tmp_path):
    from sim import load_scenario, simulate

    result = simulate(load_scenario(path), seed=1)
    stocks = result.tables["stocks"]
    assert stocks["people"].sum() > 0
    assert result.summary["months_simulated"] == load_scenario(path).horizon_months


def test_a_bad_file_among_good_ones_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: " + str(ROOT / "scenarios/c2-lycksele.yaml") + "\nhorizon_monhts: 12\n")
    out = tmp_path / "out"
    res = almsim("run", "scenarios/c2-lycksele.yaml", str(bad), "--out", str(out), "-q")
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert not out.exists()


def test_a_population_too_large_for_memory_is_refused_before_allocating(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("name: big\nstart_month: 2012-01\nhorizon_months: 120\npopulation:\n"
                   "  cohort: {size: 10}\n  inflow: {people_per_month: 100000000000}\n")
    res = almsim("run", str(big), "--out", str(tmp_path / "out"), "-q")
    assert res.returncode == 2
    line = res.stderr.strip()
    assert "\n" not in line and "big.yaml:4: population:" in line and "GiB" in line
    assert not (tmp_path / "out").exists()


def test_compare_writes_tables_figures_and_a_report(tmp_path):
    out = tmp_path / "out"
    res = almsim("compare", "scenarios/c2-lycksele-baseline.yaml", "scenarios/c2-lycksele.yaml",
                 "scenarios/c2-lycksele-2coaches.yaml", "-r", "3", "--out", str(out), "-q")
    assert res.returncode == 0, res.stderr
    (folder,) = (out / "compare-c2-lycksele-c2-lycksele-2coaches").iterdir()  # one folder per what-if
    assert folder.name.startswith("seed0-r3-")
    names = {p.name for p in folder.iterdir()}
    assert {"report.html", "money.parquet", "money.csv", "headline.parquet", "headline.csv"} <= names
    assert any(n.endswith(".png") for n in names) or "data:image/svg+xml;base64" in (folder / "report.html").read_text()
    assert "municipality" in res.stdout and "5 years" in res.stdout
    # the saved summary is the text printed (made once for both)
    summary = (folder / "summary.txt").read_text()
    assert summary.startswith("Baseline: ") and summary in res.stdout


def test_a_scenario_compared_with_itself_saves_exactly_nothing(tmp_path):
    import pandas as pd

    out = tmp_path / "out"
    res = almsim("compare", "scenarios/c2-lycksele.yaml", "scenarios/c2-lycksele.yaml", "-r", "2", "--out",
                 str(out), "--name", "self", "-q")
    assert res.returncode == 0, res.stderr
    (folder,) = (out / "compare-self").iterdir()
    money = pd.read_parquet(folder / "money.parquet")
    assert (money["saving_undiscounted_sek"] == 0.0).all()


@pytest.mark.parametrize("args", [["--horizon", "four years"], ["--payer", "nobody"]])
def test_breakeven_bad_arguments_exit_2_with_one_line(args):
    res = almsim("breakeven", "scenarios/c2-lycksele.yaml", *args, "-q")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and res.stderr.strip()


def test_summary_is_byte_identical_across_runs_and_worker_counts(tmp_path):
    texts = set()
    tables = set()
    for i, workers in enumerate(["1", "1", "2", "4"]):
        out = tmp_path / f"out{i}"
        res = almsim("run", "scenarios/c2-lycksele.yaml", "-r", "4", "--seed", "9", "-w", workers, "--out",
                     str(out), "-q")
        assert res.returncode == 0, res.stderr
        (run,) = out.glob("*/*")
        texts.add((run / "summary.json").read_bytes())
        import pandas as pd

        tables.add(pd.read_parquet(run / "stocks.parquet").to_csv(index=False))
    assert len(texts) == 1 and len(tables) == 1


def test_workers_not_needed_run_in_this_process_and_the_command_says_so(tmp_path, capsys, monkeypatch):
    """Replications that fit in one batched model run in this process even with ``-w 2`` (the
    model costs less than starting workers): one line on stderr says so, and the run succeeds.
    Where they do not fit in one model, the workers run them and nothing is said."""
    import sim.runs.replications as replications
    from sim.cli.main import main

    run = ["run", "scenarios/c2-lycksele.yaml", "--set", "horizon_months=30", "-r", "2", "-w", "2"]
    assert main([*run, "--out", str(tmp_path / "one-model")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "workers" in line]
    assert notes == ["c2-lycksele: ran in this process, not on 2 workers: its replications fit in one batched "
                     "model, which costs less than starting workers"]
    assert main([*run, "-q", "--out", str(tmp_path / "quiet")]) == 0
    assert capsys.readouterr().err == ""

    monkeypatch.setattr(replications, "BATCH_PEOPLE", 1)  # each replication a model: two jobs, two workers
    assert main([*run, "--out", str(tmp_path / "workers")]) == 0
    assert "workers" not in capsys.readouterr().err


def test_a_compare_folder_is_all_or_nothing_report_included(tmp_path, monkeypatch):
    """If writing fails after the tables, neither the new tables nor a report are left behind,
    and the previous folder stays whole."""
    from sim import load_scenario
    from sim.analysis.comparison import compare

    base = load_scenario("scenarios/c2-lycksele-baseline.yaml")
    c = compare(base, [base], replications=1, sensitivity=False, bridge=False)
    out = tmp_path / "compare-x"
    c.save(out, extra={"report.html": "<p>old</p>"})

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("pyarrow.csv.write_csv", broken)
    with pytest.raises(OSError):
        c.save(out, extra={"report.html": "<p>new</p>"})
    assert (out / "report.html").read_text() == "<p>old</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare-x"]


def test_compare_checks_its_output_folder_before_any_work(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    res = almsim("compare", "scenarios/c2-lycksele-baseline.yaml", "scenarios/c2-lycksele.yaml", "-r", "1", "-q",
                 "--out", str(blocker / "out"))
    assert res.returncode == 2 and "is not a folder" in res.stderr and "Traceback" not in res.stderr
    res = almsim("compare", "scenarios/c2-lycksele-baseline.yaml", "scenarios/c2-lycksele.yaml", "-r", "1", "-q",
                 "--out", str(tmp_path), "--name", "x" * 300)
    assert res.returncode == 2 and "longer than 255 bytes" in res.stderr


def test_compare_of_scenarios_with_other_months_is_one_line_before_any_run(tmp_path):
    """A baseline and a scenario of other months (here: two cohorts' files) cannot be paired:
    one line naming the file, exit 2, and nothing simulated or written (no resume folder)."""
    res = almsim("compare", "scenarios/sigtuna-resursjobb-baseline.yaml", "scenarios/c2-lycksele.yaml", "-r", "1",
                 "-q", "--out", str(tmp_path / "out"))
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith("error: scenarios/c2-lycksele.yaml: ") and "the same months" in res.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["../../elsewhere", "a/b", ".hidden", ""])
def test_compare_name_is_one_folder_name(tmp_path, name):
    """``--name`` names one folder under OUT: a path in it is a usage error, nothing written."""
    res = almsim("compare", "scenarios/c2-lycksele-baseline.yaml", "scenarios/c2-lycksele.yaml", "-r", "1", "-q",
                 "--out", str(tmp_path / "out"), "--name", name)
    assert res.returncode == 2 and "argument --name: a folder name is" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists() and sorted(tmp_path.iterdir()) == []


def _documented_compares() -> list[list[str]]:
    """The files of every ``almsim compare`` command in README.md and scenarios/README.md."""
    out = []
    for doc in (ROOT / "README.md", ROOT / "scenarios" / "README.md"):
        text = doc.read_text(encoding="utf-8").replace("\\\n", " ")
        for line in text.splitlines():
            if "almsim compare scenarios/" in line:
                words = line.split("almsim compare ", 1)[1].split()
                out.append([w for w in words if w.endswith(".yaml") and not w.startswith("--")])
    return out


def test_the_documented_compares_put_the_baseline_first_and_a_swapped_pair_is_warned_of(tmp_path):
    """A user copies the READMEs' commands: their first file is the baseline (no programmes).
    Swapped, compare still runs (a removal is a legal what-if) but says which is which."""
    from sim.scenario.load import load_scenario

    documented = _documented_compares()
    assert len(documented) >= 2
    for files in documented:
        base, *scenarios = (load_scenario(ROOT / f) for f in files)
        assert not base.programmes and all(s.programmes for s in scenarios), files
    args = ["-r", "1", "-q", "--no-sensitivity", "--no-bridge", "--out", str(tmp_path)]
    swapped = almsim("compare", "scenarios/c2-lycksele.yaml", "scenarios/c2-lycksele-baseline.yaml", *args)
    assert swapped.returncode == 0, swapped.stderr
    assert swapped.stderr.startswith("warning: the baseline 'c2-lycksele' has programmes and the scenario "
                                     "'c2-lycksele-baseline' has none")
    right = almsim("compare", "scenarios/c2-lycksele-baseline.yaml", "scenarios/c2-lycksele.yaml", *args)
    assert right.returncode == 0 and "warning" not in right.stderr


def _compare_folder(out: Path, name: str, *files: str, extra: tuple[str, ...] = ()) -> Path:
    """The folder ``almsim compare FILES --out OUT --name NAME -r 1 EXTRA`` writes."""
    from sim.cli.main import build_parser
    from sim.cli.runs import _comparison_id
    from sim.cli.scenarios import load_all

    args = build_parser().parse_args(["compare", *files, "-r", "1", "--out", str(out), "--name", name, *extra])
    baseline, *scenarios = load_all([args.baseline, *args.scenarios], args.overrides)
    return out / f"compare-{name}" / _comparison_id(args, baseline, scenarios)


#: Holds the lock of the folder whose path is argv[1] as a live writer does, until killed.
HOLD_LOCK = ("import os, sys, time\nfrom pathlib import Path\nfrom sim.runs.folders import output_lock\n"
             "with output_lock(Path(sys.argv[1])):\n    print('locked', flush=True)\n    time.sleep(120)\n")


def hold_lock(folder: Path) -> subprocess.Popen[str]:
    """A live writer of ``folder`` (another process holding its lock)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    return holder


def test_a_second_compare_of_the_same_folder_is_refused_while_the_first_writes(tmp_path):
    files = ("scenarios/c2-lycksele-baseline.yaml", "scenarios/c2-lycksele.yaml")
    folder = _compare_folder(tmp_path, "x", *files, extra=("--no-sensitivity",))
    holder = hold_lock(folder)
    try:
        res = almsim("compare", *files, "-r", "1", "-q", "--no-sensitivity", "--out", str(tmp_path), "--name", "x")
        assert res.returncode == 2 and f"another almsim (pid {holder.pid})" in res.stderr
        assert not folder.exists()
    finally:
        holder.kill()
        holder.wait()
    # the lock left by a writer that was killed is taken over
    assert (folder.parent / f".{folder.name}.lock").exists()
    res = almsim("compare", *files, "-r", "1", "-q", "--no-sensitivity", "--out", str(tmp_path), "--name", "x")
    assert res.returncode == 0, res.stderr
    assert (folder / "report.html").exists() and sorted(p.name for p in folder.parent.iterdir()) == [folder.name]


def test_what_ifs_get_their_own_folders(tmp_path):
    """Seed, replications, overrides and what is left out each name another folder (nothing
    about a comparison is written; only the names are computed)."""
    files = ("scenarios/c2-lycksele-baseline.yaml", "scenarios/c2-lycksele.yaml")
    names = {_compare_folder(tmp_path, "x", *files, extra=extra).name
             for extra in ((), ("--seed", "1"), ("-r", "2"), ("--set", "programmes.c2.capacity.staff=4"),
                           ("--no-sensitivity",), ("--no-bridge",))}
    assert len(names) == 6
    assert _compare_folder(tmp_path, "x", *files) == _compare_folder(tmp_path, "x", *files, extra=("-w", "2"))


@pytest.mark.parametrize("command", ["sweep", "sensitivity"])
def test_sweep_and_sensitivity_read_their_file_with_the_strict_reader(tmp_path, capsys, command):
    """A FIFO is refused at once (no hang), a duplicate key with its line (no plain yaml.safe_load)."""
    import os

    from sim.cli.main import main

    fifo = tmp_path / "job.yaml"
    os.mkfifo(fifo)
    duplicate = tmp_path / "dup.yaml"
    duplicate.write_text("name: c2\ntargets: t.yaml\nscenarios: {}\nname: c3\n")
    assert main([command, str(fifo), "-q"]) == 2
    assert main([command, str(duplicate), "-q"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert "is a FIFO" in lines[0]
    assert f"{duplicate}:4: name: duplicate key" in lines[1]


def test_compare_writes_its_report_with_the_collector_paused_and_hands_what_it_made_on(monkeypatch, tmp_path):
    """``compare`` renders and writes its report and tables with the cyclic collector off (not
    while it runs the models: a finished model is freed by the collector); afterwards it is on
    again (off if it was off), also after a failure, and the objects made meanwhile are in the
    oldest generation (the next young pass does not go over them all)."""
    import gc

    from sim.analysis import comparison
    from sim.cli import runs
    from sim.cli.main import main
    from sim.present import report

    seen: list[tuple[str, bool]] = []
    made: list[list[int]] = []

    class Done:
        def to_text(self):
            return "text"

        def save(self, folder, extra, text):
            seen.append(("save", gc.isenabled()))
            made.extend([i] for i in range(5000))
            if "fail" in str(folder):
                raise OSError("disk full")
            return folder

    def fake_compare(*args, **kwargs):
        seen.append(("compare", gc.isenabled()))
        return Done()

    def render(c):
        seen.append(("render", gc.isenabled()))
        return ""

    monkeypatch.setattr(comparison, "compare", fake_compare)
    monkeypatch.setattr(report, "render_report", render)
    monkeypatch.setattr(runs, "_reruns", lambda args, scenario: 0)
    base = ["compare", str(ROOT / "scenarios" / "sigtuna-resursjobb-baseline.yaml"),
            str(ROOT / "scenarios" / "sigtuna-resursjobb.yaml"), "-q"]
    was = gc.isenabled()
    try:
        gc.enable()
        assert main([*base, "--out", str(tmp_path / "ok")]) == 0
        assert gc.isenabled() and gc.get_count()[0] < 1000  # (5,000 lists made, none young)
        assert main([*base, "--out", str(tmp_path / "fail")]) == 1
        assert gc.isenabled()
        gc.disable()
        assert main([*base, "--out", str(tmp_path / "off")]) == 0
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [("compare", True), ("render", False), ("save", False)] * 2 + [
        ("compare", False), ("render", False), ("save", False)]


def test_a_command_runs_with_fewer_garbage_collections_and_the_collector_is_put_back(monkeypatch):
    """While a command runs, the collector's young and middle thresholds are raised (fewer scans of
    a heap of imported modules); afterwards the caller's thresholds are as they were, also after a
    failure."""
    import gc

    from sim.cli import main as cli
    from sim.cli.command import Command

    seen = []

    def record(args):
        seen.append(gc.get_threshold())
        if args.fail:
            raise OSError("disk full")
        return 0

    def arguments(parser):
        parser.add_argument("--fail", action="store_true")

    monkeypatch.setattr(cli, "REGISTRY", (Command("probe", "records the collector's thresholds", arguments, record),))
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        assert cli.main(["probe"]) == 0
        assert gc.get_threshold() == (700, 10, 10)
        assert cli.main(["probe", "--fail"]) == 1
        assert gc.get_threshold() == (700, 10, 10)
        gc.set_threshold(0, 10, 10)  # the collector switched off by its caller stays off
        assert cli.main(["probe"]) == 0
    finally:
        gc.set_threshold(*before)
    assert seen == [(*cli.GC_THRESHOLDS, 10)] * 2 + [(0, 10, 10)]


PEAK = r"""
import resource, sys
from sim.cli.main import main
code = main(sys.argv[1:])
print(code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def test_the_memory_check_does_not_underestimate_a_national_run(tmp_path):
    """What the memory check expects a national population's run to need (with its event log, the
    heaviest case) is at least what the command takes at its peak (its own process, measured)."""
    from sim.engine.footprint import memory_estimate
    from sim.scenario.load import load_scenario

    path = ROOT / "scenarios" / "national-scale.yaml"
    res = subprocess.run([sys.executable, "-c", PEAK, "run", str(path), "-r", "1", "--out", str(tmp_path / "out"),
                          "-q"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr
    code, peak = map(int, res.stdout.split()[-2:])
    sc = load_scenario(path)
    assert code == 0 and peak <= memory_estimate(498_000, sc.horizon_months, True, kept=1)


def test_a_comparison_whose_bridge_would_not_fit_is_refused_before_any_run(tmp_path):
    """The payoff-style bridge follows every person (~310 bytes a person-month: a national
    population needs ~20 GB for it): a comparison whose bridge would not fit is refused in one
    line that says how much it needs without it, before any run and with nothing written."""
    national = str(ROOT / "scenarios" / "national-scale.yaml")
    big = ["--set", "population.cohort.size=3000000", "-r", "2", "--out", str(tmp_path / "out"), "-q"]
    res = almsim("compare", national, national, *big)
    assert res.returncode == 2
    line = res.stderr.strip()
    assert "\n" not in line and "national-scale.yaml" in line and "the payoff-style bridge follows every person" in line
    assert "--no-bridge" in line and not (tmp_path / "out").exists()
    # the same people without the bridge need far less: the estimate it names is what the check uses
    from sim.engine.footprint import memory_estimate

    people = 3_000_000 + 1_400 * 120
    said = float(line.rsplit("about ", 1)[1].split(" GiB")[0].replace(",", ""))
    assert said == round(memory_estimate(people, 120, True, 4, 2) / 2**30, 1)
    assert memory_estimate(people, 120, True, 4, 2, bridge=True) > 4 * memory_estimate(people, 120, True, 4, 2)


def test_replications_too_many_to_keep_in_memory_are_refused_before_any_run(tmp_path):
    """A command keeps every finished replication until it writes the folder: the memory check
    counts them (one run of this population fits; a thousand kept do not), with a one-line error
    that says what needs less, before any run and with nothing written."""
    from sim.engine.footprint import ResourceError, check_fits, memory_estimate
    from sim.scenario.load import load_scenario

    sc = load_scenario(ROOT / "scenarios" / "national-scale.yaml")
    args = (sc.population, sc.start_month, sc.horizon_months)
    have = 4 * memory_estimate(498_000, sc.horizon_months)
    assert check_fits(*args, available=have, kept=1) == 498_000
    with pytest.raises(ResourceError, match="1000 finished runs kept until written.*no event log"):
        check_fits(*args, available=have, kept=1000)
    res = almsim("run", str(ROOT / "scenarios" / "national-scale.yaml"), "-r", "100000", "--out",
                 str(tmp_path / "out"), "-q")
    assert res.returncode == 2
    line = res.stderr.strip()
    assert "\n" not in line and "national-scale.yaml:20: population:" in line and "100000 finished runs" in line
    assert not (tmp_path / "out").exists()
