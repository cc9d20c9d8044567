"""Figures and the HTML report of a comparison."""

from __future__ import annotations

import re

import pytest
from factories import JOBS, PROGRAMME, scenario
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D

from sim.analysis.comparison import ALL_PAYERS, Comparison, compare
from sim.present.figures import (
    PAYER_LABELS,
    STAGE_LABELS,
    cumulative_saving_figure,
    stock_bands_figure,
    who_pays_figure,
)
from sim.present.report import format_count, format_sek, render_report, write_report

SMALL = {"population": {"cohort": {"size": 250}}, "horizon_months": 72}
GOAL = {"name": "coach_goal", "programme": "coach", "measure": "work", "within_months_of_start": 12,
        "target_share": 0.2, "source": "a stated goal"}


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    base = scenario([], name="base", title="Today's policy", **SMALL)
    coach = scenario([PROGRAMME], name="coach", title="Coaching <for> all & more", goals=[GOAL], **SMALL)
    both = scenario([PROGRAMME, JOBS], name="both", title="Coaching and jobs", **SMALL)
    return compare(base, [coach, both], seed=5, replications=3)


def _drawn(fig, kind, label=None):
    """The artists of type ``kind`` drawn in the figure's panels (with ``label``, if given)."""
    return [a for a in fig.artists if isinstance(a, kind) and (label is None or a.get_label() == label)]


def _texts(fig):
    return [t.get_text() for t in fig.texts]


def test_stock_bands_figure(comparison):
    fig = stock_bands_figure(comparison.stock_bands, ["work", "open", "coaching"])
    titles = [t for t in _texts(fig) if t in STAGE_LABELS.values()]
    assert titles == [STAGE_LABELS[s] for s in ("work", "open", "coaching")]  # a panel each, in order
    for label in ("base", "coach", "both"):
        assert len(_drawn(fig, Line2D, label)) == 3  # each scenario's median in every panel
    assert len(_drawn(fig, PolyCollection)) == 9  # and its P10-P90 band
    assert fig.legends and [t.get_text() for t in fig.legends[0].get_texts()] == ["base", "coach", "both"]
    default = stock_bands_figure(comparison.stock_bands)
    assert len(_drawn(default, Line2D, "base")) >= 4


def test_cumulative_saving_figure(comparison):
    fig = cumulative_saving_figure(comparison.money, ["municipality", "society"])
    titles = [t for t in _texts(fig) if t in PAYER_LABELS.values()]
    assert titles == [PAYER_LABELS["municipality"], PAYER_LABELS["society"]]
    for label in ("coach", "both"):
        assert len(_drawn(fig, Line2D, label)) == 2
    assert len(_drawn(fig, Line2D)) == 2 * 2 + 2  # two scenarios and the zero line, per panel


def test_who_pays_figure(comparison):
    fig = who_pays_figure(comparison.headline, 60)

    def bars(f):
        return sum(len(c.get_paths()) for c in _drawn(f, PolyCollection))

    assert bars(fig) == len(ALL_PAYERS) * 2  # a bar per payer and scenario
    assert [PAYER_LABELS[p] for p in ALL_PAYERS] == [t for t in _texts(fig) if t in PAYER_LABELS.values()]
    one = comparison.headline[comparison.headline["scenario"] == "coach"]
    assert bars(who_pays_figure(one, 12)) == len(ALL_PAYERS)
    with pytest.raises(ValueError, match="horizons"):
        who_pays_figure(comparison.headline, 13)


