"""The ledger book: a run's money, summed per month, payer and category.

The posting rules (:func:`sim.accounts.rules.post`) read a handful of fields of a person's
state. The book packs those fields into one integer key per person and month
(:func:`ledger_keys`, a compiled pass over everyone), keeps only the distinct keys of each
month and their counts, and posts each distinct state once per run (:class:`LedgerBook`).
This module owns the key's layout: its encoder (:func:`ledger_keys`) and decoder
(:func:`_decode`) sit side by side. It imports only :mod:`sim.accounts` and
:mod:`sim.scenario`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from types import SimpleNamespace

import numpy as np

from sim.accounts.jit import helper, kernel
from sim.accounts.rules import FULL_MONTH, UI_CEILING_STEP_DAY, UI_STEP_DAY, LedgerInput, ProgrammeMoney, post
from sim.scenario.stages import Stage

__all__ = ["ledger_keys", "person_key", "changed_income_related", "ceiling_steps", "fas3_placement", "fas3_placements",
           "post_keys", "LedgerBook", "SharedPostings", "share_postings"]

_S = Stage


# The grouping key packs every field the rules read into one int64:
# bits 0-31 the reference wage (float32 bits), 32-38 seven flags, 39-42 children,
# 43-44 household, 45-49 programme + 1 (at most 31 programmes), 50-53 stage, 54-58 the UI days
# left in the period and 59-63 those left before the next step of the UI rates (day 100 if the
# flag "past100" is 0, else day 200; each field 0-31, 31: a full month or more; 31 and not past
# day 100 for everyone without an open UI period). Keys with 16 or more days before a step are
# negative (bit 63): nothing reads a key's order but its own sort. ledger_keys writes it,
# _decode reads it.
_FLAGS = ("fas3", "guarantee", "ui", "under26", "ui_income_related", "fas3_municipal", "past100")
_SMALL = 32 + len(_FLAGS)  # where the fields above the flags start
_WAITING, _EDUCATION, _FAS3, _JOB = np.uint8(_S.WAITING), np.uint8(_S.EDUCATION), np.uint8(_S.FAS3), np.uint8(_S.JOB)
_FULL = np.float32(FULL_MONTH)
_STEP = np.float32(UI_STEP_DAY)
_CEILING_STEP = np.float32(UI_CEILING_STEP_DAY)
_ZERO = np.float32(0.0)


@helper(inline="always")
def fas3_placement(stage, in_guarantee, job_days, fas3_days, job_too):  # noqa: ANN001, ANN201
    """Whether one person is past the guarantee's day limit, as the ledger pays them: in Fas 3,
    or in the guarantee past its day limit while waiting for or taking part in a programme
    (waiting .. education), or (``job_too``: once Fas 3 takes no entrants, from February 2016)
    in JOB. Activity support without a UI history has ended for them; while Fas 3 placements
    run, those in Fas 3 or a programme are in a placement (:func:`sim.accounts.rules.post`).

    Branch-free (``&``, ``|``, not ``and``, ``or``) and inlined, so :func:`ledger_keys` is
    vectorised (10^6 people: ~2.0 ms a month as a called function with branches, ~1.5 now)."""
    return (stage == _FAS3) | (in_guarantee & (job_days >= fas3_days)
                               & (((stage >= _WAITING) & (stage <= _EDUCATION)) | (job_too & (stage == _JOB))))


@helper
def person_key(u, stage, programme, household, children, ui_entitled, ui_income_related, fas3_municipal,  # noqa: ANN001, ANN201
               ui_days, in_guarantee, job_days, reference_wage, birth_month, young_after, fas3_days, job_too,
               ui_days_max, ui_days_max_with_child, ceiling_step):
    """Person ``u``'s grouping key (``u`` an unsigned index): :func:`ledger_keys` one person at a
    time, for the passes that work out keys among other things (:mod:`sim.engine.month.sweep`).
    Compiled as a function of its own, which the compiler inlines where it is called: the loops
    calling it are vectorised as if it were written in them (2.0 ms at 10^6 people either way),
    and a machine's first run compiles it in ~0.6 CPU-s less than inlined by numba
    (``inline="always"``, which copies it into each caller before compiling)."""
    s = stage[u]
    g = in_guarantee[u]
    limit = ui_days_max_with_child if children[u] > 0 else ui_days_max
    left = np.ceil(limit - ui_days[u])
    left = _ZERO if left < _ZERO else left  # clip(left, 0, FULL_MONTH), written as in person_hazards
    left = _FULL if left > _FULL else left
    left = left if ui_entitled[u] else _FULL
    past = ui_entitled[u] & ((not ceiling_step) | (ui_days[u] >= _CEILING_STEP))
    step = _STEP if past else _CEILING_STEP
    first = np.ceil(step - ui_days[u])
    first = _ZERO if first < _ZERO else first  # (clipped as left)
    first = _FULL if first > _FULL else first
    first = first if ui_entitled[u] else _FULL
    fas3 = fas3_placement(s, g, job_days[u], fas3_days, job_too)
    flags = (np.int64(fas3) | (np.int64(g) << 1)
             | (np.int64(ui_entitled[u]) << 2) | (np.int64(birth_month[u] > young_after) << 3)
             | (np.int64(ui_income_related[u]) << 4) | (np.int64(fas3_municipal[u]) << 5) | (np.int64(past) << 6))
    kids = np.int64(children[u])
    kids = 15 if kids > 15 else kids  # min(kids, 15): a call of min is compiled apart
    small = (kids | (np.int64(household[u]) << 4) | (np.int64(programme[u] + 1) << 6) | (np.int64(s) << 11)
             | (np.int64(left) << 15) | (np.int64(first) << 20))
    # the wage's bits by a scalar view: an array's view costs ~0.17 CPU-s more to compile (a
    # machine's first run), the pass runs as fast
    return np.int64(np.float32(reference_wage[u]).view(np.uint32)) | (flags << 32) | (small << _SMALL)


@kernel
def ledger_keys(stage, programme, household, children, ui_entitled, ui_income_related, fas3_municipal,  # noqa: ANN001, ANN201
                ui_days, in_guarantee, job_days, reference_wage, birth_month, young_after, fas3_days, job_too,
                ui_days_max, ui_days_max_with_child, ceiling_step):
    """Everyone's grouping key (int64), in one pass over the population's arrays.

    Args:
        birth_month: absolute birth months; people born after ``young_after`` are under 26.
        fas3_days, job_too: the guarantee's day limit, and whether people in JOB past it count,
            for :func:`fas3_placement`.
        ui_days_max, ui_days_max_with_child: a UI period's days (float32), for the days left
            (:func:`sim.accounts.rules.ui_days_left`, the same float32 arithmetic). It and the
            days left before the next step of the rates (day 100, then day 200:
            :func:`sim.accounts.rules.ui_days_before`) are packed for people with an open period
            only: everyone else has the same bits there.
        ceiling_step: whether the UI ceiling steps down at day 100 under the rules the keys are
            posted under (:func:`ceiling_steps`); if not, the next step is day 200 for everyone
            (the day-100 step changes no amount then, and splitting the states at it would only
            make more keys).
    """
    n = stage.size
    key = np.empty(n, np.int64)
    for i in range(n):
        key[i] = person_key(np.uint64(i), stage, programme, household, children, ui_entitled, ui_income_related,
                            fas3_municipal, ui_days, in_guarantee, job_days, reference_wage, birth_month,
                            young_after, fas3_days, job_too, ui_days_max, ui_days_max_with_child, ceiling_step)
    return key


_RELATED_BIT = np.int64(32 + _FLAGS.index("ui_income_related"))


def changed_income_related(cells: np.ndarray, keys: np.ndarray, groups: np.ndarray,
                           rules: list[tuple[SimpleNamespace, ProgrammeMoney]], n_cells: int,
                           payers: tuple[str, ...]) -> np.ndarray:
    """What booking people with the flag ``ui_income_related`` of their keys the other way
    changes: net SEK ``[cell, payer]``, the postings of every key ``keys[i]`` with the flag
    turned over, less those of ``keys[i]``, under the rules ``rules[groups[i]]``, summed into
    ``cells[i]`` (a cell is a month of a run, or of a block of a batch). A run's nets had the
    a-kassa share at entry been another are its own plus this, for the people whose flag would
    differ (equal to a run with that share up to the order of floating-point additions)."""
    n_payers = len(payers)
    if not keys.size:
        return np.zeros((n_cells, n_payers))
    flip = np.int64(1) << _RELATED_BIT
    # rules of equal contents post alike (blocks of a batch may have their own objects): one posting each
    contents: dict[tuple[object, ...], int] = {}
    same = np.array([contents.setdefault(_rules_content(m, pm), g) for g, (m, pm) in enumerate(rules)], np.int64)
    groups = same[groups]
    # per group: each distinct key's change (its postings with the flag turned over, less its own),
    # then each person's, added into their cell for the payers it changes
    place = np.empty(keys.size, np.int64)  # each key's row in ``change``
    change, offset = [], 0
    for g in np.unique(groups).tolist():
        here = np.flatnonzero(groups == g)
        distinct, at = np.unique(keys[here], return_inverse=True)
        pairs, table = _post_table(np.concatenate([distinct, distinct ^ flip]), *rules[g])
        padded = np.zeros((2 * distinct.size, len(pairs) + 1))  # (a column of zeros: see _payer_columns)
        padded[:, :-1] = table
        by_payer = np.zeros((2 * distinct.size, n_payers))
        for pick in _payer_columns(tuple(pairs), payers):  # each payer's pairs in order, as LedgerBook.net
            by_payer += padded[:, pick]
        change.append(by_payer[distinct.size:] - by_payer[:distinct.size])
        place[here] = offset + at
        offset += distinct.size
    rows = np.concatenate(change)
    out = np.zeros((n_cells, n_payers))
    for j in np.flatnonzero((rows != 0.0).any(axis=0)).tolist():
        out[:, j] = np.bincount(cells, weights=rows[place, j], minlength=n_cells)
    return out


def ceiling_steps(money: Iterable[SimpleNamespace]) -> np.bool_:
    """Whether the UI ceiling steps down at day 100 under any of the money rates ``money`` (the
    ``ceiling_step`` of :func:`ledger_keys` for keys posted under them)."""
    return np.bool_(any(np.any(np.asarray(m.ui_max_sek_per_day) != np.asarray(m.ui_max_after_100_days_sek_per_day))
                        for m in money))


@kernel
def fas3_placements(stage, in_guarantee, job_days, ids, fas3_days, job_too):  # noqa: ANN001, ANN201
    """:func:`fas3_placement` of the people ``ids`` (bool array)."""
    out = np.empty(ids.size, np.bool_)
    for j in range(ids.size):
        i = ids[j]
        out[j] = fas3_placement(stage[i], in_guarantee[i], job_days[i], fas3_days, job_too)
    return out


def _decode(keys: np.ndarray) -> LedgerInput:
    """The state each grouping key stands for (one row per key)."""
    flags_k = (keys >> 32) & ((1 << len(_FLAGS)) - 1)
    small_k = keys >> _SMALL
    fields = {name: (flags_k >> i) & 1 for i, name in enumerate(_FLAGS)}
    fields["wage"] = keys & 0xFFFFFFFF
    fields["children"] = small_k & 0xF
    fields["household"] = (small_k >> 4) & 0x3
    fields["programme"] = (small_k >> 6) & 0x1F  # (programme + 1: see _in_programme)
    step = np.where(fields["past100"] == 1, UI_STEP_DAY, UI_CEILING_STEP_DAY)
    return LedgerInput(
        stage=_stage_of(keys), programme=(fields["programme"] - 1).astype(np.int8),
        household=fields["household"].astype(np.uint8), children=fields["children"].astype(np.uint8),
        age_years=np.where(fields["under26"] == 1, 25.0, 26.0).astype(np.float32),
        # the days used, as whole days, from the days left before the next step
        ui_entitled=_ui_of(keys), ui_days=(step - ((small_k >> 20) & 0x1F)).astype(np.float32),
        in_guarantee=fields["guarantee"] == 1,
        reference_wage=fields["wage"].astype(np.uint32).view(np.float32), fas3_placement=fields["fas3"] == 1,
        ui_income_related=fields["ui_income_related"] == 1, fas3_municipal=fields["fas3_municipal"] == 1,
        ui_days_left=((small_k >> 15) & 0x1F).astype(np.float32),
    )


def _stage_of(keys: np.ndarray) -> np.ndarray:
    """The stage each grouping key stands for (the ``stage`` of :func:`_decode`)."""
    return ((keys >> (_SMALL + 11)) & 0xF).astype(np.uint8)


def _in_programme(keys: np.ndarray) -> np.ndarray:
    """Whether each grouping key stands for someone tagged to a programme (``programme >= 0``)."""
    return ((keys >> (_SMALL + 6)) & 0x1F) > 0


def _ui_of(keys: np.ndarray) -> np.ndarray:
    """Whether each grouping key stands for an open UI period (``ui_entitled`` of :func:`_decode`)."""
    return ((keys >> (32 + _FLAGS.index("ui"))) & 1) == 1


def post_keys(keys: np.ndarray, money: SimpleNamespace,
              programme_money: ProgrammeMoney) -> dict[tuple[str, str], np.ndarray]:
    """The postings of :func:`post` for the states that grouping keys stand for (one per key)."""
    return post(_decode(keys), money, programme_money)


def _post_table(keys: np.ndarray, m: SimpleNamespace, pm: ProgrammeMoney) -> tuple[list[tuple[str, str]], np.ndarray]:
    """:func:`post` of the states ``keys`` as its pairs and their amounts ``[key, pair]``."""
    amounts = post(_decode(keys), m, pm)
    pairs = list(amounts)
    return pairs, (np.stack([amounts[p] for p in pairs], axis=1) if pairs else np.zeros((keys.size, 0)))


@functools.lru_cache(maxsize=64)
def _payer_columns(pairs: tuple[tuple[str, str], ...], payers: tuple[str, ...]) -> np.ndarray:
    """Which of ``pairs`` each of ``payers`` adds at its 1st, 2nd, ... addition: ``[rank, payer]``
    columns of a ``[row, pair]`` matrix with one more column of zeros (``len(pairs)``) for payers
    with fewer pairs, so adding the ranks one by one adds each payer's pairs in their order."""
    index = {p: j for j, p in enumerate(payers)}
    mine: list[list[int]] = [[] for _ in payers]
    for j, (payer, _cat) in enumerate(pairs):
        if payer in index:
            mine[index[payer]].append(j)
    ranks = max((len(c) for c in mine), default=0)
    return np.array([[c[r] if r < len(c) else len(pairs) for c in mine] for r in range(ranks)], np.int64
                    ).reshape(ranks, len(payers))


