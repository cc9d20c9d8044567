"""The payoff-style estimate beside the simulated one, and the bridge from one to the other.

Evaluations that politicians already hold (the payoff method behind the Sigtuna evaluation,
DOMAIN.md B5) are *static*: the counterfactual of each participant is their situation before
the programme, held constant over the horizon. almsim's answer is *dynamic*: the counterfactual
is a simulated baseline in which people also leave assistance on their own, move on to other
income support, fall sick or move away. :func:`payoff_bridge` computes both from the same paired
runs and takes one to the other in named steps that add up exactly:

``simulated = payoff_style + leave_for_work_or_studies + other_income_support + leave_the_model
+ rates_and_clocks + non_participants``

For payer ``p``, horizon ``H`` (months from the programme's start ``o``), discount ``d_t``,
participants ``i`` (everyone who starts a programme in the scenario's run):

* **payoff-style** = ``sum_i sum_t d_t (programme arm_i,t - frozen_i)`` plus what is not booked
  per person (programme staff), where ``frozen_i`` is person ``i``'s money in the baseline run
  in the month they start (their situation before the programme), held for every month;
* the baseline run differs from the frozen situation month by month; each participant-month's
  difference ``d_t (frozen_i - baseline_i,t)`` is assigned to one mechanism by the person's
  baseline state that month: in **work or studies** (people leave assistance without the
  programme); on **UI, in the job guarantee or Fas 3** while they were not at the start (other
  income support: the state pays instead); in **other** (sickness, parental leave, moved,
  pension: outside the ledger); otherwise **rates and clocks** (benefit steps, reforms, age);
* **non-participants**: the difference the programme makes to people who never start it
  (waiting lists, referrals), from their own postings.

Beside the bridge, the payoff method's own sensitivity case (DOMAIN.md B5): the programme's
cost **written off over 3 years**. The investment is what the organisers pay and receive while
people take part (project costs, staff, wages and employer fees, minus wage subsidies and
organiser grants: the categories of :data:`INVESTMENT`, for every payer but the individual,
whose wage is income), scenario minus baseline; each month's investment is spread evenly over
that month and the next 35, so that at 1 year about a third of a first-year investment counts.
For society, whose view cancels transfers, only the real costs (project costs, staff) are spread.

Everyone is followed person by person (``track=``) in a second pass over the same seeds;
common random numbers make those runs identical to the comparison's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.accounts.payers import ALL_PAYERS, PAYERS
from sim.analysis.comparison_math import (
    discount_factors,
    horizons_for,
    month_labels,
    net_by_payer,
    programme_start,
)
from sim.runs.posterior import replication_scenarios
from sim.runs.replications import Ensemble
from sim.runs.results import RunResult
from sim.scenario.schema import Scenario
from sim.scenario.stages import Stage

__all__ = ["payoff_bridge", "explain", "BRIDGE_STEPS", "BRIDGE_COLUMNS", "Bridge", "WRITTEN_OFF", "INVESTMENT",
           "WRITE_OFF_MONTHS"]

#: The bridge's steps in order, with the words the report uses.
BRIDGE_STEPS: tuple[tuple[str, str], ...] = (
    ("payoff_style", "Payoff-style estimate: each participant's situation before the programme held constant"),
    ("leave_for_work_or_studies", "Without the programme, some participants would have left assistance for work "
                                  "or studies on their own"),
    ("other_income_support", "Without the programme, some would have moved to unemployment insurance, the job "
                             "guarantee or Fas 3, paid by the state instead"),
    ("leave_the_model", "Without the programme, some would have left for sickness, parental leave, another "
                        "municipality or pension"),
    ("rates_and_clocks", "Benefit amounts and rules change over time (UI steps, reforms, age)"),
    ("non_participants", "People who never took part (waiting lists, referrals)"),
    ("simulated", "almsim's simulated estimate (a simulated baseline as the counterfactual)"),
)
#: The payoff method's sensitivity case (a row of the bridge table that is not a step).
WRITTEN_OFF = ("payoff_style_written_off_3y", "Payoff-style, the programme's cost written off over 3 years")
#: Ledger categories that make up a programme's investment (project + wage costs - state grants).
INVESTMENT = ("wages", "employer_fees", "wage_subsidies", "organiser_grant", "programme_costs", "programme_staff")
_REAL_INVESTMENT = ("programme_costs", "programme_staff")
WRITE_OFF_MONTHS = 36
BRIDGE_COLUMNS = ("scenario", "horizon_months", "payer", "step", "p10", "p50", "p90", "mean")
_OTHER_SUPPORT = ("job", "fas3")
_LABELS = np.array([s.label for s in Stage], dtype=object)


@dataclass(frozen=True)
class Bridge:
    """Per replication, payer and horizon, the value of each step (``[R, payers + society, H, steps]``)
    and of the payoff-style estimate with the cost written off over 3 years (``[R, payers + society, H]``)."""

    horizons: list[int]
    values: np.ndarray
    written_off: np.ndarray

    def table(self, label: str) -> pd.DataFrame:
        """Quantiles over replications: one row per horizon, payer and step."""
        rows = []
        for k, h in enumerate(self.horizons):
            for j, payer in enumerate(ALL_PAYERS):
                for s, (step, _) in enumerate(BRIDGE_STEPS):
                    v = self.values[:, j, k, s]
                    q = np.quantile(v, (0.1, 0.5, 0.9))
                    rows.append((label, h, payer, step, float(q[0]), float(q[1]), float(q[2]), float(v.mean())))
                v = self.written_off[:, j, k]
                q = np.quantile(v, (0.1, 0.5, 0.9))
                rows.append((label, h, payer, WRITTEN_OFF[0], float(q[0]), float(q[1]), float(q[2]), float(v.mean())))
        return pd.DataFrame(rows, columns=list(BRIDGE_COLUMNS))


def _people(scenario: Scenario) -> int:
    from sim.engine.population import population_size

    return int(population_size(scenario.population, scenario.start_month, scenario.horizon_months))


def _track_all(scenario: Scenario, seed: int) -> RunResult:
    from sim.engine.model import ProgrammeModel  # (mesa: only where an ordinary run is made)

    model = ProgrammeModel(scenario, rng=seed, record_events=True, track=range(_people(scenario)))
    model.run()
    return RunResult.from_model(model)


def _starts(r: RunResult, stages: set[str], labels: pd.Index, n_people: int) -> np.ndarray:
    """Month index of each person's first programme start (-1 if none)."""
    ev = r.tables["events"]
    first = np.full(n_people, -1, np.int64)
    if len(ev):
        sel = (ev["from_stage"] == "waiting") & ev["to_stage"].isin(stages)
        got = ev[sel].groupby("person")["month"].min()
        first[got.index.to_numpy(np.int64)] = labels.get_indexer(got.to_numpy())
    return first


