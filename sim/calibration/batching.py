"""Calibration particles simulated many at a time: a pyabc sampler that batches the model's calls.

pyabc evaluates a particle with one call of its ``simulate_one`` (draw parameters, call the
model, compute the distance, accept or not). A small cohort simulated alone costs mostly the
interpreter's overhead per month; simulated as one block of a batch
(:func:`sim.runs.replications.simulate_batch`) it costs a small fraction of that. So
:class:`BatchSampler` runs ``lanes`` particles at once, each ``simulate_one`` as a greenlet (a
coroutine): the model call of a lane (:func:`model_call`) hands its parameter set to the
sampler and waits; when every lane waits, the sampler simulates them all in one batch (split
over the worker processes, which are started once per fit) and resumes each lane with its
statistics. The lanes run one after another in a fixed order, so pyabc's draws from numpy's
global generator, and the seeds the model draws, come in the same order at every run: a fit
is reproducible, whatever the number of workers.

A round evaluates all its lanes; the sample keeps the particles up to the ``n``-th accepted (in
lane order), as pyabc's own evaluation-parallel sampler does, and counts every simulation made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from greenlet import getcurrent, greenlet
from pyabc.sampler import Sampler

__all__ = ["BatchSampler", "model_call"]


class _Lane(greenlet):
    """One particle's ``simulate_one``, run as a coroutine of the sampler."""


def model_call(request: Any) -> Any | None:
    """Inside a lane of :class:`BatchSampler`: hand ``request`` to the sampler and return what it
    computed for it. Outside one: ``None`` (the caller simulates at once)."""
    lane = getcurrent()
    if not isinstance(lane, _Lane):
        return None
    return lane.parent.switch(request)


class BatchSampler(Sampler):
    """A pyabc sampler that simulates ``lanes`` particles per round in one batch.

    Args:
        run_many: takes the model requests of a round (in lane order) and returns one result per
            request, in the same order.
        lanes: particles per round.
    """

    def __init__(self, run_many: Callable[[Sequence[Any]], Sequence[Any]], lanes: int = 128) -> None:
        super().__init__()
        if lanes < 1:
            raise ValueError(f"lanes must be >= 1, got {lanes}")
        self.run_many = run_many
        self.lanes = lanes

    def sample_until_n_accepted(self, n: int, simulate_one: Callable[[], Any], t: int, *,  # noqa: ARG002
                                max_eval: float = np.inf, all_accepted: bool = False,
                                ana_vars: Any = None) -> Any:  # noqa: ARG002
        """Rounds of ``lanes`` particles until ``n`` are accepted (or ``max_eval`` are simulated)."""
        done: list[Any] = []
        accepted = 0
        while accepted < n and len(done) < max_eval:
            lanes = self.lanes
            if all_accepted:
                lanes = min(lanes, n - len(done))
            if np.isfinite(max_eval):
                lanes = min(lanes, int(max_eval) - len(done))
            for particle in self._round(simulate_one, max(lanes, 1)):
                done.append(particle)
                accepted += bool(particle.accepted)
        sample = self._create_empty_sample()
        kept = 0
        for particle in done:
            if kept >= n:
                break
            sample.append(particle)
            kept += bool(particle.accepted)
        self.nr_evaluations_ = len(done)
        if sample.n_accepted < n:
            sample.ok = False
        return sample

    def _round(self, simulate_one: Callable[[], Any], lanes: int) -> list[Any]:
        """Run ``lanes`` particles to the end, batching their model calls."""
        glets = [_Lane(simulate_one) for _ in range(lanes)]
        out: list[Any] = [None] * lanes
        pending = {i: g.switch() for i, g in enumerate(glets)}
        while pending:
            waiting = []
            for i, value in pending.items():
                if glets[i].dead:
                    out[i] = value
                else:
                    waiting.append((i, value))
            if not waiting:
                break
            results = self.run_many([value for _, value in waiting])
            pending = {i: glets[i].switch(res) for (i, _), res in zip(waiting, results, strict=True)}
        return out
