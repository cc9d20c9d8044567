"""The state of one run that the month's sub-steps share, and the queries they make of it.

:class:`RunState` holds everything a sub-step (:mod:`sim.engine.month`) or a move
(:mod:`sim.engine.moves`) reads or writes: the population, the parameters in force, places
and budgets, the random streams, the recorder, this month's "moved" flags and the list of
people tagged to a programme. The model (:mod:`sim.engine.model`) owns one and hands it to the
sub-steps in order; the sub-steps never see the model, so there is no import cycle.

It may import :mod:`sim.scenario`, :mod:`sim.accounts` and the engine's modules below the
sub-steps (capacity, hazards, in_force, population, recorder, streams); never
:mod:`sim.engine.model`, :mod:`sim.engine.moves` or :mod:`sim.engine.month`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.accounts.jit import kernel, run
from sim.engine.capacity import Budget, Slots
from sim.engine.hazards import decay_table, duration_factor, regrouped, static_multipliers
from sim.engine.in_force import ProgrammeRegime, Regime, regime_at
from sim.engine.population import Population, check_fits, synthesise
from sim.engine.recorder import Recorder
from sim.engine.streams import Streams
from sim.scenario.dated import Month
from sim.scenario.schema import Scenario
from sim.scenario.stages import Stage

__all__ = ["RunState", "select"]

_S = Stage
_N_STAGES = len(Stage)
_WAITING_CODE = int(_S.WAITING)
_OTHER_CODE = np.uint8(_S.OTHER)
#: how often the list of people who may not be in 'other' is made anew (:meth:`WaitingLists.live`)
LIVE_REFRESH_MONTHS = 12
_NO_BLOCKS = np.zeros(0, np.int64)  # (a run of one block: see RunState.wage_blocks)


@kernel
def select(stage, moved, wanted):  # noqa: ANN001, ANN201
    """Ids of people whose stage is in ``wanted`` (a bool per stage code) and who have not
    moved this month: one branch-free pass that writes every id and advances the list's end
    only for the chosen; whether a stage is wanted is a bit of a mask, shifted (10^6 people:
    ~0.7 ms; ~2 ms with a table look-up per person writing flags, then the flags' ids). The ids
    are written as int64, not int32 and converted: as fast, and one numpy function less to compile
    on a machine's first run."""
    n = stage.size
    mask = np.uint32(0)
    for s in range(wanted.size):
        mask |= np.uint32(wanted[s]) << np.uint32(s)
    out = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        out[k] = i
        k += ((mask >> np.uint32(stage[i])) & np.uint32(1)) & np.uint32(not moved[i])
    return out[:k].copy()


@kernel
def tagged_groups(tagged, programme, stage, n_groups):  # noqa: ANN001, ANN201
    """The ids ``tagged`` grouped by programme and stage (group ``programme * len(Stage) +
    stage``; people whose programme is -1 left out), ascending within each group: the ids
    in group order and where each group starts (``n_groups + 1`` offsets). A counting sort in
    two passes. (``starts`` is zeroed by a loop: ``np.zeros`` is one more numpy function for numba
    to compile on a machine's first run, ~0.07 CPU-s.)"""
    n_stages = _N_STAGES
    starts = np.empty(n_groups + 1, np.int64)
    for g in range(n_groups + 1):
        starts[g] = 0
    for j in range(tagged.size):
        i = tagged[j]
        p = np.int64(programme[i])
        if p >= 0:
            starts[p * n_stages + np.int64(stage[i]) + 1] += 1
    for g in range(n_groups):
        starts[g + 1] += starts[g]
    out = np.empty(starts[n_groups], np.int64)
    pos = starts[:-1].copy()
    for j in range(tagged.size):
        i = tagged[j]
        p = np.int64(programme[i])
        if p >= 0:
            g = p * n_stages + np.int64(stage[i])
            out[pos[g]] = i
            pos[g] += 1
    return out, starts


#: Up to this many people, a pass over everyone costs less than keeping lists of the few
#: (numpy's per-call overhead, a few microseconds, dominates): the tagged are listed anew after
#: each referral and the followed found by a scan (C2, 174 people: ~10 % of a run, measured).
SMALL = 20_000


class WaitingLists:
    """What a run's state (:class:`RunState`) and a batch's (:class:`~sim.engine.batch_state.BatchState`)
    find the same way: the participants and queues of programmes, among those tagged to a
    programme (:meth:`tagged`), kept until a move changes them; and the people followed up after
    leaving a programme (:meth:`followed`), among those who left one in the months that can be
    followed up now."""

    #: ids tagged since the list of the tagged was last merged (see tags_added)
    _tag_pending: tuple[np.ndarray, ...] = ()
    #: the list :meth:`live` gives, and the month it was made
    _live: tuple[np.ndarray, np.ndarray] | None = None
    _live_at = 0

    @property
    def ids(self) -> np.ndarray:
        """Everyone's ids (int64, ascending), made when asked for: rarely, and 8 bytes a person
        not kept."""
        return np.arange(len(self.pop), dtype=np.int64)

    def tagged(self) -> np.ndarray:
        """Ids (ascending) of everyone on a waiting list or in a programme, and perhaps some
        who have left one since the list was made: callers filter by programme and stage.

        They are few, so the steps that look for participants or queues start from them. The
        list is made from everyone once, then kept: people tagged (:meth:`tags_added`) are
        merged in when the list is next read, and those who left are dropped once a month
        (:meth:`new_month`), each costing a pass over the list instead of over everyone (~0.2
        against ~1.8 ms at 10^6 people; up to :data:`SMALL` people it is made anew, and when the
        list and the newly tagged are many against everyone: see :meth:`tags_added`). Leaving a
        programme only removes tags.
        """
        if self._tag_cache is None:
            self._tag_cache = np.flatnonzero(self.pop.programme >= 0)
        elif self._tag_pending:  # a stable sort of a list that is sorted but for its end: a merge
            ids = np.sort(np.concatenate((self._tag_cache, *self._tag_pending)), kind="stable")
            self._tag_cache = ids[np.concatenate(([True], ids[1:] != ids[:-1]))] if ids.size else ids
        self._tag_pending = ()
        return self._tag_cache

    def tags_added(self, ids: np.ndarray | None = None) -> None:
        """Note that ``ids`` were tagged to a programme (``None``: the list is made anew).

        They are merged in when the list is next read (:meth:`tagged`; the month's referrals
        to every programme at once), costing ~4 ns per person listed or tagged; making the list
        anew costs ~1 ns per person of everyone: the cheaper is done (measured at 10^6 people,
        ~45,000 listed and three programmes referring ~3,000 each: ~0.2 ms a month merged once
        by a sort, ~0.8 merged into the list one programme after another by ``np.insert``).
        """
        self._tags_version += 1
        old = self._tag_cache
        pending = (*self._tag_pending, ids) if ids is not None else ()
        if (ids is None or old is None or len(self.pop) <= SMALL
                or 4 * (old.size + sum(a.size for a in pending)) > len(self.pop)):
            self._tag_cache = None
            pending = ()
        self._tag_pending = pending

    def new_month(self) -> None:
        """Nobody has moved yet this month (and people no longer tagged leave the list of the
        tagged)."""
        self.moved[:] = False
        if self._tag_cache is not None:
            tagged = self.tagged()
            self._tag_cache = tagged[self.pop.programme[tagged] >= 0]

    def live(self) -> tuple[np.ndarray, np.ndarray]:
        """Ids (ascending, int32) of everyone who may not be in 'other', and where each block's
        start among them (``first`` as positions in the list).

        'Other' is absorbing (nobody leaves it: :data:`~sim.scenario.stages.LEGAL`), so a list
        of those not in it stays a superset of them: it is made anew every
        :data:`LIVE_REFRESH_MONTHS` months, and the passes over it still test each person's stage.
        """
        if self._live is None or self.t >= self._live_at + LIVE_REFRESH_MONTHS:
            ids = np.flatnonzero(self.pop.stage != _OTHER_CODE).astype(np.int32)
            self._live = (ids, np.searchsorted(ids, self.first).astype(np.int64))
            self._live_at = self.t
        return self._live

    def left_programme(self, ids: np.ndarray) -> None:
        """Note that ``ids`` left a programme this month (their months since one are 0 now)."""
        if ids.size:
            self._left.setdefault(self.t, []).append(np.array(ids, np.int64))

    def followed(self, wanted: np.ndarray) -> np.ndarray:
        """Ids (ascending) of people whose months since leaving a programme are ``wanted`` (a
        bool per number of months): the same people a scan of everyone finds.

        Months since a programme are set to 0 only when one is left
        (:func:`sim.engine.moves.leave_programme`, which calls :meth:`left_programme`) and
        advance by one a month (the clocks): people at ``k`` months now left in month ``t - k``
        (after the clocks) or ``t - k + 1`` (before them). Only those are looked at, not
        everyone (up to :data:`SMALL` people, everyone is: fewer numpy calls).
        """
        months = np.flatnonzero(wanted)
        if months.size == 0:
            return np.zeros(0, np.int64)
        for m in [m for m in self._left if m < self.t - int(months[-1])]:
            del self._left[m]  # (never followed again)
        since = self.pop.months_since_programme
        if since.size <= SMALL:  # months (int16) read as uint16 index a table of every value
            table = np.zeros(1 << 16, bool)
            table[months] = True
            return np.flatnonzero(table[since.view(np.uint16)])
        parts = []
        for k in months:
            for m in (self.t - int(k), self.t - int(k) + 1):
                left = self._left.get(m)
                if left:
                    if len(left) > 1:  # a month's leavers as one array, the first time it is read
                        left[:] = [np.concatenate(left)]
                    parts.append(left[0][since[left[0]] == k])
        if not parts:
            return np.zeros(0, np.int64)
        # someone may have left in both months: once each (a sort, not np.unique: its hash
        # table costs ~10x more on these few hundred ids)
        ids = np.sort(np.concatenate(parts))
        return ids[np.concatenate(([True], ids[1:] != ids[:-1]))] if ids.size else ids

    def tagged_moved(self, programmes: int) -> None:
        """Note that people tagged to the programmes whose bits are set in ``programmes`` moved
        (:func:`sim.engine.moves.apply_moves`). Nothing to note here: a batch tells from its
        log whether a move changed any list (:meth:`BatchState._found_since_last_move`); a run
        counts the moves per programme (:meth:`RunState.tagged_moved`)."""


class RunState(WaitingLists):
    """Everything one run's sub-steps share.

    Args:
        scenario: a validated scenario.
        seed: keys every random stream.
        record_events: keep the person-level event log.
        track: ids of people followed month by month.
        compiled: run the passes over everyone compiled (numba), or as plain Python (the
            reference; slow, for tests on small populations).
        member_shares: other a-kassa membership shares at entry to book the run's money under
            too (:class:`~sim.engine.model.ProgrammeModel`).

    Raises:
        ResourceError: if the population would not fit in memory (before allocating it).
    """

    def __init__(self, scenario: Scenario, seed: int, *, record_events: bool, track: Sequence[int],
                 compiled: bool, member_shares: Sequence[float] = ()) -> None:
        self.spec = scenario
        self.compiled = compiled
        #: other a-kassa membership shares the ledger books every month under too (see
        #: :func:`sim.engine.population.synthesise`)
        self.member_shares = tuple(float(v) for v in member_shares)
        #: month index being simulated (0 = the start month; calendar events see it too);
        #: between steps, the month the next step will simulate
        self.t = 0
        self.streams = Streams(seed)
        self.start: Month = scenario.start_month
        self.horizon = scenario.horizon_months
        check_fits(scenario.population, self.start, self.horizon, record_events)
        self.regime: Regime = regime_at(scenario, self.start)
        self.pop: Population = synthesise(
            scenario.population, self.start, self.horizon, self.streams, self.regime.money.previous_wage_sek_per_month,
            guarantee=(float(self.regime.job_entry_months), float(scenario.rules.benefit_days_per_month),
                       float(self.regime.fas3_stock_days)), member_shares=self.member_shares)
        #: where blocks of people start and end (one block here; see :mod:`sim.engine.batch`)
        self.first = np.array([0, len(self.pop)], np.int64)
        n_prog = len(scenario.programmes)
        self.slots = [Slots(p.slots) for p in self.regime.programmes]
        self.budgets: list[dict[str, Budget]] = [
            {payer: Budget(level) for payer, level in p.budget_per_year.items()} for p in self.regime.programmes
        ]
        self.fade = np.ones(max(n_prog, 1), np.float32)
        self.counts_as_work = np.zeros(max(n_prog, 1), bool)
        self._programme_arrays()
        #: duration dependence by months out of work (a table: months are whole numbers)
        cap = int(np.ceil(scenario.effects.duration_cap_years * 12))
        self.duration = duration_factor(np.arange(cap + 1, dtype=np.int16), scenario.effects)
        self.work_mult = np.ones(len(self.pop), np.float32)
        self.studies_mult = np.ones(len(self.pop), np.float32)
        #: each person's age group when their multipliers were last computed (255: never)
        self._age_group = np.full(len(self.pop), 255, np.uint8)
        self.rec = Recorder(n_prog, record_events=record_events, member_shares=self.member_shares)
        self.track = np.array(sorted(set(int(i) for i in track)), dtype=np.int64)
        if self.track.size and (self.track.min() < 0 or self.track.max() >= len(self.pop)):
            raise ValueError(f"track: person ids must be between 0 and {len(self.pop) - 1}")
        #: who has moved this month (a person moves at most once a month)
        self.moved = np.zeros(len(self.pop), bool)
        #: people in each stage, kept by the moves (:func:`sim.engine.moves.apply_moves`): the
        #: month's stocks without a pass over everyone (10^6 people: ~0.4 ms a month)
        self.stage_total = np.bincount(self.pop.stage, minlength=_N_STAGES).astype(np.int64)
        #: each person's guarantee code this month (``sim.engine.month.sweep``), until the forced moves read it
        self.guarantee_code = np.zeros(0, np.uint8)
        self.guarantee_month = -1  # the month it was worked out in
        self._tag_cache: np.ndarray | None = None  # see tagged()
        self._tags_version = 0  # how many times people were tagged
        #: people who left a programme, by month (see followed())
        self._left: dict[int, list[np.ndarray]] = {}
        #: moves of people tagged to each programme, and their counts when the participants and
        #: queues were last found (see _grouped)
        self._moves_of = [0] * max(n_prog, 1)
        self._groups: tuple[np.ndarray, np.ndarray] | None = None
        self._groups_at: list[int] = []
        # Month index at which each person reaches pension age (or arrives past it), sorted.
        pension = self.pop.birth_month + int(np.ceil(scenario.rules.pension_age * 12)) - self.start
        retire_t = np.maximum(pension, self.pop.arrival_month - self.start)
        self.retire_order = np.argsort(retire_t, kind="stable").astype(np.int32)  # (4 bytes a person, not 8)
        self.retire_sorted = retire_t[self.retire_order]

    # ----------------------------------------------------------------- changes
    @property
    def month(self) -> Month:
        """The absolute month being simulated."""
        return self.start + self.t

    def set_regime(self, regime: Regime) -> None:
        """Put the parameters of a reform in force (places change; occupancy is shed later)."""
        self.regime = regime
        for s, p in zip(self.slots, regime.programmes, strict=True):
            s.set_capacity(p.slots)
        self._programme_arrays()

    def _programme_arrays(self) -> None:
        for p in self.regime.programmes:
            self.fade[p.index] = p.fade_months
            self.counts_as_work[p.index] = p.counts_as_work
        self.decay = decay_table(self.fade, self.horizon + 1)
        self.stage_work = np.ascontiguousarray(self.regime.base[:, _S.WORK])

    def refresh_multipliers(self, ids: np.ndarray | None = None) -> None:
        """Recompute the (age-dependent) work and studies hazard multipliers of ``ids`` (default:
        everyone whose age group changed since theirs were computed, the yearly refresh; the
        others' would come out the same, and recomputing everyone's cost ~50 ms a year at 10^6
        people)."""
        ids = regrouped(self.pop, self._age_group, ids, self.month)
        w, s = static_multipliers(self.pop, ids, self.spec.effects, self.month)
        self.work_mult[ids] = w
        self.studies_mult[ids] = s

    def new_budget_year(self) -> None:
        """Reset every programme's budgets to this year's levels."""
        for p, budgets in zip(self.regime.programmes, self.budgets, strict=True):
            for payer, b in budgets.items():
                b.reset(p.budget_per_year[payer])

    # ----------------------------------------------------------------- queries
    def run(self, k: Any, *args: Any) -> Any:
        """Call kernel ``k`` compiled or as plain Python, as this run was asked to."""
        return run(k, self.compiled, *args)

    def select(self, wanted: np.ndarray) -> np.ndarray:
        """Ids of people not moved this month whose stage is in ``wanted`` (a bool per stage)."""
        return self.run(select, self.pop.stage, self.moved, wanted)

    def programme_value(self, p: ProgrammeRegime, name: str, ids: np.ndarray) -> Any:
        """Programme ``p``'s value ``name`` in force, for the people ``ids`` (one value here; per
        person in a batch of runs with their own parameters, :mod:`sim.engine.batch`)."""
        return getattr(p, name)

    def wage_blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """Programmes' wages as compiled passes read them: ``wage[block, programme]`` and each
        person's block (here one row, and no blocks: everyone's is row 0)."""
        return self.regime.programme_money.wage[None, :], _NO_BLOCKS

    def tagged_moved(self, programmes: int) -> None:
        """Count a move of people tagged to the programmes whose bits are set in ``programmes``
        (:func:`sim.engine.moves.apply_moves`)."""
        p = 0
        while programmes:
            self._moves_of[p] += programmes & 1
            programmes >>= 1
            p += 1

    def _grouped(self, i: int, stage: int) -> np.ndarray:
        """Ids (ascending) tagged to programme ``i`` in ``stage``.

        Every programme's participants and queues are found at once, in one pass over the tagged
        (:func:`tagged_groups`), and kept while nobody tagged to ``i`` moves: stages and
        programme tags change only through moves (a referral tags people before it moves them),
        and a move changes only the lists of the movers' programme, so the others' stay right
        (10^6 people: ~2 passes a month instead of ~7 made anew after any move).
        """
        ids, starts = self._found(i)
        g = i * _N_STAGES + stage
        return ids[starts[g]:starts[g + 1]]

    def _found(self, i: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:func:`tagged_groups` of the tagged, made anew if someone tagged to programme ``i``
        (default: to any) moved since they were last found (see :meth:`_grouped`)."""
        if self._groups is None or (self._groups_at[i] != self._moves_of[i] if i is not None
                                    else self._groups_at != self._moves_of):
            self._groups = self.run(tagged_groups, self.tagged(), self.pop.programme, self.pop.stage,
                                    len(self.regime.programmes) * _N_STAGES)
            self._groups_at = list(self._moves_of)
        return self._groups

    def tagged_by_stage(self) -> np.ndarray:
        """How many people tagged to each programme are in each stage (``[programme, stage]``)."""
        starts = self._found()[1]
        return np.diff(starts).reshape(-1, _N_STAGES)

    def participants(self, p: ProgrammeRegime) -> np.ndarray:
        """Ids of the participants of programme ``p`` (ascending; do not change them in place)."""
        return self._grouped(p.index, int(p.stage))

    def queue(self, i: int) -> np.ndarray:
        """Ids of the people on programme ``i``'s waiting list (ascending; do not change them in
        place)."""
        return self._grouped(i, _WAITING_CODE)
