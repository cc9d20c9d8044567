"""The one-page HTML report of a comparison, for readers who will not open a table.

:func:`write_report` renders ``sim/present/templates/report.html.j2`` (jinja2, autoescaped) into a
single self-contained ``report.html``: CSS inline, figures embedded as base64 SVG (text left as
text for the browser to set, shown at the size a PNG at :data:`~sim.present.figures.DPI` would
have, about the page's width), no scripts and no external assets, so it can be mailed or
opened offline. Everything in it comes from the comparison's tables and metadata, so a saved comparison
(:meth:`sim.analysis.comparison.Comparison.load`) gives the same report as a fresh one.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from sim.accounts.payers import BEFORE_EQUALISATION
from sim.analysis.comparison import ALL_PAYERS, SOCIETY, Comparison, silent_payers
from sim.present.figure_cache import FigureCache
from sim.present.figures import PAYER_LABELS, cumulative_saving_figure, stock_bands_figure, who_pays_figure

__all__ = ["write_report", "render_report", "summary_paragraph", "format_sek", "format_count",
           "LIMITATIONS"]

#: What the model leaves out, shown in every report.
LIMITATIONS = (
    "People in regular studies live on student finance (CSN), which is outside the ledger: their months "
    "cost and earn nothing here.",
    "Sickness benefit, parental benefit, pensions and moving away are not costed: people who leave for "
    "'other' drop out of the money flows.",
    "A couple's other adult is assumed to earn a fixed net income (money.partner_income_sek_per_month); "
    "housing costs are flat amounts, and tax uses a flat tax-free amount instead of the real deductions.",
    "Child allowance, maintenance support and a housing allowance count as household income (paid by "
    "Försäkringskassan), but the housing allowance is one typical amount for families with children, not "
    "income-tested, and maintenance support is assumed for every child of a single parent; other means-tested "
    "benefits are not modelled.",
    "Jobs are not taken from anyone else (no displacement) and wages do not react to the programme; the "
    "value of work done is a share of the wage cost.",
    "Intervals (P10-P90) show chance between replications and, for calibrated parameters drawn per replication "
    "from their fit's posterior, what the data leave uncertain about them; priors (parameters marked "
    "'uncalibrated') and other assumptions are held fixed, so their uncertainty is not in the intervals.",
    "Social effects the programmes report (health, family life, pride, language) are not valued.",
    "Fas 3 took nobody new from February 2016 and its last placements ended in January 2018; after that, people "
    "past the guarantee's 450 days leave at the guarantee's own exit rates, scaled for their time out of work: "
    "an assumption, since no source here gives the exit rates of the long-term unemployed after Fas 3 closed "
    "(the lines of the assumptions show Fas 3's rates kept instead).",
)
_METRIC_ROWS = (
    ("programme_starts", "", "People starting the programme", "count"),
    ("extra_in_work", "", "Extra people in ordinary work (at the end of the period)", "count"),
    ("extra_person_months_in_work", "", "Extra person-months in ordinary work", "count"),
    ("net_saving_discounted_sek", SOCIETY, "Net saving, society as a whole", "sek"),
    ("net_saving_discounted_sek", "municipality", "Net saving, municipality", "sek"),
    ("extra_person_years_in_work", "", "Extra person-years in ordinary work (over the period)", "count"),
    ("payback_month", "municipality",
     "Municipality: months from the programme's start until its saving turns positive for good", "month"),
    ("cost_per_extra_person_year_in_work_sek", "municipality",
     "Municipality: cost (minus its saving) per extra person-year in work", "sek"),
    ("cost_per_extra_person_year_in_work_sek", SOCIETY,
     "Society: cost (minus its saving) per extra person-year in work", "sek"),
    ("cost_per_participant_sek", "municipality", "Municipality: cost (minus its saving) per participant", "sek"),
)


#: A row of the headline table as a dict of its columns (see :class:`_Headline`).
Row = dict[str, Any]


# --------------------------------------------------------------------------------------------
# Formatting


def format_sek(x: float, *, sign: bool = False) -> str:
    """``12.3 MSEK`` from 1 million up, else SEK to the thousand (``450,000 SEK``); ``n/a`` for NaN."""
    if x is None or not math.isfinite(x):
        return "n/a"
    plus = "+" if sign and x > 0 else ""
    if abs(x) >= 1e6:
        return f"{plus}{x / 1e6:,.1f} MSEK"
    if abs(x) >= 1e4:  # three or more significant figures are noise here
        x = round(x, -3)
    return f"{plus}{x:,.0f} SEK"


def format_count(x: float) -> str:
    """A whole number with thousands separators; ``n/a`` for NaN."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{round(x):,d}"  # never "-0"


