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
imports only numba and numpy.

Compiled code is cached on disk (``cache=True``): only the first run on a machine pays for
compilation. numba's cache is keyed by the source file of the kernel itself, not of the
helpers it calls: after editing a :func:`helper` that lives in another file, touch the files
of the kernels that use it (or delete their ``__pycache__/*.nbi`` and ``*.nbc``). A stale
kernel would differ from its uncompiled self, which ``tests/test_kernels.py`` checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit
from numba.extending import register_jitable

__all__ = ["OPTIONS", "kernel", "helper", "run", "pick"]

#: numba options of every kernel. ``error_model="numpy"``: a float division by zero gives
#: inf/nan as in numpy instead of raising (and costs no check per division).
OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}


def kernel(fn: Callable[..., Any]) -> Any:
    """Compile a pass over everyone (``fn`` stays reachable as the result's ``py_func``)."""
    return njit(**OPTIONS)(fn)


def helper[F: Callable[..., Any]](fn: F | None = None, *, inline: str = "never") -> Any:
    """Make ``fn`` callable from kernels (compiled into them) while staying plain Python.

    Args:
        inline: ``"always"`` to inline it in numba's IR (for one-line selections that the
            compiler should turn into conditional moves).
    """
    def wrap(f: F) -> F:
        return register_jitable(inline=inline, error_model=OPTIONS["error_model"])(f)

    return wrap if fn is None else wrap(fn)


def run(k: Any, compiled: bool, *args: Any) -> Any:
    """Call kernel ``k`` compiled, or its plain-Python reference (slow: small populations).

    Uncompiled, numpy's unsigned-integer scalars warn on the wrap-around that the random
    streams' hashing relies on (compiled integers wrap silently): the warning is silenced.
    """
    if compiled:
        return k(*args)
    with np.errstate(over="ignore"):
        return k.py_func(*args)


@helper(inline="always")
def pick(cond, a, b):  # noqa: ANN001, ANN201
    """``a if cond else b`` with both evaluated (compiled, a conditional move, not a branch:
    people's states are mixed at random along the arrays, and mispredicted branches would
    cost more than the arithmetic)."""
    return a if cond else b
