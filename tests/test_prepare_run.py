"""The dashboard's server prepares a new current run ahead of its use
(:func:`dashboard.web.app.prepare_run`): its posterior held in memory for the fast update, and
its watch list and the report's costly content in the run directory, so the Watch page and the
run's first report compute nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from dashboard.web import app

CASE = "northern_territories"


def test_a_prepared_run_holds_its_posterior_and_its_first_report_computes_nothing(
    fitted_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import report
    from dashboard.report import cache
    from dashboard.services import analysis, views, watch
    from dashboard.services.runs import current_run

    views.forget_stores()
    store = views.get_store()
    run = current_run(store, CASE)
    assert watch.read_cached(run) is None  # a fit leaves the watch list to the server
    monkeypatch.setattr(analysis, "_CONTEXTS", {})
    pages: list[str] = []  # the pages' own warm-up needs a Dash app: tests/browser serve one
    monkeypatch.setattr(app, "warm_caches", pages.append)
    app.prepare_run(CASE, run["id"])
    assert pages == [CASE]
    assert run["id"] in analysis._CONTEXTS  # the fast update reads no file
    assert list((Path(run["path"]) / cache.CACHE_DIR).iterdir())
    assert watch.read_cached(run)["run_id"] == run["id"]

    original = cache.cached

    def read_only(run: dict[str, Any], part: str, key: Any, compute: Any) -> Any:
        return original(run, part, key, lambda: pytest.fail(f"the report computed '{part}' again"))

    monkeypatch.setattr(cache, "cached", read_only)
    content = report.build(store, CASE, fmt="html")
    assert content["identity"]["run_id"] == run["id"]
    assert content["sections"] and report.render(content, "html").startswith(b"<!DOCTYPE html>")
    views.forget_stores()


def test_each_current_run_is_prepared_once_and_the_setting_keeps_it_to_the_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(app, "prepare_run", lambda case, run: calls.append(("run", case, run)))
    monkeypatch.setattr(app, "warm_caches", lambda case: calls.append(("pages", case)))
    monkeypatch.setattr(app, "_PREPARED", {})
    monkeypatch.setattr(app, "_SERVING", threading.Event())
    monkeypatch.delenv("HARBINGER_PREPARE_RUNS", raising=False)
    app.start_preparing("c", "r1").join()
    assert app.start_preparing("c", "r1") is None  # already prepared (or being prepared)
    monkeypatch.setenv("HARBINGER_PREPARE_RUNS", "0")
    app.start_preparing("c", "r2").join()
    assert calls == [("run", "c", "r1"), ("pages", "c")]


def test_the_run_state_poll_prepares_a_new_current_run_once_no_fit_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.services import views

    asked: list[tuple[str, str]] = []
    monkeypatch.setattr(app, "start_preparing", lambda case, run: asked.append((case, run)))
    monkeypatch.setattr(views, "get_store", lambda: None)
    state = {"latest": "r2", "running": ["r3"], "n_records": 1, "n_reviews": 0}
    monkeypatch.setattr(views, "run_state", lambda store, case: dict(state))
    monkeypatch.setattr(app, "_SERVING", threading.Event())
    state["running"] = []
    app.poll_run_state(0, None, "c", None)
    assert asked == []  # not a serving process (e.g. this test): nothing starts
    app._SERVING.set()
    state["running"] = ["r3"]
    app.poll_run_state(1, None, "c", None)
    assert asked == []  # a fit is running: the cores are its
    state["running"] = []
    assert app.poll_run_state(2, None, "c", None)["latest"] == "r2"
    assert asked == [("c", "r2")]
