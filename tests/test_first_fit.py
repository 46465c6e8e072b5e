"""The Overview's first fit starts by itself: the request the browser sends when an empty store's
Overview appears lists two changed inputs (the Refit button with 0 clicks and the first-fit
trigger), and Dash runs ``request_fit`` once for both. Sent here through the dashboard's own
Flask test client, in the shape the browser sends it."""

from __future__ import annotations

import json
from typing import Any

from dashboard.web import ids
from tests.test_auth import LOCAL, make_app  # noqa: F401 - make_app: fixture


def _request_fit(client: Any, *, clicks: int, autofit: float | None, changed: list[str]) -> Any:
    body = {
        "output": f"{ids.FIT_REQUEST}.data",
        "outputs": {"id": ids.FIT_REQUEST, "property": "data"},
        "inputs": [
            {"id": ids.OV_REFIT, "property": "n_clicks", "value": clicks},
            {"id": ids.OV_AUTOFIT, "property": "data", "value": autofit},
        ],
        "changedPropIds": changed,
    }
    return client.post(
        "/_dash-update-component", data=json.dumps(body), content_type="application/json", base_url=LOCAL
    )


def test_the_first_fit_trigger_starts_a_fit_when_refit_is_listed_first(make_app: Any) -> None:
    ui = make_app("127.0.0.1")  # loopback, no accounts: the local user is an editor
    assert ui.client.get("/", base_url=LOCAL).status_code == 200
    res = _request_fit(
        ui.client, clicks=0, autofit=1733300000.0, changed=[f"{ids.OV_REFIT}.n_clicks", f"{ids.OV_AUTOFIT}.data"]
    )
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.get_json()["response"][ids.FIT_REQUEST]["data"]["reason"] == "first fit"


def test_showing_the_page_alone_requests_no_fit(make_app: Any) -> None:
    ui = make_app("127.0.0.1")
    assert ui.client.get("/", base_url=LOCAL).status_code == 200
    res = _request_fit(ui.client, clicks=0, autofit=None, changed=[f"{ids.OV_REFIT}.n_clicks"])
    assert res.status_code == 204


def test_a_press_on_refit_requests_a_refit(make_app: Any) -> None:
    ui = make_app("127.0.0.1")
    assert ui.client.get("/", base_url=LOCAL).status_code == 200
    res = _request_fit(ui.client, clicks=1, autofit=None, changed=[f"{ids.OV_REFIT}.n_clicks"])
    assert res.get_json()["response"][ids.FIT_REQUEST]["data"]["reason"] == "refit"
