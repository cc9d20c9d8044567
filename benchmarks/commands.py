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
  scenarios/sigtuna-resursjobb.yaml``, with the compiled kernels in the cache (a warm machine);
* ``main-cold`` (``--cold``): the same with an empty kernel cache (``NUMBA_CACHE_DIR`` a new
  folder: a machine's first run, which compiles every kernel).

Prints a Markdown table with the versions and the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
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
    "main-cold": MAIN,
}


def measure(checkout: Path, name: str) -> tuple[float, float, float]:
    """One fresh process of command ``name`` run from ``checkout``: user CPU-s, system CPU-s,
    peak resident MB."""
    with tempfile.TemporaryDirectory(prefix="almsim-bench-") as tmp:
        args = list(COMMANDS[name])
        if args[0] == "compare":
            args += ["--out", tmp]
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        if name == "main-cold":
            env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "kernels")
        with open(os.path.join(tmp, "stderr"), "w+b") as err:  # (a file: a full pipe would block it)
            proc = subprocess.Popen([sys.executable, "-m", "sim", *args], cwd=checkout, env=env,
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
                        "round each: it compiles every kernel, ~15 CPU-s)")
    parser.add_argument("--baseline", type=Path, help="another checkout, alternated with this one")
    parser.add_argument("--only", help="comma-separated commands (help, validate, main, main-cold)")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else ["help", "validate", "main"] + (["main-cold"] if args.cold else [])
    checkouts = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    load_before = os.getloadavg()
    for checkout in checkouts.values() if "main" in names else ():  # warm the kernel cache, unmeasured
        measure(checkout, "main")
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for r in range(args.repeat):
        for name in names:
            if name == "main-cold" and r > 0:
                continue
            for label, checkout in checkouts.items():
                results.setdefault((name, label), []).append(measure(checkout, name))
        print(f"round {r + 1} of {args.repeat} done", file=sys.stderr)
    load_after = os.getloadavg()
    print(f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {_versions()}; load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after; "
          + ", ".join(f"{label} {_commit(c)}" for label, c in checkouts.items()) + ".\n")
    print("| command | checkout | user CPU-s (median, range) | sys CPU-s | peak MB | runs |")
    print("|---|---|---:|---:|---:|---:|")
    for (name, label), rows in results.items():
        user = [u for u, _, _ in rows]
        print(f"| {name} | {label} | {statistics.median(user):.2f} ({min(user):.2f}-{max(user):.2f}) | "
              f"{statistics.median(s for _, s, _ in rows):.2f} | {statistics.median(m for _, _, m in rows):.0f} | "
              f"{len(rows)} |")


if __name__ == "__main__":
    main()
