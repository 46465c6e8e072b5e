"""The Scenarios page in a real browser, against a server on the synthetic store with two real
tiny fits (tests/scenario_support.py): pick a saved scenario, run it, see the comparison, save a
copy, add a row; and the Overview's "Why it moved" and alerts panels."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from dashboard.web import ids
from tests.browser.conftest import ROOT, _free_port, screenshot
from tests.scenario_support import CASE_ID

HIGH_F0 = [{"indicator": "ind_4", "months_ahead": m, "value": 2} for m in (1, 4, 7, 10)]


@pytest.fixture(scope="module")
def synthetic_server(synthetic_runs: Any) -> Iterator[str]:
    from indicators.alerts import add_alert, get_scenario, save_scenario

    f = synthetic_runs
    store = f.store()
    if get_scenario(store, CASE_ID, "Browser tone") is None:
        save_scenario(
            store, CASE_ID, name="Browser tone", description="top tone for a year", observations=HIGH_F0, actor="test"
        )
    add_alert(store, CASE_ID, outcome="outcome_0", horizon=1, kind="change", threshold=0.0001, actor="test")
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBINGER_")}
    env.update(HARBINGER_HOME=str(f.home), HARBINGER_USER="browser-tester", PYTHONUNBUFFERED="1")
    port = _free_port()
    log = (f.home.parent / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli.main", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"harbinger serve did not start: {(f.home.parent / 'serve.log').read_text()}")
        time.sleep(0.3)
    try:
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def test_scenarios_page_runs_saves_and_compares(
    page: Any, console: Any, synthetic_server: str, synthetic_runs: Any
) -> None:
    page.set_default_timeout(60_000)
    page.goto(synthetic_server + "/scenarios")
    page.wait_for_selector(f"#{ids.SC_SELECT}")
    page.wait_for_load_state("networkidle")
    # pick the saved scenario: its observations fill the table
    page.locator(f"#{ids.SC_SELECT}").click()
    page.get_by_text("Browser tone (saved)").click()
    page.locator("#scenario-description-text").wait_for()
    assert "top tone for a year" in page.locator("#scenario-description-text").inner_text()
    cells = page.locator(f"#{ids.SC_TABLE} td[data-dash-column='indicator']")
    page.wait_for_function(
        f"document.querySelectorAll(\"#{ids.SC_TABLE} td[data-dash-column='indicator']\").length == 4"
    )
    assert cells.first.inner_text().strip() == "ind_4"
    # run it: comparison table, method, k-hat and chart
    page.get_by_role("button", name="Run scenario").click()
    table = page.locator("#scenario-comparison-table")
    table.wait_for()
    assert table.locator("tbody tr").count() == 8
    assert page.locator("#scenario-method").inner_text() == "reweighting"
    khat = float(page.locator("#scenario-khat").inner_text())
    assert khat <= 0.7 and page.locator("#scenario-unreliable").count() == 0
    first = table.locator("tbody tr").first.inner_text()
    assert "outcome_0" in first and "pts" in first
    page.locator(f"#{ids.SC_CHART} .scatterlayer").first.wait_for()
    screenshot(page, "scenarios-page")
    # add a row, then save the table under a new name
    page.get_by_role("button", name="Add a row").click()
    page.wait_for_function(
        f"document.querySelectorAll(\"#{ids.SC_TABLE} td[data-dash-column='indicator']\").length == 5"
    )
    page.get_by_label("Scenario name", exact=True).fill("Browser copy")
    page.get_by_role("button", name="Save scenario").click()
    page.locator("#scenario-saved-text").wait_for()
    from indicators.alerts import get_scenario

    store = synthetic_runs.store()
    saved = get_scenario(store, CASE_ID, "Browser copy")
    store.close()
    assert saved is not None and len(saved["observations"]) == 4  # the blank row is not an observation
    assert console.errors == []


def test_overview_explains_the_last_change_and_shows_the_fired_alert(
    page: Any, console: Any, synthetic_server: str
) -> None:
    page.set_default_timeout(90_000)
    page.goto(synthetic_server + "/")
    page.locator("#explain-table").wait_for()
    text = page.locator(f"#{ids.OV_EXPLAIN}").inner_text()
    assert "total change" in text and "unexplained remainder" in text and "corrected observation" in text
    alerts = page.locator(f"#{ids.OV_ALERTS}")
    alerts.locator(".alert-fired").first.wait_for()
    assert "FIRED" in alerts.inner_text()
    screenshot(page, "overview-why-it-moved")
    assert console.errors == []
