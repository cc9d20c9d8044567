"""Named random streams for common random numbers.

Every random decision in the model draws from a *named stream* through a counter-based
generator: the draw for person ``i`` in month ``t`` on stream ``"transition"`` is a pure
function of ``(seed, stream, t, i)``. So

* a scenario and its baseline run with the same seed give the same person the same draw for
  the same decision, whatever else differs between them (other people, other programmes, the
  order in which subsets are processed) — the *common random numbers* that make paired
  differences precise;
* draws can be taken for any subset of people without drawing for everyone;
* no global state is touched: two models in one process never interfere.

The generator is SplitMix64 (Steele, Lea & Flood 2014), which passes BigCrush, evaluated
with vectorised ``uint64`` arithmetic (:meth:`Streams.uniform`), or for one person inside a
compiled pass (:func:`draw`, the same numbers). Replications use seeds spawned with
:class:`numpy.random.SeedSequence`, so they are independent and reproducible.
"""

from __future__ import annotations

import hashlib

import numpy as np

from sim.accounts.jit import helper

__all__ = ["Streams", "replication_seeds", "draw"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / (1 << 53)
_ONE = np.uint64(1)


@helper
def draw(base, i):  # noqa: ANN001, ANN201
    """:meth:`Streams.uniform` for one person, inside a compiled pass: SplitMix64 output ``i``
    of the stream whose month offset is ``base`` (:meth:`Streams.base`)."""
    z = (np.uint64(i) + _ONE) * _GOLDEN + base
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return np.float64(z >> _S11) * _TO_UNIT


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, in place on a uint64 array."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


_MASK = 0xFFFFFFFFFFFFFFFF


def _mix_scalar(x: int) -> int:
    """:func:`_mix` for one Python int (same result, without numpy's per-call overhead)."""
    z = x & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _stream_id(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Independent seeds for ``replications`` runs, spawned from ``seed``.

    Replication 0 uses ``seed`` itself, so a single run and the first replication agree.
    """
    children = np.random.SeedSequence(seed).spawn(max(replications - 1, 0))
    return [seed] + [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in children]


class Streams:
    """Counter-based random numbers keyed by (seed, stream name, month, person).

    Args:
        seed: a non-negative integer.
    """

    def __init__(self, seed: int) -> None:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        #: 64-bit key derived from the seed through SeedSequence's entropy mixing.
        self.key = int(np.random.SeedSequence(self.seed).generate_state(1, np.uint64)[0])
        self._streams: dict[str, int] = {}  # stream name -> its mixed key

    def base(self, stream: str, month: int) -> np.uint64:
        """The stream's offset in ``month``: person ``i``'s draw is SplitMix64 output ``i`` from it
        (compiled passes that draw per person take this, with :func:`draw`)."""
        x = self._streams.get(stream)
        if x is None:
            x = self._streams[stream] = _mix_scalar(self.key ^ _stream_id(stream))
        return np.uint64(_mix_scalar(x + (month + 1) * 0x9E3779B97F4A7C15))

    def bits(self, stream: str, month: int, ids: np.ndarray) -> np.ndarray:
        """64 random bits per person: the ``ids``-th outputs of a SplitMix64 sequence."""
        z = ids.astype(np.uint64, copy=True)
        z += np.uint64(1)
        z *= _GOLDEN
        z += self.base(stream, month)
        return _mix(z)

    def uniform(self, stream: str, month: int, ids: np.ndarray) -> np.ndarray:
        """Uniform draws in [0, 1), one per person in ``ids`` (float64)."""
        z = self.bits(stream, month, ids)
        z >>= _S11
        return z.astype(np.float64) * _TO_UNIT

    def normal(self, stream: str, month: int, ids: np.ndarray) -> np.ndarray:
        """Standard normal draws, one per person (Box-Muller on two sub-streams)."""
        u1 = self.uniform(stream + "/u1", month, ids)
        u2 = self.uniform(stream + "/u2", month, ids)
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
