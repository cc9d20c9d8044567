"""almsim benchmarks: throughput, scaling, memory, the national scenario, calibration speed.

Run from the repository root:

    .venv/bin/python benchmarks/run.py            # everything (~2-4 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick    # smaller sizes, for a smoke check
    .venv/bin/python benchmarks/run.py --only ratios [--baseline ../other-checkout]

Prints a report; a full run also adds it to ``benchmarks/results.md`` as a new section at the
top, keeping the sections of earlier runs and sessions (``--quick`` and ``--only ratios`` print
only).

Each measurement runs in a fresh
process (so peak memory is that run's own), on one core, with the person-level event log
off (as in sweeps); capacities, queues, budgets, the ledger and all clocks are on.

* the engine against the six-state toy (:mod:`benchmarks.toys`): CPU seconds per person-month
  of the engine at 10^6 people and of the toy written with numpy, with Starsim (the ``bench``
  extra) and as per-agent Mesa (on fewer agents: it is slow; its cost per agent-month is
  flat in the number of agents), each in a fresh process, interleaved round by round
  (engine, numpy, Starsim, Mesa, engine, ...), medians; and the fraction of the memory-bandwidth
  bound: the machine's measured bandwidth (:func:`benchmarks.toys.bandwidth`) over the bytes a
  month must read and write per person (counted from the population's arrays, :data:`READ`
  and :data:`WRITTEN`). ``--baseline DIR`` adds another checkout's engine to the rounds
  (before/after a change, under the same load);
* throughput: person-months per second of ``scenarios/national-scale.yaml`` with its cohort
  set to N people and no inflow, over 120 months, N = 10^3 ... 10^6;
* memory: peak resident memory of the process (``ru_maxrss``, which also counts what the
  compiled kernels allocate) and peak traced allocation (tracemalloc), per person beyond
  the fixed overhead (the slope between the two largest sizes);
* national: ``scenarios/national-scale.yaml`` as written (498,000 people, 10 years);
* calibration: C2-cohort simulations per second on 2 worker processes;
* batched cohorts: C2 simulations per CPU-second of one process, run one by one and as blocks of
  one batched model (:mod:`sim.engine.batch`), interleaved, medians of several rounds; the model
  alone, with each run's records handed back (a RunResult without summary, as calibration uses
  it; tables stay lazy), and with the summary too (it posts the run's ledger).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Measure the checkout this script is in (not whichever almsim the interpreter has installed);
# and not this folder first on the path (its profile.py would hide the standard library's).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

#: Arrays a month must read for everyone (the population's and the run's, by name): the state
#: the ledger books, the hazards, the clocks and the rules read. Each is read at least once.
READ = ("stage", "programme", "household", "children", "ui_entitled", "ui_income_related", "fas3_municipal",
        "ui_days", "in_guarantee", "job_days", "reference_wage", "birth_month", "registered", "work_history",
        "months_in_stage", "months_out_of_work", "months_since_programme", "last_programme", "effect_at_exit",
        "motivation", "work_mult", "studies_mult", "moved")
#: Arrays a month must write for everyone: the clocks, and the moved flags (cleared).
WRITTEN = ("ui_days", "job_days", "work_history", "months_in_stage", "months_out_of_work",
           "months_since_programme", "moved")
NATIONAL = ROOT / "scenarios" / "national-scale.yaml"
C2 = ROOT / "scenarios" / "c2-lycksele.yaml"


def _measure(people: int, months: int, repeat: int) -> dict[str, float]:
    """One size, in this process: best time of ``repeat`` runs, peak RSS and tracemalloc peak."""
    import resource
    import tracemalloc

    from sim import ProgrammeModel, load_scenario

    scenario = load_scenario(NATIONAL, [f"population.cohort.size={people}", "population.inflow.people_per_month=0",
                                        f"horizon_months={months}"])
    times, cpu = [], []
    for _ in range(repeat):
        model = ProgrammeModel(scenario, rng=1, record_events=False)
        t0, c0 = time.perf_counter(), time.process_time()
        model.run()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        del model  # one model alive at a time, so the peak is one run's (the calendar's
        gc.collect()  # processes refer back to the model: a cycle, freed by the collector)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    tracemalloc.start()
    model = ProgrammeModel(scenario, rng=1, record_events=False)
    model.run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    best = min(cpu)
    return {"people": people, "months": months, "seconds": best, "wall_seconds": min(times),
            "person_months_per_second": people * months / best, "peak_bytes": peak, "peak_rss_bytes": rss}


def _month_bytes(model) -> tuple[int, int]:  # noqa: ANN001
    """Bytes per person a month must read and write (:data:`READ`, :data:`WRITTEN`), from the
    itemsizes of the model's own arrays."""
    def size(name: str) -> int:
        arr = getattr(model.pop, name, None)
        return int((arr if arr is not None else getattr(model.state, name)).itemsize)

    return sum(size(n) for n in READ), sum(size(n) for n in WRITTEN)


