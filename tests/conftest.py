"""Shared test set-up: the repository root on ``sys.path`` and the test scenario folders."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "tests" / "scenarios"

# Lets a plain `pytest` find the `sim` package in a checkout that is not pip-installed.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
