"""Ledger rule cases a policy analyst can read and check (OpenFisca-style YAML tests).

Each case in ``tests/ledger_cases/*.yaml`` is one person in one month: the rates in force
(``period``, optional ``money`` overrides and ``programmes``), the person's state (``input``)
and every posting the rules should produce (``output``: payer -> category -> SEK, negative =
the payer pays). The expected numbers are worked out by hand from DOMAIN.md part B, with the
arithmetic in a comment beside each case; see ``tests/ledger_cases/README.md``.

The case runner builds a one-person :class:`~sim.scenario.schema.Scenario`, resolves its rates with
:func:`sim.engine.in_force.regime_at` and calls :func:`sim.accounts.rules.post`. Further tests check that the
cases cover every category and payer, that transfers cancel over payers for random people, that
programme staff is booked by the model, and the a-kassa re-qualification on a small run.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.accounts.payers import CATEGORIES, PAYERS, REAL, TRANSFERS
from sim.accounts.rules import LedgerInput, post, ui_days_left
from sim.engine.in_force import regime_at
from sim.engine.model import ProgrammeModel
from sim.engine.population import HOUSEHOLD_CODES
from sim.runs.results import RunResult
from sim.scenario.dated import parse_month
from sim.scenario.schema import Scenario
from sim.scenario.stages import Stage

CASES_DIR = Path(__file__).resolve().parent / "ledger_cases"

#: Person state used where a case's ``input`` leaves a key out.
INPUT_DEFAULTS: dict[str, Any] = {
    "household": "single", "children": 0, "age": 30, "ui_entitled": False, "ui_days": 0,
    "in_guarantee": False, "reference_wage": 0, "programme": None, "fas3_placement": None,
    "ui_income_related": None, "fas3_municipal": False,
}
#: Programme keys the schema requires that do not affect money: filled in where a case omits them.
PROGRAMME_DEFAULTS: dict[str, Any] = {
    "referral_rate_per_month": 0.0, "capacity": {"slots": 1}, "max_duration_months": 12,
}
CASE_KEYS = {"name", "period", "money", "programmes", "input", "output", "absolute_error_margin", "xfail"}
#: Postings smaller than this (SEK) count as zero when looking for postings a case does not list.
ZERO = 0.005
#: ``programme_staff`` is booked per programme by the model, not per person by ``post``.
MODEL_ONLY = {"programme_staff"}


# ----------------------------------------------------------------------------- loading
def load_cases() -> list[dict[str, Any]]:
    """Every case of every ``*.yaml`` file, in file order, each tagged with its file name."""
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        assert isinstance(doc, list), f"{path.name}: a case file is a list of cases"
        for case in doc:
            case = dict(case)
            case["file"] = path.name
            cases.append(case)
    return cases


CASES = load_cases()


def check_case(case: dict[str, Any]) -> None:
    """Fail with a readable message if a case is malformed (unknown keys, payers, categories)."""
    where = f"{case.get('file')}: {case.get('name')!r}"
    extra = set(case) - CASE_KEYS - {"file"}
    assert not extra, f"{where}: unknown keys {sorted(extra)}; allowed: {sorted(CASE_KEYS)}"
    for key in ("name", "period", "input", "output"):
        assert key in case, f"{where}: missing {key!r}"
    parse_month(case["period"])
    unknown_input = set(case["input"]) - set(INPUT_DEFAULTS) - {"stage"}
    assert not unknown_input, f"{where}: unknown input keys {sorted(unknown_input)}"
    assert "stage" in case["input"], f"{where}: input needs a 'stage'"
    assert case["input"].get("household", "single") in HOUSEHOLD_CODES, f"{where}: unknown household"
    for payer, postings in (case["output"] or {}).items():
        assert payer in PAYERS, f"{where}: unknown payer {payer!r}; payers: {', '.join(PAYERS)}"
        for category, value in postings.items():
            assert category in CATEGORIES, f"{where}: unknown category {category!r}"
            assert isinstance(value, (int, float)) and not isinstance(value, bool), \
                f"{where}: {payer}.{category} must be a number, got {value!r}"


def case_scenario(case: dict[str, Any]) -> Scenario:
    """A one-person, one-month scenario carrying the case's money overrides and programmes."""
    programmes = []
    for p in case.get("programmes") or []:
        full = copy.deepcopy(PROGRAMME_DEFAULTS)
        full.update(copy.deepcopy(p))
        programmes.append(full)
    return Scenario.model_validate({
        "name": "ledger-case",
        "start_month": str(case["period"]),
        "horizon_months": 1,
        "population": {"cohort": {"size": 1}},
        "money": copy.deepcopy(case.get("money") or {}),
        "programmes": programmes,
    })


