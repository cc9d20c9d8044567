"""A batch of runs (one block of people per run) gives every block exactly the tables of a separate run.

Compared table by table (every table :class:`~sim.runs.results.RunResult` builds, and the summary):
replications of shipped scenarios with several seeds, and blocks with their own programme numbers
(places, starts, budgets, rates, lengths, effects, wages) drawn at random around the factories'
programmes, compiled and as plain Python.
"""

from __future__ import annotations

import numpy as np
import pytest
from factories import JOBS, PROGRAMME, merge, scenario

from sim.engine.batch import BatchError, BatchModel, BlockStreams
from sim.engine.streams import Streams
from sim.runs.replications import replicate, simulate, simulate_batch
from sim.runs.results import RunResult
from sim.scenario.load import load_scenario
from sim.scenario.stages import Stage


def _assert_same(batched: RunResult, separate: RunResult, label: str) -> None:
    assert list(batched.tables) == list(separate.tables)
    for name in separate.tables:
        a, b = batched.tables[name], separate.tables[name]
        assert a.equals(b), f"{label}: table {name} differs\n{a.head()}\n{b.head()}"
    assert batched.summary == separate.summary, label


def test_block_streams_draw_what_each_blocks_own_run_draws() -> None:
    first = np.array([0, 5, 12, 20])
    streams = BlockStreams([3, 99, 3], first)
    ids = np.arange(20)
    got = streams.uniform("referral/c2", 7, ids)
    for b, seed in enumerate([3, 99, 3]):
        local = np.arange(first[b + 1] - first[b])
        want = Streams(seed).uniform("referral/c2", 7, local)
        assert np.array_equal(got[first[b]:first[b + 1]], want)
    normal = streams.normal("population/employability", 0, ids)
    assert np.array_equal(normal[5:12], Streams(99).normal("population/employability", 0, np.arange(7)))


@pytest.mark.parametrize("file", ["scenarios/c2-lycksele.yaml", "scenarios/c2-lycksele-baseline.yaml",
                                  "scenarios/sigtuna-resursjobb.yaml"])
def test_replications_in_a_batch_equal_separate_runs(file: str) -> None:
    sc = load_scenario(file)
    if sc.population.cohort is not None and sc.population.cohort.size > 1000:
        sc = load_scenario(file, ["population.cohort.size=400"])
    seeds = [1, 7, 2**40 + 3]
    results = simulate_batch([sc] * len(seeds), seeds)
    for seed, res in zip(seeds, results, strict=True):
        _assert_same(res, simulate(sc, seed), f"{file} seed {seed}")


def test_a_batch_closes_and_ends_fas3_as_separate_runs_do() -> None:
    """Umeå's guarantee stock (a quarter in Fas 3) run to mid-2018: Fas 3 closes to entrants in
    February 2016 and its placements end in February 2018 in every block as in a run of its own."""
    sc = load_scenario("scenarios/umea-insteget-baseline.yaml", ["population.cohort.size=300", "horizon_months=90"])
    seeds = [3, 4]
    results = simulate_batch([sc] * len(seeds), seeds)
    for seed, res in zip(seeds, results, strict=True):
        _assert_same(res, simulate(sc, seed), f"umea seed {seed}")
    flows = results[0].tables["flows"]
    ended = flows[(flows["from_stage"] == "fas3") & (flows["to_stage"] == "job") & (flows["month"] == "2018-02")]
    assert ended["people"].sum() > 0  # (those still in Fas 3 go back to the guarantee then)
    stocks = results[0].tables["stocks"]
    assert stocks[(stocks["stage"] == "fas3") & (stocks["month"] >= "2018-03")]["people"].sum() == 0


