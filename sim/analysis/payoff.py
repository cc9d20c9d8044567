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

Everyone's money and state month by month come from the runs' own ledger books and event
records (:meth:`LedgerBook.people`, populations of at most 4,096 people), as arrays; larger
populations are run again over the same seeds with their books keeping everyone's keys, read
the same way, and common random numbers make those runs identical to the comparison's. The
steps are summed a chunk of people at a time (:func:`_step_sums`): ~310 bytes a person-month
at the peak, against ~1.1 kB when everyone was followed with ``track=`` (measured: the same
numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.accounts.payers import ALL_PAYERS, PAYERS
from sim.analysis.comparison_math import (
    discount_factors,
    horizons_for,
    ledger_cube,
    month_labels,
    net_of_cube,
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
_OTHER_SUPPORT = np.array([Stage.JOB, Stage.FAS3], np.uint8)


@dataclass(frozen=True)
class Bridge:
    """Per replication, payer and horizon, the value of each step (``[R, payers + society, H, steps]``)
    and of the payoff-style estimate with the cost written off over 3 years (``[R, payers + society, H]``)."""

    horizons: list[int]
    values: np.ndarray
    written_off: np.ndarray

    def table(self, label: str) -> pd.DataFrame:
        """Quantiles over replications: one row per horizon, payer and step (each row's numbers
        those of ``np.quantile`` and ``mean`` of its replications' values)."""
        every = np.concatenate([self.values, self.written_off[..., None]], axis=-1)  # [R, payer, horizon, row]
        q = np.quantile(every, (0.1, 0.5, 0.9), axis=0).transpose(0, 2, 1, 3)  # [quantile, horizon, payer, row]
        mean = np.ascontiguousarray(np.moveaxis(every, 0, -1)).mean(axis=-1).transpose(1, 0, 2)
        n_h, n_p, n_s = mean.shape
        steps = np.array([step for step, _ in BRIDGE_STEPS] + [WRITTEN_OFF[0]], dtype=object)
        return pd.DataFrame({
            "scenario": np.full(n_h * n_p * n_s, label, dtype=object),
            "horizon_months": np.repeat(np.asarray(self.horizons, np.int64), n_p * n_s),
            "payer": np.tile(np.repeat(np.array(ALL_PAYERS, dtype=object), n_s), n_h),
            "step": np.tile(steps, n_h * n_p),
            "p10": q[0].reshape(-1), "p50": q[1].reshape(-1), "p90": q[2].reshape(-1), "mean": mean.reshape(-1),
        }, columns=list(BRIDGE_COLUMNS))


def _people(scenario: Scenario) -> int:
    from sim.engine.population import population_size

    return int(population_size(scenario.population, scenario.start_month, scenario.horizon_months))


def _follow_all(scenario: Scenario, seed: int) -> tuple[RunResult, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The run of ``scenario`` with ``seed`` again, its book keeping everyone's ledger keys, and
    every person's money, stage and UI flag from them (:meth:`LedgerBook.people
    <sim.accounts.book.LedgerBook.people>`, as the runs of a small population give them).

    A key a person-month (8 bytes, and ~40 while they are read) instead of following everyone
    with ``track=`` (each person posted every month: ~1.1 kB a person-month, ~65 GB for a
    national population; the same amounts: a key stands for everything the rules read)."""
    from sim.engine.model import ProgrammeModel  # (mesa: only where an ordinary run is made)

    model = ProgrammeModel(scenario, rng=seed, record_events=True)
    model.rec.ledger_book.RAW_KEYS = len(model.pop)  # (everyone's keys, every month)
    model.run()
    r = RunResult.from_model(model)
    people = r.ledger_book.people(PAYERS) if r.ledger_book is not None else None
    if people is None:
        raise AssertionError("a run that kept everyone's keys gave no people")
    return r, people


def _starts(r: RunResult, start: int, months: int, n_people: int) -> np.ndarray:
    """Month index of each person's first programme start (-1 if none), from the run's records
    (:meth:`Recorder.admissions <sim.engine.recorder.Recorder.admissions>`), else its events
    table (``programme_start``)."""
    first = np.full(n_people, -1, np.int64)
    rec = getattr(r.records, "rec", None)
    if rec is None or r.start_month != start:
        ev = r.tables["events"]
        if len(ev):
            got = ev[ev["programme_start"].to_numpy(bool)].groupby("person")["month"].min()
            first[got.index.to_numpy(np.int64)] = pd.Index(month_labels(start, months)).get_indexer(got.to_numpy())
        return first
    t, _, ids = rec.admissions()
    if t.size:
        earliest = np.full(n_people, months, np.int64)
        np.minimum.at(earliest, ids[t < months], t[t < months])
        first = np.where(earliest < months, earliest, -1)
    return first


def _logged(r: RunResult) -> bool:
    """Whether the run kept a person-level event log with at least one event."""
    rec = getattr(r.records, "rec", None)
    if rec is None:
        return "events" in r.tables and len(r.tables["events"]) > 0
    return any(e[1].size for e in rec.events)


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

    Follows everyone of every replication of both ensembles, from the runs' own ledger books
    and event logs when they kept everyone's states (small populations), else by running them
    again keeping everyone's ledger keys (same seeds, so the same runs: :func:`_follow_all`), and
    returns each step's value per replication, payer (``society`` last) and horizon.
    """
    scn = scenario.scenario
    start, months = scn.start_month, scn.horizon_months
    origin = programme_start(scn) - start
    horizons = horizons_for(months - origin)
    rate = float(scn.money.discount_rate_per_year.at(start + origin))
    disc = discount_factors(months, rate, origin)
    disc[:origin] = 0.0
    weights = []  # each horizon's discount factors, zero outside its window
    for h in horizons:
        w = disc.copy()
        w[origin + h:] = 0.0
        weights.append(w)
    n_people = _people(scn)
    out = np.zeros((len(scenario.seeds), len(ALL_PAYERS), len(horizons), len(BRIDGE_STEPS)))
    written_off = np.zeros((len(scenario.seeds), len(ALL_PAYERS), len(horizons)))
    again: list[tuple[list[Scenario], list[Scenario]]] = []  # the replications' scenarios, if runs are re-made

    def followed(rep: int) -> tuple[RunResult, RunResult, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        b, s = baseline.results[rep], scenario.results[rep]
        kept_b = b.ledger_book.people(PAYERS) if b.ledger_book is not None else None
        kept_s = s.ledger_book.people(PAYERS) if s.ledger_book is not None and kept_b is not None else None
        if kept_b is not None and kept_s is not None and _logged(s):
            return b, s, kept_b[0], kept_b[1], kept_b[2], kept_s[0]  # the runs themselves, person by person
        # a large population, or no event log: follow everyone in runs with the same seeds
        if not again:
            again.append((replication_scenarios(baseline.scenario, baseline.seed, len(baseline.seeds),
                                                fixed_parameters=baseline.fixed_parameters)[0],
                          replication_scenarios(scn, scenario.seed, len(scenario.seeds),
                                                fixed_parameters=scenario.fixed_parameters)[0]))
        seed = scenario.seeds[rep]
        b, (mb, stage_b, ui_b) = _follow_all(again[0][0][rep], seed)
        s, (ms, _, _) = _follow_all(again[0][1][rep], seed)
        return b, s, mb, stage_b, ui_b, ms

    for rep in range(len(scenario.seeds)):
        b, s, mb, stage_b, ui_b, ms = followed(rep)
        first = _starts(s, start, months, n_people)
        part = first >= 0
        # What is not booked per person (programme staff): the ledger minus everyone's postings.
        extra = ((net_of_cube(ledger_cube(s, start, months)) - ms.sum(axis=0))
                 - (net_of_cube(ledger_cube(b, start, months)) - mb.sum(axis=0)))  # [T, P]
        at = np.maximum(first, origin)  # the month a participant's situation is frozen at
        sums = _step_sums(mb, ms, stage_b, ui_b, part, at, weights)
        inv, inv_real = _investment(b, s, months)
        moved, moved_real = _spread(inv) - inv, _spread(inv_real[:, None])[:, 0] - inv_real
        for k, w in enumerate(weights):
            steps = list(sums[k])
            steps[0] = steps[0] + _total(extra, w)
            steps.append(sum(steps))
            for si, v in enumerate(steps):
                out[rep, :len(PAYERS), k, si] = v
                out[rep, len(PAYERS), k, si] = v.sum()
            written_off[rep, :len(PAYERS), k] = steps[0] + w @ moved
            written_off[rep, len(PAYERS), k] = steps[0].sum() + w @ moved_real
    return Bridge(horizons, out, written_off)


#: People whose bridge steps are worked out at once (each step's money is an array of people x
#: months x ten payers: 4,096 people over ten years, ~40 MB each).
BRIDGE_CHUNK = 4096


def _step_sums(mb: np.ndarray, ms: np.ndarray, stage_b: np.ndarray, ui_b: np.ndarray, part: np.ndarray,
               at: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """The first six steps of the bridge, summed over people for each horizon's weights:
    ``[horizon, step, payer]``, from everyone's money in the baseline and scenario runs (``mb``,
    ``ms``: ``[person, month, payer]``), baseline stage and UI flag, whether they took part, and
    the month each participant's situation is frozen at (``at``).

    A chunk of :data:`BRIDGE_CHUNK` people at a time (all at once, the steps' arrays of a national
    population would take tens of GB); a population of at most that many is one chunk, summed as
    before chunks were.
    """
    out = None
    for lo in range(0, part.size, BRIDGE_CHUNK):
        chunk = slice(lo, lo + BRIDGE_CHUNK)
        p, mbc, msc = part[chunk], mb[chunk], ms[chunk]
        who = np.flatnonzero(p) + lo
        frozen = mb[who, at[who]]  # [i, P]
        st0 = stage_b[who, at[who]]
        ui0 = ui_b[who, at[who]]
        pb, ps = mbc[p], msc[p]
        sb, ub = stage_b[chunk][p], ui_b[chunk][p]
        gap = frozen[:, None, :] - pb  # [i, t, P]: frozen minus the baseline run
        work = (sb == Stage.WORK) | (sb == Stage.STUDIES)
        other = sb == Stage.OTHER
        support = ~work & ~other & ((np.isin(sb, _OTHER_SUPPORT) & ~np.isin(st0, _OTHER_SUPPORT)[:, None])
                                    | (ub & ~ui0[:, None]))
        rest = ~work & ~other & ~support
        # each step's money per participant (or non-participant), month and payer
        parts = [ps - frozen[:, None, :], gap * work[..., None], gap * support[..., None],
                 gap * other[..., None], gap * rest[..., None], msc[~p] - mbc[~p]]
        sums = np.array([[_total(x, w) for x in parts] for w in weights])
        out = sums if out is None else out + sums
    return out if out is not None else np.zeros((len(weights), 6, mb.shape[2]))


def _total(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``[.., t, P] -> [P]``: the sum over everything but payers, month ``t`` weighted by ``w[t]``."""
    return np.einsum("itp,t->p", x.reshape(-1, *x.shape[-2:]), w)


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