def ledger_input(case: dict[str, Any], scenario: Scenario) -> LedgerInput:
    """The case's person as a one-element :class:`LedgerInput` (the UI days left in the period
    from the days used and the rules in force, as the model works them out)."""
    x = {**INPUT_DEFAULTS, **case["input"]}
    names = [p.name for p in scenario.programmes]
    prog = -1 if x["programme"] is None else names.index(x["programme"])
    # fas3_placement: left out (None) the rules take "in a Fas 3 placement" to mean stage fas3.
    placement = None if x["fas3_placement"] is None else np.array([x["fas3_placement"]], bool)
    rules = regime_at(scenario, scenario.start_month)
    return LedgerInput(
        stage=np.array([Stage[str(x["stage"]).upper()]], np.uint8),
        programme=np.array([prog], np.int8),
        household=np.array([HOUSEHOLD_CODES[x["household"]]], np.uint8),
        children=np.array([x["children"]], np.uint8),
        age_years=np.array([x["age"]], np.float32),
        ui_entitled=np.array([x["ui_entitled"]], bool),
        ui_days=np.array([x["ui_days"]], np.float32),
        in_guarantee=np.array([x["in_guarantee"]], bool),
        reference_wage=np.array([x["reference_wage"]], np.float32),
        fas3_placement=placement,
        ui_income_related=None if x["ui_income_related"] is None else np.array([x["ui_income_related"]], bool),
        fas3_municipal=np.array([x["fas3_municipal"]], bool),
        ui_days_left=ui_days_left(np.array([x["ui_days"]], np.float32), np.array([x["children"]]),
                                  rules.ui_days_max, rules.ui_days_max_with_child),
    )


def post_case(case: dict[str, Any]) -> dict[tuple[str, str], float]:
    """The postings of the case's person in the case's month, as plain floats."""
    scenario = case_scenario(case)
    regime = regime_at(scenario, scenario.start_month)
    out = post(ledger_input(case, scenario), regime.money, regime.programme_money)
    return {key: float(v[0]) for key, v in out.items()}


