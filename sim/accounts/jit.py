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

Compiled code is cached on disk (``cache=True``): only the first run on a machine pays for
compilation. numba's cache is keyed by the source file of the kernel itself, not of the
helpers it calls: after editing a :func:`helper` that lives in another file, touch the files
of the kernels that use it (or delete their ``__pycache__/*.nbi`` and ``*.nbc``). A stale
kernel would differ from its uncompiled self, which ``tests/test_kernels.py`` checks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["OPTIONS", "Kernel", "kernel", "helper", "run", "pick"]

#: numba options of every kernel. ``error_model="numpy"``: a float division by zero gives
#: inf/nan as in numpy instead of raising (and costs no check per division).
OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}


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
    import sys

    from numba.core.registry import cpu_target
    from numba.extending import typeof_impl

    # numba loads every implementation it has before it reads the first cached kernel; one of
    # them (numba.np.arraymath) asks whether scipy's BLAS is there, importing scipy.linalg
    # (~0.25 CPU-s), only to choose how ``np.correlate``/``np.convolve`` are compiled. No kernel
    # uses them: numba is loaded with that import refused even when scipy is imported already (so
    # that choice does not depend on what ran first; unless numba was loaded before any kernel,
    # e.g. by a test's own ``njit``), and anything that needs BLAS later still gets it.
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
    # A kernel calling another names a Kernel as a global: numba types it as its dispatcher.
    typeof_impl.register(Kernel)(lambda k, c: typeof_impl(k.compiled, c))
    waiting, _pending = _pending, None
    for fn, inline in waiting:
        _register(fn, inline)


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

            self._dispatcher = njit(**OPTIONS)(self.py_func)
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
    return Kernel(fn)


def helper[F: Callable[..., Any]](fn: F | None = None, *, inline: str = "never") -> Any:
    """Make ``fn`` callable from kernels (compiled into them) while staying plain Python.

    Args:
        inline: ``"always"`` to inline it in numba's IR (for one-line selections that the
            compiler should turn into conditional moves).
    """
    def wrap(f: F) -> F:
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


@helper(inline="always")
def pick(cond, a, b):  # noqa: ANN001, ANN201
    """``a if cond else b`` with both evaluated (compiled, a conditional move, not a branch:
    people's states are mixed at random along the arrays, and mispredicted branches would
    cost more than the arithmetic)."""
    return a if cond else b
