"""Break-even effect size: how good must a programme be for a payer to get its money back?

:func:`breakeven` searches a programme's effect parameter (by default
``completion_to_work_share``, the share of participants who move into ordinary work when
they complete the programme) for the value at which the **median over replications of a
payer's cumulative discounted saving at a horizon is zero**. Each evaluation is a paired
comparison with common random numbers against one baseline run (:mod:`sim.analysis.comparison`).

The search is a bisection on the sign of that median, assuming the saving grows with the
parameter (more people into work, or a stronger after-effect, never costs the payer more
in expectation). With a finite cohort the median is a step function of the parameter, so
the answer is a bracket no wider than ``tol``; the reported value is the bracket's end at
which the saving is >= 0 (the smallest value evaluated that pays back). If the saving is
negative even at the top of the range, the result says so (``status == "not_reachable"``)
instead of inventing a root.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from sim.analysis.comparison import ALL_PAYERS, cumulative_saving
from sim.runs.replications import Ensemble, replicate
from sim.scenario.dated import Param, parse_month
from sim.scenario.schema import Scenario

__all__ = ["breakeven", "BreakevenResult", "parse_horizon", "no_entry_baseline", "with_parameter",
           "PARAMETER_RANGES"]

#: Parameters the search can vary, with their default search ranges.
PARAMETER_RANGES: dict[str, tuple[float, float]] = {
    # a share: from nobody to everyone who completes
    "completion_to_work_share": (0.0, 1.0),
    # a hazard ratio after the programme: from no effect to tripling the job-finding rate,
    # well beyond the effects reported for such programmes (DOMAIN.md C)
    "effect_after_hazard_ratio": (1.0, 3.0),
}

Status = Literal["found", "pays_at_lower_bound", "not_reachable"]
_HORIZON = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(y|yr|yrs|year|years|m|mo|month|months)?\s*$", re.IGNORECASE)


def parse_horizon(text: str | int) -> int:
    """Months in a horizon written ``4y``, ``48m``, ``48`` (months), ``1.5y`` or ``18 months``.

    Raises:
        ValueError: if the text is not a positive whole number of months (at most 600).
    """
    if isinstance(text, bool):
        raise ValueError(f"expected a horizon such as '4y', '48m' or '48', got {text!r}")
    if isinstance(text, int):
        months = float(text)
    else:
        m = _HORIZON.match(str(text))
        if not m:
            raise ValueError(f"horizon {text!r} not understood: write months as '48' or '48m', "
                             "or years as '4y'")
        years = (m.group(2) or "m").lower().startswith("y")
        months = float(m.group(1)) * (12 if years else 1)
    if not months.is_integer():
        raise ValueError(f"horizon {text!r} is not a whole number of months")
    if not 1 <= months <= 600:
        raise ValueError(f"horizon {text!r} must be between 1 and 600 months")
    return int(months)


def no_entry_baseline(scenario: Scenario) -> Scenario:
    """``scenario`` with every programme's referral rate and staff cost set to 0.

    No one is referred, so no one waits or takes part; the staff cost is zeroed too, since
    the engine books staff for an open programme even when it is empty, and a cost present
    on both sides would cancel out of the comparison.
    """
    zero = Param.constant(0.0, source="break-even baseline: no one enters", status="assumed")
    progs = tuple(p.model_copy(update={"referral_rate_per_month": zero, "staff_cost_sek_per_month": zero,
                                       "cost_sek_per_staff_month": None})
                  for p in scenario.programmes)
    return scenario.model_copy(update={"name": f"{scenario.name}-no-entry", "programmes": progs, "goals": ()})


def with_parameter(scenario: Scenario, programme: str, parameter: str, value: float) -> Scenario:
    """``scenario`` with ``programme``'s ``parameter`` set to ``value`` at all months."""
    names = [p.name for p in scenario.programmes]
    if programme not in names:
        raise ValueError(f"scenario {scenario.name!r} has no programme {programme!r}; it has {', '.join(names)}")
    prm = Param.constant(float(value), source="break-even search", status="assumed")
    progs = tuple(p.model_copy(update={parameter: prm}) if p.name == programme else p
                  for p in scenario.programmes)
    return scenario.model_copy(update={"programmes": progs})


def _share_into_work(events: pd.DataFrame, programme: str, stage: str, start: int, horizon: int) -> tuple[float, int]:
    """Share of people admitted before the horizon who later moved into ordinary work within it."""
    if events.empty:
        return float("nan"), 0
    uniq, inv = np.unique(events["month"].to_numpy(), return_inverse=True)
    t = (np.array([parse_month(m) for m in uniq]) - start)[inv]
    person = events["person"].to_numpy()
    to = events["to_stage"].to_numpy()
    adm = ((events["from_stage"].to_numpy() == "waiting") & (to == stage)
           & (events["programme"].to_numpy() == programme) & (t < horizon - 1))
    first = pd.Series(t[adm]).groupby(person[adm]).min()
    if first.empty:
        return float("nan"), 0
    hit = (to == "work") & (t <= horizon - 1) & np.isin(person, first.index.to_numpy())
    ok = t[hit] > first.reindex(person[hit]).to_numpy()
    return np.unique(person[hit][ok]).size / len(first), int(len(first))


