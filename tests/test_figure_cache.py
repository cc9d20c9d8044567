"""The report's figures are drawn once per content: a cached figure is the figure, byte for byte."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap

import pandas as pd

from sim.present import figure_cache
from sim.present.figure_cache import FigureCache, figure_svg
from sim.present.figures import who_pays_figure

HORIZONS = (12, 24, 36, 48, 60)
#: Saving per month of horizon, SEK: P10, median, P90.
_PER_MONTH = (("municipality", -2e5, -1e5, 0.0), ("state", 1e5, 2e5, 3e5), ("society", 2e5, 4e5, 6e5))
HEADLINE = pd.DataFrame(
    [("jobs", "net_saving_discounted_sek", h, payer, lo * h, mid * h, hi * h)
     for h in HORIZONS for payer, lo, mid, hi in _PER_MONTH],
    columns=["scenario", "metric", "horizon_months", "payer", "p10", "p50", "p90"])


class Counted:
    """``who_pays_figure``, counting its calls (the cache keys a drawing function by its name)."""

    def __init__(self) -> None:
        self.calls = 0
        self.__module__, self.__qualname__ = "tests.figure_cache", "counted"

    def __call__(self, *args):
        self.calls += 1
        return who_pays_figure(*args)


def _fresh() -> str:
    return FigureCache(None).svg(who_pays_figure, HEADLINE, 60)


def test_a_cached_figure_is_the_figure_drawn_and_is_not_drawn_again(tmp_path):
    draw = Counted()
    cache = FigureCache(tmp_path)
    first = cache.svg(draw, HEADLINE, 60)
    again = cache.svg(draw, HEADLINE, 60)
    assert draw.calls == 1
    assert first == again == _fresh()
    assert base64.b64decode(first).decode().rstrip().endswith("</svg>")
    assert len(list(tmp_path.glob("*.svg.b64"))) == 1


def test_other_tables_or_arguments_draw_again(tmp_path):
    draw = Counted()
    cache = FigureCache(tmp_path)
    cache.svg(draw, HEADLINE, 60)
    changed = HEADLINE.assign(p50=HEADLINE["p50"].where(HEADLINE["payer"] != "state", 2.5e6))
    assert cache.svg(draw, changed, 60) != cache.svg(draw, HEADLINE, 60)
    cache.svg(draw, HEADLINE, 12)  # another horizon
    assert draw.calls == 3
    renamed = HEADLINE.assign(scenario="more jobs")  # a value of a column that is not a number
    cache.svg(draw, renamed, 60)
    assert draw.calls == 4


def test_a_user_matplotlibrc_changes_no_figure(tmp_path):
    import matplotlib

    expected = _fresh()
    with matplotlib.rc_context({"font.size": 23, "savefig.bbox": "tight", "svg.fonttype": "path"}):
        assert FigureCache(None).svg(who_pays_figure, HEADLINE, 60) == expected
        assert FigureCache(tmp_path).svg(who_pays_figure, HEADLINE, 60) == expected


def test_a_half_written_or_unwritable_cache_is_drawn_around(tmp_path):
    draw = Counted()
    FigureCache(tmp_path).svg(draw, HEADLINE, 60)
    (path,) = tmp_path.glob("*.svg.b64")
    path.write_text(path.read_text()[:100])  # cut short (no final newline)
    assert FigureCache(tmp_path).svg(draw, HEADLINE, 60) == _fresh()
    assert draw.calls == 2
    assert path.read_text().endswith("\n")  # written whole again
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert FigureCache(blocked / "figures").svg(draw, HEADLINE, 60) == _fresh()


def test_a_table_pandas_cannot_hash_is_drawn_and_not_kept(tmp_path):
    """A key that cannot be made (a column of lists) costs the cache, never the figure."""
    draw = Counted()
    odd = HEADLINE.assign(note=[[1]] * len(HEADLINE))
    assert FigureCache(tmp_path).svg(draw, odd, 60) == _fresh()
    assert draw.calls == 1 and not list(tmp_path.glob("*.svg.b64"))


def test_the_folder_keeps_the_newest(tmp_path, monkeypatch):
    monkeypatch.setattr(figure_cache, "KEEP", 2)
    cache = FigureCache(tmp_path)
    for horizon in (12, 24, 36):
        cache.svg(who_pays_figure, HEADLINE, horizon)
    assert len(list(tmp_path.glob("*.svg.b64"))) == 2
    stale = tmp_path / ".figure.x.tmp"  # left by a killed process
    stale.write_text("")
    os.utime(stale, (0, 0))
    cache.svg(who_pays_figure, HEADLINE, 48)
    assert not stale.exists()


def test_figure_svg_is_the_same_bytes_every_time():
    assert figure_svg(who_pays_figure(HEADLINE, 60)) == figure_svg(who_pays_figure(HEADLINE, 60))


def test_a_report_written_again_reads_its_figures_without_matplotlib(tmp_path):
    """The same comparison's report, written again in a new process, draws nothing (matplotlib is
    not even imported) and has the same figures."""
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from factories import PROGRAMME, scenario
        from sim.analysis.comparison import compare
        from sim.present import figure_cache
        from sim.present.report import render_report
        figure_cache.cache_folder = lambda: Path(sys.argv[1])
        small = {{"population": {{"cohort": {{"size": 60}}}}, "horizon_months": 24}}
        c = compare(scenario([], name="base", **small), [scenario([PROGRAMME], name="coach", **small)],
                    seed=3, replications=2)
        html = render_report(c)
        Path(sys.argv[2]).write_text(html)
        print("drew" if "matplotlib" in sys.modules else "read")
    """)
    runs = []
    for i in range(2):
        out = tmp_path / f"report{i}.html"
        res = subprocess.run([sys.executable, "-c", script, str(tmp_path / "figures"), str(out)],
                             capture_output=True, text=True, check=True)
        runs.append((res.stdout.strip(), out.read_text().split("<img")[1:]))
    assert [said for said, _ in runs] == ["drew", "read"]
    assert len(runs[0][1]) >= 3
    assert runs[0][1] == runs[1][1]