def test_panels_ticks_are_those_an_axes_chooses():
    """The panels' own ticks (no Axes) are the ones matplotlib's axis would show over the same range."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    from sim.present.panel import auto_ticks

    for lo, hi, axis, length in ((-15.9, 1.2, "x", 230.0), (-4.2, 33.0, "x", 230.0), (-3.0, 0.4, "y", 120.0),
                                 (0.0, 1234.0, "y", 120.0)):
        fig = Figure(figsize=(length / 72 + 1, length / 72 + 1), dpi=100)
        FigureCanvasSVG(fig)
        ax = fig.add_axes((0.5 / (length / 72 + 1), 0.5 / (length / 72 + 1), length / 72 / (length / 72 + 1),
                           length / 72 / (length / 72 + 1)))
        ax.tick_params(labelsize=8)
        getattr(ax, f"set_{axis}lim")(lo, hi)
        fig.draw_without_rendering()
        axis_ = getattr(ax, f"{axis}axis")
        want = [(loc, label.get_text()) for loc, label in zip(axis_.get_majorticklocs(), axis_.get_ticklabels(),
                                                              strict=True) if lo <= loc <= hi]
        assert len(want) >= 3
        values, labels = auto_ticks(lo, hi, length_points=length, label_points=8, axis=axis)
        assert [(round(v, 9), s) for v, s in zip(values, labels, strict=True)] == [(round(v, 9), s) for v, s in want]


def test_figures_save_as_png(comparison, tmp_path):
    fig = who_pays_figure(comparison.headline, 72)
    fig.savefig(tmp_path / "who.png")
    assert (tmp_path / "who.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_is_self_contained_and_complete(comparison, tmp_path):
    path = write_report(comparison, tmp_path / "out")
    assert path == tmp_path / "out" / "report.html"
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    # payers by name
    for payer in ALL_PAYERS:
        assert PAYER_LABELS[payer] in html, payer
    # numbers from the headline table, formatted as the report formats them
    h = comparison.headline
    for label in ("coach", "both"):
        mun = h[(h["scenario"] == label) & (h["metric"] == "net_saving_discounted_sek")
                & (h["payer"] == "municipality") & (h["horizon_months"] == 60)].iloc[0]
        assert format_sek(mun["p50"]) in html
        assert format_sek(mun["p10"]) in html and format_sek(mun["p90"]) in html
        extra = h[(h["scenario"] == label) & (h["metric"] == "extra_in_work") & (h["horizon_months"] == 60)].iloc[0]
        assert f"{format_count(abs(extra['p50']))} (P10-P90: {format_count(extra['p10'])}" in html
    # every figure embedded, nothing fetched from elsewhere, no scripts
    # three figures for the comparison, and one tornado of the driving assumptions per scenario
    assert html.count("data:image/svg+xml;base64,") == 3 + 2 * len(comparison.scenarios)  # + tornado, waterfall
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", html)
    # sections
    for text in ("Headline numbers", "Who pays, who saves", "Goals", "Assumptions that differ", "Sources",
                 "What the model does not do", "student finance", "a stated goal"):
        assert text in html, text
    assert "programmes.coach.capacity.staff" in html


def test_report_escapes_text(comparison):
    html = render_report(comparison)
    assert "Coaching &lt;for&gt; all &amp; more" in html
    assert "<for>" not in html


def test_report_from_a_saved_comparison(comparison, tmp_path):
    comparison.save(tmp_path / "cmp")
    loaded = Comparison.load(tmp_path / "cmp")
    path = write_report(loaded, tmp_path / "cmp")
    html = path.read_text(encoding="utf-8")
    # three figures for the comparison, and one tornado of the driving assumptions per scenario
    assert html.count("data:image/svg+xml;base64,") == 3 + 2 * len(comparison.scenarios)  # + tornado, waterfall
    assert (tmp_path / "cmp" / "money.parquet").exists()  # the report sits beside the tables


def test_a_payer_that_does_not_pay_first_has_no_payback_month_in_the_report(comparison):
    """As in the terminal: a payer that pays nothing before it saves (in most replications) "does
    not pay first"; "not within the period" would tell a reader it never pays back."""
    from sim.present.report import _scenario_section

    h = comparison.headline
    for label in comparison.scenarios:
        rows = {r["name"]: r["payback"] for r in _scenario_section(comparison, label)["payer_rows"]}
        full = h.loc[h["scenario"] == label, "horizon_months"].max()
        first = h[(h["scenario"] == label) & (h["metric"] == "pays_first_share") & (h["horizon_months"] == full)]
        never = {PAYER_LABELS[p] for p, share in zip(first["payer"], first["p50"], strict=True) if share < 0.5}
        assert PAYER_LABELS["esf"] in never  # it pays and saves nothing
        for name, payback in rows.items():
            if name in never:
                assert payback == "does not pay first", (label, name)
            elif name in PAYER_LABELS.values():
                assert payback != "does not pay first", (label, name)