_FIB = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: multiplicative (Fibonacci) hashing


@kernel
def count_keys(key, table, order, shift):  # noqa: ANN001, ANN201
    """Count the values of ``key`` (int64) in an open-addressing hash table with linear probing:
    ``table[slot]`` is a key and its count (zeros on entry; a slot is empty while its count is
    0), ``2 ** (64 - shift)`` slots. Returns how many distinct keys there are, their slots in
    first-seen order in ``order`` (half the table's size); or -1 if they would fill more than
    half the table (the caller tries again with a bigger one).

    A month's keys are many people in few states (~3,500 distinct keys among 10^6 people at
    national scale): the table stays in the cache, and one pass costs less than np.unique's
    sort of every key (~2.2 against ~9 ms, measured). A key and its count share a row (one
    cache line per look-up: ~3.3 ms as two arrays). Written without allocation or slicing:
    each costs compile time (~1 CPU-s on a machine's first run for a version that grew its own
    table, ~0.25 for this).
    """
    mask = table.shape[0] - 1
    limit = table.shape[0] // 2
    used = 0
    for i in range(key.size):
        k = key[i]
        h = np.int64((np.uint64(k) * _FIB) >> shift)
        while table[h, 1] != 0 and table[h, 0] != k:
            h = (h + 1) & mask
        if table[h, 1] == 0:
            if used == limit:
                return -1
            table[h, 0] = k
            order[used] = h
            used += 1
        table[h, 1] += 1
    return used


