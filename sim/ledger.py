"""The ledger: who pays and who receives what, per person and month.

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
  working: min(80 % (70 % after 200 days) of the reference wage, 680 SEK/day) x 21.7 days, from
  the state (UI funds) to the individual.
* **activity support** for people in the guarantee and not working: 65 % of the reference
  wage (min 320 SEK/day, max 680) if they had UI, else 223 SEK/day, from Försäkringskassan;
  without a UI history it ends with the 450 days, so people in Fas 3 without one get none
  (about 1 in 8 Fas 3 participants in 2014 lived on social assistance).
* **income tax** on wages, UI and activity support above a tax-free amount: the municipal
  part to the municipality, the county part to the region.
* **social assistance**: the household's norm (adults + children) plus housing, minus the
  household's net income, if positive, from the municipality to the individual; not for
  people in regular studies (student finance) or outside the model (``other``).
* **organiser grant** for each month in a Fas 3 placement, from Arbetsförmedlingen to the
  organiser; people past the Fas 3 day limit who wait for or attend a (non-job) programme
  keep their placement, as Umeå's Insteget participants did.
* **programme costs** per participant-month and **programme staff** per month, paid by the
  payers the scenario names.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from sim.population import HOUSEHOLD_CODES
from sim.stages import Stage

__all__ = ["PAYERS", "CATEGORIES", "TRANSFERS", "REAL", "LedgerInput", "ProgrammeMoney", "post",
           "grouping_key", "LedgerBook"]

PAYERS = ("municipality", "arbetsformedlingen", "forsakringskassan", "state", "region", "individual", "employer",
          "public", "samordningsforbund", "esf")
#: ``public`` receives the value of work done in municipal subsidised jobs (extra staff in
#: municipal services): a gain to the people those services serve, not money in the
#: municipality's budget (DOMAIN.md B5: the municipality's view counts its cash flows).
#: ``samordningsforbund`` (a Finsam coordination association of Arbetsförmedlingen,
#: Försäkringskassan, the region and municipalities, with a budget of its own) and ``esf``
#: (the European Social Fund) only fund programmes: they appear as the payers of programme
#: costs and staff that the scenario gives them.
CATEGORIES = ("social_assistance", "activity_support", "unemployment_insurance", "wages", "employer_fees",
              "wage_subsidies", "organiser_grant", "income_tax", "production_value", "programme_costs",
              "programme_staff")
#: Categories posted as transfers between payers (they cancel at society level).
TRANSFERS = ("social_assistance", "activity_support", "unemployment_insurance", "wages", "employer_fees",
             "wage_subsidies", "organiser_grant", "income_tax")
#: Categories that are real gains or resource use (they do not cancel).
REAL = ("production_value", "programme_costs", "programme_staff")

_S = Stage
_NOT_WORKING = np.zeros(len(Stage), bool)
_NOT_WORKING[[_S.OPEN, _S.JOB, _S.WAITING, _S.FAS3, _S.COACHING, _S.TRAINING, _S.EDUCATION]] = True
_NO_SA = np.zeros(len(Stage), bool)
_NO_SA[[_S.STUDIES, _S.OTHER, _S.NOT_ARRIVED]] = True
_FAMILY = np.zeros(len(HOUSEHOLD_CODES), bool)
_FAMILY[[HOUSEHOLD_CODES["single_parent"], HOUSEHOLD_CODES["couple"], HOUSEHOLD_CODES["couple_children"]]] = True
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
    fas3_placement: np.ndarray | None = None  #: in a Fas 3 placement (default: stage is fas3)
    under_26: np.ndarray | None = None  #: age under 26 (default: from ``age_years``)

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


def post(x: LedgerInput, m: SimpleNamespace, pm: ProgrammeMoney) -> dict[tuple[str, str], np.ndarray]:
    """Signed amounts per (payer, category) for each person (see the module docstring).

    Args:
        x: people's state.
        m: money rates in force (the fields of :class:`sim.money.Money`, as floats).
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
    share = np.where(x.ui_days < 200, m.ui_share_first_200_days, m.ui_share_after_200_days)
    ui_amount = np.where(ui, np.minimum(share * x.reference_wage / days, m.ui_max_sek_per_day) * days, 0.0)
    book("state", "unemployment_insurance", -ui_amount)
    book("individual", "unemployment_insurance", ui_amount)
    guar = not_working & x.in_guarantee
    had_ui = x.reference_wage > 0
    fas3 = stage == _S.FAS3 if x.fas3_placement is None else x.fas3_placement
    # Without a UI history, activity support lasts 450 days, which Fas 3 begins after.
    guar &= had_ui | ~fas3
    daily_ui = np.clip(m.activity_support_ui_share * x.reference_wage / days, m.activity_support_min_sek_per_day,
                       m.ui_max_sek_per_day)
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

    # --- social assistance --------------------------------------------------------------
    couple = _COUPLE[x.household]
    need = np.where(couple, m.sa_norm_couple_sek_per_month, m.sa_norm_single_sek_per_month)
    need = need + x.children.astype(np.float64) * m.sa_norm_per_child_sek_per_month
    need = need + np.where(_FAMILY[x.household], m.housing_family_sek_per_month, m.housing_single_sek_per_month)
    net = taxable - mun_tax - reg_tax + np.where(couple, m.partner_income_sek_per_month, 0.0)
    sa = np.where(_NO_SA[stage], 0.0, np.maximum(need - net, 0.0))
    book("municipality", "social_assistance", -sa)
    book("individual", "social_assistance", sa)

    # --- Fas 3 organiser grant ----------------------------------------------------------
    grant = np.where(fas3, m.fas3_organiser_grant_sek_per_month, 0.0)
    book("arbetsformedlingen", "organiser_grant", -grant)
    book(m.fas3_organiser, "organiser_grant", grant)

    # --- programme participant costs ----------------------------------------------------
    participating = in_prog & (stage != _S.WAITING)
    for payer, costs in pm.participant_cost.items():
        book(payer, "programme_costs", -np.where(participating, costs[pidx], 0.0))
    return out