def test_the_report_never_says_a_benefit_its_own_ledger_books_is_not_modelled(comparison):
    """The family allowances (child allowance, maintenance support, housing allowance) are booked,
    and show in the report's table of categories; its list of what the model leaves out must not
    deny them."""
    from sim.present.report import LIMITATIONS

    assert "family_allowances" in set(comparison.categories["category"])
    html = render_report(comparison)
    assert "family allowances" in html
    for line in LIMITATIONS:
        denied = line.split(";")[-1] if "not modelled" in line else ""
        for benefit in ("child allowance", "housing allowance", "maintenance support"):
            assert benefit not in denied.lower(), line


def test_payers_no_money_of_whose_moves_are_named_once_not_called_unclear(comparison):
    """As in the terminal ("no saving at all for"): a payer whose saving is exactly zero in every
    replication gets no row of zeros with the verdict "unclear", nor "saves 0 SEK" in the text."""
    from sim.present.report import _scenario_section, summary_paragraph

    for label in comparison.scenarios:
        section = _scenario_section(comparison, label)
        assert PAYER_LABELS["esf"] in section["silent_payers"]
        assert PAYER_LABELS["esf"] not in {r["name"] for r in section["payer_rows"]}
        assert "saves 0 SEK" not in summary_paragraph(comparison, label)
    html = render_report(comparison)
    assert "No saving at all for: " in html and ">unclear</td><td>does not pay first" not in html


def test_a_payer_is_silent_only_when_every_horizon_and_band_is_exactly_zero():
    """One non-zero band at one horizon, or a value that cannot be told (NaN), is money that moves."""
    import pandas as pd

    from sim.analysis.comparison import silent_payers

    rows = [("esf", 12, 0.0, 0.0, 0.0), ("esf", 60, 0.0, 0.0, 0.0),
            ("region", 12, 0.0, 0.0, 0.0), ("region", 60, -1.0, 0.0, 0.0),
            ("employer", 12, 0.0, float("nan"), 0.0),
            ("state", 12, 5.0, 5.0, 5.0)]
    table = pd.DataFrame(rows, columns=["payer", "horizon_months", "p10", "p50", "p90"])
    table.insert(0, "metric", "net_saving_discounted_sek")
    other = table.assign(metric="programme_starts", payer="state", p10=0.0, p50=0.0, p90=0.0)
    assert silent_payers(pd.concat([table, other], ignore_index=True)) == {"esf"}


def test_number_formats():
    assert format_sek(12_345_678) == "12.3 MSEK"
    assert format_sek(-450_499) == "-450,000 SEK"
    assert format_sek(1234, sign=True) == "+1,234 SEK"
    assert format_sek(float("nan")) == "n/a"
    assert format_count(-2.6) == "-3"


def test_the_answer_says_unclear_when_an_interval_spans_zero():
    import pandas as pd

    from sim.present.report import _verdict

    assert _verdict(pd.Series({"p10": -4.0e6, "p50": 0.257e6, "p90": 2.2e6}), "saves", "pays") == \
        "is unclear: between -4.0 MSEK and +2.2 MSEK"
    assert _verdict(pd.Series({"p10": 1.0e6, "p50": 2.0e6, "p90": 3.0e6}), "saves", "pays") == \
        "saves 2.0 MSEK (saving P10-P90: +1.0 MSEK to +3.0 MSEK)"
    assert _verdict(pd.Series({"p10": -3.0e6, "p50": -2.0e6, "p90": -1.0e6}), "saves", "pays") == \
        "pays 2.0 MSEK (saving P10-P90: -3.0 MSEK to -1.0 MSEK)"


