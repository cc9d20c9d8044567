"""Break-even on any lever: at what value of a scenario parameter does a payer get its money back?

:func:`breakeven` varies one numeric scenario value, named by its dotted path (a programme's
``completion_to_work_share``, an in-programme exit rate ``programmes.X.exit_rates_per_month.work``,
a wage, a subsidy share, places ``programmes.X.capacity.slots``, ...), and finds where the
**median over replications of the payer's cumulative discounted saving at a horizon** (counted
from the programme's start) crosses zero. Each evaluation is a paired comparison with common
random numbers against one reference run: by default the same scenario in which no one is
referred and no staff are paid (the programme's people without the programme), or a baseline
the caller gives.

The search does not assume a direction: it evaluates a grid over the range, finds where the
median changes sign and bisects that bracket. If the median keeps one sign over the whole range,
the answer is "does not break even within the range" (or "breaks even over the whole range"),
not an error. Every replication's own crossing is read off the evaluated curve (common random
numbers make each replication's saving a function of the value), so the result carries an
interval over replications, and the value is printed with no more digits than that interval
supports.
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
from sim.runs.run_statistics import first_starts, month_indices, reaching
from sim.scenario.dated import Param
from sim.scenario.schema import Scenario

__all__ = ["breakeven", "BreakevenResult", "parse_horizon", "no_entry_baseline", "with_parameter",
           "PARAMETER_RANGES"]

#: Default search ranges of a programme's effect parameters (other paths need ``search_range``
#: unless they are shares, searched over 0..1, or monthly rates, over :data:`MONTHLY_RATE_RANGE`).
PARAMETER_RANGES: dict[str, tuple[float, float]] = {
    # a share: from nobody to everyone who completes
    "completion_to_work_share": (0.0, 1.0),
    # a hazard ratio after the programme: from no effect to tripling the job-finding rate,
    # well beyond the effects reported for such programmes (DOMAIN.md C)
    "effect_after_hazard_ratio": (1.0, 3.0),
}
#: Default search range of monthly rates (exit rates, transitions, referral rates).
MONTHLY_RATE_RANGE = (0.0, 0.5)
#: Points evaluated across the range before bisecting (ends included).
GRID_POINTS = 7

Status = Literal["found", "pays_over_range", "not_reachable"]
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


def resolve_path(scenario: Scenario, parameter: str, programme: str | None = None) -> str:
    """The dotted path of ``parameter``: as given if it has a dot, else the named (or only)
    programme's key (``completion_to_work_share`` -> ``programmes.c2.completion_to_work_share``)."""
    if "." in parameter:
        return parameter
    return f"programmes.{_pick_programme(scenario, programme)}.{parameter}"


def current_value(scenario: Scenario, path: str) -> float:
    """The number at ``path`` in ``scenario`` (the first value of a dated parameter).

    Raises:
        ValueError: if the path does not exist or holds no number.
    """
    from sim.scenario.paths import get_value

    try:
        return float(get_value(scenario.model_dump(mode="json"), path))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"--parameter {path}: {exc.args[0] if exc.args else exc}") from None


def with_parameter(scenario: Scenario, path: str, value: float) -> Scenario:
    """``scenario`` with the value at ``path`` set to ``value`` at all months (validated again).

    Raises:
        ValueError: if the value is out of the parameter's bounds.
    """
    from sim.scenario.errors import ScenarioError
    from sim.scenario.paths import with_values

    v = int(round(value)) if _is_count(path) else float(value)
    try:
        out = with_values(scenario, {path: v}, source="break-even search", status="assumed")
    except ScenarioError as exc:
        raise ValueError(f"{path} = {v}: {exc}") from None
    return out.model_copy(update={"name": scenario.name})


def _is_count(path: str) -> bool:
    return path.endswith((".slots", ".staff", "_months", ".size"))


def _share_into_work(events: pd.DataFrame, programme: str, start: int, horizon: int) -> tuple[float, int]:
    """Share of people admitted before the horizon who later moved into ordinary work within it."""
    if events.empty:
        return float("nan"), 0
    t = month_indices(events["month"].to_numpy(), start)
    first = first_starts(events, t, programme)
    first = first[first < horizon - 1]
    if first.empty:
        return float("nan"), 0
    return reaching(events, t, first, ("work",), horizon - 1) / len(first), int(len(first))