def _spread(x: np.ndarray, months: int = WRITE_OFF_MONTHS) -> np.ndarray:
    """Each month's amount (rows of ``x``) spread evenly over that month and the next ``months - 1``."""
    c = np.cumsum(np.vstack([np.zeros((1, *x.shape[1:])), x]), axis=0)
    lagged = np.vstack([np.zeros((months, *x.shape[1:])), c])[: c.shape[0]]
    return (c - lagged)[1:] / months


def _investment(b: RunResult, s: RunResult, months: int) -> tuple[np.ndarray, np.ndarray]:
    """The programme's investment, scenario minus baseline: ``[month, payer]`` (the individual's
    column zero) and society's real part ``[month]``."""
    if b.ledger_book is None or s.ledger_book is None:
        raise ValueError("the payoff-style write-off needs the runs' ledger books")
    inv = np.zeros((months, len(PAYERS)))
    real = np.zeros(months)
    for sign, book in ((1.0, s.ledger_book), (-1.0, b.ledger_book)):
        flows = book.programme_flows(PAYERS, INVESTMENT)  # [month, payer, category]
        inv[: len(flows)] += sign * flows.sum(axis=2)
        real[: len(flows)] += sign * flows[:, :, [INVESTMENT.index(c) for c in _REAL_INVESTMENT]].sum(axis=(1, 2))
    inv[:, PAYERS.index("individual")] = 0.0
    return inv, real


