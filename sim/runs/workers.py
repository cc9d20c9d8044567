"""Local worker processes that Ctrl-C cannot reach, and sections Ctrl-C cannot split.

A terminal's Ctrl-C sends SIGINT to every process of the foreground group: the command *and*
its worker processes. Left alone, each worker would print its own ``KeyboardInterrupt``
traceback. Here the parent alone decides: :func:`process_pool` starts *spawn* workers with
SIGINT blocked (a child inherits the signal mask of the thread that starts it, and keeps it
across ``exec``), and each worker then ignores SIGINT for good (:func:`_worker_start`, which
also asks the kernel to end the worker when its parent dies, so a killed command leaves no
orphan behind to print a broken pipe). When the parent is interrupted (or fails), the pool
is not waited for: queued jobs are cancelled and running workers are terminated at once.

:func:`deferred_interrupt` holds a Ctrl-C back over a few lines that must not be split (the
renames that put a finished folder in place; starting a worker) and raises it right after.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

__all__ = ["process_pool", "worker_pool", "deferred_interrupt"]

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _worker_start() -> None:
    """In each worker, first thing: ignore SIGINT (the parent stops workers) and die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # also discards a SIGINT already pending
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            parent = multiprocessing.parent_process()
            if parent is not None and not parent.is_alive():  # died before prctl took effect
                os._exit(1)


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) back until the block ends, then raise ``KeyboardInterrupt``.

    Processes started inside the block start with SIGINT blocked. Outside the main thread
    (where signal handlers cannot be changed) the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
    if caught and callable(previous):
        previous(signal.SIGINT, None)  # the handler in force (by default: raise KeyboardInterrupt)


class _Pool(ProcessPoolExecutor):
    """A spawn pool whose workers are started with SIGINT blocked (see the module's docstring)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        with deferred_interrupt():  # a worker may be started here
            return super().submit(fn, *args, **kwargs)

    def stop(self) -> None:
        """Cancel queued jobs and terminate running workers, without waiting for them."""
        processes = list(getattr(self, "_processes", {}).values())
        self.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                p.terminate()
        for p in processes:
            with contextlib.suppress(OSError, ValueError, AttributeError, AssertionError):
                p.join(5)


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (it ignores Ctrl-C itself) telling it not to warn.

    When the command is killed (SIGKILL) the tracker removes the pool's semaphores, as it
    should, and would also print a warning that they leaked into the killed command's
    terminal; the tracker takes its warning options from ``sys.warnoptions`` when it starts.
    """
    from multiprocessing import resource_tracker

    saved = list(sys.warnoptions)
    sys.warnoptions.append("ignore:resource_tracker:UserWarning")
    try:
        with deferred_interrupt():
            resource_tracker.ensure_running()
    finally:
        sys.warnoptions[:] = saved


def worker_pool(workers: int) -> _Pool:
    """A pool like :func:`process_pool`'s that the caller keeps (for many jobs, e.g. every fit of
    a calibration) and stops itself; its workers ignore Ctrl-C and die with their parent."""
    with contextlib.suppress(Exception):
        _start_resource_tracker()
    return _Pool(max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start)


@contextlib.contextmanager
def process_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A local pool of ``workers`` spawn processes; on leaving the block normally it waits for
    them, on an exception (Ctrl-C included) it terminates them at once."""
    with contextlib.suppress(Exception):
        _start_resource_tracker()
    pool = _Pool(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                 initializer=_worker_start)
    try:
        yield pool
    except BaseException:
        pool.stop()
        raise
    pool.shutdown(wait=True)