def _engine(people: int, months: int, root: str | None) -> dict[str, float]:
    """CPU seconds of the engine's monthly steps (10^6 people of the national-scale scenario, no
    inflow); building the population is not timed (nor is it for the toys)."""
    import resource

    if root:  # another checkout's engine (before/after a change, in the same rounds)
        sys.path.insert(0, str(Path(root).resolve()))
    from sim import ProgrammeModel, load_scenario

    # each checkout runs its own scenario files (a new rate in this one's is an unknown key to an older one)
    national = Path(root).resolve() / "scenarios" / NATIONAL.name if root else NATIONAL

    def scenario(n: int, m: int):  # noqa: ANN202
        return load_scenario(national, [f"population.cohort.size={n}", "population.inflow.people_per_month=0",
                                        f"horizon_months={m}"])

    ProgrammeModel(scenario(1000, 3), rng=1, record_events=False).run()  # load the compiled kernels
    model = ProgrammeModel(scenario(people, months), rng=1, record_events=False)
    t0 = time.process_time()
    model.run()
    cpu = time.process_time() - t0
    read, written = _month_bytes(model)
    return {"person_months": people * months, "cpu_seconds": cpu, "read": read, "written": written,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def _toy(name: str, people: int, months: int) -> dict[str, float]:
    from benchmarks import toys

    pm, cpu = getattr(toys, f"{name}_toy")(people, months)
    return {"person_months": pm, "cpu_seconds": cpu}


def _ratios(people: int, months: int, mesa_people: int, rounds: int, baseline: str | None) -> dict:
    """The engine and the three toys, each in a fresh process, interleaved round by round;
    medians of person-months per CPU-second; the bandwidth and the bound fraction."""
    order = [("engine", ["--child", "engine"]), ("numpy", ["--child", "toy", "--toy", "numpy"]),
             ("starsim", ["--child", "toy", "--toy", "starsim"]),
             ("mesa", ["--child", "toy", "--toy", "mesa"])]
    if baseline:
        order.insert(1, ("baseline", ["--child", "engine", "--root", baseline]))
    rates: dict[str, list[float]] = {name: [] for name, _ in order}
    bw: list[dict[str, float]] = []
    engine_row: dict = {}
    for r in range(rounds):
        bw.append(_spawn("--child", "bandwidth"))
        for name, argv in order:
            n = mesa_people if name == "mesa" else people
            row = _spawn(*argv, "--people", str(n), "--months", str(months))
            rates[name].append(row["person_months"] / row["cpu_seconds"])
            if name == "engine":
                engine_row = row
            print(f"  round {r + 1}: {name:<8} {rates[name][-1] / 1e6:8.2f} M person-months per CPU-second",
                  flush=True)
    med = {name: statistics.median(v) for name, v in rates.items()}
    bandwidth = max(statistics.median(b["copy"] for b in bw), statistics.median(b["add"] for b in bw))
    per_pm = engine_row["read"] + engine_row["written"]
    bound = bandwidth / per_pm
    commit = ""
    if baseline:
        res = subprocess.run(["git", "-C", baseline, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        commit = res.stdout.strip() or str(baseline)
    return {"people": people, "months": months, "mesa_people": mesa_people, "rounds": rounds, "rates": med,
            "baseline_commit": commit,
            "all": rates, "bandwidth": bandwidth, "bytes_read": engine_row["read"],
            "bytes_written": engine_row["written"], "bound": bound, "fraction": med["engine"] / bound}


def _ratio_lines(q: dict) -> list[str]:
    e = q["rates"]["engine"]
    lines = [
        f"Engine and the six-state toy (`benchmarks/toys.py`): {q['people']:,} people x {q['months']} months, "
        f"each in a fresh process, interleaved over {q['rounds']} rounds, medians of person-months per "
        "CPU-second of the monthly steps (building the people is not timed); the Mesa toy on "
        f"{q['mesa_people']:,} agents (its cost per agent-month does not fall with more agents), scaled "
        "per agent-month.",
        "",
        "| model | M person-months / CPU-s | ns / person-month | engine is x faster |",
        "|---|---:|---:|---:|",
    ]
    for name, label in (("engine", "almsim engine (this checkout)"),
                        ("baseline", f"almsim engine (baseline: {q.get('baseline_commit', '')})"),
                        ("numpy", "numpy toy"), ("starsim", "Starsim toy"), ("mesa", "per-agent Mesa toy")):
        if name in q["rates"]:
            v = q["rates"][name]
            lines.append(f"| {label} | {v / 1e6:.2f} | {1e9 / v:.0f} | {e / v:.1f} |")
    lines += [
        "",
        f"- Memory bandwidth of one core (numpy copy/add of 256 MiB arrays, bytes read + written per "
        f"CPU-second, median of rounds): **{q['bandwidth'] / 1e9:.1f} GB/s**. A month reads "
        f"{q['bytes_read']} and writes {q['bytes_written']} bytes per person (`READ`, `WRITTEN` in "
        f"`benchmarks/run.py`), so the bound is {q['bound'] / 1e6:.0f} M person-months per CPU-second "
        f"({1e9 / q['bound']:.1f} ns each): the engine runs at **{100 * q['fraction']:.0f} %** of it "
        "(target >= 30 %).",
        f"- Ratios (targets >= 3x Starsim, >= 200x Mesa): **x{e / q['rates']['starsim']:.1f}** the Starsim toy, "
        f"**x{e / q['rates']['mesa']:.0f}** the per-agent Mesa toy, x{e / q['rates']['numpy']:.1f} the numpy toy.",
        f"- What the targets ask of this machine: x3 Starsim is {3 * q['rates']['starsim'] / 1e6:.1f} M person-months "
        f"per CPU-second ({300 * q['rates']['starsim'] / q['bound']:.0f} % of the bound); x200 Mesa is "
        f"{200 * q['rates']['mesa'] / 1e6:.0f} M ({20000 * q['rates']['mesa'] / q['bound']:.0f} % of the bound: an "
        f"engine at the bound itself would be x{q['bound'] / q['rates']['mesa']:.0f} the Mesa toy).",
    ]
    return lines


def _national(repeat: int) -> dict[str, float]:
    from sim import ProgrammeModel, load_scenario
    from sim.runs.results import RunResult

    scenario = load_scenario(NATIONAL)
    times = []
    for r in range(repeat):
        t0 = time.process_time()
        model = ProgrammeModel(scenario, rng=r, record_events=False)
        model.run()
        RunResult.from_model(model)
        times.append(time.process_time() - t0)
    return {"people": len(model.pop), "months": scenario.horizon_months, "seconds_median": statistics.median(times),
            "seconds": times}


def _c2_once(seed: int) -> int:
    from sim.runs.replications import simulate
    from sim.scenario.load import load_scenario

    global _C2_SCENARIO
    if "_C2_SCENARIO" not in globals():
        _C2_SCENARIO = load_scenario(C2)
    simulate(_C2_SCENARIO, seed, record_events=False)
    return seed


def _calibration(n: int, workers: int) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        list(pool.map(_c2_once, range(workers * 2)))  # warm up: imports and scenario loading
        t0 = time.perf_counter()
        list(pool.map(_c2_once, range(n), chunksize=max(n // (workers * 8), 1)))
        seconds = time.perf_counter() - t0
    return {"simulations": n, "workers": workers, "seconds": seconds, "per_second": n / seconds}


def _batched(blocks: int, rounds: int) -> dict[str, float]:
    """C2 simulations per CPU-second of this process: one by one, and ``blocks`` at a time as a batch
    (model only, and with each block's RunResult), interleaved round by round; medians."""
    from sim.engine.batch import BatchModel
    from sim.engine.model import ProgrammeModel
    from sim.runs.results import RunResult
    from sim.scenario.load import load_scenario

    scenario = load_scenario(C2)
    alone = max(blocks // 16, 4)
    BatchModel([scenario] * 2, [0, 1], record_events=False).run()  # compile / load the kernels
    ProgrammeModel(scenario, rng=0, record_events=False).run()
    rates: dict[str, list[float]] = {"separate": [], "batched": [], "batched_records": [], "batched_results": []}
    for r in range(rounds):
        seeds = list(range(r * blocks, (r + 1) * blocks))
        t0 = time.process_time()
        for s in seeds[:alone]:
            ProgrammeModel(scenario, rng=s, record_events=False).run()
        rates["separate"].append(alone / (time.process_time() - t0))
        t0 = time.process_time()
        model = BatchModel([scenario] * blocks, seeds, record_events=False)
        model.run()
        t1 = time.process_time()
        for b in range(blocks):
            RunResult.from_model(model.block(b), summary=False)  # type: ignore[arg-type]
        t2 = time.process_time()
        for b in range(blocks):
            RunResult.from_model(model.block(b))  # type: ignore[arg-type]
        t3 = time.process_time()
        rates["batched"].append(blocks / (t1 - t0))
        rates["batched_records"].append(blocks / (t1 - t0 + t2 - t1))
        rates["batched_results"].append(blocks / (t1 - t0 + t3 - t2))
        del model
        gc.collect()
    return {"blocks": blocks, "rounds": rounds, **{k: statistics.median(v) for k, v in rates.items()}}


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("numpy", "numba", "mesa", "starsim"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"no {name}")
    return ", ".join(out)


def _cache_note(a: dict, b: dict) -> str:
    """Why the smaller size may be cheaper per person: does its population fit in the L3 cache?"""
    try:
        size = Path("/sys/devices/system/cpu/cpu0/cache/index3/size").read_text().strip()
        l3 = int(size.rstrip("KMG")) * {"K": 2**10, "M": 2**20, "G": 2**30}[size[-1]]
    except (OSError, ValueError, KeyError):
        return ""
    per_person = (b["peak_bytes"] - a["peak_bytes"]) / (b["people"] - a["people"])
    small, big = a["people"] * per_person, b["people"] * per_person
    if small <= l3 < big:
        return (f"; the arrays of {a['people']:,} people (~{small / 2**20:.0f} MiB) fit in this CPU's "
                f"{l3 / 2**20:.0f} MiB L3 cache, those of {b['people']:,} do not")
    return ""


def _child(args: argparse.Namespace) -> None:
    if args.child == "engine":
        out = _engine(args.people, args.months, args.root)
    elif args.child == "toy":
        out = _toy(args.toy, args.people, args.months)
    elif args.child == "bandwidth":
        from benchmarks import toys

        out = toys.bandwidth()
    elif args.child == "size":
        out = _measure(args.people, args.months, args.repeat)
    elif args.child == "national":
        out = _national(args.repeat)
    elif args.child == "batch":
        out = _batched(args.people, args.repeat)
    else:
        out = _calibration(args.people, 2)
    print(json.dumps(out))


def _spawn(*argv: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    res = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, env=env, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke check)")
    parser.add_argument("--only", choices=["ratios"], help="only the engine against the toys (prints, writes nothing)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the engine against the toys (default 3)")
    parser.add_argument("--baseline", help="another checkout whose engine joins the rounds (before/after)")
    parser.add_argument("--child", choices=["size", "national", "calibration", "batch", "engine", "toy", "bandwidth"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--toy", choices=["numpy", "starsim", "mesa"], help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--people", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--months", type=int, default=120, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return

    load_before = os.getloadavg()
    big = 10**5 if args.quick else 10**6
    print(f"engine against the six-state toy at {big:,} people:", flush=True)
    ratios = _ratios(big, 120, 10**4, args.rounds, args.baseline)
    lines_ratios = _ratio_lines(ratios)
    print("\n".join(lines_ratios), flush=True)
    if args.only:
        return
    sizes = [10**3, 10**4, 10**5] if args.quick else [10**3, 10**4, 10**5, 10**6]
    rows = []
    for n in sizes:
        row = _spawn("--child", "size", "--people", str(n), "--repeat", "3" if n <= 10**5 else "2")
        rows.append(row)
        print(f"{n:>9,} people x 120 months: {row['seconds']:7.3f} CPU-s  "
              f"{row['person_months_per_second'] / 1e6:6.2f} M person-months per CPU-s  "
              f"peak RSS {row['peak_rss_bytes'] / 2**20:8.1f} MiB, traced {row['peak_bytes'] / 2**20:8.1f} MiB",
              flush=True)
    # months scaling at the largest size
    half = _spawn("--child", "size", "--people", str(big), "--months", "60", "--repeat", "2")
    print(f"{big:>9,} people x  60 months: {half['seconds']:7.3f} CPU-s", flush=True)
    a, b = rows[-2], rows[-1]
    bytes_per_person = (b["peak_bytes"] - a["peak_bytes"]) / (b["people"] - a["people"])
    rss_per_person = (b["peak_rss_bytes"] - a["peak_rss_bytes"]) / (b["people"] - a["people"])
    national = _spawn("--child", "national", "--repeat", "1" if args.quick else "3")
    print(f"national-scale ({national['people']:,} people, {national['months']} months): "
          f"{national['seconds_median']:.2f} CPU-s per replication", flush=True)
    cal = _spawn("--child", "calibration", "--people", "100" if args.quick else "400")
    print(f"C2 cohort: {cal['per_second']:.1f} simulations/s on 2 workers", flush=True)
    batch = _spawn("--child", "batch", "--people", "64" if args.quick else "256",
                   "--repeat", "3" if args.quick else "5")
    print(f"C2 cohort, one process: {batch['separate']:.0f} simulations per CPU-second one by one, "
          f"{batch['batched']:.0f} as blocks of {batch['blocks']} ({batch['batched_records']:.0f} with each run's "
          f"records, {batch['batched_results']:.0f} with its summary too)",
          flush=True)

    now = dt.datetime.now(dt.UTC)
    lines = [
        f"## `benchmarks/run.py{' --quick' if args.quick else ''}`, {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"Measured {now:%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {_versions()}, with `benchmarks/run.py"
        f"{' --quick' if args.quick else ''}`.",
        "One core per run, event log off; capacities, queues, budgets, ledger and clocks on.",
        "Passes over everyone compiled (numba); the same functions uncompiled "
        "(`ProgrammeModel(..., compiled=False)`) are the tests' reference and are not timed here.",
        "Times are CPU seconds of the process (`time.process_time`): the machine is shared, so wall "
        "times vary with the load, and CPU seconds grow with it too (shared caches and memory); load average "
        f"{load_before[0]:.1f} at the start and {os.getloadavg()[0]:.1f} at the end. Compare rows measured in "
        "the same run (interleaved), not runs on different days.",
        "",
        *lines_ratios,
        "",
        "| people | months | CPU seconds | person-months / CPU-s | peak RSS | peak traced memory |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows + [half]:
        lines.append(f"| {r['people']:,} | {r['months']} | "
                     f"{r['seconds']:.3f} | {r['person_months_per_second'] / 1e6:.2f} M | "
                     f"{r['peak_rss_bytes'] / 2**20:.0f} MiB | {r['peak_bytes'] / 2**20:.1f} MiB |")
    lines += [
        "",
        f"- Scaling in people from {a['people']:,} to {b['people']:,}: time x"
        f"{b['seconds'] / a['seconds']:.2f} for x{b['people'] / a['people']:.0f} people "
        f"(cost per person-month x{a['person_months_per_second'] / b['person_months_per_second']:.2f}"
        f"{_cache_note(a, b)}).",
        f"- Scaling in months at {big:,} people: 60 -> 120 months, time x{b['seconds'] / half['seconds']:.2f}.",
        f"- Peak memory per person beyond the fixed overhead: **{rss_per_person:.0f} bytes** of resident memory "
        f"({bytes_per_person:.0f} bytes traced by tracemalloc, which does not see the compiled kernels' "
        "allocations); slopes between the two largest sizes; target <= 150.",
        f"- National scenario (`scenarios/national-scale.yaml`, {national['people']:,} people, "
        f"{national['months']} months, results included): **{national['seconds_median']:.2f} CPU-s** per replication "
        "(median; target < 10 s).",
        f"- C2 cohorts one by one on 2 worker processes: {cal['per_second']:.0f} simulations per wall-second "
        f"({cal['simulations']} simulations, warm pool). Calibration no longer goes this way: its particles run "
        "as blocks of one model (the batched line below, per CPU-second of one process).",
        f"- Batched small cohorts (`sim.engine.batch`, one process, CPU seconds, medians of {batch['rounds']} "
        f"interleaved rounds): **{batch['batched']:.0f} C2 simulations per CPU-second** as blocks of "
        f"{batch['blocks']} in one model ({batch['batched_records']:.0f} with each run's records handed back, "
        f"{batch['batched_results']:.0f} with its summary, which posts its ledger, too), against "
        f"{batch['separate']:.0f} one by one: x{batch['batched'] / batch['separate']:.0f} (target >= 1,000).",
        f"- Throughput at the largest size: **{b['person_months_per_second'] / 1e6:.1f} M person-months** "
        "per CPU-second (target >= 20 M at 10^6 people).",
        "",
    ]
    print("\n".join(lines))
    if not args.quick:
        _add_section(ROOT / "benchmarks" / "results.md", lines)


def _add_section(path: Path, lines: list[str]) -> None:
    """Put a run's section at the top of ``path`` (under its title), keeping every section below."""
    title = "# Benchmarks"
    old = path.read_text() if path.exists() else title + "\n"
    rest = old[len(title):].lstrip("\n") if old.startswith(title) else old
    path.write_text("\n".join([title, "", *lines]) + ("\n" + rest if rest else ""))
    print(f"added a section at the top of {path}")


if __name__ == "__main__":
    main()
