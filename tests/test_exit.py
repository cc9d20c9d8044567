"""How the command line ends: after a command that succeeded, without the interpreter's teardown
(0.4-0.6 CPU-s of the main job), but with everything registered to run at exit run, every output
delivered and every thread that is not a daemon waited for; otherwise the ordinary exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "c2-lycksele.yaml")

#: Runs the command line as ``almsim`` does, leaving marks in the folder ``sys.argv[1]``: one from
#: an exit handler, one from an object freed when the interpreter tears its modules down, and
#: (with a third argument) one from a thread that is not a daemon, written once the main thread has
#: finished (so it is alive when the command ends, however long the command takes).
DRIVER = """
import atexit, pathlib, sys, threading
marks = pathlib.Path(sys.argv[1])
atexit.register(lambda: (marks / "atexit").write_text("ran"))

class FreedAtTeardown:
    def __del__(self):
        (marks / "teardown").write_text("ran")

kept = FreedAtTeardown()
if sys.argv[2] == "thread":
    def late():
        threading.main_thread().join()
        (marks / "thread").write_text("ran")
    threading.Thread(target=late).start()
sys.argv = ["almsim", *sys.argv[3:]]
from sim.__main__ import entry
sys.exit(entry())
"""


def _run(tmp_path: Path, *args: str, thread: bool = False) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    marks = tmp_path / "marks"
    marks.mkdir()
    out = subprocess.run([sys.executable, "-c", DRIVER, str(marks), "thread" if thread else "-", *args],
                         capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         timeout=300)
    return out, {p.name for p in marks.iterdir()}


def test_a_command_that_succeeded_skips_the_teardown_but_runs_exit_handlers_and_delivers_its_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cli.main import main

    assert main(["validate", SCENARIO]) == 0
    expected = capsys.readouterr().out
    out, marks = _run(tmp_path, "validate", SCENARIO)
    assert out.returncode == 0, out.stderr
    assert out.stdout == expected and expected  # all of it, through a pipe
    assert marks == {"atexit"}  # handlers ran; the teardown (which would free `kept`) did not


def test_a_failed_command_exits_as_ever(tmp_path: Path) -> None:
    out, marks = _run(tmp_path, "validate", str(tmp_path / "missing.yaml"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert marks == {"atexit", "teardown"}


def test_a_thread_still_running_is_waited_for(tmp_path: Path) -> None:
    out, marks = _run(tmp_path, "validate", SCENARIO, thread=True)
    assert out.returncode == 0, out.stderr
    assert marks == {"atexit", "teardown", "thread"}


#: Runs ``almsim validate`` and writes, when the process ends, OpenBLAS's thread setting and the
#: number of threads the process has once numpy is loaded.
BLAS_DRIVER = """
import atexit, pathlib, sys
out = pathlib.Path(sys.argv[1])

def note():
    import os
    import numpy  # (loaded by the command already; OpenBLAS starts its threads when it loads)
    threads = [line for line in open("/proc/self/status") if line.startswith("Threads:")]
    out.write_text(os.environ.get("OPENBLAS_NUM_THREADS", "-") + " " + threads[0].split()[1])

atexit.register(note)
sys.argv = ["almsim", *sys.argv[2:]]
from sim.__main__ import entry
sys.exit(entry())
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the thread count from /proc")
@pytest.mark.parametrize("given", [None, "2"])
def test_the_command_line_runs_numpy_on_one_blas_thread_unless_told(tmp_path: Path, given: str | None) -> None:
    """OpenBLAS's own threads only cost CPU in the commands (their parallelism is processes): the
    command line starts none, unless the user sets ``OPENBLAS_NUM_THREADS`` themselves."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    note = tmp_path / "blas"
    out = subprocess.run([sys.executable, "-c", BLAS_DRIVER, str(note), "validate", SCENARIO], capture_output=True,
                         text=True, cwd=ROOT, env=dict(env, PYTHONPATH=str(ROOT)), timeout=300)
    assert out.returncode == 0, out.stderr
    setting, threads = note.read_text().split()
    if given is None:
        assert (setting, threads) == ("1", "1")
    else:
        assert setting == given
        assert int(threads) == (1 if (os.cpu_count() or 1) < 2 else 2)
