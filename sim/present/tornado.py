"""The tornado figure: how far each driving assumption moves the headline.

One panel per payer shown (the municipality and society by default); one bar per assumption,
from the lowest to the highest median saving over the assumption's values, with each value
marked and labelled, and a line at the scenario's own headline. Drawn on panels
(:mod:`sim.present.panel`: no ``Axes``, no layout engine) at a fixed size and fixed margins,
like the report's other figures, in matplotlib's default look.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.present.panel import Panel, auto_ticks, load_matplotlib, new_figure

__all__ = ["tornado_figure"]

_COLOURS = {"municipality": "#1f6f8b", "society": "#6a4c93", "state": "#c0392b"}
#: matplotlib's default axis: black spines and tick marks 0.8 wide, ticks 3.5 points long and labels
#: 3.5 points beyond them, titles 6 points above the panel.
_SPINE, _MARKS, _PAD, _TITLE_PAD = ("black", 0.8), (3.5, 0.8, "black"), 7.0, 6.0


#: values whose dots lie closer than this share of a panel's width share one label ("0/0.5")
_NEAR = 0.07


def _labels(texts: list[str], xs: np.ndarray, y: float, near: float) -> list[tuple[str, float, float, int]]:
    """One row's value labels ``(text, x, y, offset in points)``: dots closer than ``near`` to the
    first of their run share a label at the run's middle ("223/365" over two dots), and the labels
    go above and below their dots in turn, so that neighbours do not print over each other."""
    order = np.argsort(xs, kind="stable")
    runs: list[list[int]] = []
    for j in order.tolist():
        if runs and xs[j] - xs[runs[-1][0]] < near:
            runs[-1].append(j)
        else:
            runs.append([j])
    return [("/".join(texts[j] for j in sorted(run)), float(np.mean(xs[run])), y, 6 if k % 2 == 0 else -12)
            for k, run in enumerate(runs)]


def tornado_figure(lines: pd.DataFrame, headline: pd.DataFrame, label: str, horizon: int,
                   payers: Sequence[str] = ("municipality", "society")) -> Any:
    """A matplotlib figure of the assumption lines of scenario ``label`` at ``horizon`` months.

    Args:
        lines: the comparison's ``assumption_lines`` table.
        headline: the comparison's ``headline`` table (for the scenario's own value).
    """
    load_matplotlib()
    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D
    from matplotlib.text import Text
    from matplotlib.transforms import ScaledTranslation

    from sim.analysis.assumptions_driving import ASSUMPTIONS

    short = {a.name: a.short or a.name for a in ASSUMPTIONS}
    t = lines[(lines["scenario"] == label) & (lines["horizon_months"] == horizon)]
    names = list(dict.fromkeys(t["assumption"]))
    fig_width, fig_height = 9.0, 1.3 + 0.55 * max(len(names), 1)
    fig = new_figure(fig_width, fig_height)
    left, width, gap = 0.22, 0.355, 0.05
    span = "5 years" if horizon == 60 else ("1 year" if horizon == 12 else f"{horizon} months")
    fig.text(0.5, 0.95, f"Saving at {span} under other values of each assumption (median, MSEK, "
             "+ = the payer is better off)", ha="center", va="top", fontsize=10)
    for k, payer in enumerate(payers):
        panel = Panel(fig, (left + k * (width + gap), 0.22, width, 0.58))
        h = headline[(headline["scenario"] == label) & (headline["metric"] == "net_saving_discounted_sek")
                     & (headline["horizon_months"] == horizon) & (headline["payer"] == payer)]
        xs: list[float] = []
        spans, dots, rows = [], [], []  # bars and dots drawn with one artist each per panel
        for i, name in enumerate(names):
            g = t[(t["assumption"] == name) & (t["payer"] == payer)].sort_values("value")
            y = len(names) - 1 - i
            v = g["p50"].to_numpy() / 1e6
            xs += list(v)
            spans.append((y, v.min(), v.max()))
            dots += [(x, y) for x in v]
            rows.append((y, [f"{value:g}" for value in g["value"]], v))
        x0 = float(h["p50"].iloc[0]) / 1e6 if len(h) else None
        limits = [*xs, *([x0] if x0 is not None else []), 0.0]
        pad = 0.08 * (max(limits) - min(limits) or 1.0)
        lo_x, hi_x = min(limits) - pad, max(limits) + pad
        marks = [mark for y, texts, v in rows for mark in _labels(texts, v, y, _NEAR * (hi_x - lo_x))]
        panel.set_limits(lo_x, hi_x, -0.7, len(names) - 0.3)
        colour = _COLOURS.get(payer, "grey")
        if spans:
            y, lo, hi = (np.array(c, float) for c in zip(*spans, strict=True))
            panel.add(PolyCollection([[(a, b - 0.25), (c, b - 0.25), (c, b + 0.25), (a, b + 0.25)]
                                      for b, a, c in zip(y, lo, hi, strict=True)],
                                     facecolors=colour, alpha=0.35, edgecolors="none", linewidths=0, zorder=1))
            px, py = zip(*dots, strict=True)
            panel.add(Line2D(px, py, linestyle="none", marker="o", markersize=4, color=colour))
        if x0 is not None:
            panel.add(Line2D([x0, x0], [-0.7, len(names) - 0.3], color="black", linewidth=1))
        panel.add(Line2D([0.0, 0.0], [-0.7, len(names) - 0.3], color="grey", linewidth=0.6, linestyle=":"))
        for text, x, y, dy in marks:  # each value's label just above or below its dot (as an annotation)
            offset = ScaledTranslation(0, dy / 72, fig.dpi_scale_trans)
            fig.add_artist(Text(x, y, text, ha="center", va="baseline", fontsize=8,
                                transform=panel.transform + offset))
        panel.frame(*_SPINE, zorder=2.5)
        ticks = list(range(len(names)))
        panel.yticks(ticks, [short[n] for n in reversed(names)] if k == 0 else [""] * len(names), fontsize=9,
                     pad_points=_PAD, marks=_MARKS)
        xticks, xlabels = auto_ticks(lo_x, hi_x, length_points=width * fig_width * 72, label_points=9, axis="x")
        panel.xticks(xticks, xlabels, fontsize=9, pad_points=_PAD, marks=_MARKS)
        panel.set_title(payer, fontsize=10, pad_points=_TITLE_PAD)
    fig.text(0.01, 0.03, "Labels: the assumption's value; bars span the medians; black line: the scenario as "
             "written; dotted: no saving.", fontsize=8)
    return fig
