"""CSV tables are written byte for byte as pandas writes them (``to_csv(index=False)``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.runs.table_csv import write_csv


def _same(df: pd.DataFrame, tmp_path) -> None:
    write_csv(df, tmp_path / "ours.csv")
    df.to_csv(tmp_path / "pandas.csv", index=False)
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_numbers_of_every_size_and_sign_print_as_pandas_prints_them(tmp_path):
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(5000) * 10.0 ** rng.integers(-30, 30, 5000),
                        [0.0, -0.0, 1e16, 1e15, 9999999999999998.0, 1e-4, 1e-5, 5e-324, 1.7976931348623157e308,
                         np.inf, -np.inf, np.nan, 0.1 + 0.2, 123456789.0, 1.0, -100.0, 0.0, np.nan]])
    n = x.size
    _same(pd.DataFrame({"x": x, "x32": np.clip(x, -1e38, 1e38).astype(np.float32),
                        "i": rng.integers(-10**12, 10**12, n), "small": rng.integers(0, 3, n).astype(np.int8),
                        "u": np.arange(n, dtype=np.uint32), "flag": rng.random(n) < 0.5}), tmp_path)


def test_text_that_needs_quoting_or_is_missing_is_written_as_pandas_writes_it(tmp_path):
    text = ["plain", "with, comma", 'a "quote"', "line\nbreak", "cr\rhere", "", None, "åäö – ünïcode", " space "]
    _same(pd.DataFrame({"text": text, "n": range(len(text))}), tmp_path)
    _same(pd.DataFrame({"text": pd.array(text, dtype="str"), "obj": pd.Series(text, dtype=object),
                        "mixed": pd.Series([1, 2.5, None, "x", np.nan, True, 3, -0.0, "y"], dtype=object)}),
          tmp_path)
    _same(pd.DataFrame({"numpy": pd.Series([np.float64(1.5), np.int64(3), np.float32(0.1), np.bool_(False), 1e-5],
                                           dtype=object), "n": range(5)}),
          tmp_path)
    _same(pd.DataFrame({"a, b": [1.5], 'say "hi"': ["ok"]}), tmp_path)  # names that need quoting


@pytest.mark.parametrize("df", [
    pd.DataFrame({"a": [], "b": []}),
    pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype="str")}),
    pd.DataFrame({"only": ["", "x", None]}),  # a lone column: an empty cell is quoted
    pd.DataFrame({"when": pd.to_datetime(["2012-01-01", "2013-07-01"]), "v": [1.0, 2.0]}),  # left to pandas
    pd.DataFrame({"c": pd.Categorical(["x", "y"]), "v": [1, 2]}),
    pd.DataFrame({"v": pd.array([1, None], dtype="Int64"), "w": [0.5, np.nan]}),
])
def test_empty_tables_lone_columns_and_other_kinds_match_pandas(df, tmp_path):
    _same(df, tmp_path)


def test_a_comparisons_tables_match_pandas(tmp_path):
    """Every table a comparison saves (money, headline, sources with their free text, ...)."""
    from sim.analysis.comparison import TABLES, compare
    from sim.scenario.load import load_scenario

    base = load_scenario("scenarios/sigtuna-resursjobb-baseline.yaml")
    scen = load_scenario("scenarios/sigtuna-resursjobb.yaml")
    c = compare(base, [scen], replications=2, sensitivity=False)
    for name in TABLES:
        (tmp_path / name).mkdir()
        _same(c.tables[name], tmp_path / name)
