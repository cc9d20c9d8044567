"""The parameters in force in a given month, as arrays the engine can use directly.

A scenario's numbers are dated (:class:`sim.scenario.dated.Param`); the engine should not look dates
up on every sub-step. :func:`regime_at` resolves every parameter at a month into a
:class:`Regime` (a hazard matrix, one :class:`ProgrammeRegime` per programme, the clock
rules); :func:`reform_months` lists the months at which any value changes, which the
calendar turns into SimPy reform events that swap the regime.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
from pydantic import BaseModel

from sim.accounts.rules import ProgrammeMoney
from sim.scenario.dated import Month, Param
from sim.scenario.rates import Money
from sim.scenario.schema import Programme, Scenario
from sim.scenario.stages import Stage

__all__ = ["Regime", "ProgrammeRegime", "HazardRows", "regime_at", "reform_months", "DROPOUT", "N_DEST",
           "destination_code", "DESTINATION_NAMES", "resolve_money", "with_transitions"]

#: Destination code for leaving a programme or queue back to unemployment.
DROPOUT = len(Stage)  # 12; stage codes are 0..11
N_DEST = DROPOUT + 1
DESTINATION_NAMES = tuple(s.label for s in Stage) + ("dropout",)


def destination_code(name: str) -> int:
    """Code of a destination name (a stage label or ``dropout``)."""
    return DESTINATION_NAMES.index(name)


@dataclass(frozen=True)
class ProgrammeRegime:
    """One programme's parameters in force in a month."""

    index: int
    name: str
    stage: Stage
    active: bool
    slots: int
    starts_cap: int | None
    referral_rate: float
    max_duration_months: int
    max_wait_months: int | None
    motivation_loss: float
    exit_rates: np.ndarray  #: float64[N_DEST] monthly hazards except work (see work_base)
    lock_in: float
    work_base: float | None  #: base work hazard replacing the origin stage's, if the scenario sets one
    effect_after: float
    fade_months: float
    completion_to_work: float
    counts_as_work: bool
    enrols_in_ui_fund: bool
    participant_cost: dict[str, float]  #: programme costs per participant-month, by payer
    budget_charge: dict[str, float]  #: what a participant-month takes from each payer's budget
    budget_per_year: dict[str, float]
    staff_cost_per_month: float
    wage_per_month: float


@dataclass(frozen=True)
class Regime:
    """Everything the monthly step needs that a reform can change."""

    month: Month
    base: np.ndarray  #: float64[len(Stage), N_DEST] base monthly hazards
    programmes: tuple[ProgrammeRegime, ...]
    ui_days_max: float
    ui_days_max_with_child: float
    job_days_to_fas3: float  #: the guarantee's day limit (Fas 3 while it takes entrants)
    job_entry_months: int
    fas3_open: bool  #: the day limit moves people into Fas 3 (to January 2016)
    fas3_runs: bool  #: Fas 3 placements run (to January 2018)
    fas3_phaseout: float  #: the share of Fas 3's stock moved back to JOB this month
    fas3_rates_kept: bool  #: people past the day limit keep Fas 3's exit rates after it closed
    money: SimpleNamespace  #: :class:`sim.scenario.rates.Money` resolved to plain numbers
    programme_money: ProgrammeMoney
    hazard_rows: HazardRows

    @property
    def fas3_entry_days(self) -> float:
        """Guarantee days after which a person is in Fas 3: the day limit while Fas 3 takes
        entrants, else never (infinity)."""
        return self.job_days_to_fas3 if self.fas3_open else float("inf")

    @property
    def fas3_stock_days(self) -> float:
        """Guarantee days after which a person of the population drawn at the start is in Fas 3:
        the day limit while its placements run (those placed before February 2016 kept theirs to
        2018), else never (infinity)."""
        return self.job_days_to_fas3 if self.fas3_runs else float("inf")

    @property
    def fas3_rate_days(self) -> float:
        """Guarantee days after which a person leaves at Fas 3's exit rates (in Fas 3, waiting from
        the guarantee, or in JOB): the day limit while Fas 3 takes entrants or its rates are kept
        after it closed (``rules.fas3_rates_after_closure``), else never (infinity)."""
        return self.job_days_to_fas3 if self.fas3_open or self.fas3_rates_kept else float("inf")


