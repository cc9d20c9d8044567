"""The teaching app: levers as overrides, the Mesa wrapper model, and the page in a real browser.

The browser test starts ``almsim teach`` on a free localhost port, drives it in headless
Chromium with Playwright (Debian's ``/usr/bin/chromium``; Playwright's own browser download is
never used) and saves a screenshot. It is skipped only where no Chromium is installed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sim import load_scenario
from sim.present.app import TeachingModel, lever_overrides, levers

ROOT = Path(__file__).resolve().parents[1]
C2 = str(ROOT / "scenarios" / "c2-lycksele.yaml")
SIGTUNA = str(ROOT / "scenarios" / "sigtuna-resursjobb.yaml")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# ------------------------------------------------------------------------------ levers
def test_a_coaching_programme_has_staff_caseload_length_and_referral_levers():
    lv = levers(load_scenario(C2))
    assert set(lv) == {"staff", "caseload", "max_duration", "referral_rate"}
    assert (lv["staff"].value, lv["caseload"].value, lv["max_duration"].value) == (3.0, 17.0, 18.0)


def test_a_municipal_job_programme_has_places_and_a_budget_lever():
    lv = levers(load_scenario(SIGTUNA))
    assert set(lv) == {"places", "max_duration", "budget_msek", "referral_rate"}
    assert lv["places"].value == 200 and lv["budget_msek"].value == 0.0  # 0 = no budget limit


def test_levers_at_the_files_values_change_nothing():
    scenario = load_scenario(C2)
    same = {k: lever.value for k, lever in levers(scenario).items()}
    assert lever_overrides(scenario, same) == []
    assert lever_overrides(scenario, {"staff": None}) == []


def test_moved_levers_become_overrides_and_keep_dated_closures():
    scenario = load_scenario(C2)
    ov = lever_overrides(scenario, {"staff": 2.0, "referral_rate": 0.5, "max_duration": 12})
    assert "programmes.c2.capacity.staff=2" in ov
    assert "programmes.c2.max_duration_months=12" in ov
    # C2 closes to referrals in 2010: that step stays zero.
    assert "programmes.c2.referral_rate_per_month={2007-01: 0.5, 2010-01: 0}" in ov
    changed = load_scenario(C2, ov)
    assert changed.programmes[0].referral_rate_per_month.at(changed.start_month + 40) == 0.0


def test_a_budget_lever_sets_the_employers_yearly_budget():
    scenario = load_scenario(SIGTUNA)
    ov = lever_overrides(scenario, {"budget_msek": 20.0, "places": 100})
    assert set(ov) == {"programmes.resursjobb.budget_sek_per_year={municipality: 20000000}",
                       "programmes.resursjobb.capacity.slots=100"}
    assert load_scenario(SIGTUNA, ov).programmes[0].budget_sek_per_year["municipality"].first == 20e6


# ------------------------------------------------------------------------------ the model
def test_the_teaching_model_steps_months_and_collects_stocks_queue_and_costs():
    model = TeachingModel(scenario_file=C2, staff=2)
    assert model.months_done == 0 and model.queue() == (0, 0, 34)
    for _ in range(6):
        model.step()
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 6 and {"waiting", "in programme", "places", "coaching", "municipality", "society"} <= set(df)
    assert (df["places"] == 34).all()
    assert (df["in programme"] <= df["places"]).all()
    assert df["municipality"].iloc[-1] > 0  # social assistance: the municipality has paid
    f = model.followed()
    assert f["month"] == "2007-06" and "municipality" in f["money"]
    assert model.month_label == "2007-06" and model.time == 6


def test_the_teaching_model_runs_to_the_horizon_and_stops():
    model = TeachingModel(scenario_file=C2)
    while model.running:
        model.step()
    assert model.months_done == load_scenario(C2).horizon_months
    model.step()  # a step after the end does nothing
    assert model.months_done == load_scenario(C2).horizon_months


def test_refused_lever_values_fall_back_to_the_file_with_a_message():
    model = TeachingModel(scenario_file=C2, referral_rate=1.5)  # a rate above 1 is invalid
    assert model.error and "referral_rate_per_month" in model.error and model.overrides == []
    model = TeachingModel(scenario_file=C2, person=10_000)  # no such person: follow person 0
    assert model.person == 0


def test_almsim_teach_refuses_a_bad_scenario_with_one_line(tmp_path, capsys):
    import sim.cli.teach  # noqa: F401 - registers `almsim teach`
    from sim.cli.main import main

    assert main(["teach", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err


# ------------------------------------------------------------------------------ the browser
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_url():
    port = _free_port()
    code = "import sys, sim.cli.teach; from sim.cli.main import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, "teach", C2, "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"almsim teach did not serve {url}:\n{proc.stdout.read()}") from None
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the CLI and the solara server it started
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (Debian package 'chromium'; "
                                                  ".ci/run installs it where it can)")
def test_the_app_in_a_browser_steps_and_a_slider_changes_the_model(app_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1500, "height": 1100})
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(app_url, timeout=60_000)
            month, queue = page.locator(".almsim-month"), page.locator(".almsim-queue")
            # The page loads: title, controls, sliders, charts and the panel.
            expect(month).to_have_text("Month 2007-01 · step 0 of 96", timeout=60_000)
            expect(page.get_by_text("almsim: Lycksele C2 coaching project")).to_be_visible()
            expect(queue).to_contain_text("places 51")
            charts = page.locator(".vue-grid-item img")
            expect(charts).to_have_count(3)
            first_chart = charts.first.get_attribute("src")

            # Stepping changes the step counter, the numbers and the charts.
            for i in range(1, 4):
                page.get_by_role("button", name="Step").click()
                expect(month).to_contain_text(f"step {i} of 96", timeout=20_000)
            expect(page.get_by_text("Time: 3.0")).to_be_visible()
            assert "in programme 0" not in queue.inner_text()
            assert charts.first.get_attribute("src") != first_chart
            expect(page.locator(".almsim-person")).to_contain_text("This month's money")

            # Moving the coaches slider (3 -> 2) and resetting changes the model's places.
            slider = page.locator(".v-input", has_text="Coaches (staff)").get_by_role("slider")
            slider.focus()
            for _ in range(4):  # 0.25 a step
                slider.press("ArrowLeft")
            expect(slider).to_have_attribute("aria-valuenow", "2")
            page.get_by_role("button", name="Reset").click()
            expect(month).to_contain_text("step 0 of 96", timeout=20_000)
            expect(queue).to_contain_text("places 34")
            page.get_by_role("button", name="Step").click()
            expect(month).to_contain_text("step 1 of 96", timeout=20_000)
            expect(page.get_by_text("programmes.c2.capacity.staff=2")).to_be_visible()

            # Play runs the months on its own until paused.
            page.get_by_role("button", name="▶").click()
            expect(month).to_have_text(re.compile(r"step ([1-9]\d) of 96"), timeout=60_000)
            page.get_by_role("button", name="❚❚").click()
            expect(page.get_by_role("button", name="Step")).to_be_enabled()
            page.screenshot(path=str(tmp_path / "teaching-app.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "teaching-app.png").stat().st_size > 10_000
    assert errors == []