def test_figures_import_matplotlib_only_when_drawing_and_never_seaborn_pyplot_or_scipy():
    """The main job draws these on every run: importing the module is free, and drawing them as SVG
    loads only matplotlib's SVG canvas (no seaborn, no pyplot, no scipy; the SVG backend itself
    imports the small Agg module, for rasterised parts)."""
    code = (
        "import sys\n"
        "import pandas as pd\n"
        "from sim.present import figures as F\n"
        "before = [m for m in ('matplotlib', 'seaborn', 'scipy') if m in sys.modules]\n"
        "months = [f'2012-{m:02d}' for m in range(1, 13)] + [f'2013-{m:02d}' for m in range(1, 13)]\n"
        "bands = pd.DataFrame([{'scenario': s, 'month': m, 'stage': 'work', 'p10': i, 'p50': i + 1, 'p90': i + 2}\n"
        "                      for s in ('base', 'x') for i, m in enumerate(months)])\n"
        "money = pd.DataFrame([{'scenario': 'x', 'replication': r, 'month': m, 'payer': 'society',\n"
        "                       'cumulative_saving_discounted_sek': 1e5 * (i - r)}\n"
        "                      for r in range(3) for i, m in enumerate(months)])\n"
        "head = pd.DataFrame([{'scenario': 'x', 'metric': 'net_saving_discounted_sek', 'horizon_months': 24,\n"
        "                      'payer': 'society', 'p10': -1e6, 'p50': 1e6, 'p90': 2e6}])\n"
        "import io\n"
        "for fig in (F.stock_bands_figure(bands), F.cumulative_saving_figure(money), F.who_pays_figure(head, 24)):\n"
        "    fig.savefig(io.BytesIO(), format='svg')\n"
        "after = [m for m in ('seaborn', 'scipy', 'matplotlib.pyplot') if m in sys.modules]\n"
        "print('BEFORE:' + ','.join(before) + ' AFTER:' + ','.join(after))\n")
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300,
                         check=True)
    assert "BEFORE: AFTER:\n" in out.stdout, out.stdout + out.stderr



def test_loading_matplotlib_for_figures_leaves_its_help_text_function_as_it_was():
    """The figures import matplotlib without the property lists of its artists' docstrings (a third of
    the import), and only while importing: afterwards ``kwdoc`` lists an artist's properties as ever,
    the artists' ``set`` keeps its signature, and an import done by anyone earlier is left alone."""
    code = (
        "import inspect, sys\n"
        "from sim.present.panel import load_matplotlib\n"
        "if sys.argv[1] == 'first':\n"
        "    import matplotlib.figure\n"
        "load_matplotlib()\n"
        "import matplotlib.artist, matplotlib.lines\n"
        "doc = matplotlib.lines.Line2D.set.__doc__\n"
        "print('KWDOC', 'linewidth' in matplotlib.artist.kwdoc(matplotlib.lines.Line2D),\n"
        "      'SIGNATURE', 'linewidth' in inspect.signature(matplotlib.lines.Line2D.set).parameters,\n"
        "      'DOC', 'solid_capstyle' in doc, 'FIGURE', 'matplotlib.figure' in sys.modules)\n")
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    lean, full = (subprocess.run([sys.executable, "-c", code, how], cwd=root, capture_output=True, text=True,
                                 timeout=300, check=True).stdout for how in ("lean", "first"))
    assert "KWDOC True SIGNATURE True DOC False FIGURE True" in lean, lean
    assert "KWDOC True SIGNATURE True DOC True FIGURE True" in full, full