def counted_keys(key: np.ndarray, bits: int = 12) -> tuple[np.ndarray, np.ndarray, int]:
    """The sorted distinct values of ``key`` (int64) and their counts, as
    ``np.unique(key, return_counts=True)`` gives them, by :func:`count_keys` (compiled) with a
    table of ``2 ** bits`` slots or more; and the size (bits) of the table that held them."""
    while True:
        table = np.zeros((1 << bits, 2), np.int64)
        order = np.empty(1 << (bits - 1), np.int64)
        used = count_keys(key, table, order, np.uint64(64 - bits))
        if used >= 0:
            break
        bits += 2
    found = table[order[:used]]
    at = np.argsort(found[:, 0])
    return found[at, 0], found[at, 1], bits


def _distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct values of ``keys``, sorted (:func:`np.unique`, without its extra passes)."""
    keys = np.sort(keys)
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if keys.size else keys


_Group = tuple[int, int]  # (id of the money rates, id of the programme money)
#: a month booked: (t, money, programme money, keys, their counts or None for one each, extra amounts)
_Entry = tuple[int, SimpleNamespace, ProgrammeMoney, np.ndarray, "np.ndarray | None", dict[tuple[str, str], float]]
#: a group's distinct keys, people per (month, key) or None, and each key's month, state and count
_Counted = tuple[np.ndarray, "np.ndarray | None", np.ndarray, np.ndarray, np.ndarray]
#: the count of a book's months ``ts`` under rules ``money``, ``programme_money`` (what
#: :meth:`LedgerBook._count` gives with the shared postings' keys, and the rows among them), or None
Counter = Callable[[SimpleNamespace, ProgrammeMoney, list[int]], "tuple[_Counted, np.ndarray] | None"]


@dataclasses.dataclass
class _Gathered:
    """Months a book booked under one set of money rules: what posting them needs."""

    order: list[int]  #: each month's place in booking order (its index in the book's entries)
    ts: list[int]
    sizes: list[int]  #: keys booked each month (0: nobody)
    extras: list[dict[tuple[str, str], float]]
    rules: tuple[SimpleNamespace, ProgrammeMoney]
    counted: _Counted | None  #: (None when read back from a pickle: counted again when needed)
    #: the shared postings' keys of these rules and the rows of this group's keys among them
    #: (None: the book posts its keys itself)
    rows: tuple[np.ndarray, np.ndarray] | None = None
    #: the extras as aligned lists: each amount's month (position in ``ts``), pair and amount
    flat_extras: tuple[np.ndarray, list[tuple[str, str]], np.ndarray] | None = None

    def extras_flat(self) -> tuple[np.ndarray, list[tuple[str, str]], np.ndarray]:
        """:attr:`extras` as aligned lists (each month's in its dict's order)."""
        if self.flat_extras is None:
            found = [(e, k, v) for e, extra in enumerate(self.extras) for k, v in extra.items()]
            self.flat_extras = (np.array([e for e, _, _ in found], np.int64), [k for _, k, _ in found],
                                np.array([v for _, _, v in found], np.float64))
        return self.flat_extras


def _rules_content(m: SimpleNamespace, pm: ProgrammeMoney) -> tuple[object, ...]:
    """What :func:`post` reads of the rules ``m``, ``pm``, as a hashable value: rules with equal
    contents post every state identically (each rate with its type; each array with its dtype,
    shape and bytes)."""
    def arr(a: np.ndarray) -> tuple[object, ...]:
        a = np.asarray(a)
        return a.dtype.str, a.shape, a.tobytes()

    rates = tuple((k, type(v), arr(v) if isinstance(v, np.ndarray) else v) for k, v in vars(m).items())
    content = (rates, tuple(arr(getattr(pm, f.name)) for f in dataclasses.fields(pm) if f.name != "participant_cost"),
               tuple((payer, arr(c)) for payer, c in pm.participant_cost.items()))
    try:
        hash(content)
    except TypeError:  # a rate that is not a plain value: these rules share with no others
        return ("objects", id(m), id(pm))
    return content


#: Rates a re-posting may not change: the keys carry the days before the UI ceiling's day-100 step
#: only where these two differed when booked (:func:`ledger_keys`).
_KEYED_RATES = ("ui_max_sek_per_day", "ui_max_after_100_days_sek_per_day")


def _with_rates(m: SimpleNamespace, money: dict[str, float]) -> SimpleNamespace:
    """Money rates ``m`` with the rates ``money`` replaced (a re-posting's rules)."""
    fixed = [k for k in _KEYED_RATES if k in money]
    if fixed:
        raise ValueError(f"a booked ledger cannot be posted again with other {', '.join(fixed)}: "
                         "its keys depend on them (run the scenario again instead)")
    return SimpleNamespace(**{**vars(m), **money})


def _with_production_share(pm: ProgrammeMoney, share: float | None) -> ProgrammeMoney:
    """Programme money ``pm`` with every programme's production value share ``share`` (``None``: as it is)."""
    return pm if share is None else dataclasses.replace(pm, production_share=np.full_like(pm.production_share, share))


class SharedPostings:
    """The postings of every grouping key that the books of one batch (its blocks) booked, per
    money rules, computed once for all of them.

    The blocks of a batch share their money rules (one regime per scenario and month; blocks
    with their own drawn parameters have their own objects, usually with equal money), so each
    block's book would post much the same states under the same rules. Instead the first book
    that needs a set of rules posts every key any block booked under rules with the same
    contents (:func:`post` is elementwise: a key's postings do not depend on the other keys
    posted with it, and equal rules post equal amounts), and each book takes its own keys'
    rows. Books posted again under other rates (:meth:`LedgerBook.reposted`) share a derived
    set the same way.

    Args:
        sources: yields ``(money, programme_money, keys)`` for everything booked (called once,
            when first needed).
    """

    def __init__(self, sources: Callable[[], Iterable[tuple[SimpleNamespace, ProgrammeMoney, np.ndarray]]]) -> None:
        self._sources: Callable[[], Iterable[tuple[SimpleNamespace, ProgrammeMoney, np.ndarray]]] | None = sources
        #: each booked set of rules (by the ids of its objects): its objects and its contents' index
        self._groups: dict[_Group, tuple[SimpleNamespace, ProgrammeMoney, int]] = {}
        #: per contents: rules with them (the first booked) and every key booked under them
        self._contents: list[tuple[SimpleNamespace, ProgrammeMoney, np.ndarray]] = []
        self._posted: dict[int, tuple[list[tuple[str, str]], np.ndarray]] = {}
        self._derived: dict[object, tuple[SharedPostings, dict[_Group, tuple[SimpleNamespace, ProgrammeMoney]]]] = {}

    def _keys(self) -> dict[_Group, tuple[SimpleNamespace, ProgrammeMoney, int]]:
        if self._sources is not None:
            found: dict[_Group, tuple[SimpleNamespace, ProgrammeMoney, list[np.ndarray]]] = {}
            for m, pm, keys in self._sources():
                found.setdefault((id(m), id(pm)), (m, pm, []))[2].append(keys)
            index: dict[tuple[object, ...], int] = {}
            keys_of: list[list[np.ndarray]] = []
            for g, (m, pm, ks) in found.items():
                c = index.setdefault(_rules_content(m, pm), len(index))
                if c == len(keys_of):
                    keys_of.append([])
                    self._contents.append((m, pm, ks[0]))
                keys_of[c] += ks
                self._groups[g] = (m, pm, c)
            self._contents = [(m, pm, _distinct(np.concatenate(ks)))
                              for (m, pm, _), ks in zip(self._contents, keys_of, strict=True)]
            self._sources = None
        return self._groups

    def locate(self, m: SimpleNamespace, pm: ProgrammeMoney) -> tuple[int, np.ndarray] | None:
        """The contents ``m``, ``pm`` were booked as and every key booked under them (sorted),
        or ``None`` if these rules were not booked."""
        found = self._keys().get((id(m), id(pm)))
        if found is None or found[0] is not m or found[1] is not pm:
            return None
        return found[2], self._contents[found[2]][2]

    def posted(self, c: int) -> tuple[list[tuple[str, str]], np.ndarray]:
        """The pairs of :func:`post` and their amounts ``[key, pair]`` for every key of contents
        ``c`` (posted when first asked for)."""
        if c not in self._posted:
            m, pm, every = self._contents[c]
            self._posted[c] = _post_table(every, m, pm)
        return self._posted[c]

    def table(self, keys: np.ndarray, m: SimpleNamespace, pm: ProgrammeMoney
              ) -> tuple[list[tuple[str, str]], np.ndarray] | None:
        """The pairs of :func:`post` under ``m``, ``pm`` and their amounts ``[key, pair]`` for
        ``keys``, or ``None`` if these rules or keys were not booked."""
        found = self.locate(m, pm)
        if found is None:
            return None
        c, every = found
        idx = np.searchsorted(every, keys)
        if idx.size and (int(idx.max()) >= every.size or not np.array_equal(every[idx], keys)):
            return None
        pairs, table = self.posted(c)
        return pairs, table[idx]

    def reposted(self, money: dict[str, float], production_share: float | None
                 ) -> tuple[SharedPostings, dict[_Group, tuple[SimpleNamespace, ProgrammeMoney]]]:
        """The postings of the same keys under other rates (see :meth:`LedgerBook.reposted`), and
        the rules each group becomes (the same objects for every book of the batch)."""
        memo = (tuple(sorted(money.items())), production_share)
        if memo not in self._derived:
            def derive(m: SimpleNamespace, pm: ProgrammeMoney) -> tuple[SimpleNamespace, ProgrammeMoney]:
                return _with_rates(m, money), _with_production_share(pm, production_share)

            groups = self._keys()
            derived = SharedPostings(lambda: ())
            derived._sources = None
            # rules with equal contents stay equal under the same new rates: the contents keep their keys
            derived._contents = [(*derive(m, pm), every) for m, pm, every in self._contents]
            rules = {g: derive(m, pm) for g, (m, pm, _c) in groups.items()}
            derived._groups = {(id(m2), id(pm2)): (m2, pm2, groups[g][2]) for g, (m2, pm2) in rules.items()}
            self._derived[memo] = (derived, rules)
        return self._derived[memo]


    def forget_reposted(self) -> None:
        """Let go of the postings under other rates (:meth:`reposted`; made again if asked for)."""
        self._derived.clear()


def share_postings(books: Iterable[LedgerBook]) -> None:
    """Let the books among ``books`` that post their own (read back from a pickle: a worker's or
    a store's results) share one posting of every key they booked under equal rules, as the
    books of one batch do; the others keep theirs. The same numbers either way."""
    alone = [b for b in books if b.postings is None]
    if len(alone) > 1:
        shared = SharedPostings(lambda: [(m, pm, keys) for b in alone for _t, m, pm, keys, _c, _e in b._entries])
        for b in alone:
            b.postings = shared


class LedgerBook:
    """Monthly sums over people of :func:`post`, posted once per distinct state and run.

    The rules read only categorical fields, age under 26, UI days under 200 and the
    reference wage, so people who agree on those get identical postings. Each month the
    people's states are packed into integer keys (:func:`ledger_keys`) and only the
    distinct keys and their counts are kept (:meth:`add`). When the sums are asked for
    (:meth:`months`, :meth:`by_payer`), every distinct key of every month under the same
    money rules is posted in one call of :func:`post`, and the months' sums are their
    counts times those postings (one matrix product). This gives the sums of :func:`post`
    over everyone (up to the order of floating-point additions) at the cost of a sort of
    the keys per month: the rules themselves run a handful of times per run, not monthly.
    """

    #: Above this many (month, state) cells a group is summed without a dense matrix.
    DENSE_CELLS = 4_000_000
    #: Up to this many people a month's keys are kept as they are, not sorted and counted.
    RAW_KEYS = 4096

    def __init__(self, postings: SharedPostings | None = None, counted: Counter | None = None) -> None:
        #: postings shared with the other blocks of a batch (not pickled: a book read back posts its own)
        self.postings = postings
        #: the months under each rules counted already, by the batch for all its blocks at once
        #: (:meth:`_count` for those it has not; not pickled)
        self.counted = counted
        self._pending: list[_Entry] = []
        #: the months booked so far, per group of months under the same rules (in booking order)
        self._gathered: list[_Gathered] = []
        #: per gathered group (the same order): the pairs of :func:`post` and their sums ``[month, pair]``
        self._blocks: list[tuple[_Gathered, list[tuple[str, str]], np.ndarray]] = []
        self._booked = 0
        self._months: list[tuple[int, dict[tuple[str, str], float]]] | None = None
        #: every month booked, as added (kept so the same states can be posted under other rates)
        self._entries: list[_Entry] = []
        #: size (bits) of the hash table :meth:`add` counts a month's keys in (last month's)
        self._hash_bits = 12

    def __getstate__(self) -> dict[str, object]:
        # Pickled without the shared postings and the counts (rebuilt when needed), and with each
        # group's keys as its distinct keys and every key's place among them (a byte or two
        # instead of eight per person and month).
        self._gather()
        packed = []
        for g in self._gathered:
            every, _weights, _month, state, _counts = self._counted(g)
            packed.append((every, state.astype(np.min_scalar_type(max(every.size - 1, 0)))))
        gathered = {id(g): dataclasses.replace(g, counted=None, rows=None) for g in self._gathered}
        return {**self.__dict__, "postings": None, "counted": None, "_gathered": list(gathered.values()),
                "_blocks": [(gathered[id(g)], pairs, sums) for g, pairs, sums in self._blocks],
                "_entries": [(t, m, pm, None, counts, extra) for t, m, pm, _keys, counts, extra in self._entries],
                "_packed": packed}

    def __setstate__(self, state: dict[str, object]) -> None:
        packed = state.pop("_packed")
        self._hash_bits = 12  # (a book pickled before it was kept)
        self.counted = None
        self.__dict__.update(state)
        for g, (every, place) in zip(self._gathered, packed, strict=True):
            keys = every[place]
            for o, part in zip(g.order, np.split(keys, np.cumsum(g.sizes)[:-1]), strict=True):
                t, m, pm, _none, counts, extra = self._entries[o]
                self._entries[o] = (t, m, pm, part, counts, extra)

    def _table(self, keys: np.ndarray, m: SimpleNamespace, pm: ProgrammeMoney
               ) -> tuple[list[tuple[str, str]], np.ndarray]:
        """The pairs of :func:`post` and its amounts ``[key, pair]`` for ``keys`` (from the shared
        postings when they have them: the same numbers)."""
        if self.postings is not None:
            found = self.postings.table(keys, m, pm)
            if found is not None:
                return found
        return _post_table(keys, m, pm)

    def add(self, t: int, key: np.ndarray, m: SimpleNamespace, pm: ProgrammeMoney,
            extra: dict[tuple[str, str], float] | None = None, *, compiled: bool = True) -> None:
        """Book month ``t`` for people with grouping keys ``key`` under money rules ``m``,
        ``pm``, plus ``extra`` amounts that are not per person (staff costs). The keys are
        counted by a compiled pass (:func:`count_keys`), or if not ``compiled`` by
        :func:`np.unique` (the same counts; a run asked to be plain Python loads no numba)."""
        if key.size <= self.RAW_KEYS:  # small: keep everyone's key (a sort per month costs more)
            keys, counts = key.copy(), None
        elif not compiled:
            keys, counts = np.unique(key, return_counts=True)
        else:
            keys, counts, self._hash_bits = counted_keys(key, self._hash_bits)
        self.add_counted(t, keys, counts, m, pm, extra)

    def add_counted(self, t: int, keys: np.ndarray, counts: np.ndarray | None, m: SimpleNamespace,
                    pm: ProgrammeMoney, extra: dict[tuple[str, str], float] | None = None) -> None:
        """Book month ``t`` from its keys already counted: the sorted distinct ``keys`` and how
        many people have each (what :meth:`add` keeps of a month of more than :data:`RAW_KEYS`
        people, :func:`counted_keys`; ``counts`` None: one each); the rest as :meth:`add`."""
        entry = (t, m, pm, keys, counts, dict(extra or {}))
        self._pending.append(entry)
        self._entries.append(entry)
        self._months = None

    def _states(self) -> list[tuple[_Gathered, list[int], np.ndarray, np.ndarray]]:
        """The months booked under each set of money rules (:meth:`_gather`'s groups, in the order
        first booked): the group, its entries (indices of ``_entries``), the distinct keys and every
        entry's keys as indices into them (concatenated in entry order), from the counting done
        when the book was posted."""
        self._gather()
        out = []
        for g in self._gathered:
            every, _weights, _month, state, _counts = self._counted(g)
            out.append((g, g.order, every, state))
        return out

    def people(self, payers: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Every person's money and state in every month booked, if the book kept everyone's
        keys (populations of at most :data:`RAW_KEYS`; else ``None``).

        Returns:
            net SEK ``[person, month, payer]`` for ``payers`` (excluding amounts not booked per
            person, such as staff), stage codes and open-UI flags ``[person, month]``.
        """
        if not self._entries or any(counts is not None for *_, counts, _ in self._entries):
            return None
        n = self._entries[0][3].size
        months = max(t for t, *_ in self._entries) + 1
        # every person-month's row in the groups' tables stacked (the last row, zero: not booked)
        # and key; a month booked again under other rules takes the later group's, as ever
        row = np.full((n, months), -1, np.int64)
        key = np.zeros((n, months), np.int64)
        tables = []
        offset = 0
        for g, idx, every, state in self._states():  # the rules run once per set of rates, as in months()
            ts = np.array([self._entries[i][0] for i in idx])
            row[:, ts] = state.reshape(len(idx), n).T + offset
            key[:, ts] = np.stack([self._entries[i][3] for i in idx], axis=1)
            table = np.zeros((every.size, len(payers)))
            if every.size:
                pairs, amounts = self._group_table(g)
                amounts = np.concatenate([amounts, np.zeros((every.size, 1))], axis=1)
                for pick in _payer_columns(tuple(pairs), payers):  # each payer's pairs in order
                    table += amounts[:, pick]
            tables.append(table)
            offset += every.size
        tables.append(np.zeros((1, len(payers))))
        booked = row >= 0
        row[~booked] = offset
        money = np.empty((n, months, len(payers)))
        np.take(np.concatenate(tables), row, axis=0, out=money)
        # the state's fields read from the key
        stage = np.where(booked, _stage_of(key), int(Stage.NOT_ARRIVED)).astype(np.uint8)
        ui = booked & _ui_of(key)
        return money, stage, ui

    def programme_flows(self, payers: tuple[str, ...], categories: tuple[str, ...]) -> np.ndarray:
        """Net SEK ``[month, payer, category]`` in ``categories`` of people taking part in a
        programme (their state's programme is set), plus the amounts not booked per person
        (staff) in those categories: what a programme's organisers pay and receive for running it."""
        months = max((t for t, *_ in self._entries), default=-1) + 1
        out = np.zeros((months, len(payers), len(categories)))
        index = {p: j for j, p in enumerate(payers)}
        column = {c: k for k, c in enumerate(categories)}
        # per entry: the cells it adds to, each cell's amounts per distinct key, and its keys' indices
        per_entry: dict[int, tuple[list[tuple[int, int]], np.ndarray, np.ndarray]] = {}
        for g, idx, every, state in self._states():
            inside = _in_programme(every)
            if not inside.any():
                continue
            pairs, amounts = self._group_table(g)
            wanted = [(j, (index[p], column[c])) for j, (p, c) in enumerate(pairs) if p in index and c in column]
            cells = [cell for _, cell in wanted]
            columns = amounts[:, [j for j, _ in wanted]].T.copy()  # [cell, key]: each cell's amounts contiguous
            lo = 0
            for i in idx:
                hi = lo + self._entries[i][3].size
                per_entry[i] = (cells, columns, state[lo:hi])
                lo = hi
        for i, (t, _m, _pm, _keys, counts, extra) in enumerate(self._entries):
            if i in per_entry:
                cells, columns, state = per_entry[i]
                inside = _in_programme(self._entries[i][3])
                if inside.any():
                    weight = np.ones(int(inside.sum())) if counts is None else counts[inside]
                    mine = np.ascontiguousarray(columns[:, state[inside]])
                    for (p, c), amounts in zip(cells, mine, strict=True):
                        out[t, p, c] += float(np.dot(weight, amounts))
            for (payer, category), v in extra.items():
                if payer in index and category in column:
                    out[t, index[payer], column[category]] += v
        return out

    def reposted(self, money: dict[str, float] | None = None, *,
                 programme_production_share: float | None = None) -> LedgerBook:
        """The same people in the same states, posted under other money rates.

        Args:
            money: rates of :class:`sim.scenario.rates.Money` to replace (e.g.
                ``{"municipal_tax_kept_share": 1.0}``), in force in every month.
            programme_production_share: replaces every programme's production value share.

        Only assumptions that change money and not what people do can be recomputed this way
        (the states are those of the run); the result equals a run with those rates exactly.
        """
        shared, rules = (self.postings.reposted(money or {}, programme_production_share) if self.postings is not None
                         else (None, {}))
        ms: dict[int, SimpleNamespace] = {}
        pms: dict[int, ProgrammeMoney] = {}
        mine: dict[_Group, tuple[SimpleNamespace, ProgrammeMoney]] = {}

        def new(m: SimpleNamespace, pm: ProgrammeMoney) -> tuple[SimpleNamespace, ProgrammeMoney]:
            g = (id(m), id(pm))
            found = rules.get(g) or mine.get(g)  # the same new rules as the other blocks of the batch
            if found is None:
                if id(m) not in ms:
                    ms[id(m)] = _with_rates(m, money or {})
                if id(pm) not in pms:
                    pms[id(pm)] = _with_production_share(pm, programme_production_share)
                found = mine[g] = (ms[id(m)], pms[id(pm)])
            return found

        self._gather()
        book = LedgerBook(shared)
        # the same months in the same groups (the new rules are one set per old set), counted once
        book._gathered = [dataclasses.replace(g, rules=new(*g.rules), counted=self._counted(g),
                                              flat_extras=g.extras_flat()) for g in self._gathered]
        # each group's months under its new rules (a group's months share their rules: see _gather)
        entries = list(self._entries)
        for g, mine_g in zip(self._gathered, book._gathered, strict=True):
            m2, pm2 = mine_g.rules
            for o in g.order:
                t, _m, _pm, keys, counts, extra = entries[o]
                entries[o] = (t, m2, pm2, keys, counts, extra)
        book._entries = entries
        book._booked = self._booked
        return book

    def months(self) -> list[tuple[int, dict[tuple[str, str], float]]]:
        """``(t, {(payer, category): amount})`` for every month booked, in order."""
        self._post_pending()
        if self._months is None:
            rows: list[tuple[int, int, dict[tuple[str, str], float]]] = []
            for g, pairs, sums in self._blocks:
                for o, t, n, row, extra in zip(g.order, g.ts, g.sizes, sums.tolist(), g.extras, strict=True):
                    totals = dict(zip(pairs, row, strict=True)) if n else {}
                    for k, v in extra.items():
                        totals[k] = totals.get(k, 0.0) + v
                    rows.append((o, t, totals))
            self._months = [(t, totals) for _, t, totals in sorted(rows, key=lambda r: r[0])]
        return self._months

    def net(self, payers: tuple[str, ...], months: int) -> np.ndarray:
        """Net SEK ``[month, payer]`` for ``payers`` over ``months`` months: the sum over each
        month's ``(payer, category)`` amounts of :meth:`months`, added in the same order (so the
        same numbers), without building a dict per month."""
        self._post_pending()
        out = np.zeros((months, len(payers)))
        ts = [t for g in self._gathered for t in g.ts]
        if len(set(ts)) < len(ts):  # a month booked twice: add as months() does
            return self._net_by_months(payers, months)
        same: dict[tuple[tuple[str, str], ...], list[tuple[_Gathered, np.ndarray]]] = {}
        for g, pairs, sums in self._blocks:  # groups with the same pairs are added at once
            same.setdefault(tuple(pairs), []).append((g, sums))
        index = {p: j for j, p in enumerate(payers)}
        for pairs, blocks in same.items():
            ts = np.concatenate([np.asarray(g.ts, np.int64) for g, _ in blocks])
            booked = np.concatenate([np.asarray(g.sizes) for g, _ in blocks]) > 0
            vals = np.zeros((ts.size, len(pairs) + 1))  # (the last column: nothing, for payers with fewer pairs)
            vals[booked, :-1] = np.concatenate([sums for _, sums in blocks])[booked]
            # extras in a pair the month has join it (one per month and pair); the others are
            # added after the pairs, in order
            flat = [g.extras_flat() for g, _ in blocks]
            first = np.cumsum([0] + [len(g.ts) for g, _ in blocks])
            e = np.concatenate([f[0] + first[i] for i, f in enumerate(flat)])
            ks = [k for f in flat for k in f[1]]
            v = np.concatenate([f[2] for f in flat])
            column = {pair: j for j, pair in enumerate(pairs)}
            col = np.array([column.get(k, -1) for k in ks], np.int64)
            joins = (col >= 0) & booked[e]
            vals[e[joins], col[joins]] += v[joins]
            part = np.zeros((ts.size, len(payers)))
            for pick in _payer_columns(pairs, payers):  # each payer's pairs in order, one at a time
                part += vals[:, pick]
            payer = np.array([index.get(k[0], -1) for k in ks], np.int64)
            after = ~joins & (payer >= 0)
            np.add.at(part, (e[after], payer[after]), v[after])  # (in order, repeats added one by one)
            out[ts] += part
        return out

    def cube(self, payers: tuple[str, ...], categories: tuple[str, ...], months: int) -> np.ndarray:
        """Net SEK ``[month, payer, category]`` over ``months`` months: each nonzero amount of
        :meth:`months` in its cell (the same numbers: a month's sum of a pair, plus its extra
        amount of that pair, added as :meth:`months` adds them), without a dict per month.

        Raises:
            ValueError: for a nonzero amount outside ``months`` months, ``payers`` or ``categories``.
        """
        self._post_pending()
        out = np.zeros((months, len(payers), len(categories)))
        ts = [t for g in self._gathered for t in g.ts]
        if len(set(ts)) < len(ts):  # a month booked twice: each booking in turn, as months() lists them
            for t, totals in self.months():
                for pair, amount in totals.items():
                    if amount != 0.0:
                        self._cells(out, np.array([t]), [pair], np.array([[amount]]), payers, categories)
            return out
        for g, pairs, sums in self._blocks:
            e, ks, v = g.extras_flat()
            cells = list(dict.fromkeys([*pairs, *ks]))  # every pair with an amount: the postings', then the extras'
            column = {pair: j for j, pair in enumerate(cells)}
            booked = np.asarray(g.sizes) > 0
            amounts = np.zeros((len(g.ts), len(cells)))
            amounts[booked, :len(pairs)] = sums[booked]  # (a month nobody was booked in has no postings)
            amounts[e, np.array([column[k] for k in ks], np.int64)] += v  # (one extra amount per month and pair)
            self._cells(out, np.asarray(g.ts, np.int64), cells, amounts, payers, categories)
        return out

    @staticmethod
    def _cells(out: np.ndarray, ts: np.ndarray, pairs: list[tuple[str, str]], amounts: np.ndarray,
               payers: tuple[str, ...], categories: tuple[str, ...]) -> None:
        """Write ``amounts[month, pair]`` that are nonzero into ``out[ts[month], payer, category]``."""
        p = np.array([payers.index(a) if a in payers else -1 for a, _ in pairs], np.int64)
        c = np.array([categories.index(b) if b in categories else -1 for _, b in pairs], np.int64)
        month, j = np.nonzero(amounts != 0.0)
        if month.size and (ts[month].max() >= out.shape[0] or (p[j] < 0).any() or (c[j] < 0).any()):
            raise ValueError("ledger rows outside the run's months, payers or categories")
        out[ts[month], p[j], c[j]] = amounts[month, j]

    def _net_by_months(self, payers: tuple[str, ...], months: int) -> np.ndarray:
        out = np.zeros((months, len(payers)))
        index = {p: j for j, p in enumerate(payers)}
        for t, totals in self.months():
            for (payer, _cat), v in totals.items():
                if payer in index:
                    out[t, index[payer]] += v
        return out

    def by_payer(self) -> dict[str, float]:
        """Each payer's sum over all months booked."""
        self._post_pending()
        out: dict[str, float] = {}
        for g, pairs, sums in self._blocks:
            for (payer, _cat), v in zip(pairs, sums.sum(axis=0).tolist(), strict=True):
                out[payer] = out.get(payer, 0.0) + v
            for extra in g.extras:
                for (payer, _cat), v in extra.items():
                    out[payer] = out.get(payer, 0.0) + v
        return out

    def _count(self, entries: list[_Entry], within: np.ndarray | None = None
               ) -> tuple[_Counted, np.ndarray | None]:
        """The distinct keys of ``entries`` (months under one set of rules) and how many people
        each month has in each: a dense ``[month, state]`` matrix, or (above :data:`DENSE_CELLS`)
        each key's month, state and count; and, given ``within`` (sorted keys that hold every key
        of ``entries``, else this is ignored), the distinct keys' rows in it."""
        keys = np.concatenate([e[3] for e in entries])
        rows = None
        if within is not None and within.size:  # find the keys in ``within`` instead of sorting them
            at = np.minimum(np.searchsorted(within, keys), within.size - 1)
            if np.array_equal(within[at], keys):
                present = np.bincount(at, minlength=within.size) > 0
                rows = np.flatnonzero(present)
                every = within[rows]
                state = (np.cumsum(present) - 1)[at]
        if rows is None:
            every = np.unique(keys)
            state = np.searchsorted(every, keys)
        sizes = [e[3].size for e in entries]
        counts = (np.ones(keys.size) if all(e[4] is None for e in entries) else
                  np.concatenate([np.ones(e[3].size) if e[4] is None else e[4] for e in entries]))
        month = np.repeat(np.arange(len(entries)), sizes)
        cells = len(entries) * every.size
        if every.size and cells <= self.DENSE_CELLS:
            weights = np.bincount(month * every.size + state, weights=counts, minlength=cells)
            return (every, weights.reshape(len(entries), every.size), month, state, counts), rows
        return (every, None, month, state, counts), rows

    def _gather(self) -> None:
        """Group the months booked since the last call by their money rules."""
        if not self._pending:
            return
        by_rules: dict[tuple[int, int], list[int]] = {}
        for i, (_, m, pm, *_rest) in enumerate(self._pending):
            by_rules.setdefault((id(m), id(pm)), []).append(i)
        for idx in by_rules.values():
            entries = [self._pending[i] for i in idx]
            rules = (entries[0][1], entries[0][2])
            shared = self.postings.locate(*rules) if self.postings is not None else None
            found = (self.counted(*rules, [e[0] for e in entries]) if self.counted is not None and shared is not None
                     else None)
            counted, rows = found if found is not None else self._count(entries, None if shared is None else shared[1])
            self._gathered.append(_Gathered(
                order=[self._booked + i for i in idx], ts=[e[0] for e in entries], sizes=[e[3].size for e in entries],
                extras=[e[5] for e in entries], rules=rules, counted=counted,
                rows=None if rows is None or shared is None else (shared[1], rows)))
        self._booked += len(self._pending)
        self._pending = []
        # what the batch counted is read: let go of it (it holds the batch's records, every month's
        # keys among them, which a result kept in an ensemble would otherwise keep alive)
        self.counted = None

    def _counted(self, g: _Gathered) -> _Counted:
        if g.counted is None:  # (read back from a pickle)
            g.counted = self._count([self._entries[o] for o in g.order])[0]
        return g.counted

    def _group_table(self, g: _Gathered) -> tuple[list[tuple[str, str]], np.ndarray]:
        """The pairs of :func:`post` and its amounts ``[key, pair]`` for the distinct keys of the
        group ``g``: rows of the shared postings when they have them, else posted here."""
        every = self._counted(g)[0]
        if not every.size:
            return [], np.zeros((0, 0))
        shared = self.postings.locate(*g.rules) if self.postings is not None and g.rows is not None else None
        if shared is not None and shared[1] is g.rows[0]:  # the shared postings' rows of these keys
            pairs, table = self.postings.posted(shared[0])
            return pairs, table.take(g.rows[1], axis=0)  # (the rows: as table[rows], ~2.5x faster)
        return self._table(every, *g.rules)

    def _post_pending(self) -> None:
        """Post every group of months not yet posted: each group's distinct states under its
        rules, times how many people each month has in each."""
        self._gather()
        for g in self._gathered[len(self._blocks):]:
            every, weights, month, state, counts = self._counted(g)
            pairs: list[tuple[str, str]] = []
            sums = np.zeros((len(g.ts), 0))
            if every.size:
                pairs, table = self._group_table(g)
                if weights is not None:  # people per (month, state), times the postings
                    sums = weights @ table
                else:
                    sums = np.zeros((len(g.ts), len(pairs)))
                    np.add.at(sums, month, table[state] * counts[:, None])
            self._blocks.append((g, pairs, sums))
