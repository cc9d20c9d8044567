"""Compiled kernels are cached once per machine, keyed by what they are compiled from.

Compiling every kernel costs more than the main job itself (~10 CPU-s), so a fresh clone, a
worktree or a reinstall of the same code must read what an earlier copy compiled; and an edit
that numba's own cache would miss (a helper in another file, a module-level constant the kernel
reads) must compile again instead of running stale code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HELPERS = '''
from sim.accounts.jit import helper

OFFSET = {offset}


@helper
def shifted(x):
    return x + OFFSET
'''

KERNEL = '''
import numpy as np

from sim.accounts.jit import kernel
from kcpkg.helpers import shifted


@kernel
def total(a):
    s = 0
    for v in a:
        s += shifted(v)
    return s
'''

PROBE = '''
import json
import numpy as np
from kcpkg.kern import total
result = int(total(np.arange(4, dtype=np.int64)))
print(json.dumps({"result": result, "read": len(total.stats.cache_hits), "compiled": len(total.stats.cache_misses)}))
'''


def _copy(where: Path, offset: int) -> Path:
    pkg = where / "kcpkg"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helpers.py").write_text(HELPERS.format(offset=offset))
    (pkg / "kern.py").write_text(KERNEL)
    return where


def _env(copy: Path, cache: Path) -> dict[str, str]:
    """The probe's environment: the copy's package and almsim importable, kernels cached in ``cache``.

    No bytecode is written: an edit of the same size within the second of the last probe would
    otherwise run Python's stale ``.pyc`` of the copy (its check is the file's size and mtime in
    whole seconds), and the test would see that instead of the kernel cache."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(copy), str(ROOT)]), "NUMBA_CACHE_DIR": str(cache),
            "PYTHONDONTWRITEBYTECODE": "1"}


def _probe(copy: Path, cache: Path) -> dict[str, int]:
    env = _env(copy, cache)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, cwd=copy,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_copy_of_the_same_code_elsewhere_reads_the_compiled_kernel(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _probe(_copy(tmp_path / "clone-a", offset=1), cache)
    assert first == {"result": 10, "read": 0, "compiled": 1}
    again = _probe(_copy(tmp_path / "elsewhere" / "clone-b", offset=1), cache)
    assert again == {"result": 10, "read": 1, "compiled": 0}


def test_an_edit_to_a_helper_or_a_constant_in_another_file_compiles_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    copy = _copy(tmp_path / "clone", offset=1)
    assert _probe(copy, cache)["result"] == 10
    # the kernel's own file is untouched; only the helper's constant changes (same file size)
    _copy(copy, offset=2)
    edited = _probe(copy, cache)
    assert edited == {"result": 14, "read": 0, "compiled": 1}
    # both versions are kept: going back reads the first one
    _copy(copy, offset=1)
    assert _probe(copy, cache) == {"result": 10, "read": 1, "compiled": 0}


def _on_a_terminal(copy: Path, cache: Path) -> str:
    """What the probe writes to its standard error when that is a terminal."""
    import pty

    env = _env(copy, cache)
    leader, follower = pty.openpty()
    try:
        subprocess.run([sys.executable, "-c", PROBE], env=env, stdout=subprocess.DEVNULL, stderr=follower, cwd=copy,
                       timeout=300, check=True)
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # (the terminal's other end is closed: all is read)
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


def test_a_first_run_says_on_a_terminal_that_it_compiles_once(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    copy = _copy(tmp_path / "clone", offset=1)
    first = _on_a_terminal(copy, cache)
    assert "compiling the simulation's kernels for this machine, once" in first and str(cache) in first
    assert "compiling" not in _on_a_terminal(copy, cache)


def test_old_versions_of_a_kernel_are_pruned_and_other_kernels_kept(tmp_path: Path) -> None:
    from sim.accounts.jit import KEEP_VERSIONS, _prune

    def version(name: str, age: int, kernel: str = "kern.total") -> str:
        base = f"{kernel}-{name}.py312"
        for f in (f"{base}.nbi", f"{base}.1.nbc", f"{base}.2.nbc"):
            (tmp_path / f).write_bytes(b"x")
            os.utime(tmp_path / f, (1_000_000 - age, 1_000_000 - age))
        return base

    bases = [version(f"10-{i:016x}", age=i) for i in range(KEEP_VERSIONS + 3)]  # bases[0] newest
    other = version("3-aaaaaaaaaaaaaaaa", age=99, kernel="kern.other")
    _prune(str(tmp_path), bases[-1])  # the oldest is the one in use: kept all the same
    left = {p.name for p in tmp_path.iterdir()}
    kept = bases[:KEEP_VERSIONS] + [bases[-1]]
    assert {b for b in bases if f"{b}.nbi" in left} == set(kept)
    assert {f"{b}.1.nbc" for b in kept} <= left and not any(f"{b}.1.nbc" in left for b in bases if b not in kept)
    assert f"{other}.nbi" in left


ALLOCATING = '''
import json
import sys

import numpy as np

from sim.accounts.jit import kernel


@kernel
def doubled(a):
    out = np.empty(a.size, np.int64)  # an array made inside a kernel needs numba's runtime
    for i in range(a.size):
        out[i] = 2 * a[i]
    return out


@kernel
def total_doubled(a):
    return doubled(a).sum()  # a kernel calling another


result = int(total_doubled(np.arange(5, dtype=np.int64)))
print(json.dumps({"result": result, "read": len(total_doubled.stats.cache_hits),
                  "implementations_loaded": "numba.np.polynomial" in sys.modules}))
'''


def test_a_kernel_read_from_the_cache_runs_without_loading_numbas_implementations(tmp_path: Path) -> None:
    """Reading compiled code needs numba's runtime, not its ~0.2 CPU-s of implementations (what
    compiling needs): a kernel that makes an array and calls another runs from the cache without them."""
    cache = tmp_path / "cache"
    (tmp_path / "probe.py").write_text(ALLOCATING)

    def probe() -> dict[str, object]:
        out = subprocess.run([sys.executable, "probe.py"], env=_env(tmp_path, cache), capture_output=True,
                             text=True, cwd=tmp_path, timeout=300)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    assert probe() == {"result": 20, "read": 0, "implementations_loaded": True}  # compiled: loaded
    assert probe() == {"result": 20, "read": 1, "implementations_loaded": False}