def payoff_bridge(baseline: Ensemble, scenario: Ensemble) -> Bridge:
    """The payoff-style estimate and the bridge to the simulated one (see the module docstring).

    Re-runs every replication of both ensembles with everyone followed (same seeds, so the same
    runs) and returns each step's value per replication, payer (``society`` last) and horizon.
    """
    scn = scenario.scenario
    start, months = scn.start_month, scn.horizon_months
    origin = programme_start(scn) - start
    horizons = horizons_for(months - origin)
    labels = pd.Index(month_labels(start, months))
    rate = float(scn.money.discount_rate_per_year.at(start + origin))
    disc = discount_factors(months, rate, origin)
    disc[:origin] = 0.0
    stages = {p.stage.label for p in scn.programmes}
    base_scns, _ = replication_scenarios(baseline.scenario, baseline.seed, len(baseline.seeds),
                                         fixed_parameters=baseline.fixed_parameters)
    scen_scns, _ = replication_scenarios(scn, scenario.seed, len(scenario.seeds),
                                         fixed_parameters=scenario.fixed_parameters)
    n_people = _people(scn)
    out = np.zeros((len(scenario.seeds), len(ALL_PAYERS), len(horizons), len(BRIDGE_STEPS)))
    written_off = np.zeros((len(scenario.seeds), len(ALL_PAYERS), len(horizons)))
    for rep, (b_scn, s_scn, seed) in enumerate(zip(base_scns, scen_scns, scenario.seeds, strict=True)):
        b, s = baseline.results[rep], scenario.results[rep]
        kept_b = b.ledger_book.people(PAYERS) if b.ledger_book is not None else None
        kept_s = s.ledger_book.people(PAYERS) if s.ledger_book is not None else None
        if kept_b is not None and kept_s is not None and "events" in s.tables and len(s.tables["events"]):
            (mb, codes_b, ui_b), (ms, _, _) = kept_b, kept_s  # the runs themselves, person by person
            stage_b = _LABELS[codes_b]
        else:  # a large population, or no event log: follow everyone in runs with the same seeds
            b, s = _track_all(b_scn, seed), _track_all(s_scn, seed)
            mb, stage_b, ui_b = b.followed(PAYERS)
            ms, _, _ = s.followed(PAYERS)
        first = _starts(s, stages, labels, n_people)
        part = first >= 0
        # What is not booked per person (programme staff): the ledger minus everyone's postings.
        extra = ((net_by_payer(s.tables["ledger"], start, months) - ms.sum(axis=0))
                 - (net_by_payer(b.tables["ledger"], start, months) - mb.sum(axis=0)))  # [T, P]
        at = np.maximum(first, origin)  # the month a participant's situation is frozen at
        frozen = np.zeros((n_people, len(PAYERS)))
        frozen[part] = mb[np.flatnonzero(part), at[part]]
        st0 = stage_b[np.flatnonzero(part), at[part]]
        ui0 = ui_b[np.flatnonzero(part), at[part]]
        pb, ps = mb[part], ms[part]
        sb, ub = stage_b[part], ui_b[part]
        gap = frozen[part][:, None, :] - pb  # [i, t, P]: frozen minus the baseline run
        work = np.isin(sb, ("work", "studies"))
        other = sb == "other"
        support = ~work & ~other & ((np.isin(sb, _OTHER_SUPPORT) & ~np.isin(st0, _OTHER_SUPPORT)[:, None])
                                    | (ub & ~ui0[:, None]))
        rest = ~work & ~other & ~support
        nonpart = ms[~part] - mb[~part]
        inv, inv_real = _investment(b, s, months)
        moved, moved_real = _spread(inv) - inv, _spread(inv_real[:, None])[:, 0] - inv_real
        for k, h in enumerate(horizons):
            w = disc.copy()
            w[origin + h:] = 0.0

            def total(x: np.ndarray, w: np.ndarray = w) -> np.ndarray:  # [.., t, P] -> [P]
                return np.einsum("itp,t->p", x.reshape(-1, *x.shape[-2:]), w)

            steps = [total(ps - frozen[part][:, None, :]) + total(extra),
                     total(gap * work[..., None]), total(gap * support[..., None]),
                     total(gap * other[..., None]), total(gap * rest[..., None]), total(nonpart)]
            steps.append(sum(steps))
            for si, v in enumerate(steps):
                out[rep, :len(PAYERS), k, si] = v
                out[rep, len(PAYERS), k, si] = v.sum()
            written_off[rep, :len(PAYERS), k] = steps[0] + w @ moved
            written_off[rep, len(PAYERS), k] = steps[0].sum() + w @ moved_real
    return Bridge(horizons, out, written_off)


def explain(table: pd.DataFrame, label: str, horizon: int, payer: str) -> list[str]:
    """The bridge at one horizon for one payer, in plain sentences (means over replications, MSEK,
    which add up exactly, as every replication's steps do)."""
    t = table[(table["scenario"] == label) & (table["horizon_months"] == horizon) & (table["payer"] == payer)]
    if t.empty:
        return []
    v = t.set_index("step")["mean"]
    words = dict(BRIDGE_STEPS)
    lines = [f"{words['payoff_style']}: {v['payoff_style'] / 1e6:+.1f} MSEK."]
    if WRITTEN_OFF[0] in v.index:
        lines.append(f"({WRITTEN_OFF[1]}, the payoff method's sensitivity case: "
                     f"{v[WRITTEN_OFF[0]] / 1e6:+.1f} MSEK; not a step of the bridge.)")
    for step, _ in BRIDGE_STEPS[1:-1]:
        if abs(v[step]) >= 0.05e6:
            lines.append(f"{words[step]}: {v[step] / 1e6:+.1f} MSEK.")
    lines.append(f"{words['simulated']}: {v['simulated'] / 1e6:+.1f} MSEK.")
    return lines
