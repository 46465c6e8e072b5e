"""The Watch list page in a real browser: it opens from the current run's cached list, ranks the
indicators, states tripwires, and follows the horizon and threshold controls, found by their
visible labels.

The session server's current run has no posterior, so its watch list is the one of a fake
posterior of the shipped case (tests/watch_support.py), written into the run's directory as a fit
would have left it.
"""

from __future__ import annotations

import json
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


def test_a_horizon_chosen_while_the_page_loads_stays_chosen(page: Any, server: Any, console: Any) -> None:
    """The page's first request for the outcome's horizons is held back (a loaded server) until
    the user has chosen a horizon: its answer, landing after the click, keeps the user's choice."""
    _cache_watch_list(server)
    held: list[Any] = []

    def hold_horizon_choices(route: Any) -> None:
        output = json.loads(route.request.post_data or "{}").get("output", "")
        if not held and output.startswith(f"..{ids.WL_HORIZON}.options"):
            held.append(route)
        else:
            route.continue_()

    page.route(re.compile(r"_dash-update-component"), hold_horizon_choices)
    page.goto(server.url + "/watch")
    page.locator(f"#{ids.WL_RANKING}").first.wait_for()
    for _ in range(200):  # the page's first callbacks are sent once its scripts have loaded
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1, "the page did not ask for the outcome's horizons"
    page.get_by_label("3 years").check()
    held[0].continue_()
    page.get_by_role("heading", name=re.compile(r"within 3 years")).wait_for()
    page.wait_for_load_state("networkidle")
    assert page.get_by_label("3 years").is_checked()
    assert page.get_by_role("heading", name=re.compile(r"within 1 year")).count() == 0
    assert console.errors == []
