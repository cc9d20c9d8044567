"""Finished replications kept on disk until their results folder is written, so a killed
``almsim run`` or ``almsim compare`` resumes where it stopped.

A :class:`ReplicationStore` is a hidden folder beside the results folder a command is about to
write (``.<run-id>.partial/``). Replications are stored as they finish, by the main process
only; those that finish together (the blocks of one batched model, or a run of its own) in one
file, which holds their keys (:func:`sim.runs.replications.replication_key`: the resolved
scenario, the replication's seed, whether events are kept and a digest of the code) and then
the results. A file is written under a temporary name with the writer's pid and renamed into
place, so a file that is there is whole. One file per model, not per replication: creating a
file costs ~0.1-0.8 ms of system CPU (the latter in ``/tmp`` here), and the main job's models
finish 40 and 80 replications at a time; nothing that could be kept is lost, since a model's
blocks finish at the same moment. A command started again with the same arguments finds the
same folder, reads the replications stored there instead of computing them, and removes the
folder once its results are written. The stored results are the very objects a run returns (pickled, with the records
the comparison re-posts and follows; a comparison's re-runs for its assumption lines are kept as
the nets by month and payer the lines read, :func:`sim.runs.replications.nets_only`, under keys of
their own), so a resumed run equals an uninterrupted one.

The folder is the user's own (written by this user's almsim under their output folder); it is
read only by the command that wrote it. Like the sweep store, it survives a killed process,
not a power cut (nothing is fsynced).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sim.runs.folders import pid_alive

__all__ = ["ReplicationStore"]


class ReplicationStore:
    """Finished replications in a folder, by key; those that finished together in one file."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._where: dict[str, Path] | None = None  # each kept key's file (read once, when first asked)
        self._read: dict[Path, dict[str, Any]] = {}  # the files read back: key -> result

    def _keys(self) -> list[str]:
        """The key of every replication kept (a file that cannot be read keeps none)."""
        if self._where is None:
            self._where = {}
            for f in sorted(self.folder.glob("*.pickle")) if self.folder.is_dir() else ():
                try:
                    with open(f, "rb") as fh:
                        keys = pickle.load(fh)  # (the results after them are not read here)
                except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError,
                        ValueError):
                    continue  # written by other code, or damaged: computed again
                if isinstance(keys, list):
                    self._where.update(dict.fromkeys((k for k in keys if isinstance(k, str)), f))
        return list(self._where)

    def get(self, key: str) -> Any | None:
        """The replication stored under ``key``, or ``None`` (also for an unreadable file)."""
        self._keys()
        f = self._where.get(key) if self._where is not None else None
        if f is None:
            return None
        if f not in self._read:
            try:
                with open(f, "rb") as fh:
                    pickle.load(fh)  # its keys
                    found = pickle.load(fh)
            except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
                found = None  # written by other code, or damaged: compute it again
            self._read[f] = found if isinstance(found, dict) else {}
        return self._read[f].get(key)

    def put(self, key: str, result: Any) -> None:
        """Store one finished replication (a whole file or none)."""
        self.put_all([(key, result)])

    def put_all(self, items: Sequence[tuple[str, Any]]) -> None:
        """Store replications that finished together, ``(key, result)``, in one file (a whole
        file or none), named by a digest of their keys."""
        if not items:
            return
        keys = [k for k, _ in items]
        name = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:32]
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{name}.tmp-{os.getpid()}"
        path = self.folder / f"{name}.pickle"
        try:
            with open(tmp, "wb") as fh:
                pickle.dump(keys, fh, protocol=pickle.HIGHEST_PROTOCOL)
                pickle.dump(dict(items), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if self._where is not None:
            self._where.update(dict.fromkeys(keys, path))
            self._read.pop(path, None)

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
        """Replications kept."""
        return len(self._keys())

    def __iter__(self) -> Iterator[str]:
        """The keys of the replications kept."""
        return iter(self._keys())

    def remove(self) -> None:
        """Remove the folder (its results are written)."""
        shutil.rmtree(self.folder, ignore_errors=True)
