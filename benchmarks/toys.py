"""The six-state toy, three ways, and the machine's memory bandwidth: what the engine is compared with.

The toy is the least a monthly state-transition model of people does: six stages (open
unemployment, the guarantee, a programme, work, studies, other), a fixed monthly transition
matrix :data:`P`, and for everyone each month a uniform draw, the next stage from the cumulative
row of their stage, the months in the stage (reset on a move) and the stocks by stage. The
engine does all of that and much more (hazards from attributes, clocks, rules, queues,
capacities, budgets, the ledger), so a ratio of the engine's speed to a toy's is a fair "how
close to the bare minimum":

* :func:`numpy_toy`: the naive vectorised version (a gather of each person's cumulative row,
  a comparison with the draw, a sum), as one would first write it with numpy;
* :func:`starsim_toy`: the same as a Starsim custom module (``starsim``, the ``bench`` extra),
  on Starsim's own arrays and random streams;
* :func:`mesa_toy`: per-agent Mesa (one ``Agent`` object per person and a Python call per
  person and month), the way an agent-based model is usually written.

Each returns ``(person-months, CPU seconds)`` of the monthly steps only (building the people is
not timed). :func:`bandwidth` measures how many bytes a second one core moves between memory
and the CPU (numpy copy and add of arrays much larger than the last-level cache).
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["P", "numpy_toy", "starsim_toy", "mesa_toy", "bandwidth"]

#: Monthly transition probabilities between the six stages (rows sum to 1): open, guarantee,
#: programme, work, studies, other. Moves are a few per cent a month, as in the engine.
P = np.array([
    [0.900, 0.030, 0.020, 0.035, 0.010, 0.005],
    [0.010, 0.930, 0.020, 0.025, 0.010, 0.005],
    [0.030, 0.030, 0.880, 0.050, 0.005, 0.005],
    [0.015, 0.000, 0.000, 0.980, 0.003, 0.002],
    [0.010, 0.000, 0.000, 0.020, 0.968, 0.002],
    [0.000, 0.000, 0.000, 0.000, 0.000, 1.000],
])
_CUM = np.cumsum(P, axis=1)
_CUM[:, -1] = 1.0


def numpy_toy(people: int, months: int, seed: int = 0) -> tuple[int, float]:
    """The toy on numpy arrays (uint8 stage, int16 months in stage), vectorised per month."""
    rng = np.random.default_rng(seed)
    stage = rng.integers(0, 5, people).astype(np.uint8)
    months_in = np.zeros(people, np.int16)
    stocks = np.zeros((months, 6), np.int64)
    t0 = time.process_time()
    for t in range(months):
        stocks[t] = np.bincount(stage, minlength=6)
        u = rng.random(people)
        new = (u[:, None] >= _CUM[stage]).sum(axis=1).astype(np.uint8)
        moved = new != stage
        months_in += 1
        months_in[moved] = 0
        stage = new
    return people * months, time.process_time() - t0


def starsim_toy(people: int, months: int, seed: int = 0) -> tuple[int, float]:
    """The toy as a Starsim module: Starsim's people, arrays, random stream and results."""
    import starsim as ss

    class Toy(ss.Module):
        def __init__(self, **kwargs):  # noqa: ANN003
            super().__init__(**kwargs)
            self.define_states(ss.IntArr("stage", default=ss.randint(0, 5)), ss.IntArr("months_in", default=0))
            self.u = ss.random()

        def init_results(self) -> None:
            super().init_results()
            self.define_results(*[ss.Result(f"n_{k}", dtype=int) for k in range(6)])

        def step(self) -> None:
            uids = self.sim.people.auids
            u = self.u.rvs(uids)
            stage = self.stage[uids]
            new = (u[:, None] >= _CUM[stage]).sum(axis=1)
            self.months_in[uids] = np.where(new != stage, 0, self.months_in[uids] + 1)
            self.stage[uids] = new

        def update_results(self) -> None:
            super().update_results()
            counts = np.bincount(self.stage[self.sim.people.auids], minlength=6)
            for k in range(6):
                self.results[f"n_{k}"][self.ti] = counts[k]

    sim = ss.Sim(n_agents=people, modules=Toy(), start=2000, dur=ss.months(months - 1), dt=ss.month,
                 rand_seed=seed, verbose=0)
    sim.init()
    steps = len(sim.timevec)
    t0 = time.process_time()
    sim.run()
    return people * steps, time.process_time() - t0


def mesa_toy(people: int, months: int, seed: int = 0) -> tuple[int, float]:
    """The toy as per-agent Mesa: an ``Agent`` per person, each stepping itself every month."""
    import mesa

    cum = [list(row) for row in _CUM]

    class ToyAgent(mesa.Agent):
        def __init__(self, model: mesa.Model, stage: int) -> None:
            super().__init__(model)
            self.stage = stage
            self.months_in = 0

        def step(self) -> None:
            u = self.model.random.random()
            row = cum[self.stage]
            new = 0
            while new < 5 and u >= row[new]:
                new += 1
            if new != self.stage:
                self.stage = new
                self.months_in = 0
            else:
                self.months_in += 1

    class ToyModel(mesa.Model):
        def __init__(self) -> None:
            super().__init__(rng=seed)
            for _ in range(people):
                ToyAgent(self, self.random.randrange(5))
            self.stocks: list[list[int]] = []

        def step(self) -> None:
            counts = [0] * 6
            for a in self.agents:
                counts[a.stage] += 1
            self.stocks.append(counts)
            self.agents.do("step")

    model = ToyModel()
    t0 = time.process_time()
    for _ in range(months):
        model.step()
    return people * months, time.process_time() - t0


def bandwidth(megabytes: int = 256, repeat: int = 5) -> dict[str, float]:
    """Bytes per CPU-second that one core reads and writes: numpy copy (``b[:] = a``: one read,
    one write per element) and add (``c = a + b``: two reads, one write) of float64 arrays of
    ``megabytes`` each (far beyond the last-level cache); the best of ``repeat`` each."""
    n = megabytes * 2**20 // 8
    a = np.ones(n)
    b = np.ones(n)
    c = np.ones(n)
    best = {"copy": 0.0, "add": 0.0}
    for _ in range(repeat):
        t0 = time.process_time()
        np.copyto(b, a)
        t1 = time.process_time()
        np.add(a, b, out=c)
        t2 = time.process_time()
        best["copy"] = max(best["copy"], 2 * a.nbytes / max(t1 - t0, 1e-9))
        best["add"] = max(best["add"], 3 * a.nbytes / max(t2 - t1, 1e-9))
    return best
