"""The bridge as a waterfall: from the payoff-style estimate to almsim's, step by step.

One panel per payer (the municipality and society by default): the first bar is the
payoff-style estimate, each named mechanism adds or takes away, and the last bar is the
simulated estimate (means over replications, which add up exactly). Agg canvas, fixed size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["waterfall_figure"]

_SHORT = {"payoff_style": "payoff-style", "leave_for_work_or_studies": "leave for work/studies anyway",
          "other_income_support": "UI, JOB or Fas 3 instead", "leave_the_model": "sickness, moving, pension",
          "rates_and_clocks": "rates and clocks", "non_participants": "non-participants",
          "simulated": "almsim (simulated)"}


def waterfall_figure(bridge: pd.DataFrame, label: str, horizon: int,
                     payers: Sequence[str] = ("municipality", "society")) -> Any:
    """A matplotlib figure of the bridge of scenario ``label`` at ``horizon`` months."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from sim.analysis.payoff import BRIDGE_STEPS

    steps = [s for s, _ in BRIDGE_STEPS]
    fig = Figure(figsize=(9.0, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    span = "5 years" if horizon == 60 else ("1 year" if horizon == 12 else f"{horizon} months")
    fig.text(0.5, 0.96, f"From a payoff-style estimate to almsim's, at {span} (mean MSEK; + = the payer is "
             "better off)", ha="center", va="top", fontsize=10)
    for k, payer in enumerate(payers):
        ax = fig.add_axes((0.1 + k * 0.49, 0.36, 0.38, 0.46))
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
        ax.bar(np.arange(len(steps)), v, bottom=bottom, color=colours, width=0.7)  # one call: one container
        ax.axhline(0.0, color="grey", lw=0.6)
        lo, hi = min(seen), max(seen)
        pad = 0.08 * ((hi - lo) or 1.0)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xticks(range(len(steps)))
        ax.set_xticklabels([_SHORT[s] for s in steps], rotation=35, ha="right", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_title(payer, fontsize=10)
    return fig
