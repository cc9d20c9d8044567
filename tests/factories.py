"""Small scenarios built in code for engine tests (scenario files are tested elsewhere)."""

from __future__ import annotations

import contextlib
import copy
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sim.scenario.schema import Scenario

BASE: dict[str, Any] = {
    "name": "test",
    "start_month": "2012-01",
    "horizon_months": 36,
    "population": {"cohort": {"size": 2000}},
    "transitions": {
        "open": {"work": 0.03, "studies": 0.005, "other": 0.004, "training": 0.01},
        "job": {"work": 0.02, "other": 0.004},
        "fas3": {"work": 0.005, "other": 0.004},
        "work": {"open": 0.015, "other": 0.001},
        "studies": {"work": 0.05, "open": 0.02},
        "training": {"work": 0.03, "open": 0.1},
    },
}

PROGRAMME: dict[str, Any] = {
    "name": "coach",
    "kind": "coaching",
    "referral_rate_per_month": 0.1,
    "capacity": {"staff": 3, "caseload_per_staff": 12},
    "max_duration_months": 12,
    "exit_rates_per_month": {"studies": 0.01, "dropout": 0.02, "training": 0.02},
    "lock_in_hazard_ratio": 0.7,
    "effect_after_hazard_ratio": 1.5,
    "motivation_loss_per_waiting_month": 0.05,
    "priority": ["youth", "children"],
    "cost_sek_per_participant_month": {"municipality": 3000},
    "budget_sek_per_year": {"municipality": 900000},
}

JOBS: dict[str, Any] = {
    "name": "jobs",
    "kind": "subsidised_job",
    "referral_rate_per_month": 0.2,
    "capacity": {"slots": 100},
    "max_duration_months": 12,
    "counts_as_work": True,
    "wage_sek_per_month": 17000,
    "cost_sek_per_participant_month": {"municipality": 22000},
}


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(a)
    for k, v in b.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def scenario(programmes: list[dict[str, Any]] | None = None, **changes: Any) -> Scenario:
    """A valid scenario: the base plus ``changes`` (deep-merged) and ``programmes``."""
    doc = merge(BASE, changes)
    if programmes is not None:
        doc["programmes"] = programmes
    return Scenario.model_validate(doc)


def corpus_headers(path: Path) -> dict[str, str]:
    """The ``# key: value`` comment lines at the top of an invalid-corpus file (expect, line, file)."""
    out = {}
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        match = re.match(r"#\s*(expect|line|file):\s?(.*)$", line)
        if not match:
            break
        out[match[1]] = match[2].strip()
    return out


def start_serving(args: list[str], name: str, cwd: Path, stdout: int = subprocess.PIPE
                  ) -> tuple[subprocess.Popen[str], str, int]:
    """Start ``python -m sim ARGS --port P`` (a Solara page) on a free port, in a session of its
    own; return the process, its URL and port once the page answers (the caller ends them)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "sim", *args, "--port", str(port)], cwd=cwd,
                            stdout=stdout, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return proc, url, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                printed = proc.stdout.read() if proc.stdout is not None else ""
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                raise AssertionError(f"almsim {name} did not serve {url}:\n{printed}") from None
            time.sleep(0.3)


@contextlib.contextmanager
def served(args: list[str], name: str, cwd: Path, output: list[str] | None = None) -> Iterator[str]:
    """Run ``python -m sim ARGS --port P`` (a Solara page) on a free port until the block ends;
    yields its URL once it answers. The command and the server it starts are ended together;
    what they printed is appended to ``output`` (if given) once they have ended."""
    proc, url, _ = start_serving(args, name, cwd)
    try:
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the CLI and the solara server it started
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        if output is not None:
            output.append(proc.stdout.read())
