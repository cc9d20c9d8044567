"""Shared test set-up: the repository root on ``sys.path`` and the test scenario folders."""

from __future__ import annotations

import functools
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "tests" / "scenarios"

# Lets a plain `pytest` find the `sim` package in a checkout that is not pip-installed.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _sigint_handler_restored():
    """An interrupted ``main()`` leaves SIGINT ignored while its process exits; a test that runs it
    in-process would leave the test process (and every command it starts later: an ignored
    signal stays ignored across exec) deaf to Ctrl-C. Put the handler back after each test."""
    before = signal.getsignal(signal.SIGINT)
    yield
    if signal.getsignal(signal.SIGINT) is not before:
        signal.signal(signal.SIGINT, before)


# ---------------------------------------------------------------------------------------------
# How the tests are shared between pytest-xdist workers (``--dist loadscope`` in pyproject, with
# the scope defined here).
#
# A file with a fixture shared beyond one test (``scope="module"``, ...) is one unit of work, so
# the fixture is computed once; in every other file each test is its own unit and goes to
# whichever worker is free. The longest tests are handed out first (``--no-loadscope-reorder``
# keeps this order; xdist's own order puts the units with the most tests first, which left a
# two-test file of long runs to finish alone at the end). The list below only orders work: a
# stale entry makes the suite slower, never a test weaker.
# (``--dist loadgroup`` with ``xdist_group`` marks would say the same, but pytest-xdist 3.8
# cannot group under pytest 9: it renames ``item._nodeid``, which pytest 9 no longer reads.)

#: Node-id prefixes of the longest units, longest first (measured on a loaded 2-core machine).
LONGEST_FIRST: tuple[str, ...] = (
    "tests/test_golden.py",
    "tests/test_sweep.py::test_sweep_killed_half_way",
    "tests/test_cli_run.py::test_summary_is_byte_identical",
    "tests/test_calibrate.py::test_quick_fit",
    "tests/test_notebooks.py::test_a_notebook_runs_top_to_bottom[04",
    "tests/test_notebooks.py::test_a_notebook_runs",
    "tests/test_faults.py::test_run_killed",
    "tests/test_sweep.py::test_dask_local_cluster",
    "tests/test_app.py::test_the_app_in_a_browser",
    "tests/test_studio.py::test_the_studio_in_a_browser",
    "tests/test_report_browser.py",
    "tests/test_faults.py::test_compare_killed",
    "tests/test_sweep.py::test_one_and_four_workers",
    "tests/test_calibrate.py",
    "tests/test_faults.py",
    "tests/test_cli_run.py",
    "tests/test_kill.py",
    "tests/test_kernels.py::test_compiled_equals_uncompiled_for_random",
    "tests/test_engine.py::test_baseline_and_scenario_diverge",
    "tests/test_compare.py",
    "tests/test_studio.py",
    "tests/test_ledger_cases.py::test_programme_staff_is_booked",
    "tests/test_calendar_results.py::test_replications_give_bands",
    "tests/test_report.py",
    "tests/test_assumption_lines.py",
    "tests/test_scenario.py::test_fuzz",
)


def _rank(nodeid: str) -> int:
    for i, prefix in enumerate(LONGEST_FIRST):
        if nodeid.startswith(prefix):
            return i
    return len(LONGEST_FIRST)


_SHARED_FIXTURE = re.compile(r"""fixture\(\s*scope\s*=\s*["'](class|module|package|session)["']""")


@functools.cache
def _shares_a_fixture(path: str) -> bool:
    """Whether the test file at ``path`` (relative to the root) has a fixture shared by its tests."""
    file = ROOT / path
    return file.suffix == ".py" and bool(_SHARED_FIXTURE.search(file.read_text(encoding="utf-8")))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` with a unit of work per file that shares a fixture, else per test."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileOrTest(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if _shares_a_fixture(path) else nodeid

    return FileOrTest(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest first (stable: otherwise in the files' own order)."""
    items.sort(key=lambda item: _rank(item.nodeid))
