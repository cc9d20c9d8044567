"""Every pass over everyone is one function: compiled (numba) and run as plain Python
(its ``py_func``), it gives bit-identical runs.

The uncompiled run is the readable reference (``ProgrammeModel(..., compiled=False)``); these
tests compare whole runs table by table, on shipped scenarios with small populations and on
random programmes, and the kernels one by one on random inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

from sim import ProgrammeModel, load_scenario
from sim.accounts.book import _decode, _in_programme, fas3_placements, ledger_keys
from sim.accounts.jit import run
from sim.accounts.rules import FULL_MONTH, UI_CEILING_STEP_DAY, UI_STEP_DAY, ui_days_before, ui_days_left
from sim.engine import moves
from sim.engine.month.forced import coded_ids
from sim.engine.month.referrals import referral_draws
from sim.engine.month.sweep import ENTERS, INTO_FAS3, month_sweep
from sim.engine.population import Population
from sim.engine.state import select
from sim.engine.streams import Streams, draw
from sim.scenario.stages import Stage

ROOT = Path(__file__).resolve().parents[1]

#: shipped scenarios, small enough to run uncompiled (overrides as with ``--set``)
SCENARIOS = {
    "c2-lycksele": [],
    "sigtuna-resursjobb": ["population.cohort.size=120"],
    "umea-insteget": ["population.cohort.size=300", "population.inflow.people_per_month=12", "horizon_months=48"],
}


def _run(path: Path, compiled: bool, seed: int, overrides: list[str], track: list[int] = ()) -> ProgrammeModel:
    model = ProgrammeModel(load_scenario(path, overrides), rng=seed, compiled=compiled, track=track)
    model.run()
    return model


def _same_runs(a: ProgrammeModel, b: ProgrammeModel) -> None:
    """Every table a run records, and everyone's final state, are equal (floats exactly)."""
    assert a.compiled != b.compiled
    ra, rb = a.rec, b.rec
    np.testing.assert_array_equal(np.array(ra.stocks), np.array(rb.stocks))
    assert ra.flows.keys() == rb.flows.keys()
    for t in ra.flows:
        np.testing.assert_array_equal(ra.flows[t], rb.flows[t])
    assert len(ra.events) == len(rb.events)
    for ea, eb in zip(ra.events, rb.events, strict=True):
        assert ea[0] == eb[0]
        for x, y in zip(ea[1:], eb[1:], strict=True):
            np.testing.assert_array_equal(x, y)
    assert ra.ledger == rb.ledger
    assert ra.queues == rb.queues
    assert ra.exits == rb.exits and ra.starts == rb.starts
    assert len(ra.follow_ups) == len(rb.follow_ups)
    for fa, fb in zip(ra.follow_ups, rb.follow_ups, strict=True):
        assert fa[:3] == fb[:3]
        np.testing.assert_array_equal(fa[3], fb[3])
    assert len(ra.status_rows) == len(rb.status_rows)
    for sa, sb in zip(ra.status_rows, rb.status_rows, strict=True):
        assert sa[:2] == sb[:2]
        np.testing.assert_array_equal(sa[2], sb[2])
    for ta, tb in zip(ra.tracked_state, rb.tracked_state, strict=True):
        assert ta.keys() == tb.keys()
        for k in ta:
            np.testing.assert_array_equal(ta[k], tb[k])
    for f in Population.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(a.pop, f), getattr(b.pop, f), err_msg=f)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_compiled_run_equals_uncompiled_run(name: str) -> None:
    path = ROOT / "scenarios" / f"{name}.yaml"
    track = [0, 5, 17]
    uncompiled = _run(path, False, 11, SCENARIOS[name], track)
    assert uncompiled.rec.events and uncompiled.rec.ledger
    _same_runs(uncompiled, _run(path, True, 11, SCENARIOS[name], track))


def test_draws_are_the_streams_draws() -> None:
    streams = Streams(123)
    ids = np.arange(0, 5000, 7, dtype=np.int64)
    base = streams.base("transition", 17)
    expected = streams.uniform("transition", 17, ids)

    @njit
    def compiled_draws(base, ids):  # noqa: ANN001, ANN202
        out = np.empty(ids.size)
        for j in range(ids.size):
            out[j] = draw(base, ids[j])
        return out

    with np.errstate(over="ignore"):
        plain = np.array([draw(base, int(i)) for i in ids])
    np.testing.assert_array_equal(plain, expected)
    np.testing.assert_array_equal(compiled_draws(base, ids), expected)


@pytest.mark.parametrize("compiled", [False, True])
def test_select_is_flatnonzero(compiled: bool) -> None:
    rng = np.random.default_rng(0)
    stage = rng.integers(0, len(Stage), 2_000).astype(np.uint8)
    moved = rng.random(2_000) < 0.1
    wanted = rng.random(len(Stage)) < 0.5
    np.testing.assert_array_equal(run(select, compiled, stage, moved, wanted), np.flatnonzero(wanted[stage] & ~moved))


