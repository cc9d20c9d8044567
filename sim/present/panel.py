"""Panels: the plotting areas of the report's figures, drawn without a matplotlib ``Axes``.

An ``Axes`` is a general tool: creating one builds two axis objects with their tick machinery,
four spines and three titles (about 7 ms), and every draw lays its ticks out again and measures
their labels. The report's figures have fixed sizes and margins, and their ticks are worked out
in advance, so they need none of that. A :class:`Panel` is a rectangle of the figure (in figure
fractions) with a transform from its data limits to that rectangle: lines, polygons and bars are
ordinary matplotlib artists added to the figure with that transform and clipped to the
rectangle, and the frame, grid lines, tick marks, tick labels and title are figure artists at
positions known in advance. Ticks an ``Axes`` would choose are chosen by the same locator and
formatter (:func:`auto_ticks`), so a figure looks as it did with axes; it costs a fraction.

Figures live on matplotlib's SVG canvas (:func:`new_figure`; the report embeds SVG); ``savefig``
to PNG still works (matplotlib switches canvas for it). matplotlib is imported inside the
functions. What importing it costs is matplotlib's own: ``matplotlib.figure`` needs
``backend_bases``, ``text`` (with mathtext and so pyparsing), every projection (3D included) and
the rc machinery (pyparsing again, for font patterns), whichever canvas is used; and for each of
its hundred artist classes the docstring of its ``set`` method, which :func:`load_matplotlib`
leaves without its list of properties (a third of the import).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure
    from matplotlib.text import Text

__all__ = ["Panel", "new_figure", "auto_ticks", "grid", "load_matplotlib", "DPI"]

#: Dots per inch of every figure: a 9.75-inch figure is 975 pixels, within the report's page (62rem,
#: 992 px), so the report shows figures at their own size (tests/test_report_browser.py measures it).
DPI = 100


#: The matplotlib modules the figures use (:func:`load_matplotlib` imports them).
_MATPLOTLIB = ("matplotlib.figure", "matplotlib.backends.backend_svg", "matplotlib.collections", "matplotlib.lines",
               "matplotlib.patches", "matplotlib.text", "matplotlib.ticker", "matplotlib.transforms")


def load_matplotlib() -> None:
    """Import the matplotlib modules the figures use, without the property lists of its artists'
    docstrings (once; the figures call it before their own imports).

    Importing ``matplotlib.figure`` defines about a hundred artist classes, and for each one
    matplotlib writes the docstring of its ``set`` method by inspecting every setter
    (``matplotlib.artist.kwdoc``, and again for docstrings that cite ``%(Line2D:kwdoc)s``):
    about 0.2 CPU-s, a third of the import, for help text that no figure reads. While these
    modules are imported, ``kwdoc`` gives an empty list; it is put back afterwards, so ``kwdoc``
    itself and classes defined later are as ever (only ``help()`` of those classes' ``set``
    lacks the list of properties; their signatures are intact). Nothing is changed once
    ``matplotlib.figure`` is imported (by anyone), nor if matplotlib has no ``kwdoc`` where it had.
    """
    import importlib
    import sys

    if "matplotlib.figure" in sys.modules:
        return
    import matplotlib.artist

    kwdoc = getattr(matplotlib.artist, "kwdoc", None)
    if callable(kwdoc):
        matplotlib.artist.kwdoc = lambda _artist: ""  # type: ignore[assignment]
    try:
        for name in _MATPLOTLIB:
            importlib.import_module(name)
    finally:
        if callable(kwdoc):
            matplotlib.artist.kwdoc = kwdoc  # type: ignore[assignment]


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` x ``height`` inches on its own SVG canvas (no pyplot, no layout engine)."""
    load_matplotlib()
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="none")
    FigureCanvasSVG(fig)
    return fig


def auto_ticks(lo: float, hi: float, *, length_points: float, label_points: float, axis: str
               ) -> tuple[list[float], list[str]]:
    """The ticks and labels an ``Axes`` would give a linear axis over ``lo .. hi``: matplotlib's
    ``AutoLocator`` (as many ticks as fit ``length_points`` for labels of ``label_points``) and
    ``ScalarFormatter`` (unicode minus, one number of decimals), ticks outside the range dropped."""
    from matplotlib.ticker import MaxNLocator, ScalarFormatter

    size = label_points * (3 if axis == "x" else 2)  # matplotlib's XAxis/YAxis.get_tick_space
    nbins = int(np.clip(int(np.floor(length_points / size)) if size > 0 else 9, 1, 9))
    values = MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    span = hi - lo
    values = [float(v) for v in values if lo - 1e-10 * span <= v <= hi + 1e-10 * span]
    formatter = ScalarFormatter(useOffset=False)  # each label its whole value (an axis may show an offset apart)
    formatter.create_dummy_axis()
    formatter.axis.set_view_interval(lo, hi)
    formatter.axis.set_data_interval(lo, hi)
    return values, formatter.format_ticks(values)


