"""The state of a batch of runs (:mod:`sim.engine.batch`): blocks of people, their streams and
their programme values, places and budgets.

:class:`BatchState` is what the batch's sub-steps (:mod:`sim.engine.batch_month`) and the ordinary
moves (:mod:`sim.engine.moves`) share, as a :class:`~sim.engine.state.RunState` is for one run;
:class:`BlockStreams` gives each block its own seed's draws; :func:`check_batchable` says whether
scenarios can be blocks of one batch. It may import what :mod:`sim.engine.state` imports, the
state's kernels and the batch's recorder; never the model, the moves or the sub-steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.accounts.jit import kernel, run
from sim.engine.batch_records import BatchRecorder
from sim.engine.capacity import OverspendError
from sim.engine.hazards import decay_table, duration_factor, regrouped, static_multipliers
from sim.engine.in_force import ProgrammeRegime, Regime, reform_months, regime_at, with_transitions
from sim.engine.population import (
    Population,
    ResourceError,
    _arrivals,
    _available_bytes,
    _draw,
    _empty,
    check_fits,
    memory_estimate,
    synthesise,
)
from sim.engine.state import WaitingLists, select, tagged_groups
from sim.engine.streams import _GOLDEN, Streams, _mix, _stream_id, draw
from sim.scenario.dated import Month
from sim.scenario.schema import Scenario
from sim.scenario.stages import Stage

__all__ = ["BatchState", "BlockStreams", "check_batchable", "BatchError"]

_S = Stage
_NS = len(Stage)
_WAITING_CODE = int(Stage.WAITING)
_MASK = 0xFFFFFFFFFFFFFFFF
#: programme values kept per block and programme (float64 unless noted in _INT_VALUES)
_VALUES = ("slots", "starts_cap", "referral_rate", "max_duration_months", "motivation_loss", "lock_in",
           "effect_after", "fade_months", "completion_to_work", "staff_cost_per_month")
_INT_VALUES = ("slots", "starts_cap", "max_duration_months")
_NO_CAP = np.iinfo(np.int64).max
#: fields of a programme that may differ between blocks (numbers the engine reads per block)
_PROGRAMME_NUMBERS = ("referral_rate_per_month", "capacity", "max_duration_months",
                      "motivation_loss_per_waiting_month", "exit_rates_per_month", "lock_in_hazard_ratio",
                      "effect_after_hazard_ratio", "effect_fade_months", "completion_to_work_share",
                      "wage_sek_per_month", "wage_subsidy_share_of_wage_cost", "wage_subsidy_max_sek_per_month",
                      "production_value_share_of_wage_cost", "cost_sek_per_participant_month",
                      "staff_cost_sek_per_month", "cost_sek_per_staff_month", "budget_sek_per_year",
                      "start_month", "end_month", "title")


def _readonly(a: np.ndarray) -> np.ndarray:
    """``a`` contiguous and read-only, as an ordinary run's hazard table is: numba types a
    read-only array apart, and the hazard pass would otherwise be compiled twice (~4 CPU-s)."""
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


class BatchError(ValueError):
    """Scenarios that cannot run as blocks of one batch."""


#: what of a scenario no run reads: its texts, its goals (read by the comparison) and where its
#: calibrated values come from (drawn before the run, :mod:`sim.runs.posterior`)
_NOT_RUN = ("name", "title", "description", "goals", "parameters")
#: rules the blocks of a batch may differ in: each block's are read from its own regime (the exit
#: rates after Fas 3 closed, so that a comparison's sensitivity line of them shares a model with
#: the other re-runs)
_BLOCK_RULES = ("fas3_rates_after_closure",)
#: the latest scenarios' :func:`_dumped` (each kept with its scenario, so that no id is reused)
_DUMPED: dict[int, list[Any]] = {}  # id -> [scenario, doc, composition, shape or None]
_DUMPED_MAX = 256  # (~30 KB of dump each, and the scenario kept alive)


def _dumped(scenario: Scenario) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the parameters in force (:func:`~sim.engine.in_force.regime_at`) are made of, and the
    population composition: the scenario without what no run reads (:data:`_NOT_RUN`) and its
    composition (scenarios equal in it have the same regimes), and the composition (read-only;
    made once per scenario object: a batch's checks and its state ask for the same ones)."""
    entry = _entry(scenario)
    return entry[1], entry[2]