def test_ledger_keys_compiled_equal_uncompiled_and_decode_back() -> None:
    rng = np.random.default_rng(1)
    n = 3_000
    stage = rng.integers(0, len(Stage), n).astype(np.uint8)
    programme = rng.integers(-1, 31, n).astype(np.int8)  # (at most 31 programmes)
    household = rng.integers(0, 4, n).astype(np.uint8)
    children = rng.integers(0, 20, n).astype(np.uint8)
    ui_entitled = rng.random(n) < 0.5
    related = ui_entitled & (rng.random(n) < 0.5)
    municipal = rng.random(n) < 0.3
    ui_days = rng.choice([0.0, 60.0, 69.0, 78.5, 95.3, 99.5, 100.0, 130.2, 169.0, 178.5, 195.3, 199.5, 200.0, 282.1,
                          290.0, 300.0, 440.0, 455.0], n).astype(np.float32)
    in_guarantee = rng.random(n) < 0.5
    job_days = rng.choice([0.0, 300.0, 450.0, 600.0], n).astype(np.float32)
    wage = (rng.random(n) * 30000).astype(np.float32)
    birth = rng.integers(-400, 0, n).astype(np.int32)
    args = (stage, programme, household, children, ui_entitled, related, municipal, ui_days, in_guarantee, job_days,
            wage, birth, -312, np.float32(450.0), np.bool_(False), np.float32(300.0), np.float32(450.0), np.bool_(True))
    keys = run(ledger_keys, True, *args)
    np.testing.assert_array_equal(keys, run(ledger_keys, False, *args))
    x = _decode(keys)
    fas3 = (stage == Stage.FAS3) | (in_guarantee & (job_days >= 450.0) & (stage >= Stage.WAITING)
                                    & (stage <= Stage.EDUCATION))
    np.testing.assert_array_equal(x.fas3_placement, fas3)
    ids = np.arange(n)
    for compiled in (False, True):
        np.testing.assert_array_equal(
            run(fas3_placements, compiled, stage, in_guarantee, job_days, ids, np.float32(450.0), np.bool_(False)),
            fas3)
    # once Fas 3 takes no entrants, people in JOB past the day limit count too
    closed = (*args[:14], np.bool_(True), *args[15:])
    later = _decode(run(ledger_keys, True, *closed))
    in_job_past = in_guarantee & (job_days >= 450.0) & (stage == Stage.JOB)
    np.testing.assert_array_equal(later.fas3_placement, fas3 | in_job_past)
    np.testing.assert_array_equal(run(ledger_keys, False, *closed), run(ledger_keys, True, *closed))
    np.testing.assert_array_equal(x.stage, stage)
    np.testing.assert_array_equal(x.ui_income_related, related)
    np.testing.assert_array_equal(x.fas3_municipal, municipal)
    np.testing.assert_array_equal(x.programme, programme)
    np.testing.assert_array_equal(_in_programme(keys), programme >= 0)  # (the organisers' flows read it)
    np.testing.assert_array_equal(x.household, household)
    np.testing.assert_array_equal(x.children, np.minimum(children, 15))
    np.testing.assert_array_equal(x.reference_wage, wage)
    np.testing.assert_array_equal(x.ui_entitled, ui_entitled)
    np.testing.assert_array_equal(x.in_guarantee, in_guarantee)
    # the days before each step come back for everyone with an open period (what post reads)
    for day in (UI_CEILING_STEP_DAY, UI_STEP_DAY):
        before = ui_days_before(ui_days, day)
        np.testing.assert_array_equal(ui_days_before(x.ui_days, day)[ui_entitled], before[ui_entitled])
        assert {0.0, 1.0, 5.0, 22.0, 31.0} <= set(before[ui_entitled].tolist())
    # where the ceiling does not step at day 100, only day 200's days are kept (fewer keys)
    flat = run(ledger_keys, True, *args[:-1], np.bool_(False))
    np.testing.assert_array_equal(flat, run(ledger_keys, False, *args[:-1], np.bool_(False)))
    y = _decode(flat)
    np.testing.assert_array_equal(ui_days_before(y.ui_days, UI_STEP_DAY)[ui_entitled],
                                  ui_days_before(ui_days, UI_STEP_DAY)[ui_entitled])
    assert np.unique(flat >> 32).size < np.unique(keys >> 32).size  # (the states but the wage)
    np.testing.assert_array_equal(x.young(), birth > -312)
    left = ui_days_left(ui_days, children, 300.0, 450.0)  # (everyone without an open period: a full month)
    np.testing.assert_array_equal(x.ui_days_left, np.where(ui_entitled, left, FULL_MONTH))
    assert {0.0, 10.0, 18.0, 31.0} <= set(x.ui_days_left[ui_entitled].tolist())


