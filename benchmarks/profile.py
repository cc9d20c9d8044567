"""Where a month's time goes: CPU seconds per sub-step of the monthly loop.

Run from the repository root:

    .venv/bin/python benchmarks/profile.py                    # 10^6 people, 120 months
    .venv/bin/python benchmarks/profile.py --scenario scenarios/c2-lycksele.yaml
    .venv/bin/python benchmarks/profile.py --uncompiled --people 2000   # the plain-Python reference

Times each sub-step of the month (``step`` of each module of :mod:`sim.engine.month`, in the
order of :data:`sim.engine.model.MONTH`, and the calendar's dated events) over a whole run,
after a small warm-up run that loads the compiled passes. For a line-level view of one
sub-step, use line_profiler or pyinstrument on the same model.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Measure the checkout this script is in (not whichever almsim the interpreter has installed).
sys.path.insert(0, str(ROOT))


def main() -> None:
    from sim import ProgrammeModel, load_scenario
    from sim.engine.model import MONTH
    from sim.runs.results import RunResult

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "national-scale.yaml"))
    parser.add_argument("--people", type=int, default=None,
                        help="cohort size, with no inflow (default: 10^6 for the national-scale scenario, "
                             "else the scenario as written)")
    parser.add_argument("--months", type=int, default=None, help="horizon (default: the scenario's)")
    parser.add_argument("--uncompiled", action="store_true",
                        help="run the passes over everyone as plain Python (slow: use a small population)")
    args = parser.parse_args()

    national = Path(args.scenario).name == "national-scale.yaml"
    people = args.people if args.people is not None else (10**6 if national else None)
    overrides = [] if people is None else [f"population.cohort.size={people}", "population.inflow.people_per_month=0"]
    if args.months is not None or national:
        overrides.append(f"horizon_months={args.months or 120}")
    compiled = not args.uncompiled
    ProgrammeModel(load_scenario(args.scenario, overrides), rng=1, record_events=False,
                   compiled=compiled).run(3)  # warm-up
    model = ProgrammeModel(load_scenario(args.scenario, overrides), rng=1, record_events=False, compiled=compiled)
    spent: dict[str, float] = defaultdict(float)

    def timed(name: str, fn):  # noqa: ANN001, ANN202
        def wrapper(*a, **kw):  # noqa: ANN002, ANN003, ANN202
            t0 = time.process_time()
            out = fn(*a, **kw)
            spent[name] += time.process_time() - t0
            return out
        return wrapper

    originals = [(sub_step, sub_step.step) for sub_step in MONTH]
    for sub_step, fn in originals:
        sub_step.step = timed(sub_step.__name__.rsplit(".", 1)[-1], fn)
    try:
        t0 = time.process_time()
        model.run()
        total = time.process_time() - t0
    finally:
        for sub_step, fn in originals:
            sub_step.step = fn
    t1 = time.process_time()
    RunResult.from_model(model).summary  # noqa: B018 - posts the ledger (deferred to the end of the run)
    posting = time.process_time() - t1
    months = model.horizon
    print(f"{Path(args.scenario).name}: {len(model.pop):,} people x {months} months, "
          f"{'compiled' if compiled else 'uncompiled'}: {total:.3f} CPU-s "
          f"({len(model.pop) * months / total / 1e6:.2f} M person-months per CPU-second)")
    spent["calendar events, Mesa and SimPy"] = total - sum(spent.values())
    for name, sec in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<34} {sec:8.3f} s  {100 * sec / total:5.1f} %  {1e6 * sec / months:9.0f} us/month")
    print(f"  after the run, results (the ledger is posted then, once per set of money rules): {posting:.3f} s")


if __name__ == "__main__":
    main()
