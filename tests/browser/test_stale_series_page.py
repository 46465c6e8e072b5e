"""The Indicators page warns about series not reviewed for too long, and Mark reviewed clears one.

The served home holds the shipped review records (every open-coverage series reviewed through
2025-12-31, by ``harbinger init``): on any day after 2026-07-01 they are all stale.
"""

from __future__ import annotations

import re
from datetime import date

from dashboard.web import ids
from indicators.observations import today
from tests.browser.conftest import CASE, choose, screenshot

SERIES = "china_russia_joint_naval_patrol"  # no other browser test records anything of it
NAME = "China–Russia joint naval patrol"


def _count(text: str) -> int:
    """How many series the notice's headline says are stale ("8 series have not been ...")."""
    return int(re.match(r"(\d+) series ha", text).group(1))


def test_the_stale_warning_names_a_series_until_it_is_marked_reviewed(page, server) -> None:
    # the Overview names the stale series too, and links to the form
    page.goto(server.url + "/")
    page.wait_for_selector(f"#{ids.OV_CONTENT} .outcome-card")
    overview = page.locator(f"#{ids.OV_STALE} .stale-series")
    assert f"{NAME}: reviewed through 2025-12-31" in overview.inner_text()
    screenshot(page, "stale-series-overview")
    overview.get_by_role("link", name="Mark series reviewed on the Indicators page").click()
    page.wait_for_url(f"**/indicators?case={CASE}")
    page.wait_for_selector(f"#{ids.IND_TABLE} td")
    notice = page.locator(f"#{ids.IND_STALE} .stale-series")
    notice.wait_for()
    assert notice.get_attribute("role") == "alert"
    stale_before = _count(notice.inner_text())
    assert f"{NAME}: reviewed through 2025-12-31, {(today() - date(2025, 12, 31)).days} days ago" in notice.inner_text()
    page.locator(f"#{ids.REVIEW_TABLE} tr", has_text=NAME).get_by_text("stale").wait_for()
    screenshot(page, "stale-series-warning")

    choose(page, ids.REVIEW_INDICATOR, NAME)
    assert page.get_by_label("Reviewed through", exact=True).input_value() == today().isoformat()
    page.get_by_role("button", name="Mark reviewed").click()
    page.locator(f"#{ids.REVIEW_MESSAGE}").get_by_text(f"Recorded: {NAME} reviewed through {today()}.").wait_for()

    # the warning and the table follow at once: the series is no longer named
    page.wait_for_function(
        "name => !document.querySelector('#" + ids.IND_STALE + "').innerText.includes(name)", arg=NAME
    )
    row = page.locator(f"#{ids.REVIEW_TABLE} tr", has_text=NAME)
    row.get_by_text("up to date").wait_for()
    assert today().isoformat() in row.inner_text()
    assert _count(notice.inner_text()) == stale_before - 1
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar at the top of the full-page picture
    screenshot(page, "stale-series-marked-reviewed")

    store = server.store()
    assert store.reviews(CASE)[SERIES] == today()
    store.close()
