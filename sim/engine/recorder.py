"""What a run records while it runs: stocks, flows, events, queues, follow-ups.

The recorder gathers flat per-month numpy records (cheap to append) and builds tidy pandas
tables once, at the end (:mod:`sim.runs.results`). It never decides anything: callers hand
in the month, the population and the counts, so it needs neither the model nor the run's
state (it may import :mod:`sim.scenario`, :mod:`sim.accounts`, and the engine's population
and capacity).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np

from sim.accounts.book import LedgerBook, changed_income_related
from sim.accounts.payers import PAYERS
from sim.accounts.rules import ProgrammeMoney
from sim.engine.capacity import Budget, Slots
from sim.engine.population import Population
from sim.scenario.dated import Month
from sim.scenario.stages import PROGRAMME_STAGES, Stage, stage_in

__all__ = ["Recorder", "EXIT_REASONS"]

_NS = len(Stage)
_SUPPORT = 4  #: income-support codes of the follow-ups (none, assistance, UI, activity support)
EXIT_REASONS = ("completed", "exit", "dropout", "cut", "closed", "pension")
_PROG_STAGES = np.array(sorted(PROGRAMME_STAGES), np.uint8)
_IN_PROGRAMME = np.zeros(_NS, bool)
_IN_PROGRAMME[_PROG_STAGES] = True


def follow_up_cells(pop: Population, k: int, followed: np.ndarray, support: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """People ``k`` months after leaving a programme, and each one's follow-up cell
    (programme x stage x income support), as the follow-up records count them; ``followed``:
    ids (ascending) that include all of them, with their income support codes ``support``."""
    at = np.flatnonzero(pop.months_since_programme[followed] == k)
    sel = followed[at]
    lp = pop.last_programme[sel].astype(np.int64)
    return sel, (lp * _NS + pop.stage[sel]) * _SUPPORT + support[at]


def _pack_rows(rows: list[tuple[object, ...]]) -> list[tuple[str, object, object]] | None:
    """``rows`` (equal-length tuples) as one entry per position: the 1-D arrays of one dtype at a
    position concatenated, with their lengths; any other position as the list of its items.
    ``None`` if the rows are not all tuples of one length (kept as they are)."""
    if not rows or not all(type(r) is tuple and len(r) == len(rows[0]) for r in rows):
        return None
    packed: list[tuple[str, object, object]] = []
    for column in zip(*rows, strict=True):
        first = column[0]
        if (isinstance(first, np.ndarray) and first.ndim == 1
                and all(type(a) is np.ndarray and a.ndim == 1 and a.dtype == first.dtype for a in column)):
            packed.append(("a", np.concatenate(column), np.fromiter((a.size for a in column), np.int64, len(column))))
        else:
            packed.append(("o", list(column), None))
    return packed


def _unpack_rows(packed: list[tuple[str, object, object]]) -> list[tuple[object, ...]]:
    """The rows :func:`_pack_rows` packed (each array a view of its position's concatenation)."""
    columns = []
    for kind, values, sizes in packed:
        if kind == "a":
            ends = np.cumsum(sizes).tolist()  # type: ignore[arg-type]
            columns.append([values[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)])  # type: ignore[index]
        else:
            columns.append(values)
    return list(zip(*columns, strict=True))


#: Per-month lists a pickled :class:`Recorder` holds packed (see :meth:`Recorder.__getstate__`).
_PACKED = ("stocks", "events", "event_keys", "admitted", "follow_ups", "status_rows")


def rules_index(rules: Sequence[tuple[SimpleNamespace, ProgrammeMoney]]
                ) -> tuple[np.ndarray, list[tuple[SimpleNamespace, ProgrammeMoney]]]:
    """Each of ``rules`` (money rules, by object) as its index among the distinct ones, and those
    (the ``groups`` and ``rules`` of :func:`~sim.accounts.book.changed_income_related`)."""
    where: dict[tuple[int, int], int] = {}
    distinct: list[tuple[SimpleNamespace, ProgrammeMoney]] = []
    for m, pm in rules:
        if where.setdefault((id(m), id(pm)), len(distinct)) == len(distinct):
            distinct.append((m, pm))
    return np.array([where[(id(m), id(pm))] for m, pm in rules], np.int64), distinct


class Recorder:
    """Per-month records of one run."""

    def __init__(self, n_programmes: int, *, record_events: bool = True, member_shares: Sequence[float] = ()) -> None:
        self.n_programmes = n_programmes
        self.record_events = record_events
        self.stocks: list[np.ndarray] = []  # per month: people by stage (len(Stage))
        self.flows: dict[int, np.ndarray] = {}  # month -> (_NS * _NS) counts
        self.events: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        #: per batch of events: the movers' ledger keys and money rules in the first month booked
        #: after the move (what they are paid then; see :meth:`key_events`)
        self.event_keys: list[tuple[np.ndarray, SimpleNamespace, ProgrammeMoney]] = []
        self.queues: list[tuple[int, int, int, int, int, float]] = []  # t, prog, waiting, in, capacity, spent
        self.starts: dict[tuple[int, int], int] = {}
        #: programme starts person by person, if events are kept: batches of (months, programmes,
        #: ids); the events table reads which of its moves are starts from them (see :meth:`admissions`)
        self.admitted: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.exits: dict[tuple[int, int, str], int] = {}
        self.follow_ups: list[tuple[int, int, int, np.ndarray]] = []  # t, prog, k, counts by stage x support
        self.status_rows: list[tuple[Month, int, np.ndarray]] = []
        self.reforms: list[Month] = []
        self.ledger_book = LedgerBook()
        #: other a-kassa shares at entry the run's nets are worked out at too (``member_shares`` of
        #: :class:`~sim.engine.state.RunState`; :meth:`member_changes`)
        self.member_shares = tuple(member_shares)
        #: per month booked: its month, money rules and, per share, the keys of the people whose
        #: flag ``ui_income_related`` would differ at that share (see :meth:`member_changes`)
        self.changed: list[tuple[int, SimpleNamespace, ProgrammeMoney, list[np.ndarray]]] = []
        #: what :meth:`member_changes` gives, where already worked out (a batch's, for all its blocks)
        self.member_change: dict[float, np.ndarray] | None = None
        self.tracked_state: list[dict[str, np.ndarray | int]] = []
        self.tracked_money: list[tuple[int, np.ndarray, dict[tuple[str, str], np.ndarray]]] = []

    def record(self, t: int, counts: np.ndarray, tagged: np.ndarray, slots: Sequence[Slots],
               budgets: Sequence[dict[str, Budget]]) -> None:
        """Stocks and queues at the start of month ``t`` (after arrivals).

        Args:
            counts: people by stage (``RunState.stage_total``, kept by the moves).
            tagged: people tagged to each programme by stage (``[programme, stage]``).
        """
        self.stocks.append(counts)
        if self.n_programmes:
            waiting = tagged[:, Stage.WAITING]
            inside = tagged[:, _IN_PROGRAMME].sum(axis=1)
            for i in range(self.n_programmes):
                spent = sum(b.spent for b in budgets[i].values())
                self.queues.append((t, i, int(waiting[i]), int(inside[i]), slots[i].capacity, spent))

    def book(self, t: int, key: np.ndarray, money: SimpleNamespace, programme_money: ProgrammeMoney,
             extra: dict[tuple[str, str], float], *, compiled: bool = True) -> None:
        """The month's money flows: people's grouping keys under the rules in force, plus
        amounts that are not per person (see :class:`sim.accounts.rules.LedgerBook`; counted
        compiled or not as the run is)."""
        self.ledger_book.add(t, key, money, programme_money, extra, compiled=compiled)

    def book_changed(self, t: int, keys: list[np.ndarray], money: SimpleNamespace,
                     programme_money: ProgrammeMoney) -> None:
        """Month ``t``'s keys of the people whose flag ``ui_income_related`` would differ at each
        of :attr:`member_shares` (:meth:`book` books everyone's)."""
        self.changed.append((t, money, programme_money, keys))

    def member_changes(self, months: int) -> dict[float, np.ndarray]:
        """Per other a-kassa share: how much the run's net SEK ``[month, payer]`` (of
        :data:`~sim.accounts.payers.PAYERS`, over ``months``) would change at that share
        (:func:`~sim.accounts.book.changed_income_related`)."""
        if self.member_change is not None:
            return self.member_change
        out = {}
        groups, rules = rules_index([(m, pm) for _t, m, pm, _keys in self.changed])
        for k, share in enumerate(self.member_shares):
            keys = [ks[k] for *_, ks in self.changed]
            sizes = [x.size for x in keys]
            cells = np.repeat(np.array([t for t, *_ in self.changed], np.int64), sizes)
            out[share] = changed_income_related(cells, np.concatenate(keys) if keys else np.zeros(0, np.int64),
                                                np.repeat(groups, sizes), rules, months, PAYERS)
        return out

    @property
    def ledger(self) -> list[tuple[int, dict[tuple[str, str], float]]]:
        """``(t, {(payer, category): amount})`` per month booked."""
        return self.ledger_book.months()

    def tracked(self, t: int, pop: Population, ids: np.ndarray, postings: dict[tuple[str, str], np.ndarray]) -> None:
        """State and money of followed people in month ``t``."""
        self.tracked_state.append({
            "t": t, "person": ids, "stage": pop.stage[ids].copy(), "programme": pop.programme[ids].copy(),
            "months_in_stage": pop.months_in_stage[ids].copy(), "ui_entitled": pop.ui_entitled[ids].copy(),
            "ui_days": pop.ui_days[ids].copy(), "ui_income_related": pop.ui_income_related[ids].copy(),
            "in_guarantee": pop.in_guarantee[ids].copy(),
            "job_days": pop.job_days[ids].copy(), "motivation": pop.motivation[ids].copy(),
            "work_condition_months": np.bitwise_count(pop.work_history[ids]),
        })
        self.tracked_money.append((t, ids, postings))

    def moved(self, t: int, ids: np.ndarray, src: np.ndarray, dst: np.ndarray, prog: np.ndarray) -> None:
        """Count a batch of moves (and log them person by person if events are kept)."""
        self.flow_counts(t)[:] += np.bincount(src.astype(np.int64) * _NS + dst, minlength=_NS * _NS)
        self.log_events(t, ids, src, dst, prog)

    def flow_counts(self, t: int) -> np.ndarray:
        """Month ``t``'s moves so far, ``[src * len(Stage) + dst]`` (updated in place)."""
        flow = self.flows.get(t)
        if flow is None:
            flow = self.flows[t] = np.zeros(_NS * _NS, np.int64)
        return flow

    def log_events(self, t: int, ids: np.ndarray, src: np.ndarray, dst: np.ndarray, prog: np.ndarray) -> None:
        """Log a batch of moves person by person, if events are kept (flows counted already)."""
        if self.record_events:
            self.events.append((t, ids.astype(np.int64), src.astype(np.uint8), dst.astype(np.uint8),
                                prog.astype(np.int8)))

    def key_events(self, key: np.ndarray, money: SimpleNamespace, programme_money: ProgrammeMoney) -> None:
        """Give every batch of events not keyed yet the movers' ledger keys from ``key``
        (everyone's, this month) and the money rules in force: the state they are paid in after
        the move, from which the events table reads their income support."""
        for _t, ids, *_ in self.events[len(self.event_keys):]:
            self.event_keys.append((key[ids], money, programme_money))

    def started(self, t: int, prog: int, ids: np.ndarray) -> None:
        """Count programme starts (of the people ``ids``), and list them if events are kept."""
        self.starts[(t, prog)] = self.starts.get((t, prog), 0) + ids.size
        if self.record_events and ids.size:
            self.admitted.append((np.full(ids.size, t, np.int64), np.full(ids.size, prog, np.int64),
                                  ids.astype(np.int64)))

    def admissions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every programme start of the run person by person (if events are kept): month index,
        programme and person, in the order they were admitted.

        A start is a move from a waiting list into the programme's stage; a person who leaves
        a subsidised-job programme's list for an ordinary subsidised job makes the same move
        between stages and is not one."""
        if not self.admitted:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        t, prog, ids = (np.concatenate([a[j] for a in self.admitted]) for j in range(3))
        return t, prog, ids

    def exited(self, t: int, prog: int, reason: str, ids: np.ndarray) -> None:
        """Count programme exits (of the people ``ids``) by reason."""
        key = (t, prog, reason)
        self.exits[key] = self.exits.get(key, 0) + ids.size

    def reform(self, month: Month) -> None:
        """Note that parameters changed in ``month``."""
        self.reforms.append(month)

    def follow_up(self, t: int, pop: Population, months_after: Sequence[int], followed: np.ndarray,
                  support: np.ndarray) -> None:
        """Stage and income support of people k months after leaving each programme, for each k
        in ``months_after`` (after month ``t``'s moves); ``followed``: ids (ascending) that
        include all of them, with their income support (codes of
        :data:`sim.engine.month.follow_up.INCOME_SUPPORT`, one per id)."""
        if not self.n_programmes:
            return
        for k in months_after:
            sel, cells = follow_up_cells(pop, k, followed, support)
            if sel.size == 0:
                continue
            counts = np.bincount(cells, minlength=self.n_programmes * _NS * _SUPPORT)
            width = _NS * _SUPPORT
            for i in range(self.n_programmes):
                row = counts[i * width:(i + 1) * width]
                if row.any():
                    self.follow_ups.append((t, i, k, row))

    def status(self, month: Month, pop: Population) -> None:
        """Dated status of everyone who has started each programme."""
        for i in range(self.n_programmes):
            current = (pop.programme == i) & stage_in(pop.stage, _PROG_STAGES)
            past = (pop.last_programme == i) & (pop.stage != Stage.WAITING) | current
            self.status_rows.append((month, i, np.bincount(pop.stage[past], minlength=_NS)))

    # ------------------------------------------------------------------ pickling
    # A finished run's records are pickled when a replication is kept for a resume
    # (:mod:`sim.runs.partial`) or comes back from a worker. Pickle's cost is per object and
    # the per-month lists hold hundreds of small arrays, so each is packed into one array per
    # field (its rows restored as views, equal to the originals: same values, dtypes, order).
    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        packed = {}
        for name in _PACKED:
            rows = state[name] if name != "stocks" else [(a,) for a in state[name]]
            done = _pack_rows(rows)
            if done is not None:
                packed[name] = done
                del state[name]
        if self.flows and len({a.dtype for a in self.flows.values()}) == 1:
            months = list(self.flows)
            packed["flows"] = [("o", months, None), *(_pack_rows([(self.flows[t],) for t in months]) or [])]
            del state["flows"]
        state["_packed"] = packed
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        packed: dict[str, list[tuple[str, object, object]]] = state.pop("_packed", {})  # type: ignore[assignment]
        self.__dict__.update(state)
        for name, value in packed.items():
            if name == "flows":
                months, rows = value[0][1], _unpack_rows(value[1:])
                self.flows = {t: row[0] for t, row in zip(months, rows, strict=True)}  # type: ignore[call-overload]
            else:
                rows = _unpack_rows(value)
                setattr(self, name, [r[0] for r in rows] if name == "stocks" else rows)
