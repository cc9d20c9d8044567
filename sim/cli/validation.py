"""``almsim validation``: rewrite ``docs/validation.md`` from the committed calibration results.

Registered in :data:`sim.cli.main.REGISTRY`. Reads ``calibration/*.yaml`` and
``calibration/results/*/`` (nothing is simulated); pandas and the calibration package are
imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.cli.command import CommandList

__all__ = ["cmd_validation"]

COMMANDS = CommandList()


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=".", help="the repository (default: the current folder)")
    parser.add_argument("--out", default=None, help="where to write the page (default ROOT/docs/validation.md)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the page differs from a rebuild")


@COMMANDS.add("validation", "rewrite docs/validation.md: every calibration target, reported vs simulated",
              _arguments)
def cmd_validation(args: argparse.Namespace) -> int:
    """Rebuild the page (or, with ``--check``, compare the committed page with a rebuild)."""
    from sim.present.validation import PAGE, render, validation_rows, write_page

    root = Path(args.root)
    if not (root / "calibration").is_dir():
        print(f"error: {root}/calibration: no such folder (run from the repository or give --root)", file=sys.stderr)
        return 2
    if args.check:
        page = Path(args.out) if args.out else root / PAGE
        current = page.read_text(encoding="utf-8") if page.is_file() else ""
        if current != render(*validation_rows(root)):
            print(f"{page}: out of date; run 'almsim validation'", file=sys.stderr)
            return 1
        print(f"{page}: up to date")
        return 0
    path = write_page(root, args.out)
    print(f"wrote {path}")
    return 0
