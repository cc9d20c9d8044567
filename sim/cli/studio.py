"""``almsim studio``: the policy studio (levers, paired runs, who pays and who saves) in the browser.

Listed in :data:`sim.cli.main.REGISTRY`; the page (:mod:`sim.present.studio`) is imported by the
Solara server this command starts, never by ``almsim --help``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sim.cli.command import CommandList

__all__ = ["COMMANDS", "cmd_studio", "studio_command", "DEFAULT_STUDIO_SCENARIO"]

DEFAULT_STUDIO_SCENARIO = "almsim:sigtuna-resursjobb"

COMMANDS = CommandList()


def _studio_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO", nargs="?", default=None,
                        help=f"the programme scenario to open first (a file or almsim:NAME; default "
                             f"{DEFAULT_STUDIO_SCENARIO})")
    parser.add_argument("--baseline", metavar="FILE", default=None,
                        help="its baseline (default: the first scenario without programmes it extends)")
    parser.add_argument("--folder", default=".", help="where variants are saved (default: the current folder)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8766, help="port (default 8766; 0 = any free port)")
    parser.add_argument("--fixed-parameters", action="store_true",
                        help="start with the calibrated national defaults at their written posterior medians "
                             "(default: drawn per replication from the fits' posteriors; a box on the page)")


def studio_command(folder: Path, scenario: str, baseline: str | None, save_in: str, host: str,
                   port: int, fixed_parameters: bool = False) -> list[str]:
    """Write the page's launcher into ``folder`` and return the ``solara run`` command for it."""
    launcher = folder / "almsim_studio_app.py"
    launcher.write_text("from sim.present.studio import make_page\n\n"
                        f"Page = make_page({save_in!r}, {scenario!r}, {baseline!r}, {bool(fixed_parameters)!r})\n")
    return [sys.executable, "-m", "solara", "run", str(launcher), "--host", host, "--port", str(port),
            "--production", "--no-open", "--no-check-version"]


def _absolute(file: str) -> str:
    from sim.scenario.shipped import is_shipped

    return file if is_shipped(file) else str(Path(file).resolve())


@COMMANDS.add("studio", "start the policy studio (levers, paired runs, who pays and who saves) in the browser",
              _studio_arguments)
def cmd_studio(args: argparse.Namespace) -> int:
    """Check the scenario pair and the folder, then serve the page until interrupted."""
    import tempfile

    from sim.present.studio import pair_for_file
    from sim.scenario.errors import ScenarioError
    from sim.scenario.load import load_scenario

    scenario = args.scenario or DEFAULT_STUDIO_SCENARIO
    # A bad file, one without programmes or without a baseline: one error line, exit 2 (sim.cli.main.main).
    baseline = pair_for_file(scenario).baseline if args.baseline is None else args.baseline
    load_scenario(baseline)
    folder = Path(args.folder)
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ScenarioError("is not a folder this user can write to", file=str(folder), key="--folder")
    try:
        import solara  # noqa: F401
    except ImportError as exc:
        print(f"error: the studio needs the 'teach' extra (pip install -e '.[teach]'): {exc}", file=sys.stderr)
        return 2
    from sim.cli.teach import free_port, serve

    port = free_port(args.host, args.port)
    # Served on this machine only unless --host says otherwise; no telemetry or version check.
    with tempfile.TemporaryDirectory(prefix="almsim-studio-") as tmp:
        cmd = studio_command(Path(tmp), _absolute(scenario), _absolute(baseline), str(folder.resolve()),
                             args.host, port, args.fixed_parameters)
        print(f"almsim studio: {scenario} on http://{args.host}:{port}/ (Ctrl-C to stop)", flush=True)
        return serve(cmd)
