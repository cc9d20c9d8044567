"""The policy studio: levers read from the scenario, overrides, saved variants, the tables, and
the page in a real browser.

The browser test starts ``almsim studio`` on a free localhost port with a temporary folder for
variants and drives it in headless Chromium with Playwright (Debian's ``/usr/bin/chromium``, as
``tests/test_app.py``): change places, run, the table changes, save, the saved file validates,
reopen it. It is skipped only where no Chromium is installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from factories import served

from sim import load_scenario
from sim.present.studio import SIGN_NOTE, bridge_table, limit_lines, pair_for_file, run_pair, who_pays_table
from sim.present.variant import (
    assumption_levers,
    baseline_of,
    baseline_overrides,
    lever_overrides,
    levers,
    programme_levers,
    save_variant,
    shipped_pairs,
)
from sim.scenario.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
SIGTUNA = "almsim:sigtuna-resursjobb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SLOTS = "programmes.resursjobb.capacity.slots"


# ------------------------------------------------------------------------------ pairs and levers
def test_every_shipped_programme_scenario_is_paired_with_the_baseline_it_extends():
    pairs = {p.scenario: p.baseline for p in shipped_pairs()}
    assert pairs[SIGTUNA] == "almsim:sigtuna-resursjobb-baseline"
    assert pairs["almsim:sigtuna-resursjobb-100"] == "almsim:sigtuna-resursjobb-baseline"  # two steps up
    assert pairs["almsim:c2-lycksele"] == "almsim:c2-lycksele-baseline"
    assert all(not load_scenario(b).programmes for b in pairs.values())


def test_levers_come_from_the_programme_a_job_has_places_wage_and_subsidy_a_coaching_staff():
    job = {lv.path.split(".", 2)[2] for lv in programme_levers(load_scenario(SIGTUNA))}
    assert {"capacity.slots", "wage_sek_per_month", "wage_subsidy_share_of_wage_cost", "max_duration_months",
            "referral_rate_per_month", "eligibility.age_min"} <= job
    assert "capacity.staff" not in job
    coaching = {lv.path.split(".", 2)[2] for lv in programme_levers(load_scenario("almsim:c2-lycksele"))}
    assert {"capacity.staff", "capacity.caseload_per_staff"} <= coaching
    assert "capacity.slots" not in coaching and "wage_sek_per_month" not in coaching
    by_path = {lv.path: lv for lv in levers(load_scenario(SIGTUNA))}
    assert by_path[SLOTS].value == 200 and by_path[SLOTS].integer


def test_the_key_assumptions_are_the_ones_that_drive_the_answer():
    from sim.analysis.assumptions_driving import ASSUMPTIONS

    shown = assumption_levers(load_scenario(SIGTUNA))
    assert [lv.label.lower() for lv in shown] == [a.title.lower() for a in ASSUMPTIONS]
    production = shown[0]
    assert production.value == 0.5  # the job's own value of work; the general one is set with it
    assert [p for p, _, _ in production.also] == ["money.production_value_share_of_wage_cost"]


def test_unmoved_levers_change_nothing_and_moved_ones_keep_dated_steps():
    scenario = load_scenario(SIGTUNA)
    known = levers(scenario)
    assert lever_overrides(known, {lv.path: lv.value for lv in known}) == []
    ov = lever_overrides(known, {SLOTS: 100, "programmes.resursjobb.referral_rate_per_month": 0.5})
    assert f"{SLOTS}=100" in ov
    # the offer still closes in 2013: the dated steps are scaled, not replaced
    assert "programmes.resursjobb.referral_rate_per_month={2012-01: 0.5, 2013-01: 0}" in ov
    moved = load_scenario(SIGTUNA, ov)
    assert moved.programmes[0].capacity.slots_at(moved.start_month) == 100


def test_the_baseline_takes_the_assumptions_the_programme_runs_with():
    base = load_scenario("almsim:sigtuna-resursjobb-baseline")
    scenario = load_scenario(SIGTUNA)
    assert baseline_overrides(base, scenario) == []  # as shipped, both agree on the world
    moved = load_scenario(SIGTUNA, lever_overrides(levers(scenario), {"money.municipal_tax_kept_share": 1.0,
                                                                     SLOTS: 50}))
    assert baseline_overrides(base, moved) == ["money.municipal_tax_kept_share=1"]


# ------------------------------------------------------------------------------ saved variants
def test_a_saved_variant_extends_the_scenario_validates_and_reopens_with_its_levers(tmp_path):
    from sim.cli.main import main

    pair = pair_for_file(SIGTUNA)
    scenario = load_scenario(SIGTUNA)
    path = save_variant(tmp_path, "fewer-places", pair, scenario, {SLOTS: 120, "money.municipal_tax_kept_share": 0.5})
    text = path.read_text()
    assert "extends: almsim:sigtuna-resursjobb\n" in text and "name: fewer-places\n" in text
    assert "almsim studio: changed from 200" in text
    assert "--set 'sigtuna-resursjobb-baseline:money.municipal_tax_kept_share=0.5'" in text
    assert main(["validate", str(path)]) == 0
    again = pair_for_file(str(path))
    assert again.baseline == "almsim:sigtuna-resursjobb-baseline"
    reopened = {lv.path: lv.value for lv in levers(load_scenario(path))}
    assert reopened[SLOTS] == 120 and reopened["money.municipal_tax_kept_share"] == 0.5
    with pytest.raises(ScenarioError, match="already exists"):
        save_variant(tmp_path, "fewer-places", pair, scenario, {SLOTS: 90})
    with pytest.raises(ScenarioError, match="lower-case"):
        save_variant(tmp_path, "Bad Name", pair, scenario, {})


def test_a_variant_in_another_folder_names_its_own_file_by_a_relative_path(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    first = save_variant(mine, "first", pair_for_file(SIGTUNA), load_scenario(SIGTUNA), {SLOTS: 150})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    second = save_variant(elsewhere, "second", pair_for_file(str(first)), load_scenario(first), {SLOTS: 80})
    assert "extends: ../mine/first.yaml\n" in second.read_text()
    assert baseline_of(str(second)) == "almsim:sigtuna-resursjobb-baseline"
    assert load_scenario(second).programmes[0].capacity.slots_at(load_scenario(second).start_month) == 80


def test_a_scenario_without_programmes_cannot_be_opened_as_a_programme():
    with pytest.raises(ScenarioError, match="no programmes"):
        pair_for_file("almsim:sigtuna-resursjobb-baseline")


# ------------------------------------------------------------------------------ the tables
@pytest.fixture(scope="module")
def outcomes():
    pair = pair_for_file(SIGTUNA)
    return run_pair(pair, {}, replications=3), run_pair(pair, {SLOTS: 100}, replications=3)


def test_the_who_pays_table_has_1_and_5_years_in_msek_with_intervals_and_changes_with_places(outcomes):
    before, after = outcomes
    table = who_pays_table(before.comparison)
    assert list(table.columns) == ["payer", "saving after 1 year (MSEK, discounted)",
                                   "saving after 5 years (MSEK, discounted)"]
    assert table["payer"].iloc[0] == "Municipality" and table["payer"].iloc[-1] == "Society as a whole"
    cell = table.iloc[0, 2]
    assert "(" in cell and " to " in cell and cell.count(".") == 3  # median (P10 to P90), one decimal each
    h = before.comparison.headline
    muni = h[(h["metric"] == "net_saving_discounted_sek") & (h["payer"] == "municipality")
             & (h["horizon_months"] == 60)].iloc[0]
    assert cell.startswith(f"{muni['p50'] / 1e6:+.1f}".replace("-", "\u2212"))
    assert not who_pays_table(after.comparison).equals(table)
    assert after.overrides == [f"{SLOTS}=100"]


def test_the_bridge_adds_up_and_the_binding_limit_follows_the_places(outcomes):
    before, after = outcomes
    bridge = bridge_table(before.comparison)
    assert bridge.attrs["horizon_months"] == 60 and len(bridge) == 7

    def msek(s: str) -> float:
        return float(s.replace("\u2212", "-"))

    col = "Municipality (MSEK, discounted)"
    steps = sum(msek(v) for v in bridge[col].iloc[:-1])
    assert abs(steps - msek(bridge[col].iloc[-1])) <= 0.05 * len(bridge)  # rounded to 0.1 each
    assert "starts per month" in limit_lines(before.comparison)[0]
    assert "places bind" in limit_lines(after.comparison)[0]
    assert SIGN_NOTE == "+ = the payer is better off"


def test_a_refused_lever_value_is_one_scenario_error():
    with pytest.raises(ScenarioError, match="referral_rate_per_month"):
        run_pair(pair_for_file(SIGTUNA), {"programmes.resursjobb.referral_rate_per_month": 2.0}, replications=1)


def test_almsim_studio_refuses_a_bad_scenario_with_one_line(tmp_path, capsys):
    from sim.cli.main import main

    assert main(["studio", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert main(["studio", "almsim:sigtuna-resursjobb-baseline"]) == 2  # a baseline has no baseline
    assert main(["studio", "--folder", str(tmp_path / "nowhere")]) == 2


# ------------------------------------------------------------------------------ the browser
@pytest.fixture
def studio(tmp_path):
    folder = tmp_path / "variants"
    folder.mkdir()
    with served(["studio", "--folder", str(folder)], "studio", ROOT) as url:
        yield url, folder


def _set(page, lever_text: str, value: str) -> None:
    box = page.locator(".almsim-lever", has_text=lever_text).locator("input")
    box.fill(value)
    box.press("Enter")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (Debian package 'chromium'; "
                                                  "apt-get install -y chromium)")
def test_the_studio_in_a_browser_runs_saves_and_reopens_a_variant(studio, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, folder = studio
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1100}, accept_downloads=True)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url, timeout=60_000)
            expect(page.locator(".almsim-pair")).to_contain_text("Sigtuna Resursjobb", timeout=60_000)
            expect(page.locator(".almsim-lever", has_text="Places (file: 200)")).to_be_visible()
            expect(page.locator(".almsim-lever", has_text="A-kassa members")).to_be_visible()
            reps = page.get_by_label("Paired replications")
            reps.fill("3")
            reps.press("Enter")

            # Run as the files say: the who-pays table at 1 and 5 years, the limit, the bridge.
            page.locator(".almsim-run").click()
            expect(page.locator(".almsim-running")).to_be_visible()  # with its progress bar
            expect(page.locator(".almsim-run")).to_be_disabled()
            table = page.locator(".almsim-who-pays table")
            expect(table).to_be_visible(timeout=120_000)
            expect(table).to_contain_text("saving after 5 years (MSEK, discounted)")
            expect(page.locator(".almsim-who-pays")).to_contain_text(SIGN_NOTE)
            expect(page.locator(".almsim-limits")).to_contain_text("starts per month")
            expect(page.locator(".almsim-bridge")).to_contain_text("Payoff-style estimate")
            # the calibrated national rates were drawn per replication (the box is not ticked)
            expect(page.locator(".almsim-parameters").first).to_contain_text("drawn per replication from fit")
            first = table.inner_text()
            run = page.locator(".almsim-run")
            expect(run).to_be_enabled(timeout=30_000)  # the task has finished, not only shown its result

            # 100 places instead of 200: run again; the table and the binding limit change.
            _set(page, "Places (file: 200)", "100")
            expect(page.locator(".almsim-lever.moved", has_text="Places")).to_be_visible()
            run.click()
            expect(page.locator(".almsim-changed")).to_contain_text(f"{SLOTS}=100", timeout=120_000)
            expect(page.locator(".almsim-limits")).to_contain_text("places bind")
            assert table.inner_text() != first
            expect(run).to_be_enabled(timeout=30_000)
            page.screenshot(path=str(tmp_path / "studio.png"), full_page=True)

            # The report downloads as one HTML file.
            with page.expect_download(timeout=120_000) as download:  # (the report is drawn first: slow under load)
                page.get_by_text("Download the report (HTML)").click()
            report = Path(download.value.path()).read_text(encoding="utf-8")
            assert report.startswith("<!DOCTYPE html>") and "Who pays, who saves" in report

            # Save the variant; the file validates.
            name = page.get_by_label("Name of the variant (NAME.yaml)")
            name.fill("hundred-places")
            page.locator(".almsim-save").click()
            expect(page.locator(".almsim-message")).to_contain_text("hundred-places.yaml", timeout=30_000)
            saved = folder / "hundred-places.yaml"
            check = subprocess.run([sys.executable, "-m", "sim", "validate", str(saved)], cwd=ROOT,
                                   capture_output=True, text=True)
            assert check.returncode == 0, check.stderr
            assert "extends: almsim:sigtuna-resursjobb" in saved.read_text()

            # Reopen it: its levers are the file's values now.
            page.get_by_label("Or open your own scenario file (path)").fill(str(saved))
            page.locator(".almsim-open").click()
            expect(page.locator(".almsim-pair")).to_contain_text(str(saved), timeout=30_000)
            expect(page.locator(".almsim-lever", has_text="Places (file: 100)")).to_be_visible()
            expect(page.locator(".almsim-who-pays")).to_have_count(0)  # no result of the old pair
        finally:
            browser.close()
    assert errors == []


def test_a_moved_assumption_is_one_value_for_every_month_as_its_line():
    """The lever of a dated assumption (activity support after the basic amount: 320, 365 from
    September 2015) shows the value at the programme's start and, moved, sets one value for every
    month: the value its assumption line posts, not the file's steps scaled."""
    scenario = load_scenario(SIGTUNA)
    path = "money.activity_support_after_basic_sek_per_day"
    lever = next(lv for lv in levers(scenario) if lv.path == path)
    assert lever.value == 320 and len(lever.dated) == 2
    assert lever_overrides([lever], {path: 223}) == [f"{path}=223"]
    moved = load_scenario(SIGTUNA, lever_overrides([lever], {path: 223}))
    rate = moved.money.activity_support_after_basic_sek_per_day
    assert rate.at(moved.start_month) == rate.at(2016 * 12) == 223
