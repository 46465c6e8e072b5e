"""A new user's first minutes: `harbinger serve` on an empty HARBINGER_HOME loads the shipped case,
and opening the Overview starts the first fit by itself, shows its progress, and ends with a
forecast on the page — nothing pressed. A real (small) fit runs, so this is in the slow tier."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dashboard.web import ids
from tests.browser.conftest import LAPTOP, screenshot
from tests.live_server import harbinger_env, start_server

pytestmark = pytest.mark.slow


@pytest.fixture
def empty_home_server(tmp_path: Path) -> Any:
    home = tmp_path / "home"  # does not exist yet: a machine that never ran Harbinger
    # a small fit with PyMC's sampler keeps the test short; one attempt, so the first forecast
    # shown is this fit's whatever its diagnostics (tiny fits fail them, and say so)
    env = harbinger_env(
        home,
        HARBINGER_DRAWS="60",
        HARBINGER_TUNE="60",
        HARBINGER_CHAINS="1",
        HARBINGER_SAMPLER="pymc",
        HARBINGER_FIT_ATTEMPTS="1",
    )
    env.pop("HARBINGER_USER", None)
    env["HARBINGER_USER"] = os.environ.get("USER", "analyst")
    server = start_server(env, timeout=180)
    yield server
    server.stop()


def test_the_first_fit_starts_by_itself_shows_progress_and_ends_in_a_forecast(
    browser: Any, empty_home_server: Any
) -> None:
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        page.goto(empty_home_server.url + "/")
        progress = page.locator(f"#{ids.OV_PROGRESS_BOX}:not(.hidden)")
        progress.wait_for(timeout=180_000)  # the fit started without anything pressed
        assert page.locator(f"#{ids.OV_PROGRESS}").count() == 1
        screenshot(page, "first-hour-progress")
        page.locator(f"#{ids.OV_CONTENT} .outcome-card").first.wait_for(timeout=900_000)
        screenshot(page, "first-hour-forecast")
        cards = page.locator(f"#{ids.OV_CONTENT} .outcome-card")
        assert cards.count() >= 3
        text = page.locator(f"#{ids.OV_CONTENT}").inner_text()
        assert "%" in text and "90%" in text  # a probability with its interval
        bar = page.locator(f"#{ids.RUN_BAR}").inner_text()
        assert "Run " in bar
    finally:
        context.close()
    log = empty_home_server.output()
    assert "loading the shipped case first" in log, log
