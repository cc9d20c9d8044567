"""The programme model: one Mesa model, one monthly loop over arrays of people.

See :class:`ProgrammeModel` for the order of the sub-steps in a month.
"""

from __future__ import annotations

from collections.abc import Sequence

import mesa
import numpy as np

from sim.accounts.book import grouping_key
from sim.accounts.rules import LedgerInput, post
from sim.engine import kernels, moves
from sim.engine.calendar import Calendar
from sim.engine.capacity import Budget, Slots, admissible, priority_order
from sim.engine.hazards import (
    after_effect,
    choose_destination,
    decay_table,
    duration_factor,
    leave_probability,
    static_multipliers,
)
from sim.engine.in_force import DROPOUT, ProgrammeRegime, Regime, reform_months, regime_at
from sim.engine.population import Population, check_fits, synthesise
from sim.engine.recorder import Recorder
from sim.engine.streams import Streams
from sim.scenario.dated import Month
from sim.scenario.schema import Criteria, Scenario
from sim.scenario.stages import Stage

__all__ = ["ProgrammeModel"]

_S = Stage
def on_benefit(stage: np.ndarray) -> np.ndarray:
    """Whether people are on a benefit: open, JOB, waiting, coaching, training, education or
    Fas 3 (stage codes 0-5 and 7), by two comparisons rather than a table lookup."""
    return (stage <= _S.EDUCATION) | (stage == _S.FAS3)
_DESTINATIONS = np.arange(DROPOUT + 1, dtype=np.int16)
#: stages on a benefit other than the guarantee's own (JOB, Fas 3), from which people enrol
_BEFORE_GUARANTEE = np.zeros(len(Stage), bool)
_BEFORE_GUARANTEE[[_S.OPEN, _S.WAITING, _S.COACHING, _S.TRAINING, _S.EDUCATION]] = True
_JOB_ONLY = np.zeros(len(Stage), bool)
_JOB_ONLY[_S.JOB] = True