class Panel:
    """A rectangle of a figure that data are drawn in.

    Args:
        fig: the figure.
        rect: ``(left, bottom, width, height)`` in figure fractions.

    Attributes:
        box: the rectangle (a matplotlib ``Bbox`` in figure fractions).
        transform: data coordinates to display; follows :meth:`set_limits`.
        artists: what was drawn in data coordinates, in order (for legends and tests).
        title: the panel's title (empty until :meth:`set_title`).
    """

    def __init__(self, fig: Figure, rect: tuple[float, float, float, float]) -> None:
        from matplotlib.transforms import Bbox, BboxTransform, TransformedBbox

        self.figure = fig
        self.box = Bbox.from_bounds(*rect)
        self._limits = Bbox.unit()
        self.transform = BboxTransform(self._limits, self.box) + fig.transFigure
        self._clip = TransformedBbox(self.box, fig.transFigure)
        self.artists: list[Artist] = []
        self.title = ""

    # ------------------------------------------------------------------ data
    def set_limits(self, x0: float, x1: float, y0: float, y1: float) -> None:
        """The data values at the panel's left, right, bottom and top edges."""
        self._limits.set_points(np.array([[x0, y0], [x1, y1]], dtype=float))

    @property
    def limits(self) -> tuple[float, float, float, float]:
        """``(x0, x1, y0, y1)``."""
        (x0, y0), (x1, y1) = self._limits.get_points()
        return float(x0), float(x1), float(y0), float(y1)

    def add(self, artist: Artist, *, clip: bool = True) -> Artist:
        """Draw ``artist`` (made in data coordinates) in the panel, clipped to it unless ``clip`` is false."""
        artist.set_transform(self.transform)
        if clip:
            artist.set_clip_box(self._clip)
        self.figure.add_artist(artist)
        self.artists.append(artist)
        return artist

    def x(self, value: float) -> float:
        """The figure fraction of data value ``value`` across."""
        x0, x1, _, _ = self.limits
        return self.box.x0 + self.box.width * (value - x0) / (x1 - x0)

    def y(self, value: float) -> float:
        """The figure fraction of data value ``value`` up."""
        _, _, y0, y1 = self.limits
        return self.box.y0 + self.box.height * (value - y0) / (y1 - y0)

    # ------------------------------------------------------------------ decoration
    def frame(self, colour: Any, linewidth: float, *, zorder: float = 0) -> None:
        """The panel's outline: under the data (an ``Axes``' edge) or, at ``zorder=2.5``, over them (its spines).

        A closed line with mitred corners (as a rectangle's edge is drawn), kept in the figure's
        ``lines``: IPython shows a figure in a notebook only if it has axes or lines, and these
        figures have no axes."""
        from matplotlib.lines import Line2D

        b = self.box
        line = Line2D([b.x0, b.x1, b.x1, b.x0, b.x0], [b.y0, b.y0, b.y1, b.y1, b.y0], color=colour,
                      linewidth=linewidth, zorder=zorder, solid_joinstyle="miter", solid_capstyle="projecting",
                      transform=self.figure.transFigure, figure=self.figure)
        self.figure.lines.append(line)

    def set_title(self, text: str, *, fontsize: float, pad_points: float) -> Text:
        """A title centred above the panel, its baseline ``pad_points`` above the top (as an ``Axes``' title)."""
        self.title = text
        return self.figure.text(self.box.x0 + self.box.width / 2, self.box.y1 + self._dy(pad_points), text,
                                ha="center", va="baseline", fontsize=fontsize)

    def xticks(self, values: Sequence[float], labels: Sequence[str], *, fontsize: float, pad_points: float,
               marks: tuple[float, float, Any] | None = None, **text: Any) -> None:
        """Tick labels under the panel at data values ``values``, ``pad_points`` below it;
        ``marks``: tick marks ``(length_points, width, colour)`` pointing out of the panel."""
        y = self.box.y0 - self._dy(pad_points)
        text = {"ha": "center", "va": "top", **text}
        for v, label in zip(values, labels, strict=True):
            if label:
                self.figure.text(self.x(v), y, label, fontsize=fontsize, **text)
        if marks:
            length = self._dy(marks[0])
            self._marks([[(self.x(v), self.box.y0), (self.x(v), self.box.y0 - length)] for v in values], marks)

    def yticks(self, values: Sequence[float], labels: Sequence[str], *, fontsize: float, pad_points: float,
               marks: tuple[float, float, Any] | None = None, **text: Any) -> None:
        """Tick labels left of the panel at data values ``values``, right-aligned ``pad_points`` from it."""
        x = self.box.x0 - self._dx(pad_points)
        text = {"ha": "right", "va": "center_baseline", **text}
        for v, label in zip(values, labels, strict=True):
            if label:
                self.figure.text(x, self.y(v), label, fontsize=fontsize, **text)
        if marks:
            length = self._dx(marks[0])
            self._marks([[(self.box.x0, self.y(v)), (self.box.x0 - length, self.y(v))] for v in values], marks)

    def grid_segments(self, *, xs: Sequence[float] = (), ys: Sequence[float] = ()) -> list[list[tuple[float, float]]]:
        """Grid lines across the panel at data values ``xs`` and ``ys``, as figure-fraction segments
        (a figure draws all its panels' grids as one collection)."""
        b = self.box
        return ([[(self.x(v), b.y0), (self.x(v), b.y1)] for v in xs]
                + [[(b.x0, self.y(v)), (b.x1, self.y(v))] for v in ys])

    def _marks(self, segments: list[list[tuple[float, float]]], marks: tuple[float, float, Any]) -> None:
        from matplotlib.collections import LineCollection

        self.figure.add_artist(LineCollection(segments, colors=marks[2], linewidths=marks[1], capstyle="butt",
                                              transform=self.figure.transFigure, zorder=2.5))

    def _dx(self, points: float) -> float:
        return points / 72 / self.figure.get_figwidth()

    def _dy(self, points: float) -> float:
        return points / 72 / self.figure.get_figheight()


def grid(fig: Figure, segments: list[list[tuple[float, float]]], colour: Any, linewidth: float) -> None:
    """Grid lines (figure-fraction segments from :meth:`Panel.grid_segments`) as one collection under everything."""
    from matplotlib.collections import LineCollection

    fig.add_artist(LineCollection(segments, colors=colour, linewidths=linewidth, zorder=-1,
                                  transform=fig.transFigure))
