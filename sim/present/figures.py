"""Figures of comparison tables, drawn with matplotlib's Agg canvas (no pyplot, no seaborn).

Every function takes result tables (pandas frames from :mod:`sim.analysis.comparison`) and returns a
:class:`matplotlib.figure.Figure` built directly: no global figure registry, no interactive
backend, nothing to close. Save with ``fig.savefig(path_or_buffer)``.

They are drawn to be cheap, because the main job draws them on every run: matplotlib is
imported inside the functions (``import sim.present.figures`` for its labels costs nothing);
each figure has a fixed size and explicit margins in inches instead of a layout engine that
measures every text; months are plain integer positions with precomputed year labels
instead of date locators; the panels' limits, grid lines and tick labels are computed here
(:func:`_month_axes`) instead of by matplotlib's tick machinery, and bands and lines are added
as artists without autoscaling; y labels are written once per row. The style (white axes
with a light grid, the colour-blind palette of seaborn's ``colorblind``) is a fixed set of
rc parameters applied only while a figure is built.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.present.panel import DPI, Panel, auto_ticks, grid, load_matplotlib, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["stock_bands_figure", "cumulative_saving_figure", "who_pays_figure", "PAYER_LABELS",
           "STAGE_LABELS", "DPI"]

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
#: seaborn's "colorblind" palette (the first colour is the baseline's).
_PALETTE = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494", "#ece133",
            "#56b4e9")
_SAVES, _PAYS = "#2e8b57", "#c0392b"
_TITLE_PT, _LABEL_PT, _TICK_PT, _SUPTITLE_PT = 9.0, 8.5, 8.0, 11.0
_TICK_MARK_PT = 3.5  # matplotlib's tick length: an axis sets its labels this much further out, drawn or not
#: seaborn's "whitegrid" style at a small font size, as plain rc parameters.
_STYLE: dict[str, Any] = {
    "figure.facecolor": "white", "axes.facecolor": "white", "axes.edgecolor": ".8", "axes.linewidth": 1.0,
    "axes.grid": False, "axes.axisbelow": True, "grid.color": ".85", "grid.linestyle": "-", "grid.linewidth": 0.8,
    "axes.labelcolor": ".15", "text.color": ".15", "xtick.color": ".15", "ytick.color": ".15",
    "xtick.bottom": False, "ytick.left": False, "xtick.major.pad": 3.0, "ytick.major.pad": 3.0,
    "font.size": _LABEL_PT, "axes.titlesize": _TITLE_PT, "axes.labelsize": _LABEL_PT,
    "xtick.labelsize": _TICK_PT, "ytick.labelsize": _TICK_PT, "legend.fontsize": _TICK_PT,
    "axes.titlepad": 4.0, "axes.labelpad": 4.0, "lines.solid_capstyle": "round", "patch.edgecolor": "w",
}
# Rough widths, in inches, for margins fixed in advance (no text is measured): a character of
# DejaVu Sans averages about 0.58 em.
_EM = 0.58 / 72


def _text_width(text: str, points: float) -> float:
    return len(text) * points * _EM


def _palette(names: Sequence[str], *, skip_first: bool = False) -> dict[str, str]:
    """One colour per name; ``skip_first`` leaves the first colour to the baseline, which tables of
    savings do not contain, so a scenario has the same colour in every figure."""
    colours = _PALETTE[1:] if skip_first else _PALETTE
    return {name: colours[i % len(colours)] for i, name in enumerate(names)}


def _style() -> Any:
    import matplotlib

    return matplotlib.rc_context(_STYLE)


def _month_ticks(months: Sequence[str]) -> tuple[list[int], list[str]]:
    """Tick positions and labels for months ``YYYY-MM`` at positions 0, 1, ...: each January (or every
    other, third ... January so that there are at most 5), or each quarter in a run shorter than two years."""
    jan = [(i, m[:4]) for i, m in enumerate(months) if m.endswith("-01")]
    if len(jan) < 2:
        quarters = [(i, m) for i, m in enumerate(months) if m[5:7] in ("01", "04", "07", "10")]
        step = max(1, -(-len(quarters) // 5))
        picked = quarters[::step]
    else:
        step = max(1, -(-len(jan) // 5))
        picked = jan[::step]
    return [i for i, _ in picked], [label for _, label in picked]


def _panels(fig: Figure, n: int, ncols: int, *, panel: tuple[float, float], left: float, top: float,
            bottom: float, gap: tuple[float, float]) -> list[Panel]:
    """``n`` framed panels on a grid of ``ncols`` columns, filled row by row; every size in inches."""
    width, height = fig.get_size_inches()
    out = []
    for i in range(n):
        row, col = divmod(i, ncols)
        x0 = left + col * (panel[0] + gap[0])
        y1 = height - top - row * (panel[1] + gap[1])
        p = Panel(fig, (x0 / width, (y1 - panel[1]) / height, panel[0] / width, panel[1] / height))
        p.frame(_STYLE["axes.edgecolor"], _STYLE["axes.linewidth"])
        out.append(p)
    return out


def _grid_figure(titles: Sequence[str], ncols: int, *, panel_width: float, panel_height: float,
                 suptitle: str, legend_entries: int) -> tuple[Figure, list[Panel]]:
    """The shared frame of the panel figures: one panel per title, room for y labels on the left
    column, a title above and a legend below. Grid and tick labels are drawn by :func:`_month_axes`."""
    n = len(titles)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    chars = max(12, int(panel_width / (_TITLE_PT * _EM)))
    wrapped = [textwrap.fill(t, chars) for t in titles]
    title_lines = max(t.count("\n") + 1 for t in wrapped)
    gap = (0.5, 0.12 + 0.19 * title_lines)
    top = 0.42 + 0.17 * title_lines
    bottom = 0.3 + (0.3 if legend_entries else 0.0)
    left, right = 0.8, 0.15  # room for y labels up to "400,000" and the axis label
    width = left + ncols * panel_width + (ncols - 1) * gap[0] + right
    height = top + nrows * panel_height + (nrows - 1) * gap[1] + bottom
    fig = new_figure(width, height)
    panels = _panels(fig, n, ncols, panel=(panel_width, panel_height), left=left, top=top, bottom=bottom, gap=gap)
    for p, title in zip(panels, wrapped, strict=True):
        p.set_title(title, fontsize=_TITLE_PT, pad_points=_STYLE["axes.titlepad"])
    fig.suptitle(suptitle, y=1 - 0.12 / height, va="top", fontsize=_SUPTITLE_PT)
    return fig, panels


def _tick_label(values: np.ndarray) -> list[str]:
    """Tick labels with as few decimals as show every value exactly (thousands separated, true minus)."""
    for decimals in range(5):
        if np.allclose(values, np.round(values, decimals), rtol=0, atol=1e-9 * max(1.0, np.abs(values).max())):
            break
    return [f"{v:,.{decimals}f}".replace("-", "\u2212") for v in values + 0.0]  # + 0.0: no "-0"


def _month_axes(fig: Figure, panels: Sequence[Panel], ranges: Sequence[tuple[float, float]], months: Sequence[str],
                ncols: int, *, floor_zero: bool, ylabel: str) -> None:
    """Limits, grid lines and tick labels of the panels.

    Each panel's x axis runs over the month positions ``0 .. len(months) - 1`` with year labels
    (:func:`_month_ticks`) under the bottom panel of each column; its y axis over the data range
    ``ranges[i]`` (from 0 when ``floor_zero``, else including 0) plus 5 %, with at most five round
    values. The grid is one line collection for the whole figure, and the y label of each row a
    figure text left of the widest tick label (widths estimated, not measured).
    """
    from matplotlib.ticker import MaxNLocator

    locator = MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10])
    xticks, xlabels = _month_ticks(months)
    x1 = max(len(months) - 1, 1)
    segments: list[list[tuple[float, float]]] = []
    for i, (p, (lo, hi)) in enumerate(zip(panels, ranges, strict=True)):
        lo, hi = (0.0 if floor_zero else min(lo, 0.0)), max(hi, 0.0)
        span = (hi - lo) or 1.0
        y0, y1 = (lo if floor_zero else lo - 0.05 * span), hi + 0.05 * span
        yticks = np.array([t for t in locator.tick_values(y0, y1) if y0 - 1e-9 * span <= t <= y1 + 1e-9 * span])
        p.set_limits(0, x1, y0, y1)
        segments += p.grid_segments(xs=xticks, ys=yticks)
        labels = _tick_label(yticks)
        p.yticks(yticks, labels, fontsize=_TICK_PT, pad_points=4, va="center")
        if i % ncols == 0:  # the row's y label, rotated, its foot this far left of the frame (as matplotlib's)
            pad = (10 + max((_text_width(label, _TICK_PT) * 72 for label in labels), default=0)) / 72
            fig.text(p.box.x0 - pad / fig.get_figwidth(), p.box.y0 + p.box.height / 2, ylabel, rotation=90,
                     rotation_mode="anchor", ha="center", va="bottom", fontsize=_LABEL_PT)
        if i + ncols >= len(panels):  # no panel under this one
            p.xticks(xticks, xlabels, fontsize=_TICK_PT, pad_points=4)
    grid(fig, segments, _STYLE["grid.color"], _STYLE["grid.linewidth"])


def _band(panel: Panel, x: np.ndarray, lo: np.ndarray, mid: np.ndarray, hi: np.ndarray, colour: str,
          label: str) -> tuple[float, float]:
    """A P10-P90 band (one polygon) and the median line (the limits are set afterwards by
    :func:`_month_axes`); returns the smallest and largest value drawn."""
    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D

    ok = np.isfinite(lo) & np.isfinite(hi)
    if ok.any():
        verts = np.concatenate([np.column_stack([x[ok], lo[ok]]), np.column_stack([x[ok], hi[ok]])[::-1]])
        panel.add(PolyCollection([verts], facecolors=colour, alpha=0.2, linewidths=0))
    panel.add(Line2D(x, mid, color=colour, label=label, linewidth=1.4))
    values = np.concatenate([lo, mid, hi])
    values = values[np.isfinite(values)]
    return (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)


def _legend(fig: Figure, handles: Sequence[Any], ncols: int) -> None:
    """A legend of ``handles`` (artists with labels) centred under the panels."""
    handles = [h for h in handles if h.get_label() and not h.get_label().startswith("_")]
    if handles:
        fig.legend(handles, [h.get_label() for h in handles], loc="lower center", bbox_to_anchor=(0.5, 0.0),
                   ncols=ncols, frameon=False)


def stock_bands_figure(stock_bands: pd.DataFrame, stages: Sequence[str] | None = None, *,
                       ncols: int = 3) -> Figure:
    """People per stage over time: median lines with P10-P90 bands, one colour per scenario.

    Args:
        stock_bands: ``scenario, month, stage, p10, p50, p90`` (a comparison's ``stock_bands``).
        stages: the stages to draw, one panel each (default: every stage with people in it).

    Returns:
        A figure with one axes per stage and, in each, one line per scenario.
    """
    load_matplotlib()
    from matplotlib.lines import Line2D

    if stages is None:
        has = stock_bands.groupby("stage", sort=False)["p90"].max()
        stages = [s for s in STAGE_LABELS if has.get(s, 0) > 0]
    stages = list(stages)
    if not stages:
        raise ValueError("no stages to draw")
    scenarios = [str(s) for s in pd.unique(stock_bands["scenario"])]  # in order of appearance
    colours = _palette(scenarios)
    months = sorted(str(m) for m in pd.unique(stock_bands["month"]))
    with _style():
        fig, panels = _grid_figure([STAGE_LABELS.get(s, s) for s in stages], ncols, panel_width=2.6,
                                 panel_height=1.75, legend_entries=len(scenarios),
                                 suptitle="People by stage: median and P10-P90 over replications")
        rows = stock_bands.groupby(["stage", "scenario"], sort=False).indices
        x_all = pd.Index(months).get_indexer(stock_bands["month"].astype(str)).astype(float)
        p10, p50, p90 = (stock_bands[c].to_numpy(float) for c in ("p10", "p50", "p90"))
        ranges = []
        for panel, stage in zip(panels, stages, strict=True):
            top = 0.0
            for scn in scenarios:
                i = rows.get((stage, scn))
                if i is None:
                    continue
                i = i[np.argsort(x_all[i], kind="stable")]
                top = max(top, _band(panel, x_all[i], p10[i], p50[i], p90[i], colours[scn], scn)[1])
            ranges.append((0.0, top))
        _month_axes(fig, panels, ranges, months, min(ncols, len(stages)), floor_zero=True, ylabel="people")
        _legend(fig, [a for a in panels[0].artists if isinstance(a, Line2D)], min(len(scenarios), 4))
    return fig


def cumulative_saving_figure(money: pd.DataFrame, payers: Sequence[str] | None = None, *,
                             ncols: int = 3) -> Figure:
    """Cumulative discounted saving per payer over time: median and P10-P90 band, per scenario.

    Args:
        money: a comparison's ``money`` table.
        payers: the payers to draw, one panel each (default: every payer whose saving is not
            always zero, society last).

    Returns:
        A figure with one axes per payer and, in each, one line per scenario (in MSEK).
    """
    load_matplotlib()
    from matplotlib.lines import Line2D

    col = "cumulative_saving_discounted_sek"
    if payers is None:
        nonzero = money.groupby("payer", sort=False)[col].agg(lambda v: bool(np.any(v != 0)))
        payers = [p for p in PAYER_LABELS if nonzero.get(p, False)] or ["society"]
    payers = list(payers)
    q = (money[money["payer"].isin(payers)].groupby(["scenario", "payer", "month"], sort=True)[col]
         .quantile([0.1, 0.5, 0.9]).unstack() / 1e6)
    scenarios = [str(s) for s in pd.unique(money["scenario"])]  # in order of appearance
    colours = _palette(scenarios, skip_first=True)
    months = sorted(str(m) for m in pd.unique(money["month"]))
    x_of = {m: i for i, m in enumerate(months)}
    x_zero = max(len(months) - 1, 1)  # the zero line spans the panel (as _month_axes' x limits)
    with _style():
        fig, panels = _grid_figure([PAYER_LABELS.get(p, p) for p in payers], ncols, panel_width=2.6,
                                 panel_height=1.75, legend_entries=len(scenarios),
                                 suptitle="Cumulative discounted saving vs the baseline "
                                          "(MSEK; + = the payer is better off)")
        ranges = []
        for panel, payer in zip(panels, payers, strict=True):
            lo = hi = 0.0
            for scn in scenarios:
                try:
                    s = q.loc[(scn, payer)]
                except KeyError:
                    continue
                x = np.fromiter((x_of[str(m)] for m in s.index), dtype=float, count=len(s))
                low, high = _band(panel, x, s[0.1].to_numpy(float), s[0.5].to_numpy(float), s[0.9].to_numpy(float),
                                  colours[scn], scn)
                lo, hi = min(lo, low), max(hi, high)
            panel.add(Line2D([0, x_zero], [0, 0], color="0.3", linewidth=0.8, zorder=0))
            ranges.append((lo, hi))
        _month_axes(fig, panels, ranges, months, min(ncols, len(payers)), floor_zero=False, ylabel="MSEK")
        _legend(fig, [a for a in panels[0].artists if isinstance(a, Line2D)], min(len(scenarios), 4))
    return fig


def who_pays_figure(headline: pd.DataFrame, horizon: int) -> Figure:
    """Net discounted saving per payer at ``horizon`` months: bars at the median, P10-P90 error bars.

    With one scenario bars are green where the payer saves and red where it pays; with
    several, bars are grouped and coloured by scenario.

    Raises:
        ValueError: if the headline has no savings at ``horizon``.
    """
    load_matplotlib()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    d = headline[(headline["metric"] == "net_saving_discounted_sek") & (headline["horizon_months"] == horizon)]
    if d.empty:
        have = sorted(headline.loc[headline["metric"] == "net_saving_discounted_sek", "horizon_months"].unique())
        raise ValueError(f"no savings at {horizon} months in the headline table; horizons: {have}")
    payers = [p for p in PAYER_LABELS if p in set(d["payer"])]
    scenarios = list(dict.fromkeys(d["scenario"]))
    colours = _palette(scenarios, skip_first=True)
    k = len(scenarios)
    height = 0.8 / k
    names = [PAYER_LABELS[p] for p in payers]
    row = 0.3 * max(1.0, 0.7 * k)
    left = 0.25 + max(_text_width(n, _TICK_PT) for n in names)
    width = max(7.5, left + 5.0)
    top, bottom = 0.45, 0.55 + (0.3 if k > 1 else 0.0)
    fig_height = top + row * len(payers) + bottom
    y = np.arange(len(payers))[::-1].astype(float)
    bars = []  # (scenario, centre positions, medians, whisker lows, whisker highs, colours)
    for i, scn in enumerate(scenarios):
        s = d[d["scenario"] == scn].set_index("payer").reindex(payers)
        mid, lo, hi = (s[c].to_numpy(float) / 1e6 for c in ("p50", "p10", "p90"))
        pos = y + (k - 1) * height / 2 - i * height
        colour = (np.where(mid >= 0, _SAVES, _PAYS).tolist() if k == 1 else [colours[scn]] * len(payers))
        bars.append((scn, pos, mid, np.minimum(lo, mid), np.maximum(hi, mid), colour))
    x0, x1 = _bar_limits([0.0, *(v for b in bars for v in (*b[2], *b[3], *b[4]))])
    with _style():
        fig = new_figure(width, fig_height)
        panel = Panel(fig, (left / width, bottom / fig_height, 1 - (left + 0.25) / width,
                            1 - (top + bottom) / fig_height))
        panel.frame(_STYLE["axes.edgecolor"], _STYLE["axes.linewidth"])
        panel.set_limits(x0, x1, -0.6, len(payers) - 0.4)
        xticks, xlabels = auto_ticks(x0, x1, length_points=panel.box.width * width * 72, label_points=_TICK_PT,
                                     axis="x")
        grid(fig, panel.grid_segments(xs=xticks), _STYLE["grid.color"], _STYLE["grid.linewidth"])
        pad = _STYLE["xtick.major.pad"] + _TICK_MARK_PT  # as an axis: the (hidden) tick's length and the pad
        panel.xticks(xticks, xlabels, fontsize=_TICK_PT, pad_points=pad)
        panel.yticks(y, names, fontsize=_TICK_PT, pad_points=pad)
        for scn, pos, mid, lo, hi, colour in bars:
            _bars(panel, pos, mid, lo, hi, height * 0.9, colour, scn)
        panel.add(Line2D([0.0, 0.0], [-0.6, len(payers) - 0.4], color="0.2", linewidth=0.9))
        # the x label under the tick labels (their height is about one em), as an axis places it
        fig.text(panel.box.x0 + panel.box.width / 2,
                 panel.box.y0 - (pad + _TICK_PT + _STYLE["axes.labelpad"]) / 72 / fig_height,
                 "saving, MSEK, discounted (+ = the payer is better off)", ha="center", va="top", fontsize=_LABEL_PT,
                 color=_STYLE["axes.labelcolor"])
        years = f"{horizon // 12} years" if horizon % 12 == 0 else f"{horizon} months"
        fig.suptitle(f"Who pays, who saves after {years} (median, P10-P90)", y=1 - 0.12 / fig_height, va="top",
                     fontsize=_SUPTITLE_PT)
        if k > 1:
            _legend(fig, [Patch(facecolor=colours[scn], label=scn) for scn in scenarios], min(k, 3))
    return fig


def _bar_limits(values: Sequence[float]) -> tuple[float, float]:
    """The x limits an ``Axes`` would autoscale bars from 0 with whiskers to: the data's range plus
    5 % each side, except that a side where the data stop at 0 (the bars' base) stays at 0."""
    from matplotlib.ticker import AutoLocator

    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    lo, hi = AutoLocator().nonsingular(float(v.min()), float(v.max()))  # a range even if all are 0
    margin = 0.05 * (hi - lo)
    return (0.0 if lo == 0 else lo - margin), (0.0 if hi == 0 else hi + margin)


def _bars(panel: Panel, pos: np.ndarray, mid: np.ndarray, lo: np.ndarray, hi: np.ndarray, thickness: float,
          colours: Sequence[str], label: str) -> None:
    """Horizontal bars from 0 to ``mid`` at ``pos`` (one collection) and whiskers from ``lo`` to ``hi`` with caps."""
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.lines import Line2D

    ok = np.isfinite(mid)
    half = thickness / 2
    verts = [[(0.0, p - half), (m, p - half), (m, p + half), (0.0, p + half)]
             for p, m in zip(pos[ok], mid[ok], strict=True)]
    panel.add(PolyCollection(verts, facecolors=[c for c, good in zip(colours, ok, strict=True) if good],
                             edgecolors="none", linewidths=0, label=label, zorder=1))
    ok &= np.isfinite(lo) & np.isfinite(hi)
    panel.add(LineCollection([[(a, p), (b, p)] for p, a, b in zip(pos[ok], lo[ok], hi[ok], strict=True)],
                             linewidths=1, colors="0.25", zorder=2))
    for ends in (lo[ok], hi[ok]):  # the caps
        panel.add(Line2D(ends, pos[ok], linestyle="none", marker="|", markersize=6, markeredgewidth=1, color="0.25",
                         zorder=2))
