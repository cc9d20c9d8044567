"""The report of a three-scenario comparison, rendered in headless Chromium: every figure fits
its container (no horizontal overflow, nothing cut off) and its text is not tiny at the size it
is shown; and inside each figure no title, label or tick label runs off the image.

The browser part uses Debian's ``/usr/bin/chromium`` through Playwright (as ``tests/test_app.py``)
and is skipped where it is missing; the in-figure check needs no browser.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
#: The smallest text, in CSS pixels at the size a figure is shown, that counts as readable.
MIN_TEXT_PX = 10.0
#: Widths of the browser window the report is read at (a laptop, a wide screen).
VIEWPORTS = (1280, 1600)


@pytest.fixture(scope="module")
def comparison():
    from sim.analysis.comparison import compare

    base = load_scenario(SCENARIOS / "sigtuna-resursjobb-baseline.yaml")
    scenarios = [load_scenario(SCENARIOS / f) for f in ("sigtuna-resursjobb.yaml", "sigtuna-resursjobb-100.yaml",
                                                         "sigtuna-resursjobb-akassa.yaml")]
    return compare(base, scenarios, replications=2, sensitivity=True, bridge=True)


def _figures(comparison) -> list:
    """The report's figures in the order the page shows them (see the report's template)."""
    from sim.present.figures import cumulative_saving_figure, stock_bands_figure, who_pays_figure
    from sim.present.tornado import tornado_figure
    from sim.present.waterfall import waterfall_figure

    out = []
    for label in comparison.scenarios:
        out.append(tornado_figure(comparison.tables["assumption_lines"], comparison.headline, label, 60))
        out.append(waterfall_figure(comparison.tables["bridge"], label, 60))
    return out + [who_pays_figure(comparison.headline, 60), cumulative_saving_figure(comparison.money),
                  stock_bands_figure(comparison.stock_bands)]


def _texts(fig) -> list:
    from matplotlib.text import Text

    texts = list(fig.texts) + [a for a in fig.artists if isinstance(a, Text)]  # panels' labels in data space
    if fig._suptitle is not None:
        texts.append(fig._suptitle)
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        # tick labels that are drawn: those inside the axis' limits
        lo, hi = sorted(ax.get_xlim())
        texts += [t for t in ax.get_xticklabels() if lo - 1e-9 <= t.get_position()[0] <= hi + 1e-9]
        lo, hi = sorted(ax.get_ylim())
        texts += [t for t in ax.get_yticklabels() if lo - 1e-9 <= t.get_position()[1] <= hi + 1e-9]
        legend = ax.get_legend()
        if legend is not None:
            texts += legend.get_texts()
    for legend in fig.legends:
        texts += legend.get_texts()
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def test_no_text_of_a_figure_runs_off_its_image(comparison):
    for fig in _figures(comparison):
        fig.draw_without_rendering()  # whatever the canvas (the report's is SVG)
        width, height = fig.canvas.get_width_height()
        texts = _texts(fig)
        assert len(texts) >= 8  # titles and tick labels are there to check
        for t in texts:
            box = t.get_window_extent()
            assert box.x0 >= -0.5 and box.x1 <= width + 0.5 and box.y0 >= -0.5 and box.y1 <= height + 0.5, \
                (t.get_text(), box.bounds, (width, height))


def _smallest_pt(fig) -> float:
    return min(t.get_fontsize() for t in _texts(fig))


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (Debian package 'chromium'; "
                                                  "apt-get install -y chromium)")
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_report_in_a_browser_shows_every_figure_whole_and_readable(comparison, tmp_path, viewport):
    from playwright.sync_api import sync_playwright

    from sim.present.report import write_report

    report = write_report(comparison, tmp_path)
    figures = _figures(comparison)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": viewport, "height": 900})
            page.goto(report.as_uri())
            page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
            overflow = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert overflow[0] <= overflow[1], f"the page scrolls sideways: {overflow}"
            images = page.evaluate("""[...document.images].map(i => {
                const r = i.getBoundingClientRect(), c = i.parentElement.getBoundingClientRect();
                // w, h: the drawn picture, without the border the stylesheet gives it
                return {alt: i.alt, nw: i.naturalWidth, nh: i.naturalHeight, x0: r.left, x1: r.right, w: i.clientWidth,
                        h: i.clientHeight, c0: c.left, c1: c.right};
            })""")
            page.screenshot(path=str(tmp_path / f"report-{viewport}.png"), full_page=True)
        finally:
            browser.close()
    assert len(images) == len(figures)
    for img, fig in zip(images, figures, strict=True):
        width, height = fig.canvas.get_width_height()  # the pixels Agg prints
        assert (img["nw"], img["nh"]) == (width, height), img["alt"]  # the image is the figure we think
        assert img["c0"] - 0.5 <= img["x0"] and img["x1"] <= img["c1"] + 0.5, f"{img['alt']} overflows: {img}"
        assert img["w"] <= img["nw"] + 0.5 and abs(img["h"] / img["w"] - height / width) < 0.01, img  # not stretched
        shown_px = _smallest_pt(fig) * fig.dpi / 72 * img["w"] / img["nw"]
        assert shown_px >= MIN_TEXT_PX, f"{img['alt']}: smallest text {shown_px:.1f} px at {viewport} px"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium")
def test_the_report_with_every_section_opened_does_not_scroll_sideways(comparison, tmp_path):
    from playwright.sync_api import sync_playwright

    from sim.present.report import write_report

    report = write_report(comparison, tmp_path)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": VIEWPORTS[0], "height": 900})
            page.goto(report.as_uri())
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            scroll, client = page.evaluate("[document.documentElement.scrollWidth, "
                                           "document.documentElement.clientWidth]")
        finally:
            browser.close()
    assert scroll <= client
