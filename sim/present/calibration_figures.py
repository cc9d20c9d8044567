"""Figures for calibration and sensitivity: functions of result tables that return a figure.

They build :class:`matplotlib.figure.Figure` objects directly (no pyplot state, Agg canvas),
so they run headless and change no global option. Margins are fixed in inches, worked out from
the labels' lengths (as the report's figures do, :mod:`sim.present.figures`), not by a layout
engine: constrained layout measured every text on each draw and took about half of
``savefig``'s time.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

__all__ = ["fit_figure", "posterior_figure", "sensitivity_figure"]

_POST, _WRITTEN, _REPORTED = "#1f77b4", "#9e9e9e", "#d62728"


# Rough text sizes for margins fixed in advance (no text is measured): a character of DejaVu
# Sans averages about 0.58 em; a line of text is about 1.2 em high.
_EM = 0.58 / 72
_LINE = 1.2 / 72
_TICK_PT = 10.0  # matplotlib's default tick label and axis label size (rc font.size)
_PAD = 0.08  # inches around a group of texts


def _text_width(text: str, points: float) -> float:
    """About how wide ``text`` is, in inches, at ``points``."""
    return len(text) * points * _EM


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="none")
    FigureCanvasAgg(fig)
    return fig


def _axes_grid(fig: Figure, rows: int, cols: int, *, left: float, right: float, top: float, bottom: float,
               wgap: float = 0.0, hgap: float = 0.0, height_ratios: list[float] | None = None) -> np.ndarray:
    """``rows`` x ``cols`` axes with margins and gaps given in inches (a 2-d array of axes)."""
    width, height = fig.get_size_inches()
    w = max((width - left - right - (cols - 1) * wgap) / cols, 0.1)
    h = max((height - top - bottom - (rows - 1) * hgap) / rows, 0.1)
    return fig.subplots(rows, cols, squeeze=False, gridspec_kw={
        "left": left / width, "right": 1 - right / width, "top": 1 - top / height, "bottom": bottom / height,
        "wspace": wgap / w, "hspace": hgap / h, "height_ratios": height_ratios})


def fit_figure(summary: pd.DataFrame, title: str = "") -> Figure:
    """Reported value vs simulated median and 90 % interval, one row per target category.

    Args:
        summary: the fit summary (:func:`sim.present.calibration_report.target_summary`): ``label, unit,
            reported, post_q05, post_median, post_q95, written_q05, written_median, written_q95``.
    """
    units = list(dict.fromkeys(summary["unit"]))
    heights = [max(1.0, 0.32 * (summary["unit"] == u).sum()) for u in units]
    fig = _figure(8.0, 1.2 + sum(heights))
    tick_row = _TICK_PT * _LINE + 3.5 / 72  # tick marks and their labels below an axes
    legend = 7 * _LINE + 2 * _PAD
    axes = _axes_grid(fig, len(units), 1, height_ratios=heights,
                      left=_PAD + 3.5 / 72 + max(_text_width(str(x), _TICK_PT) for x in summary["label"]),
                      right=0.25, top=(10 * _LINE + 2 * _PAD) if title else _PAD + 0.1,
                      bottom=legend + tick_row + _TICK_PT * _LINE + _PAD,
                      hgap=tick_row + _TICK_PT * _LINE + 2 * _PAD)[:, 0]
    for ax, unit in zip(axes, units, strict=True):
        rows = summary[summary["unit"] == unit].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        for prefix, colour, dy, label in (("written", _WRITTEN, -0.18, "as written"),
                                          ("post", _POST, 0.18, "posterior")):
            if f"{prefix}_median" not in rows or rows[f"{prefix}_median"].isna().all():
                continue
            med = rows[f"{prefix}_median"].to_numpy(float)
            lo = med - rows[f"{prefix}_q05"].to_numpy(float)
            hi = rows[f"{prefix}_q95"].to_numpy(float) - med
            ax.errorbar(med, y + dy, xerr=[lo, hi], fmt="o", color=colour, ms=4, capsize=2, lw=1.5,
                        label=f"{label}: median, 90 % interval")
        ax.scatter(rows["reported"].to_numpy(float), y, marker="D", color=_REPORTED, zorder=3, s=28, label="reported")
        ax.set_yticks(y, rows["label"])
        ax.set_xlabel(unit)
        ax.grid(axis="x", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=3, fontsize=7, frameon=False, borderaxespad=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def posterior_figure(population: pd.DataFrame, priors: Mapping[str, tuple[float, float, str]],
                     as_written: Mapping[str, float]) -> Figure:
    """Weighted histograms of the last ABC population, on each prior's range.

    Args:
        population: one column per parameter and ``weight``.
        priors: name -> (low, high, distribution).
        as_written: name -> the scenario's value (1 for scale parameters).
    """
    names = list(priors)
    cols = 4 if len(names) > 4 else max(len(names), 1)
    rows = int(np.ceil(len(names) / cols))
    fig = _figure(2.3 * cols, 1.9 * rows + 0.3)
    title, ticks = 8 * _LINE + 4 / 72, 7 * _LINE + 3.5 / 72 + 3.5 / 72  # a panel's title; its x tick labels
    axes = _axes_grid(fig, rows, cols, left=_PAD, right=_PAD + 0.05, top=9 * _LINE + 2 * _PAD + title,
                      bottom=ticks + _PAD, wgap=2 * _PAD, hgap=ticks + title + _PAD).ravel()
    w = population["weight"].to_numpy(float)
    for ax, name in zip(axes, names, strict=False):
        low, high, dist = priors[name]
        x = population[name].to_numpy(float)
        bins = np.geomspace(low, high, 21) if dist == "loguniform" else np.linspace(low, high, 21)
        counts, _ = np.histogram(x, bins=bins, weights=w)  # as Axes.hist counts, drawn as one shape
        ax.stairs(counts, bins, fill=True, color=_POST, alpha=0.8)
        if dist == "loguniform":
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        if name in as_written:
            ax.axvline(as_written[name], color=_WRITTEN, ls="--", lw=1.2)
        ax.set_title(name, fontsize=8)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    fig.suptitle("posterior (bars) on the prior range; dashed: scenario as written", fontsize=9,
                 y=1 - _PAD / fig.get_size_inches()[1], va="top")
    return fig


def sensitivity_figure(table: pd.DataFrame, output: str, method: str) -> Figure:
    """Horizontal bars of each parameter's effect on ``output`` (largest on top).

    Args:
        table: ``parameter`` and ``effect`` (mu* for Morris, ST for Sobol), optional ``spread``
            (sigma or the confidence half-width) and ``first_order`` (S1).
    """
    t = table.sort_values("effect").reset_index(drop=True)
    fig = _figure(7.5, 0.8 + 0.28 * len(t))
    tick_row = _TICK_PT * _LINE + 3.5 / 72
    ax = _axes_grid(fig, 1, 1, left=_PAD + 3.5 / 72 + max((_text_width(str(p), 7) for p in t["parameter"]), default=0),
                    right=0.25, top=_PAD + 0.05, bottom=tick_row + _TICK_PT * _LINE + _PAD)[0, 0]
    y = np.arange(len(t))
    xerr = t["spread"].to_numpy(float) if "spread" in t and method == "sobol" else None
    ax.barh(y, t["effect"].to_numpy(float), xerr=xerr, color=_POST, alpha=0.85,
            label="total-order index ST" if method == "sobol" else "mu* (mean |elementary effect|)")
    if method == "sobol" and "first_order" in t:
        ax.scatter(t["first_order"].to_numpy(float), y, color=_REPORTED, marker="|", s=120, label="first-order S1")
    if method == "morris" and "spread" in t:
        ax.scatter(t["spread"].to_numpy(float), y, color=_WRITTEN, marker="x", s=25, label="sigma (interactions)")
    ax.set_yticks(y, t["parameter"], fontsize=7)
    ax.set_xlabel(f"effect on {output}")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return fig