@pytest.mark.parametrize("compiled", [False, True])
def test_an_illegal_move_fails_loudly_and_writes_nothing(compiled: bool) -> None:
    model = ProgrammeModel(load_scenario(ROOT / "scenarios" / "c2-lycksele.yaml"), rng=0, compiled=compiled)
    model.run(12)
    gone = np.flatnonzero(model.pop.stage == Stage.OTHER)[:1]  # 'other' is absorbing
    working = np.flatnonzero(model.pop.stage == Stage.WORK)[:1]
    assert gone.size and working.size
    ids = np.concatenate([working, gone])
    before = {f: getattr(model.pop, f).copy() for f in Population.__dataclass_fields__}
    moved = model.state.moved.copy()
    flows = {t: f.copy() for t, f in model.rec.flows.items()}
    events = len(model.rec.events)
    with pytest.raises(AssertionError, match="illegal move other -> open"):
        moves._apply(model.state, ids, np.array([Stage.OPEN, Stage.OPEN], np.uint8))
    for f, v in before.items():
        np.testing.assert_array_equal(getattr(model.pop, f), v, err_msg=f)
    np.testing.assert_array_equal(model.state.moved, moved)
    assert len(model.rec.events) == events
    for t, f in model.rec.flows.items():
        np.testing.assert_array_equal(f, flows.get(t, np.zeros_like(f)))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), staff=st.integers(0, 5), referral=st.floats(0, 1), duration=st.integers(1, 24),
       slots=st.integers(0, 80), budget=st.one_of(st.none(), st.floats(0, 2e6)), size=st.integers(0, 400),
       motivation_loss=st.floats(0, 0.3), ui_share=st.floats(0, 1))
def test_compiled_equals_uncompiled_for_random_programmes(seed, staff, referral, duration, slots, budget, size,
                                                          motivation_loss, ui_share) -> None:
    from factories import JOBS, PROGRAMME, merge, scenario

    coach = merge(PROGRAMME, {"capacity": {"staff": {"2012-01": staff, "2012-07": max(staff - 1, 0)},
                                           "caseload_per_staff": 10},
                              "referral_rate_per_month": referral, "max_duration_months": duration,
                              "motivation_loss_per_waiting_month": motivation_loss})
    if budget is None:
        coach.pop("budget_sek_per_year", None)
    else:
        coach["budget_sek_per_year"] = {"municipality": {"2012-01": budget, "2013-01": budget / 2}}
    jobs = merge(JOBS, {"capacity": {"slots": slots}})
    scn = scenario([coach, jobs], population={"cohort": {"size": size},
                                              "composition": {"ui_entitled_share": ui_share}}, horizon_months=30)
    runs = []
    for compiled in (False, True):
        model = ProgrammeModel(scn, rng=seed, compiled=compiled)
        model.run()
        runs.append(model)
    _same_runs(*runs)


@pytest.mark.parametrize("compiled", [True, False])
def test_referral_draws_select_and_draw_as_streams_do(compiled: bool) -> None:
    """Each programme's candidates are drawn from its own stream; programmes share stages, and at
    rate 1 more are drawn in all than there are candidates (the output grows)."""
    rng = np.random.default_rng(3)
    n = 5_000
    stage = rng.integers(0, len(Stage), n).astype(np.uint8)
    moved = rng.random(n) < 0.1
    wanted = rng.random((3, len(Stage))) < 0.5
    wanted[2] = wanted[0] | wanted[1]
    rates = np.array([0.2, 0.0, 1.0])
    streams = Streams(11)
    bases = np.array([streams.base(f"referral/{p}", 4) for p in range(3)], np.uint64)
    got, starts = run(referral_draws, compiled, stage, moved, wanted, bases, rates)
    assert starts.tolist()[:3] == [0, starts[1], starts[1]] and starts[3] == got.size
    for p in range(3):
        cand = np.flatnonzero(wanted[p][stage] & ~moved)
        expected = cand[streams.uniform(f"referral/{p}", 4, cand) < rates[p]]
        np.testing.assert_array_equal(got[starts[p]:starts[p + 1]], expected)
    assert 0 < starts[1] < np.flatnonzero(wanted[0][stage] & ~moved).size
    assert got.size > np.flatnonzero((wanted[0] | wanted[1])[stage] & ~moved).size
    assert got.dtype == np.int64


