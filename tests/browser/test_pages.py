"""The dashboard in a real browser: pages, the add form, CSV upload, console errors, screenshots."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest

from dashboard.services import views
from dashboard.web import ids
from tests.browser.conftest import CASE, LARGE, screenshot
from tests.dashboard_support import sample_forecast

PAGES = [
    ("/", "overview", f"#{ids.OV_CONTENT} .outcome-card"),
    ("/indicators", "indicators", f"#{ids.IND_TABLE} td"),
    ("/model", "model", "#diagnostics-table"),
]


def _open(page, server, path: str, ready: str) -> None:
    page.goto(server.url + path)
    page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")


def test_overview_shows_every_outcome_probability(page, server):
    _open(page, server, "/", f"#{ids.OV_CONTENT} .outcome-card")
    forecast = sample_forecast()
    bar = page.locator(f"#{ids.RUN_BAR}")
    assert server.first_run in bar.inner_text() and forecast["as_of"] in bar.inner_text()

    def check(horizon: int) -> None:
        for outcome in forecast["outcomes"]:
            card = page.locator(f"#outcome-{outcome['id']}")
            if outcome["resolved"]:
                assert card.locator(".badge-resolved").inner_text().strip().lower() == "resolved"
                continue
            h = next(h for h in outcome["horizons"] if h["years"] == horizon)
            prob = card.locator(".prob")
            prob.wait_for()
            assert prob.inner_text() == views.fmt_prob(h["p_mean"])
            assert card.locator(".interval").inner_text() == (
                f"90% interval {views.fmt_prob(h['p_05'])} – {views.fmt_prob(h['p_95'])}"
            )
            assert f"within {horizon} year" in card.inner_text()

    check(1)
    page.get_by_label("10 years").check()
    page.wait_for_function("document.querySelector('#outcome-peace_treaty').innerText.includes('within 10 years')")
    check(10)


def test_observation_added_through_the_form_is_in_the_table_and_the_store(page, server):
    _open(page, server, "/indicators", f"#{ids.IND_TABLE} td")
    today = datetime.now(UTC).date().isoformat()
    source = f"Browser test report {time.time_ns()}"
    page.get_by_label("Indicator", exact=True).fill("leader_summit")
    page.get_by_label("Date", exact=True).fill(today)
    page.get_by_label("End date", exact=True).fill("")
    page.get_by_label("Value", exact=True).fill("1")
    page.get_by_label("Source", exact=True).fill(source)
    page.get_by_label("Reliability", exact=True).fill("B")
    page.get_by_label("Credibility", exact=True).fill("2")
    page.get_by_label("Note", exact=True).fill("<i>typed in the browser</i>")
    page.get_by_role("button", name="Add observation").click()
    message = page.locator(f"#{ids.ADD_MESSAGE}")
    message.get_by_text(re.compile(r"Added observation \d+")).wait_for()
    new_id = int(re.search(r"Added observation (\d+)", message.inner_text()).group(1))

    table = page.locator(f"#{ids.IND_TABLE}")
    table.get_by_text(source).wait_for()
    assert table.get_by_text("<i>typed in the browser</i>").count() == 1  # shown as text, not HTML

    store = server.store()
    frame = store.observations(CASE)
    row = frame[frame["id"] == new_id].iloc[0]
    assert (row["indicator"], row["source"], row["value"], row["reliability"], row["credibility"]) == (
        "leader_summit",
        source,
        1.0,
        "B",
        2,
    )
    assert row["recorded_by"] == "browser-tester"
    store.close()
    # the run bar now says the run is stale
    page.locator(f"#{ids.RUN_BAR} .label-alert", has_text="Stale:").wait_for()


def test_form_errors_are_shown_and_nothing_is_stored(page, server):
    _open(page, server, "/indicators", f"#{ids.IND_TABLE} td")
    store = server.store()
    before = store.n_records(CASE)
    page.get_by_label("Indicator", exact=True).fill("leader_summit")
    page.get_by_label("Date", exact=True).fill("2024-02-30")
    page.get_by_label("Value", exact=True).fill("one")
    page.get_by_role("button", name="Add observation").click()
    message = page.locator(f"#{ids.ADD_MESSAGE}")
    message.get_by_text("Observation not added").wait_for()
    text = message.inner_text()
    assert "Date: '2024-02-30' is not a real calendar date." in text
    assert "Value: 'one' is not a number." in text
    assert "Source: the source is missing" in text
    assert store.n_records(CASE) == before
    store.close()


def test_bad_csv_upload_shows_row_errors_and_stores_nothing(page, server):
    _open(page, server, "/indicators", f"#{ids.IND_TABLE} td")
    store = server.store()
    before = store.snapshot()
    content = (
        b"indicator,date,end,value,source,reliability,credibility,note\n"
        b"leader_summit,2024-05-01,,1,Kyodo,B,2,fine row\n"
        b"no_such_indicator,2024-05-02,,1,TASS,C,3,\n"
        b"leader_summit,2024-05-03,,x,,B,9,\n"
    )
    page.locator(f"#{ids.UPLOAD} input[type=file]").set_input_files(
        files=[{"name": "bad-rows.csv", "mimeType": "text/csv", "buffer": content}]
    )
    errors = page.locator("#upload-errors")
    errors.wait_for()
    text = errors.inner_text()
    assert "bad-rows.csv: 4 bad row(s); nothing was imported." in text
    assert "line 3, column 'indicator': 'no_such_indicator' is not an indicator of case" in text
    assert "line 4, column 'value': 'x' is not a number" in text
    assert "line 4, column 'source': the source is missing" in text
    assert "line 4, column 'credibility'" in text
    assert store.snapshot() == before
    store.close()


def test_no_console_errors_on_any_page_and_screenshots(page, browser, server, console):
    for path, name, ready in PAGES:
        _open(page, server, path, ready)
        page.wait_for_timeout(500)
        screenshot(page, f"{name}-1366")
    # navigating inside the app (no reload) works too
    page.get_by_role("link", name="Overview").click()
    page.wait_for_selector(f"#{ids.OV_CONTENT} .outcome-card")
    assert console.errors == []

    large = browser.new_context(viewport=LARGE)
    pg = large.new_page()
    console.attach(pg)
    try:
        for path, name, ready in PAGES:
            _open(pg, server, path, ready)
            pg.wait_for_timeout(500)
            screenshot(pg, f"{name}-2560")
    finally:
        large.close()
    assert console.errors == []


def test_every_page_shows_the_run_and_diagnostics(page, server):
    # the session's run (the sample forecast) passes its diagnostics; a fit failing them (the
    # Refit test's) never displaces it, so every page names it and says its diagnostics are OK
    forecast = sample_forecast()
    assert forecast["diagnostics"]["ok"] is True
    passed = f"Diagnostics OK · {views.diagnostics_text(forecast['diagnostics'])}"
    for path, _, ready in PAGES:
        _open(page, server, path, ready)
        bar = page.locator(f"#{ids.RUN_BAR}").inner_text()
        assert f"Run {server.first_run}" in bar and f"As of {forecast['as_of']}" in bar
        assert passed in bar and "Diagnostics failed" not in bar


# ---------------------------------------------------------------------------- Refit


@pytest.mark.slow
@pytest.mark.fit
def test_refit_produces_a_new_run_id(page, server):
    """Runs a real tiny fit (tests/fits.py) from the Refit button. A tiny fit fails its diagnostics,
    so the page must say so and keep showing the passing run; a passing one would be shown."""
    _open(page, server, "/", f"#{ids.OV_CONTENT} .outcome-card")
    old = page.locator(f"#{ids.RUN_BAR} .run-id").inner_text()
    page.get_by_role("button", name="Refit").click()
    # the bar follows the run's record, made once the fit's process has loaded the model code
    page.locator(f"#{ids.OV_PROGRESS_BOX}:not(.hidden)").wait_for(timeout=180_000)
    page.wait_for_function(
        f"() => {{ const el = document.querySelector('#{ids.OV_FIT_MESSAGE}'); "
        "return el && /Fit finished|failed its diagnostics/.test(el.innerText); }",
        timeout=600_000,
    )
    message = page.locator(f"#{ids.OV_FIT_MESSAGE}").inner_text()
    store = server.store()
    newest = store.runs(CASE)[0]
    store.close()
    assert newest["id"] != old and newest["status"] == "ok"
    if newest["diagnostics_ok"]:
        page.wait_for_function(
            f"(run) => document.querySelector('#{ids.RUN_BAR} .run-id').innerText === run", arg=newest["id"]
        )
        assert message.startswith(f"Fit finished: now showing run {newest['id']}")
    else:
        assert f"Run {newest['id']} failed its diagnostics" in message
        assert f"previous passing forecast (run {old}) is still shown" in message
        assert page.locator(f"#{ids.RUN_BAR} .run-id").inner_text() == old
