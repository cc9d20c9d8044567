"""Tidy tables written as CSV: byte for byte what pandas' ``DataFrame.to_csv(path, index=False)``
writes, faster (the main job's twelve tables: 0.20 -> 0.11 CPU-s).

pandas turns every column into text and hands the rows to Python's :mod:`csv` writer
(``QUOTE_MINIMAL``, ``"`` quotes, the platform's line ending; a float column via numpy's
``astype(str)``, which for float64 is Python's ``repr``; missing values as empty fields).
:func:`write_csv` makes the same text per column: float64 with ``repr`` (a little faster than
numpy's formatting, and equal to it: tested), each distinct value once (a comparison's ``money``
table repeats its discount factors and zeros thousands of times). Where no cell needs quoting
(no comma, quote or line break: numbers, months, names) the lines are joined directly, which is
what the writer would write; otherwise, and for columns of Python objects (which the writer
turns into text its own way), the same :mod:`csv` writer writes them. Columns of any
other kind (dates, categories, nullable extension types) are left to pandas, which writes the
whole table then.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["write_csv"]


def _floats(values: np.ndarray) -> list[str]:
    """numpy's ``astype(str)`` of ``values`` (as pandas writes a float column), each distinct value
    formatted once (distinct by its bits: ``-0.0`` and ``0.0`` print differently), NaN empty."""
    bits = np.ascontiguousarray(values).view(np.dtype(f"u{values.dtype.itemsize}"))
    distinct, inverse = np.unique(bits, return_inverse=True)
    numbers = distinct.view(values.dtype)
    if values.dtype == np.float64:  # numpy prints a float64 as Python's repr does
        text = np.array(list(map(float.__repr__, numbers.tolist())) or [""], dtype=object)[: numbers.size]
    else:
        text = numbers.astype(str).astype(object)
    text[np.isnan(numbers)] = ""
    return text[inverse].tolist()


def _column(series: pd.Series) -> tuple[list[Any], bool] | None:
    """The cells of one column as pandas hands them to the writer, and whether they are the text
    it writes (numbers, booleans, text), or ``None`` for a kind pandas formats itself. Cells of an
    object column are the objects themselves (the writer turns them into text its own way)."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind == "f":
            return _floats(series.to_numpy()), True
        if dtype.kind in "iub":  # the writer prints ints and bools with str(), as pandas hands them over
            distinct, inverse = np.unique(series.to_numpy(), return_inverse=True)
            text = np.array(list(map(str, distinct.tolist())), dtype=object)[inverse].tolist() if distinct.size else []
            return text, True
        if dtype.kind != "O":
            return None
    elif not isinstance(dtype, pd.StringDtype):
        return None
    values = series.to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()
        values[missing] = ""
    return values.tolist(), isinstance(dtype, pd.StringDtype)


#: Characters that make the :mod:`csv` writer quote a cell (``QUOTE_MINIMAL``, ``,`` and ``"``).
_QUOTED = (",", '"', "\r", "\n")


def _plain(cells: list[str]) -> bool:
    """Whether the writer would write every cell as it is (none needs quoting)."""
    text = "\x00".join(cells)
    return not any(c in text for c in _QUOTED)


def write_csv(table: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``table`` to ``path`` exactly as ``table.to_csv(path, index=False)`` would."""
    made = [_column(table.iloc[:, j]) for j in range(table.shape[1])]
    if (any(c is None for c in made) or table.columns.nlevels > 1 or table.shape[1] < 2
            or table.columns.has_duplicates):
        table.to_csv(path, index=False)  # (a lone column's empty cell is quoted; not worth copying)
        return
    columns = [c for c, _ in made]  # type: ignore[misc]
    header = [str(c) for c in table.columns]
    with open(Path(path), "w", newline="", encoding="utf-8") as fh:
        if all(text for _, text in made) and _plain(header) and all(_plain(c) for c in columns):  # type: ignore[misc]
            fh.write(os.linesep.join(map(",".join, [header, *zip(*columns, strict=True)])) + os.linesep)
        else:
            writer = csv.writer(fh, lineterminator=os.linesep, quoting=csv.QUOTE_MINIMAL)
            writer.writerow(header)
            writer.writerows(zip(*columns, strict=True))  # type: ignore[arg-type]