@dataclass(frozen=True)
class HazardRows:
    """Every hazard table of a month as rows of one matrix, for one vectorised pass.

    Row ``s`` (a stage code) holds the base hazards of that stage; row ``len(Stage) + i``
    holds programme ``i``'s exit hazards. The work, studies and dropout columns are scaled per
    person; the other columns are constants whose sum is ``constant_total``.
    """

    table: np.ndarray  #: float64[rows, N_DEST]
    constant_total: np.ndarray  #: float64[rows]: sum of the columns not scaled per person
    work_base: np.ndarray  #: float64[rows]: base work hazard; NaN = the origin stage's
    lock_in: np.ndarray  #: float64[rows]: 1 for stages, the lock-in ratio for programmes
    is_programme: np.ndarray  #: bool[rows]


def resolve_money(money: Money, month: Month) -> SimpleNamespace:
    """The money rates in force in ``month`` as plain attributes."""
    values = {}
    for name in type(money).model_fields:
        v = getattr(money, name)
        values[name] = v.at(month) if isinstance(v, Param) else v
    return SimpleNamespace(**values)


def _net_wage_cost(p: Programme, m: SimpleNamespace, month: Month) -> float:
    """Monthly wage cost of a subsidised job to its employer after the wage subsidy."""
    if p.wage_sek_per_month is None:
        return 0.0
    cost = p.wage_sek_per_month.at(month) * (1.0 + m.employer_fee_share)
    cap = p.wage_subsidy_max_sek_per_month.at(month) if p.wage_subsidy_max_sek_per_month is not None else np.inf
    return cost - min(p.wage_subsidy_share_of_wage_cost.at(month) * cost, cap)


def _programme_regime(i: int, p: Programme, month: Month, m: SimpleNamespace) -> ProgrammeRegime:
    rates = np.zeros(N_DEST)
    for name, prm in p.exit_rates_per_month.items():
        if name != "work":
            rates[destination_code(name)] = prm.at(month)
    active = (p.start_month is None or p.start_month <= month) and (p.end_month is None or month < p.end_month)
    return ProgrammeRegime(
        index=i, name=p.name, stage=p.stage, active=active,
        slots=p.capacity.slots_at(month), starts_cap=p.capacity.starts_cap_at(month),
        referral_rate=p.referral_rate_per_month.at(month),
        max_duration_months=max(int(p.max_duration_months.at(month)), 1),
        max_wait_months=p.max_wait_months,
        motivation_loss=p.motivation_loss_per_waiting_month.at(month),
        exit_rates=rates,
        lock_in=p.lock_in_hazard_ratio.at(month),
        work_base=p.exit_rates_per_month["work"].at(month) if "work" in p.exit_rates_per_month else None,
        effect_after=p.effect_after_hazard_ratio.at(month),
        fade_months=max(p.effect_fade_months.at(month), 1e-9),
        completion_to_work=p.completion_to_work_share.at(month),
        counts_as_work=p.counts_as_work,
        enrols_in_ui_fund=p.enrols_in_ui_fund,
        participant_cost={k: v.at(month) for k, v in p.cost_sek_per_participant_month.items()},
        budget_charge={payer: (p.cost_sek_per_participant_month[payer].at(month)
                               if payer in p.cost_sek_per_participant_month else 0.0)
                       + (_net_wage_cost(p, m, month) if p.kind == "subsidised_job" and payer == p.employer else 0.0)
                       for payer in p.budget_sek_per_year},
        budget_per_year={k: v.at(month) for k, v in p.budget_sek_per_year.items()},
        staff_cost_per_month=p.staff_cost_at(month),
        wage_per_month=p.wage_sek_per_month.at(month) if p.wage_sek_per_month is not None else 0.0,
    )


def _base(scenario: Scenario, month: Month) -> np.ndarray:
    """The base monthly hazards ``[stage, destination]`` of ``scenario`` at ``month`` (read-only)."""
    base = np.zeros((len(Stage), N_DEST))
    for src, dests in scenario.transitions.items():
        for dst, prm in dests.items():
            base[Stage[src.upper()], destination_code(dst)] = prm.at(month)
    base.setflags(write=False)
    return base