@dataclass
class BreakevenResult:
    """The outcome of :func:`breakeven`.

    Attributes:
        status: ``found`` (the median saving changes sign within the range),
            ``pays_over_range`` (it is >= 0 over the whole range) or ``not_reachable``
            (negative over the whole range: no break-even within the range).
        value: the break-even value (NaN unless found): the evaluated value nearest the
            crossing on the side where the payer breaks even.
        bracket: ``(a, b)``: adjacent evaluated values with savings of opposite sign.
        interval: P10 and P90 over replications of each replication's own crossing (NaN where
            too few replications cross within the range); ``crossing_share`` is the share that do.
        curve: one row per evaluated value, sorted: value, saving_p10/p50/p90 (SEK,
            cumulative discounted at the horizon from the programme's start), median
            participants and share_of_participants_into_work.
        reference: how the reference run was made (printed with the result).
    """

    scenario: str
    baseline: str
    path: str
    payer: str
    horizon_months: int
    search_range: tuple[float, float]
    status: Status
    value: float
    bracket: tuple[float, float] | None
    interval: tuple[float, float]
    crossing_share: float
    current_value: float
    implied_share_into_work: float
    seed: int
    replications: int
    reference: str
    curve: pd.DataFrame = field(repr=False)

    @property
    def reachable(self) -> bool:
        """Whether the payer breaks even somewhere in the searched range."""
        return self.status != "not_reachable"

    @property
    def parameter(self) -> str:
        """The last part of the path (e.g. ``completion_to_work_share``)."""
        return self.path.rsplit(".", 1)[-1]

    def digits(self) -> int:
        """Decimals that the interval over replications supports (one significant digit of its width)."""
        lo, hi = self.interval
        width = hi - lo if np.isfinite(lo) and np.isfinite(hi) else (self.search_range[1] - self.search_range[0])
        if width <= 0:
            width = (self.search_range[1] - self.search_range[0]) / 100
        return max(0, int(-math.floor(math.log10(width))))

    def to_text(self) -> str:
        """A short terminal report: the reference, the saving curve and the verdict."""
        lo, hi = self.search_range
        d = self.digits()
        head = (f"Break-even of {self.path} for {self.payer} over {self.horizon_months} months from the programme's "
                f"start ({self.scenario}; {self.replications} paired replications, seed {self.seed})")
        lines = [head, f"Reference run: {self.reference}",
                 f"{'value':>10}  {'median saving, MSEK (P10..P90)':>32}  {'participants':>12}  into work"]
        for r in self.curve.itertuples():
            mark = "  <- scenario" if math.isclose(r.value, self.current_value) else ""
            lines.append(f"{_number(r.value):>10}  {r.saving_p50 / 1e6:>+14.2f} ({r.saving_p10 / 1e6:+.2f}.."
                         f"{r.saving_p90 / 1e6:+.2f})  {r.participants:>12.0f}  "
                         f"{_pct(r.share_of_participants_into_work)}{mark}")
        if self.status == "not_reachable":
            lines.append(f"Does not break even within the range {_number(lo)}..{_number(hi)}: the median saving "
                         f"of {self.payer} after {self.horizon_months} months stays negative (best: "
                         f"{self.curve['saving_p50'].max() / 1e6:+.2f} MSEK).")
        elif self.status == "pays_over_range":
            lines.append(f"{self.payer} breaks even over the whole range {_number(lo)}..{_number(hi)} (the median "
                         f"saving is >= 0 everywhere; worst {self.curve['saving_p50'].min() / 1e6:+.2f} MSEK).")
        else:
            assert self.bracket is not None
            a, b = self.interval
            spread = (f"P10..P90 over replications {a:.{d}f}..{b:.{d}f}" if np.isfinite(a) and np.isfinite(b)
                      else f"only {self.crossing_share:.0%} of replications cross within the range")
            lines.append(f"{self.payer} breaks even at {self.parameter} = {self.value:.{d}f} ({spread}); "
                         f"there {_pct(self.implied_share_into_work)} of participants move into ordinary work "
                         f"within {self.horizon_months} months.")
        return "\n".join(lines)


