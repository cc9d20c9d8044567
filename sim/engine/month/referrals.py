"""Sub-step 6, referrals: eligible people not moved this month join waiting lists.

Each open programme refers a share (``referral_rate``) of the people in its eligible stages
each month, if they meet its other conditions (age, months on assistance, JOB days, rehab
need, social assistance only, not started before unless repeats are allowed, any of the
alternative groups).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.accounts.jit import kernel
from sim.engine import moves
from sim.engine.state import RunState
from sim.engine.streams import draw
from sim.scenario.schema import Criteria
from sim.scenario.stages import Stage

__all__ = ["step", "meets", "stage_table", "referral_draws"]


@kernel
def referral_draws(stage, moved, wanted, bases, rates):  # noqa: ANN001, ANN201
    """Each programme's drawn candidates, in one pass over everyone: for programme ``p`` (row
    ``p`` of ``wanted``, a bool per stage), the ids (ascending) of people not moved this month,
    in a stage it wants, whose draw from its stream (offset ``bases[p]``,
    :meth:`sim.engine.streams.Streams.base`) is below ``rates[p]`` (the draws are those of
    ``Streams.uniform``). Returns every programme's ids, one programme after another, and where
    each programme's ids start (and where the last ends).

    The people in a stage any programme wants are listed in one pass (a bit of a mask per stage
    code, shifted: cheaper than a table look-up); then, per programme, those in its stages, and
    their draws. Most people are in other stages and a draw costs more than the selection: one
    pass per programme drawing for everyone, or branching on the stage before the draw
    (mispredicted: stages are mixed at random), cost 2-3x as much (measured at 10^6 people,
    three programmes: 7.1 ms a month as one pass drawing for everyone per programme, 6.5 with
    the branch, 2.8 selecting then drawing per programme, ~2.2 with one selection for all). The
    draws are compared in a loop of their own, which the compiler vectorises (the 64-bit
    multiplies of :func:`draw` as AVX-512 instructions where there are some), and the drawn
    listed after (1.5 -> 1.0 ms, measured: drawing and listing in one loop cannot be vectorised).
    """
    n = stage.size
    n_prog = wanted.shape[0]
    masks = np.zeros(n_prog, np.uint32)
    union = np.uint32(0)
    for p in range(n_prog):
        for s in range(wanted.shape[1]):
            masks[p] |= np.uint32(wanted[p, s]) << np.uint32(s)
        union |= masks[p]
    cand = np.empty(n, np.int32)  # ids fit in int32
    k = 0
    for i in range(n):
        cand[k] = i
        k += ((union >> np.uint32(stage[i])) & np.uint32(1)) & np.uint32(not moved[i])
    mine = np.empty(k, np.int32)
    drawn = np.empty(k, np.bool_)
    out = np.empty(k, np.int32)
    starts = np.zeros(n_prog + 1, np.int64)
    m = 0
    for p in range(n_prog):
        mask = masks[p]
        b = 0
        for j in range(k):
            i = cand[j]
            mine[b] = i
            b += (mask >> np.uint32(stage[i])) & np.uint32(1)
        if m + b > out.size:  # (only if many are drawn: out holds k ids)
            grown = np.empty(max(2 * out.size, m + b), np.int32)
            grown[:m] = out[:m]
            out = grown
        base = bases[p]
        rate = rates[p]
        for j in range(b):  # (vectorised: no store depends on a draw)
            drawn[j] = draw(base, mine[j]) < rate
        for j in range(b):
            out[m] = mine[j]
            m += drawn[j]
        starts[p + 1] = m
    return out[:m].astype(np.int64), starts


def step(state: RunState) -> None:
    """Refer this month's drawn and eligible people to each programme's waiting list."""
    pop = state.pop
    open_ = [(p, spec) for p, spec in zip(state.regime.programmes, state.spec.programmes, strict=True)
             if p.active and p.referral_rate > 0 and p.slots != 0]  # a programme without places takes no referrals
    if not open_:
        return
    # Draw first (few are referred in a month), then check eligibility on those drawn: draws are
    # keyed by person, so this is the same as drawing for the eligible only. Every programme's
    # draws are taken before any referral: those referred to one programme (moved) are dropped
    # from the next ones' below (a move changes only the mover), as if drawn after it.
    drawn, starts = state.run(
        referral_draws, pop.stage, state.moved, np.array([stage_table(spec.eligibility.stages) for _, spec in open_]),
        np.array([state.streams.base("referral/" + p.name, state.t) for p, _ in open_], np.uint64),
        np.array([float(p.referral_rate) for p, _ in open_]))
    for j, (p, spec) in enumerate(open_):
        cand = drawn[starts[j]:starts[j + 1]]
        if j:
            cand = cand[~state.moved[cand]]
        if cand.size == 0:
            continue
        el = spec.eligibility
        ok = meets(state, el, cand, stages=False)  # candidates are in el.stages already
        if not el.allow_repeat:
            ok &= (pop.started[cand] & np.uint32(1 << p.index)) == 0
        if el.any_of:
            ok &= np.logical_or.reduce([meets(state, group, cand) for group in el.any_of])
        moves.refer(state, cand[ok], p)


def meets(state: RunState, c: Criteria, ids: np.ndarray, *, stages: bool = True) -> np.ndarray:
    """Whether each of ``ids`` meets the referral conditions ``c`` (without its stages if
    ``stages`` is false)."""
    pop = state.pop
    age = pop.age_years(state.month, ids)
    ok = (age >= c.age_min) & (age < c.age_max + 1)
    ok &= pop.months_out_of_work[ids] >= c.min_months_on_assistance
    jd = pop.job_days[ids]
    ok &= jd >= c.min_job_days
    if c.max_job_days is not None:
        ok &= jd <= c.max_job_days
    if c.requires_rehab_need is not None:
        ok &= pop.rehab_need[ids] == c.requires_rehab_need
    if c.social_assistance_only:
        ok &= ~pop.ui_entitled[ids]
    if stages and c.stages is not None:
        ok &= stage_table(c.stages)[pop.stage[ids]]
    return ok


def stage_table(names: Sequence[str]) -> np.ndarray:
    """A bool per stage code: whether it is one of the stages ``names``."""
    table = np.zeros(len(Stage), bool)
    table[[Stage[n.upper()] for n in names]] = True
    return table
