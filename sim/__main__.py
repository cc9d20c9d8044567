"""``python -m sim`` (and the ``almsim`` command): the command line.

The entry point catches a Ctrl-C that comes while the command line is still being imported
(one line, exit 130, no traceback); :func:`sim.cli.main.main` handles it from then on. A command
that succeeded ends the process without the interpreter's teardown (:func:`_end`). numpy's
linear algebra runs on one thread (:data:`ONE_BLAS_THREAD`) unless the user says otherwise.
"""

import os
import signal
import sys

#: Set (unless already set) before numpy is imported: OpenBLAS then starts no threads of its
#: own. The commands' matrices are small (a ledger's states by payers) and their parallelism is
#: worker processes, one per core; OpenBLAS's threads, started when numpy is imported and
#: spinning after each product, only cost CPU. The main job: 1.71-1.79 user + 0.24-0.28 system
#: CPU-s against 1.78-1.91 + 0.32-0.47 with OpenBLAS's default (four alternated runs, 2 cores),
#: its files the same bytes (the products are not split between threads at these sizes).
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1"}


def entry() -> int:
    """Import the command line and run it; return the exit code (a command that succeeded ends
    the process here, see :func:`_end`)."""
    for name, value in ONE_BLAS_THREAD.items():
        os.environ.setdefault(name, value)
    try:
        from sim.cli.main import main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the work is done: a late Ctrl-C changes nothing
    return _end(code)


def _end(code: int) -> int:
    """End the process after a command that succeeded, without the interpreter's teardown.

    Tearing down frees every object the command made and every module it imported (pandas,
    matplotlib, numba and LLVM) one by one, only for the operating system to take the memory
    back anyway: measured on the main job, 0.4-0.6 of its ~3 CPU-s, after its last file was
    written. So once a command has succeeded its output is flushed, what was registered to
    run at exit runs (``atexit``: temporary folders, worker pools, logging), and the process ends
    (``os._exit``). Anything unusual keeps the ordinary exit: a failed or interrupted command,
    a thread that is not a daemon still running (the interpreter would wait for it), an
    interactive session (``python -i``), or output that cannot be flushed. Every file the
    commands write is closed (and synced) before they return.
    """
    import atexit
    import os
    import threading

    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if code != 0 or sys.flags.interactive or others:
        return code
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()  # (what the ordinary exit runs first; public since Python 2)
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # e.g. a reader that left early: the ordinary exit reports it
        return code
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(entry())