def _people(n: int, seed: int) -> dict[str, np.ndarray]:
    """The arrays :func:`month_sweep` reads, random; a tenth of the UI and JOB days a month short
    of a limit (300, 450 days: on it once advanced)."""
    rng = np.random.default_rng(seed)
    ui_entitled = rng.random(n) < 0.5
    edge = rng.random(n) < 0.1
    short = rng.choice(np.array([300.0 - 21.75, 450.0 - 21.75], np.float32), n)
    return {
        "stage": rng.integers(0, len(Stage), n).astype(np.uint8),
        "programme": rng.integers(-1, 31, n).astype(np.int8),
        "household": rng.integers(0, 4, n).astype(np.uint8),
        "children": rng.integers(0, 3, n).astype(np.uint8),
        "ui_entitled": ui_entitled,
        "ui_income_related": ui_entitled & (rng.random(n) < 0.5),
        "fas3_municipal": rng.random(n) < 0.3,
        "ui_days": np.where(edge, short, rng.integers(0, 500, n)).astype(np.float32),
        "in_guarantee": rng.random(n) < 0.3,
        "job_days": np.where(edge, 450.0 - 21.75, rng.integers(0, 600, n)).astype(np.float32),
        "reference_wage": (rng.random(n) * 30000).astype(np.float32),
        "birth_month": rng.integers(-400, 0, n).astype(np.int32),
        "work_history": rng.integers(0, 1 << 12, n).astype(np.uint16),
        "months_in_stage": rng.integers(0, 100, n).astype(np.int16),
        "months_out_of_work": rng.integers(0, 30, n).astype(np.int16),
        "months_since": rng.choice(np.array([0, 5, 29_999, 30_000], np.int16), n),
        "registered": rng.random(n) < 0.8,
    }