# ----------------------------------------------------------------------------- the cases
def _param(case: dict[str, Any]) -> Any:
    marks = [pytest.mark.xfail(reason=case["xfail"], strict=True)] if case.get("xfail") else []
    return pytest.param(case, id=f"{case['file'].removesuffix('.yaml')}: {case['name']}", marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    check_case(case)
    margin = float(case.get("absolute_error_margin", 1.0))
    actual = post_case(case)
    expected = {(payer, cat): float(v) for payer, cats in (case["output"] or {}).items() for cat, v in cats.items()}
    problems = []
    for (payer, cat), want in sorted(expected.items()):
        got = actual.get((payer, cat), 0.0)
        if abs(got - want) > margin:
            problems.append(f"{payer}.{cat}: expected {want:,.2f}, the rules give {got:,.2f}")
    for (payer, cat), got in sorted(actual.items()):
        if (payer, cat) not in expected and abs(got) > ZERO:
            problems.append(f"{payer}.{cat}: the rules give {got:,.2f}, which the case does not list")
    assert not problems, "\n".join([case["name"], *problems])


def test_case_names_are_unique() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    assert len(CASES) >= 30


def test_cases_cover_every_category_and_payer() -> None:
    """Every category ``post`` books and every payer appear, non-zero, in some passing case."""
    categories, payers = set(), set()
    for case in CASES:
        if case.get("xfail"):
            continue
        for payer, cats in (case["output"] or {}).items():
            for cat, value in cats.items():
                if abs(value) > ZERO:
                    categories.add(cat)
                    payers.add(payer)
    assert set(CATEGORIES) - MODEL_ONLY <= categories, sorted(set(CATEGORIES) - MODEL_ONLY - categories)
    assert set(PAYERS) <= payers, sorted(set(PAYERS) - payers)
    assert set(CATEGORIES) >= MODEL_ONLY  # covered by test_programme_staff_is_booked_by_the_model


# ----------------------------------------------------------------------------- property
_PROPERTY_PROGRAMMES = [
    {"name": "muni_job", "kind": "subsidised_job", "employer": "municipality", "wage_sek_per_month": 17000,
     "wage_subsidy_share_of_wage_cost": 0.5, "cost_sek_per_participant_month": {"municipality": 1500}},
    {"name": "private_job", "kind": "subsidised_job", "employer": "employer", "wage_sek_per_month": 22000,
     "wage_subsidy_share_of_wage_cost": 0.85, "wage_subsidy_max_sek_per_month": 19313,
     "production_value_share_of_wage_cost": 0.9},
    {"name": "coach", "kind": "coaching",
     "cost_sek_per_participant_month": {"municipality": 3000, "arbetsformedlingen": 1200, "region": 300}},
]


@cache
def _property_regime(period: str, organiser: str):  # noqa: ANN202 - a Regime
    case = {"period": period, "money": {"fas3_organiser": organiser}, "programmes": _PROPERTY_PROGRAMMES}
    return regime_at(case_scenario(case), parse_month(period))


@settings(max_examples=300, deadline=None)
@given(
    period=st.sampled_from(["2012-06", "2014-12", "2015-01", "2017-03"]),
    organiser=st.sampled_from(["employer", "municipality"]),
    stage=st.sampled_from(list(Stage)),
    programme=st.integers(-1, len(_PROPERTY_PROGRAMMES) - 1),
    household=st.sampled_from(list(HOUSEHOLD_CODES.values())),
    children=st.integers(0, 8),
    age=st.floats(16, 70, allow_nan=False),
    ui_entitled=st.booleans(),
    ui_days=st.floats(0, 450, allow_nan=False),
    in_guarantee=st.booleans(),
    reference_wage=st.one_of(st.just(0.0), st.floats(0, 60000, allow_nan=False)),
    fas3_placement=st.one_of(st.none(), st.booleans()),
)
def test_transfers_cancel_and_society_is_real_resources(period: str, organiser: str, stage: Stage, programme: int,
                                                        household: int, children: int, age: float,
                                                        ui_entitled: bool, ui_days: float, in_guarantee: bool,
                                                        reference_wage: float, fas3_placement: bool | None) -> None:
    regime = _property_regime(period, organiser)
    x = LedgerInput(
        stage=np.array([stage], np.uint8), programme=np.array([programme], np.int8),
        household=np.array([household], np.uint8), children=np.array([children], np.uint8),
        age_years=np.array([age], np.float32), ui_entitled=np.array([ui_entitled], bool),
        ui_days=np.array([ui_days], np.float32), in_guarantee=np.array([in_guarantee], bool),
        reference_wage=np.array([reference_wage], np.float32),
        fas3_placement=None if fas3_placement is None else np.array([fas3_placement], bool),
    )
    out = {key: float(v[0]) for key, v in post(x, regime.money, regime.programme_money).items()}
    assert {p for p, _ in out} <= set(PAYERS)
    assert {c for _, c in out} <= set(TRANSFERS) | set(REAL)
    for cat in TRANSFERS:
        total = sum(v for (_, c), v in out.items() if c == cat)
        assert abs(total) < 1e-6, (cat, total, out)
    society = sum(out.values())
    real = sum(v for (_, c), v in out.items() if c in ("production_value", "programme_costs"))
    assert society == pytest.approx(real, abs=1e-6)
    for (_, cat), v in out.items():
        assert np.isfinite(v), (cat, v)


# ----------------------------------------------------------------------------- model level
def _ledger(model: ProgrammeModel) -> pd.DataFrame:
    """The run's ledger as month x (payer, category) -> SEK, with every month and zeros filled."""
    led = RunResult.from_model(model).tables["ledger"]
    wide = led.pivot_table(index="month", columns=["payer", "category"], values="sek", aggfunc="sum")
    months = RunResult.from_model(model).tables["stocks"]["month"].unique()
    return wide.reindex(months).fillna(0.0)


def _get(wide: pd.DataFrame, payer: str, category: str) -> pd.Series:
    if (payer, category) in wide.columns:
        return wide[(payer, category)]
    return pd.Series(0.0, index=wide.index)


def test_programme_staff_is_booked_by_the_model() -> None:
    """A programme's staff cost is posted to its funder in each month it is open, and only then."""
    scn = Scenario.model_validate({
        "name": "staff", "start_month": "2012-01", "horizon_months": 8,
        "population": {"cohort": {"size": 5}},
        "programmes": [{
            "name": "coach", "kind": "coaching", "funder": "arbetsformedlingen",
            "referral_rate_per_month": 0.0, "capacity": {"staff": 2, "caseload_per_staff": 10},
            "max_duration_months": 6, "staff_cost_sek_per_month": 85000,
            "start_month": "2012-03", "end_month": "2012-06",
        }],
    })
    model = ProgrammeModel(scn, rng=1)
    model.run()
    staff = _get(_ledger(model), "arbetsformedlingen", "programme_staff")
    expected = {m: (-85000.0 if m in ("2012-03", "2012-04", "2012-05") else 0.0) for m in staff.index}
    assert staff.to_dict() == expected
    for payer in PAYERS:
        if payer != "arbetsformedlingen":
            assert (_get(_ledger(model), payer, "programme_staff") == 0).all()


def _requalification_scenario(counts_as_work: bool, enrols: bool = True) -> Scenario:
    """20 single adults on social assistance, all placed in a 12-month municipal job, none finding work."""
    return Scenario.model_validate({
        "name": "requalification", "start_month": "2012-01", "horizon_months": 22,
        "population": {
            "cohort": {"size": 20},
            "composition": {"age_bands": {"30-39": 1.0}, "households": {"single": 1.0},
                            "registered_share": 0.0, "ui_entitled_share": 0.0, "initial_stages": {"open": 1.0}},
        },
        "transitions": {"open": {"work": 0.0}},
        "programmes": [{
            "name": "resursjobb", "kind": "subsidised_job", "employer": "municipality",
            "referral_rate_per_month": 1.0, "capacity": {"slots": 20}, "max_duration_months": 12,
            "counts_as_work": counts_as_work, "wage_sek_per_month": 17000, "enrols_in_ui_fund": enrols,
        }],
    })


@pytest.mark.parametrize(("counts_as_work", "enrols"), [(True, True), (True, False), (False, True)],
                         ids=["counts_as_work", "counts_no_akassa", "does_not_count"])
def test_requalification_after_a_12_month_job(counts_as_work: bool, enrols: bool) -> None:
    """DOMAIN B2, D1: a one-year job that counts as work moves income support from the municipality to the state.

    Before the job: 20 x 7,480 = 149,600 social assistance a month. During it: 20 x 17,000 =
    340,000 wages a month from the municipality for 12 months. After it, if the job counts and
    the programme enrolled them in an a-kassa at the start (12 months of membership by the
    end): 20 x 0.80 x 17,000 = 272,000 UI a month from the state and no social assistance (net
    UI 9,633.24 > 7,480 need). If it counts but they never joined: the basic amount,
    20 x 320 x 21.7 = 138,880 UI, topped up by 20 x 2,373.5056 = 47,470.11 social assistance
    (see akassa_membership.yaml). If it does not count: 149,600 social assistance again, no UI.
    """
    model = ProgrammeModel(_requalification_scenario(counts_as_work, enrols), rng=1)
    model.run()
    wide = _ledger(model)
    sa = _get(wide, "municipality", "social_assistance")
    ui = _get(wide, "state", "unemployment_insurance")
    wages = _get(wide, "municipality", "wages")

    assert sa.iloc[0] == pytest.approx(-20 * 7480, abs=1)
    job = np.flatnonzero(wages.to_numpy() < 0)
    assert len(job) == 12 and np.all(np.diff(job) == 1), wages
    assert wages.iloc[job].to_numpy() == pytest.approx(-20 * 17000, abs=1)
    assert (sa.iloc[job].abs() < 1).all(), "a 17,000 wage covers the 7,480 need"
    after = slice(job[-1] + 1, None)
    assert len(sa.iloc[after]) >= 6
    if counts_as_work and enrols:
        assert (sa.iloc[after].abs() < 1).all(), sa.iloc[after]
        assert ui.iloc[after].to_numpy() == pytest.approx(-20 * 13600, abs=1)
    elif counts_as_work:
        assert ui.iloc[after].to_numpy() == pytest.approx(-20 * 6944, abs=1)
        assert sa.iloc[after].to_numpy() == pytest.approx(-20 * 2373.5056, abs=1)
    else:
        assert sa.iloc[after].to_numpy() == pytest.approx(-20 * 7480, abs=1)
        assert (ui.iloc[after] == 0).all(), ui.iloc[after]