@dataclass
class BreakevenResult:
    """The outcome of :func:`breakeven`.

    Attributes:
        status: ``found`` (a value in the range where the median saving turns >= 0),
            ``pays_at_lower_bound`` (the saving is >= 0 already at the bottom of the range)
            or ``not_reachable`` (negative even at the top of the range).
        value: the break-even value (the lower bound for ``pays_at_lower_bound``); NaN when
            not reachable.
        bracket: ``(below, at_or_above)``: values with a negative and a non-negative saving.
        curve: one row per evaluated value, sorted: value, saving_p10/p50/p90 (SEK,
            cumulative discounted at the horizon), median participants, and
            share_of_participants_into_work (median share of participants who moved into
            ordinary work after starting, within the horizon).
        implied_share_into_work: that share at ``value`` (NaN when not reachable).
    """

    scenario: str
    baseline: str
    programme: str
    parameter: str
    payer: str
    horizon_months: int
    search_range: tuple[float, float]
    status: Status
    value: float
    bracket: tuple[float, float] | None
    current_value: float
    implied_share_into_work: float
    seed: int
    replications: int
    curve: pd.DataFrame = field(repr=False)

    @property
    def reachable(self) -> bool:
        """Whether the payer breaks even somewhere in the searched range."""
        return self.status != "not_reachable"

    def to_text(self) -> str:
        """A short terminal report: the saving curve and the verdict."""
        lo, hi = self.search_range
        head = (f"Break-even of {self.programme}.{self.parameter} for {self.payer} over {self.horizon_months} "
                f"months ({self.scenario} vs {self.baseline}; {self.replications} paired replications, "
                f"seed {self.seed})")
        lines = [head, f"{'value':>10}  {'median saving, MSEK (P10..P90)':>32}  {'participants':>12}  into work"]
        for r in self.curve.itertuples():
            mark = "  <- scenario" if math.isclose(r.value, self.current_value) else ""
            lines.append(f"{r.value:>10.4g}  {r.saving_p50 / 1e6:>+14.2f} ({r.saving_p10 / 1e6:+.2f}.."
                         f"{r.saving_p90 / 1e6:+.2f})  {r.participants:>12.0f}  "
                         f"{_pct(r.share_of_participants_into_work)}{mark}")
        top = self.curve.iloc[-1]
        if self.status == "not_reachable":
            lines.append(f"Not reachable: even at {self.parameter} = {hi:g} the median saving of {self.payer} after "
                         f"{self.horizon_months} months is {top.saving_p50 / 1e6:+.2f} MSEK.")
        elif self.status == "pays_at_lower_bound":
            lines.append(f"{self.payer} breaks even already at {self.parameter} = {lo:g} (the bottom of the range).")
        else:
            assert self.bracket is not None
            lines.append(f"{self.payer} breaks even at {self.parameter} = {self.value:.4g} (between "
                         f"{self.bracket[0]:.4g} and {self.bracket[1]:.4g}); then "
                         f"{_pct(self.implied_share_into_work)} of participants move into ordinary work within "
                         f"{self.horizon_months} months.")
        return "\n".join(lines)


def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.0%}"


def _pick_programme(scenario: Scenario, programme: str | None) -> str:
    names = [p.name for p in scenario.programmes]
    if programme is not None:
        if programme not in names:
            raise ValueError(f"scenario {scenario.name!r} has no programme {programme!r}; "
                             f"it has {', '.join(names) or 'none'}")
        return programme
    if len(names) == 1:
        return names[0]
    if not names:
        raise ValueError(f"scenario {scenario.name!r} has no programme to search")
    raise ValueError(f"scenario {scenario.name!r} has several programmes ({', '.join(names)}); name one")


