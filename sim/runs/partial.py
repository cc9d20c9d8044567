"""Finished replications kept on disk until their results folder is written, so a killed
``almsim run`` or ``almsim compare`` resumes where it stopped.

A :class:`ReplicationStore` is a hidden folder beside the results folder a command is about to
write (``.<run-id>.partial/``). Each replication is stored as it finishes, by the main process
only, as one file named by its key (:func:`sim.runs.replications.replication_key`: the resolved
scenario, the replication's seed, whether events are kept and a digest of the code): written
under a temporary name with the writer's pid and renamed into place, so a file that is there is
whole. A command started again with the same arguments finds the same folder, reads the
replications stored there instead of computing them, and removes the folder once its results
are written. The stored results are the very objects a run returns (pickled, with the records
the comparison re-posts and follows; a comparison's re-runs for its assumption lines are kept as
the nets by month and payer the lines read, :func:`sim.runs.replications.nets_only`, under keys of
their own), so a resumed run equals an uninterrupted one.

The folder is the user's own (written by this user's almsim under their output folder); it is
read only by the command that wrote it. Like the sweep store, it survives a killed process,
not a power cut (nothing is fsynced).
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path
from typing import Any

from sim.runs.folders import pid_alive

__all__ = ["ReplicationStore"]


class ReplicationStore:
    """Finished replications in a folder, one file per key."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _file(self, key: str) -> Path:
        return self.folder / f"{key}.pickle"

    def get(self, key: str) -> Any | None:
        """The replication stored under ``key``, or ``None`` (also for an unreadable file)."""
        try:
            with open(self._file(key), "rb") as fh:
                return pickle.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
            return None  # written by other code, or damaged: compute it again

    def put(self, key: str, result: Any) -> None:
        """Store one finished replication (a whole file or none)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{key}.tmp-{os.getpid()}"
        try:
            with open(tmp, "wb") as fh:
                pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self._file(key))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def clean(self) -> None:
        """Remove temporary files left by writers that were killed (their pid is not alive)."""
        if not self.folder.is_dir():
            return
        for tmp in self.folder.glob(".*.tmp-*"):
            try:
                pid = int(tmp.name.rsplit(".tmp-", 1)[1])
            except (IndexError, ValueError):
                continue
            if pid != os.getpid() and not pid_alive(pid):
                tmp.unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(list(self.folder.glob("*.pickle"))) if self.folder.is_dir() else 0

    def remove(self) -> None:
        """Remove the folder (its results are written)."""
        shutil.rmtree(self.folder, ignore_errors=True)
