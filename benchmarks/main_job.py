"""CPU seconds of the main job, per phase: imports, simulation, tables, report.

The main job is ``almsim compare scenarios/sigtuna-resursjobb-baseline.yaml
scenarios/sigtuna-resursjobb.yaml`` (20 paired replications). Run from the repository root:

    .venv/bin/python benchmarks/main_job.py            # 5 fresh processes, medians
    .venv/bin/python benchmarks/main_job.py --runs 9
    .venv/bin/python benchmarks/main_job.py --against /tmp/old-checkout   # before/after, interleaved

Each run is a fresh interpreter (so imports and first-use costs count as they do for a
user) doing what ``cmd_compare`` does, timed with :func:`time.process_time` (user + system
CPU of the process, so other load on the machine changes it little):

* ``imports``: the command line, the engine, the comparison and the report modules;
* ``simulation``: loading the two scenario files and :func:`sim.analysis.comparison.compare`;
* ``tables``: ``Comparison.save`` (Parquet and CSV) and the terminal table;
* ``report``: :func:`sim.present.report.write_report` (figures and HTML; the figures are read from
  the figure cache once a run has drawn them, :mod:`sim.present.figure_cache`);
* ``total``: the whole process, from ``/usr/bin/time``-like ``resource.getrusage`` of the child.

The whole ``almsim compare`` command is also timed as a child process (``end_to_end``:
user + system CPU from ``os.wait4``), which includes interpreter start-up. Prints the
median and range of each phase. CPU seconds, not wall time: on a shared 2-core machine
other processes change wall time much more than CPU time; they still inflate CPU time (shared
caches and cores), so ``--against DIR`` runs another checkout (e.g. ``git archive`` of an older
commit unpacked in DIR) in turns with this one, under the same load, after one warm-up run
of each (which also fills the numba cache of a fresh checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("scenarios/sigtuna-resursjobb-baseline.yaml", "scenarios/sigtuna-resursjobb.yaml")

_CHILD = r"""
import json, sys, time
t0 = time.process_time()
from sim.cli.scenarios import load_all
from sim.analysis.comparison import compare
from sim.present.report import write_report
t1 = time.process_time()
baseline, scenario = load_all(sys.argv[1:3], [])
comparison = compare(baseline, [scenario], seed=0, replications=20)
t2 = time.process_time()
out = comparison.save(sys.argv[3])
text = comparison.to_text()
t3 = time.process_time()
write_report(comparison, out)
t4 = time.process_time()
heavy = sorted(m for m in ("scipy", "seaborn", "matplotlib.pyplot") if m in sys.modules)
print(json.dumps({"imports": t1 - t0, "simulation": t2 - t1, "tables": t3 - t2, "report": t4 - t3,
                  "in_process": t4, "loaded": heavy}))
"""


def _child_cpu(cmd: list[str], cwd: Path) -> tuple[float, str]:
    """Run ``cmd``; its user + system CPU seconds (children included) and its stdout."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{cmd} failed with exit code {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, out


def _measure(root: Path, tmp: str, tag: str, phases: dict[str, list[float]]) -> list[str]:
    """One fresh process running the phases, then the whole command; adds to ``phases``."""
    cpu, out = _child_cpu([sys.executable, "-c", _CHILD, *FILES, f"{tmp}/{tag}-phases"], root)
    row = json.loads(out.strip().splitlines()[-1])
    loaded = row.pop("loaded")
    row["process"] = cpu
    cpu, _ = _child_cpu([sys.executable, "-m", "sim", "compare", *FILES, "-q", "--out", f"{tmp}/{tag}-cli"], root)
    row["end_to_end"] = cpu
    for k, v in row.items():
        phases.setdefault(k, []).append(v)
    return loaded


def _table(title: str, phases: dict[str, list[float]], loaded: list[str]) -> None:
    print(title)
    print(f"{'phase':12s} {'median':>7s} {'min':>7s} {'max':>7s}")
    for k, v in phases.items():
        print(f"{k:12s} {statistics.median(v):7.2f} {min(v):7.2f} {max(v):7.2f}")
    print("heavy modules loaded:", ", ".join(loaded) or "none of scipy, seaborn, matplotlib.pyplot")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per measurement (default 5)")
    parser.add_argument("--against", type=Path, help="another checkout to measure in turns with this one")
    args = parser.parse_args()
    roots = {"this": ROOT} | ({"against": args.against.resolve()} if args.against else {})
    phases: dict[str, dict[str, list[float]]] = {tag: {} for tag in roots}
    loaded: dict[str, list[str]] = {}
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        for tag, root in roots.items():  # warm-up: numba cache, page cache
            _measure(root, tmp, f"{tag}-warm", {})
        for i in range(args.runs):
            for tag, root in roots.items():
                loaded[tag] = _measure(root, tmp, f"{tag}{i}", phases[tag])
    for tag, root in roots.items():
        _table(f"\n{root} ({tag}): {args.runs} fresh processes; CPU seconds (user + system)", phases[tag], loaded[tag])
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
