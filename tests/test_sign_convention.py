"""One sign convention in every output: "saving, + = the payer is better off".

A small compare, run, sweep and story are made, and every column name, label and text a user
reads is searched for the other conventions the project once used ("below 0 = gains", "− the
payer pays", "net cost", "+ saves, - pays"): the comparison's tables and terminal text, the
report's HTML and its figures' texts, ``almsim run``'s output, the sweep's columns, a story, and
the labels of the teaching app and the studio. Money columns say their unit and whether they
are discounted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sim import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "scenarios" / "sigtuna-resursjobb-baseline.yaml"
SIGTUNA = ROOT / "scenarios" / "sigtuna-resursjobb.yaml"

#: The other conventions, as they were written (case-insensitive).
OTHER = re.compile(r"below (0|zero) = gains?|[-−] (=\s*)?the payer pays|net cost|\+ saves|negative = pays"
                   r"|positive = saves|\+ = (?!the payer is better off)", re.IGNORECASE)


def other_convention(text: str) -> list[str]:
    """The places in ``text`` that use another sign convention (with some context)."""
    return [text[max(0, m.start() - 40):m.end() + 40] for m in OTHER.finditer(text)]


def test_the_checker_finds_each_of_the_old_conventions():
    for old in ("Cumulative net (below 0 = gains)", "Money: − the payer pays, + it receives",
                "net cost per participant", "(+ saves, - pays)", "MSEK (negative = pays, positive = saves)",
                "+ = the payer saves"):
        assert other_convention(old), old
    assert other_convention("saving, + = the payer is better off, − = it pays") == []


def _money_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if "sek" in c.lower() and not c.startswith("cost_")]


def _says_discounting(column: str) -> bool:
    return "discounted" in column.lower()  # "undiscounted" contains it too


@pytest.fixture(scope="module")
def comparison():
    from sim.analysis.comparison import compare

    return compare(load_scenario(BASE), [load_scenario(SIGTUNA)], replications=2, sensitivity=True, bridge=True)


def test_the_comparison_text_and_table_columns_use_the_one_convention(comparison):
    text = comparison.to_text()
    assert "+ = the payer is better off" in text and other_convention(text) == []
    for name, table in comparison.tables.items():
        assert other_convention(" ".join(map(str, table.columns))) == [], name
        for column in table.columns:
            if table[column].dtype == object:
                assert other_convention(" ".join(map(str, table[column].unique()))) == [], (name, column)


def test_every_money_column_of_a_comparison_says_whether_it_is_discounted(comparison):
    missing = [(name, c) for name, table in comparison.tables.items() for c in _money_columns(list(table.columns))
               if not _says_discounting(c)]
    assert missing == []


def test_the_report_and_its_figures_use_the_one_convention(comparison):
    from sim.present.figures import cumulative_saving_figure, who_pays_figure
    from sim.present.report import render_report
    from sim.present.tornado import tornado_figure
    from sim.present.waterfall import waterfall_figure

    html = render_report(comparison)
    visible = re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", html)
    assert other_convention(visible) == []
    label = comparison.scenarios[0]
    figures = [who_pays_figure(comparison.headline, 60), cumulative_saving_figure(comparison.money),
               tornado_figure(comparison.tables["assumption_lines"], comparison.headline, label, 60),
               waterfall_figure(comparison.tables["bridge"], label, 60)]
    for fig in figures:
        texts = [t.get_text() for t in fig.texts]
        if fig._suptitle is not None:
            texts.append(fig._suptitle.get_text())
        for ax in fig.axes:
            texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        joined = " ".join(texts)
        assert other_convention(joined) == [], joined
        assert "+ = the payer is better off" in joined or "saving" not in joined.lower(), joined


def test_almsim_run_a_story_and_a_sweep_use_the_one_convention(tmp_path, capsys):
    from sim.cli.main import main
    from sim.present.story import story_from_run
    from sim.runs.sweep import Sweep
    from sim.scenario.load import parse_file

    assert main(["run", str(SIGTUNA), "-r", "1", "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert other_convention(out) == []
    run_dir = next((tmp_path / "runs").glob("*/*"))
    story = story_from_run(run_dir, 0)
    assert "+ = the payer is better off" in story and other_convention(story) == []

    doc, _ = parse_file(SIGTUNA)
    results = Sweep(doc, [{"programmes.resursjobb.capacity.slots": 100}], tmp_path / "sweep").run(progress=False)
    money = _money_columns(list(results.columns))
    assert money and all(_says_discounting(c) for c in money), money
    assert "net_sek_undiscounted.municipality" in results and "net_sek_undiscounted.society" in results
    assert not any(c.startswith("net_sek_by_payer") for c in results.columns)
    summary = json.loads((run_dir / "summary.json").read_text())  # a run's headline numbers, named the same way
    assert "net_sek_undiscounted_society" in summary
    assert not [k for k in summary if "sek" in k and "discounted" not in k]
    # the society column is the sum of the payers' columns, as in the comparison
    payers = [c for c in money if c != "net_sek_undiscounted.society"]
    assert results[payers].sum(axis=1).iloc[0] == pytest.approx(results["net_sek_undiscounted.society"].iloc[0])


def test_the_app_and_the_studio_label_money_in_the_one_convention(comparison):
    from sim.present import app, studio, variant
    from sim.present.studio import bridge_table, who_pays_table

    specs = app.chart_specs(load_scenario(SIGTUNA))
    labels = [app.NET_LABEL, studio.SIGN_NOTE, *(s.title + " " + s.ylabel for s in specs)]
    labels += [lv.label for lv in variant.levers(load_scenario(SIGTUNA))]
    assert other_convention(" ".join(labels)) == []
    for table in (who_pays_table(comparison), bridge_table(comparison)):
        money = [c for c in table.columns if "MSEK" in c]
        assert money and all(_says_discounting(c) for c in money)
        assert other_convention(" ".join(table.columns) + " " + " ".join(table.iloc[:, 0])) == []


def test_no_page_or_command_source_writes_another_convention():
    """Labels the tests above cannot reach (page panels, help texts) are in these sources."""
    files = [*sorted((ROOT / "sim" / "present").glob("*.py")),
             *sorted((ROOT / "sim" / "present" / "templates").glob("*")), *sorted((ROOT / "sim" / "cli").glob("*.py"))]

    def joined(text: str) -> str:  # adjacent string literals and wrapped comments read as one line
        text = re.sub(r"[\"']\s*\n\s*[rf]?[\"']", "", text)
        return re.sub(r"\s*\n\s*#?\s*", " ", text)

    found = {f.name: other_convention(joined(f.read_text(encoding="utf-8"))) for f in files}
    assert {k: v for k, v in found.items() if v} == {}
