"""Who pays and what for: the payers and categories of the ledger (its vocabulary).

Every amount the ledger books belongs to one payer and one category. Transfers (benefits,
wages, taxes) are booked twice, as one payer's minus and another's plus, so they cancel in
``society``, the sum over payers; real gains and resource use (production, programme costs
and staff) are booked once.

Sign convention, everywhere in almsim: a payer's **net** is what it receives minus what it
pays; a **saving** is a scenario's net minus the baseline's: **+ = the payer is better off**.
"""

from __future__ import annotations

__all__ = ["PAYERS", "CATEGORIES", "TRANSFERS", "REAL", "SOCIETY", "ALL_PAYERS", "BEFORE_EQUALISATION"]

PAYERS = ("municipality", "arbetsformedlingen", "forsakringskassan", "state", "region", "individual", "employer",
          "public", "samordningsforbund", "esf")
#: ``public`` receives the value of work done in municipal subsidised jobs (extra staff in
#: municipal services): a gain to the people those services serve, not money in the
#: municipality's budget (DOMAIN.md B5: the municipality's view counts its cash flows).
#: ``samordningsforbund`` (a Finsam coordination association of Arbetsförmedlingen,
#: Försäkringskassan, the region and municipalities, with a budget of its own) and ``esf``
#: (the European Social Fund) only fund programmes: they appear as the payers of programme
#: costs and staff that the scenario gives them.
CATEGORIES = ("social_assistance", "family_allowances", "activity_support", "unemployment_insurance", "wages",
              "employer_fees", "wage_subsidies", "organiser_grant", "income_tax", "income_equalisation",
              "production_value", "programme_costs", "programme_staff")
#: Categories posted as transfers between payers (they cancel at society level).
TRANSFERS = ("social_assistance", "family_allowances", "activity_support", "unemployment_insurance", "wages",
             "employer_fees", "wage_subsidies", "organiser_grant", "income_tax", "income_equalisation")
#: Categories that are real gains or resource use (they do not cancel).
REAL = ("production_value", "programme_costs", "programme_staff")

SOCIETY = "society"
#: The ledger's payers, then ``society`` (their sum): the ``payer`` values of result tables.
ALL_PAYERS: tuple[str, ...] = (*PAYERS, SOCIETY)
#: The municipality's result without the ``income_equalisation`` category: what its own tax
#: base gives before the equalisation grant adjusts. The ``municipality`` line (after
#: equalisation) is what a municipal budget sees.
BEFORE_EQUALISATION = "municipality_before_equalisation"