def test_report_figures_fit_the_page(comparison):
    """Figures are drawn at about the page's width (62rem), so the browser does not scale them much."""
    import base64

    html = render_report(comparison)
    widths = [int(re.search(r'<svg[^>]* width="(\d+)px"', base64.b64decode(svg).decode("utf-8"))[1])
              for svg in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", html)]
    assert len(widths) == 3 + 2 * len(comparison.scenarios)  # + each scenario's tornado and waterfall
    assert all(600 <= w <= 1100 for w in widths), widths


def test_several_scenarios_are_shown_side_by_side_with_their_paired_differences(comparison):
    from sim.present.report import side_by_side

    table = side_by_side(comparison, 60)
    assert table["titles"] == ["Coaching <for> all & more", "Coaching and jobs"]
    rows = {r["name"]: r["cells"] for r in table["rows"]}
    h = comparison.headline
    for j, label in enumerate(("coach", "both")):
        mun = h[(h["scenario"] == label) & (h["metric"] == "net_saving_discounted_sek")
                & (h["payer"] == "municipality") & (h["horizon_months"] == 60)].iloc[0]
        assert rows["Municipality, MSEK"][j]["mid"] == f"{mun['p50'] / 1e6:+.1f}"
        assert rows["Municipality, MSEK"][j]["range"] == f"{mun['p10'] / 1e6:+.1f} to {mun['p90'] / 1e6:+.1f}"
        assert rows["What limits the programme"][j]["mid"]  # the binding limit, in words
    # the pair's own paired interval, not the difference of the two intervals
    pair = comparison.tables["pairs"]
    both_vs_coach = pair[(pair["metric"] == "net_saving_discounted_sek") & (pair["payer"] == "municipality")
                         & (pair["horizon_months"] == 60)].iloc[0]
    assert table["pairs"][0]["name"] == "Coaching and jobs instead of Coaching <for> all & more"
    assert table["pairs"][0]["cells"][0]["mid"] == f"{both_vs_coach['p50'] / 1e6:+.1f}"
    html = render_report(comparison)
    assert "The scenarios side by side" in html and "Coaching and jobs instead of" in html


def test_every_source_in_the_report_is_given_as_a_full_reference():
    from sim import load_scenario
    from sim.present.report import _sources

    comparison = compare(load_scenario("scenarios/c2-lycksele-baseline.yaml"),
                         [load_scenario("scenarios/c2-lycksele.yaml")], replications=2, sensitivity=False, bridge=False)
    got = _sources(comparison)
    cited_rows = [r for r in got["sources"] if r["refs"]]
    assert len(cited_rows) == len(got["sources"]) > 50 and got["references"]
    numbers = {int(n) for r in got["sources"] for n in re.findall(r"\[(\d+)\]", r["refs"])}
    assert numbers == set(range(1, len(got["references"]) + 1))  # each reference is cited, none missing
    html = render_report(comparison)
    for text in got["references"]:
        assert text.replace("&", "&amp;").replace("<", "&lt;")[:60] in html.replace("&#39;", "'")


def test_every_report_figure_shows_in_a_notebook(comparison):
    """Jupyter draws a returned figure through IPython's ``print_figure``, which shows nothing for a
    figure without axes or lines; the report's figures have no axes, so they must still show."""
    from IPython.core.pylabtools import print_figure

    from sim.present.tornado import tornado_figure
    from sim.present.waterfall import waterfall_figure

    label = comparison.scenarios[0]
    figures = [who_pays_figure(comparison.headline, 60), stock_bands_figure(comparison.stock_bands),
               cumulative_saving_figure(comparison.money)]
    if "assumption_lines" in comparison.tables:
        figures.append(tornado_figure(comparison.tables["assumption_lines"], comparison.headline, label, 12))
    if "bridge" in comparison.tables:
        figures.append(waterfall_figure(comparison.tables["bridge"], label, 12))
    for fig in figures:
        png = print_figure(fig, "png")
        assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"


def test_tornado_labels_of_dots_too_close_to_print_apart_are_one_label():
    """Each value is named once on its row; values whose dots nearly coincide (the lines of a
    transfer, equal for society) share one label instead of printing over each other, and
    neighbouring labels go above and below in turn."""
    import numpy as np

    from sim.present.tornado import _labels

    marks = _labels(["223", "320", "365"], np.array([-16.8, -16.2, -15.9]), 3.0, near=1.0)
    assert [m[0] for m in marks] == ["223/320/365"] and marks[0][1] == pytest.approx(-16.3)
    marks = _labels(["0", "0.5", "1"], np.array([-4.2, 14.0, 14.1]), 0.0, near=1.0)
    assert [(m[0], m[3]) for m in marks] == [("0", 6), ("0.5/1", -12)]
    marks = _labels(["0.05", "0.5", "1"], np.array([-16.1, -13.2, -10.1]), 1.0, near=1.0)
    assert [m[0] for m in marks] == ["0.05", "0.5", "1"] and [m[3] for m in marks] == [6, -12, 6]