_KEY_ARRAYS = ("stage", "programme", "household", "children", "ui_entitled", "ui_income_related", "fas3_municipal",
               "ui_days", "in_guarantee", "job_days", "reference_wage", "birth_month")


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("n", [5_000, 20_005])
def test_month_sweep_follows_the_rules(compiled: bool, n: int) -> None:
    """The keys (those of ``ledger_keys`` before the clocks advance), every clock and the
    guarantee codes on the advanced clocks, written out with numpy; one chunk, and chunks with a
    part of one at the end."""
    x = _people(n, 5)
    before = {k: v.copy() for k, v in x.items()}
    counts_as_work = np.random.default_rng(6).random(32) < 0.5
    key_rules = (-312, np.float32(450.0), np.bool_(False))
    key, code = run(month_sweep, compiled, *(x[k] for k in _KEY_ARRAYS), x["work_history"], x["months_in_stage"],
                    x["months_out_of_work"], x["months_since"], x["registered"], *key_rules, 300.0, 450.0,
                    np.bool_(True), counts_as_work, np.float32(21.75), 12, np.float32(450.0))
    np.testing.assert_array_equal(key, run(ledger_keys, True, *(before[k] for k in _KEY_ARRAYS), *key_rules,
                                           np.float32(300.0), np.float32(450.0), np.bool_(True)))
    stage, programme, ui_entitled, in_guarantee = x["stage"], x["programme"], x["ui_entitled"], x["in_guarantee"]
    benefit = (stage <= Stage.EDUCATION) | (stage == Stage.FAS3)
    ui_days = before["ui_days"] + np.where(benefit & ui_entitled & ~in_guarantee, 21.75, 0.0).astype(np.float32)
    job_days = before["job_days"] + np.where(benefit & in_guarantee, 21.75, 0.0).astype(np.float32)
    np.testing.assert_array_equal(x["ui_days"], ui_days)
    np.testing.assert_array_equal(x["job_days"], job_days)
    qualifying = (stage == Stage.WORK) | ((stage == Stage.SUBSIDISED)
                                          & ((programme < 0) | counts_as_work[np.maximum(programme, 0)]))
    np.testing.assert_array_equal(x["work_history"], ((before["work_history"] << 1) & 0x0FFF) | qualifying)
    assert 0 < (qualifying & (stage == Stage.SUBSIDISED)).sum() < (stage == Stage.SUBSIDISED).sum()
    np.testing.assert_array_equal(x["months_in_stage"], before["months_in_stage"] + (stage != Stage.NOT_ARRIVED))
    out_of_work = before["months_out_of_work"] + benefit
    np.testing.assert_array_equal(x["months_out_of_work"], out_of_work)
    np.testing.assert_array_equal(x["months_since"], before["months_since"] + (before["months_since"] < 30_000))
    outside = ((stage == Stage.OPEN) | ((stage >= Stage.WAITING) & (stage <= Stage.EDUCATION))) & ~in_guarantee
    exhausted = ui_entitled & (ui_days >= np.where(x["children"] > 0, 450.0, 300.0))
    long_registered = x["registered"] & (out_of_work >= 12) & ~ui_entitled
    enters = outside & (exhausted | long_registered)
    into_fas3 = (stage == Stage.JOB) & (job_days >= 450.0)
    np.testing.assert_array_equal(code, np.where(enters, ENTERS, 0) | np.where(into_fas3, INTO_FAS3, 0))
    assert enters.any() and into_fas3.any()


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("n", [20_000, 20_005, 63])
def test_coded_ids_are_the_codes_of_people_not_moved(compiled: bool, n: int) -> None:
    """The ids of each code among the people not moved, as numpy finds them; more than 255 of
    each (counts must not wrap); codes in whole blocks of 64, in the part of one after them, and
    runs of them (blocks all 0 and all set)."""
    rng = np.random.default_rng(4)
    code = np.where(rng.random(n) < 0.05, rng.choice(np.array([ENTERS, INTO_FAS3], np.uint8), n), 0).astype(np.uint8)
    code[:64] = 0
    code[128:200] = ENTERS
    moved = rng.random(n) < 0.1
    enter, to_fas3 = run(coded_ids, compiled, code, moved)
    np.testing.assert_array_equal(enter, np.flatnonzero((code == ENTERS) & ~moved))
    np.testing.assert_array_equal(to_fas3, np.flatnonzero((code == INTO_FAS3) & ~moved))
    assert enter.dtype == to_fas3.dtype == np.int64
    if n > 10_000:
        assert enter.size > 255 and to_fas3.size > 255


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("blocks", [0, 3])
def test_unemployed_stages_follow_the_rules(compiled: bool, blocks: int) -> None:
    """Who opens a UI period on leaving a job and with which wage and a-kassa flags, and the
    stage everyone returns to, written out with numpy: work and subsidised jobs (a programme's
    own wage, per block in a batch), work histories either side of the condition, members either
    side of the membership months, two other a-kassa shares."""
    rng = np.random.default_rng(6)
    n, n_prog, shares = 30_000, 4, 2
    ids = np.sort(rng.choice(n, 8_000, replace=False))
    src = rng.choice(np.array([Stage.WORK, Stage.SUBSIDISED, Stage.OPEN, Stage.TRAINING], np.uint8), ids.size)
    history = rng.integers(0, 1 << 12, n).astype(np.uint16)
    member_since = rng.integers(100, 140, n).astype(np.int32)
    arrival, joined = rng.integers(80, 130, n).astype(np.int32), rng.integers(100, 140, n).astype(np.int32)
    member_alt = rng.integers(0, 1 << shares, n).astype(np.uint8)
    programme = rng.integers(-1, n_prog, n).astype(np.int8)
    wage = rng.integers(15_000, 30_000, (max(blocks, 1), n_prog)).astype(np.float64)
    block = rng.integers(0, blocks, n) if blocks else np.zeros(0, np.int64)
    state = {"related_alt": rng.integers(0, 4, n).astype(np.uint8), "wage": rng.random(n).astype(np.float32),
             "entitled": rng.random(n) < 0.5, "related": rng.random(n) < 0.5,
             "ui_days": rng.integers(0, 300, n).astype(np.float32), "guarantee": rng.random(n) < 0.5,
             "job_days": rng.integers(0, 900, n).astype(np.float32)}
    new = {k: v.copy() for k, v in state.items()}
    employed = np.zeros(len(Stage), bool)
    employed[[Stage.WORK, Stage.SUBSIDISED]] = True
    month, needed, condition = 130, 12.0, 6
    out = run(moves.unemployed_stages, compiled, ids, src, employed, history, np.int64(condition), np.int64(month + 1),
              np.float64(needed), np.int64(shares), arrival, joined, member_alt, new["related_alt"], member_since,
              new["wage"], new["entitled"], new["related"], new["ui_days"], new["guarantee"], new["job_days"],
              np.float32(450.0), 25_000.0, 18_000.0, programme, wage, block)
    earned = employed[src] & (np.bitwise_count(history[ids]) >= condition)
    opened = ids[earned]
    own = (src[earned] == Stage.SUBSIDISED) & (programme[opened] >= 0)
    w = np.where(src[earned] == Stage.WORK, 25_000.0, 18_000.0)
    w[own] = wage[block[opened[own]] if blocks else 0, programme[opened[own]]]
    state["wage"][opened] = w
    state["entitled"][opened] = True
    state["related"][opened] = month + 1 - member_since[opened].astype(np.int64) >= needed
    bits = np.zeros(opened.size, np.uint8)
    for k in range(shares):
        since = np.where((member_alt[opened] >> k) & 1 == 1, arrival[opened].astype(np.int64) - 24, joined[opened])
        bits |= ((month + 1 - since) >= needed).astype(np.uint8) << k
    state["related_alt"][opened] = bits
    state["ui_days"][opened] = 0.0
    state["guarantee"][opened] = False
    state["job_days"][opened] = 0.0
    for k in state:
        np.testing.assert_array_equal(new[k], state[k], err_msg=k)
    g, fas3 = state["guarantee"][ids], state["job_days"][ids] >= 450.0
    np.testing.assert_array_equal(out, np.where(g, np.where(fas3, Stage.FAS3, Stage.JOB), Stage.OPEN))
    # every case is there: periods opened and not, own wages, both flags either way, every stage
    assert 0 < earned.sum() < employed[src].sum() and own.any() and 0 < state["related"][opened].mean() < 1
    assert set(np.unique(out)) == {Stage.OPEN, Stage.JOB, Stage.FAS3} and 0 < bits.mean() < 3


