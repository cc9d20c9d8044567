"""What a user waits for: CPU seconds of the commands themselves, each a fresh process.

Run from the repository root:

    .venv/bin/python benchmarks/commands.py [--repeat 5] [--cold] [--baseline ../other-checkout]

Each command runs as ``python -m sim ...`` with this checkout's code first on the path (and the
baseline's, alternated round by round with it, under the same load), its output in a fresh
temporary folder (a compare into a folder it already wrote would resume its replications
instead of computing them). Measured per process with ``os.wait4``: user and system CPU seconds
and peak resident memory; the table gives medians and ranges. The commands:

* ``help``: ``almsim --help``;
* ``validate``: ``almsim validate scenarios/sigtuna-resursjobb.yaml``;
* ``main``: the README's main job, ``almsim compare scenarios/sigtuna-resursjobb-baseline.yaml
  scenarios/sigtuna-resursjobb.yaml``, with the compiled kernels and its report's figures in the
  cache (a warm machine, the command run before);
* ``main-new``: the same with a seed not run before (``--seed`` drawn at random each run): new
  tables, so the report's figures are drawn (what a new scenario or what-if costs on a warm machine);
* ``main-cold`` (``--cold``): the same with an empty kernel cache (``NUMBA_CACHE_DIR`` a new
  folder: a machine's first run, which compiles every kernel);
* ``national`` (``--national``, one round each: ~10 CPU-s): ``almsim run
  scenarios/national-scale.yaml -r 2 --no-events``, a national population (498,000 people, ten
  years) through the commands, where memory is what it costs (session 17: 2.39 -> 0.82 GB);
* ``floor``: what the main job costs before almsim does anything: a process that imports every
  module the main job ends with (read from a warm-up run's ``sys.modules``, in the order they were
  imported), except almsim's own, and ends the way ``almsim`` does. ``main`` minus ``floor`` is
  almsim's own work (its modules, reading the kernels, the simulation, the tables and the report).

Python's bytecode is written and read as in a user's shell: ``PYTHONDONTWRITEBYTECODE`` is removed
from the commands' environment (``--as-is`` keeps it), so the unmeasured warm-up run writes almsim's
``__pycache__`` (an editable install has none until then). Where it is set, as in some CI shells,
every process compiles almsim's ~1 MB of source again: ~0.2 CPU-s more for the main job.

Prints a Markdown table with the versions and the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAIN = ["compare", "scenarios/sigtuna-resursjobb-baseline.yaml", "scenarios/sigtuna-resursjobb.yaml"]
COMMANDS = {
    "help": ["--help"],
    "validate": ["validate", "scenarios/sigtuna-resursjobb.yaml"],
    "main": MAIN,
    "main-new": MAIN,
    "main-cold": MAIN,
    "national": ["run", "scenarios/national-scale.yaml", "-r", "2", "--no-events", "-q"],
    "floor": [],
}

#: Runs the main job as ``python -m sim`` does and writes the names in ``sys.modules`` at its
#: end (in import order) to the file named by the first argument; the exit handlers run before
#: ``almsim`` ends the process, so this one sees every module.
_LIST_MODULES = """
import atexit, json, runpy, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(list(sys.modules))))
sys.argv[0] = "sim"
runpy.run_module("sim", run_name="__main__", alter_sys=True)
"""

#: Imports the modules named in the file given as the first argument, then ends as ``almsim``
#: does after a command that succeeded (flushed, exit handlers run, no teardown).
_IMPORT_MODULES = """
import atexit, importlib, json, os, sys
for name in json.load(open(sys.argv[1])):
    if name not in sys.modules:
        try:
            importlib.import_module(name)
        except Exception:  # a module importable only from inside its package's own machinery
            pass
sys.stdout.flush()
atexit._run_exitfuncs()
os._exit(0)
"""


def _environment(checkout: Path, as_is: bool) -> dict[str, str]:
    """The commands' environment: this one, ``checkout`` first on the path, and (unless ``as_is``)
    bytecode written as by default."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    if not as_is:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def main_job_modules(checkout: Path, path: str, as_is: bool) -> int:
    """Write the modules the main job run from ``checkout`` ends with, almsim's own left out, to
    ``path`` (JSON, import order); return how many."""
    with tempfile.TemporaryDirectory(prefix="almsim-bench-") as tmp:
        listed = os.path.join(tmp, "modules.json")
        subprocess.run([sys.executable, "-c", _LIST_MODULES, listed, *MAIN, "--out", tmp, "-q"], cwd=checkout,
                       env=_environment(checkout, as_is), stdout=subprocess.DEVNULL, check=True)
        with open(listed) as fh:
            names = [n for n in json.load(fh) if n != "__main__" and n != "sim" and not n.startswith("sim.")]
    with open(path, "w") as fh:
        json.dump(names, fh)
    return len(names)