def _format_month(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "not within the period"
    return "from the start" if x == 0 else f"month {x:.0f}"


def _payback(row: Row | None) -> str:
    """A payback cell: the median month, or "does not pay first" where the payer pays nothing
    before it saves in most replications (as the terminal says): a payback month means something
    only for a payer that pays first, and "not within the period" would read as "never"."""
    if row is None:
        return ""
    first = row.get("pays_first", float("nan"))
    if not first >= 0.5:
        return "does not pay first"
    return _format_month(row["p50"])


def _format(kind: str, x: float) -> str:
    return {"sek": format_sek, "count": format_count, "month": _format_month}[kind](x)


def _interval(row: Row | None, kind: str) -> dict[str, str]:
    """A table cell: the median, and below it the P10-P90 range (or the payback share)."""
    if row is None:
        return {"mid": "", "range": ""}
    if kind == "month":
        mid, share = _payback(row), row.get("share")
        ok = mid != "does not pay first" and share is not None and math.isfinite(share)
        return {"mid": mid, "range": f"pays back in {share:.0%} of replications" if ok else ""}
    mid = _format(kind, row["p50"])
    if not (math.isfinite(row["p10"]) and math.isfinite(row["p90"])):
        return {"mid": mid, "range": ""}
    return {"mid": mid, "range": f"{_format(kind, row['p10'])} to {_format(kind, row['p90'])}"}


def _years(h: int) -> str:
    if h % 12:
        return f"{h} months"
    return "1 year" if h == 12 else f"{h // 12} years"


# --------------------------------------------------------------------------------------------
# Content


class _Headline:
    """Look-ups into one scenario's rows of the headline table."""

    def __init__(self, headline: pd.DataFrame, label: str) -> None:
        # The first row of each (metric, horizon, payer), found once as a plain dict: the report
        # asks ~150 times, and a dict is read far faster than a pandas row.
        self._first: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
        rows = headline[headline["scenario"] == label]
        for row in rows.to_dict("records"):
            self._first.setdefault((row["metric"], row["horizon_months"], row["payer"]), row)
        #: Payers no money of whose moves (named once, as in the terminal; the municipality and
        #: society are always shown).
        quiet = silent_payers(rows)
        self.silent = [p for p in ALL_PAYERS if p in quiet and p not in ("municipality", SOCIETY)]

    def get(self, metric: str, horizon: int, payer: str = "") -> Row | None:
        """The row as a dict of its columns (``p10``, ``p50``, ``p90``, ``n``, ...); a payback row
        also has ``share``, the median share of replications that pay back, and ``pays_first``,
        the share of replications in which the payer pays before it saves."""
        row = self._first.get((metric, horizon, payer))
        if row is None:
            return None
        if metric == "payback_month":
            share, first = self.get("payback_share", horizon, payer), self.get("pays_first_share", horizon, payer)
            row = {**row, "share": float(share["p50"]) if share is not None else float("nan"),
                   "pays_first": float(first["p50"]) if first is not None else float("nan")}
        return row


def _main_horizon(horizons: list[int]) -> int:
    return 60 if 60 in horizons else max(horizons)


#: Payers as the subject of a sentence, and whether the verb is plural.
_SUBJECTS = {
    "municipality": ("the municipality", False),
    "arbetsformedlingen": ("Arbetsförmedlingen", False),
    "forsakringskassan": ("Försäkringskassan", False),
    "state": ("the state (UI funds, employer fees)", False),
    "region": ("the region", False),
    "individual": ("the participants' households", True),
    "employer": ("employers", True),
    "public": ("the users of municipal services (the value of the extra staff's work)", True),
    "samordningsforbund": ("the samordningsförbund (Finsam)", False),
    "esf": ("the European Social Fund", False),
}
_MEASURES = {"work": "ordinary work", "work_or_studies": "work or studies"}


def _programme_phrase(programmes: list[dict[str, Any]]) -> str:
    parts = [f"{p['places']:,} places in {p['title']}" if p.get("places") else p["title"] for p in programmes]
    return " and ".join(parts)


def _saving_phrase(payer: str, row: Row | None, *, interval: bool) -> str:
    name, plural = _SUBJECTS[payer]
    if row is None or not math.isfinite(row["p50"]):
        return f"{name}: n/a"
    verb = ("save" if row["p50"] >= 0 else "pay") + ("" if plural else "s")
    text = f"{name} {verb} {format_sek(abs(row['p50']))}"
    if interval:
        text += f" (saving P10-P90: {format_sek(row['p10'], sign=True)} to {format_sek(row['p90'], sign=True)})"
    return text


def _msek(x: float) -> str:
    return f"{x / 1e6:+.1f} MSEK"


def _verdict(row: Row | None, gain: str, loss: str) -> str:
    """``gain``/``loss`` with the median in MSEK, or "unclear" when the P10-P90 interval spans zero.

    The interval is the saving's, in the one sign convention, and says so: beside "pays 15.3 MSEK"
    a bare "(-16.9 MSEK to -13.4 MSEK)" reads as a contradiction."""
    if row is None or not math.isfinite(row["p50"]):
        return "cannot be told (no value)"
    lo, hi = row["p10"], row["p90"]
    if math.isfinite(lo) and math.isfinite(hi) and lo < 0 < hi:
        return f"is unclear: between {_msek(lo)} and {_msek(hi)}"
    word = gain if row["p50"] >= 0 else loss
    return f"{word} {abs(row['p50']) / 1e6:.1f} MSEK (saving P10-P90: {_msek(lo)} to {_msek(hi)})"


def answer_sentences(comparison: Comparison, label: str) -> list[str]:
    """The answer in three plain sentences: people in work, the municipality, society and the state.

    Each says "unclear" when the P10-P90 interval over replications spans zero; money in MSEK
    with one decimal, discounted, counted from the programme's start.
    """
    h = _Headline(comparison.headline, label)
    horizons = sorted(int(x) for x in comparison.headline.loc[comparison.headline["scenario"] == label,
                                                              "horizon_months"].unique())
    main_h = _main_horizon(horizons)
    span = _years(main_h)
    extra = h.get("extra_in_work", main_h)
    if extra is None or not math.isfinite(extra["p50"]):
        work = f"After {span} the number of people in ordinary work cannot be told."
    elif extra["p10"] < 0 < extra["p90"]:
        work = (f"After {span} it is unclear whether more people are in ordinary work than without the programme "
                f"(between {format_count(extra['p10'])} and {format_count(extra['p90'])}).")
    else:
        more = "more" if extra["p50"] >= 0 else "fewer"
        work = (f"After {span}, {format_count(abs(extra['p50']))} {more} people are in ordinary work than "
                f"without the programme ({format_count(extra['p10'])} to {format_count(extra['p90'])}).")
    muni = _verdict(h.get("net_saving_discounted_sek", main_h, "municipality"), "saves", "pays")
    soc = _verdict(h.get("net_saving_discounted_sek", main_h, SOCIETY), "gains", "loses")
    state = _verdict(h.get("net_saving_discounted_sek", main_h, "state"), "saves", "pays")
    return [work,
            f"Over {span} the municipality's budget {muni}.",
            f"Society as a whole {soc}; the state {state}."]


def summary_paragraph(comparison: Comparison, label: str) -> str:
    """A plain-language paragraph of one scenario's headline numbers."""
    meta = comparison.meta
    h = _Headline(comparison.headline, label)
    horizons = sorted(int(x) for x in comparison.headline.loc[comparison.headline["scenario"] == label,
                                                              "horizon_months"].unique())
    main_h = _main_horizon(horizons)
    span = _years(main_h)
    title = meta["titles"].get(label, label)
    base_title = meta["titles"].get(comparison.baseline, comparison.baseline)
    out = []
    extra = h.get("extra_in_work", main_h)
    pm = h.get("extra_person_months_in_work", main_h)
    if extra is not None:
        more = "more" if extra["p50"] >= 0 else "fewer"
        text = (f"Over {span}, {title} gives {format_count(abs(extra['p50']))} (P10-P90: "
                f"{format_count(extra['p10'])} to {format_count(extra['p90'])}) {more} people in ordinary work at "
                f"the end of the period than {base_title}")
        if pm is not None and math.isfinite(pm["p50"]):
            text += (f", and {format_count(abs(pm['p50']))} {'more' if pm['p50'] >= 0 else 'fewer'} "
                     "person-months of work in all")
        out.append(text + ".")
    programmes = _programme_phrase(meta["programmes"].get(label, []))
    starts = h.get("programme_starts", main_h)
    if programmes:
        n = format_count(starts["p50"]) if starts is not None else "n/a"
        out.append(f"The scenario has {programmes}; {n} people start.")
    rate = meta.get("discount_rate_per_year", {}).get(label, float("nan"))
    phrases = [_saving_phrase(p, h.get("net_saving_discounted_sek", main_h, p), interval=p in ("municipality", "state"))
               for p in ALL_PAYERS if p != SOCIETY and p not in h.silent]
    soc = h.get("net_saving_discounted_sek", main_h, SOCIETY)
    soc_txt = "n/a" if soc is None else (
        f"{'gains' if soc['p50'] >= 0 else 'loses'} {format_sek(abs(soc['p50']))} (P10-P90: "
        f"{format_sek(soc['p10'], sign=True)} to {format_sek(soc['p90'], sign=True)})")
    out.append(f"Counting every flow of money over {span}, discounted at {rate:.1%} a year, "
               + "; ".join(phrases) + f". Society as a whole {soc_txt}: the value of the extra work minus "
               "the programme's real costs, since taxes and benefits only move money between payers.")
    pb = h.get("payback_month", main_h, "municipality")
    first = h.get("pays_first_share", main_h, "municipality")
    if first is not None and not first["p50"] >= 0.5:
        out.append(f"The municipality does not pay first in most replications (it pays first in "
                   f"{first['p50']:.0%}), so it has no payback month.")
    elif pb is not None:
        share = pb["share"]
        if math.isfinite(pb["p50"]):
            out.append(f"For the municipality the programme pays back from month {pb['p50']:.0f} in the median "
                       f"replication ({share:.0%} of replications pay back within {span}).")
        else:
            out.append(f"For the municipality the programme does not pay back within {span} in "
                       f"{1 - share:.0%} of the replications.")
    one = h.get("net_saving_discounted_sek", 12, "municipality") if main_h != 12 else None
    if one is not None:
        verb = "saves" if one["p50"] >= 0 else "pays"
        out.append(f"After the first year the municipality {verb} {format_sek(abs(one['p50']))}.")
    for g in comparison.goals[comparison.goals["scenario"] == label].itertuples():
        if math.isfinite(g.probability):
            out.append(f"The goal of {g.target_share:.0%} in {_MEASURES[g.measure]} within "
                       f"{g.within_months_of_start} months of starting is met in {g.probability:.0%} of the "
                       f"replications (median achieved: {g.median_achieved_share:.0%}).")
    src = comparison.sources
    mine = src["scenarios"].map(lambda names: label in str(names).split(", "))
    used = src[mine & (src["status"] != "goal")]
    uncal = int((used["status"] == "uncalibrated").sum())
    params = comparison.tables.get("parameters")
    drawn = (params is not None and bool(params["drawn"].astype(bool).any())
             and bool(params.loc[params["drawn"].astype(bool), "scenarios"].map(
                 lambda names: label in str(names).split(", ")).any()))
    what = ("chance and the calibrated parameters' posterior uncertainty (drawn per replication), not doubt "
            "about the other assumptions" if drawn else "chance, not doubt about the assumptions")
    out.append(f"Ranges are P10-P90 over {meta['replications']} paired replications and show {what}; "
               f"{uncal} of the {len(used)} sourced numbers behind this scenario are uncalibrated priors.")
    return " ".join(out)


def _scenario_section(comparison: Comparison, label: str) -> dict[str, Any]:
    h = _Headline(comparison.headline, label)
    horizons = sorted(int(x) for x in comparison.headline.loc[comparison.headline["scenario"] == label,
                                                              "horizon_months"].unique())
    shown = [x for x in horizons if x in (12, 60)] or horizons
    if max(horizons) not in shown:
        shown.append(max(horizons))
    headline_rows = []
    for metric, payer, name, kind in _METRIC_ROWS:
        cells = []
        for x in shown:
            row = h.get(metric, x, payer)
            cell = _interval(row, kind)
            if metric.startswith("cost_") and row is not None and 0 < row["n"] < comparison.meta["replications"]:
                cell["range"] += f" ({int(row['n'])} of {comparison.meta['replications']} replications)"
            cells.append(cell)
        if any(c["mid"] for c in cells):
            headline_rows.append({"name": name, "cells": cells})
    main_h = _main_horizon(horizons)
    payer_horizons = [x for x in shown if x in (12, 60)] or shown
    payer_rows = []
    for payer in (*ALL_PAYERS[:1], BEFORE_EQUALISATION, *ALL_PAYERS[1:]):
        if h.get("net_saving_discounted_sek", main_h, payer) is None or payer in h.silent:
            continue
        cells = [_interval(h.get("net_saving_discounted_sek", x, payer), "sek") for x in payer_horizons]
        main = h.get("net_saving_discounted_sek", main_h, payer)
        verdict = ""
        if main is not None:
            verdict = ("saves" if main["p10"] > 0 else "pays" if main["p90"] < 0 else "unclear")
        name = ("Municipality before income equalisation (what its own tax base gives; its budget sees the "
                "line above)" if payer == BEFORE_EQUALISATION else PAYER_LABELS[payer])
        payer_rows.append({"name": name, "cells": cells, "verdict": verdict,
                           "payback": _payback(h.get("payback_month", max(horizons), payer)),
                           "society": payer == SOCIETY})
    cat = comparison.categories
    cat = cat[(cat["scenario"] == label) & (cat["horizon_months"] == main_h)]
    wide = cat.pivot_table(index="category", columns="payer", values="p50", aggfunc="first")
    cat_payers = [p for p in ALL_PAYERS if p in wide.columns]
    cat_rows = [{"name": c.replace("_", " "), "cells": [f"{wide.at[c, p] / 1e6:+.1f}"
                                                         if pd.notna(wide.at[c, p]) else "" for p in cat_payers]}
                for c in wide.index]
    goals = [{"goal": g.goal, "text": f"{g.target_share:.0%} of participants in {_MEASURES[g.measure]} "
                                      f"within {g.within_months_of_start} months of starting {g.programme}",
              "probability": "n/a" if not math.isfinite(g.probability) else f"{g.probability:.0%}",
              "achieved": "n/a" if not math.isfinite(g.median_achieved_share)
              else f"{g.median_achieved_share:.0%} ({g.p10_achieved_share:.0%} to {g.p90_achieved_share:.0%})",
              "source": g.source}
             for g in comparison.goals[comparison.goals["scenario"] == label].itertuples()]
    a = comparison.assumptions
    return {
        "label": label,
        "title": comparison.meta["titles"].get(label, label),
        "description": comparison.meta.get("descriptions", {}).get(label, ""),
        "warnings": comparison.meta.get("warnings", {}).get(label, []),
        "answer": answer_sentences(comparison, label),
        "summary": summary_paragraph(comparison, label),
        "horizons": [_years(x) for x in shown],
        "payer_horizons": [_years(x) for x in payer_horizons],
        "full_horizon": _years(max(horizons)),
        "main_horizon": _years(main_h),
        "headline_rows": headline_rows,
        "payer_rows": payer_rows,
        "silent_payers": [PAYER_LABELS[p] for p in h.silent],
        "category_payers": [PAYER_LABELS[p] for p in cat_payers],
        "category_rows": cat_rows,
        "goals": goals,
        "assumptions": a[a["scenario"] == label].to_dict("records"),
        "driving": _driving(comparison, label, main_h),
        "bridge": _bridge(comparison, label, main_h),
    }


def _bridge(comparison: Comparison, label: str, horizon: int) -> dict[str, Any] | None:
    """Why the answer differs from a payoff-style evaluation: the steps in words and a waterfall."""
    from sim.analysis.payoff import explain
    from sim.present.waterfall import waterfall_figure

    bridge = comparison.tables.get("bridge")
    if bridge is None or bridge.empty or not (bridge["scenario"] == label).any():
        return None
    b = bridge[bridge["scenario"] == label]
    h = horizon if (b["horizon_months"] == horizon).any() else int(b["horizon_months"].max())
    return {"horizon": _years(h),
            "municipality": explain(bridge, label, h, "municipality"),
            "society": explain(bridge, label, h, "society"),
            "svg": FigureCache.default().svg(waterfall_figure, bridge, label, h)}


def _driving(comparison: Comparison, label: str, horizon: int) -> dict[str, Any] | None:
    """The assumptions that drive the answer: the lines in words and the tornado figure."""
    from sim.analysis.assumptions_driving import lines_text
    from sim.present.tornado import tornado_figure

    lines = comparison.tables.get("assumption_lines")
    if lines is None or lines.empty or not (lines["scenario"] == label).any():
        return None
    h = horizon if (lines.loc[lines["scenario"] == label, "horizon_months"] == horizon).any() else \
        int(lines.loc[lines["scenario"] == label, "horizon_months"].max())
    return {"text": lines_text(lines, label, h),
            "svg": FigureCache.default().svg(tornado_figure, lines, comparison.headline, label, h)}


def _msek_band(row: Row | None) -> dict[str, str]:
    """A money cell in MSEK with one decimal: the median and its P10-P90 range."""
    if row is None:
        return {"mid": "", "range": ""}
    return {"mid": f"{row['p50'] / 1e6:+.1f}", "range": f"{row['p10'] / 1e6:+.1f} to {row['p90'] / 1e6:+.1f}"}


def side_by_side(comparison: Comparison, horizon: int) -> dict[str, Any] | None:
    """Every scenario in one table (columns), each against the baseline after ``horizon`` months:
    each payer's discounted saving, the extra people in work, the programmes' starts and what
    limits them. ``None`` with a single scenario (its own section says all of it)."""
    labels = list(comparison.scenarios)
    if len(labels) < 2:
        return None
    hs = [_Headline(comparison.headline, label) for label in labels]
    rows = []
    for payer in (ALL_PAYERS[0], BEFORE_EQUALISATION, *ALL_PAYERS[1:]):
        got = [h.get("net_saving_discounted_sek", horizon, payer) for h in hs]
        if all(g is None or max(abs(g["p10"]), abs(g["p50"]), abs(g["p90"])) < 0.05e6 for g in got):
            continue  # nothing to show at one decimal of MSEK
        cells = [_msek_band(g) for g in got]
        name = ("Municipality before income equalisation" if payer == BEFORE_EQUALISATION else PAYER_LABELS[payer])
        rows.append({"name": f"{name[0].upper()}{name[1:]}, MSEK", "cells": cells, "society": payer == SOCIETY,
                     "text": False})
    for metric, name in (("extra_in_work", "Extra people in ordinary work at the end"),
                         ("programme_starts", "Programme starts")):
        rows.append({"name": name, "cells": [_interval(h.get(metric, horizon), "count") for h in hs],
                     "society": False, "text": False})
    limits = comparison.tables.get("limits")
    if limits is not None and not limits.empty:
        def limit_text(label: str) -> str:
            own = limits[limits["scenario"] == label]
            return "; ".join(f"{r.programme + ': ' if len(own) > 1 else ''}{r.limit} ({r.peak_participants:.0f} of "
                             f"{r.capacity_max:.0f} places filled at most, peak queue {r.peak_queue:.0f})"
                             for r in own.itertuples())

        rows.append({"name": "What limits the programme", "society": False, "text": True,
                     "cells": [{"mid": limit_text(label), "range": ""} for label in labels]})
    titles = [comparison.meta["titles"].get(label, label) for label in labels]
    pairs = comparison.tables.get("pairs")
    between = []
    if pairs is not None and not pairs.empty:
        for pair in dict.fromkeys(pairs["scenario"]):
            ph = _Headline(pairs, pair)
            b, a = pair.split(" vs ", 1)
            between.append({"name": f"{comparison.meta['titles'].get(b, b)} instead of "
                                    f"{comparison.meta['titles'].get(a, a)}",
                            "cells": [_msek_band(ph.get("net_saving_discounted_sek", horizon, p))
                                      for p in (ALL_PAYERS[0], SOCIETY)]
                            + [_interval(ph.get("extra_in_work", horizon), "count")]})
    return {"horizon": _years(horizon), "titles": titles, "rows": rows, "pairs": between}


def _sources(comparison: Comparison) -> dict[str, Any]:
    """The sources table's rows, each with the numbers of the full references it cites, and the
    references themselves (numbered in order of first citation)."""
    from sim.scenario.references import cited

    numbers: dict[str, int] = {}
    texts: list[str] = []
    rows = comparison.sources.to_dict("records")
    found: dict[str, list[Any]] = {}  # many numbers share a source string: each is searched once
    for row in rows:
        refs = []
        source = str(row.get("source", ""))
        if source not in found:
            found[source] = cited(source)
        for ref in found[source]:
            if ref.id not in numbers:
                numbers[ref.id] = len(texts) + 1
                texts.append(ref.full())
            refs.append(numbers[ref.id])
        row["refs"] = ", ".join(f"[{n}]" for n in refs)
    return {"sources": rows, "references": texts}


def _parameters(comparison: Comparison) -> dict[str, Any]:
    """The report's section on calibrated parameters and priors (from the ``parameters`` table)."""
    table = comparison.tables.get("parameters")
    if table is None or table.empty:
        return {"summary": "This comparison lists no calibrated parameters or priors.", "drawn": [], "fixed": [],
                "priors": []}
    flag = table["drawn"].astype(bool)
    cal = table["status"] == "calibrated"
    drawn = table[cal & flag].to_dict("records")
    fixed = table[cal & ~flag & ~table["path"].isin(table.loc[cal & flag, "path"])].to_dict("records")
    priors = table[table["status"] == "uncalibrated"].to_dict("records")
    fits = sorted({str(r["calibration"]) for r in drawn})
    reps = comparison.meta["replications"]
    if drawn:
        summary = (f"{len({r['path'] for r in drawn})} calibrated parameters are drawn from their fit's posterior "
                   f"({', '.join(fits)}), one draw per replication and the same draw for a scenario and its "
                   f"baseline, so the {reps} replications' intervals carry what the calibration leaves uncertain.")
    elif comparison.meta.get("fixed_parameters"):
        summary = ("Calibrated parameters are fixed at their posterior medians in this run (--fixed-parameters): "
                   "the intervals show chance only.")
    else:
        summary = "No calibrated parameter is drawn per replication here: the intervals show chance only."
    summary += (f" {len({r['path'] for r in priors})} values are priors (status uncalibrated), held fixed."
                if priors else "")
    return {"summary": summary, "drawn": drawn, "fixed": fixed, "priors": priors}


@functools.cache
def _template() -> jinja2.Template:
    """The report's template, compiled once per process and, across processes, read from jinja2's
    bytecode cache (a folder of this user's in the system's temporary folder, which jinja2 checks
    is theirs; each entry is keyed by the template's name and checked against its source, so an
    edited template is compiled again): compiling it costs ~0.06 CPU-s, reading it back ~1 ms.
    Without a usable cache folder the template is compiled as before."""
    try:
        cache: jinja2.BytecodeCache | None = jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # no temporary folder of our own: compile every time
        cache = None
    env = jinja2.Environment(loader=jinja2.PackageLoader("sim.present", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             bytecode_cache=cache)
    return env.get_template("report.html.j2")


def render_report(comparison: Comparison) -> str:
    """The report as one HTML string (see :func:`write_report`)."""
    meta = comparison.meta
    horizons = sorted(int(x) for x in comparison.headline["horizon_months"].unique())
    main_h = _main_horizon(horizons)
    cache = FigureCache.default()
    figures = [
        {"title": f"Who pays, who saves after {_years(main_h)}",
         "svg": cache.svg(who_pays_figure, comparison.headline, main_h),
         "caption": "Bars: median net discounted saving per payer; whiskers: P10-P90 over replications."},
        {"title": "Cumulative saving over time",
         "svg": cache.svg(cumulative_saving_figure, comparison.money),
         "caption": "Scenario minus baseline, cumulative and discounted, per payer."},
        {"title": "Where people are",
         "svg": cache.svg(stock_bands_figure, comparison.stock_bands),
         "caption": "People in each stage per month: median line, P10-P90 band, baseline included."},
    ]
    scenarios = [_scenario_section(comparison, label) for label in comparison.scenarios]
    titles = ", ".join(s["title"] for s in scenarios)
    return _template().render(
        title=f"{titles} compared with {meta['titles'].get(comparison.baseline, comparison.baseline)}",
        meta=meta,
        baseline_title=meta["titles"].get(comparison.baseline, comparison.baseline),
        scenarios=scenarios,
        side_by_side=side_by_side(comparison, main_h),
        figures=figures,
        **_sources(comparison),
        parameters=_parameters(comparison),
        limitations=LIMITATIONS,
        rate=next(iter(meta.get("discount_rate_per_year", {}).values()), float("nan")),
        horizon=_years(int(meta["horizon_months"])),
    )


def write_report(comparison: Comparison, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``out_dir/report.html`` (atomically: a temporary file renamed into place).

    Returns:
        The path of the report.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html = render_report(comparison)
    fd, tmp = tempfile.mkstemp(prefix=".report.", suffix=".html.tmp", dir=out)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out / "report.html")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out / "report.html"

