"""The bridge as a waterfall: from the payoff-style estimate to almsim's, step by step.

One panel per payer (the municipality and society by default): the first bar is the
payoff-style estimate, each named mechanism adds or takes away, and the last bar is the
simulated estimate (means over replications, which add up exactly). Drawn on panels
(:mod:`sim.present.panel`: no ``Axes``, no layout engine) at a fixed size, in matplotlib's
default look.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.present.panel import Panel, auto_ticks, load_matplotlib, new_figure

__all__ = ["waterfall_figure"]

_SHORT = {"payoff_style": "payoff-style", "leave_for_work_or_studies": "leave for work/studies anyway",
          "other_income_support": "UI, JOB or Fas 3 instead", "leave_the_model": "sickness, moving, pension",
          "rates_and_clocks": "rates and clocks", "non_participants": "non-participants",
          "simulated": "almsim (simulated)"}
#: matplotlib's default axis: black spines and tick marks 0.8 wide, ticks 3.5 points long and labels
#: 3.5 points beyond them, titles 6 points above the panel.
_SPINE, _MARKS, _PAD, _TITLE_PAD = ("black", 0.8), (3.5, 0.8, "black"), 7.0, 6.0
_BAR = 0.7  # bar width, in steps


def waterfall_figure(bridge: pd.DataFrame, label: str, horizon: int,
                     payers: Sequence[str] = ("municipality", "society")) -> Any:
    """A matplotlib figure of the bridge of scenario ``label`` at ``horizon`` months."""
    load_matplotlib()
    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D

    from sim.analysis.payoff import BRIDGE_STEPS

    steps = [s for s, _ in BRIDGE_STEPS]
    fig_width, fig_height = 9.0, 3.6
    fig = new_figure(fig_width, fig_height)
    span = "5 years" if horizon == 60 else ("1 year" if horizon == 12 else f"{horizon} months")
    fig.text(0.5, 0.96, f"From a payoff-style estimate to almsim's, at {span} (mean MSEK; + = the payer is "
             "better off)", ha="center", va="top", fontsize=10)
    n = len(steps)
    # the x limits an Axes would autoscale the bars to: their extent plus 5 % each side
    margin = 0.05 * (n - 1 + _BAR)
    x0, x1 = -_BAR / 2 - margin, n - 1 + _BAR / 2 + margin
    for k, payer in enumerate(payers):
        panel = Panel(fig, (0.1 + k * 0.49, 0.36, 0.38, 0.46))
        b = bridge[(bridge["scenario"] == label) & (bridge["horizon_months"] == horizon) & (bridge["payer"] == payer)]
        v = b.set_index("step")["mean"].reindex(steps).fillna(0.0).to_numpy() / 1e6
        # The totals stand on zero and set the level; each mechanism starts where the level stands.
        bottom, colours, seen = [], [], [0.0]
        level = 0.0
        for step, x in zip(steps, v, strict=True):
            total = step in ("payoff_style", "simulated")
            bottom.append(0.0 if total else level)
            colours.append("#555555" if total else ("#2e8b57" if x >= 0 else "#c0392b"))
            level = x if total else level + x
            seen.append(level)
        lo, hi = min(seen), max(seen)
        pad = 0.08 * ((hi - lo) or 1.0)
        panel.set_limits(x0, x1, lo - pad, hi + pad)
        half = _BAR / 2
        panel.add(PolyCollection([[(i - half, b0), (i + half, b0), (i + half, b0 + x), (i - half, b0 + x)]
                                  for i, (b0, x) in enumerate(zip(bottom, v, strict=True))],
                                 facecolors=colours, edgecolors="none", linewidths=0, zorder=1))
        panel.add(Line2D([x0, x1], [0.0, 0.0], color="grey", linewidth=0.6))
        panel.frame(*_SPINE, zorder=2.5)
        panel.xticks(np.arange(n), [_SHORT[s] for s in steps], fontsize=8, pad_points=_PAD, marks=_MARKS,
                     rotation=35, ha="right")
        yticks, ylabels = auto_ticks(lo - pad, hi + pad, length_points=0.46 * fig_height * 72, label_points=8,
                                     axis="y")
        panel.yticks(yticks, ylabels, fontsize=8, pad_points=_PAD, marks=_MARKS)
        panel.set_title(payer, fontsize=10, pad_points=_TITLE_PAD)
    return fig
