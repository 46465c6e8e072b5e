"""Stale series on the Overview, the Indicators page and in the report, and the Indicators page's
"Mark reviewed" form (issue 18, item 3).

The shipped case with its shipped review records (every open-coverage series reviewed through
2025-12-31) on a fixed day, 2026-12-04: each of those series' last record is four quarters old.
Fast: no fit; the report is of a registered fake run.
"""

from __future__ import annotations

import re
import sys
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

import dash
import pytest

from dashboard.services import views
from dashboard.web import ids
from tests.clock import fixed_clock
from tests.dashboard_support import plain, register_fake_run, sample_forecast, shipped_store, text_of

CASE = "northern_territories"
TODAY = date(2026, 12, 4)
REVIEWED = "2025-12-31"
AGO = (TODAY - date.fromisoformat(REVIEWED)).days  # 338 days: four quarters
OPEN = {
    "russian_airspace_violation": "Russian violations of Japanese airspace",
    "leader_summit": "In-person Japan–Russia leaders' summit",
    "two_plus_two_meeting": "Japan–Russia foreign and defence ministers' 2+2",
    "economic_cooperation_milestone": "Japan–Russia economic-cooperation milestone",
    "russian_leader_island_visit": "Russian President's or Prime Minister's visit to the disputed islands",
    "china_russia_joint_sea": "China–Russia Joint Sea naval exercise",
    "china_russia_joint_air_patrol": "China–Russia joint strategic bomber patrol",
    "china_russia_joint_naval_patrol": "China–Russia joint naval patrol",
}


