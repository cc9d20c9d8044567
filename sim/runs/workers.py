"""Local worker processes that Ctrl-C cannot reach, and sections Ctrl-C cannot split.

A terminal's Ctrl-C sends SIGINT to every process of the foreground group: the command *and*
its worker processes. Left alone, each worker would print its own ``KeyboardInterrupt``
traceback. Here the parent alone decides: :func:`process_pool` starts *spawn* workers with
SIGINT blocked (a child inherits the signal mask of the thread that starts it, and keeps it
across ``exec``), and each worker then ignores SIGINT for good (:func:`_worker_start`, which
also asks the kernel to end the worker when its parent dies, so a killed command leaves no
orphan behind to print a broken pipe). When the parent is interrupted (or fails), the pool
is not waited for: queued jobs are cancelled and running workers are terminated at once.

A job's outcome comes back *by file*, not through the pool's pipe (:func:`_spooled`): the worker
pickles it into the pool's spool folder, renames it into place and sends back only its name. A
worker terminated while it wrote a large result into the pipe left the parent's result reader
(``concurrent.futures``' manager thread) waiting for the rest of that message for ever (the pipe's
write end stays open in the parent), and the interpreter's exit joins that thread: after Ctrl-C
the command printed ``interrupted`` and then slept, never exiting. A name is a write of a few
hundred bytes, which a pipe takes whole or not at all (``PIPE_BUF``), so a terminated worker
leaves no message half-sent; a file a terminated worker left half-written has a temporary name
and goes with the spool folder.

:func:`deferred_interrupt` holds a Ctrl-C back over a few lines that must not be split (the
renames that put a finished folder in place; starting a worker) and raises it right after.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import traceback
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor
from pathlib import Path
from typing import Any

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


#: Spool folders are ``<temp>/almsim-pool-<pid>-<random>``: a folder left by a killed command
#: (its pid no longer alive) is removed by the next pool started on the machine.
_SPOOL_PREFIX = "almsim-pool-"


def _spool_folder() -> Path:
    """A new spool folder for this process's pool, after removing those of dead processes."""
    from sim.runs.folders import pid_alive

    base = Path(tempfile.gettempdir())
    for old in base.glob(f"{_SPOOL_PREFIX}*"):
        try:
            pid = int(old.name[len(_SPOOL_PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not pid_alive(pid):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_SPOOL_PREFIX}{os.getpid()}-", dir=base))


class _RemoteTracebackError(Exception):
    """The traceback of an exception raised in a worker (its ``__cause__`` in the parent)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _spooled(spool: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """In a worker: run ``fn`` and write its outcome, ``(result, None)`` or ``(None, (exception,
    traceback text))``, to a whole file in ``spool``; return the file's name (see the module's
    docstring)."""
    try:
        outcome: tuple[Any, Any] = (fn(*args, **kwargs), None)
    except BaseException as exc:  # (as concurrent.futures does: the parent re-raises it)
        outcome = (None, (exc, "".join(traceback.format_exception(exc))))
    fd, tmp = tempfile.mkstemp(dir=spool, prefix=".", suffix=".tmp")
    path = tmp[: -len(".tmp")] + ".pickle"
    try:
        with os.fdopen(fd, "wb") as fh:
            try:
                pickle.dump(outcome, fh, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # an outcome that cannot be pickled: say so instead
                fh.seek(0)
                fh.truncate()
                text = "".join(traceback.format_exception(exc))
                pickle.dump((None, (RuntimeError(f"a worker's result could not be sent back: {exc!r}"), text)), fh,
                            protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


class _Outcome(Future):  # type: ignore[type-arg]
    """What :meth:`_Pool.submit` returns: the job's result, read from the worker's file."""

    def __init__(self, job: Future) -> None:  # type: ignore[type-arg]
        super().__init__()
        self._job = job

    def cancel(self) -> bool:
        return self._job.cancel() and super().cancel()

    def running(self) -> bool:
        return self._job.running()


def _collect(outcome: _Outcome, job: Future) -> None:  # type: ignore[type-arg]
    """When a job is done (in the pool's manager thread): read its file into ``outcome``."""
    if job.cancelled():
        if Future.cancel(outcome):
            outcome.set_running_or_notify_cancel()  # (tells as_completed and wait)
        return
    error = job.exception()
    path = None if error is not None else job.result()
    if path is not None:
        try:
            with open(path, "rb") as fh:
                result, failure = pickle.load(fh)
        except BaseException as exc:  # (a folder removed by stop(), a full disk)
            result, failure = None, (exc, None)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        if failure is not None:
            error, text = failure
            if text:
                error.__cause__ = _RemoteTracebackError(f"\n'''\n{text}'''")
    with contextlib.suppress(InvalidStateError):
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(result)


class _Pool(ProcessPoolExecutor):
    """A spawn pool whose workers are started with SIGINT blocked and whose jobs' outcomes come
    back by file (see the module's docstring)."""

    def __init__(self, workers: int) -> None:
        self._spool = _spool_folder()
        self._remove_spool = weakref.finalize(self, shutil.rmtree, str(self._spool), True)  # also at exit
        super().__init__(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                         initializer=_worker_start)

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        with deferred_interrupt():  # a worker may be started here
            job = super().submit(_spooled, str(self._spool), fn, args, kwargs)
        outcome = _Outcome(job)
        job.add_done_callback(functools.partial(_collect, outcome))
        return outcome

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        if wait:
            self._remove_spool()

    def stop(self) -> None:
        """Cancel queued jobs and terminate running workers, without waiting for them."""
        processes = list((getattr(self, "_processes", None) or {}).values())
        self.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                p.terminate()
        for p in processes:
            with contextlib.suppress(OSError, ValueError, AttributeError, AssertionError):
                p.join(5)
                if p.is_alive():
                    p.kill()
                    p.join(1)
        self._remove_spool()


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
    return _Pool(workers)


@contextlib.contextmanager
def process_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A local pool of ``workers`` spawn processes; on leaving the block normally it waits for
    them, on an exception (Ctrl-C included) it terminates them at once."""
    with contextlib.suppress(Exception):
        _start_resource_tracker()
    pool = _Pool(workers)
    try:
        yield pool
    except BaseException:
        pool.stop()
        raise
    pool.shutdown(wait=True)
