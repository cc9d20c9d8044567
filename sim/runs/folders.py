"""Output folders before any work: can they be written, is there room, is anyone else writing.

Checked by ``almsim run`` and ``almsim compare`` before the first month is simulated (and kept
free of heavy imports, so that a refusal is quick): :func:`check_output_folder` (a folder that
is a file or not writable, names too long for a file system), :func:`check_free_space` against
:func:`output_estimate`, and :class:`output_lock` (one writer per folder). A problem raises
:class:`OutputError`, which the command line shows as one line. Also the names written beside
a results folder: :func:`partial_folder` (finished replications kept until the folder is
written, :mod:`sim.runs.partial`).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

__all__ = ["OutputError", "check_output_folder", "check_free_space", "output_estimate", "output_lock",
           "partial_folder", "pid_alive", "MAX_NAME_BYTES"]


class OutputError(Exception):
    """An output folder that cannot be written (found before any work is done).

    ``exit_code`` is 2 for a problem of the command's arguments (a folder that is a file, or not
    writable; a name too long) and 1 for a fault of the machine (not enough free disk space).
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


#: Longest folder or file name most file systems take (bytes).
MAX_NAME_BYTES = 255
#: What the names written beside a results folder add to its name: ``.NAME.tmp-PID-XXXXXXXX``
#: (a pid has at most 7 digits), ``.NAME.partial``, ``.NAME.lock``.
_SIBLING_BYTES = 32


def check_output_folder(folder: Path) -> None:
    """Check, before any work, that results can be written into ``folder``.

    Raises:
        OutputError: if ``folder`` (or the nearest existing parent) is not a writable folder,
            or a name in it is too long for a file system.
    """
    for part in folder.parts:
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise OutputError(f"{folder}: the name {part[:40]!r}... is longer than {MAX_NAME_BYTES} bytes")
    room = MAX_NAME_BYTES - _SIBLING_BYTES
    if len(folder.name.encode("utf-8", "surrogateescape")) > room:
        raise OutputError(f"{folder}: the name {folder.name[:40]!r}... is longer than {room} bytes (the limit of "
                          f"{MAX_NAME_BYTES} less room for the temporary names written beside it)")
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"{folder}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: {probe} is not writable")


#: Bytes a run writes, per replication, measured on the shipped scenarios (C2 and Mjölby with
#: 90-174 people, Umeå with 5,466, the national scale with 498,000; Parquet tables of the run
#: folder, and the pickled replication kept until the folder is written) and rounded up to
#: about 1.5 times the largest measured: a fixed part per month (stocks, flows, queues, ledger),
#: a part per person (the people table, the population kept with the records) and, with the
#: event log, a part per person-month.
_OUTPUT_BYTES = {"month": 4_000, "person": 12, "person_month_events": 0.4}
_KEPT_BYTES = {"month": 8_000, "person": 120, "person_month_events": 0.8}


def output_estimate(people: int, months: int, replications: int, record_events: bool = True,
                    kept_replications: int | None = None) -> int:
    """Bytes of disk a run needs at its peak (an over-estimate): the written tables of
    ``replications`` replications, plus ``kept_replications`` (default: as many) kept whole
    until the folder is written (:mod:`sim.runs.partial`)."""
    kept = replications if kept_replications is None else kept_replications

    def per(table: dict[str, float], events: bool) -> float:
        return (table["month"] * months + table["person"] * people
                + (table["person_month_events"] * people * months if events else 0.0))

    return int(replications * per(_OUTPUT_BYTES, record_events) + kept * per(_KEPT_BYTES, record_events))


def check_free_space(folder: Path, need: int) -> None:
    """Refuse, before any work, to start a run whose results would not fit on the disk.

    Raises:
        OutputError: (exit code 1) if the file system of ``folder`` (or of its nearest existing
            parent) has less than ``need`` bytes free.
    """
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return  # cannot tell: the writing itself will say
    if free < need:
        raise OutputError(f"{folder}: not enough free disk space: the results need about {_size(need)} and "
                          f"{probe} has {_size(free)} free", exit_code=1)


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"  # pragma: no cover - the loop returns


def partial_folder(folder: Path) -> Path:
    """The hidden folder beside ``folder`` where its finished replications are kept until it is
    written (:class:`~sim.runs.partial.ReplicationStore`)."""
    folder = Path(folder)
    return folder.with_name(f".{folder.name}.partial")


class output_lock:  # noqa: N801 - used as a context manager, reads like a function
    """Refuse a second writer of the same output folder while one is at work.

    ``with output_lock(path):`` holds an exclusive ``flock`` on ``.<name>.lock`` beside the
    folder (hidden, like the other names beside a results folder that are not results), with
    the writer's pid inside for the message. Another writer is refused at once, before any
    work, with :class:`OutputError`. The kernel lets go of the lock when its writer ends, even
    when killed, so a lock left behind by a killed writer is simply taken (no guessing from
    pids, which are reused).
    """

    def __init__(self, path: Path) -> None:
        self.folder = Path(path)
        self.lock = self.folder.with_name(f".{self.folder.name}.lock")
        self._fd: int | None = None
        self._made: list[Path] = []

    def __enter__(self) -> Path:
        self._made = [p for p in (self.lock.parent, *self.lock.parent.parents) if not p.exists()]
        self.lock.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._take()
        except BaseException:
            self._remove_made()
            raise

    def _take(self) -> Path:
        import fcntl

        for _ in range(10):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_RDWR, 0o644)
            except FileNotFoundError:  # another writer, refused, removed the empty folder just now
                self.lock.parent.mkdir(parents=True, exist_ok=True)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = self._owner(fd)
                os.close(fd)
                raise OutputError(f"{self.folder}: another almsim{f' (pid {pid})' if pid else ''} is writing this "
                                  "folder; wait for it to finish") from None
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(self.lock).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the previous writer removed this file as it finished: take the new one
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            self._fd = fd
            return self.lock
        raise OutputError(f"{self.folder}: could not take the lock {self.lock}")

    @staticmethod
    def _owner(fd: int) -> int:
        """The pid written in a held lock (0 while its writer has not written it yet)."""
        for _ in range(20):
            text = os.pread(fd, 32, 0).strip()
            if text:
                try:
                    return int(text)
                except ValueError:
                    return 0
            time.sleep(0.05)
        return 0

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            self.lock.unlink(missing_ok=True)  # while still held: a waiting writer sees a new file
            os.close(self._fd)
            self._fd = None
        self._remove_made()

    def _remove_made(self) -> None:
        """Remove the folders made for the lock that are still empty (a refused or failed command
        leaves nothing behind)."""
        for folder in self._made:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