class ProgrammeModel(mesa.Model):
    """People moving month by month through programmes under capacities and budgets.

    Each :meth:`step` is one month. The SimPy calendar (:mod:`sim.engine.calendar`) first runs the
    events dated to the month — **reforms** (parameters in force change), **arrivals**
    (cohort waves, inflow), **budget-year resets**, **status dates** and the **yearly**
    refresh of age-dependent multipliers — and then the month itself, in this order:

    0. **limits**: if a reform cut a programme's places or a new budget year cannot pay for
       everyone in it, the newest participants leave ("cut") before the month starts, so
       capacity is never exceeded and budgets never overspent;
    1. **record and book**: stocks by stage, queues, occupancy and capacity (the state
       *during* the month), and the month's money flows per payer and category
       (:mod:`sim.accounts.rules`);
    2. **clocks**: UI days and JOB days advance by ``benefit_days_per_month`` for those
       drawing them; the work-condition history shifts; months in stage, months out of work
       and months since a programme advance; waiting lowers motivation;
    3. **spend**: each programme pays this month's participant costs from its budgets;
    4. **forced moves** (the rules): pension age -> other; UI exhausted or 18 months
       registered -> the guarantee (JOB; people in a municipal programme enrol but stay in
       it); 450 JOB days -> Fas 3; maximum programme length -> completion; maximum wait ->
       off the list; a closed programme -> everyone out;
    5. **hazards**: competing-risk exits for everyone not moved in 4;
    6. **referrals**: eligible people not moved this month join waiting lists;
    7. **intake**: waiting lists are admitted in priority order within places, starts and
       budget (money is committed to the end of the budget year);
    8. **follow-up**: the stage of people k months after leaving a programme is recorded.

    Moves made in 4-7 define the state of the next month. All random draws come from named
    streams keyed by person and month (:mod:`sim.engine.streams`), so a baseline and a scenario with
    the same seed use the same draws wherever the policy does not differ.

    Args:
        scenario: a validated scenario.
        rng: the seed (a non-negative int); it keys every random stream.
        record_events: keep the person-level event log (turn off for large sweeps).
        track: ids of people whose state and money are recorded every month (for telling one
            person's story; see the ``tracked`` tables of the results).

    Raises:
        ResourceError: if the population would not fit in memory (before allocating it).
    """

    def __init__(self, scenario: Scenario, rng: int = 0, *, record_events: bool = True,
                 track: Sequence[int] = ()) -> None:
        super().__init__(rng=rng)
        #: compiled passes (:mod:`sim.engine.kernels`) or the numpy reference path
        self.compiled = kernels.ENABLED
        self.spec = scenario
        #: month index being simulated (0 = the start month; calendar events see it too);
        #: between steps, the month the next step will simulate
        self.t = 0
        self.seed = int(rng)
        self.streams = Streams(self.seed)
        self.start: Month = scenario.start_month
        self.horizon = scenario.horizon_months
        check_fits(scenario.population, self.start, self.horizon, record_events)
        self.regime: Regime = regime_at(scenario, self.start)
        self.pop: Population = synthesise(scenario.population, self.start, self.horizon, self.streams,
                                          self.regime.money.previous_wage_sek_per_month)
        self.ids = np.arange(len(self.pop), dtype=np.int64)
        n_prog = len(scenario.programmes)
        self.slots = [Slots(p.slots) for p in self.regime.programmes]
        self.budgets: list[dict[str, Budget]] = [
            {payer: Budget(level) for payer, level in p.budget_per_year.items()} for p in self.regime.programmes
        ]
        self.fade = np.ones(max(n_prog, 1), np.float32)
        self.counts_as_work = np.zeros(max(n_prog, 1), bool)
        self._set_programme_arrays()
        #: duration dependence by months out of work (a table: months are whole numbers)
        cap = int(np.ceil(scenario.effects.duration_cap_years * 12))
        self._duration = duration_factor(np.arange(cap + 1, dtype=np.int16), scenario.effects)
        self.work_mult = np.ones(len(self.pop), np.float32)
        self.studies_mult = np.ones(len(self.pop), np.float32)
        self.rec = Recorder(n_prog, record_events=record_events)
        self.track = np.array(sorted(set(int(i) for i in track)), dtype=np.int64)
        if self.track.size and (self.track.min() < 0 or self.track.max() >= len(self.pop)):
            raise ValueError(f"track: person ids must be between 0 and {len(self.pop) - 1}")
        self._moved = np.zeros(len(self.pop), bool)
        self._tag_cache: np.ndarray | None = None  # see _tagged()
        # Month index at which each person reaches pension age (or arrives past it).
        pension = self.pop.birth_month + int(np.ceil(scenario.rules.pension_age * 12)) - self.start
        retire_t = np.maximum(pension, self.pop.arrival_month - self.start)
        self._retire_order = np.argsort(retire_t, kind="stable")
        self._retire_sorted = retire_t[self._retire_order]
        self.calendar = Calendar(self._month, self._calendar_events(), yearly=self._refresh_multipliers)

    # ----------------------------------------------------------------- calendar hooks
    def _calendar_events(self) -> list[tuple[int, object]]:
        ev: list[tuple[int, object]] = []
        for m in reform_months(self.spec):
            ev.append((m - self.start, lambda m=m: self._reform(m)))
        for m in np.unique(self.pop.arrival_month):
            ev.append((int(m) - self.start, lambda m=int(m): self._arrive(m)))
        first = self.spec.calendar.budget_year_start_month - 1
        for t in range(1, self.horizon):
            if (self.start + t) % 12 == first:
                ev.append((t, self._new_budget_year))
        for d in self.spec.calendar.status_dates:
            ev.append((d - self.start, lambda d=d: self.rec.status(d, self.pop)))
        return ev

    def _reform(self, month: Month) -> None:
        self.regime = regime_at(self.spec, month)
        for s, p in zip(self.slots, self.regime.programmes, strict=True):
            s.set_capacity(p.slots)
        self._set_programme_arrays()
        self.rec.reform(month)

    def _set_programme_arrays(self) -> None:
        for p in self.regime.programmes:
            self.fade[p.index] = p.fade_months
            self.counts_as_work[p.index] = p.counts_as_work
        self._decay = decay_table(self.fade, self.horizon + 1)
        self._stage_work = np.ascontiguousarray(self.regime.base[:, _S.WORK])

    def _arrive(self, month: Month) -> None:
        ids = np.flatnonzero(self.pop.arrival_month == month)
        self._refresh_multipliers(ids)
        moves.arrive(self, ids)

    def _new_budget_year(self) -> None:
        for p, budgets in zip(self.regime.programmes, self.budgets, strict=True):
            for payer, b in budgets.items():
                b.reset(p.budget_per_year[payer])

    def _refresh_multipliers(self, ids: np.ndarray | None = None) -> None:
        ids = self.ids if ids is None else ids
        comp = self.spec.population.composition
        w, s = static_multipliers(self.pop, ids, self.spec.effects, comp.employability_sd, self.month)
        self.work_mult[ids] = w
        self.studies_mult[ids] = s

    # ----------------------------------------------------------------- time
    @property
    def month(self) -> Month:
        """The absolute month being simulated."""
        return self.start + self.t

    def step(self) -> None:
        """Simulate one month (see the class docstring for the order)."""
        self.calendar.advance()
        self.t = self.calendar.month

    def run(self, months: int | None = None) -> None:
        """Simulate ``months`` months (default: to the end of the horizon)."""
        n = self.horizon - self.calendar.month if months is None else months
        if n > 0:
            self.run_for(n)  # Mesa's clock: one step per unit of time
        self.running = self.calendar.month < self.horizon

    def _month(self) -> None:
        self._moved[:] = False
        self._enforce_limits()  # 0
        self.rec.record(self)  # 1
        self._book()  # 1
        self._clocks()  # 2
        self._spend()  # 3
        self._forced()  # 4
        self._hazards()  # 5
        self._referrals()  # 6
        self._intake()  # 7
        self.rec.follow_up(self)  # 8

    # ----------------------------------------------------------------- 1. book
    def _book(self) -> None:
        pop, r = self.pop, self.regime
        # Everyone at once: people not arrived or in 'other' post nothing under the rules.
        if self.compiled:
            key = kernels.ledger_keys(pop.stage, pop.programme, pop.household, pop.children, pop.ui_entitled,
                                      pop.ui_days, pop.in_guarantee, pop.job_days, pop.reference_wage,
                                      pop.birth_month, self.month - 26 * 12, np.float32(r.job_days_to_fas3))
        else:
            key = grouping_key(self._ledger_input())
        if self.track.size:
            self._book_tracked()
        staff: dict[tuple[str, str], float] = {}
        for p, spec in zip(r.programmes, self.spec.programmes, strict=True):
            if p.active and p.slots > 0 and p.staff_cost_per_month:
                pair = (spec.funder, "programme_staff")
                staff[pair] = staff.get(pair, 0.0) - p.staff_cost_per_month
        self.rec.book(self.t, key, r.money, r.programme_money, staff)

    def _ledger_input(self) -> LedgerInput:
        pop = self.pop
        return LedgerInput(stage=pop.stage, programme=pop.programme, household=pop.household,
                           children=pop.children, age_years=None, under_26=pop.birth_month > self.month - 26 * 12,
                           ui_entitled=pop.ui_entitled, ui_days=pop.ui_days, in_guarantee=pop.in_guarantee,
                           reference_wage=pop.reference_wage, fas3_placement=self._in_fas3_placement(self.ids))

    def _book_tracked(self) -> None:
        """Per-person postings of the followed people (zero if outside the ledger this month)."""
        pop, r, ids = self.pop, self.regime, self.track
        x = LedgerInput(stage=pop.stage[ids], programme=pop.programme[ids], household=pop.household[ids],
                        children=pop.children[ids], age_years=pop.age_years(self.month, ids),
                        ui_entitled=pop.ui_entitled[ids], ui_days=pop.ui_days[ids],
                        in_guarantee=pop.in_guarantee[ids], reference_wage=pop.reference_wage[ids],
                        fas3_placement=self._in_fas3_placement(ids))
        self.rec.tracked(self, ids, post(x, r.money, r.programme_money))

    def _in_fas3_placement(self, ids: np.ndarray) -> np.ndarray:
        st = self.pop.stage[ids]
        past = self.pop.in_guarantee[ids] & (self.pop.job_days[ids] >= self.regime.job_days_to_fas3)
        return (st == _S.FAS3) | (past & (st >= _S.WAITING) & (st <= _S.EDUCATION))  # waiting .. education

    # ----------------------------------------------------------------- 2. clocks
    def _clocks(self) -> None:
        pop, r = self.pop, self.regime
        days = np.float32(self.spec.rules.benefit_days_per_month)
        if self.compiled:
            kernels.advance_clocks(pop.stage, pop.programme, pop.ui_entitled, pop.in_guarantee, pop.ui_days,
                                   pop.job_days, pop.work_history, pop.months_in_stage, pop.months_out_of_work,
                                   pop.months_since_programme, self.counts_as_work, days)
        else:
            self._clocks_numpy(days)
        if any(p.motivation_loss > 0 for p in r.programmes):
            waiting = self._waiting()
            for p in r.programmes:
                if p.motivation_loss > 0:
                    w = waiting[pop.programme[waiting] == p.index]
                    pop.motivation[w] *= np.float32(1.0 - p.motivation_loss)

    def _clocks_numpy(self, days: np.float32) -> None:
        """Benefit days, work history and month counters (the reference of
        :func:`sim.engine.kernels.advance_clocks`)."""
        pop = self.pop
        st = pop.stage
        benefit = on_benefit(st)
        # UI days for those paid UI (as the ledger pays it); JOB days for those in the guarantee.
        # (x += days * mask is much faster than a masked or where= update on large arrays.)
        pop.ui_days += days * (benefit & pop.ui_entitled & ~pop.in_guarantee)
        pop.job_days += days * (benefit & pop.in_guarantee)
        qualifying = st == _S.WORK
        sub = np.flatnonzero(st == _S.SUBSIDISED)
        if sub.size:
            prog = pop.programme[sub]
            qualifying[sub] = np.where(prog >= 0, self.counts_as_work[np.maximum(prog, 0)], True)
        wh = pop.work_history
        np.left_shift(wh, 1, out=wh)
        np.bitwise_and(wh, 0x0FFF, out=wh)
        np.bitwise_or(wh, qualifying, out=wh, casting="unsafe")
        # Counters cannot overflow int16: they start below 30,000 and a horizon is <= 600 months.
        np.add(pop.months_in_stage, st != _S.NOT_ARRIVED, out=pop.months_in_stage, casting="unsafe")
        np.add(pop.months_out_of_work, benefit, out=pop.months_out_of_work, casting="unsafe")
        ms = pop.months_since_programme
        np.add(ms, ms < 30000, out=ms, casting="unsafe")

    # ----------------------------------------------------------------- 3. spend
    def _tagged(self) -> np.ndarray:
        """Ids (ascending) of everyone on a waiting list or in a programme, and perhaps some
        who have left one since the list was made: callers filter by programme and stage.

        They are few, so the steps that look for participants or queues start from them. The
        list is made again only when people are tagged (:func:`sim.engine.moves.refer` calls
        :meth:`_tags_added`); leaving a programme only removes tags.
        """
        if self._tag_cache is None:
            self._tag_cache = np.flatnonzero(self.pop.programme >= 0)
        return self._tag_cache

    def _tags_added(self) -> None:
        self._tag_cache = None

    def _select(self, wanted: np.ndarray) -> np.ndarray:
        """Ids of people not moved this month whose stage is in ``wanted`` (a bool per stage)."""
        if self.compiled:
            return kernels.select(self.pop.stage, self._moved, wanted)
        return np.flatnonzero(wanted[self.pop.stage] & ~self._moved)

    def _participants(self, p: ProgrammeRegime) -> np.ndarray:
        ids = self._tagged()
        return ids[(self.pop.programme[ids] == p.index) & (self.pop.stage[ids] == p.stage)]

    def _waiting(self) -> np.ndarray:
        """Ids of everyone on a waiting list (ascending)."""
        ids = self._tagged()
        return ids[self.pop.stage[ids] == _S.WAITING]

    def _enforce_limits(self) -> None:
        """Participants beyond a cut capacity or an exhausted budget leave, newest first."""
        pop = self.pop
        for p, slots, budgets in zip(self.regime.programmes, self.slots, self.budgets, strict=True):
            part = self._participants(p)
            shed = max(part.size - slots.capacity, 0)
            for payer, b in budgets.items():
                keep = min(part.size - shed, b.affordable(p.budget_charge[payer]))
                shed = max(shed, part.size - keep)
            if shed:
                newest = part[np.lexsort((-part, pop.months_in_stage[part]))][:shed]
                moves.leave_programme(self, newest, p, completed=False, reason="cut")

    def _spend(self) -> None:
        """Each programme pays this month's participants from its budgets."""
        for p, slots, budgets in zip(self.regime.programmes, self.slots, self.budgets, strict=True):
            n = self._participants(p).size
            slots.occupied = n
            for payer, b in budgets.items():
                b.spend(n * p.budget_charge[payer])

    # ----------------------------------------------------------------- 4. forced moves
    def _forced(self) -> None:
        pop, r = self.pop, self.regime
        st = pop.stage
        lo, hi = np.searchsorted(self._retire_sorted, [self.t, self.t + 1])
        old = self._retire_order[lo:hi]
        old = old[st[old] < _S.OTHER]
        if old.size:
            in_prog = (pop.programme[old] >= 0) & (st[old] >= _S.COACHING) & (st[old] <= _S.SUBSIDISED)
            for p in r.programmes:  # participants leave their programme, counted as a pension exit
                leaving = old[in_prog & (pop.programme[old] == p.index)]
                moves.leave_programme(self, leaving, p, completed=False, reason="pension", to=int(_S.OTHER))
            moves.move(self, old[~in_prog], _S.OTHER)
        # UI exhausted, or registered long enough: into the guarantee (also people in
        # municipal coaching, training or education: they stay registered); 450 JOB days: Fas 3.
        if self.compiled:
            enter, to_fas3 = kernels.guarantee_moves(
                st, self._moved, pop.in_guarantee, pop.ui_entitled, pop.ui_days, pop.children, pop.registered,
                pop.months_out_of_work, pop.job_days, float(r.ui_days_max), float(r.ui_days_max_with_child),
                int(r.job_entry_months), np.float32(r.job_days_to_fas3))
        else:
            enter, to_fas3 = self._guarantee_moves_numpy()
        pop.ui_entitled[enter] = False
        pop.in_guarantee[enter] = True
        moves.move(self, enter[st[enter] == _S.OPEN], _S.JOB)
        moves.move(self, to_fas3, _S.FAS3)
        waiting = self._waiting()
        waiting = waiting[~self._moved[waiting]]
        for p in r.programmes:
            part = self._participants(p)
            part = part[~self._moved[part]]
            w = waiting[pop.programme[waiting] == p.index]
            if not p.active:
                moves.leave_programme(self, part, p, completed=False, reason="closed")
                moves.leave_queue(self, w)
                continue
            done = part[pop.months_in_stage[part] >= p.max_duration_months]
            moves.leave_programme(self, done, p, completed=True, reason="completed")
            if p.max_wait_months is not None:
                moves.leave_queue(self, w[pop.months_in_stage[w] >= p.max_wait_months])

    def _guarantee_moves_numpy(self) -> tuple[np.ndarray, np.ndarray]:
        """Who enters the guarantee and who passes into Fas 3 this month (the reference of
        :func:`sim.engine.kernels.guarantee_moves`)."""
        pop, r = self.pop, self.regime
        cand = self._select(_BEFORE_GUARANTEE)
        cand = cand[~pop.in_guarantee[cand]]
        limit = np.where(pop.children[cand] > 0, r.ui_days_max_with_child, r.ui_days_max)
        exhausted = pop.ui_entitled[cand] & (pop.ui_days[cand] >= limit)
        long_reg = pop.registered[cand] & (pop.months_out_of_work[cand] >= r.job_entry_months) & ~pop.ui_entitled[cand]
        to_fas3 = self._select(_JOB_ONLY)
        return cand[exhausted | long_reg], to_fas3[pop.job_days[to_fas3] >= r.job_days_to_fas3]

    # ----------------------------------------------------------------- 5. hazards
    def _origin_row(self, ids: np.ndarray) -> np.ndarray:
        """The unemployment stage whose hazards apply to people waiting or in a programme."""
        pop = self.pop
        g = pop.in_guarantee[ids]
        return np.where(g, np.where(pop.job_days[ids] >= self.regime.job_days_to_fas3, _S.FAS3, _S.JOB), _S.OPEN)

    def _hazards(self) -> None:
        """Competing-risk exits of everyone not moved this month.

        Each person gets a row of hazards: their stage's base row; for people waiting, the
        row of the stage they wait from; for programme participants, the programme's row.
        The work, studies and dropout hazards are scaled per person; the total decides who
        leaves, and leavers choose a destination in proportion to their hazards.
        """
        leavers, dest, lrow = self._hazard_draws_compiled() if self.compiled else self._hazard_draws()
        if leavers.size == 0:
            return
        in_prog = lrow >= len(Stage)
        plain = np.flatnonzero(~in_prog)
        if (dest[plain] == DROPOUT).any():
            raise AssertionError("dropout outside a programme")
        moves.move(self, leavers[plain], dest[plain])
        if in_prog.any():
            present = np.bincount(lrow[in_prog] - len(Stage), minlength=len(self.regime.programmes))
            for i in np.flatnonzero(present):
                sel = lrow == len(Stage) + i
                moves.leave_programme(self, leavers[sel], self.regime.programmes[i],
                                      completed=False, reason="exit", to=dest[sel])

    def _hazard_draws_compiled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_hazard_draws` as one compiled pass (:func:`sim.engine.kernels.hazard_pass`)."""
        pop, hr = self.pop, self.regime.hazard_rows
        return kernels.hazard_pass(
            pop.stage, self._moved, pop.programme, pop.in_guarantee, pop.job_days, self.work_mult,
            self.studies_mult, pop.months_out_of_work, pop.months_since_programme, pop.last_programme,
            pop.effect_at_exit, pop.motivation, hr.table, hr.constant_total, hr.work_base, hr.lock_in,
            hr.is_programme, self._stage_work, self._duration, self._decay, np.float32(self.regime.job_days_to_fas3),
            self.streams.base("transition", self.t), self.streams.base("destination", self.t))

    def _hazard_draws(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Who leaves their stage this month, to where, and from which hazard row (numpy).

        Returns the leavers' ids (ascending), destination codes and hazard rows. Only
        leavers get a full row of hazards to choose a destination from.
        """
        pop, hr = self.pop, self.regime.hazard_rows
        st = pop.stage
        ids = np.flatnonzero((st < _S.OTHER) & ~self._moved)  # OTHER and NOT_ARRIVED are last
        empty = np.zeros(0, np.int64)
        if ids.size == 0:
            return empty, empty.astype(np.int16), empty.astype(np.int16)
        s = st[ids]
        row = s.astype(np.int16)
        special = np.flatnonzero((s == _S.WAITING) | ((s >= _S.COACHING) & (s <= _S.SUBSIDISED)))
        origin = None
        if special.size:
            sp = ids[special]
            origin = self._origin_row(sp)
            prog = pop.programme[sp]
            in_prog = (prog >= 0) & (s[special] != _S.WAITING)
            row[special] = np.where(s[special] == _S.WAITING, origin, row[special])
            row[special[in_prog]] = len(Stage) + prog[in_prog]
        total = np.take(hr.constant_total, row)
        scaled: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # column -> (positions, hazards)
        # work: base x attributes x latent type x duration x after-effect (x lock-in x motivation)
        base_work = np.take(hr.work_base, row)
        if origin is not None:
            use_origin = np.isnan(base_work[special])
            base_work[special[use_origin]] = self._stage_work[origin[use_origin]]
        pos = np.flatnonzero(base_work > 0)
        if pos.size:
            w_ids = ids[pos]
            w = base_work[pos] * self.work_mult[w_ids]
            w *= self._duration[np.minimum(pop.months_out_of_work[w_ids], self._duration.size - 1)]
            since = pop.months_since_programme[w_ids]
            after = np.flatnonzero(since < 30000)
            if after.size:
                a_ids = w_ids[after]
                lp = np.maximum(pop.last_programme[a_ids], 0)
                decay = self._decay[lp, np.minimum(since[after], self._decay.shape[1] - 1)]
                w[after] *= after_effect(pop.effect_at_exit[a_ids], decay)
            in_p = np.flatnonzero(hr.is_programme[row[pos]])
            if in_p.size:
                w[in_p] *= hr.lock_in[row[pos[in_p]]] * pop.motivation[w_ids[in_p]]
            scaled[_S.WORK] = (pos, w)
        if hr.table[:, _S.STUDIES].any():
            studies = np.take(hr.table[:, _S.STUDIES], row)
            pos = np.flatnonzero(studies > 0)
            if pos.size:
                scaled[_S.STUDIES] = (pos, studies[pos] * self.studies_mult[ids[pos]])
        if hr.table[:, DROPOUT].any():  # only programme rows have dropout
            drop = np.take(hr.table[:, DROPOUT], row)
            pos = np.flatnonzero(drop > 0)
            if pos.size:
                scaled[DROPOUT] = (pos, drop[pos] / np.maximum(pop.motivation[ids[pos]], np.float32(0.05)))
        for pos, h in scaled.values():
            total[pos] += h
        leave = np.flatnonzero(self.streams.uniform("transition", self.t, ids) < leave_probability(total))
        if leave.size == 0:
            return empty, empty.astype(np.int16), empty.astype(np.int16)
        haz = hr.table[row[leave]].copy()
        for col in (_S.WORK, _S.STUDIES, DROPOUT):
            haz[:, col] = 0.0
        for col, (pos, h) in scaled.items():
            at = np.searchsorted(pos, leave)
            hit = (at < pos.size) & (pos[np.minimum(at, pos.size - 1)] == leave)
            haz[hit, col] = h[at[hit]]
        leavers = ids[leave]
        dest = choose_destination(haz, _DESTINATIONS, self.streams.uniform("destination", self.t, leavers))
        return leavers, dest, row[leave]

    # ----------------------------------------------------------------- 6. referrals
    def _referrals(self) -> None:
        pop = self.pop
        for p, spec in zip(self.regime.programmes, self.spec.programmes, strict=True):
            if not p.active or p.referral_rate <= 0 or p.slots == 0:
                continue  # a programme without places takes no referrals
            el = spec.eligibility
            cand = self._select(self._stage_table(el.stages))
            # Draw first (few are referred in a month), then check eligibility on those drawn:
            # draws are keyed by person, so this is the same as drawing for the eligible only.
            u = self.streams.uniform("referral/" + p.name, self.t, cand)
            cand = cand[u < p.referral_rate]
            if cand.size == 0:
                continue
            ok = self._meets(el, cand, stages=False)  # candidates are in el.stages already
            if not el.allow_repeat:
                ok &= (pop.started[cand] & np.uint32(1 << p.index)) == 0
            if el.any_of:
                ok &= np.logical_or.reduce([self._meets(group, cand) for group in el.any_of])
            moves.refer(self, cand[ok], p)

    def _meets(self, c: Criteria, ids: np.ndarray, *, stages: bool = True) -> np.ndarray:
        """Whether each of ``ids`` meets the referral conditions ``c`` (without its stages if
        ``stages`` is false)."""
        pop = self.pop
        age = pop.age_years(self.month, ids)
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
            ok &= self._stage_table(c.stages)[pop.stage[ids]]
        return ok

    @staticmethod
    def _stage_table(names: Sequence[str]) -> np.ndarray:
        """A bool per stage code: whether it is one of the stages ``names``."""
        table = np.zeros(len(Stage), bool)
        table[[Stage[n.upper()] for n in names]] = True
        return table

    # ----------------------------------------------------------------- 7. intake
    def _intake(self) -> None:
        pop = self.pop
        waiting_all = self._waiting()
        months_left = self._months_left_in_budget_year()
        for p, spec, slots, budgets in zip(self.regime.programmes, self.spec.programmes, self.slots,
                                          self.budgets, strict=True):
            if not p.active:
                continue
            w = waiting_all[pop.programme[waiting_all] == p.index]
            if w.size == 0:
                continue
            part = self._participants(p)
            slots.occupied = part.size
            affordable = np.iinfo(np.int64).max
            for payer, b in budgets.items():
                cost = p.budget_charge[payer]
                remaining = np.minimum(p.max_duration_months - pop.months_in_stage[part], months_left)
                committed = cost * float(np.maximum(remaining, 0).sum())
                affordable = min(affordable, b.room(committed, cost * min(p.max_duration_months, months_left)))
            k = admissible(w.size, slots.free, p.starts_cap, affordable)
            if k == 0:
                continue
            groups = [moves.priority_mask(self, w, g) for g in spec.priority]
            order = priority_order(groups, pop.months_in_stage[w], w)
            admitted = w[order[:k]]
            slots.occupy(k)
            moves.admit(self, admitted, p)

    def _months_left_in_budget_year(self) -> int:
        """Months from next month to the end of its budget year (people admitted now start then)."""
        first = self.spec.calendar.budget_year_start_month - 1
        return (first - (self.month + 1)) % 12 or 12

    @property
    def people(self) -> int:
        """People in the population (arrived or not)."""
        return len(self.pop)