def _entry(scenario: Scenario) -> list[Any]:
    """The scenario's entry in :data:`_DUMPED`, made if missing."""
    found = _DUMPED.get(id(scenario))
    if found is not None and found[0] is scenario:
        return found
    doc = scenario.model_dump(mode="json")
    for k in _NOT_RUN:
        doc.pop(k, None)
    comp = (doc.get("population") or {}).pop("composition", None) or {}
    if len(_DUMPED) >= _DUMPED_MAX:
        _DUMPED.pop(next(iter(_DUMPED)))
    entry = _DUMPED[id(scenario)] = [scenario, doc, comp, None]
    return entry


def _in_force(scenario: Scenario) -> dict[str, Any]:
    return _dumped(scenario)[0]


@dataclass
class _Resolved:
    """What a batch worked out from its scenarios' dated values, by the text of the scenario's
    in-force document (``repr`` of :func:`_in_force`: equal texts, equal regimes).

    The latest batch's is kept (:data:`_latest`) and a new batch starts from the entries of its own
    texts: a comparison's a-kassa re-runs differ from its first model's runs only in their
    composition, so they take its regimes (~0.05 CPU-s of the main job) instead of resolving the
    same values again. Only one batch's are kept: a calibration's particles never recur.
    """

    #: (text, month) -> the regime in force
    regimes: dict[tuple[str, Month], Regime]
    #: id of a regime -> the regime (kept alive, so no id is reused) and its :func:`_money_key`
    money_keys: dict[int, tuple[Regime, object]]
    #: text -> the months at which a value changes (:func:`~sim.engine.in_force.reform_months`)
    reforms: dict[str, list[Month]]

    def carried(self, texts: set[str]) -> _Resolved:
        """The entries of ``texts`` (a new batch's start)."""
        regimes = {k: r for k, r in self.regimes.items() if k[0] in texts}
        return _Resolved(regimes, {id(r): self.money_keys[id(r)] for r in regimes.values() if id(r) in self.money_keys},
                         {t: m for t, m in self.reforms.items() if t in texts})


_latest = _Resolved({}, {}, {})