def measure(checkout: Path, name: str, modules: str = "", as_is: bool = False) -> tuple[float, float, float]:
    """One fresh process of command ``name`` run from ``checkout``: user CPU-s, system CPU-s,
    peak resident MB (``floor``: ``modules`` is the file :func:`main_job_modules` wrote)."""
    with tempfile.TemporaryDirectory(prefix="almsim-bench-") as tmp:
        args = list(COMMANDS[name])
        if args[:1] in (["compare"], ["run"]):
            args += ["--out", tmp]
        if name == "main-new":
            args += ["--seed", str(secrets.randbelow(2**62))]  # tables no run drew before: no figure cached
        env = _environment(checkout, as_is)
        if name == "main-cold":
            env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "kernels")
        argv = ["-c", _IMPORT_MODULES, modules] if name == "floor" else ["-m", "sim", *args]
        with open(os.path.join(tmp, "stderr"), "w+b") as err:  # (a file: a full pipe would block it)
            proc = subprocess.Popen([sys.executable, *argv], cwd=checkout, env=env,
                                    stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = code = os.waitstatus_to_exitcode(status)
            if code != 0:
                err.seek(0)
                tail = err.read().decode(errors="replace").strip()[-300:]
                raise SystemExit(f"{checkout}: almsim {' '.join(args)} failed ({code}): {tail}")
        return usage.ru_utime, usage.ru_stime, usage.ru_maxrss / 1024


def _commit(checkout: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _versions() -> str:
    names = ("numpy", "numba", "pandas", "pyarrow", "matplotlib", "pydantic")
    out = []
    for n in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out.append(f"{n} {metadata.version(n)}")
    return ", ".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--cold", action="store_true", help="also the main job on an empty kernel cache (one "
                        "round each: it compiles every kernel it uses, ~4-6 CPU-s)")
    parser.add_argument("--national", action="store_true", help="also a national population's run (one round "
                        "each: ~10 CPU-s and ~1 GB)")
    parser.add_argument("--baseline", type=Path, help="another checkout, alternated with this one")
    parser.add_argument("--only", help="comma-separated commands (help, validate, main, main-new, floor, main-cold, "
                        "national)")
    parser.add_argument("--as-is", action="store_true", help="keep PYTHONDONTWRITEBYTECODE if set (default: "
                        "removed, so almsim's bytecode is written once and read, as in a user's shell)")
    args = parser.parse_args()
    names = (args.only.split(",") if args.only
             else ["help", "validate", "main", "main-new", "floor"] + (["main-cold"] if args.cold else [])
             + (["national"] if args.national else []))
    checkouts = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    load_before = os.getloadavg()
    lists = tempfile.TemporaryDirectory(prefix="almsim-bench-")
    modules = {label: os.path.join(lists.name, f"{label}.json") for label in checkouts}
    for label, checkout in checkouts.items() if {"main", "floor"} & set(names) else ():
        measure(checkout, "main", as_is=args.as_is)  # warms the caches, unmeasured
        if "floor" in names:
            main_job_modules(checkout, modules[label], args.as_is)
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for r in range(args.repeat):
        for name in names:
            if name in ("main-cold", "national") and r > 0:
                continue
            for label, checkout in checkouts.items():
                results.setdefault((name, label), []).append(measure(checkout, name, modules[label], args.as_is))
        print(f"round {r + 1} of {args.repeat} done", file=sys.stderr)
    load_after = os.getloadavg()
    print(f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {_versions()}; load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after; bytecode "
          f"{'as the shell has it' if args.as_is else 'written and read (PYTHONDONTWRITEBYTECODE unset)'}; "
          + ", ".join(f"{label} {_commit(c)}" for label, c in checkouts.items()) + ".\n")
    print("| command | checkout | user CPU-s (median, range) | sys CPU-s | peak MB | runs |")
    print("|---|---|---:|---:|---:|---:|")
    for (name, label), rows in results.items():
        user = [u for u, _, _ in rows]
        print(f"| {name} | {label} | {statistics.median(user):.2f} ({min(user):.2f}-{max(user):.2f}) | "
              f"{statistics.median(s for _, s, _ in rows):.2f} | {statistics.median(m for _, _, m in rows):.0f} | "
              f"{len(rows)} |")
    for label in checkouts:
        if ("main", label) in results and ("floor", label) in results:
            pairs = zip(results["main", label], results["floor", label], strict=True)
            own = [sum(m[:2]) - sum(f[:2]) for m, f in pairs]
            print(f"\n{label}: the main job's own work (main minus floor, user + sys, round by round): median "
                  f"{statistics.median(own):.2f} ({min(own):.2f}-{max(own):.2f}) CPU-s")
    lists.cleanup()


if __name__ == "__main__":
    main()
