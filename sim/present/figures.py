"""Figures of comparison tables (the only module that imports matplotlib and seaborn).

Every function takes result tables (pandas frames from :mod:`sim.analysis.comparison`) and returns a
:class:`matplotlib.figure.Figure` built directly, without pyplot: no global figure
registry, no interactive backend, nothing to close. Seaborn supplies the style (applied
only while the figure is drawn) and the palette. Save with ``fig.savefig(path_or_buffer)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

__all__ = ["stock_bands_figure", "cumulative_saving_figure", "who_pays_figure", "PAYER_LABELS",
           "STAGE_LABELS"]

#: Plain names of the payers, for figures and reports.
PAYER_LABELS = {
    "municipality": "Municipality",
    "arbetsformedlingen": "Arbetsförmedlingen",
    "forsakringskassan": "Försäkringskassan",
    "state": "State (UI, employer fees)",
    "region": "Region",
    "individual": "Participants (households)",
    "employer": "Employers",
    "public": "Users of municipal services (value of work by extra staff)",
    "samordningsforbund": "Samordningsförbund (Finsam)",
    "esf": "European Social Fund",
    "society": "Society as a whole",
}
#: Plain names of the stages.
STAGE_LABELS = {
    "open": "Open unemployment", "job": "Job guarantee (phases 1-2)", "waiting": "Waiting for a place",
    "coaching": "Coaching", "training": "Work training", "education": "Education (measure)",
    "subsidised": "Subsidised job", "fas3": "Fas 3", "work": "Ordinary work", "studies": "Regular studies",
    "other": "Other (sick, parental leave, moved, pension)",
}
_STYLE = "whitegrid"
_CONTEXT = "notebook"


def _palette(names: Sequence[str], *, skip_first: bool = False) -> dict[str, tuple[float, float, float]]:
    """One colour per name; ``skip_first`` leaves the first colour to the baseline, which tables of
    savings do not contain, so a scenario has the same colour in every figure."""
    colours = sns.color_palette("colorblind", len(names) + 1)
    return dict(zip(names, colours[1:] if skip_first else colours, strict=False))


def _date_axis(ax: object) -> None:
    locator = AutoDateLocator(minticks=3, maxticks=6)
    ax.xaxis.set_major_locator(locator)  # type: ignore[attr-defined]
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[attr-defined]


def _grid(n: int, ncols: int, width: float = 4.2, height: float = 2.8) -> tuple[Figure, list]:
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig = Figure(figsize=(width * ncols, height * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _dates(months: pd.Series) -> pd.Series:
    return pd.to_datetime(months.astype(str), format="%Y-%m")


def stock_bands_figure(stock_bands: pd.DataFrame, stages: Sequence[str] | None = None, *,
                       ncols: int = 3) -> Figure:
    """People per stage over time: median lines with P10-P90 bands, one colour per scenario.

    Args:
        stock_bands: ``scenario, month, stage, p10, p50, p90`` (a comparison's ``stock_bands``).
        stages: the stages to draw, one panel each (default: every stage with people in it).

    Returns:
        A figure with one axes per stage and, in each, one line per scenario.
    """
    if stages is None:
        has = stock_bands.groupby("stage", sort=False)["p90"].max()
        stages = [s for s in STAGE_LABELS if has.get(s, 0) > 0]
    stages = list(stages)
    if not stages:
        raise ValueError("no stages to draw")
    scenarios = list(dict.fromkeys(stock_bands["scenario"]))
    colours = _palette(scenarios)
    with sns.axes_style(_STYLE), sns.plotting_context(_CONTEXT, font_scale=0.8):
        fig, axes = _grid(len(stages), ncols)
        for ax, stage in zip(axes, stages, strict=True):
            d = stock_bands[stock_bands["stage"] == stage]
            for scn in scenarios:
                s = d[d["scenario"] == scn].sort_values("month")
                x = _dates(s["month"])
                ax.fill_between(x, s["p10"], s["p90"], color=colours[scn], alpha=0.2, linewidth=0)
                ax.plot(x, s["p50"], color=colours[scn], label=scn, linewidth=1.6)
            ax.set_title(STAGE_LABELS.get(stage, stage))
            _date_axis(ax)
            ax.set_ylabel("people")
            ax.set_ylim(bottom=0)
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=min(len(scenarios), 4),
                   frameon=False)
        fig.suptitle("People by stage: median and P10-P90 over replications")
    return fig


def cumulative_saving_figure(money: pd.DataFrame, payers: Sequence[str] | None = None, *,
                             ncols: int = 4) -> Figure:
    """Cumulative discounted saving per payer over time: median and P10-P90 band, per scenario.

    Args:
        money: a comparison's ``money`` table.
        payers: the payers to draw, one panel each (default: every payer whose saving is not
            always zero, society last).

    Returns:
        A figure with one axes per payer and, in each, one line per scenario (in MSEK).
    """
    col = "cumulative_saving_discounted_sek"
    if payers is None:
        nonzero = money.groupby("payer", sort=False)[col].agg(lambda v: bool(np.any(v != 0)))
        payers = [p for p in PAYER_LABELS if nonzero.get(p, False)] or ["society"]
    payers = list(payers)
    q = (money[money["payer"].isin(payers)].groupby(["scenario", "payer", "month"], sort=True)[col]
         .quantile([0.1, 0.5, 0.9]).unstack() / 1e6)
    scenarios = list(dict.fromkeys(money["scenario"]))
    colours = _palette(scenarios, skip_first=True)
    with sns.axes_style(_STYLE), sns.plotting_context(_CONTEXT, font_scale=0.8):
        fig, axes = _grid(len(payers), ncols, width=3.6)
        for ax, payer in zip(axes, payers, strict=True):
            for scn in scenarios:
                try:
                    s = q.loc[(scn, payer)]
                except KeyError:
                    continue
                x = _dates(pd.Series(s.index))
                ax.fill_between(x, s[0.1].to_numpy(), s[0.9].to_numpy(), color=colours[scn], alpha=0.2, linewidth=0)
                ax.plot(x, s[0.5].to_numpy(), color=colours[scn], label=scn, linewidth=1.6)
            ax.axhline(0, color="0.3", linewidth=0.8, zorder=0)
            ax.set_title(PAYER_LABELS.get(payer, payer))
            _date_axis(ax)
            ax.set_ylabel("MSEK")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=min(len(scenarios), 4),
                   frameon=False)
        fig.suptitle("Cumulative discounted saving vs the baseline (+ saves, - pays)")
    return fig


def who_pays_figure(headline: pd.DataFrame, horizon: int) -> Figure:
    """Net discounted saving per payer at ``horizon`` months: bars at the median, P10-P90 error bars.

    With one scenario bars are green where the payer saves and red where it pays; with
    several, bars are grouped and coloured by scenario.

    Raises:
        ValueError: if the headline has no savings at ``horizon``.
    """
    d = headline[(headline["metric"] == "net_saving_discounted_sek") & (headline["horizon_months"] == horizon)]
    if d.empty:
        have = sorted(headline.loc[headline["metric"] == "net_saving_discounted_sek", "horizon_months"].unique())
        raise ValueError(f"no savings at {horizon} months in the headline table; horizons: {have}")
    payers = [p for p in PAYER_LABELS if p in set(d["payer"])]
    scenarios = list(dict.fromkeys(d["scenario"]))
    colours = _palette(scenarios, skip_first=True)
    k = len(scenarios)
    height = 0.8 / k
    with sns.axes_style(_STYLE), sns.plotting_context(_CONTEXT, font_scale=0.85):
        fig = Figure(figsize=(7.5, 0.55 * len(payers) * max(1, k * 0.7) + 1.4), layout="constrained")
        ax = fig.subplots()
        y = np.arange(len(payers))[::-1].astype(float)
        for i, scn in enumerate(scenarios):
            s = d[d["scenario"] == scn].set_index("payer").reindex(payers)
            mid, lo, hi = (s[c].to_numpy() / 1e6 for c in ("p50", "p10", "p90"))
            pos = y + (k - 1) * height / 2 - i * height
            colour = (np.where(mid >= 0, "#2e8b57", "#c0392b").tolist() if k == 1 else colours[scn])
            err = np.vstack([np.maximum(mid - lo, 0), np.maximum(hi - mid, 0)])
            ax.barh(pos, mid, height=height * 0.9, color=colour, label=scn,
                    xerr=err, error_kw={"ecolor": "0.25", "capsize": 3, "linewidth": 1})
        ax.set_yticks(y, [PAYER_LABELS[p] for p in payers])
        ax.axvline(0, color="0.2", linewidth=0.9)
        ax.set_xlabel("MSEK, discounted (negative = pays, positive = saves)")
        years = f"{horizon // 12} years" if horizon % 12 == 0 else f"{horizon} months"
        ax.set_title(f"Who pays, who saves after {years} (median, P10-P90)")
        if k > 1:
            fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=min(k, 3), frameon=False)
    return fig