def test_the_followed_are_those_found_in_everyone(monkeypatch) -> None:  # noqa: ANN001
    """The people followed up each month (found among those who left a programme lately) are
    everyone whose months since a programme are followed, as a scan of everyone finds them: in a
    run (cuts, exits, completions and dropouts) and in a batch."""
    from sim.engine.batch import BatchModel
    from sim.engine.state import WaitingLists

    seen = []
    original = WaitingLists.followed

    def checked(state, wanted):  # noqa: ANN001, ANN202
        got = original(state, wanted)
        months_since = state.pop.months_since_programme
        np.testing.assert_array_equal(got, np.flatnonzero(np.isin(months_since, np.flatnonzero(wanted))))
        seen.append(got.size)
        return got

    monkeypatch.setattr(WaitingLists, "followed", checked)
    monkeypatch.setattr("sim.engine.state.SMALL", 0)  # the lists of leavers, not the scan of small runs
    scenario = load_scenario(ROOT / "scenarios" / "sigtuna-resursjobb.yaml")
    ProgrammeModel(scenario, rng=3).run()
    assert len(seen) == scenario.horizon_months and sum(seen) > 0
    seen.clear()
    BatchModel([scenario] * 3, [1, 2, 3]).run()
    assert len(seen) == scenario.horizon_months and sum(seen) > 0


def _random_hazard_inputs(seed: int, people: int, n_prog: int, blocks: int, extreme: bool) -> dict:
    """Everything :func:`hazard_pass` reads, at random: stages (gone and not arrived too),
    programmes, clocks, multipliers, after-effects and motivation, hazard rows with NaN work
    bases and lock-in on programme rows; ``extreme``: motivation near 0, after-effects below 1,
    large multipliers, hazards near 1."""
    from sim.engine.in_force import N_DEST

    rng = np.random.default_rng(seed)
    ns = len(Stage)
    sets = int(rng.integers(1, blocks + 1))  # sets of stage rows (transition rates), shared by blocks at random
    prog0 = sets * ns
    rows = prog0 + blocks * n_prog
    scale = 0.6 if extreme else 0.05
    table = rng.random((rows, N_DEST)) * scale * (rng.random((rows, N_DEST)) < 0.7)
    work_base = np.where(rng.random(rows) < 0.3, np.nan, rng.random(rows) * scale)
    is_programme = np.arange(rows) >= prog0
    lock_in = np.where(is_programme, rng.random(rows) * 2, 1.0)
    stage = rng.integers(0, ns, people).astype(np.uint8)
    programme = np.where(rng.random(people) < 0.7, rng.integers(0, max(n_prog, 1), people), -1).astype(np.int8)
    programme[:] = np.where(n_prog > 0, programme, -1)
    f32 = np.float32
    spread = 3.0 if extreme else 0.5
    first = np.sort(rng.integers(0, people + 1, blocks - 1))
    return dict(
        stage=stage, moved=rng.random(people) < 0.1, programme=programme,
        in_guarantee=rng.random(people) < 0.4, job_days=rng.integers(0, 600, people).astype(np.float32),
        work_mult=np.exp(rng.normal(0, spread, people)).astype(f32),
        studies_mult=np.exp(rng.normal(0, spread, people)).astype(f32),
        months_out_of_work=rng.integers(0, 200, people).astype(np.int16),
        months_since=np.where(rng.random(people) < 0.5, 30000, rng.integers(0, 60, people)).astype(np.int16),
        last_programme=np.where(n_prog > 0, rng.integers(-1, max(n_prog, 1), people), -1).astype(np.int8),
        effect_at_exit=(rng.random(people) * (3 if extreme else 1.5)).astype(f32),
        motivation=(rng.random(people) * (1.2 if extreme else 0.3) + (0.0 if extreme else 0.8)).astype(f32),
        table=table, constant_total=table.sum(axis=1) - table[:, [Stage.WORK, Stage.STUDIES]].sum(axis=1),
        work_base=work_base, lock_in=lock_in, is_programme=is_programme,
        stage_work=rng.random(prog0) * scale,
        duration=np.exp(np.linspace(0, 1, 121) * rng.normal()).astype(f32),  # falling or rising
        decay=np.exp(-np.arange(80, dtype=f32)[None, :] / (1 + 10 * rng.random((max(blocks * n_prog, 1), 1))))
        .astype(f32),
        fas3_days=np.where(rng.random(blocks) < 0.3, np.inf, 450).astype(f32),  # (inf: Fas 3's rates not kept)
        transition=rng.integers(0, 2**63, blocks).astype(np.uint64),
        destination=rng.integers(0, 2**63, blocks).astype(np.uint64),
        first=np.concatenate([[0], first, [people]]).astype(np.int64),
        prows=(np.arange(blocks) * n_prog).astype(np.int64), srows=rng.integers(0, sets, blocks) * ns,
        prog0=np.int64(prog0), n_prog=n_prog)


