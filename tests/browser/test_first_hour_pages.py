"""Issue 20 in the browser: a fit's progress on every page (item 2) and several cases served at
once (item 7).

The module's own server (not the session's: these tests record a running fit, and a second case)
serves the shipped case, with one fake ok run whose fit "took" five minutes, and the mini test
case, with no run. No sampler runs: HARBINGER_AUTO_REFIT=0 and a fit recorded by this test process
stands for a running one (its pid is alive, so the server never marks it interrupted).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from dashboard.web import ids
from tests.browser.conftest import CASE, LAPTOP, ROOT, choose, screenshot
from tests.fits import fit_env
from tests.live_server import MINI_CASE, MINI_OBSERVATIONS, free_port, harbinger, harbinger_env

MINI = "mini"


class Served:
    def __init__(self, url: str, home: Path, log: Path):
        self.url, self.home, self.log = url, home, log


@pytest.fixture(scope="module")
def two_cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("two-cases") / "home"
    # tiny fits (tests/fits.py), should any start: a case without a run starts one on its Overview
    env = harbinger_env(home, user="browser-tester", HARBINGER_AUTO_REFIT="0", **fit_env())
    done = harbinger("init", env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARBINGER_HOME", str(home))
        mp.delenv("HARBINGER_DATABASE_URL", raising=False)
        from indicators.case import load_case
        from indicators.store import Store
        from tests.dashboard_support import register_fake_run

        store = Store.from_env()
        store.load_case(load_case(MINI_CASE))
        store.import_csv(MINI, MINI_OBSERVATIONS, actor="test")
        run_id = register_fake_run(store, CASE)
        _took(store, run_id, 300)
        store.close()
    port = free_port()
    log = home.parent / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli.main", "serve", "--port", str(port)],
            env=env | {"HARBINGER_CASE": CASE},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise RuntimeError(f"harbinger serve with two cases did not start:\n{log.read_text()}")
        time.sleep(0.3)
    try:
        yield Served(url, home, log)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


def _took(store: Any, run_id: str, seconds: float) -> None:
    import sqlalchemy as sa

    from indicators.store import runs

    with store.engine.begin() as conn:
        row = conn.execute(sa.select(runs.c.finished_at).where(runs.c.id == run_id)).one()
        conn.execute(
            runs.update().where(runs.c.id == run_id).values(created_at=row.finished_at - timedelta(seconds=seconds))
        )


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


# ---------------------------------------------------------------------------- 2. progress


def test_a_page_opened_mid_fit_shows_the_stage_bar_and_estimate_and_refit_is_disabled(
    tab: Any, two_cases: Served, monkeypatch: Any
) -> None:
    from dashboard.services import progress

    monkeypatch.setenv("HARBINGER_HOME", str(two_cases.home))
    monkeypatch.delenv("HARBINGER_DATABASE_URL", raising=False)
    from indicators.store import Store

    store = Store.from_env()
    run_id = store.create_run(
        CASE,
        as_of=date(2026, 1, 1),
        case_hash=store.get_case(CASE).hash,
        data_hash="x",
        n_observations=1,
        model_version="test",
        settings={"chains": 2, "tune": 100, "draws": 100, "attempt": 2},
    )
    try:  # a fit started elsewhere (harbinger fit), retried, tuning
        progress.write(
            progress.progress_path(store.runs_dir, run_id), 0.3, "sampling: 120 of 400 draws · attempt 2 of 2"
        )
        tab.goto(two_cases.url + "/indicators")
        bar = tab.locator(f"#{ids.FIT_PROGRESS_BOX}:not(.hidden)")
        bar.wait_for()
        label = tab.locator(f"#{ids.FIT_PROGRESS_LABEL}")
        tab.wait_for_function(f"() => document.querySelector('#{ids.FIT_PROGRESS_LABEL}').innerText.length > 0")
        text = label.inner_text()
        assert "Tuning the sampler" in text and "attempt 2 of 2" in text and "30%" in text
        assert "left (the last fit took 5 min)" in text
        assert tab.locator(f"#{ids.FIT_PROGRESS}").get_attribute("value") == "30"
        screenshot(tab, "first-hour-progress-mid-fit-indicators")
        # the Overview: the same bar, and Refit disabled while the fit runs
        progress.write(progress.progress_path(store.runs_dir, run_id), 0.99, "computing forecasts")
        tab.goto(two_cases.url + "/")
        tab.locator(f"#{ids.FIT_PROGRESS_BOX}:not(.hidden)").wait_for()
        tab.wait_for_function(
            f"() => document.querySelector('#{ids.FIT_PROGRESS_LABEL}').innerText.startsWith('Summarising')"
        )
        tab.wait_for_function(f"() => document.getElementById('{ids.OV_REFIT}').disabled === true")
        screenshot(tab, "first-hour-progress-mid-fit-overview")
    finally:
        store.fail_run(run_id, "test over")
        store.close()
    # when the fit ends, the bar goes and Refit is enabled again (the shell polls every 5 s)
    tab.locator(f"#{ids.FIT_PROGRESS_BOX}.hidden").wait_for(state="attached", timeout=30_000)
    tab.wait_for_function(f"() => document.getElementById('{ids.OV_REFIT}').disabled === false")


# ---------------------------------------------------------------------------- 7. several cases


def test_every_loaded_case_is_served_and_the_url_names_it(tab: Any, two_cases: Served) -> None:
    tab.goto(two_cases.url + "/indicators")
    # HARBINGER_CASE chose the default: the shipped case
    _note_ready(tab)
    assert not tab.locator(f"#{ids.IND_TABLE_NOTE}").inner_text().startswith("5 observations")
    picker = tab.locator(f"#{ids.CASE_PICKER}")
    assert "Russia" in picker.inner_text()
    # the picker loads the same page for the other case; the URL names it
    picker.click()
    tab.get_by_text("Mini test case", exact=True).click()
    tab.wait_for_url("**/indicators?case=mini")
    _note_ready(tab)
    assert tab.locator(f"#{ids.IND_TABLE_NOTE}").inner_text().startswith("5 observations")  # the mini case's
    assert "Mini test case" in tab.locator(f"#{ids.CASE_PICKER}").inner_text()
    screenshot(tab, "first-hour-case-picker-mini")
    # the navigation keeps the case: the mini case has no run (the shipped case has one)
    tab.get_by_role("link", name="Model").click()
    tab.wait_for_url("**/model?case=mini")
    tab.get_by_text("No run yet").wait_for()
    # a URL naming a case opens it directly
    tab.goto(two_cases.url + f"/model?case={CASE}")
    tab.locator("#diagnostics-table").wait_for()
    assert "Russia" in tab.locator(f"#{ids.CASE_PICKER}").inner_text()
    log = two_cases.log.read_text()
    assert f"case '{CASE}'; also mini (?case=mini)" in log


def _note_ready(tab: Any) -> None:
    tab.wait_for_function(
        f"() => (document.getElementById('{ids.IND_TABLE_NOTE}') || {{}}).innerText?.includes('observations')"
    )


# ---------------------------------------------------------------------------- 8. polish


def _an_observation(served: Served) -> dict[str, str]:
    """A stored observation of the shipped case, as the add form takes it."""
    from indicators.store import Store

    store = Store(f"sqlite:///{served.home / 'harbinger.db'}")
    try:
        r = store.observations(CASE).iloc[0]
    finally:
        store.close()
    day = lambda v: str(v)[:10]  # noqa: E731
    return {
        "indicator": r["indicator"],
        "date": day(r["date"]),
        "end": day(r["end"]) if day(r["end"]) != day(r["date"]) else "",
        "value": f"{float(r['value']):g}",
        "source": r["source"],
    }


def test_polish_alert_buttons_table_filter_and_note_duplicate_label_and_pdf_busy(tab: Any, two_cases: Served) -> None:
    # an alert is removed with its row's button, no id typed
    tab.goto(two_cases.url + f"/?case={CASE}")
    tab.locator(f"#{ids.OV_CONTENT} .outcome-card").first.wait_for()
    tab.get_by_label("Alert horizon (years)").fill("5")
    tab.get_by_label("Alert threshold").fill("20")
    choose(tab, ids.OV_ALERT_OUTCOME)
    tab.get_by_role("button", name="Add alert").click()
    tab.locator("#alert-edit-ok").wait_for()
    assert tab.get_by_label("Alert id to remove").count() == 0
    remove = tab.locator("#alerts-table").get_by_role("button", name="Remove alert")
    remove.first.wait_for()
    remove.first.click()
    tab.get_by_text("Removed alert").wait_for()
    tab.locator("#alerts-empty").wait_for()
    # the observations table: the Id filter's placeholder fits; notes wrap instead of being cut off
    tab.goto(two_cases.url + f"/indicators?case={CASE}")
    tab.locator(f"#{ids.IND_TABLE} td[data-dash-column='note']").first.wait_for()
    fits = tab.evaluate(f"""() => {{
        const input = document.querySelector("#{ids.IND_TABLE} th[data-dash-column='id'] input");
        const notes = [...document.querySelectorAll("#{ids.IND_TABLE} td[data-dash-column='note'] div")];
        return {{placeholder: input.placeholder, fits: input.scrollWidth <= input.clientWidth + 1,
                 cut: notes.filter(d => d.scrollWidth > d.clientWidth + 1).length,
                 narrowest: Math.min(...notes.map(d => d.parentElement.getBoundingClientRect().width)),
                 shown: notes[0].parentElement.getBoundingClientRect().right <=
                        document.querySelector("#{ids.IND_TABLE}").getBoundingClientRect().right + 1}};
    }}""")
    assert fits["placeholder"] == "filter" and fits["fits"], fits
    assert fits["cut"] == 0 and fits["narrowest"] >= 200 and fits["shown"], fits  # wrapped, readable, in view
    screenshot(tab, "first-hour-observations-table")
    # a duplicate observation is named as such, not "Value:"
    frame_row = _an_observation(two_cases)
    tab.get_by_label("Indicator", exact=True).fill(frame_row["indicator"])
    tab.get_by_label("Date", exact=True).fill(frame_row["date"])
    if frame_row["end"]:
        tab.get_by_label("End date", exact=True).fill(frame_row["end"])
    tab.get_by_label("Value", exact=True).fill(frame_row["value"])
    tab.get_by_label("Source", exact=True).fill(frame_row["source"])
    tab.get_by_role("button", name="Add observation").click()
    message = tab.locator(f"#{ids.ADD_MESSAGE}")
    message.get_by_text("Duplicate:").wait_for()
    assert "Value:" not in message.inner_text()
    # the PDF: every download button disabled and the page saying what happens until it is made
    tab.goto(two_cases.url + f"/reports?case={CASE}")
    tab.locator("#reports-run-table").wait_for()
    tab.get_by_role("button", name="Download PDF report").click()
    tab.wait_for_function(f"() => [...document.querySelectorAll('#{ids.RP_BUTTONS} button')].every(b => b.disabled)")
    assert "Making the file" in tab.locator(f"#{ids.RP_BUSY}").inner_text()
    screenshot(tab, "first-hour-reports-busy")
    tab.locator("#reports-result").wait_for(timeout=180_000)
    tab.wait_for_function(f"() => [...document.querySelectorAll('#{ids.RP_BUTTONS} button')].every(b => !b.disabled)")
