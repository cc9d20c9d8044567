"""The report's figures as SVG, each drawn once per content and kept in the user's cache folder.

A report embeds five figures, and drawing them is most of what a comparison costs after its
simulation: importing matplotlib (~0.3 CPU-s) and building and printing the figures (~0.3).
A figure is a function of its tables, so :meth:`FigureCache.svg` keys each one by a digest of
what it is drawn from, and draws only what it has not drawn before:

* the drawing function's name and its arguments (tables by the values of their rows, index,
  column names and dtypes; other arguments by their ``repr``);
* almsim's code (every ``.py`` file of the ``sim`` package: an edit anywhere draws again) and
  matplotlib's version.

It is drawn under matplotlib's default settings (a user's ``matplotlibrc`` changes neither a
figure nor, so, what a key stands for). The same comparison run again, or its report written
again from the saved tables, reads its figures without importing matplotlib; a new scenario,
seed or number of replications draws them. The folder is ``figures`` in almsim's cache folder
(``~/.cache/almsim/figures`` on Linux; ``$NUMBA_CACHE_DIR/almsim/figures`` where that is set,
beside the compiled kernels); each file is written whole (to a temporary name, then renamed),
the newest :data:`KEEP` are kept, and deleting the folder is always safe. Where no folder can
be written, every figure is drawn.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import importlib.util
import io
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["FigureCache", "figure_svg", "cache_folder", "KEEP"]

#: Figures kept in the cache folder (older ones are deleted); ~50-600 KB each.
KEEP = 200

#: ``width="..pt" height="..pt"`` of the ``<svg>`` element matplotlib writes.
_SVG_SIZE = re.compile(r'<svg([^>]*?) width="[0-9.]+pt" height="[0-9.]+pt"')


def figure_svg(fig: Any) -> str:
    """The figure as base64 SVG, for an ``<img>``.

    SVG because it is the cheapest to print: text stays text (``svg.fonttype: none``) that the
    browser sets in DejaVu Sans or its own sans-serif, where PNG rasterises every glyph and
    every line with Agg (half the report's time went there). The ``<svg>`` element is given
    the pixel size Agg would print at :data:`~sim.present.figures.DPI` (its ``viewBox`` scales
    the drawing), so the page shows it as large as the PNG was. Clip-path ids are salted with a
    constant and no date is written: the same figure gives the same bytes.
    """
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "almsim", "svg.image_inline": True}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    width, height = fig.canvas.get_width_height()  # what Agg prints
    svg = _SVG_SIZE.sub(f'<svg\\1 width="{width}px" height="{height}px"', buf.getvalue().decode("utf-8"), count=1)
    return base64.b64encode(svg.encode("utf-8")).decode("ascii")


def cache_folder() -> Path:
    """``figures`` in almsim's cache folder (see the module's docstring)."""
    numba_dir = os.environ.get("NUMBA_CACHE_DIR")
    if numba_dir:  # as the kernels (sim.accounts.jit.cache_folder)
        return Path(numba_dir) / "almsim" / "figures"
    import platformdirs

    return Path(platformdirs.user_cache_dir("almsim", appauthor=False)) / "figures"


@functools.cache
def _code_digest() -> bytes:
    """A digest of almsim's code and matplotlib's version (once per process)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):  # by their place in the package: any clone gives the same
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    # matplotlib's version without importing it (nor scanning installed packages' metadata, ~10-50 ms):
    # the file its build writes the version into, else its package's first file
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        origin = Path(spec.origin)
        version = origin.with_name("_version.py")
        with contextlib.suppress(OSError):
            digest.update((version if version.is_file() else origin).read_bytes())
    return digest.digest()


def _argument(value: Any) -> bytes:
    """How an argument of a drawing function is written into a figure's key."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        rows = pd.util.hash_pandas_object(value, index=True).to_numpy()
        return repr((list(value.columns), [str(t) for t in value.dtypes], len(value))).encode() + rows.tobytes()
    return repr(value).encode()


def _key(draw: Callable[..., Any], args: tuple[Any, ...]) -> str:
    digest = hashlib.sha256(_code_digest())
    digest.update(f"{draw.__module__}.{draw.__qualname__}".encode())
    for value in args:
        part = _argument(value)
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()[:32]


@contextlib.contextmanager
def _default_settings() -> Any:
    """matplotlib's default rc parameters while a figure is built and printed."""
    import matplotlib

    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        yield


class FigureCache:
    """Figures as base64 SVG (:func:`figure_svg`), drawn once per key and kept in ``folder``
    (``None``: drawn every time)."""

    def __init__(self, folder: str | os.PathLike[str] | None) -> None:
        self.folder = None if folder is None else Path(folder)

    @classmethod
    def default(cls) -> FigureCache:
        """The cache in :func:`cache_folder`."""
        return cls(cache_folder())

    def svg(self, draw: Callable[..., Any], *args: Any) -> str:
        """``figure_svg(draw(*args))``, read from the folder if that figure was drawn before."""
        path = None
        if self.folder is not None:
            try:
                path = self.folder / f"{_key(draw, args)}.svg.b64"
            except TypeError:  # a table of values pandas cannot hash (lists, dicts): drawn, not kept
                path = None
        if path is not None:
            with contextlib.suppress(OSError):
                text = path.read_text(encoding="ascii")
                if text.endswith("\n"):  # a whole file (files are renamed into place once written)
                    with contextlib.suppress(OSError):
                        os.utime(path)  # recently used: kept longest
                    return text[:-1]
        from sim.present.panel import load_matplotlib

        load_matplotlib()
        with _default_settings():
            svg = figure_svg(draw(*args))
        if path is not None:
            self._store(path, svg)
        return svg

    def _store(self, path: Path, svg: str) -> None:
        """Write ``svg`` to ``path`` whole, then prune the folder; a folder that cannot be written
        is left alone (the figure was drawn either way)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".figure.", suffix=".tmp", dir=path.parent)
        except OSError:
            return
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(svg + "\n")
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return
        self._prune()

    def _prune(self) -> None:
        """Delete all but the :data:`KEEP` most recently used figures (and what a killed process
        left half-written an hour ago or more)."""
        assert self.folder is not None
        kept: list[tuple[float, str]] = []
        old: list[str] = []
        now = time.time()
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.folder):
                with contextlib.suppress(OSError):
                    if entry.name.endswith(".svg.b64"):
                        kept.append((entry.stat().st_mtime, entry.path))
                    elif entry.name.startswith(".figure.") and now - entry.stat().st_mtime > 3600:
                        old.append(entry.path)
        kept.sort(reverse=True)
        for path in old + [p for _, p in kept[KEEP:]]:
            with contextlib.suppress(OSError):
                os.remove(path)