def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.0%}"


def _number(x: float) -> str:
    """A searched value as a reader writes it: ``15,685`` for a wage (never ``1.568e+04``), ``0.1667``."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


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


def _default_range(path: str, current: float) -> tuple[float, float]:
    key = path.rsplit(".", 1)[-1]
    if key in PARAMETER_RANGES:
        return PARAMETER_RANGES[key]
    if "share" in key:
        return (0.0, 1.0)
    if ".exit_rates_per_month." in path or path.startswith("transitions.") or key.endswith("rate_per_month"):
        # a monthly rate: from nobody to half the people leaving (or referred) in a month,
        # far beyond the rates the seeds report (a few per cent a month)
        return MONTHLY_RATE_RANGE
    raise ValueError(f"give a search range for {path} (e.g. --range {0:g},{max(2 * current, 1):g})")


def _crossings(values: np.ndarray, savings: np.ndarray) -> np.ndarray:
    """Each replication's crossing of zero along the evaluated values (linear between the two
    evaluated values around its first sign change; NaN if it does not change sign)."""
    out = np.full(savings.shape[1], np.nan)
    for j in range(savings.shape[1]):
        s = savings[:, j]
        change = np.flatnonzero(np.sign(s[:-1]) != np.sign(s[1:]))
        if change.size:
            i = change[0]
            x0, x1, y0, y1 = values[i], values[i + 1], s[i], s[i + 1]
            out[j] = x0 if y1 == y0 else x0 + (x1 - x0) * (-y0) / (y1 - y0)
    return out


def breakeven(scenario_path_or_obj: Scenario | str | os.PathLike[str], *, payer: str = "municipality",
              horizon_months: int | str = 48, programme: str | None = None,
              parameter: str = "completion_to_work_share", baseline: Scenario | None = None, seed: int = 0,
              replications: int = 10, tol: float | None = None,
              search_range: tuple[float, float] | None = None, max_evaluations: int = 30,
              overrides: Sequence[str] = (), workers: int = 1,
              progress: Callable[[int], None] | None = None, fixed_parameters: bool = False) -> BreakevenResult:
    """Find the value of a scenario parameter at which ``payer`` breaks even.

    Args:
        scenario_path_or_obj: a scenario, or a scenario file (loaded with ``overrides``).
        payer: one of :data:`sim.analysis.comparison.ALL_PAYERS` (``society`` included).
        horizon_months: months from the programme's start (or text for :func:`parse_horizon`,
            e.g. ``"4y"``).
        programme: the programme of a bare parameter name (default: the only one).
        parameter: a dotted path into the scenario (``programmes.c2.exit_rates_per_month.work``),
            or a programme key such as ``completion_to_work_share``.
        baseline: the reference scenario (default :func:`no_entry_baseline` of the scenario).
        tol: stop bisecting when the bracket is narrower (default: 1/200 of the range).
        search_range: ``(low, high)``; needed for paths that are neither shares nor in
            :data:`PARAMETER_RANGES`.
        max_evaluations: a cap on scenario ensembles run (each ``replications`` runs).
        workers, progress: as for :func:`sim.runs.replications.replicate` (progress gets 1 per run).
        fixed_parameters: keep the calibrated defaults' written values instead of drawing them
            per replication (the same draw for the baseline and every evaluation otherwise).

    Raises:
        ValueError: bad payer, path, range, horizon or programme.
    """
    from sim.analysis.comparison_math import programme_start

    if isinstance(scenario_path_or_obj, Scenario):
        scenario = scenario_path_or_obj
    else:
        from sim.scenario.load import load_scenario

        scenario = load_scenario(scenario_path_or_obj, overrides)
    if payer not in ALL_PAYERS:
        raise ValueError(f"unknown payer {payer!r}; choose one of {', '.join(ALL_PAYERS)}")
    path = resolve_path(scenario, parameter, programme)
    current = current_value(scenario, path)
    horizon = parse_horizon(horizon_months)
    window = scenario.start_month + scenario.horizon_months - programme_start(scenario)
    if horizon > window:
        raise ValueError(f"horizon {horizon} months is beyond the {window} months from the programme's start "
                         "to the end of the scenario")
    lo, hi = search_range if search_range is not None else _default_range(path, current)
    if not lo < hi:
        raise ValueError(f"search range ({lo}, {hi}) must be increasing")
    with_parameter(scenario, path, lo)  # a range outside the parameter's bounds fails here, before any run
    with_parameter(scenario, path, hi)
    tol = (hi - lo) / 200 if tol is None else float(tol)
    if tol <= 0:
        raise ValueError("tol must be > 0")
    if baseline is None:
        base_scn = no_entry_baseline(scenario)
        reference = (f"{base_scn.name}: the same people and rules with no one referred to any programme and no "
                     "programme staff paid (the programme's people without the programme)")
    else:
        base_scn = baseline
        reference = f"{base_scn.name}: the baseline given"
    base = replicate(base_scn, seed, replications, workers=workers, record_events=False, progress=progress,
                     fixed_parameters=fixed_parameters)
    names = [p.name for p in scenario.programmes]
    prog = path.split(".")[1] if path.startswith("programmes.") and path.split(".")[1] in names else \
        (names[0] if len(names) == 1 else None)
    cache: dict[float, dict[str, object]] = {}

    def evaluate(v: float) -> float:
        v = float(v)
        if v not in cache:
            ens: Ensemble = replicate(with_parameter(scenario, path, v), seed, replications,
                                      workers=workers, record_events=prog is not None, progress=progress,
                                      fixed_parameters=fixed_parameters)
            saving = cumulative_saving(base, ens, payer, horizon)
            into = ([_share_into_work(r.tables["events"], prog, programme_start(scenario), horizon)
                     for r in ens.results] if prog else [(float("nan"), 0)] * len(ens.results))
            shares = np.array([s for s, _ in into])
            q = np.quantile(saving, (0.1, 0.5, 0.9))
            cache[v] = {"value": v, "saving_p10": float(q[0]), "saving_p50": float(q[1]),
                        "saving_p90": float(q[2]), "participants": float(np.median([n for _, n in into])),
                        "share_of_participants_into_work": float(np.nanmedian(shares))
                        if np.isfinite(shares).any() else float("nan"), "savings": saving}
        return float(cache[v]["saving_p50"])

    grid = np.linspace(lo, hi, GRID_POINTS)
    if _is_count(path):
        grid = np.unique(np.round(grid))
    f = [evaluate(v) for v in grid]
    if lo <= current <= hi:
        evaluate(current)
    bracket: tuple[float, float] | None = None
    sign = np.sign(np.array(f)) >= 0
    change = np.flatnonzero(sign[:-1] != sign[1:])
    if not change.size:
        status: Status = "pays_over_range" if sign.all() else "not_reachable"
        value = float("nan")
    else:
        status = "found"
        i = int(change[0])
        a, b = float(grid[i]), float(grid[i + 1])
        a_pays = evaluate(a) >= 0
        while b - a > tol and len(cache) < max_evaluations:
            mid = 0.5 * (a + b)
            if _is_count(path):
                mid = float(round(mid))
                if mid in (a, b):
                    break
            if (evaluate(mid) >= 0) == a_pays:
                a = mid
            else:
                b = mid
        bracket = (a, b)
        value = a if a_pays else b
    values = np.array(sorted(cache))
    savings = np.stack([cache[v]["savings"] for v in values])
    roots = _crossings(values, savings)
    crossed = float(np.mean(np.isfinite(roots)))
    interval = ((float(np.nanquantile(roots, 0.1)), float(np.nanquantile(roots, 0.9)))
                if status == "found" and crossed >= 0.8 else (float("nan"), float("nan")))
    curve = pd.DataFrame([{k: v for k, v in cache[x].items() if k != "savings"} for x in values])
    implied = float(cache[value]["share_of_participants_into_work"]) if np.isfinite(value) else float("nan")
    return BreakevenResult(
        scenario=scenario.name, baseline=base_scn.name, path=path, payer=payer, horizon_months=horizon,
        search_range=(float(lo), float(hi)), status=status, value=float(value), bracket=bracket,
        interval=interval, crossing_share=crossed, current_value=current, implied_share_into_work=implied,
        seed=seed, replications=replications, reference=reference, curve=curve)
