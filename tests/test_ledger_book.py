"""LedgerBook (post once per distinct state and run) gives the sums of per-person postings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim import ProgrammeModel, load_scenario
from sim.accounts.book import LedgerBook, counted_keys
from sim.accounts.rules import post
from sim.engine.month import book as book_step

ROOT = Path(__file__).resolve().parents[1]


def test_book_equals_summing_everyone_month_by_month() -> None:
    """Each booked month equals post() summed over everyone, across a reform and programmes."""
    model = ProgrammeModel(load_scenario(ROOT / "scenarios" / "sigtuna-resursjobb.yaml"), rng=2)
    direct = []
    for _ in range(40):
        model.step()
        # the state the month just booked is gone; book the current state both ways instead
        x, r = book_step.ledger_input(model.state), model.regime
        direct.append({k: float(v.sum()) for k, v in post(x, r.money, r.programme_money).items()})
        book = LedgerBook()
        book.add(0, book_step.keys(model.state), r.money, r.programme_money)
        grouped = book.months()[0][1]
        assert grouped.keys() == direct[-1].keys()
        for k, v in direct[-1].items():
            assert np.isclose(grouped[k], v, rtol=1e-12, atol=1e-6), k
    assert any(abs(v) > 0 for d in direct for v in d.values())


def test_keys_are_counted_as_np_unique_counts_them() -> None:
    """The hash count gives np.unique's sorted distinct keys and counts, whatever the keys (any
    int64, zero included) and however many (the table grows past half full, and a month booked
    after a bigger one starts from the bigger table)."""
    rng = np.random.default_rng(5)
    cases = [np.array([], np.int64), np.array([0, 0, -1, 7, -(2**63), 2**63 - 1, 7], np.int64),
             rng.integers(0, 40, 10_000) << 39, rng.integers(-(2**63), 2**63 - 1, 20_000, dtype=np.int64)]
    for key in cases:
        distinct, counts, bits = counted_keys(key, 2)
        expected, expected_counts = np.unique(key, return_counts=True)
        np.testing.assert_array_equal(distinct, expected)
        np.testing.assert_array_equal(counts, expected_counts)
        assert counts.dtype == expected_counts.dtype and 2 ** (bits - 1) >= max(distinct.size, 1)
    model = ProgrammeModel(load_scenario(ROOT / "scenarios" / "sigtuna-resursjobb.yaml"), rng=2)
    model.step()
    r = model.regime
    key = book_step.keys(model.state)
    key = np.tile(key, LedgerBook.RAW_KEYS // key.size + 1)  # more than RAW_KEYS people
    wages = rng.uniform(0, 40_000, key.size).astype(np.float32).view(np.uint32).astype(np.int64)
    many = (key & ~np.int64(0xFFFFFFFF)) | wages  # thousands of distinct reference wages
    book = LedgerBook()
    for t, k in enumerate((key, many, key)):  # the table grows for the second month
        book.add(t, k, r.money, r.programme_money)
        _t, _m, _pm, distinct, counts, _extra = book._entries[-1]
        expected, expected_counts = np.unique(k, return_counts=True)
        np.testing.assert_array_equal(distinct, expected)
        np.testing.assert_array_equal(counts, expected_counts)
    assert book._hash_bits > 12
    plain = LedgerBook()  # a run asked to be plain Python counts with np.unique: the same entries
    for t, k in enumerate((key, many, key)):
        plain.add(t, k, r.money, r.programme_money, compiled=False)
    for a, b in zip(book._entries, plain._entries, strict=True):
        np.testing.assert_array_equal(a[3], b[3])
        np.testing.assert_array_equal(a[4], b[4])


def test_months_come_back_in_order_with_extras_and_rule_changes() -> None:
    model = ProgrammeModel(load_scenario(ROOT / "scenarios" / "c2-lycksele.yaml"), rng=0)
    model.run(3)
    r = model.regime
    key = book_step.keys(model.state)
    book = LedgerBook()
    book.add(5, key, r.money, r.programme_money, {("municipality", "programme_staff"): -100.0})
    norm = r.money.sa_norm_single_sek_per_month + 1000
    other = type(r.money)(**{**vars(r.money), "sa_norm_single_sek_per_month": norm})
    book.add(6, key, other, r.programme_money)
    book.add(7, key[:0], r.money, r.programme_money)
    (t5, a), (t6, b), (t7, c) = book.months()
    assert (t5, t6, t7) == (5, 6, 7) and c == {}
    assert a[("municipality", "programme_staff")] == -100.0
    assert b[("municipality", "social_assistance")] < a[("municipality", "social_assistance")]  # higher norm


def test_net_per_payer_adds_as_the_months_do() -> None:
    """``net`` equals summing each month's (payer, category) amounts in order, bit for bit: with
    staff amounts in a category the people also have and in one they do not, a month nobody is
    booked in but staff, rule changes, and a month booked twice (added as the months are)."""
    from sim.accounts.payers import PAYERS

    model = ProgrammeModel(load_scenario(ROOT / "scenarios" / "c2-lycksele.yaml"), rng=0)
    model.run(3)
    r = model.regime
    key = book_step.keys(model.state)
    other = type(r.money)(**{**vars(r.money), "sa_norm_single_sek_per_month": 9000.0})
    book = LedgerBook()
    book.add(0, key, r.money, r.programme_money, {("municipality", "programme_staff"): -100.25,
                                                   ("municipality", "social_assistance"): -0.1})
    book.add(1, key, other, r.programme_money)
    book.add(2, key[:0], r.money, r.programme_money, {("region", "programme_staff"): -3.5})
    book.add(4, key[:50], r.money, r.programme_money)

    def by_months(b: LedgerBook) -> np.ndarray:
        out = np.zeros((5, len(PAYERS)))
        for t, totals in b.months():
            for (payer, _cat), v in totals.items():
                out[t, PAYERS.index(payer)] += v
        return out

    assert np.array_equal(book.net(PAYERS, 5), by_months(book))
    assert book.net(PAYERS, 5)[2].tolist() == [-3.5 if p == "region" else 0.0 for p in PAYERS]
    book.add(1, key[:20], r.money, r.programme_money, {("state", "programme_staff"): -7.0})  # month 1 again
    assert np.array_equal(book.net(PAYERS, 5), by_months(book))


def test_the_cube_holds_each_nonzero_amount_of_the_months() -> None:
    """``cube`` puts every nonzero amount of :meth:`months` in its (month, payer, category) cell,
    bit for bit: staff amounts in a category the people also have and in one they do not, a
    month nobody is booked in but staff, rule changes, and a month booked twice (the later
    booking's amounts win, as cell by cell); amounts outside the cube are refused."""
    import pytest

    from sim.accounts.payers import CATEGORIES, PAYERS

    model = ProgrammeModel(load_scenario(ROOT / "scenarios" / "c2-lycksele.yaml"), rng=0)
    model.run(3)
    r = model.regime
    key = book_step.keys(model.state)
    other = type(r.money)(**{**vars(r.money), "sa_norm_single_sek_per_month": 9000.0})
    book = LedgerBook()
    book.add(0, key, r.money, r.programme_money, {("municipality", "programme_staff"): -100.25,
                                                   ("municipality", "social_assistance"): -0.1})
    book.add(1, key, other, r.programme_money)
    book.add(2, key[:0], r.money, r.programme_money, {("region", "programme_staff"): -3.5})
    book.add(4, key[:50], r.money, r.programme_money)

    def by_months(b: LedgerBook) -> np.ndarray:
        out = np.zeros((5, len(PAYERS), len(CATEGORIES)))
        for t, totals in b.months():
            for (payer, cat), v in totals.items():
                if v != 0.0:
                    out[t, PAYERS.index(payer), CATEGORIES.index(cat)] = v
        return out

    cube = book.cube(PAYERS, CATEGORIES, 5)
    assert np.array_equal(cube, by_months(book)) and np.count_nonzero(cube[0]) > 2
    assert not np.signbit(cube[cube == 0.0]).any()  # (no -0.0 where months() has no amount)
    assert cube[2, PAYERS.index("region"), CATEGORIES.index("programme_staff")] == -3.5
    with pytest.raises(ValueError, match="outside the run"):
        book.cube(PAYERS, CATEGORIES, 4)
    with pytest.raises(ValueError, match="outside the run"):
        book.cube(PAYERS[1:], CATEGORIES, 5)
    book.add(1, key[:20], r.money, r.programme_money, {("state", "programme_staff"): -7.0})  # month 1 again
    assert np.array_equal(book.cube(PAYERS, CATEGORIES, 5), by_months(book))


def test_large_groups_sum_the_same_without_the_dense_matrix(monkeypatch) -> None:  # noqa: ANN001
    """Above DENSE_CELLS (month, state) cells the book sums with np.add.at; same sums."""
    model = ProgrammeModel(load_scenario(ROOT / "scenarios" / "sigtuna-resursjobb.yaml"), rng=4, record_events=False)
    booked = []
    original = LedgerBook.add

    def spy(self, t, key, m, pm, extra=None, **kw):  # noqa: ANN001, ANN003, ANN202
        booked.append((t, key.copy(), m, pm, extra))
        return original(self, t, key, m, pm, extra, **kw)

    monkeypatch.setattr(LedgerBook, "add", spy)
    model.run(24)
    dense = model.rec.ledger  # summed with the dense matrix
    monkeypatch.setattr(LedgerBook, "add", original)
    monkeypatch.setattr(LedgerBook, "DENSE_CELLS", 0)
    sparse_book = LedgerBook()
    for args in booked:
        sparse_book.add(*args)
    sparse = sparse_book.months()
    assert len(booked) == 24 and [t for t, _ in dense] == [t for t, _ in sparse]
    for (_, x), (_, y) in zip(dense, sparse, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            assert np.isclose(x[k], y[k], rtol=1e-12, atol=1e-6), k


def _batch_books(horizon: int = 30) -> list[LedgerBook]:
    from sim.runs.replications import simulate_batch

    sc = load_scenario(ROOT / "scenarios" / "sigtuna-resursjobb.yaml", [f"horizon_months={horizon}"])
    return [r.ledger_book for r in simulate_batch([sc] * 3, [4, 9, 2])]


def _same_book(x: LedgerBook, y: LedgerBook, months: int) -> None:
    from sim.accounts.payers import PAYERS
    from sim.analysis.payoff import INVESTMENT

    assert x.months() == y.months() and x.by_payer() == y.by_payer()
    assert np.array_equal(x.net(PAYERS, months), y.net(PAYERS, months))
    for u, v in zip(x.people(PAYERS), y.people(PAYERS), strict=True):
        assert np.array_equal(u, v)
    assert np.array_equal(x.programme_flows(PAYERS, INVESTMENT), y.programme_flows(PAYERS, INVESTMENT))


def test_a_book_read_back_from_a_pickle_is_the_same_book_and_smaller_than_its_keys() -> None:
    """A pickled book (as the replication store and worker processes send it) keeps each group's
    keys as distinct keys and places, and reads back to the same sums, people, flows and
    re-postings, bit for bit, whether or not it was posted before pickling."""
    import pickle

    for posted_first in (True, False):
        book = _batch_books()[1]
        if posted_first:
            book.by_payer()
        raw = sum(e[3].nbytes for e in book._entries)
        data = pickle.dumps(book, protocol=pickle.HIGHEST_PROTOCOL)
        assert len(data) < raw / 2
        back = pickle.loads(data)
        assert back.postings is None
        assert all(np.array_equal(a[3], b[3]) for a, b in zip(book._entries, back._entries, strict=True))
        _same_book(back, book, 30)
        tax = {"municipal_tax_kept_share": 1.0}
        _same_book(back.reposted(tax), book.reposted(tax), 30)


def _posting_calls(monkeypatch) -> list[int]:  # noqa: ANN001
    """A list that gets the number of keys of every posting made from now on."""
    from sim.accounts import book as book_module

    calls: list[int] = []
    original = book_module._post_table

    def spy(keys, m, pm):  # noqa: ANN001, ANN202
        calls.append(keys.size)
        return original(keys, m, pm)

    monkeypatch.setattr(book_module, "_post_table", spy)
    return calls


def test_a_batch_posts_each_set_of_equal_money_rules_once(monkeypatch) -> None:  # noqa: ANN001
    """Blocks with their own rule objects but equal money share one posting per set of rules
    (and per re-posting), not one per block. (Replications with their own posterior draws share
    their rule objects outright: only their transition rates differ; blocks with other programme
    numbers have their own.)"""
    from sim.runs.replications import simulate_batch

    calls = _posting_calls(monkeypatch)
    scenarios = [load_scenario(ROOT / "scenarios" / "sigtuna-resursjobb.yaml",
                               ["horizon_months=30", f"programmes.resursjobb.capacity.slots={n}"])
                 for n in (200, 150, 100)]
    books = [r.ledger_book for r in simulate_batch(scenarios, [0, 1, 2], record_events=False)]
    shared = books[0].postings
    assert all(b.postings is shared for b in books)
    rules = shared._keys()
    assert len(rules) > len(shared._contents)  # each block has its own objects
    for b in books:
        b.by_payer()
    assert len(calls) == len(shared._contents)
    calls.clear()
    for b in books:
        b.reposted({"municipal_tax_kept_share": 0.5}).by_payer()
    assert len(calls) == len(shared._contents)


def test_keys_the_shared_postings_lack_are_posted_by_the_book() -> None:
    """A book whose shared postings do not hold all its keys posts them itself: the same sums
    as a book without shared postings."""
    from sim.accounts.book import SharedPostings

    model = ProgrammeModel(load_scenario(ROOT / "scenarios" / "c2-lycksele.yaml"), rng=0)
    model.run(3)
    r = model.regime
    key = book_step.keys(model.state)
    alone, partly = LedgerBook(), LedgerBook(SharedPostings(lambda: [(r.money, r.programme_money, key[:5])]))
    for b in (alone, partly):
        b.add(0, key, r.money, r.programme_money)
        b.add(1, key[:5], r.money, r.programme_money)
    assert partly.months() == alone.months()
    assert partly._gathered[0].rows is None


def test_books_read_back_share_one_posting_again(monkeypatch) -> None:  # noqa: ANN001
    """Books read back from pickles (a worker's or a store's results) post their own; after
    share_postings they post each set of equal rules once again, with the same numbers."""
    import pickle

    from sim.accounts.book import share_postings

    books = _batch_books()
    back = [pickle.loads(pickle.dumps(b)) for b in books]
    alone = [pickle.loads(pickle.dumps(b)) for b in books]
    share_postings(back)
    assert back[0].postings is back[2].postings is not None and alone[0].postings is None
    calls = _posting_calls(monkeypatch)
    tax = {"municipal_tax_kept_share": 0.25}
    again = [b.reposted(tax) for b in back]
    for b in again:
        b.by_payer()
    assert len(calls) == len(back[0].postings._contents)
    for x, y in zip(again, alone, strict=True):
        _same_book(x, y.reposted(tax), 30)


def test_a_booked_ledger_refuses_to_be_posted_again_with_other_ui_ceilings() -> None:
    """The keys carry the days before the UI ceiling's day-100 step only where the two ceilings
    differed when booked: posting them again under other ceilings would pay some months wrong."""
    book = _batch_books()[0]
    with pytest.raises(ValueError, match="ui_max_after_100_days_sek_per_day"):
        book.reposted({"ui_max_after_100_days_sek_per_day": 500.0}).by_payer()
    assert book.reposted({"municipal_tax_kept_share": 1.0}).by_payer() != book.by_payer()
