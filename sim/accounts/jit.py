"""How passes over everyone are compiled, and how they run uncompiled: in one place.

A pass over everyone (the ledger's grouping key, the hazard pass, the clocks, ...) is written
once, as a plain Python loop over people. :func:`kernel` compiles it with numba; the very
same function run by the Python interpreter (the dispatcher's ``py_func``) is its reference,
so there is no second version of any rule to keep in step. :func:`run` chooses between the
two; the choice is an argument of the model (``ProgrammeModel(..., compiled=False)``), never
an environment switch. Small functions that kernels share (:func:`helper`) are plain Python
functions that numba compiles into the kernels calling them, so the uncompiled reference is
uncompiled all the way down.

This module lives in :mod:`sim.accounts`, the lowest layer with a compiled pass (the ledger
key encoder of :mod:`sim.accounts.book`), so the engine compiles with the same options. It
imports numpy, and numba only when a kernel is first compiled: importing the engine (``almsim
validate`` checks that a population fits in memory with it) costs no numba (~0.3 CPU-s), and
nor does a run with ``compiled=False``. Helpers are registered with numba at that moment
(before any kernel is typed, so kernels see them as before). numba's implementations are loaded
then too, without scipy's BLAS (see :func:`_load_numba`).

Compiled code is cached on disk, once per machine, not per copy of the code (:class:`KernelCache`):
compiling every kernel costs ~10 CPU-s, more than the main job itself, and numba's own cache
(kept beside each source file and keyed by its folder) is empty in every fresh clone, worktree or
reinstall. Here a kernel's compiled code is kept in the user's cache folder (``~/.cache/almsim/
kernels`` on Linux; ``NUMBA_CACHE_DIR`` instead if set), under a digest of what it is compiled
from: the source files of the kernel and of every helper and kernel it reaches, and the values of
the module-level constants they read (numba freezes those into the code). A copy of the same code
anywhere reads it; an edit to a helper in another file, or to a constant, compiles again (numba's
own key misses both). Old versions are pruned (:data:`KEEP_VERSIONS` per kernel).
"""

from __future__ import annotations

import contextlib
import enum
import functools
import hashlib
import os
from collections.abc import Callable, Iterator
from types import CodeType
from typing import Any

import numpy as np

__all__ = ["OPTIONS", "Kernel", "kernel", "helper", "run", "cache_folder", "source_digest"]

#: numba options of every kernel. ``error_model="numpy"``: a float division by zero gives
#: inf/nan as in numpy instead of raising (and costs no check per division). Compiled code is
#: cached on disk by :class:`KernelCache`, not by numba's ``cache=True``.
#: ``no_cfunc_wrapper``: no C-callable wrapper of each kernel is compiled (nothing calls kernels
#: from C; Python calls go through the dispatcher's own wrapper): a machine's first run of the
#: main job compiles ~0.1-0.4 CPU-s less (3 alternated cold runs).
OPTIONS: dict[str, Any] = {"nogil": True, "error_model": "numpy", "no_cfunc_wrapper": True}

#: Compiled versions of a kernel kept in its cache folder (older ones are deleted).
KEEP_VERSIONS = 6

#: Functions compiled into kernels (helpers and kernels' ``py_func``), by name: a kernel that
#: names one, directly or as a module's attribute, is compiled from its source too.
_compiled_by_name: dict[str, list[Callable[..., Any]]] = {}


#: Helpers waiting to be registered with numba (``None`` once numba is loaded and they are).
_pending: list[tuple[Callable[..., Any], str]] | None = []


def _register(fn: Callable[..., Any], inline: str) -> None:
    from numba.extending import register_jitable

    register_jitable(inline=inline, error_model=OPTIONS["error_model"])(fn)


def _load_numba() -> None:
    """Import numba, register the helpers made so far and teach numba what a :class:`Kernel` is
    (once)."""
    global _pending
    if _pending is None:
        return

    from numba.extending import typeof_impl

    # numba loads every implementation it has before it reads the first cached kernel; one of
    # them (numba.np.arraymath) asks whether scipy's BLAS is there, importing scipy.linalg
    # (~0.25 CPU-s), only to choose how ``np.correlate``/``np.convolve`` are compiled. No kernel
    # uses them: numba is loaded with that import refused even when scipy is imported already (so
    # that choice does not depend on what ran first; unless numba was loaded before any kernel,
    # e.g. by a test's own ``njit``), and anything that needs BLAS later still gets it.
    #
    # Loading implementations costs ~0.2 CPU-s, and a kernel read from the cache needs none of
    # them (its machine code is complete): they are loaded by :func:`_refresh` only when a kernel
    # is compiled (a cache miss, or a kernel without a cache folder).
    # A kernel calling another names a Kernel as a global: numba types it as its dispatcher.
    typeof_impl.register(Kernel)(lambda k, c: typeof_impl(k.compiled, c))
    waiting, _pending = _pending, None
    for fn, inline in waiting:
        _register(fn, inline)


