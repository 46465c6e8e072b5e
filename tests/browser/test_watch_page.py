"""The Watch list page in a real browser: it opens from the current run's cached list, ranks the
indicators, states tripwires, and follows the horizon and threshold controls, found by their
visible labels.

The session server's current run has no posterior, so its watch list is the one of a fake
posterior of the shipped case (tests/watch_support.py), written into the run's directory as a fit
would have left it.
"""

from __future__ import annotations

import re
from typing import Any

from dashboard.web import ids
from tests.browser.conftest import CASE, screenshot


def _cache_watch_list(server: Any) -> str:
    from dashboard.services.context import as_date
    from dashboard.services.runs import current_run
    from tests.watch_support import shipped_watch_doc, write_watch

    store = server.store()
    try:
        run = current_run(store, CASE)
        write_watch(server.home / "runs" / run["id"], shipped_watch_doc(as_date(run["as_of"]), run["id"]))
        return run["id"]
    finally:
        store.close()


def test_the_watch_list_page(page: Any, server: Any, console: Any) -> None:
    run_id = _cache_watch_list(server)
    page.goto(server.url + "/watch")
    table = page.locator(f"#{ids.WL_RANKING}").first
    table.wait_for()
    assert run_id in page.locator(f"#{ids.WL_CONTENT}").inner_text()
    assert table.locator("tbody tr").count() == 17
    assert page.get_by_role("link", name="Watch list").get_attribute("class") == "nav-link active"
    tripwires = page.locator(f"#{ids.WL_TRIPWIRES}").first
    assert re.search(r"watch for: |No plausible value", tripwires.inner_text())

    page.get_by_label("3 years").check()
    page.get_by_role("heading", name=re.compile(r"within 3 years")).wait_for()
    threshold = page.get_by_label("Tripwire threshold (%)")
    threshold.fill("0.9")
    threshold.press("Enter")
    page.get_by_role("heading", name=re.compile(r"\(your threshold; now")).first.wait_for()
    screenshot(page, "watch")
    threshold.fill("150")
    threshold.press("Enter")
    page.get_by_text("Tripwire threshold: threshold 150% must lie strictly between 0 and 100.").wait_for()
    page.wait_for_load_state("networkidle")
    assert console.errors == []