def _random_programmes(rng: np.random.Generator) -> list[dict]:
    coach = merge(PROGRAMME, {
        "referral_rate_per_month": float(rng.uniform(0.02, 0.4)),
        # staff cut at a month of the block's own (a reform that sheds participants: "cut")
        "capacity": {"staff": {"2012-01": int(rng.integers(0, 5)), str(rng.choice(["2012-09", "2013-02"])): 1},
                     "caseload_per_staff": int(rng.integers(3, 20)),
                     "starts_per_staff_per_month": float(rng.uniform(0.5, 4))},
        "max_duration_months": int(rng.integers(1, 15)),
        "exit_rates_per_month": {"studies": float(rng.uniform(0, 0.05)), "dropout": float(rng.uniform(0, 0.05)),
                                 "training": float(rng.uniform(0, 0.05))},
        "lock_in_hazard_ratio": float(rng.uniform(0.3, 3)),
        "effect_after_hazard_ratio": float(rng.uniform(0.5, 3)),
        "effect_fade_months": float(rng.uniform(1, 24)),
        "completion_to_work_share": float(rng.uniform(0, 0.5)),
        "motivation_loss_per_waiting_month": float(rng.uniform(0, 0.2)),
        "budget_sek_per_year": {"municipality": float(rng.choice([0, 200_000, 900_000, 5_000_000]))},
        "staff_cost_sek_per_month": float(rng.uniform(0, 90_000)),
    })
    jobs = merge(JOBS, {
        "referral_rate_per_month": float(rng.uniform(0.05, 0.3)),
        "capacity": {"slots": int(rng.integers(0, 60))},
        "max_duration_months": int(rng.integers(3, 13)),
        "wage_sek_per_month": float(rng.uniform(12_000, 25_000)),
        "end_month": str(rng.choice(["2013-06", "2014-06"])),
    })
    return [coach, jobs]


@pytest.mark.parametrize("compiled", [True, False])
def test_blocks_with_their_own_programme_numbers_equal_separate_runs(compiled: bool) -> None:
    rng = np.random.default_rng(15)
    size = 300 if compiled else 60
    scenarios = [scenario(_random_programmes(rng), population={"cohort": {"size": size}}, horizon_months=30)
                 for _ in range(4 if compiled else 2)]
    seeds = [int(s) for s in rng.integers(0, 2**31, len(scenarios))]
    model = BatchModel(scenarios, seeds, compiled=compiled)
    model.run()
    for b, (sc, seed) in enumerate(zip(scenarios, seeds, strict=True)):
        _assert_same(RunResult.from_model(model.block(b)), simulate(sc, seed, compiled=compiled), f"block {b}")