def _live(a: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A list of the people the hazard pass goes through (``live``, ``live_first`` of
    :func:`hazard_pass`, which takes them instead of the blocks' ``first``, popped from ``a``):
    everyone not in 'other' and about half of those in it, as a list made before more people
    reached 'other' would hold."""
    rng = np.random.default_rng(seed)
    live = np.flatnonzero((a["stage"] != Stage.OTHER) | (rng.random(a["stage"].size) < 0.5)).astype(np.int32)
    return live, np.searchsorted(live, a.pop("first")).astype(np.int64)


_HAZARD_ARGS = ("stage", "programme", "in_guarantee", "job_days", "work_mult", "studies_mult", "months_out_of_work",
                "months_since", "last_programme", "effect_at_exit", "motivation", "table", "constant_total",
                "work_base", "lock_in", "is_programme", "stage_work", "duration", "decay")
_BOUND_ARGS = ("table", "constant_total", "work_base", "lock_in", "is_programme", "stage_work", "duration", "srows",
               "prog0", "prows")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), people=st.integers(1, 300), n_prog=st.integers(0, 3), blocks=st.integers(1, 3),
       extreme=st.booleans())
def test_hazard_bound_is_never_below_a_persons_total_hazard(seed, people, n_prog, blocks, extreme) -> None:
    """The hazard pass works out a person's hazards only if their draw is below a bound of their
    total: a bound below anyone's total would silently keep them from leaving."""
    from sim.engine.month.exits import hazard_bound, person_hazards, stage_bounds

    a = _random_hazard_inputs(seed, people, n_prog, blocks, extreme)
    bounds = stage_bounds(*(a[k] for k in _BOUND_ARGS), n_prog)
    checked = 0
    for b in range(blocks):
        for i in range(a["first"][b], a["first"][b + 1]):
            total = person_hazards(i, *(a[k] for k in _HAZARD_ARGS), a["fas3_days"][b], a["srows"][b], a["prog0"],
                                   a["prows"][b])[-1]
            most = hazard_bound(i, a["stage"], a["work_mult"], a["studies_mult"], a["effect_at_exit"],
                                a["motivation"], bounds[b])
            if a["stage"][i] >= Stage.OTHER:
                assert most == 0
            else:
                assert most >= total, (i, most, total)
                checked += 1
    assert checked > 0 or people < 20


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), people=st.integers(1, 300), n_prog=st.integers(0, 3), blocks=st.integers(1, 3),
       extreme=st.booleans())
def test_hazard_pass_leavers_are_those_whose_draw_is_below_their_hazard(seed, people, n_prog, blocks,
                                                                        extreme) -> None:
    """The hazard pass looks at a person's hazards only if their draw is below a cheap bound of
    them; the leavers must still be exactly those whose draw is below ``1 - exp(-H)`` of their
    own total hazard ``H``, with the destination drawn from their own hazards: checked against
    working out everyone's hazards, compiled and not, on random people and rates (rates and
    multipliers large, motivation near 0 and after-effects below 1 among them). The pass goes
    through a list that leaves out some of the people in 'other' (:meth:`WaitingLists.live`)."""
    from sim.engine.hazards import leave_probability
    from sim.engine.month.exits import hazard_pass, person_hazards, stage_bounds

    a = _random_hazard_inputs(seed, people, n_prog, blocks, extreme)
    ids, dest, rows = [], [], []
    for b in range(blocks):
        for i in range(a["first"][b], a["first"][b + 1]):
            if a["stage"][i] >= Stage.OTHER or a["moved"][i]:
                continue
            row, w, s, d, total = person_hazards(i, *(a[k] for k in _HAZARD_ARGS), a["fas3_days"][b], a["srows"][b],
                                                 a["prog0"], a["prows"][b])
            with np.errstate(over="ignore"):
                u = draw(a["transition"][b], i)
            if not (u < total and u < leave_probability(total)):
                continue
            haz = a["table"][row].copy()
            haz[Stage.WORK], haz[Stage.STUDIES], haz[-1] = w, s, d
            with np.errstate(over="ignore"):
                cut = draw(a["destination"][b], i) * haz.sum()
            ids.append(i)
            dest.append(min(int((np.cumsum(haz) <= cut).sum()), haz.size - 1))
            # (a stage's code, or len(Stage) + p, as in a run of one block)
            rows.append(row - a["srows"][b] if row < a["prog0"] else row - a["prog0"] - a["prows"][b] + len(Stage))
    a["bounds"] = stage_bounds(*(a[k] for k in _BOUND_ARGS), a.pop("n_prog"))
    a["live"], a["live_first"] = _live(a, seed)
    for compiled in (False, True):
        got = run(hazard_pass, compiled, *a.values())
        np.testing.assert_array_equal(got[0], ids)
        np.testing.assert_array_equal(got[1], dest)
        np.testing.assert_array_equal(got[2], rows)