# The grouping key packs every field the rules read into one int64:
# bits 0-31 the reference wage (float32 bits), 32-36 five flags, 37-40 children,
# 41-42 household, 43-48 programme + 1, 49-52 stage.
_FLAGS = ("fas3", "ui200", "guarantee", "ui", "under26")
def grouping_key(x: LedgerInput) -> np.ndarray:
    """Each person's state as the one int64 that :func:`post_totals` groups by."""
    fas3 = (x.stage == _S.FAS3) if x.fas3_placement is None else x.fas3_placement
    # Build the narrow parts in small dtypes first; widen once.
    flags = fas3.astype(np.uint8)
    for i, f in enumerate((x.ui_days < 200, x.in_guarantee, x.ui_entitled, x.young()), start=1):
        flags |= f.astype(np.uint8) << np.uint8(i)
    small = np.minimum(x.children, 15).astype(np.uint16)
    small |= x.household.astype(np.uint16) << np.uint16(4)
    small |= (x.programme + np.int8(1)).astype(np.uint16) << np.uint16(6)
    small |= x.stage.astype(np.uint16) << np.uint16(12)
    key = x.reference_wage.astype(np.float32).view(np.uint32).astype(np.int64)
    key |= flags.astype(np.int64) << 32
    key |= small.astype(np.int64) << 37
    return key


def _decode(keys: np.ndarray) -> LedgerInput:
    """The state each grouping key stands for (one row per key)."""
    flags_k = (keys >> 32) & 0x1F
    small_k = keys >> 37
    fields = {name: (flags_k >> i) & 1 for i, name in enumerate(_FLAGS)}
    fields["wage"] = keys & 0xFFFFFFFF
    fields["children"] = small_k & 0xF
    fields["household"] = (small_k >> 4) & 0x3
    fields["programme"] = (small_k >> 6) & 0x3F
    fields["stage"] = (small_k >> 12) & 0xF
    return LedgerInput(
        stage=fields["stage"].astype(np.uint8), programme=(fields["programme"] - 1).astype(np.int8),
        household=fields["household"].astype(np.uint8), children=fields["children"].astype(np.uint8),
        age_years=np.where(fields["under26"] == 1, 25.0, 26.0).astype(np.float32),
        ui_entitled=fields["ui"] == 1, ui_days=np.where(fields["ui200"] == 1, 0.0, 200.0).astype(np.float32),
        in_guarantee=fields["guarantee"] == 1,
        reference_wage=fields["wage"].astype(np.uint32).view(np.float32), fas3_placement=fields["fas3"] == 1,
    )


