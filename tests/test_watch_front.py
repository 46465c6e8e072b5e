"""The watch list's use case and front ends without a fit: dashboard/services/watch.py, ``harbinger
watch``, ``GET /api/watch`` and the Watch list page, on the shipped case with a registered run whose
directory holds the watch list of a fake posterior (tests/watch_support.py)."""

from __future__ import annotations

import copy
import json
import time
from datetime import date
from typing import Any

import pytest
from dash import no_update

from tests.dashboard_support import plain, register_fake_run, text_of
from tests.watch_support import shipped_watch_doc, write_watch

CASE = "northern_territories"
SAMPLE_AS_OF = date(2025, 12, 15)  # tests/fixtures/forecast_sample.json


@pytest.fixture(scope="module")
def fake_doc() -> dict[str, Any]:
    return shipped_watch_doc(SAMPLE_AS_OF, "placeholder")


@pytest.fixture
def home(cli: Any, fake_doc: dict[str, Any]) -> dict[str, Any]:
    """The shipped case after ``harbinger init``, one registered run and its cached watch list."""
    from dashboard.services import views
    from indicators.store import Store

    assert cli("init").exit_code == 0
    views.forget_stores()
    views.forget_cache()
    store = Store.from_env()
    run_id = register_fake_run(store, CASE)
    doc = copy.deepcopy(fake_doc) | {"run_id": run_id}
    path = write_watch(store.runs_dir / run_id, doc)
    return {"store": store, "run_id": run_id, "path": path, "doc": doc}


# ---------------------------------------------------------------------------- the use case


def test_the_view_ranks_every_indicator_for_each_open_outcome(home: dict[str, Any]) -> None:
    from dashboard.services.watch import watch_document, watch_view

    doc = watch_document(home["store"], CASE)
    assert doc["run_id"] == home["run_id"]
    view = watch_view(home["store"], CASE, doc)
    assert view["years"] == 1 and view["period"]["id"] == "next_quarter"
    outcomes = [o["outcome"] for o in view["outcomes"]]
    assert "japan_hardline_shift" not in outcomes and len(outcomes) == 3  # resolved in 2022
    for o in view["outcomes"]:
        ranks = [r["rank"] for r in o["ranking"] if r["rank"] is not None]
        assert ranks == list(range(1, len(ranks) + 1)) and len(o["ranking"]) == 17
        changes = [r["mean_abs_change"] for r in o["ranking"] if r["rank"] is not None]
        assert changes == sorted(changes, reverse=True)
        drills = next(r for r in o["ranking"] if r["indicator"] == "island_exercise")
        assert drills["last_observed"] and drills["coverage_end"] == "2023-12-31" and drills["observations"] > 0
        (wires,) = o["tripwires"]
        assert wires["source"] == "default" and wires["level"] > o["p_mean"]
        assert len(wires["entries"]) == 17
        assert all(s.startswith("watch for: ") for s in wires["sentences"])


def test_each_open_coverage_series_says_when_it_was_last_reviewed(home: dict[str, Any], cli: Any, page: Any) -> None:
    """The ranking carries each open-coverage series' reviewed-through date as known now (a review
    recorded after the run shows at once), and the page's table shows it, red once stale."""
    from dashboard.services.reviews import stale_view
    from dashboard.services.watch import watch_document, watch_view

    series = stale_view(home["store"], CASE)["series"]
    assert series, "the shipped case has open-coverage series"
    chosen = series[0]["indicator"]
    before = watch_view(home["store"], CASE, watch_document(home["store"], CASE))
    row = next(r for r in before["outcomes"][0]["ranking"] if r["indicator"] == chosen)
    assert row["reviewed_through"]["date"] == series[0]["reviewed_through"]
    closed = {i.id for i in home["store"].get_case(CASE).case.indicators} - {s["indicator"] for s in series}
    assert all(r["reviewed_through"] is None for r in before["outcomes"][0]["ranking"] if r["indicator"] in closed)

    done = cli("observe", "reviewed", chosen, "--through", "2026-03-31")
    assert done.exit_code == 0, done.output
    after = watch_view(home["store"], CASE, watch_document(home["store"], CASE))
    row = next(r for r in after["outcomes"][0]["ranking"] if r["indicator"] == chosen)
    assert row["reviewed_through"]["date"] == "2026-03-31" and row["reviewed_through"]["days"] >= 0

    table = text_of(page[1].ranking_table(after, after["outcomes"][0]))
    assert "Reviewed through" in table and "2026-03-31 (" in table