@pytest.mark.parametrize("blocks", [1, 3])
def test_hazard_pass_is_the_same_whatever_its_chunks(blocks: int) -> None:
    """The hazard pass bounds people a chunk at a time, then works out the hazards of the chunk's
    flagged: its leavers do not depend on the chunks (compiled with its own, 4,096 people, on
    people spanning several; uncompiled with chunks of 7, which do not divide the blocks)."""
    from unittest import mock

    from sim.engine.month import exits
    from sim.engine.month.exits import hazard_pass, stage_bounds

    a = _random_hazard_inputs(11, 20_000, 2, blocks, False)
    a["bounds"] = stage_bounds(*(a[k] for k in _BOUND_ARGS), a.pop("n_prog"))
    a["live"], a["live_first"] = _live(a, 11)
    got = run(hazard_pass, True, *a.values())
    with mock.patch.object(exits, "_CHUNK", 7):
        want = run(hazard_pass, False, *a.values())
    assert got[0].size > 100
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def _person_hazards_with_min_max(i, stage, programme, in_guarantee, job_days, work_mult, studies_mult,  # noqa: ANN001, ANN202
                                 months_out_of_work, months_since, last_programme, effect_at_exit, motivation, table,
                                 constant_total, work_base, lock_in, is_programme, stage_work, duration, decay,
                                 fas3_days, prow):
    """:func:`~sim.engine.month.exits.person_hazards` as it was written before session 10, with
    ``min``, ``max`` and nested choices (the kernels now write them as conditional expressions)."""
    s = int(stage[i])
    special = s == Stage.WAITING or Stage.COACHING <= s <= Stage.SUBSIDISED
    origin = (Stage.FAS3 if job_days[i] >= fas3_days else Stage.JOB) if in_guarantee[i] else Stage.OPEN
    p = int(programme[i])
    row = int(origin) if s == Stage.WAITING else (len(Stage) + prow + p if special and p >= 0 else s)
    if s == Stage.JOB and job_days[i] >= fas3_days:  # (in JOB past the day limit: Fas 3's row)
        row = int(Stage.FAS3)
    bw = stage_work[origin] if np.isnan(work_base[row]) else work_base[row]
    w = bw * work_mult[i] * duration[min(months_out_of_work[i], duration.size - 1)]
    since = months_since[i]
    decayed = decay[prow + max(last_programme[i], 0), min(since, decay.shape[1] - 1)]
    w *= (np.float32(1.0) + (effect_at_exit[i] - np.float32(1.0)) * decayed) if since < 30000 else np.float32(1.0)
    w *= lock_in[row] * motivation[i] if is_programme[row] else 1.0
    w = w if bw > 0 else 0.0
    st = table[row, Stage.STUDIES]
    st = st * studies_mult[i] if st > 0 else 0.0
    d = table[row, -1]
    d = d / max(motivation[i], np.float32(0.05)) if d > 0 else 0.0
    return row, w, st, d, constant_total[row] + w + st + d


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), people=st.integers(1, 200), n_prog=st.integers(0, 3), extreme=st.booleans())
def test_person_hazards_choose_as_min_and_max_do(seed, people, n_prog, extreme) -> None:
    """The hazard helpers choose with conditional expressions of values read first (cheaper for
    numba to compile than ``pick``, ``min`` and ``max``): the same hazards, bit for bit, as the
    formulas written with ``min`` and ``max``, on random people and rates (NaN work bases, motivation
    near 0, clocks past the ends of the duration and decay tables)."""
    from sim.engine.month.exits import person_hazards

    a = _random_hazard_inputs(seed, people, n_prog, 1, extreme)
    for i in range(people):
        got = person_hazards(i, *(a[k] for k in _HAZARD_ARGS), a["fas3_days"][0], 0, a["prog0"], 0)
        want = _person_hazards_with_min_max(i, *(a[k] for k in _HAZARD_ARGS), a["fas3_days"][0], 0)
        assert [np.float64(x).tobytes() for x in got] == [np.float64(x).tobytes() for x in want], (i, got, want)