def _shape(scenario: Scenario) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What every block of a batch must share: the scenario without what no run reads (its texts,
    goals and calibration source: :data:`_NOT_RUN`), its population without its composition
    (drawn per block), its transitions without their rates (but with which move has one), its
    rules without those read per block (:data:`_BLOCK_RULES`); and, apart, its programmes without
    their numbers (but with the payers of their costs and budgets), of which a block may have the
    first few only (made once per scenario object)."""
    entry = _entry(scenario)
    if entry[3] is not None:
        return entry[3]
    doc = dict(entry[1])  # (a copy: the dump is shared)
    doc["transitions"] = {src: sorted(dests) for src, dests in (doc.get("transitions") or {}).items()}
    doc["rules"] = {k: v for k, v in (doc.get("rules") or {}).items() if k not in _BLOCK_RULES}
    progs = []
    for p in doc.pop("programmes"):
        keys = {k: sorted(p[k] or {}) for k in ("exit_rates_per_month", "cost_sek_per_participant_month",
                                                 "budget_sek_per_year")}
        keys["wage"] = p["wage_sek_per_month"] is None
        keys["wage_subsidy_max"] = p["wage_subsidy_max_sek_per_month"] is None
        progs.append({**{k: v for k, v in p.items() if k not in _PROGRAMME_NUMBERS}, **keys})
    entry[3] = (doc, progs)
    return doc, progs


def shape_key(scenario: Scenario, *, programmes: bool = True) -> str:
    """Text equal for scenarios equal in what the blocks of a batch must share (:func:`_shape`,
    programmes and their numbers' keys included): scenarios with equal keys are batchable.
    Without ``programmes``: equal for scenarios that differ at most in their programmes (which
    may still share a batch: see :func:`check_batchable`)."""
    import json

    shape = _shape(scenario)
    return json.dumps(shape if programmes else shape[0], sort_keys=True, default=str)


def reference(scenarios: Sequence[Scenario]) -> int:
    """The block whose scenario has every programme of the batch (the first with the most)."""
    n = [len(sc.programmes) for sc in scenarios]
    return n.index(max(n))


def check_batchable(scenarios: Sequence[Scenario]) -> None:
    """Refuse scenarios that cannot be blocks of one batch: they must be equal but for their
    programmes' numbers, transition rates, population composition and the rules read per block
    (:data:`_BLOCK_RULES`), and each one's programmes
    must be the first of the programmes of the one with the most (a baseline without the
    programme and the scenario with it share a batch; in a block without a programme, it is
    closed).

    Raises:
        BatchError: naming the first scenario and the first top-level key that differs.
    """
    if not scenarios:
        raise BatchError("a batch needs at least one scenario")
    ref = reference(scenarios)
    first, progs = _shape(scenarios[ref])
    seen: dict[int, bool] = {id(scenarios[ref]): True}
    for i, sc in enumerate(scenarios):
        if id(sc) in seen:
            continue
        seen[id(sc)] = True
        other, own = _shape(sc)
        if other != first or own != progs[:len(own)]:
            key = next((k for k in sorted(set(first) | set(other)) if first.get(k) != other.get(k)), "programmes")
            raise BatchError(f"scenario {i} ({sc.name!r}) differs from scenario {ref} ({scenarios[ref].name!r}) "
                             f"in {key!r}: blocks of a batch may differ only in their programmes' numbers "
                             "(and have the first few of the programmes), transition rates, population "
                             "composition and the exit rates after Fas 3 closed")


@kernel
def block_uniform(ids, block, offsets):  # noqa: ANN001, ANN201
    """:meth:`BlockStreams.uniform` in one pass: person ``ids[j]``'s draw from their block's
    shifted offset (:func:`~sim.engine.streams.draw`, the bits and scaling of
    :meth:`Streams.uniform`)."""
    out = np.empty(ids.size)
    for j in range(ids.size):
        i = ids[j]
        out[j] = draw(offsets[block[i]], i)
    return out


class BlockStreams(Streams):
    """:class:`~sim.engine.streams.Streams` for a population of blocks, each with its own seed.

    Global id ``first[b] + i`` draws what id ``i`` draws in a separate run seeded ``seeds[b]``:
    the block's stream offset is moved back by ``first[b]`` SplitMix64 steps.

    Args:
        seeds: one non-negative seed per block.
        first: where each block starts, and the end (``len(seeds) + 1`` ascending ids).
        compiled: draw uniforms in one compiled pass (:func:`block_uniform`) or with numpy.
    """

    #: months of offsets worked out at once per stream (the months a run asks for, in order)
    _AHEAD = 128

    def __init__(self, seeds: Sequence[int], first: np.ndarray, *, compiled: bool = True) -> None:
        own: dict[int, int] = {}
        for s in seeds:
            if s not in own:
                own[s] = Streams(s).key  # (the same check of each seed)
        self.seed = int(seeds[0])
        self.seeds = [int(s) for s in seeds]
        self.keys = np.array([own[s] for s in seeds], np.uint64)
        self.first = first
        self.compiled = compiled
        self.block = np.repeat(np.arange(len(self.seeds), dtype=np.int64), np.diff(first))
        self._shift = first[:-1].astype(np.uint64) * _GOLDEN
        self._mixed: dict[str, np.ndarray] = {}
        self._months: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # stream -> bases, offsets [month, block]

    def _table(self, stream: str, month: int) -> tuple[np.ndarray, np.ndarray]:
        """Every block's bases and offsets of ``stream`` for months 0 .. at least ``month``
        (the same numbers as month by month): the first time a stream is asked for, up to
        ``month`` only (the population's streams are read in month 0 only, ~20 of them: a table
        of :data:`_AHEAD` months for each cost a third of a batch's construction); after that,
        many months at once."""
        found = self._months.get(stream)
        if found is not None and month < found[0].shape[0]:
            return found
        x = self._mixed.get(stream)
        if x is None:
            x = self._mixed[stream] = _mix(self.keys ^ np.uint64(_stream_id(stream)))
        months = np.arange(month + 1 if found is None else max(month + 1, self._AHEAD), dtype=np.uint64)
        bases = _mix(((months + np.uint64(1)) * _GOLDEN)[:, None] + x[None, :])
        found = self._months[stream] = (bases, bases - self._shift)
        return found

    def bases(self, stream: str, month: int) -> np.ndarray:
        """Each block's stream offset in ``month`` (:meth:`Streams.base` of its seed)."""
        return self._table(stream, month)[0][month]

    def offsets(self, stream: str, month: int) -> np.ndarray:
        """Each block's offset shifted so that global ids draw as ids inside the block."""
        return self._table(stream, month)[1][month]

    def base(self, stream: str, month: int) -> np.uint64:  # noqa: D102 - one offset has no meaning here
        raise TypeError("a batch has one stream offset per block: use offsets()")

    def bits(self, stream: str, month: int, ids: np.ndarray) -> np.ndarray:
        """64 random bits per person (global ids), as their block's run would draw them."""
        z = ids.astype(np.uint64, copy=True)
        z += np.uint64(1)
        z *= _GOLDEN
        z += self.offsets(stream, month)[self.block[ids]]
        return _mix(z)

    def uniform(self, stream: str, month: int, ids: np.ndarray) -> np.ndarray:
        """Uniform draws in [0, 1), one per person (global ids), as their block's run draws them."""
        if not self.compiled:
            return super().uniform(stream, month, ids)
        return block_uniform.compiled(np.asarray(ids, np.int64), self.block, self.offsets(stream, month))


def _money_key(r: Regime) -> object:
    """Equal for regimes whose money rules (rates and programme money) are equal."""
    pm = r.programme_money

    def key(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return (v.dtype.str, v.shape, v.tobytes())
        if isinstance(v, dict):
            return tuple(sorted((k, key(x)) for k, x in v.items()))
        return v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)

    return (tuple(sorted((k, key(v)) for k, v in vars(r.money).items())),
            tuple((f, key(getattr(pm, f))) for f in pm.__dataclass_fields__))


@dataclass(frozen=True)
class BatchHazardRows:
    """Every block's hazard rows in one table (the arrays of
    :func:`~sim.engine.month.exits.hazard_pass`, one pass over every block): the stage rows of each
    distinct set of transition rates (``len(Stage)`` rows each; blocks with the same rates share
    theirs), then every block's programme rows, from row ``prog0``. Block ``b``'s stage rows start
    at ``srows[b]``; its programme rows at ``prog0 + prows[b]``."""

    table: np.ndarray
    constant_total: np.ndarray
    work_base: np.ndarray
    lock_in: np.ndarray
    is_programme: np.ndarray
    stage_work: np.ndarray  #: each set's stage work rates (``len(Stage)`` a set, as the table's)
    srows: np.ndarray
    prog0: np.int64


class BatchState(WaitingLists):
    """Everything a batch's sub-steps share; the ordinary moves (:mod:`sim.engine.moves`) take it
    as they take a :class:`~sim.engine.state.RunState`.

    ``regime`` is the reference block's (:func:`reference`, the one with every programme): the
    values every block shares (rules, money rates) and the list of programmes are read from it;
    programme values are read per block from :attr:`values`, the hazard rows from
    :attr:`hazard` (one table: blocks with the same transition rates share their stage rows). The
    spread of employability is each person's, drawn with them (:func:`_synthesise`).
    """

    def __init__(self, scenarios: Sequence[Scenario], seeds: Sequence[int], *, record_events: bool | Sequence[bool],
                 compiled: bool, member_shares: Sequence[float] = ()) -> None:
        if len(scenarios) != len(seeds):
            raise ValueError(f"{len(scenarios)} scenarios for {len(seeds)} seeds")
        #: other a-kassa shares at entry every block's money is booked under too (as a run's:
        #: :class:`~sim.engine.state.RunState`)
        self.member_shares = tuple(float(v) for v in member_shares)
        docs = {id(sc): _in_force(sc) for sc in scenarios}
        check_batchable(scenarios)
        self.specs = list(scenarios)
        # scenarios equal but for their texts and composition share their regimes (one per month)
        same: dict[str, Scenario] = {}
        own: dict[int, tuple[str, str]] = {}
        for sc in scenarios:
            if id(sc) not in own:
                doc = docs[id(sc)]
                text = repr(doc)  # (dumps of one schema: keys in one order)
                # the same without the transition rates (a replication's posterior draw): see _regime_at
                rest = repr({k: v for k, v in doc.items() if k != "transitions"})
                own[id(sc)] = (text, rest)
                same.setdefault(text, sc)
        #: each block's scenario as far as its regimes go (one object for scenarios with the same regimes)
        self.regime_specs = [same[own[id(sc)][0]] for sc in scenarios]
        #: the text of each block's regimes (see :class:`_Resolved`), and of all in them but the
        #: transition rates (no full text equals one of these: they lack a key)
        self.regime_texts = [own[id(sc)][0] for sc in scenarios]
        self.rest_texts = [own[id(sc)][1] for sc in scenarios]
        global _latest
        self._resolved = _latest = _latest.carried(set(same) | set(self.rest_texts))
        #: the block whose scenario has every programme (its spec and regime are the batch's)
        self.ref = reference(scenarios)
        self.spec = scenarios[self.ref]
        events = ([bool(record_events)] * len(scenarios) if isinstance(record_events, (bool, np.bool_))
                  else [bool(e) for e in record_events])
        if len(events) != len(scenarios):
            raise ValueError(f"{len(events)} record_events for {len(scenarios)} scenarios")
        #: whether each block keeps its event log
        self.record_events = events
        self.compiled = compiled
        self.t = 0
        self.start: Month = self.spec.start_month
        self.horizon = self.spec.horizon_months
        self.blocks = len(scenarios)
        self.n_prog = len(self.spec.programmes)
        self.regimes: list[Regime] = [self._regime_at(b, self.start) for b in range(self.blocks)]
        one = check_fits(self.spec.population, self.start, self.horizon, any(events))
        need = memory_estimate(one * self.blocks, self.horizon, any(events))
        if need > 0.8 * _available_bytes():
            raise ResourceError(f"{self.blocks} blocks of {one:,} people need about {need / 2**30:,.1f} GiB of "
                                "memory: run fewer blocks at a time")
        self.first = np.arange(self.blocks + 1, dtype=np.int64) * one
        self.streams = BlockStreams(seeds, self.first, compiled=compiled)
        self.block = self.streams.block
        self.pop = _synthesise(self, one)
        #: where each block's programme rows start in the hazard table
        self.prows = np.arange(self.blocks, dtype=np.int64) * self.n_prog
        cap = int(np.ceil(self.spec.effects.duration_cap_years * 12))
        self.duration = duration_factor(np.arange(cap + 1, dtype=np.int16), self.spec.effects)
        self.counts_as_work = np.zeros(max(self.n_prog, 1), bool)
        for p in self.regime.programmes:
            self.counts_as_work[p.index] = p.counts_as_work
        self.work_mult = np.ones(len(self.pop), np.float32)
        self.studies_mult = np.ones(len(self.pop), np.float32)
        self._age_group = np.full(len(self.pop), 255, np.uint8)  # (none computed yet)
        self.moved = np.zeros(len(self.pop), bool)
        self.stage_total = np.zeros(0, np.int64)  # (each block's stocks are counted: see batch_month.record)
        #: each person's guarantee code this month (``sim.engine.month.sweep``), until the forced moves read it
        self.guarantee_code = np.zeros(0, np.uint8)
        self.guarantee_month = -1  # the month it was worked out in
        self._tag_cache: np.ndarray | None = None
        self._tags_version = 0  # how many times people were tagged
        #: people who left a programme, by month (see followed())
        self._left: dict[int, list[np.ndarray]] = {}
        #: participants and queues found since the last move (see _found_since_last_move)
        self._found: dict[tuple[int, int], np.ndarray] = {}
        self._found_when: tuple[int, int, int] = (-1, -1, -1)
        self._groups: tuple[np.ndarray, np.ndarray] | None = None  # see _grouped()
        self._counts: dict[int, np.ndarray] = {}  # see participants_per_block()
        self.track = np.zeros(0, np.int64)
        #: per programme: payers of its budgets; their levels and spending [block, payer]
        self.payers = [list(p.budget_per_year) for p in self.regime.programmes]
        self.level = [np.zeros((self.blocks, len(k))) for k in self.payers]
        self.spent = [np.zeros((self.blocks, len(k))) for k in self.payers]
        self._programme_arrays()
        for i in range(self.n_prog):
            self.level[i][:] = self.budget_per_year[i]
        self.rec = BatchRecorder(self.blocks, self.n_prog, self.first, record_events=events,
                                 member_shares=self.member_shares)
        pension = self.pop.birth_month + int(np.ceil(self.spec.rules.pension_age * 12)) - self.start
        retire_t = np.maximum(pension, self.pop.arrival_month - self.start)
        #: the people who retire in months 0 .. horizon (at pension age, or on arriving past it;
        #: the others never do in this run), by month, and by id within a month (a sort of
        #: those few, not of everyone)
        due = np.flatnonzero(retire_t <= self.horizon)
        self.retire_order = due[np.argsort(retire_t[due], kind="stable")]
        #: where the people who retire in month t start in retire_order (t = 0 .. horizon + 1)
        self.retire_bounds = np.searchsorted(retire_t[self.retire_order],
                                             np.arange(self.horizon + 2, dtype=retire_t.dtype))

    # ----------------------------------------------------------------- parameters in force
    def _regime_at(self, b: int, month: Month) -> Regime:
        """Block ``b``'s regime in force in ``month``: resolved once per distinct scenario text;
        blocks whose scenarios differ only in their transition rates (replications with their own
        posterior draws) share everything else (the programmes, money and rules resolved once;
        :func:`~sim.engine.in_force.with_transitions`)."""
        regimes = self._resolved.regimes
        key = (self.regime_texts[b], month)
        r = regimes.get(key)
        if r is None:
            shared = regimes.get((self.rest_texts[b], month))
            if shared is None:
                r = regimes[(self.rest_texts[b], month)] = regime_at(self.regime_specs[b], month)
            else:
                r = with_transitions(shared, self.regime_specs[b], month)
            regimes[key] = r
        return r

    def reform_months(self, b: int) -> list[Month]:
        """The months at which a value of block ``b``'s scenario changes."""
        text = self.regime_texts[b]
        found = self._resolved.reforms.get(text)
        if found is None:
            found = self._resolved.reforms[text] = reform_months(self.regime_specs[b])
        return found

    @property
    def regime(self) -> Regime:
        """The reference block's parameters in force (for the values all blocks share, and the
        programmes)."""
        return self.regimes[self.ref]

    def reform(self, month: Month, blocks: Sequence[int]) -> None:
        """Put in force the parameters of ``month`` for ``blocks`` (those with a reform then)."""
        for b in blocks:
            self.regimes[b] = self._regime_at(b, month)
        self._programme_arrays()

    def _programme_arrays(self) -> None:
        """Programme values per block and programme, the hazard rows and decay of every block
        (worked out once per distinct regime, then spread to its blocks)."""
        nb, npg = self.blocks, self.n_prog
        #: each block's guarantee days past which people leave at Fas 3's rates (its rules'
        #: ``fas3_rates_after_closure``: read per block, :data:`_BLOCK_RULES`)
        self.fas3_rate_days = np.array([r.fas3_rate_days for r in self.regimes], np.float32)
        # regimes that share their programmes and money (they differ at most in their transition
        # rates, which nothing here reads but the stage rows, found per block below)
        where: dict[tuple[int, int, int], int] = {}
        distinct: list[Regime] = []
        inv = np.empty(nb, np.int64)
        for b, r in enumerate(self.regimes):
            u = where.setdefault((id(r.programmes), id(r.money), id(r.programme_money)), len(distinct))
            if u == len(distinct):
                distinct.append(r)
            inv[b] = u
        nu = len(distinct)
        progs = [r.programmes for r in distinct]
        self.values: dict[str, np.ndarray] = {}
        #: per value and programme: the value if every block has the same one (else None), a
        #: Python number as a separate run's (compared with an array in the array's own dtype)
        self.same: dict[str, list[Any]] = {}
        for name in _VALUES:
            dtype = np.int64 if name in _INT_VALUES else np.float64
            arr = np.zeros((nu, npg), dtype)
            for u in range(nu):
                for p in progs[u]:
                    v = getattr(p, name)
                    arr[u, p.index] = _NO_CAP if v is None else v
            if name == "fade_months":
                for u in range(nu):
                    arr[u, len(progs[u]):] = 1.0  # (any number: nobody is in a programme a block lacks)
            self.values[name] = arr[inv]
            self.same[name] = [arr[0, i].item() if (arr[:, i] == arr[0, i]).all() else None for i in range(npg)]
        active = np.zeros((nu, npg), bool)  # a programme a block's scenario does not have is closed
        wage = np.zeros((nu, max(npg, 1)))  # (a column of zeros without programmes, as ProgrammeMoney.empty)
        for u, r in enumerate(distinct):
            for p in progs[u]:
                active[u, p.index] = p.active
            wage[u, :len(progs[u])] = r.programme_money.wage[:len(progs[u])]
        self.active, self.wage = active[inv], wage[inv]
        #: per programme: whether it is open in every block
        self.open_everywhere = [bool(x) for x in active.all(axis=0)]
        self.charge = [np.array([[progs[u][i].budget_charge[k] if i < len(progs[u]) else 0.0 for k in self.payers[i]]
                                 for u in range(nu)]).reshape(nu, len(self.payers[i]))[inv] for i in range(npg)]
        self.budget_per_year = [np.array([[progs[u][i].budget_per_year[k] if i < len(progs[u]) else 0.0
                                           for k in self.payers[i]] for u in range(nu)]
                                         ).reshape(nu, len(self.payers[i]))[inv] for i in range(npg)]
        for i in range(npg):
            if (self.values["slots"][:, i] < 0).any():
                raise ValueError("capacity must be a whole number >= 0")
        # every block has a row per programme of the batch: the reference's rows (of the same
        # month) stand in for the programmes a block does not have (nobody is in them)
        full = self.regime.hazard_rows
        fields = ("table", "constant_total", "work_base", "lock_in", "is_programme")
        rows = [[np.concatenate([getattr(r.hazard_rows, f)[_NS:], getattr(full, f)[_NS + len(ps):]])
                 for r, ps in zip(distinct, progs, strict=True)] for f in fields]
        prog = [np.stack(rs)[inv].reshape(nb * npg, *rs[0].shape[1:]) for rs in rows]
        sets: dict[bytes, int] = {}  # each distinct set of transition rates: its place
        stage_regimes: list[Regime] = []
        srows = np.empty(nb, np.int64)
        for b, r in enumerate(self.regimes):
            k = sets.setdefault(r.base.tobytes(), len(sets))
            if k == len(stage_regimes):
                stage_regimes.append(r)
            srows[b] = k * _NS
        stage_rows = [r.hazard_rows for r in stage_regimes]
        self.hazard = BatchHazardRows(
            _readonly(np.vstack([hr.table[:_NS] for hr in stage_rows] + [prog[0]])),
            *(np.concatenate([getattr(hr, f)[:_NS] for hr in stage_rows] + [arr]) for f, arr in
              zip(("constant_total", "work_base", "lock_in", "is_programme"), prog[1:], strict=True)),
            np.concatenate([r.base[:, _S.WORK] for r in stage_regimes]), srows, np.int64(len(stage_regimes) * _NS))
        fade = np.ones(max(nb * npg, 1), np.float32)
        fade[: nb * npg] = self.values["fade_months"].reshape(-1)
        distinct_fade, at = np.unique(fade, return_inverse=True)  # (a row of exponentials per value)
        self.decay = decay_table(distinct_fade, self.horizon + 1)[at]
        # blocks whose money rules are equal share one call of the rules (income support)
        keys: dict[object, int] = {}
        self.money_regimes: list[Regime] = []
        group = np.empty(nu, np.int64)
        for u, r in enumerate(distinct):
            found = self._resolved.money_keys.get(id(r))
            if found is None:
                found = self._resolved.money_keys[id(r)] = (r, _money_key(r))
            key = found[1]
            g = keys.get(key)
            if g is None:
                g = keys[key] = len(self.money_regimes)
                self.money_regimes.append(r)
            group[u] = g
        self.money_group = group[inv]

    def block_value(self, name: str, i: int, ids: np.ndarray) -> Any:
        """Programme ``i``'s value ``name`` for each of ``ids``, from their blocks; one number if
        every block has the same (as in a separate run: the same arithmetic, fewer numpy calls)."""
        same = self.same[name][i]
        return self.values[name][self.block[ids], i] if same is None else same

    def programme_value(self, p: ProgrammeRegime, name: str, ids: np.ndarray) -> Any:
        """Programme ``p``'s value ``name`` for each of ``ids``, from their blocks (see
        :meth:`block_value`)."""
        return self.block_value(name, p.index, ids)

    def wage_blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """Programmes' wages per block, ``wage[block, programme]``, and each person's block."""
        return self.wage, self.block

    # ----------------------------------------------------------------- changes
    @property
    def month(self) -> Month:
        """The absolute month being simulated."""
        return self.start + self.t

    def refresh_multipliers(self, ids: np.ndarray | None = None) -> None:
        """Recompute the (age-dependent) work and studies hazard multipliers of ``ids`` (default:
        everyone whose age group changed since theirs were computed, the yearly refresh, as
        :meth:`RunState.refresh_multipliers <sim.engine.state.RunState.refresh_multipliers>`)."""
        ids = regrouped(self.pop, self._age_group, ids, self.month)
        if isinstance(ids, np.ndarray) and ids.size == 0:
            return
        w, s = static_multipliers(self.pop, ids, self.spec.effects, self.month)
        self.work_mult[ids] = w
        self.studies_mult[ids] = s

    def new_budget_year(self) -> None:
        """Reset every block's budgets to this year's levels."""
        for i in range(self.n_prog):
            lv = self.budget_per_year[i]
            if (lv < 0).any() or np.isnan(lv).any():
                raise ValueError("budget must be >= 0")
            self.level[i][:] = lv
            self.spent[i][:] = 0.0

    def spend(self, i: int, amount: np.ndarray, k: int) -> None:
        """Pay ``amount`` (per block) from programme ``i``'s budget of payer ``k``."""
        remaining = self.level[i][:, k] - self.spent[i][:, k]
        if (amount < 0).any():
            raise ValueError("cannot spend a negative amount")
        over = amount > remaining + 1e-6
        if over.any():
            b = int(np.flatnonzero(over)[0])
            raise OverspendError(f"block {b}: spending {amount[b]:,.0f} SEK would overdraw {remaining[b]:,.0f} SEK")
        self.spent[i][:, k] += amount

    # ----------------------------------------------------------------- queries
    def run(self, k: Any, *args: Any) -> Any:
        """Call kernel ``k`` compiled or as plain Python."""
        return run(k, self.compiled, *args)

    def select(self, wanted: np.ndarray) -> np.ndarray:
        """Ids of people not moved this month whose stage is in ``wanted``."""
        return self.run(select, self.pop.stage, self.moved, wanted)

    def _found_since_last_move(self) -> dict[tuple[int, int], np.ndarray]:
        """Participants and queues found since the last move of someone tagged to a programme
        (emptied by any such move or tagging: every move is logged, and
        :meth:`BatchRecorder.log_events` counts those that move someone with a programme tag;
        stages and programme tags change only through moves and taggings, and a move of
        someone without a tag, who keeps none, changes no list)."""
        when = (self.t, self.rec.tagged_moves, self._tags_version)
        if when != self._found_when:
            self._found = {}
            self._groups = None
            self._counts = {}
            self._found_when = when
        return self._found

    def _grouped(self, i: int, stage: int) -> np.ndarray:
        """Ids (ascending) tagged to programme ``i`` in ``stage``: every programme's participants
        and queues are found at once, in one pass over the tagged (:func:`tagged_groups`), and
        kept until a move changes them."""
        self._found_since_last_move()  # forgets the groups after such a move
        if self._groups is None:
            self._groups = self.run(tagged_groups, self.tagged(), self.pop.programme, self.pop.stage, self.n_prog * _NS)
        ids, starts = self._groups
        g = i * _NS + stage
        return ids[starts[g]:starts[g + 1]]

    def participants(self, p: ProgrammeRegime) -> np.ndarray:
        """Ids of the participants of programme ``p`` in every block (ascending; do not change
        them in place)."""
        return self._grouped(p.index, int(p.stage))

    def participants_per_block(self, p: ProgrammeRegime) -> np.ndarray:
        """How many participants programme ``p`` has in each block (kept as the participants are;
        do not change it in place)."""
        self._found_since_last_move()
        n = self._counts.get(p.index)
        if n is None:
            n = self._counts[p.index] = self.per_block(self.participants(p))
        return n

    def queue(self, i: int) -> np.ndarray:
        """Ids of the people on programme ``i``'s waiting list in every block (ascending; do not
        change them in place): the people of :meth:`waiting` tagged to ``i``."""
        return self._grouped(i, _WAITING_CODE)

    def per_block(self, ids: np.ndarray) -> np.ndarray:
        """How many of ``ids`` are in each block."""
        return np.bincount(self.block[ids], minlength=self.blocks)


def _synthesise(state: BatchState, one: int) -> Population:
    """Every block's people, each block drawn from its own seed and its own scenario's composition
    (as :func:`synthesise` draws one run's); one pass over each run of neighbouring blocks with
    the same composition when the cohort has one composition."""
    spec, start, horizon = state.spec.population, state.start, state.horizon
    r = state.regime
    guarantee = (float(r.job_entry_months), float(state.spec.rules.benefit_days_per_month),
                 float(r.fas3_stock_days))
    wage = r.money.previous_wage_sek_per_month
    if spec.inflow is not None and spec.inflow.composition is not None:
        pops = [synthesise(sc.population, start, horizon, Streams(s), wage, guarantee=guarantee,
                           member_shares=state.member_shares)
                for sc, s in zip(state.specs, state.streams.seeds, strict=True)]
        return Population(**{f: np.concatenate([getattr(p, f) for p in pops]) for f in Population.__dataclass_fields__})
    arrival = _arrivals(spec, start, horizon)
    pop = _empty(one * state.blocks)
    pop.arrival_month[:] = np.tile(arrival, state.blocks)
    # blocks of each composition (but for employability's spread, each block's own) drawn
    # together, as a batch of their own (their own streams: a block's people are its run's)
    groups: dict[str, list[int]] = {}
    key: dict[int, str] = {}
    for b, sc in enumerate(state.specs):
        if id(sc) not in key:
            comp = dict(_dumped(sc)[1])
            comp.pop("employability_sd", None)
            key[id(sc)] = repr(comp)  # (dumps of one schema list their keys in one order)
        groups.setdefault(key[id(sc)], []).append(b)
    step = 1 << 16
    for blocks in groups.values():
        composition = state.specs[blocks[0]].population.composition
        sds = np.array([state.specs[b].population.composition.employability_sd for b in blocks], np.float32)
        spread = sds[0] if (sds == sds[0]).all() else None
        if len(groups) == 1:
            part, streams = pop, state.streams
        else:
            part = _empty(one * len(blocks))
            part.arrival_month[:] = np.tile(arrival, len(blocks))
            streams = BlockStreams([state.streams.seeds[b] for b in blocks],
                                   np.arange(len(blocks) + 1, dtype=np.int64) * one, compiled=state.compiled)
        for lo in range(0, len(part), step):
            hi = min(lo + step, len(part))
            here = spread if spread is not None else sds[np.arange(lo, hi) // one]
            _draw(part, lo, hi, composition, streams, wage, guarantee, spread=here, member_shares=state.member_shares)
        if part is not pop:
            at = (np.asarray(blocks, np.int64)[:, None] * one + np.arange(one)).reshape(-1)
            for f in Population.__dataclass_fields__:
                getattr(pop, f)[at] = getattr(part, f)
    return pop