def test_a_threshold_and_the_users_alerts_add_tripwires(home: dict[str, Any]) -> None:
    from dashboard.services.watch import watch_document, watch_view
    from indicators.alerts import add_alert

    store = home["store"]
    add_alert(
        store, CASE, outcome="russian_military_escalation", horizon=3, kind="above", threshold=0.3, actor="tester"
    )
    add_alert(
        store, CASE, outcome="russian_military_escalation", horizon=1, kind="change", threshold=0.02, actor="tester"
    )
    view = watch_view(
        store, CASE, watch_document(store, CASE), outcome="russian_military_escalation", years=1, threshold=0.5
    )
    (o,) = view["outcomes"]
    assert [w["source"] for w in o["tripwires"]] == ["threshold"] and o["tripwires"][0]["level"] == 0.5
    kinds = {(a["kind"], a["years"]): a for a in view["alerts"]}
    assert set(kinds) == {("above", 3), ("change", 1)}
    assert [w["level"] for w in kinds[("above", 3)]["tripwires"]] == [0.3]
    change = kinds[("change", 1)]
    assert [w["direction"] for w in change["tripwires"]] == ["above", "below"][: len(change["tripwires"])]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"outcome": "nope"}, "--outcome: unknown outcome 'nope'"),
        ({"outcome": "japan_hardline_shift"}, "--outcome: outcome 'japan_hardline_shift' is resolved on 2022-02-23"),
        ({"years": 2.0}, "--horizon: 2 years is not a horizon of any outcome (horizons: 1, 3, 5, 10 years)."),
        ({"years": 1.5, "outcome": "peace_treaty"}, "--horizon: 1.5 years is not a horizon of 'peace_treaty'"),
        ({"period": "next_decade"}, "--period: unknown period 'next_decade'"),
    ],
)
def test_bad_options_are_bad_input_naming_the_option(
    home: dict[str, Any], options: dict[str, Any], message: str
) -> None:
    from dashboard.services.watch import watch_document, watch_view
    from indicators.errors import BadInput

    with pytest.raises(BadInput) as err:
        watch_view(home["store"], CASE, watch_document(home["store"], CASE), **options)
    assert str(err.value).startswith(message)


def test_a_document_of_another_run_or_version_is_not_used(home: dict[str, Any]) -> None:
    from dashboard.services.watch import read_cached, status

    run = home["store"].get_run(home["run_id"])
    assert read_cached(run) is not None and status(run) == "ready"
    for change in ({"run_id": "r-other"}, {"version": -1}):
        home["path"].write_text(json.dumps(home["doc"] | change), encoding="utf-8")
        assert read_cached(run) is None
    home["path"].write_text("{not json", encoding="utf-8")
    assert read_cached(run) is None and status(run) == "missing"