def with_transitions(regime: Regime, scenario: Scenario, month: Month) -> Regime:
    """``regime`` (in force at ``month`` for a scenario equal to ``scenario`` but for its
    transition rates) with ``scenario``'s transition rates: what :func:`regime_at` of ``scenario``
    gives (nothing else in a regime reads them), sharing the programmes, money and rules."""
    base = _base(scenario, month)
    return dataclasses.replace(regime, base=base, hazard_rows=_hazard_rows(base, regime.programmes))


def regime_at(scenario: Scenario, month: Month) -> Regime:
    """Resolve every dated parameter of ``scenario`` at ``month``."""
    base = _base(scenario, month)
    r = scenario.rules
    m = resolve_money(scenario.money, month)
    m.fas3_placements_run = bool(r.fas3_placements_run.at(month))  # (the ledger's rules read it: the grant)
    progs = tuple(_programme_regime(i, p, month, m) for i, p in enumerate(scenario.programmes))
    return Regime(
        month=month,
        base=base,
        programmes=progs,
        ui_days_max=r.ui_days_max.at(month),
        ui_days_max_with_child=r.ui_days_max_with_child.at(month),
        job_days_to_fas3=r.job_days_to_fas3.at(month),
        job_entry_months=int(r.job_entry_after_months_registered.at(month)),
        fas3_open=bool(r.fas3_open_to_entrants.at(month)),
        fas3_runs=bool(r.fas3_placements_run.at(month)),
        fas3_phaseout=float(r.fas3_phaseout_per_month.at(month)),
        fas3_rates_kept=bool(r.fas3_rates_after_closure.at(month)),
        money=m,
        programme_money=_programme_money(scenario, month) if scenario.programmes else ProgrammeMoney.empty(),
        hazard_rows=_hazard_rows(base, progs),
    )


def _hazard_rows(base: np.ndarray, progs: tuple[ProgrammeRegime, ...]) -> HazardRows:
    table = np.vstack([base] + [p.exit_rates[None, :] for p in progs])
    table.setflags(write=False)
    special = [int(Stage.WORK), int(Stage.STUDIES), DROPOUT]
    constant = table.sum(axis=1) - table[:, special].sum(axis=1)
    n = len(Stage)
    work = np.concatenate([base[:, Stage.WORK], [np.nan if p.work_base is None else p.work_base for p in progs]])
    lock = np.concatenate([np.ones(n), [p.lock_in for p in progs]])
    is_prog = np.concatenate([np.zeros(n, bool), np.ones(len(progs), bool)])
    return HazardRows(table, constant, work, lock, is_prog)


def _programme_money(scenario: Scenario, month: Month) -> ProgrammeMoney:
    ps = scenario.programmes

    def arr(f: Any) -> np.ndarray:
        return np.array([f(p) for p in ps], dtype=np.float64)

    payers = sorted({k for p in ps for k in p.cost_sek_per_participant_month})
    return ProgrammeMoney(
        wage=arr(lambda p: p.wage_sek_per_month.at(month) if p.wage_sek_per_month is not None else 0.0),
        wage_paid_by_municipality=np.array([p.employer == "municipality" for p in ps]),
        subsidy_share=arr(lambda p: p.wage_subsidy_share_of_wage_cost.at(month)),
        subsidy_cap=arr(lambda p: p.wage_subsidy_max_sek_per_month.at(month)
                        if p.wage_subsidy_max_sek_per_month is not None else np.inf),
        production_share=arr(lambda p: p.production_value_share_of_wage_cost.at(month)),
        participant_cost={payer: arr(lambda p, payer=payer: p.cost_sek_per_participant_month[payer].at(month)
                                     if payer in p.cost_sek_per_participant_month else 0.0) for payer in payers},
    )


def _params(obj: Any) -> list[Param]:
    out: list[Param] = []
    if isinstance(obj, Param):
        out.append(obj)
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            out.extend(_params(getattr(obj, name)))
    elif isinstance(obj, dict):
        for v in obj.values():
            out.extend(_params(v))
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            out.extend(_params(v))
    return out


def reform_months(scenario: Scenario) -> list[Month]:
    """Months inside the horizon (after the start) at which some parameter changes."""
    months: set[Month] = set()
    for prm in _params(scenario):
        months.update(prm.change_months)
    for p in scenario.programmes:
        months.update(m for m in (p.start_month, p.end_month) if m is not None)
    return sorted(m for m in months if scenario.start_month < m < scenario.end_month)
