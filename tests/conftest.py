"""Shared test set-up: the repository root on ``sys.path`` and the test scenario folders."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

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