def test_after_fit_is_off_unless_turned_on_and_never_raises(
    home: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off by default (the dashboard's server prepares the watch list). Turned on, the fake run
    has no posterior: the computation after a fit fails, quietly, and says why."""
    from dashboard.services import watch as ws

    store, run_id = home["store"], home["run_id"]
    home["path"].unlink()
    run = store.get_run(run_id)
    monkeypatch.delenv(ws.AFTER_FIT_SWITCH, raising=False)
    ws.after_fit(store, CASE, run_id)
    assert ws.status(run) == "missing"
    monkeypatch.setenv(ws.AFTER_FIT_SWITCH, "0")
    ws.after_fit(store, CASE, run_id)
    assert ws.status(run) == "missing"
    monkeypatch.setenv(ws.AFTER_FIT_SWITCH, "1")
    ws.after_fit(store, CASE, "r-not-the-current-run")  # only the run the views show is computed
    assert ws.status(run) == "missing"
    ws.after_fit(store, CASE, run_id)
    assert ws.status(run).startswith("failed: ") and "posterior" in ws.status(run)
    monkeypatch.setattr(ws, "RETRY_AFTER_S", 0.0)  # a reader tries a failed computation again later
    assert ws.status(run) == "missing"


def test_the_report_section_has_the_data_of_every_open_outcome(home: dict[str, Any]) -> None:
    from dashboard.services.watch import report_section

    section = report_section(home["store"], CASE)
    assert section["available"] and section["run_id"] == home["run_id"]
    assert {o["outcome"] for o in section["outcomes"]} == {
        "territorial_transfer",
        "peace_treaty",
        "russian_military_escalation",
    }
    home["path"].unlink()
    missing = report_section(home["store"], CASE)
    assert not missing["available"] and "posterior" in missing["reason"]


# ---------------------------------------------------------------------------- the command


def test_watch_prints_the_ranking_and_the_tripwires(home: dict[str, Any], cli: Any) -> None:
    res = cli("watch", "--outcome", "russian_military_escalation")
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert f"watch list of run {home['run_id']} as of 2025-12-15" in out
    assert "russian_military_escalation" in out and "island_exercise" in out and "change_pts" in out
    assert "tripwires: russian_military_escalation within 1 year(s) above" in out
    assert "peace_treaty" not in out


def test_watch_json_is_the_view(home: dict[str, Any], cli: Any) -> None:
    res = cli("watch", "--horizon", "3", "--threshold", "40", "--period", "next_year", "--format", "json")
    assert res.exit_code == 0, res.output
    view = json.loads(res.stdout)
    assert view["years"] == 3 and view["period"]["id"] == "next_year" and view["run_id"] == home["run_id"]
    assert {o["outcome"] for o in view["outcomes"]} == {
        "territorial_transfer",
        "peace_treaty",
        "russian_military_escalation",
    }
    assert all(o["tripwires"][0]["level"] == 0.4 for o in view["outcomes"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outcome", "nope"], "harbinger: --outcome: unknown outcome 'nope'"),
        (["--horizon", "2"], "harbinger: --horizon: 2 years is not a horizon of any outcome"),
        (
            ["--outcome", "peace_treaty", "--horizon", "7"],
            "harbinger: --horizon: 7 years is not a horizon of 'peace_treaty'",
        ),
        (["--horizon", "soon"], "harbinger: --horizon: 'soon' is not a number of years."),
        (["--threshold", "150"], "harbinger: --threshold: threshold 150% must lie strictly between 0 and 100."),
        (["--run", "r-none"], "harbinger: --run: no run 'r-none'"),
    ],
)
def test_watch_bad_input_exits_2_with_one_sentence(
    home: dict[str, Any], cli: Any, args: list[str], message: str
) -> None:
    res = cli("watch", *args)
    assert res.exit_code == 2
    assert res.stderr.startswith(message) and len(res.stderr.strip().splitlines()) == 1 and not res.stdout


def test_watch_without_a_run_or_a_posterior(cli: Any, home: dict[str, Any]) -> None:
    home["path"].unlink()  # no cached list, and the fake run has no posterior to compute one from
    res = cli("watch")
    assert res.exit_code == 1 and "has no saved posterior" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_watch_before_any_fit_is_bad_input(cli: Any) -> None:
    assert cli("init").exit_code == 0
    res = cli("watch")
    assert res.exit_code == 2 and "no fitted run for case 'northern_territories'" in res.stderr


# ---------------------------------------------------------------------------- the API


@pytest.fixture
def client(home: dict[str, Any]) -> Any:
    from dashboard.web.app import create_app

    return create_app(CASE, host="127.0.0.1").server.test_client()


def test_api_watch_answers_the_view(client: Any, home: dict[str, Any]) -> None:
    res = client.get("/api/watch?outcome=peace_treaty&horizon=5&threshold=2.5")
    assert res.status_code == 200
    view = res.get_json()
    assert view["run_id"] == home["run_id"] and view["years"] == 5
    (o,) = view["outcomes"]
    assert o["outcome"] == "peace_treaty" and o["tripwires"][0]["level"] == 0.025


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("outcome=nope", "outcome: unknown outcome 'nope'"),
        ("horizon=4", "horizon: 4 years is not a horizon of any outcome"),
        ("threshold=x", "threshold: threshold 'x' is not a number of percent"),
        ("period=forever", "period: unknown period 'forever'"),
    ],
)
def test_api_watch_bad_input_is_400(client: Any, query: str, message: str) -> None:
    res = client.get(f"/api/watch?{query}")
    assert res.status_code == 400 and res.get_json()["error"].startswith(message)


def test_api_watch_computes_in_the_background_when_missing(client: Any, home: dict[str, Any]) -> None:
    from dashboard.services import watch as ws

    home["path"].unlink()
    res = client.get("/api/watch")
    assert res.status_code == 202 and res.headers["Retry-After"] == "10"
    assert res.get_json() == {"status": "computing", "run_id": home["run_id"]}
    run = home["store"].get_run(home["run_id"])
    for _ in range(100):
        if ws.status(run) != "computing":
            break
        time.sleep(0.05)
    res = client.get("/api/watch")  # the fake run has no posterior: the computation failed
    assert res.status_code == 409 and "has no saved posterior" in res.get_json()["error"]


def test_api_watch_without_a_run_is_404(cli: Any) -> None:
    from dashboard.web.app import create_app

    assert cli("init").exit_code == 0
    res = create_app(CASE, host="127.0.0.1").server.test_client().get("/api/watch")
    assert res.status_code == 404 and "no fitted run" in res.get_json()["error"]


# ---------------------------------------------------------------------------- the page


@pytest.fixture
def page(home: dict[str, Any]) -> Any:
    import sys

    from dashboard.web.app import create_app

    app = create_app(CASE, host="127.0.0.1")
    return app, sys.modules["dashboard.web.pages.watch"]


def test_the_page_opens_from_the_cache_with_the_ranking_and_tripwires(page: Any, home: dict[str, Any]) -> None:
    app, module = page
    with app.server.test_request_context("/watch"):
        started = time.perf_counter()
        layout = module.layout()
        seconds = time.perf_counter() - started
    text = text_of(layout)
    assert seconds < 2.0
    assert f"Run {home['run_id']} as of 2025-12-15" in text
    assert "Which indicator to collect next: territorial transfer within 1 year" in text
    assert "Russian military drill on the disputed islands" in text and "record kept through 2023-12-31" in text
    assert "Tripwires" in text


def test_the_page_follows_outcome_horizon_and_threshold(page: Any, home: dict[str, Any]) -> None:
    _app, module = page
    body, poll_disabled = plain(module.render_watch)(None, "russian_military_escalation", 3, "next_year", "35", 0, CASE)
    text = text_of(body)
    assert poll_disabled
    assert "russian military escalation within 3 years" in text and "Above 35% (your threshold" in text
    assert "over the next 4 quarters" in text
    options, value = plain(module.horizon_choices)("peace_treaty", 3, CASE)
    assert value is no_update and [o["value"] for o in options] == [1, 3, 5, 10]
    options, value = plain(module.horizon_choices)("peace_treaty", 7, CASE)
    assert value == 1
    body, _ = plain(module.render_watch)(None, "peace_treaty", 1, "next_quarter", "200", 0, CASE)
    assert "Tripwire threshold: threshold 200% must lie strictly between 0 and 100." in text_of(body)


def test_the_page_says_when_the_list_is_being_computed(page: Any, home: dict[str, Any]) -> None:
    _app, module = page
    home["path"].unlink()
    body, poll_disabled = plain(module.render_watch)(None, "peace_treaty", 1, "next_quarter", None, 0, CASE)
    assert not poll_disabled and "Computing the watch list" in text_of(body)
    from dashboard.services import watch as ws

    run = home["store"].get_run(home["run_id"])
    for _ in range(100):
        if ws.status(run) != "computing":
            break
        time.sleep(0.05)
    body, poll_disabled = plain(module.render_watch)(None, "peace_treaty", 1, "next_quarter", None, 1, CASE)
    assert poll_disabled and "cannot be computed" in text_of(body)


def test_the_page_is_in_the_navigation(page: Any) -> None:
    from dashboard.web.app import render_nav

    links = render_nav("/watch")
    (link,) = [lk for lk in links if lk.children == "Watch list"]
    assert link.href == "/watch" and "active" in link.className