def breakeven(scenario_path_or_obj: Scenario | str | os.PathLike[str], *, payer: str = "municipality",
              horizon_months: int | str = 48, programme: str | None = None,
              parameter: str = "completion_to_work_share", baseline: Scenario | None = None, seed: int = 0,
              replications: int = 10, tol: float | None = None,
              search_range: tuple[float, float] | None = None, max_evaluations: int = 30,
              overrides: Sequence[str] = (), workers: int = 1,
              progress: Callable[[int], None] | None = None) -> BreakevenResult:
    """Find the value of a programme's effect parameter at which ``payer`` breaks even.

    Args:
        scenario_path_or_obj: a scenario, or a scenario file (loaded with ``overrides``).
        payer: one of :data:`sim.analysis.comparison.ALL_PAYERS` (``society`` included).
        horizon_months: months (or text for :func:`parse_horizon`, e.g. ``"4y"``); at most the
            scenario's horizon.
        programme: the programme to vary (default: the only one).
        parameter: a key of :data:`PARAMETER_RANGES`.
        baseline: default :func:`no_entry_baseline` of the scenario.
        tol: stop when the bracket is narrower (default: 1/200 of the range).
        search_range: ``(low, high)`` instead of the parameter's default range.
        max_evaluations: a cap on scenario ensembles run (each ``replications`` runs).
        workers, progress: as for :func:`sim.runs.replications.replicate` (progress gets 1 per run).

    Raises:
        ValueError: bad payer, parameter, range, horizon or programme.
    """
    if isinstance(scenario_path_or_obj, Scenario):
        scenario = scenario_path_or_obj
    else:
        from sim.scenario.load import load_scenario

        scenario = load_scenario(scenario_path_or_obj, overrides)
    if payer not in ALL_PAYERS:
        raise ValueError(f"unknown payer {payer!r}; choose one of {', '.join(ALL_PAYERS)}")
    if parameter not in PARAMETER_RANGES:
        raise ValueError(f"cannot search {parameter!r}; choose one of {', '.join(PARAMETER_RANGES)}")
    horizon = parse_horizon(horizon_months)
    if horizon > scenario.horizon_months:
        raise ValueError(f"horizon {horizon} months is beyond the scenario's {scenario.horizon_months} months")
    name = _pick_programme(scenario, programme)
    if search_range is None and parameter not in PARAMETER_RANGES:
        raise ValueError(f"--parameter {parameter!r}: one of {', '.join(sorted(PARAMETER_RANGES))}")
    lo, hi = search_range if search_range is not None else PARAMETER_RANGES[parameter]
    bound = (0.0, 1.0) if parameter.endswith("_share") else (0.0, 100.0)
    if not bound[0] <= lo < hi <= bound[1]:
        raise ValueError(f"search range ({lo}, {hi}) must be increasing and within {bound} for {parameter}")
    tol = (hi - lo) / 200 if tol is None else float(tol)
    if tol <= 0:
        raise ValueError("tol must be > 0")
    base_scn = no_entry_baseline(scenario) if baseline is None else baseline
    base = replicate(base_scn, seed, replications, workers=workers, record_events=False, progress=progress)
    stage = scenario.programme(name).stage.label
    cache: dict[float, dict[str, float]] = {}

    def evaluate(v: float) -> float:
        v = float(v)
        if v not in cache:
            ens: Ensemble = replicate(with_parameter(scenario, name, parameter, v), seed, replications,
                                      workers=workers, record_events=True, progress=progress)
            saving = cumulative_saving(base, ens, payer, horizon)
            into = [_share_into_work(r.tables["events"], name, stage, scenario.start_month, horizon)
                    for r in ens.results]
            shares = np.array([s for s, _ in into])
            q = np.quantile(saving, (0.1, 0.5, 0.9))
            cache[v] = {"value": v, "saving_p10": float(q[0]), "saving_p50": float(q[1]),
                        "saving_p90": float(q[2]), "participants": float(np.median([n for _, n in into])),
                        "share_of_participants_into_work": float(np.nanmedian(shares))
                        if np.isfinite(shares).any() else float("nan")}
        return cache[v]["saving_p50"]

    current = float(getattr(scenario.programme(name), parameter).at(scenario.start_month))
    if lo <= current <= hi:
        evaluate(current)
    f_lo, f_hi = evaluate(lo), evaluate(hi)
    bracket: tuple[float, float] | None = None
    if f_lo >= 0:
        status: Status = "pays_at_lower_bound"
        value = lo
    elif f_hi < 0:
        status, value = "not_reachable", float("nan")
    else:
        status = "found"
        a, b = lo, hi
        while b - a > tol and len(cache) < max_evaluations:
            mid = 0.5 * (a + b)
            if evaluate(mid) >= 0:
                b = mid
            else:
                a = mid
        bracket, value = (a, b), b
    curve = pd.DataFrame(sorted(cache.values(), key=lambda r: r["value"]))
    implied = cache[value]["share_of_participants_into_work"] if np.isfinite(value) else float("nan")
    return BreakevenResult(
        scenario=scenario.name, baseline=base_scn.name, programme=name, parameter=parameter, payer=payer,
        horizon_months=horizon, search_range=(float(lo), float(hi)), status=status, value=float(value),
        bracket=bracket, current_value=current, implied_share_into_work=float(implied), seed=seed,
        replications=replications, curve=curve)