class LedgerBook:
    """Monthly sums over people of :func:`post`, posted once per distinct state and run.

    The rules read only categorical fields, age under 26, UI days under 200 and the
    reference wage, so people who agree on those get identical postings. Each month the
    people's states are packed into integer keys (:func:`grouping_key`) and only the
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

    def __init__(self) -> None:
        self._pending: list[tuple[int, SimpleNamespace, ProgrammeMoney, np.ndarray, np.ndarray | None,
                                  dict[tuple[str, str], float]]] = []
        #: per group of months under the same rules: (booking order, months, people booked,
        #: pairs, sums, extras)
        self._blocks: list[tuple[list[int], list[int], list[int], list[tuple[str, str]], np.ndarray,
                                 list[dict[tuple[str, str], float]]]] = []
        self._booked = 0
        self._months: list[tuple[int, dict[tuple[str, str], float]]] | None = None

    def add(self, t: int, key: np.ndarray, m: SimpleNamespace, pm: ProgrammeMoney,
            extra: dict[tuple[str, str], float] | None = None) -> None:
        """Book month ``t`` for people with grouping keys ``key`` under money rules ``m``,
        ``pm``, plus ``extra`` amounts that are not per person (staff costs)."""
        if key.size <= self.RAW_KEYS:  # small: keep everyone's key (a sort per month costs more)
            keys, counts = key.copy(), None
        else:
            keys, counts = np.unique(key, return_counts=True)
        self._pending.append((t, m, pm, keys, counts, dict(extra or {})))
        self._months = None

    def months(self) -> list[tuple[int, dict[tuple[str, str], float]]]:
        """``(t, {(payer, category): amount})`` for every month booked, in order."""
        self._post_pending()
        if self._months is None:
            rows: list[tuple[int, int, dict[tuple[str, str], float]]] = []
            for order, ts, sizes, pairs, sums, extras in self._blocks:
                for o, t, n, row, extra in zip(order, ts, sizes, sums.tolist(), extras, strict=True):
                    totals = dict(zip(pairs, row, strict=True)) if n else {}
                    for k, v in extra.items():
                        totals[k] = totals.get(k, 0.0) + v
                    rows.append((o, t, totals))
            self._months = [(t, totals) for _, t, totals in sorted(rows, key=lambda r: r[0])]
        return self._months

    def by_payer(self) -> dict[str, float]:
        """Each payer's sum over all months booked."""
        self._post_pending()
        out: dict[str, float] = {}
        for _, _, _, pairs, sums, extras in self._blocks:
            for (payer, _cat), v in zip(pairs, sums.sum(axis=0).tolist(), strict=True):
                out[payer] = out.get(payer, 0.0) + v
            for extra in extras:
                for (payer, _cat), v in extra.items():
                    out[payer] = out.get(payer, 0.0) + v
        return out

    def _post_pending(self) -> None:
        if not self._pending:
            return
        by_rules: dict[tuple[int, int], list[int]] = {}
        for i, (_, m, pm, *_rest) in enumerate(self._pending):
            by_rules.setdefault((id(m), id(pm)), []).append(i)
        for idx in by_rules.values():
            entries = [self._pending[i] for i in idx]
            _, m, pm, *_rest = entries[0]
            keys = np.concatenate([e[3] for e in entries])
            every = np.unique(keys)
            pairs: list[tuple[str, str]] = []
            sums = np.zeros((len(entries), 0))
            if every.size:
                amounts = post(_decode(every), m, pm)
                pairs = list(amounts)
                table = np.stack([amounts[p] for p in pairs], axis=1)
                counts = np.concatenate([np.ones(e[3].size) if e[4] is None else e[4] for e in entries])
                month = np.repeat(np.arange(len(entries)), [e[3].size for e in entries])
                state = np.searchsorted(every, keys)
                cells = len(entries) * every.size
                if cells <= self.DENSE_CELLS:  # people per (month, state), times the postings
                    weights = np.bincount(month * every.size + state, weights=counts, minlength=cells)
                    sums = weights.reshape(len(entries), every.size) @ table
                else:
                    sums = np.zeros((len(entries), len(pairs)))
                    np.add.at(sums, month, table[state] * counts[:, None])
            self._blocks.append(([self._booked + i for i in idx], [e[0] for e in entries],
                                 [e[3].size for e in entries], pairs, sums, [e[5] for e in entries]))
        self._booked += len(self._pending)
        self._pending = []
