"""Teaching commands: ``almsim story`` (one person's months) and ``almsim teach`` (the browser app).

Listed in :data:`sim.cli.main.REGISTRY`; the story and the app are imported when a command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sim.cli.command import CommandList

__all__ = ["cmd_story", "cmd_teach", "solara_command", "solara_environment", "serve", "free_port"]

_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEACH_SCENARIO = "scenarios/c2-lycksele.yaml"


COMMANDS = CommandList()


def _story_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by 'almsim run'")
    parser.add_argument("--person", type=int, required=True, help="the person's id (row of people.parquet)")
    parser.add_argument("--replication", type=int, default=0, help="which replication (default 0)")


@COMMANDS.add("story", "tell one person's months in a run, in plain language, with who pays what",
            _story_arguments)
def cmd_story(args: argparse.Namespace) -> int:
    """Print the story of ``--person`` in ``RUN_DIR`` (re-simulated from its manifest)."""
    from sim.present.story import StoryError, story_from_run

    try:
        text = story_from_run(args.run_dir, args.person, args.replication)
    except StoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _teach_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", nargs="?", default=None,
                        help=f"scenario file (default {DEFAULT_TEACH_SCENARIO})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free port)")


def solara_command(scenario_file: str | os.PathLike[str], folder: Path, host: str, port: int) -> list[str]:
    """Write the app's launcher into ``folder`` and return the ``solara run`` command for it."""
    launcher = folder / "almsim_teach_app.py"
    launcher.write_text("from sim.present.app import make_page\n\n"
                        f"Page = make_page({str(Path(scenario_file).resolve())!r})\n")
    return [sys.executable, "-m", "solara", "run", str(launcher), "--host", host, "--port", str(port),
            "--production", "--no-open", "--no-check-version"]


#: Solara warns on every page load that a cookie's SameSite=None needs https (then falls back to
#: Lax, which is right for a page on this machine); on a teacher's terminal it reads as an error.
_SAMESITE_WARNING = "ignore:Cookies with samesite=none require https:UserWarning"


def solara_environment() -> dict[str, str]:
    """The environment of the Solara server ``teach`` and ``studio`` start: served from this
    checkout, no telemetry (it would try to reach the internet) and no SameSite warning."""
    return {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")])),
            "PYTHONWARNINGS": ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), _SAMESITE_WARNING]))}


def free_port(host: str, port: int) -> int:
    """``port`` if the server can listen on it at ``host`` (for 0, a free port the system picks), so
    the address printed is the one served.

    Raises:
        ScenarioError: (one line, exit 2) if the port is taken, e.g. by another ``almsim teach`` or
            ``studio``: the server would print its address and then fail to bind.
    """
    import socket

    from sim.scenario.errors import ScenarioError

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
            s.bind((host, port))
            return int(s.getsockname()[1])
    except OSError as exc:
        raise ScenarioError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); give another --port, or 0 "
                            "for any free port", file="--port") from None


def serve(cmd: list[str]) -> int:
    """Run the Solara server ``cmd`` (in :func:`solara_environment`) until it ends; return its exit code.

    The server is this command's child: a SIGTERM or SIGHUP sent to the command (``kill PID``, a
    closed terminal, a process manager) ends the server too, and so does an interrupt or an error
    here; left alone it would live on, orphaned, serving the page and holding the port, so the
    next ``almsim teach`` or ``studio`` on that port could not start. Ended by a signal: 128 + it.
    """
    import signal
    import subprocess

    server = subprocess.Popen(cmd, env=solara_environment())
    stopped_by: list[int] = []

    def stop(signum: int, frame: object) -> None:
        stopped_by.append(signum)
        server.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        code = server.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return 128 + stopped_by[0] if stopped_by else code


@COMMANDS.add("teach", "start the teaching app (sliders, live charts, one person) in the browser",
            _teach_arguments)
def cmd_teach(args: argparse.Namespace) -> int:
    """Validate the scenario, then serve the SolaraViz page until interrupted."""
    import tempfile

    from sim.scenario.load import load_scenario

    file = args.file
    if file is None:
        file = DEFAULT_TEACH_SCENARIO if Path(DEFAULT_TEACH_SCENARIO).exists() else str(_ROOT / DEFAULT_TEACH_SCENARIO)
    load_scenario(file)  # a bad file: one error line, exit 2 (sim.cli.main.main)
    try:
        import mesa.visualization  # noqa: F401
        import solara  # noqa: F401
    except ImportError as exc:
        print(f"error: the teaching app needs the 'teach' extra (pip install -e '.[teach]'): {exc}",
              file=sys.stderr)
        return 2
    port = free_port(args.host, args.port)
    # The page is served on this machine only unless --host says otherwise; telemetry and the
    # version check would try to reach the internet, so both are off.
    with tempfile.TemporaryDirectory(prefix="almsim-teach-") as tmp:
        cmd = solara_command(file, Path(tmp), args.host, port)
        print(f"almsim teach: {file} on http://{args.host}:{port}/ (Ctrl-C to stop)", flush=True)
        return serve(cmd)
