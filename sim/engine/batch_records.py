"""What a batch (:mod:`sim.engine.batch`) records: each month's counts for every block at once,
and, on request, one block's records as an ordinary :class:`~sim.engine.recorder.Recorder`.

Counts are kept as arrays over blocks (stocks ``[block, stage]``, queues ``[block, programme]``,
starts and exits per call), moves as one log of global ids (flows and the event log of a block
are read from it), follow-ups as the cells of the people followed, and the ledger as each
month's keys of everyone with each block's money rules. :meth:`BatchRecorder.block_run` turns
block ``b``'s share into exactly the records a separate run of it would have made. It may import
what :mod:`sim.engine.recorder` imports, and the recorder.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from itertools import repeat
from typing import Any

import numpy as np

from sim.accounts.book import LedgerBook, SharedPostings, changed_income_related, counted_keys
from sim.accounts.jit import kernel
from sim.accounts.payers import PAYERS
from sim.engine.month.follow_up import support_by_key
from sim.engine.population import Population
from sim.engine.recorder import Recorder, rules_index
from sim.scenario.dated import Month
from sim.scenario.schema import Scenario
from sim.scenario.stages import PROGRAMME_STAGES, Stage

__all__ = ["BatchRecorder", "BlockRun", "block_counts"]

_NS = len(Stage)
_SUPPORT = 4
_IN_PROGRAMME = np.zeros(_NS, bool)
_IN_PROGRAMME[sorted(PROGRAMME_STAGES)] = True


@dataclass
class BlockRun:
    """One block of a batch as a finished run: the attributes
    :meth:`sim.runs.results.RunResult.from_model` reads of a model."""

    spec: Scenario
    seed: int
    start: Month
    horizon: int
    pop: Population
    rec: Recorder
    track: np.ndarray


@kernel
def block_counts(stage, programme, first, n_programmes, in_programme, waiting_code):  # noqa: ANN001, ANN201
    """Everyone counted by block and stage, and the people on each programme's waiting list and
    in it by block (``[block, stage]``, ``[block, programme]`` twice), in one pass. (The counts
    are zeroed by loops: a 2-D ``np.zeros`` is ~0.17 CPU-s more for numba to compile on a
    machine's first run.)"""
    nb = first.size - 1
    ns = in_programme.size
    stocks = np.empty((nb, ns), np.int64)
    waiting = np.empty((nb, n_programmes), np.int64)  # (programme tags are < n_programmes)
    inside = np.empty((nb, n_programmes), np.int64)
    for b in range(nb):
        for s in range(ns):
            stocks[b, s] = 0
        for p in range(n_programmes):
            waiting[b, p] = 0
            inside[b, p] = 0
    for b in range(nb):
        for i in range(first[b], first[b + 1]):
            s = stage[i]
            stocks[b, s] += 1
            p = programme[i]
            if p >= 0:
                if s == waiting_code:
                    waiting[b, p] += 1
                elif in_programme[s]:
                    inside[b, p] += 1
    return stocks, waiting, inside


class BatchRecorder:
    """Per-month records of every block of a batch.

    Args:
        blocks: number of blocks; ``n_programmes``: programmes of the batch (a block may have
            the first few only: its records are of those).
        first: where each block's people start, and the end.
        record_events: whether each block keeps its event log (one flag for all, or one a block).
    """

    def __init__(self, blocks: int, n_programmes: int, first: np.ndarray, *,
                 record_events: bool | Sequence[bool], member_shares: Sequence[float] = ()) -> None:
        self.blocks = blocks
        #: other a-kassa shares at entry every block's nets are worked out at too (see
        #: :meth:`book`, :meth:`_member_changes`)
        self.member_shares = tuple(member_shares)
        #: per month booked, per share: the people whose flag ``ui_income_related`` would differ
        self.changed: list[list[tuple[np.ndarray, np.ndarray]]] = []  # (their ids and their keys)
        self._changes: list[dict[float, np.ndarray]] | None = None
        self.n_programmes = n_programmes
        self.first = first
        #: whether each block keeps its event log
        self.events = ([bool(record_events)] * blocks if isinstance(record_events, (bool, np.bool_))
                       else [bool(e) for e in record_events])
        #: whether any block does (then the last month's keys are kept: :attr:`final`)
        self.record_events = any(self.events)
        sizes = np.diff(first)
        #: blocks of more than ``LedgerBook.RAW_KEYS`` people and no event log: each month's keys are
        #: counted per block as they are booked (what each block's book would keep of them:
        #: :attr:`counted`), not kept for everyone (8 bytes a person-month: ~1 GB for 10^6 people
        #: over ten years); an event log reads the movers' keys, so it keeps everyone's
        self.counts_only = bool(sizes.size) and int(sizes.min()) > LedgerBook.RAW_KEYS and not self.record_events
        #: per month booked (where :attr:`counts_only`): each block's distinct keys and their counts
        self.counted: list[list[tuple[np.ndarray, np.ndarray]]] = []
        self._hash_bits = 12  # (the size of the table the last block's keys were counted in)
        self.block = np.repeat(np.arange(blocks, dtype=np.int64), np.diff(first))
        self._block_ns = self.block * _NS
        self.stocks: list[np.ndarray] = []  # per month: [block, stage]
        self.queues: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.moves: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.starts: list[tuple[int, int, np.ndarray]] = []  # t, programme, per block
        #: programme starts person by person, if any block keeps its events: t, programme, ids
        self.admitted: list[tuple[int, int, np.ndarray]] = []
        self._admitted_split: tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.exits: list[tuple[int, int, str, np.ndarray]] = []  # t, programme, reason, per block
        self.follow_ups: list[tuple[int, int, np.ndarray, np.ndarray]] = []  # t, k, block, cell of each followed
        #: follow-ups whose income support is not yet in their cells: per entry of follow_ups,
        #: where its people's keys are in _fu_keys (see follow_up)
        self._fu_pending: list[tuple[int, np.ndarray]] = []
        self._fu_keys: list[np.ndarray] = []  # the followed people's ledger keys, month by month
        self._fu_rules: list[tuple[Any, Any, int, np.ndarray]] = []  # money rules, key list, positions
        self._fu_n = 0  # keys kept so far
        self.status_rows: list[tuple[Month, int, np.ndarray]] = []  # date, programme, [block, stage]
        #: per month booked: t, everyone's keys (None where :attr:`counts_only`), each block's regime,
        #: staff costs and whether booked
        self.ledger: list[tuple[int, np.ndarray | None, list[Any], np.ndarray, np.ndarray]] = []
        self._flow = np.zeros(_NS * _NS, np.int64)  # the moves' own count (flows are read from the log)
        #: everyone's ledger key and each block's regime after the last month (set by the model)
        self.final: tuple[np.ndarray, list[Any]] | None = None
        self._split: tuple[np.ndarray, ...] | None = None
        #: month -> how many batches of moves were logged before its book (arrivals, cuts): their
        #: movers are keyed in that month, as a separate run keys them (:meth:`_event_keys`)
        self._before_book: dict[int, int] = {}
        #: batches of moves that moved someone tagged to a programme (on a waiting list or in
        #: one, before or after the move): only those, and taggings, change who is in a
        #: programme or on a waiting list (:meth:`BatchState.participants
        #: <sim.engine.batch_state.BatchState.participants>` keeps what it found until then)
        self.tagged_moves = 0
        #: the postings every block's ledger book shares (each distinct state posted once per batch)
        self.postings = SharedPostings(self._booked_keys)
        #: every block's months counted under each rules (see _counted_blocks), and for how many months
        self._counted: tuple[int, dict[tuple[int, int, int], tuple[list[int], Any, np.ndarray]]] | None = None

    # ----------------------------------------------------------------- during the run
    def record(self, t: int, counts: tuple[np.ndarray, np.ndarray, np.ndarray], capacity: np.ndarray,
               spent: Sequence[np.ndarray]) -> None:
        """Stocks and queues of every block at the start of month ``t`` (``counts``: of
        :func:`block_counts`)."""
        stocks, waiting, inside = counts
        self.stocks.append(stocks)
        if self.n_programmes:
            self.queues.append((t, waiting, inside, capacity.copy(), np.stack(spent, axis=1)))

    def book(self, t: int, key: np.ndarray, regimes: list[Any], staff: np.ndarray, booked: np.ndarray,
             changed: list[np.ndarray] | None = None) -> None:
        """Month ``t``'s ledger keys of everyone, each block's regime and staff costs (and, per
        other a-kassa share, who would have the flag ``ui_income_related`` the other way)."""
        if self.member_shares:
            self.changed.append([(ids, key[ids]) for ids in changed or []])
            self._changes = None
        if self.counts_only:  # each block's keys counted now (see counts_only); the month keeps no keys
            per_block = []
            for lo, hi in zip(self.first[:-1].tolist(), self.first[1:].tolist(), strict=True):
                distinct, counts, self._hash_bits = counted_keys(key[lo:hi], self._hash_bits)
                per_block.append((distinct, counts))
            self.counted.append(per_block)
            key = None
        self.ledger.append((t, key, regimes, staff, booked))
        self._before_book[t] = len(self.moves)
        self._split = None

    def flow_counts(self, t: int) -> np.ndarray:
        """Scratch counts for the moves' kernel (each block's flows are read from the log)."""
        return self._flow

    def log_events(self, t: int, ids: np.ndarray, src: np.ndarray, dst: np.ndarray, prog: np.ndarray) -> None:
        """Log a batch of moves (always: flows are counted from the log). ``src``, ``dst`` and
        ``prog`` are the moves' own arrays (:func:`sim.engine.moves._apply`), kept as they are;
        ``ids`` are copied (the caller's)."""
        self.moves.append((t, ids.astype(np.int64), np.asarray(src, np.uint8), np.asarray(dst, np.uint8),
                           np.asarray(prog, np.int8)))
        if (prog >= 0).any():
            self.tagged_moves += 1
        self._split = None

    def started(self, t: int, prog: int, ids: np.ndarray) -> None:
        """Count programme starts per block (and list them if a block keeps its events)."""
        self.starts.append((t, prog, np.bincount(self.block[ids], minlength=self.blocks)))
        if self.record_events and ids.size:
            self.admitted.append((t, prog, ids.astype(np.int64)))

    def exited(self, t: int, prog: int, reason: str, ids: np.ndarray) -> None:
        """Count programme exits per block by reason."""
        self.exits.append((t, prog, reason, np.bincount(self.block[ids], minlength=self.blocks)))

    def follow_up(self, t: int, pop: Population, months_after: Sequence[int], followed: np.ndarray,
                  key: np.ndarray, rules: Sequence[tuple[Any, Any, np.ndarray]], block: np.ndarray) -> None:
        """Stage and income support of people k months after leaving a programme, every block.

        ``followed``: ids (ascending) that include all of them; ``key``: their ledger keys now;
        ``rules``: ``(money, programme_money, positions in followed)`` of each set of money rules.
        Income support is read from the posting rules of each distinct key and set of rules
        once, when the records are first read (:meth:`_resolve_follow_ups`), not month by
        month: a key stands for everything the rules read (:mod:`sim.accounts.book`), so the
        codes are those of posting each person.
        """
        if not self.n_programmes or followed.size == 0:
            return
        e = len(self._fu_keys)
        self._fu_keys.append(key)
        for m, pm, at in rules:
            self._fu_rules.append((m, pm, e, at))
        since = pop.months_since_programme[followed]
        for k in months_after:
            at = np.flatnonzero(since == k)
            if at.size == 0:
                continue
            sel = followed[at]
            cells = (pop.last_programme[sel].astype(np.int64) * _NS + pop.stage[sel]) * _SUPPORT
            self._fu_pending.append((len(self.follow_ups), self._fu_n + at))
            self.follow_ups.append((t, k, block[sel], cells))
        self._fu_n += key.size

    def _resolve_follow_ups(self) -> None:
        """Put each pending follow-up's income support in its cells (one posting of each
        distinct key under each set of money rules)."""
        if not self._fu_pending:
            return
        offsets = np.cumsum([0] + [k.size for k in self._fu_keys])
        keys = np.concatenate(self._fu_keys)
        support = np.zeros(keys.size, np.int64)
        groups: dict[tuple[int, int], tuple[Any, Any, list[np.ndarray]]] = {}
        for m, pm, e, at in self._fu_rules:
            groups.setdefault((id(m), id(pm)), (m, pm, []))[2].append(offsets[e] + at)
        for m, pm, where in groups.values():
            pos = np.concatenate(where)
            support[pos] = support_by_key(keys[pos], m, pm)
        for entry, pos in self._fu_pending:
            t, k, blocks, cells = self.follow_ups[entry]
            self.follow_ups[entry] = (t, k, blocks, cells + support[pos])
        self._fu_pending, self._fu_keys, self._fu_rules, self._fu_n = [], [], [], 0

    def status(self, month: Month, pop: Population, block: np.ndarray) -> None:
        """Dated status of everyone who has started each programme, every block."""
        for i in range(self.n_programmes):
            current = (pop.programme == i) & _IN_PROGRAMME[pop.stage]
            past = (pop.last_programme == i) & (pop.stage != Stage.WAITING) | current
            counts = np.bincount(self._block_ns[past] + pop.stage[past], minlength=self.blocks * _NS)
            self.status_rows.append((month, i, counts.reshape(self.blocks, _NS)))

    # ----------------------------------------------------------------- one block
    def _moves_by_block(self) -> tuple[np.ndarray, ...]:
        if self._split is None:
            if self.moves:
                t = np.concatenate([np.full(m[1].size, m[0], np.int64) for m in self.moves])
                ids, src, dst, prog = (np.concatenate([m[j] for m in self.moves]) for j in range(1, 5))
                # whether each move was logged before its month's book (a batch logged after the
                # last book, or in a month never booked, is after it)
                early = np.concatenate([np.full(m[1].size, i < self._before_book.get(m[0], -1))
                                        for i, m in enumerate(self.moves)])
            else:
                t, ids = np.zeros(0, np.int64), np.zeros(0, np.int64)
                src, dst, prog = np.zeros(0, np.uint8), np.zeros(0, np.uint8), np.zeros(0, np.int8)
                early = np.zeros(0, bool)
            self._split = self._by_block(ids, t, ids, src, dst, prog, early)
        return self._split

    def _by_block(self, ids: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
        """``columns`` (one value per id of ``ids``) grouped by the ids' blocks, in their order
        inside each block (a stable sort), and where each block starts and ends: ``(bounds,
        *columns)``, block ``b``'s rows ``bounds[b]:bounds[b + 1]``."""
        order = np.argsort(self.block[ids], kind="stable")
        bounds = np.searchsorted(self.block[ids[order]], np.arange(self.blocks + 1))
        return (bounds, *(c[order] for c in columns))

    def _stocks(self) -> np.ndarray:
        """The stocks stacked over months ([month, block, stage]), once."""
        if getattr(self, "_stocks_stacked", None) is None or len(self._stocks_stacked) != len(self.stocks):
            self._stocks_stacked = (np.stack(self.stocks) if self.stocks
                                    else np.zeros((0, self.blocks, _NS), np.int64))
        return self._stocks_stacked

    def _stacked(self) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The queue records stacked over months ([month, block, programme] each), once."""
        if not self.queues:
            return None
        if getattr(self, "_queues_stacked", None) is None or len(self._queues_stacked[0]) != len(self.queues):
            self._queues_stacked = ([q[0] for q in self.queues],
                                    *(np.stack([q[j] for q in self.queues]) for j in range(1, 5)))
        return self._queues_stacked

    def _counts(self) -> tuple[np.ndarray, np.ndarray]:
        """The start and exit counts stacked ([record, block] each), once."""
        if getattr(self, "_counts_stacked", None) is None or self._counts_stacked[0] != (len(self.starts),
                                                                                         len(self.exits)):
            st = np.stack([c for *_, c in self.starts]) if self.starts else np.zeros((0, self.blocks), np.int64)
            ex = np.stack([c for *_, c in self.exits]) if self.exits else np.zeros((0, self.blocks), np.int64)
            self._counts_stacked = ((len(self.starts), len(self.exits)), st, ex)
        return self._counts_stacked[1:]

    def _staff(self) -> tuple[np.ndarray, np.ndarray]:
        """Each month's staff costs booked and whether booked ([month, block, programme] each), once."""
        if getattr(self, "_staff_stacked", None) is None or len(self._staff_stacked[0]) != len(self.ledger):
            if self.ledger:
                self._staff_stacked = (np.stack([booked for *_, booked in self.ledger]),
                                       np.stack([staff for *_, staff, _booked in self.ledger]))
            else:
                self._staff_stacked = (np.zeros((0, self.blocks, self.n_programmes), bool),
                                       np.zeros((0, self.blocks, self.n_programmes)))
        return self._staff_stacked

    def _follow_ups_by_block(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every follow-up cell with its record's index, grouped by block (records in order)."""
        if self._fu_pending:
            self._resolve_follow_ups()
            self._fu_split = None
        if getattr(self, "_fu_split", None) is None or self._fu_split[0] != len(self.follow_ups):
            if self.follow_ups:
                entry = np.concatenate([np.full(f[2].size, e, np.int64) for e, f in enumerate(self.follow_ups)])
                blocks = np.concatenate([f[2] for f in self.follow_ups])
                cells = np.concatenate([f[3] for f in self.follow_ups])
            else:
                entry = blocks = cells = np.zeros(0, np.int64)
            order = np.argsort(blocks, kind="stable")
            bounds = np.searchsorted(blocks[order], np.arange(self.blocks + 1))
            self._fu_split = (len(self.follow_ups), bounds, entry[order], cells[order])
        return self._fu_split[1:]

    def block_records(self, b: int, programmes: Sequence[str], funders: Sequence[str], *,
                      ledger_only: bool = False) -> Recorder:
        """Block ``b``'s records, as a separate run of it would have made them (``programmes``:
        the block's own, the first of the batch's); ``ledger_only``: its ledger book and no other
        record (for a re-run of which only the nets are read: the rest, ~1 ms a block, would be
        built and dropped)."""
        n_prog = len(programmes)
        lo = int(self.first[b])
        rec = Recorder(n_prog, record_events=self.events[b] and not ledger_only)
        if self.member_shares:
            rec.member_shares = self.member_shares
            rec.member_change = self._member_changes()[b]
        if ledger_only:
            rec.ledger_book = self._block_book(b, funders)
            return rec
        rec.stocks = list(self._stocks()[:, b])  # (its rows, one a month)
        bounds, t, ids, src, dst, prog, early = self._moves_by_block()
        sl = slice(bounds[b], bounds[b + 1])
        bt, bids, bsrc, bdst, bprog, bearly = t[sl], ids[sl] - lo, src[sl], dst[sl], prog[sl], early[sl]
        if bt.size:
            months = int(bt.max()) + 1
            cells = bt * (_NS * _NS) + bsrc.astype(np.int64) * _NS + bdst
            counts = np.bincount(cells, minlength=months * _NS * _NS).reshape(months, _NS * _NS)
            ts, at = np.unique(bt, return_index=True)
            rec.flows = {int(m): counts[m] for m in ts}
            if self.events[b]:
                edges = list(at) + [bt.size]
                rec.events = []
                keyed_in = []  # the month whose book keys each batch of events
                for m, a, z in zip(ts, edges[:-1], edges[1:], strict=True):
                    # moves before the month's book (arrivals, cuts) come first and are booked in
                    # it; the rest in the next month
                    split = a + int(np.count_nonzero(bearly[a:z]))
                    for x, y, k in ((a, split, int(m)), (split, z, int(m) + 1)):
                        if y > x:
                            rec.events.append((int(m), bids[x:y], bsrc[x:y], bdst[x:y], bprog[x:y]))
                            keyed_in.append(k)
                rec.event_keys = self._event_keys(b, lo, rec.events, keyed_in)
        if self.events[b]:
            rec.admitted = self._admitted_of(b)
        q = self._stacked() if n_prog else None
        if q is not None:
            ts, w, inside, cap, spent = q
            # month by month, programme by programme: built per programme by zip (a tuple per
            # row made in C, ~10x faster than unpacking each row), interleaved if there are several
            cols = [a[:, b, :n_prog].T.tolist() for a in (w, inside, cap, spent)]  # [programme][month]
            per = [list(zip(ts, repeat(i), *(c[i] for c in cols))) for i in range(n_prog)]
            rec.queues = per[0] if n_prog == 1 else [row for rows in zip(*per, strict=True) for row in rows]
        starts, exits = self._counts()
        for e in np.flatnonzero(starts[:, b]).tolist():
            t_, p, c = self.starts[e]
            rec.starts[(t_, p)] = rec.starts.get((t_, p), 0) + int(c[b])
        for e in np.flatnonzero(exits[:, b]).tolist():
            t_, p, reason, c = self.exits[e]
            rec.exits[(t_, p, reason)] = rec.exits.get((t_, p, reason), 0) + int(c[b])
        width = _NS * _SUPPORT
        bounds, entry, cells = self._follow_ups_by_block()
        mine, mine_cells = entry[bounds[b]:bounds[b + 1]], cells[bounds[b]:bounds[b + 1]]
        if mine.size and n_prog:
            present, at = np.unique(mine, return_inverse=True)  # the entries (records) in order
            counts = np.bincount(at * (n_prog * width) + mine_cells, minlength=present.size * n_prog * width
                                 ).reshape(present.size, n_prog, width)
            for j, i in zip(*(x.tolist() for x in np.nonzero(counts.any(axis=2))), strict=True):
                t_, k = self.follow_ups[int(present[j])][:2]
                rec.follow_ups.append((t_, i, k, counts[j, i]))
        rec.status_rows = [(d, i, counts[b]) for d, i, counts in self.status_rows if i < n_prog]
        rec.ledger_book = self._block_book(b, funders)
        return rec

    def _member_changes(self) -> list[dict[float, np.ndarray]]:
        """Every block's :meth:`Recorder.member_changes <sim.engine.recorder.Recorder.member_changes>`
        (over the months booked), worked out for all blocks at once: one posting per money rules
        of the keys that change."""
        if self._changes is None:
            months = max((t for t, *_ in self.ledger), default=-1) + 1
            runs = list(self._runs())  # (months in which no block's rules changed)
            index, rules = rules_index([(r.money, r.programme_money) for _lo, _hi, regimes in runs for r in regimes])
            group = np.empty((len(self.ledger), self.blocks), np.int64)  # [month booked, block]: its rules
            for (lo, hi, _regimes), of_run in zip(runs, index.reshape(len(runs), self.blocks), strict=True):
                group[lo:hi] = of_run
            ts = np.array([t for t, *_ in self.ledger], np.int64)
            per_share = []
            for k in range(len(self.member_shares)):
                ids = [changed[k][0] for changed in self.changed]
                at = np.repeat(np.arange(len(ids)), [x.size for x in ids])  # each one's month booked
                who = np.concatenate(ids) if ids else np.zeros(0, np.int64)
                block = self.block[who]
                keys = np.concatenate([changed[k][1] for changed in self.changed]) if ids else who
                per_share.append(changed_income_related(block * months + ts[at], keys, group[at, block], rules,
                                                        self.blocks * months, PAYERS).reshape(self.blocks, months, -1))
            self._changes = [{share: per_share[k][b] for k, share in enumerate(self.member_shares)}
                             for b in range(self.blocks)]
        return self._changes

    def _block_book(self, b: int, funders: Sequence[str]) -> LedgerBook:
        """Block ``b``'s ledger book (``funders``: of its programmes)."""
        lo, hi = int(self.first[b]), int(self.first[b + 1])
        book = LedgerBook(self.postings, functools.partial(self._block_counted, b))
        # the staff costs booked, month by month (in programme order, as a separate run adds them)
        booked, staff = self._staff()
        extras: list[dict[tuple[str, str], float] | None] = [None] * len(self.ledger)
        months, progs = np.nonzero(booked[:, b])
        for m, i, cost in zip(months.tolist(), progs.tolist(), staff[months, b, progs].tolist(), strict=True):
            extra = extras[m] = extras[m] or {}
            pair = (funders[i], "programme_staff")
            extra[pair] = extra.get(pair, 0.0) - cost
        for i, ((t_, key, regimes, *_), extra) in enumerate(zip(self.ledger, extras, strict=True)):
            r = regimes[b]
            if key is None:  # (counted as booked: counts_only)
                book.add_counted(t_, *self.counted[i][b], r.money, r.programme_money, extra)
            else:
                book.add(t_, key[lo:hi], r.money, r.programme_money, extra)
        return book

    def _runs(self) -> Iterator[tuple[int, int, list[Any]]]:
        """Runs of months booked in which no block's regime changed: the first and one past the last
        (indices of :attr:`ledger`), and every block's regime."""
        lo, n = 0, len(self.ledger)
        while lo < n:
            regimes = self.ledger[lo][2]
            hi = lo + 1
            while hi < n and all(map(operator.is_, self.ledger[hi][2], regimes)):
                hi += 1
            yield lo, hi, regimes
            lo = hi

    def _booked_keys(self) -> Iterator[tuple[Any, Any, np.ndarray]]:
        """``(money, programme_money, keys)`` of everything booked: for each run of months in which
        no block's regime changed, each block's keys of those months (one array a block and run,
        not a block and month: the shared postings need only the distinct keys under each rules)."""
        for lo, hi, regimes in self._runs():
            if self.counts_only:  # each block's distinct keys of those months
                for b, r in enumerate(regimes):
                    yield r.money, r.programme_money, np.concatenate([self.counted[i][b][0] for i in range(lo, hi)])
                continue
            keys = np.stack([self.ledger[i][1] for i in range(lo, hi)])  # [month, person]
            for b, r in enumerate(regimes):
                yield r.money, r.programme_money, keys[:, self.first[b]:self.first[b + 1]].ravel()

    def _block_counted(self, b: int, m: Any, pm: Any, ts: list[int]) -> tuple[Any, np.ndarray] | None:
        """Block ``b``'s months ``ts`` under rules ``m``, ``pm`` counted (a
        :data:`~sim.accounts.book.Counter` of its book), or None if they were not counted together."""
        found = self._counted_blocks().get((b, id(m), id(pm)))
        return found[1:] if found is not None and found[0] == ts else None

    def _counted_blocks(self) -> dict[tuple[int, int, int], tuple[list[int], Any, np.ndarray]]:
        """Every block's months under each of its money rules counted as its book would count them
        (:meth:`LedgerBook._count <sim.accounts.book.LedgerBook._count>` with the shared postings'
        keys: the same distinct keys, people per month and key, rows), for all blocks at once: per
        (block, ids of its rules) the months, the count and the rows. Blocks with the same months
        under rules of the same contents share a search of their keys and two ``bincount``s, instead
        of ~12 numpy calls per block and rules (the main job: 660). Only where the books keep
        everyone's keys (blocks of equal size, at most ``RAW_KEYS`` people; else empty, and each
        book counts its own)."""
        if self._counted is not None and self._counted[0] == len(self.ledger):
            return self._counted[1]
        out: dict[tuple[int, int, int], tuple[list[int], Any, np.ndarray]] = {}
        self._counted = (len(self.ledger), out)
        sizes = np.diff(self.first)
        n = int(sizes[0]) if sizes.size else 0
        if not self.ledger or not 0 < n <= LedgerBook.RAW_KEYS or (sizes != n).any() or self.first[0] != 0:
            return out
        months: dict[tuple[int, int, int], tuple[Any, Any, list[int]]] = {}
        for lo, hi, regimes in self._runs():
            for b, r in enumerate(regimes):
                months.setdefault((b, id(r.money), id(r.programme_money)),
                                  (r.money, r.programme_money, []))[2].extend(range(lo, hi))
        together: dict[tuple[int, tuple[int, ...]], tuple[np.ndarray, list[tuple[int, int, int]]]] = {}
        for g, (m, pm, idx) in months.items():
            found = self.postings.locate(m, pm)
            if found is not None:
                together.setdefault((found[0], tuple(idx)), (found[1], []))[1].append(g)
        for (_c, idx), (within, groups) in together.items():
            nb, nm = len(groups), len(idx)
            blocks = np.array([b for b, _m, _pm in groups], np.int64)
            keys = np.stack([self.ledger[i][1] for i in idx]).reshape(nm, self.blocks, n)[:, blocks]
            at = np.minimum(np.searchsorted(within, keys), within.size - 1)
            if not np.array_equal(within[at], keys):
                continue
            j = np.arange(nb, dtype=np.int64)[None, :, None]
            present = (np.bincount((j * within.size + at).ravel(), minlength=nb * within.size) > 0
                       ).reshape(nb, within.size)
            state = (np.cumsum(present, axis=1) - 1)[j, at]  # [month, block, person]
            kinds = present.sum(axis=1)  # distinct keys per block
            cells = nm * kinds
            if cells.max() > LedgerBook.DENSE_CELLS:
                continue
            start = np.concatenate(([0], np.cumsum(cells)[:-1]))
            # people per (month, key) of every block, one block after another (counts of ones: exact)
            cell = start[None, :, None] + np.arange(nm, dtype=np.int64)[:, None, None] * kinds[None, :, None] + state
            weights = np.bincount(cell.ravel(), minlength=int(cells.sum())).astype(np.float64)
            rows = np.split(np.nonzero(present)[1], np.cumsum(kinds)[:-1])
            month, ones = np.repeat(np.arange(nm), n), np.ones(nm * n)
            ts = [self.ledger[i][0] for i in idx]
            for k, g in enumerate(groups):
                counted = (within[rows[k]], weights[start[k]:start[k] + cells[k]].reshape(nm, kinds[k]), month,
                           state[:, k].ravel(), ones)
                out[g] = (ts, counted, rows[k])
        return out

    def _admitted_of(self, b: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Block ``b``'s programme starts as its own run lists them (:attr:`Recorder.admitted`):
        months, programmes and ids counted from the block's first person, in the order admitted
        (every block's found at once, by a stable sort on the block, and kept)."""
        if not self.admitted:
            return []
        if self._admitted_split is None or self._admitted_split[0] != len(self.admitted):
            t = np.concatenate([np.full(a[2].size, a[0], np.int64) for a in self.admitted])
            prog = np.concatenate([np.full(a[2].size, a[1], np.int64) for a in self.admitted])
            ids = np.concatenate([a[2] for a in self.admitted])
            self._admitted_split = (len(self.admitted), *self._by_block(ids, t, prog, ids))
        _, bounds, t, prog, ids = self._admitted_split
        sl = slice(bounds[b], bounds[b + 1])
        return [(t[sl], prog[sl], ids[sl] - int(self.first[b]))] if bounds[b + 1] > bounds[b] else []

    def _event_keys(self, b: int, lo: int, events: list[tuple[int, np.ndarray, ...]],
                    keyed_in: list[int]) -> list[tuple[Any, ...]]:
        """Each batch of block ``b``'s events keyed as a separate run keys it: the movers' ledger
        keys and money rules in the first month booked after the move, ``keyed_in`` (see
        ``Recorder.key_events``)."""
        booked = {t: (key, regimes) for t, key, regimes, *_ in self.ledger}
        out = []
        for (_t, ids, *_), after in zip(events, keyed_in, strict=True):
            key, regimes = booked.get(after) or self.final or (None, None)
            if key is None:
                raise RuntimeError("batch events need the final keys (BatchModel.block sets them)")
            r = regimes[b]
            out.append((key[lo + ids], r.money, r.programme_money))
        return out

    def block_run(self, b: int, spec: Scenario, seed: int, pop: Population, start: Month, horizon: int, *,
                  ledger_only: bool = False) -> BlockRun:
        """Block ``b`` as a finished run (its people, its records; ``ledger_only``: see
        :meth:`block_records`)."""
        lo, hi = int(self.first[b]), int(self.first[b + 1])
        people = Population(**{f.name: getattr(pop, f.name)[lo:hi] for f in fields(Population)})
        rec = self.block_records(b, [p.name for p in spec.programmes], [p.funder for p in spec.programmes],
                                 ledger_only=ledger_only)
        return BlockRun(spec, seed, start, horizon, people, rec, np.zeros(0, np.int64))
