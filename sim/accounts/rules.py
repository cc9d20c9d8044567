"""The posting rules: who pays and who receives what, per person and month.

Posting rules are one pure, vectorised function, :func:`post`, of people's state in a month
and the rates in force. It returns signed amounts per (payer, category): negative = the
payer pays, positive = the payer receives. Transfers are posted twice (the payer's minus,
the receiver's plus), so they cancel when summed over payers; real resources are posted
once: **production value** (the value of work done, a gain) and **programme costs and
staff** (resources used). Hence society = the sum over payers = production value minus
programme costs, the payoff-style view of DOMAIN.md B5.

Rules, per person-month (amounts in SEK; W = gross wage, F = employer fee):

* **wages** (work, subsidised jobs): the employer (or the municipality for municipal
  jobs) pays W, the individual receives it; **employer fees** F = rate x W (reduced rate under
  26) go from the wage payer to the state; **wage subsidies** min(share x (W + F), cap) from
  Arbetsförmedlingen to the wage payer; **production value** share x (W + F) to the employer,
  or, for a municipal job, to ``public`` (the users of the services the extra staff improve:
  a real gain, but not municipal money, DOMAIN.md B5).
* **unemployment insurance** for people with an open UI period outside the guarantee and not
  working: income-related if the person has met the a-kassa membership condition (12 months of
  membership), min(80 % (70 % after 200 days) of the reference wage, the ceiling) a day, the
  ceiling 680 SEK/day, from September 2015 910 for a period's first 100 days and 760 after;
  otherwise the basic amount (320 SEK/day, 365 from September 2015); 21.7 days a month, from
  the state (UI funds) to the individual. The month the period's days run out (300, 450 with a
  child) pays only the days left, counted whole (:func:`ui_days_left`); the month day 100 or
  200 falls in pays the days before it at the earlier rate and the rest at the later one
  (:func:`ui_days_before`).
* **activity support** for people in the guarantee and not working, from Försäkringskassan:
  after income-related UI, 65 % of the reference wage its days were based on (min 320 SEK/day,
  365 from September 2015; max the UI ceiling after 100 days, 680 and from September 2015 760;
  SFS 2008:61, 5 §); after the basic amount, which no earnings set,
  ``activity_support_after_basic_sek_per_day`` (the minimum by default; 223 if only fund members
  get the 65 %, an assumption line of the comparison); without a UI history 223
  SEK/day, ending with the 450 days, so people in Fas 3
  without one get none (about 1 in 8 Fas 3 participants in 2014 lived on social assistance).
* **income tax** on wages, UI and activity support above a tax-free amount: the municipal
  part to the municipality, the county part to the region.
* **income equalisation**: of the municipal tax, the municipality keeps
  ``municipal_tax_kept_share``; the rest goes back through a smaller equalisation grant
  (Lag 2004:773), booked from the municipality to the state.
* **family allowances** from Försäkringskassan for everyone in the model (not in ``other``):
  child allowance per child, maintenance support per child of a single parent, and a housing
  allowance for a family with children (a typical amount; it is not income-tested here).
* **social assistance**: the household's norm (adults + children) plus housing, minus the
  household's net income (net pay or benefits, the family allowances, a partner's income),
  if positive, from the municipality to the individual; not for people in regular studies
  (student finance) or outside the model (``other``). One person stands for one assistance
  household.
* **organiser grant** for each month in a Fas 3 placement, from Arbetsförmedlingen to the
  organiser: the municipality for a person whose placement is municipal, else
  ``money.fas3_organiser``; people past the Fas 3 day limit who wait for or attend a (non-job) programme
  keep their placement, as Umeå's Insteget participants did, while placements run (to January
  2018, ``fas3_placements_run`` in the month's rules).
* **programme costs** per participant-month and **programme staff** per month, paid by the
  payers the scenario names.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from sim.scenario.schema import HOUSEHOLD_CODES
from sim.scenario.stages import Stage

__all__ = ["LedgerInput", "ProgrammeMoney", "post", "ui_days_left", "ui_days_before", "FULL_MONTH",
           "UI_STEP_DAY", "UI_CEILING_STEP_DAY"]

#: :func:`ui_days_left` of a period with at least this many days left: a full month's UI (a
#: month has at most 31 benefit days).
FULL_MONTH = 31

#: Income-related UI is 80 % of the reference wage for a period's first this many days, 70 % after.
UI_STEP_DAY = 200
#: From September 2015 the UI ceiling is higher for a period's first this many days (910 SEK/day,
#: then 760; one ceiling, 680, before).
UI_CEILING_STEP_DAY = 100

_S = Stage
_NOT_WORKING = np.zeros(len(Stage), bool)
_NOT_WORKING[[_S.OPEN, _S.JOB, _S.WAITING, _S.FAS3, _S.COACHING, _S.TRAINING, _S.EDUCATION]] = True
_NO_SA = np.zeros(len(Stage), bool)
_NO_SA[[_S.STUDIES, _S.OTHER, _S.NOT_ARRIVED]] = True
_FAMILY = np.zeros(len(HOUSEHOLD_CODES), bool)
_FAMILY[[HOUSEHOLD_CODES["single_parent"], HOUSEHOLD_CODES["couple"], HOUSEHOLD_CODES["couple_children"]]] = True
_SINGLE_PARENT = np.zeros(len(HOUSEHOLD_CODES), bool)
_SINGLE_PARENT[HOUSEHOLD_CODES["single_parent"]] = True
_COUPLE = np.zeros(len(HOUSEHOLD_CODES), bool)
_COUPLE[[HOUSEHOLD_CODES["couple"], HOUSEHOLD_CODES["couple_children"]]] = True


@dataclass(frozen=True)
class LedgerInput:
    """The state of some people in one month (aligned arrays)."""

    stage: np.ndarray
    programme: np.ndarray  #: programme index, -1 for none
    household: np.ndarray
    children: np.ndarray
    age_years: np.ndarray | None  #: only whether it is under 26 matters; see ``under_26``
    ui_entitled: np.ndarray
    ui_days: np.ndarray
    in_guarantee: np.ndarray
    reference_wage: np.ndarray  #: wage UI and activity support are based on (0: never had UI)
    #: past the guarantee's day limit (:func:`sim.accounts.book.fas3_placement`; default: stage is fas3)
    fas3_placement: np.ndarray | None = None
    under_26: np.ndarray | None = None  #: age under 26 (default: from ``age_years``)
    #: UI paid as income-related (the a-kassa membership condition met); default: everyone
    #: entitled. Without it, UI is the basic amount.
    ui_income_related: np.ndarray | None = None
    #: the person's Fas 3 placement is municipal (its grant goes to the municipality); default: none
    fas3_municipal: np.ndarray | None = None
    #: whole UI days left in the period at the start of the month (:func:`ui_days_left`; at
    #: most :data:`FULL_MONTH`); default: a full month's
    ui_days_left: np.ndarray | None = None

    def young(self) -> np.ndarray:
        """Whether each person is under 26 (the reduced employer fee)."""
        return self.under_26 if self.under_26 is not None else self.age_years < 26


@dataclass(frozen=True)
class ProgrammeMoney:
    """Per-programme money parameters as arrays indexed by programme (resolved at a month)."""

    wage: np.ndarray
    wage_paid_by_municipality: np.ndarray  #: bool
    subsidy_share: np.ndarray
    subsidy_cap: np.ndarray  #: inf for no cap
    production_share: np.ndarray
    participant_cost: dict[str, np.ndarray]  #: payer -> cost per participant-month

    @classmethod
    def empty(cls) -> ProgrammeMoney:
        z = np.zeros(1)
        return cls(z, np.zeros(1, bool), z, np.full(1, np.inf), z, {})


def ui_days_left(ui_days: np.ndarray, children: np.ndarray, days_max: float, days_max_with_child: float
                 ) -> np.ndarray:
    """Whole UI days left in each person's period at the start of a month: the period's days
    (``days_max``, or ``days_max_with_child`` with a child) minus the days used, a day begun
    counting whole, between 0 and :data:`FULL_MONTH` (float32: as
    :func:`sim.accounts.book.ledger_keys` packs it into the ledger key, the same numbers)."""
    limit = np.where(children > 0, np.float32(days_max_with_child), np.float32(days_max))
    left = np.ceil(limit - ui_days.astype(np.float32))
    return np.clip(left, 0, FULL_MONTH).astype(np.float32)


def ui_days_before(ui_days: np.ndarray, day: int) -> np.ndarray:
    """Whole UI days left before a period's day ``day`` (:data:`UI_CEILING_STEP_DAY` or
    :data:`UI_STEP_DAY`, where a rate steps down) at the start of a month, a day begun counting
    whole, between 0 and :data:`FULL_MONTH` (float32, as :func:`sim.accounts.book.ledger_keys`
    packs it): the month's first this many benefit days are paid at the earlier rate."""
    left = np.ceil(np.float32(day) - ui_days.astype(np.float32))
    return np.clip(left, 0, FULL_MONTH).astype(np.float32)