_refreshed = False


def _refresh() -> None:
    """Load numba's implementations (once, before the first kernel is compiled), without scipy's
    BLAS (see :func:`_load_numba`)."""
    global _refreshed
    if _refreshed:
        return
    import sys

    from numba.core.registry import cpu_target

    blas = "scipy.linalg.cython_blas"
    before = sys.modules.get(blas)
    sys.modules[blas] = None  # type: ignore[assignment]  # `import` of it raises ImportError
    try:
        cpu_target.target_context.refresh()
    finally:
        if before is None:
            del sys.modules[blas]
        else:
            sys.modules[blas] = before
    _refreshed = True


class Kernel:
    """A pass over everyone, compiled with numba on its first compiled call.

    ``py_func`` is the plain function (the uncompiled reference); calling the kernel calls the
    numba dispatcher, made once with :data:`OPTIONS` (and so read from numba's disk cache as
    before); any other attribute is the dispatcher's.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fn)
        self.py_func = fn
        self._dispatcher: Any = None

    @property
    def compiled(self) -> Any:
        """The numba dispatcher (numba is imported and the helpers registered the first time)."""
        if self._dispatcher is None:
            _load_numba()
            from numba import njit

            dispatcher = njit(**OPTIONS)(self.py_func)
            cache = KernelCache.of(self.py_func)
            if cache is not None:
                dispatcher._cache = cache  # what `enable_caching` sets; numba's own is per folder
            else:
                _refresh()  # every call compiles
            self._dispatcher = dispatcher
        return self._dispatcher

    def __call__(self, *args: Any) -> Any:
        return self.compiled(*args)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and inspect ask for these; no numba for them
            raise AttributeError(name)
        return getattr(self.compiled, name)

    def __repr__(self) -> str:
        return f"<kernel {self.py_func.__module__}.{self.py_func.__qualname__}>"


def kernel(fn: Callable[..., Any]) -> Kernel:
    """A pass over everyone, compiled when first called (``fn`` is the result's ``py_func``)."""
    _compiled_by_name.setdefault(fn.__name__, []).append(fn)
    return Kernel(fn)


def helper[F: Callable[..., Any]](fn: F | None = None, *, inline: str = "never") -> Any:
    """Make ``fn`` callable from kernels (compiled into them) while staying plain Python.

    Args:
        inline: ``"always"`` to inline it in numba's IR (for one-line selections that the
            compiler should turn into conditional moves).
    """
    def wrap(f: F) -> F:
        _compiled_by_name.setdefault(f.__name__, []).append(f)
        if _pending is None:
            _register(f, inline)
        else:
            _pending.append((f, inline))
        return f

    return wrap if fn is None else wrap(fn)


def run(k: Any, compiled: bool, *args: Any) -> Any:
    """Call kernel ``k`` compiled, or its plain-Python reference (slow: small populations).

    Uncompiled, numpy's unsigned-integer scalars warn on the wrap-around that the random
    streams' hashing relies on (compiled integers wrap silently): the warning is silenced.
    """
    if compiled:
        return k.compiled(*args) if isinstance(k, Kernel) else k(*args)
    with np.errstate(over="ignore"):
        return k.py_func(*args)


# -- where compiled kernels are kept -------------------------------------------------------------


def cache_folder() -> str:
    """The folder compiled kernels are kept in: ``NUMBA_CACHE_DIR`` if set, else the user's cache
    folder's ``almsim/kernels`` (``~/.cache/almsim/kernels`` on Linux, ``$XDG_CACHE_HOME``
    honoured)."""
    from numba.core import config
    from numba.misc.appdirs import AppDirs

    if config.CACHE_DIR:
        return os.path.join(config.CACHE_DIR, "almsim")
    return os.path.join(AppDirs(appname="almsim", appauthor=False).user_cache_dir, "kernels")


def _names(code: CodeType) -> Iterator[str]:
    """Every global or attribute name ``code`` reads, nested code included."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _names(const)


def _constant(value: Any) -> bytes | None:
    """How a module-level value numba would freeze into compiled code is written into the digest
    (``None``: not a constant numba freezes)."""
    if isinstance(value, (bool, int, float, complex, str, np.generic)):
        return repr((type(value).__name__, value)).encode()
    if isinstance(value, np.ndarray):
        return repr((value.dtype.str, value.shape)).encode() + value.tobytes()
    if isinstance(value, enum.EnumType):
        return repr([(m.name, m.value) for m in value]).encode()
    if isinstance(value, tuple):
        parts = [_constant(v) for v in value]
        return None if None in parts else b"(" + b",".join(parts) + b")"  # type: ignore[arg-type]
    return None


def source_digest(fn: Callable[..., Any]) -> str:
    """A digest of what kernel ``fn`` is compiled from: the source files of ``fn`` and of every
    helper and kernel it names (and they name, ...), and the module-level constants they read."""
    files: set[str] = set()
    consts = hashlib.sha256()
    seen: set[int] = set()
    todo = [fn]
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        files.add(f.__code__.co_filename)
        for name in sorted(set(_names(f.__code__))):
            value = f.__globals__.get(name)
            if isinstance(value, Kernel):
                todo.append(value.py_func)
            todo.extend(_compiled_by_name.get(name, ()))
            frozen = _constant(value)
            if frozen is not None:
                consts.update(f"{f.__module__}.{name}=".encode() + frozen + b";")
    digest = hashlib.sha256(consts.digest())
    for path in sorted(files):
        with open(path, "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()[:16]


class KernelCache:
    """numba's function cache for a kernel, kept in :func:`cache_folder` under the kernel's module
    and :func:`source_digest` (made as a subclass of numba's own on first use)."""

    _made: Any = None

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> Any:
        """The cache of kernel ``fn``, or ``None`` if no folder can be written (numba then compiles
        every process)."""
        if cls._made is None:
            cls._made = _make_cache_class()
        try:
            return cls._made(fn)
        except RuntimeError:  # no locator: the folder cannot be written
            return None


def _make_cache_class() -> type:
    from numba.core.caching import CompileResultCacheImpl, FunctionCache, _CacheLocator

    class Locator(_CacheLocator):
        def __init__(self, py_func: Callable[..., Any]) -> None:
            self._path = os.path.join(cache_folder(), py_func.__module__)
            # the digest is part of the file names (so versions of the code, e.g. two clones or
            # worktrees, are kept side by side); within a file the stamp always matches
            self._disambiguator = f"{py_func.__code__.co_firstlineno}-{source_digest(py_func)}"

        def get_cache_path(self) -> str:
            return self._path

        def get_source_stamp(self) -> str:
            return "almsim"

        def get_disambiguator(self) -> str:
            return self._disambiguator

        @classmethod
        def from_function(cls, py_func: Callable[..., Any], py_file: str) -> Any:
            self = cls(py_func)
            try:
                self.ensure_cache_path()
            except OSError:
                return None
            return self

    class Impl(CompileResultCacheImpl):
        _locator_classes = [Locator]

        def __init__(self, py_func: Callable[..., Any]) -> None:
            super().__init__(py_func)
            folder = self.locator.get_cache_path()
            _prune(folder, self.filename_base)
            if not os.path.exists(os.path.join(folder, self.filename_base + ".nbi")):
                _tell_compiling()

    class Cache(FunctionCache):
        _impl_class = Impl

        def load_overload(self, sig: Any, target_context: Any) -> Any:
            # numba's refreshes the context first (loads every implementation, ~0.2 CPU-s); a
            # kernel read from here needs none, so that waits until one is compiled. It does need
            # numba's runtime (what allocates arrays), which the refresh would start first.
            from numba.core.runtime import rtsys

            rtsys.initialize(target_context)
            with self._guard_against_spurious_io_errors():
                found = self._load_overload(sig, target_context)
            if found is None:
                _refresh()
            return found

    return Cache


@functools.cache
def _tell_compiling() -> None:
    """Say once, on a terminal, why a machine's first run pauses (the progress bar stands still
    while numba compiles)."""
    import sys

    if sys.stderr is not None and sys.stderr.isatty():
        print(f"almsim: compiling the simulation's kernels for this machine, once (a few CPU-seconds; kept in "
              f"{cache_folder()})", file=sys.stderr)


def _prune(folder: str, filename_base: str) -> None:
    """Delete all but the :data:`KEEP_VERSIONS` newest versions of one kernel in ``folder``
    (``filename_base`` is ``module.qualname-line-digest.pyXY``; versions differ in line and
    digest). A file another process is reading may go: numba then compiles again."""
    name = filename_base.split("-", 1)[0] + "-"
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(name) and e.name.endswith(".nbi")]
    except OSError:
        return
    if len(entries) <= KEEP_VERSIONS:
        return
    entries.sort(key=lambda e: e.stat().st_mtime, reverse=True)
    for old in entries[KEEP_VERSIONS:]:
        base = old.name[: -len(".nbi")]
        if base == filename_base:
            continue
        for e in os.scandir(folder):
            if e.name == old.name or (e.name.startswith(base + ".") and e.name.endswith(".nbc")):
                with contextlib.suppress(OSError):
                    os.remove(e.path)