def test_blocks_with_their_own_national_draws_equal_separate_runs() -> None:
    """The national values a calibration draws per replication (transition rates, employability's
    spread) may differ from block to block; blocks with the same rates share their hazard rows, and
    blocks that differ only in them share the rest of their regimes (programmes, money), each
    with its own rates."""
    rng = np.random.default_rng(5)
    sets = []
    for k in range(5):
        values = {"transitions.open.work": 0.04, "transitions.job.work": 0.03, "transitions.job.subsidised": 0.01,
                  "population.composition.employability_sd": 0.7}
        if k in (1, 2, 4):  # blocks 1 and 2 differ from the others, 4 from all
            values = {key: float(v * rng.uniform(0.5, 1.5)) for key, v in values.items()}
        if k == 2:
            values = dict(sets[1])
            values["population.composition.employability_sd"] = 1.1  # rates as block 1's, spread its own
        sets.append(values)
    scenarios = [load_scenario("scenarios/c2-lycksele.yaml",
                               ["horizon_months=40", *(f"{k}={v}" for k, v in vs.items())]) for vs in sets]
    seeds = [3, 3, 8, 21, 3]
    model = BatchModel(scenarios, seeds)
    # blocks with the same rates share their stage rows: 0 and 3, 1 and 2
    assert (model.state.hazard.srows // len(Stage)).tolist() == [0, 1, 1, 0, 2]
    regimes = model.state.regimes
    assert all(r.money is regimes[0].money and r.programmes is regimes[0].programmes for r in regimes)
    assert not np.array_equal(regimes[0].base, regimes[4].base) and np.array_equal(regimes[1].base, regimes[2].base)
    model.run()
    for b, (sc, seed) in enumerate(zip(scenarios, seeds, strict=True)):
        _assert_same(RunResult.from_model(model.block(b)), simulate(sc, seed), f"block {b}")
    moved = [RunResult.from_model(model.block(b)).summary for b in (0, 1, 4)]
    assert moved[0] != moved[1] != moved[2]  # the draws changed what happened


def test_blocks_may_differ_in_the_exit_rates_after_fas3_closed() -> None:
    """A comparison's sensitivity line of the exit rates after Fas 3 closed re-runs the
    replications with that rule at another value: the rule is read per block, so those runs share
    a model with the other re-runs, each block equal to its own run."""
    base = load_scenario("scenarios/sigtuna-resursjobb-baseline.yaml")
    kept = load_scenario("scenarios/sigtuna-resursjobb-baseline.yaml", ["rules.fas3_rates_after_closure=1"])
    scenarios, seeds = [base, kept, kept, base], [4, 4, 9, 9]
    model = BatchModel(scenarios, seeds)
    model.run()
    results = [RunResult.from_model(model.block(b)) for b in range(len(scenarios))]
    for b, (sc, seed) in enumerate(zip(scenarios, seeds, strict=True)):
        _assert_same(results[b], simulate(sc, seed), f"block {b}")
    assert results[0].summary != results[1].summary  # the rule changed what happened (same seed)


def test_block_books_post_as_separate_runs_also_under_other_rates() -> None:
    """The blocks' ledger books share one posting of every state (SharedPostings): each block's
    sums, people, programme flows and re-postings under other rates equal its own run's, bit for bit."""
    from sim.accounts.payers import PAYERS
    from sim.analysis.payoff import INVESTMENT

    sc = load_scenario("scenarios/sigtuna-resursjobb.yaml", ["horizon_months=40"])
    seeds = [4, 9, 2]
    batched = simulate_batch([sc] * 3, seeds)
    assert batched[0].ledger_book.postings is batched[2].ledger_book.postings
    for res, seed in zip(batched, seeds, strict=True):
        a, b = res.ledger_book, simulate(sc, seed).ledger_book
        tax, value = {"municipal_tax_kept_share": 1.0}, {"production_value_share_of_wage_cost": 0.5}
        for x, y in ((a, b), (a.reposted(tax), b.reposted(tax)),
                     (a.reposted(value, programme_production_share=0.5),
                      b.reposted(value, programme_production_share=0.5))):
            assert x.months() == y.months() and x.by_payer() == y.by_payer()
            net = x.net(PAYERS, 40)
            assert np.array_equal(net, y.net(PAYERS, 40)) and np.array_equal(net, x._net_by_months(PAYERS, 40))
            for u, v in zip(x.people(PAYERS), y.people(PAYERS), strict=True):
                assert np.array_equal(u, v)
            assert np.array_equal(x.programme_flows(PAYERS, INVESTMENT), y.programme_flows(PAYERS, INVESTMENT))
    assert batched[1].ledger_book.reposted({"municipal_tax_kept_share": 1.0}).postings is \
        batched[0].ledger_book.reposted({"municipal_tax_kept_share": 1.0}).postings


def test_batched_models_shared_over_workers_equal_one_process(monkeypatch) -> None:
    """With workers, replicate() sends whole batched models to the pool (here three models of at
    most three blocks, as if a model held three cohorts); the results equal one process's."""
    from sim.runs import replications

    sc = load_scenario("scenarios/c2-lycksele.yaml", ["horizon_months=30"])
    one = replicate(sc, 11, 8, record_events=False)
    monkeypatch.setattr(replications, "BATCH_PEOPLE", 3 * 174)
    assert [len(c) for c in replications._models(range(8), 174)] == [3, 3, 2]
    done: list[int] = []
    pooled = replicate(sc, 11, 8, workers=2, record_events=False, progress=done.append)
    assert done == [1] * 8
    for a, b in zip(pooled.results, one.results, strict=True):
        _assert_same(a, b, "replication")


def test_a_batch_refuses_scenarios_that_differ_outside_their_programmes() -> None:
    a = scenario([PROGRAMME])
    b = scenario([PROGRAMME], horizon_months=24)
    with pytest.raises(BatchError, match="horizon_months"):
        BatchModel([a, b], [1, 2])
    c = scenario([merge(PROGRAMME, {"priority": ["youth"]})])
    with pytest.raises(BatchError, match="programmes"):
        BatchModel([a, c], [1, 2])


def test_replicate_runs_batched_with_calibrated_draws_and_equals_separate_runs(monkeypatch) -> None:
    from sim.engine import batch
    from sim.runs.posterior import replication_scenarios

    sc = load_scenario("scenarios/c2-lycksele-calibrated.yaml", ["horizon_months=30"])
    models = []
    monkeypatch.setattr(batch.BatchModel, "run", lambda self, run=batch.BatchModel.run: (models.append(self),
                                                                                         run(self))[1])
    batched = replicate(sc, 5, 3)
    assert [m.blocks for m in models] == [3]  # one model of three blocks, not three runs
    scenarios, draws = replication_scenarios(sc, 5, 3)
    assert batched.parameter_draws == draws
    for a, scn, seed in zip(batched.results, scenarios, batched.seeds, strict=True):
        _assert_same(a, simulate(scn, seed), "replication")
    assert len(set(batched.parameter_draws["draws"])) == 3  # each block with its own posterior draw


def _member_share(sc, value: float):
    from sim.analysis.assumptions_driving import _with_member_share

    return _with_member_share(sc, value)


def test_blocks_of_different_scenarios_equal_separate_runs() -> None:
    """A comparison's runs in one model: the baseline without the programme beside the scenario
    with it, their a-kassa variants (another population composition), event logs kept in some
    blocks only; every block equals a separate run of its own scenario."""
    base = load_scenario("scenarios/sigtuna-resursjobb-baseline.yaml", ["horizon_months=40"])
    scen = load_scenario("scenarios/sigtuna-resursjobb.yaml", ["horizon_months=40"])
    assert not base.programmes and scen.programmes
    scenarios = [base, scen, _member_share(base, 0.0), _member_share(scen, 0.5), scen, base, _member_share(scen, 0.0)]
    seeds = [3, 3, 5, 5, 9, 11, 3]
    events = [False, True, False, False, True, True, False]
    model = BatchModel(scenarios, seeds, record_events=events)
    assert model.state.spec is scen  # the block with every programme gives the batch's programmes
    model.run()
    results = [RunResult.from_model(model.block(b)) for b in range(model.blocks)]
    for b, (sc, seed, ev) in enumerate(zip(scenarios, seeds, events, strict=True)):
        _assert_same(results[b], simulate(sc, seed, record_events=ev), f"block {b}")
    assert results[0].tables["queues"].empty and not results[1].tables["queues"].empty
    assert results[0].tables["events"].empty and not results[5].tables["events"].empty
    # the a-kassa share changed who is a member, so what people are paid
    assert results[2].summary != results[5].summary and results[6].summary != results[1].summary


def test_large_blocks_without_events_keep_their_keys_counted_and_equal_separate_runs() -> None:
    """Blocks of more than ``LedgerBook.RAW_KEYS`` people without event logs count each month's
    keys as they are booked instead of keeping everyone's (8 bytes a person-month); each block
    equals its own run, its a-kassa nets included."""
    from sim.accounts.book import LedgerBook
    from sim.accounts.payers import PAYERS

    over = ["horizon_months=40", f"population.cohort.size={LedgerBook.RAW_KEYS + 1000}"]
    base = load_scenario("scenarios/sigtuna-resursjobb-baseline.yaml", over)
    scen = load_scenario("scenarios/sigtuna-resursjobb.yaml", over)
    model = BatchModel([base, scen], [3, 5], record_events=False, member_shares=(0.5,))
    rec = model.state.rec
    assert rec.counts_only
    model.run()
    assert all(key is None for _t, key, *_ in rec.ledger) and len(rec.counted) == 40
    for b, (sc, seed) in enumerate(((base, 3), (scen, 5))):
        got = RunResult.from_model(model.block(b))
        alone = simulate(sc, seed, record_events=False, member_shares=(0.5,))
        _assert_same(got, alone, f"block {b}")
        assert got.ledger_book.net(PAYERS, 40).tobytes() == alone.ledger_book.net(PAYERS, 40).tobytes()
        np.testing.assert_allclose(got.member_changes[0.5], alone.member_changes[0.5], rtol=1e-12, atol=1e-6)
    # with an event log everyone's keys are kept (the events read the movers')
    assert not BatchModel([base, scen], [3, 5], record_events=True).state.rec.counts_only


def test_a_finished_large_model_is_freed_at_once(monkeypatch) -> None:
    """A batched model of many person-months is freed as soon as its results are made (its
    calendar and the model refer to each other: left to the cyclic collector, a national run's
    model stayed in memory after every replication), and its results do not keep it alive."""
    import gc
    import weakref

    from sim.runs import replications

    states: list[weakref.ref] = []
    init = BatchModel.__init__

    def remember(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        init(self, *args, **kwargs)
        states.append(weakref.ref(self.state))

    monkeypatch.setattr(BatchModel, "__init__", remember)
    monkeypatch.setattr(replications, "COLLECT_FROM", 1)  # (this model is small: make it count as large)
    sc = load_scenario("scenarios/c2-lycksele.yaml", ["horizon_months=36"])
    gc.disable()  # (the test's own collections must not do it)
    try:
        results = replications._batch([sc, sc], [1, 2], False)
        assert states and states[0]() is None
    finally:
        gc.enable()
    assert results[0].summary and results[0].ledger_book.net(("municipality",), 36).shape == (36, 1)


def test_block_books_counted_by_the_batch_equal_books_that_count_their_own() -> None:
    """The batch counts every block's months under each rules at once (blocks under rules of the
    same contents together); each book's counts, rows and nets equal its own counting's, bit for bit."""
    from sim.accounts.payers import PAYERS

    base = load_scenario("scenarios/sigtuna-resursjobb-baseline.yaml", ["horizon_months=40"])
    scen = load_scenario("scenarios/sigtuna-resursjobb.yaml", ["horizon_months=40"])
    model = BatchModel([base, scen, scen, base, _member_share(scen, 0.0)], [3, 3, 5, 7, 3], record_events=False)
    model.run()
    rec = model.state.rec
    funders = [[p.funder for p in sc.programmes] for sc in model.state.specs]
    for b in range(model.blocks):
        batch, own = rec._block_book(b, funders[b]), rec._block_book(b, funders[b])
        own.counted = None
        batch._gather()
        own._gather()
        assert len(batch._gathered) == len(own._gathered) > 1  # (reforms: several rules a block)
        for g, h in zip(batch._gathered, own._gathered, strict=True):
            for x, y in zip(g.counted, h.counted, strict=True):
                assert x.dtype == y.dtype and np.array_equal(x, y)
            assert g.rows[0] is h.rows[0] and np.array_equal(g.rows[1], h.rows[1])
            assert rec._block_counted(b, *g.rules, g.ts) is not None  # (counted by the batch)
        assert batch.net(PAYERS, 40).tobytes() == own.net(PAYERS, 40).tobytes()


def test_a_batch_takes_the_regimes_of_the_batch_before_and_runs_as_without_them() -> None:
    """A comparison's a-kassa re-runs (another composition) use the regimes its first model
    resolved (the same objects), and their blocks equal those of a batch that resolved its own."""
    from sim.engine import batch_state

    base = load_scenario("scenarios/sigtuna-resursjobb-baseline.yaml", ["horizon_months=40"])
    scen = load_scenario("scenarios/sigtuna-resursjobb.yaml", ["horizon_months=40"])
    first = BatchModel([base, scen], [3, 3], record_events=False)
    at_start = first.state.regimes[1]
    first.run()
    reruns = [_member_share(base, 0.0), _member_share(scen, 0.0)]
    model = BatchModel(reruns, [3, 3], record_events=False)
    assert model.state.regimes[1] is at_start
    model.run()
    batch_state._latest = batch_state._Resolved({}, {}, {})  # nothing to take
    alone = BatchModel(reruns, [3, 3], record_events=False)
    assert alone.state.regimes[1] is not at_start
    alone.run()
    for b in range(2):
        _assert_same(RunResult.from_model(model.block(b)), RunResult.from_model(alone.block(b)), f"block {b}")


def test_blocks_with_their_own_programme_numbers_and_fewer_programmes_equal_separate_runs() -> None:
    """Random programme numbers, some blocks with only the first of the two programmes or none."""
    rng = np.random.default_rng(23)
    scenarios = []
    for k in range(5):
        progs = _random_programmes(rng)[: (2, 1, 0, 2, 1)[k]]
        scenarios.append(scenario(progs, population={"cohort": {"size": 250}}, horizon_months=30))
    seeds = [int(s) for s in rng.integers(0, 2**31, len(scenarios))]
    model = BatchModel(scenarios, seeds)
    assert model.state.ref == 0
    model.run()
    for b, (sc, seed) in enumerate(zip(scenarios, seeds, strict=True)):
        _assert_same(RunResult.from_model(model.block(b)), simulate(sc, seed), f"block {b}")


def test_a_batch_refuses_blocks_whose_programmes_are_not_the_first_of_the_batchs() -> None:
    a = scenario([PROGRAMME, JOBS])
    b = scenario([JOBS])  # the second programme without the first
    with pytest.raises(BatchError, match="programmes"):
        BatchModel([a, b], [1, 2])
    BatchModel([a, scenario([PROGRAMME]), scenario([])], [1, 2, 3])  # the first few, or none: one batch


def test_replicate_all_runs_a_comparisons_runs_in_one_model_equal_to_replicate(monkeypatch, tmp_path) -> None:
    """Baseline, scenario and the a-kassa re-runs, each with posterior draws: one batched model,
    each ensemble equal to replicate() of its own; kept in a store under replicate()'s keys."""
    from sim.engine import batch
    from sim.runs.replications import Request, replicate_all

    base = load_scenario("scenarios/sigtuna-resursjobb-baseline.yaml", ["horizon_months=30"])
    scen = load_scenario("scenarios/sigtuna-resursjobb.yaml", ["horizon_months=30"])
    asked = [Request(base, 4, 3, False), Request(scen, 4, 3, True), Request(_member_share(base, 0.5), 4, 3, False),
             Request(_member_share(scen, 0.0), 4, 2, False), Request(scen, 4, 2, False, fixed_parameters=True)]
    models: list[BatchModel] = []
    monkeypatch.setattr(batch.BatchModel, "run", lambda self, run=batch.BatchModel.run: (models.append(self),
                                                                                         run(self))[1])
    done: list[int] = []
    together = replicate_all(asked, progress=done.append, store=tmp_path / "kept")
    assert [m.blocks for m in models] == [13] and done == [1] * 13
    models.clear()
    for rq, ens in zip(asked, together, strict=True):
        alone = replicate(rq.scenario, rq.seed, rq.replications, record_events=rq.record_events,
                          fixed_parameters=rq.fixed_parameters)
        assert ens.seeds == alone.seeds and ens.parameter_draws == alone.parameter_draws
        for a, b in zip(ens.results, alone.results, strict=True):
            _assert_same(a, b, rq.scenario.name)
        # what replicate_all kept, replicate reads back (the same keys): nothing runs again
        models.clear()
        again = replicate(rq.scenario, rq.seed, rq.replications, record_events=rq.record_events,
                          fixed_parameters=rq.fixed_parameters, store=tmp_path / "kept")
        assert models == []
        for a, b in zip(again.results, alone.results, strict=True):
            _assert_same(a, b, rq.scenario.name)


def test_replicate_all_runs_scenarios_that_cannot_share_a_model_apart() -> None:
    from sim.runs.replications import Request, replicate_all

    a = load_scenario("scenarios/c2-lycksele.yaml", ["horizon_months=30"])
    b = load_scenario("scenarios/c2-lycksele.yaml", ["horizon_months=32"])
    got = replicate_all([Request(a, 1, 2, False), Request(b, 1, 2, False)])
    for rq, ens in zip((a, b), got, strict=True):
        for x, y in zip(ens.results, replicate(rq, 1, 2, record_events=False).results, strict=True):
            _assert_same(x, y, rq.name)


def test_compare_books_the_akassa_line_in_its_own_runs_and_counts_each(monkeypatch) -> None:
    """compare() asks for the baseline and two scenarios at once (one model) and books the a-kassa
    line's shares in those runs: no re-runs (C2 ends before Fas 3 closed: no other line re-runs),
    progress called as many times as the command line counts, and the assumption lines equal (to
    float noise) to those computed on their own from runs that did not book them, which re-run
    each share."""
    import pandas as pd

    from sim.analysis.assumptions_driving import assumption_lines, rerun_values
    from sim.analysis.comparison import compare
    from sim.engine import batch

    over = ["horizon_months=36"]
    base = load_scenario("scenarios/c2-lycksele-baseline.yaml", over)
    scens = [load_scenario(f"scenarios/{name}.yaml", over) for name in ("c2-lycksele", "c2-lycksele-2coaches")]
    models: list[BatchModel] = []
    monkeypatch.setattr(batch.BatchModel, "run", lambda self, run=batch.BatchModel.run: (models.append(self),
                                                                                         run(self))[1])
    done: list[int] = []
    out = compare(base, scens, replications=2, seed=3, bridge=False, progress=done.append)
    r, n = 2, len(scens)  # replications, scenarios
    assert [m.blocks for m in models] == [r * (1 + n)]
    assert sum(done) == r * (1 + n) + r * sum(rerun_values(base) + rerun_values(s) for s in scens) == r * (1 + n)
    base_ens = replicate(base, 3, r, record_events=False)
    ens = [replicate(s, 3, r) for s in scens]
    models.clear()
    alone = assumption_lines(base_ens, ens, out.scenarios)
    assert [m.blocks for m in models] == [r * 2 * (1 + n)]  # (re-runs: two shares, the baseline's once)
    pd.testing.assert_frame_equal(out.tables["assumption_lines"].reset_index(drop=True), alone.reset_index(drop=True),
                                  check_exact=False, rtol=1e-9, atol=1e-3)


def test_blocks_whose_inflow_has_its_own_spread_equal_separate_runs() -> None:
    """An inflow's own spread of employability is its people's in a batch too, and a spread the
    inflow inherits follows each block's population (a drawn spread per replication)."""
    from sim.scenario.paths import with_values

    base = scenario([PROGRAMME], population={"cohort": {"size": 600},
                                             "inflow": {"people_per_month": 15,
                                                        "composition": {"initial_stages": {"open": 1.0}}}})
    own = with_values(base, {"population.inflow.composition.employability_sd": 0.0})
    batches = [[with_values(base, {"population.composition.employability_sd": 1.3}), base],
               [own, with_values(own, {"population.composition.employability_sd": 0.2})]]
    assert [s.population.inflow.composition.employability_sd for b in batches for s in b] == [1.3, 0.7, 0.0, 0.0]
    seeds = [4, 9]
    summaries = []
    for scenarios in batches:
        model = BatchModel(scenarios, seeds)
        model.run()
        for b, sc in enumerate(scenarios):
            summaries.append(RunResult.from_model(model.block(b)).summary)
            _assert_same(RunResult.from_model(model.block(b)), simulate(sc, seeds[b]), f"block {b}")
    assert len({repr(s) for s in summaries}) == 4


@pytest.mark.parametrize("blocks", [3, 120])
def test_what_a_batch_keeps_between_moves_is_what_everyone_shows(monkeypatch, blocks: int) -> None:
    """Every programme's participants and queue, and their counts per block, are kept between
    moves (made anew only after a move of someone tagged to a programme, or a referral): after
    every sub-step of every month they are what a look at everyone finds. With 120 C2 blocks
    (20,880 people) the list of the tagged is kept from month to month (merged into, or made
    anew, at referrals), with 3 it is made anew at each."""
    from sim.engine import batch_month
    from sim.scenario.stages import Stage

    checked: list[str] = []

    def check(state: object, after: str) -> None:
        pop = state.pop
        for p in state.regime.programmes:
            mine = pop.programme == p.index
            part = np.flatnonzero(mine & (pop.stage == p.stage))
            assert np.array_equal(state.participants(p), part), f"participants after {after}, month {state.t}"
            assert np.array_equal(state.queue(p.index), np.flatnonzero(mine & (pop.stage == Stage.WAITING))), after
            assert np.array_equal(state.participants_per_block(p), np.bincount(state.block[part], minlength=blocks))
        checked.append(after)

    def checked_after(step):  # noqa: ANN001, ANN202
        def run(state: object) -> None:
            step(state)
            check(state, step.__name__)
        return run

    steps = len(batch_month.MONTH)
    monkeypatch.setattr(batch_month, "MONTH", tuple(checked_after(s) for s in batch_month.MONTH))
    names = ("c2-lycksele-baseline", "c2-lycksele", "c2-lycksele-2coaches")
    scenarios = [load_scenario(f"scenarios/{names[b % 3]}.yaml") for b in range(blocks)]
    model = BatchModel(scenarios, list(range(blocks)), record_events=False)
    assert (len(model.state.pop) > 20_000) == (blocks == 120)
    model.run()
    assert len(checked) == steps * model.state.horizon
