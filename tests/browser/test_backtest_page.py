"""The Backtest page in a real browser, reading a saved backtest (no sampler runs)."""

from __future__ import annotations

from dashboard.web import ids
from tests.backtest_support import sample_backtest, save_sample_backtest
from tests.browser.conftest import screenshot


def test_backtest_page_shows_the_saved_scores(page, server, console):
    path = save_sample_backtest(server.home)
    try:
        page.goto(server.url + "/backtest")
        page.wait_for_selector(f"#{ids.BT_INDICATORS} td")
        page.wait_for_load_state("networkidle")
        nav = page.locator(f"#{ids.NAV} a", has_text="Backtest")
        assert nav.get_attribute("href") == "/backtest" and "active" in nav.get_attribute("class")

        doc = sample_backtest()
        table = page.locator(f"#{ids.BT_INDICATORS}")
        row = table.locator("tr", has_text="leader_summit")
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        ls = next(i for i in doc["indicators"] if i["id"] == "leader_summit")
        assert cells[:3] == ["leader_summit", "count", "3"]
        assert cells[3] == f"{ls['crps']:.3g}" and cells[4] == f"{ls['crps_persistence']:.3g}"
        assert cells[6] == f"{ls['skill_persistence']:+.2f}" == "+0.41"
        assert cells[9] == "67%"

        outcome = page.locator(f"#{ids.BT_OUTCOMES} tr", has_text="japan_hardline_shift")
        assert "0.321" in outcome.inner_text()
        skill = page.locator("#backtest-skill tr", has_text="count indicators")
        pooled = [c.strip() for c in skill.filter(has_text="pooled").locator("td").all_inner_texts()]
        assert pooled == ["count indicators", "pooled", "-0.75", "+0.49", "4 rows"]
        assert "Brier skill vs elicited base rate" in page.locator(f"#{ids.BT_OUTCOMES}").inner_text()
        targets = page.locator(f"#{ids.BT_TARGETS}").inner_text()
        assert "Met:" in targets and "measured 0.800" in targets
        assert "Sampler diagnostics failed for origins 2021" in page.locator(f"#{ids.BT_CONTENT}").inner_text()

        # Every chart is drawn: scores, PIT, reliability, and one probability chart per outcome.
        for graph in (
            "backtest-scores",
            "backtest-pit",
            "backtest-reliability",
            "backtest-prob-japan_hardline_shift",
            "backtest-prob-peace_treaty",
        ):
            page.wait_for_selector(f"#{graph} .main-svg")
        assert "resolved 2022-02-23" in page.locator("#backtest-prob-japan_hardline_shift").inner_text()
        screenshot(page, "backtest")
        assert not console.errors, console.errors
    finally:
        path.unlink()


def test_backtest_page_shows_the_latest_calibration_study(page, server, console):
    """The rank histograms of a study saved in the home (a rerun) replace the shipped study's."""
    import json

    from dashboard.services.calibration import home_result_path
    from tests.sbc_support import sample_study

    doc = sample_study(60, seed=0, names=("loading ind_0/factor_0", "persistence factor_0"))
    doc |= {"recorded": "2026-12-05", "model_version": "9.9.9"}
    path = home_result_path(server.home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    try:
        page.goto(server.url + "/backtest")
        page.wait_for_selector("#backtest-sbc-ranks .main-svg")
        page.wait_for_load_state("networkidle")
        summary = page.locator("#backtest-sbc-summary").inner_text()
        assert "2 quantities: 1 rejected by the χ² test at 1%, 1 with an ECDF outside" in summary
        assert "Study of 2026-12-05, model 9.9.9; 1 model compile(s)" in summary
        graph = page.locator("#backtest-sbc-ranks").inner_text()
        assert "loading ind_0/factor_0" in graph and "persistence factor_0" in graph
        assert page.locator("#backtest-sbc-ranks .barlayer .trace").count() == 2
        page.locator("#backtest-sbc").scroll_into_view_if_needed()
        screenshot(page, "backtest_sbc")
        assert not console.errors, console.errors
    finally:
        path.unlink()
