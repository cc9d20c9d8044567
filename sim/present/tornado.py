"""The tornado figure: how far each driving assumption moves the headline.

One panel per payer shown (the municipality and society by default); one bar per assumption,
from the lowest to the highest median saving over the assumption's values, with each value
marked and labelled, and a line at the scenario's own headline. Drawn with matplotlib's Agg
canvas at a fixed size and fixed margins (no layout engine), like the report's other figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["tornado_figure"]

_COLOURS = {"municipality": "#1f6f8b", "society": "#6a4c93", "state": "#c0392b"}


def tornado_figure(lines: pd.DataFrame, headline: pd.DataFrame, label: str, horizon: int,
                   payers: Sequence[str] = ("municipality", "society")) -> Any:
    """A matplotlib figure of the assumption lines of scenario ``label`` at ``horizon`` months.

    Args:
        lines: the comparison's ``assumption_lines`` table.
        headline: the comparison's ``headline`` table (for the scenario's own value).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from sim.analysis.assumptions_driving import ASSUMPTIONS

    short = {a.name: a.short or a.name for a in ASSUMPTIONS}
    t = lines[(lines["scenario"] == label) & (lines["horizon_months"] == horizon)]
    names = list(dict.fromkeys(t["assumption"]))
    fig = Figure(figsize=(9.0, 1.3 + 0.55 * max(len(names), 1)), dpi=100)
    FigureCanvasAgg(fig)
    left, width, gap = 0.22, 0.355, 0.05
    span = "5 years" if horizon == 60 else ("1 year" if horizon == 12 else f"{horizon} months")
    fig.text(0.5, 0.95, f"Saving at {span} under other values of each assumption (median, MSEK, "
             "+ = the payer is better off)", ha="center", va="top", fontsize=10)
    for k, payer in enumerate(payers):
        ax = fig.add_axes((left + k * (width + gap), 0.22, width, 0.58))
        h = headline[(headline["scenario"] == label) & (headline["metric"] == "net_saving_discounted_sek")
                     & (headline["horizon_months"] == horizon) & (headline["payer"] == payer)]
        xs: list[float] = []
        spans, dots = [], []  # drawn with one call each per panel (one container, one line)
        for i, name in enumerate(names):
            g = t[(t["assumption"] == name) & (t["payer"] == payer)].sort_values("value")
            y = len(names) - 1 - i
            v = g["p50"].to_numpy() / 1e6
            xs += list(v)
            spans.append((y, v.min(), v.max()))
            dots += [(x, y) for x in v]
            for j, (value, x) in enumerate(zip(g["value"], v, strict=True)):
                ax.annotate(f"{value:g}", (x, y), xytext=(0, 6 if j % 2 == 0 else -12), textcoords="offset points",
                            ha="center", fontsize=8)
        colour = _COLOURS.get(payer, "grey")
        if spans:
            y, lo, hi = (np.array(c, float) for c in zip(*spans, strict=True))
            ax.barh(y, hi - lo, left=lo, height=0.5, color=colour, alpha=0.35)
            ax.plot(*zip(*dots, strict=True), "o", color=colour, ms=4)
        if len(h):
            x0 = float(h["p50"].iloc[0]) / 1e6
            xs.append(x0)
            ax.axvline(x0, color="black", lw=1)
        xs.append(0.0)
        pad = 0.08 * (max(xs) - min(xs) or 1.0)
        ax.set_xlim(min(xs) - pad, max(xs) + pad)
        ax.axvline(0.0, color="grey", lw=0.6, ls=":")
        ax.set_ylim(-0.7, len(names) - 0.3)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels([short[n] for n in reversed(names)] if k == 0 else [""] * len(names), fontsize=9)
        ax.tick_params(axis="x", labelsize=9)
        ax.set_title(payer, fontsize=10)
    fig.text(0.01, 0.03, "Labels: the assumption's value; bars span the medians; black line: the scenario as "
             "written; dotted: no saving.", fontsize=8)
    return fig
