"""Money parameters of a scenario: benefit rates, wages, taxes, fees, grants.

Every rate is a dated :class:`~sim.scenario.dated.Param` so reforms (e.g. the Fas 3 organiser grant
falling from 4,950 to 2,200 SEK a month in 2015) are ordinary dated values. The defaults are
the national figures of DOMAIN.md part B; ``scenarios/national.yaml`` restates them with
their sources, and a scenario may override any of them.
"""

from __future__ import annotations

from typing import Literal

from sim.scenario.dated import Param
from sim.scenario.fields import DaysPerMonth, Sek, Share, _Frozen

__all__ = ["Money"]


def _c(v: float) -> Param:
    return Param.constant(float(v))


class Money(_Frozen):
    """Rates the ledger books with (DOMAIN.md B1-B4)."""

    discount_rate_per_year: Share = _c(0.035)  # ASEK: 3.5 %
    # Social assistance (municipality), B1: norm excl. housing, plus housing.
    sa_norm_single_sek_per_month: Sek = _c(3880)
    sa_norm_couple_sek_per_month: Sek = _c(6360)  # 5,320 personal + 1,040 shared
    sa_norm_per_child_sek_per_month: Sek = _c(2450)  # mid-range of 1,740-3,280 by age
    housing_single_sek_per_month: Sek = _c(3600)  # 7,000-8,000 incl. rent (ka.se) minus norm
    housing_family_sek_per_month: Sek = _c(5000)
    partner_income_sek_per_month: Sek = _c(0)  # couples: the other adult's net income
    # Household income from Försäkringskassan that counts in the assistance calculation, DOMAIN D2.
    # barnbidrag: 1,050 from 2006, 1,250 from March 2018
    child_allowance_sek_per_child_month: Sek = Param(((None, 1050.0), (2018 * 12 + 2, 1250.0)))
    # underhållsstöd, single parents: 1,273 to January 2015, 1,573 from February 2015 (the amount of
    # a child up to 10; older children's higher amounts of 2018-19 are not modelled)
    maintenance_support_sek_per_child_month: Sek = Param(((None, 1273.0), (2015 * 12 + 1, 1573.0)))
    housing_allowance_family_sek_per_month: Sek = _c(2200)  # bostadsbidrag, families with children
    # Income equalisation (Lag 2004:773), DOMAIN D3: the share of a change in its own tax base
    # a municipality keeps after the equalisation grant adjusts (0.05 below the guarantee level).
    municipal_tax_kept_share: Share = _c(0.05)
    # Activity support (paid by Försäkringskassan), B2.
    activity_support_no_ui_sek_per_day: Sek = _c(223)
    activity_support_ui_share: Share = _c(0.65)
    # The lowest activity support for those who meet the UI conditions: 320 (SFS 2008:61, 5 §), 365
    # from September 2015 with the basic amount (DOMAIN.md D1; secondary pages, the ordinance unread).
    activity_support_min_sek_per_day: Sek = Param(((None, 320.0), (2015 * 12 + 8, 365.0)))
    # After UI of the basic amount (no fund membership): the minimum above, reading SFS 2008:61, 5 §
    # (no earnings set it); Försäkringskassan's page pays the 65 % only to fund members, others 223.
    activity_support_after_basic_sek_per_day: Sek = Param(((None, 320.0), (2015 * 12 + 8, 365.0)))
    # Unemployment insurance (UI funds / state), B2.
    ui_share_first_200_days: Share = _c(0.80)
    ui_share_after_200_days: Share = _c(0.70)
    # The highest daily UI: 680 to August 2015; from September 2015 910 for a period's first 100
    # days and 760 after (DOMAIN D1); the temporary rules of 2020 raised them to 1,200 (13 April)
    # and 1,000 (29 June). A date is counted from the nearest month's start (September, April, July).
    ui_max_sek_per_day: Sek = Param(((None, 680.0), (2015 * 12 + 8, 910.0), (2020 * 12 + 3, 1200.0)))
    ui_max_after_100_days_sek_per_day: Sek = Param(((None, 680.0), (2015 * 12 + 8, 760.0), (2020 * 12 + 6, 1000.0)))
    # Without the membership condition: the basic amount, full-time (DOMAIN D1): 320, 365 from
    # September 2015, 510 from 13 April 2020.
    ui_basic_sek_per_day: Sek = Param(((None, 320.0), (2015 * 12 + 8, 365.0), (2020 * 12 + 3, 510.0)))
    benefit_days_per_month: DaysPerMonth = _c(21.7)
    # Wages, taxes, fees, B4.
    work_wage_sek_per_month: Sek = _c(20000)  # unsubsidised jobs these people get
    previous_wage_sek_per_month: Sek = _c(17000)  # UI reference wage of those entitled at entry
    employer_fee_share: Share = _c(0.3142)
    employer_fee_share_under_26: Share = Param(((None, 0.1549), (2016 * 12, 0.3142)))  # reduced 2009-2015
    municipal_tax_share: Share = _c(0.2070)
    region_tax_share: Share = _c(0.1129)  # 31.99 % average total minus the municipal 20.70 %
    tax_free_sek_per_month: Sek = _c(1200)  # stands in for the basic deduction
    production_value_share_of_wage_cost: Share = _c(1.0)  # ordinary work: value = wage cost
    # The guarantee, B2-B3.
    fas3_organiser_grant_sek_per_month: Sek = Param(((None, 4950.0), (2015 * 12, 2200.0)))
    fas3_organiser: Literal["municipality", "employer"] = "employer"
    external_subsidy_share_of_wage_cost: Share = _c(0.0)  # AF's own subsidised jobs (stage 'subsidised')
    external_subsidised_wage_sek_per_month: Sek = _c(17000)