@pytest.fixture
def pages(harbinger_home: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shipped case and its review records in the views' store, the page modules as the app
    runs them, and "today" fixed at :data:`TODAY`."""
    from dashboard.services.reviews import load_shipped_reviews
    from dashboard.web import app as shell

    monkeypatch.delenv("HARBINGER_STALE_DAYS", raising=False)
    with fixed_clock(datetime(2026, 12, 4, 9)):
        store = shipped_store()
        assert load_shipped_reviews(store, CASE, actor="harbinger init") == len(OPEN)
        shell.create_app(CASE)
        yield SimpleNamespace(
            store=store,
            overview=sys.modules["dashboard.web.pages.overview"],
            ind=sys.modules["dashboard.web.pages.indicators"],
        )
    views.forget_stores()


def _line(indicator: str) -> str:
    return f"{OPEN[indicator]}: reviewed through {REVIEWED}, {AGO} days ago (about 11 months)."


def _indicators_page(pages: Any, version: int = 0) -> tuple[str, str, list[dict[str, str]]]:
    """The Indicators page's stale notice and reviewed-series table as text, and the form's series."""
    notice, table, options = plain(pages.ind.render_reviews)(version, None, CASE)
    return text_of(notice), text_of(table), options


def _find(component: Any, component_id: str) -> Any:
    """The component with ``component_id`` inside a layout."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            found = _find(child, component_id)
            if found is not None:
                return found
    return None


def _mark(pages: Any, indicator: Any, through: Any, version: int = 0) -> tuple[Any, Any]:
    return plain(pages.ind.mark_reviewed)(1, indicator, through, CASE, version)


# ---------------------------------------------------------------------------- the warning on the pages


def test_the_overview_names_each_series_four_quarters_old(pages: Any) -> None:
    notice = plain(pages.overview.render_stale)(None, 0, CASE)
    assert "notice-alert" in notice.className.split()
    text = text_of(notice)
    assert "8 series have not been reviewed for more than two quarters (182 days)." in text
    assert "missing, not as quarters without events" in text
    for indicator in OPEN:
        assert _line(indicator) in text
    link = notice.children[-1]
    assert link.href == f"/indicators?case={CASE}" and "Mark series reviewed" in text_of(link)


def test_the_indicators_page_warns_and_lists_every_open_coverage_series(pages: Any) -> None:
    notice, table, options = _indicators_page(pages)
    for indicator, name in OPEN.items():
        assert _line(indicator) in notice
        assert name in table
    assert table.count("stale") == len(OPEN) and "up to date" not in table
    assert {o["value"] for o in options} == set(OPEN)  # only open-coverage series can be reviewed
    assert f"{OPEN['leader_summit']} (reviewed through {REVIEWED})" in [o["label"] for o in options]


def test_the_limit_is_the_configured_one(pages: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARBINGER_STALE_DAYS", str(AGO))  # 338 days old is not more than 338
    assert plain(pages.overview.render_stale)(None, 0, CASE) is None
    notice, table, _ = _indicators_page(pages)
    assert notice == "" and table.count("up to date") == len(OPEN)
    monkeypatch.setenv("HARBINGER_STALE_DAYS", str(AGO - 1))
    assert "not been reviewed for more than 337 days" in text_of(plain(pages.overview.render_stale)(None, 0, CASE))


# ---------------------------------------------------------------------------- Mark reviewed


def test_mark_reviewed_records_a_review_and_clears_the_warning(pages: Any) -> None:
    message, version = _mark(pages, "leader_summit", "2026-11-30", version=3)
    assert text_of(message) == f"Recorded: {OPEN['leader_summit']} reviewed through 2026-11-30."
    assert version == 4  # the shell's observations version: the notice and the table follow it
    assert pages.store.reviews(CASE)["leader_summit"] == date(2026, 11, 30)
    notice, table, _ = _indicators_page(pages, version)
    assert OPEN["leader_summit"] not in notice and "7 series have not been reviewed" in notice
    assert "2026-11-30" in table and "4 days ago" in table
    assert OPEN["leader_summit"] not in text_of(plain(pages.overview.render_stale)(None, version, CASE))

    default = _find(pages.ind.layout(), ids.REVIEW_THROUGH).value
    assert default == TODAY.isoformat()  # the form's date is today unless changed
    for indicator in OPEN:
        _mark(pages, indicator, default)
    assert pages.store.reviews(CASE) == dict.fromkeys(OPEN, TODAY)
    assert _indicators_page(pages)[0] == ""
    assert plain(pages.overview.render_stale)(None, 0, CASE) is None


def test_the_review_is_recorded_under_the_acting_user(pages: Any) -> None:
    _mark(pages, "china_russia_joint_sea", "2026-10-01")
    (entry,) = [a for a in pages.store.audit_log() if a["action"] == "review.add"]
    assert entry["actor"] == "tester"  # HARBINGER_USER: in-process calls act as the local user


@pytest.mark.parametrize(
    ("indicator", "through", "sentence"),
    [
        ("leader_summit", "2026-12-05", "Reviewed through: 2026-12-05 is in the future; a record can be complete"),
        ("leader_summit", "2009-12-31", "Reviewed through: 2009-12-31 is before the case starts (2010-01-01)."),
        ("leader_summit", "2011-06-30", "is before the record of In-person Japan–Russia leaders' summit starts"),
        ("leader_summit", "next week", "Reviewed through: 'next week' is not a date in the form YYYY-MM-DD."),
        ("leader_summit", "2026-02-30", "Reviewed through: '2026-02-30' is not a real calendar date."),
        ("leader_summit", "  ", "Give the date through which the record is complete, as YYYY-MM-DD."),
        (None, "2026-11-30", "Choose the series whose record you checked."),
        ("japan_pm_change", "2026-11-30", "'japan_pm_change' is not an open-coverage series of this case"),
    ],
)
def test_bad_input_is_one_sentence_and_records_nothing(pages: Any, indicator: Any, through: str, sentence: str) -> None:
    before = pages.store.reviews(CASE)
    message, version = _mark(pages, indicator, through)
    text = text_of(message)
    assert text.startswith("Not recorded: ") and sentence in text
    assert len(re.findall(r"[.;] [A-Z]", text.removeprefix("Not recorded: "))) == 0  # one sentence
    assert "notice-alert" in message.className
    assert version is dash.no_update  # the shell's observations version is left alone
    assert pages.store.reviews(CASE) == before


# ---------------------------------------------------------------------------- who may mark


def _review_request(app: Any) -> dict[str, Any]:
    """The body the browser sends when Mark reviewed is pressed (leader_summit, 2026-11-30)."""
    key = next(k for k in app.callback_map if "review-message.children" in k)
    outputs = [{"id": o.component_id, "property": o.component_property} for o in app.callback_map[key]["output"]]
    return {
        "output": key,
        "outputs": outputs,
        "inputs": [{"id": "review-button", "property": "n_clicks", "value": 1}],
        "state": [
            {"id": "review-indicator", "property": "value", "value": "leader_summit"},
            {"id": "review-through", "property": "value", "value": "2026-11-30"},
            {"id": "shell-case", "property": "data", "value": CASE},
            {"id": "shell-obs-version", "property": "data", "value": 0},
        ],
        "changedPropIds": ["review-button.n_clicks"],
    }


@pytest.mark.parametrize("who", [None, "vic"], ids=["anonymous", "viewer"])
def test_only_an_editor_may_mark_a_series_reviewed(pages: Any, who: str | None) -> None:
    from dashboard.web import app as shell
    from indicators.users import add_user
    from tests.test_auth import LOCAL, PASSWORD, _login

    add_user(pages.store, "vic", PASSWORD, "viewer", actor="admin")  # an account exists: login needed
    add_user(pages.store, "ed", PASSWORD, "editor", actor="admin")
    app = shell.create_app(CASE, host="127.0.0.1")
    client = app.server.test_client()
    assert client.get("/", base_url=LOCAL).status_code == 200  # Dash fills its callback map
    before = pages.store.reviews(CASE)
    if who:
        assert _login(client, who, PASSWORD).status_code == 303
    resp = client.post("/_dash-update-component", json=_review_request(app), base_url=LOCAL)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    shown = str(resp.get_json()["response"]["review-message"]["children"])
    expected = "a viewer; only an editor may mark series reviewed" if who else "Only a logged-in editor may mark"
    assert "Not allowed: " in shown and expected in shown and "not-allowed" in shown
    assert "shell-obs-version" not in resp.get_json()["response"]  # nothing to re-read
    assert pages.store.reviews(CASE) == before

    editor = app.server.test_client()
    assert _login(editor, "ed", PASSWORD).status_code == 303
    resp = editor.post("/_dash-update-component", json=_review_request(app), base_url=LOCAL)
    assert "Recorded:" in str(resp.get_json()["response"]["review-message"]["children"])
    assert pages.store.reviews(CASE)["leader_summit"] == date(2026, 11, 30)
    (entry,) = [a for a in pages.store.audit_log() if a["action"] == "review.add"]
    assert entry["actor"] == "ed"


# ---------------------------------------------------------------------------- the report


def _report(pages: Any, as_of: str, fmt: str = "html") -> str:
    from dashboard import report

    forecast = sample_forecast() | {"as_of": as_of}
    register_fake_run(pages.store, CASE, forecast)
    content = report.build(pages.store, CASE)
    if fmt == "pdf":
        import io

        from pypdf import PdfReader

        data = report.render(content, "pdf")
        return " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages[:3])
    return report.render(content, "html").decode("utf-8")


def test_the_report_warns_in_its_summary(pages: Any) -> None:
    import html as html_lib

    page = html_lib.unescape(_report(pages, TODAY.isoformat()))
    summary = page[page.index('id="sec-summary"') :]
    summary = summary[: summary.index("</section>")]
    assert "8 series have not been reviewed for more than two quarters (182 days)." in summary
    for indicator in OPEN:
        assert _line(indicator) in summary
    assert summary.index("not been reviewed") < summary.index('id="summary-table"')  # above the numbers


def test_the_pdf_report_warns_too(pages: Any) -> None:
    text = " ".join(_report(pages, TODAY.isoformat(), fmt="pdf").split())
    assert "8 series have not been reviewed for more than two quarters" in text
    assert f"China–Russia joint naval patrol: reviewed through {REVIEWED}" in text


def test_the_report_judges_staleness_on_the_runs_as_of_date(pages: Any) -> None:
    """A run as of 2026-05-01: the series were reviewed 121 days before it, within the limit, so
    its report does not warn although they are stale today."""
    page = _report(pages, "2026-05-01")
    assert "not been reviewed" not in page
    assert plain(pages.overview.render_stale)(None, 0, CASE) is not None