def post(x: LedgerInput, m: SimpleNamespace, pm: ProgrammeMoney) -> dict[tuple[str, str], np.ndarray]:
    """Signed amounts per (payer, category) for each person (see the module docstring).

    Args:
        x: people's state.
        m: money rates in force (the fields of :class:`sim.scenario.rates.Money`, as floats).
        pm: programme money parameters.

    Returns:
        ``{(payer, category): amounts}`` with one float64 per person; pairs absent are zero.
    """
    n = x.stage.shape[0]
    out: dict[tuple[str, str], np.ndarray] = {}

    def book(payer: str, category: str, amount: np.ndarray) -> None:
        key = (payer, category)
        out[key] = out[key] + amount if key in out else amount.astype(np.float64, copy=True)

    stage = x.stage
    prog = x.programme
    in_prog = prog >= 0
    pidx = np.maximum(prog, 0)
    days = m.benefit_days_per_month

    # --- wages, fees, subsidies, production -------------------------------------------
    work = stage == _S.WORK
    sub = stage == _S.SUBSIDISED
    sub_prog = sub & in_prog
    sub_ext = sub & ~in_prog
    wage = np.zeros(n)
    wage[work] = m.work_wage_sek_per_month
    wage[sub_prog] = pm.wage[pidx[sub_prog]]
    wage[sub_ext] = m.external_subsidised_wage_sek_per_month
    fee_rate = np.where(x.young(), m.employer_fee_share_under_26, m.employer_fee_share)
    fee = wage * fee_rate
    cost = wage + fee
    muni_pays = sub_prog & pm.wage_paid_by_municipality[pidx]
    emp_pays = (work | sub) & ~muni_pays
    subsidy = np.zeros(n)
    subsidy[sub_prog] = np.minimum(pm.subsidy_share[pidx[sub_prog]] * cost[sub_prog], pm.subsidy_cap[pidx[sub_prog]])
    subsidy[sub_ext] = m.external_subsidy_share_of_wage_cost * cost[sub_ext]
    production = np.zeros(n)
    production[work] = m.production_value_share_of_wage_cost * cost[work]
    production[sub_prog] = pm.production_share[pidx[sub_prog]] * cost[sub_prog]
    production[sub_ext] = m.production_value_share_of_wage_cost * cost[sub_ext]
    for payer, mask in (("municipality", muni_pays), ("employer", emp_pays)):
        book(payer, "wages", -wage * mask)
        book(payer, "employer_fees", -fee * mask)
        book(payer, "wage_subsidies", subsidy * mask)
    book("employer", "production_value", production * emp_pays)
    book("public", "production_value", production * muni_pays)
    book("individual", "wages", wage)
    book("state", "employer_fees", fee)
    book("arbetsformedlingen", "wage_subsidies", -subsidy)

    # --- income support -----------------------------------------------------------------
    not_working = _NOT_WORKING[stage]
    ui = not_working & x.ui_entitled & ~x.in_guarantee
    related = x.ui_entitled if x.ui_income_related is None else x.ui_income_related

    def per_day(share: float, ceiling: float) -> np.ndarray:  # (the share as float64: the wage is float32)
        return np.where(related, np.minimum(np.asarray(share, np.float64) * x.reference_wage / days, ceiling),
                        m.ui_basic_sek_per_day)

    # The month's paid days, of which the first before day 100 (where the two ceilings differ)
    # and before day 200; in float64: a float32 minimum would turn the 21.7 days of a full month
    # into 21.700000763.
    paid_days = days if x.ui_days_left is None else np.minimum(days, x.ui_days_left.astype(np.float64))
    before_200 = np.minimum(paid_days, ui_days_before(x.ui_days, UI_STEP_DAY).astype(np.float64))
    ceilings_differ = np.asarray(m.ui_max_sek_per_day != m.ui_max_after_100_days_sek_per_day)
    before_100 = np.where(ceilings_differ, np.minimum(before_200, ui_days_before(x.ui_days, UI_CEILING_STEP_DAY)), 0.0)
    first, after = m.ui_share_first_200_days, m.ui_share_after_200_days
    ui_amount = np.where(ui, per_day(first, m.ui_max_sek_per_day) * before_100
                         + per_day(first, m.ui_max_after_100_days_sek_per_day) * (before_200 - before_100)
                         + per_day(after, m.ui_max_after_100_days_sek_per_day) * (paid_days - before_200), 0.0)
    book("state", "unemployment_insurance", -ui_amount)
    book("individual", "unemployment_insurance", ui_amount)
    guar = not_working & x.in_guarantee
    had_ui = x.reference_wage > 0
    fas3 = stage == _S.FAS3 if x.fas3_placement is None else x.fas3_placement
    # Without a UI history, activity support lasts 450 days: the guarantee's day limit, where Fas 3
    # began (after February 2016, with no Fas 3, in JOB too).
    guar &= had_ui | ~fas3
    # 65 % of the daily earnings the last UI was based on (SFS 2008:61, 5 §); the basic amount was
    # based on none, so after it the minimum.
    related_act = had_ui if x.ui_income_related is None else x.ui_income_related
    daily_ui = np.where(related_act, np.clip(m.activity_support_ui_share * x.reference_wage / days,
                                             m.activity_support_min_sek_per_day,
                                             m.ui_max_after_100_days_sek_per_day),
                        m.activity_support_after_basic_sek_per_day)
    act = np.where(guar, np.where(had_ui, daily_ui, m.activity_support_no_ui_sek_per_day) * days, 0.0)
    book("forsakringskassan", "activity_support", -act)
    book("individual", "activity_support", act)

    # --- income tax ---------------------------------------------------------------------
    taxable = wage + ui_amount + act
    base = np.maximum(taxable - m.tax_free_sek_per_month, 0.0)
    mun_tax = base * m.municipal_tax_share
    reg_tax = base * m.region_tax_share
    book("municipality", "income_tax", mun_tax)
    book("region", "income_tax", reg_tax)
    book("individual", "income_tax", -(mun_tax + reg_tax))
    # Income equalisation: a smaller (or larger) grant takes back what the municipality does
    # not keep of a change in its tax base; the state's grant budget gets it.
    clawback = (1.0 - m.municipal_tax_kept_share) * mun_tax
    book("municipality", "income_equalisation", -clawback)
    book("state", "income_equalisation", clawback)

    # --- household income from Försäkringskassan ---------------------------------------
    present = (stage != _S.OTHER) & (stage != _S.NOT_ARRIVED)
    kids = x.children.astype(np.float64)
    allowances = present * (kids * m.child_allowance_sek_per_child_month
                            + _SINGLE_PARENT[x.household] * kids * m.maintenance_support_sek_per_child_month
                            + (kids > 0) * m.housing_allowance_family_sek_per_month)
    book("forsakringskassan", "family_allowances", -allowances)
    book("individual", "family_allowances", allowances)

    # --- social assistance --------------------------------------------------------------
    couple = _COUPLE[x.household]
    need = np.where(couple, m.sa_norm_couple_sek_per_month, m.sa_norm_single_sek_per_month)
    need = need + x.children.astype(np.float64) * m.sa_norm_per_child_sek_per_month
    need = need + np.where(_FAMILY[x.household], m.housing_family_sek_per_month, m.housing_single_sek_per_month)
    net = taxable - mun_tax - reg_tax + allowances + np.where(couple, m.partner_income_sek_per_month, 0.0)
    sa = np.where(_NO_SA[stage], 0.0, np.maximum(need - net, 0.0))
    book("municipality", "social_assistance", -sa)
    book("individual", "social_assistance", sa)

    # --- Fas 3 organiser grant ----------------------------------------------------------
    # in a placement: in Fas 3, or past the day limit in a programme while placements run
    placed = (stage == _S.FAS3) | (fas3 & (stage >= _S.WAITING) & (stage <= _S.EDUCATION) & m.fas3_placements_run)
    grant = np.where(placed, m.fas3_organiser_grant_sek_per_month, 0.0)
    municipal = np.zeros(n, bool) if x.fas3_municipal is None else x.fas3_municipal
    book("arbetsformedlingen", "organiser_grant", -grant)
    book("municipality", "organiser_grant", grant * municipal)
    book(m.fas3_organiser, "organiser_grant", grant * ~municipal)

    # --- programme participant costs ----------------------------------------------------
    participating = in_prog & (stage != _S.WAITING)
    for payer, costs in pm.participant_cost.items():
        book(payer, "programme_costs", -np.where(participating, costs[pidx], 0.0))
    return out
