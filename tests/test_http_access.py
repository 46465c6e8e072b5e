"""Access control over real HTTP: a running ``harbinger serve`` with accounts made by the real CLI.

Anonymous visitors and viewers may read but every write is refused on the server, whether it comes
through the JSON API or as the Dash callback request the page would send (add, upload, correct,
retract, refit); an editor's writes are accepted after logging in at /login. Session cookies carry
HttpOnly and SameSite. ``serve --host`` on a non-loopback address refuses to start while no
editor account exists, and starts (with editing behind the login) once one does.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.live_server import LiveServer, harbinger, harbinger_env, init_mini, start_server

EDITOR, VIEWER = ("ed", "an editor's long password"), ("vic", "a viewer's long password")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    home = tmp_path_factory.mktemp("access") / "home"
    env = harbinger_env(home, user="server-os-user")
    init_mini(env)
    for (name, password), role in ((EDITOR, "editor"), (VIEWER, "viewer")):
        done = harbinger("user", "add", name, "--role", role, "--password-stdin", env=env, input=password + "\n")
        assert done.returncode == 0, done.stderr
        assert password not in done.stdout + done.stderr
    server = start_server(env)
    try:
        yield server, env
    finally:
        server.stop()


def _store(env: dict[str, str]) -> Any:
    from indicators.store import Store

    return Store(f"sqlite:///{Path(env['HARBINGER_HOME']) / 'harbinger.db'}")


def _snapshot(env: dict[str, str]) -> dict[str, Any]:
    store = _store(env)
    try:
        snap = store.snapshot()
    finally:
        store.close()
    snap.pop("audit")  # logins are audited; the record itself must not change
    return snap


def _session(url: str, who: tuple[str, str] | None) -> requests.Session:
    s = requests.Session()
    if who is not None:
        page = s.get(url + "/login", timeout=30)
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        resp = s.post(
            url + "/login",
            data={"name": who[0], "password": who[1], "csrf": token, "next": "/"},
            allow_redirects=False,
            timeout=60,
        )
        assert resp.status_code == 303, resp.text
        s.last_login = resp  # type: ignore[attr-defined]
    return s


def _observation(source: str) -> dict[str, Any]:
    return {"indicator": "exercises", "date": "2021-06-05", "value": 1, "source": source}


# ---------------------------------------------------------------------------- Dash callbacks over HTTP


class DashClient:
    """Sends the callback requests the page would send, built from the server's /_dash-dependencies."""

    def __init__(self, session: requests.Session, url: str):
        self.session, self.url = session, url
        deps = session.get(url + "/_dash-dependencies", timeout=30).json()
        self.deps = deps

    def _find(self, output_part: str) -> dict[str, Any]:
        found = [d for d in self.deps if output_part in d["output"]]
        assert len(found) == 1, [d["output"] for d in found]
        return found[0]

    def call(self, output_part: str, values: dict[str, Any], *, with_outputs: bool = True) -> requests.Response:
        dep = self._find(output_part)
        out = dep["output"]
        parts = out[2:-2].split("...") if out.startswith("..") else [out]
        outputs = [dict(zip(("id", "property"), p.split(".", 1), strict=True)) for p in parts]

        def item(spec: dict[str, Any]) -> dict[str, Any]:
            key = f"{spec['id']}.{spec['property']}"
            return {"id": spec["id"], "property": spec["property"], "value": values.get(key)}

        body = {
            "output": out,
            "outputs": outputs if out.startswith("..") else outputs[0],
            "inputs": [item(i) for i in dep["inputs"]],
            "state": [item(s) for s in dep["state"]],
            "changedPropIds": [k for k in values if any(f"{i['id']}.{i['property']}" == k for i in dep["inputs"])],
        }
        if not with_outputs:
            del body["outputs"]
        return self.session.post(self.url + "/_dash-update-component", json=body, timeout=60)


ADD = (
    "add-message.children",
    {
        "add-button.n_clicks": 1,
        "add-indicator.value": "exercises",
        "add-date.value": "2021-06-06",
        "add-value.value": "1",
        "add-source.value": "form",
        "shell-case.data": "mini",
        "shell-obs-version.data": 0,
    },
)
UPLOAD = (
    "upload-message.children",
    {
        "upload-csv.contents": "data:text/csv;base64,"
        + base64.b64encode(b"indicator,date,value,source\nexercises,2021-06-07,1,upload\n").decode(),
        "upload-csv.filename": "obs.csv",
        "shell-case.data": "mini",
        "shell-obs-version.data": 0,
    },
)
RETRACT = (
    "edit-message.children",
    {
        "edit-retract.n_clicks": 1,
        "indicators-table.selected_row_ids": [1],
        "edit-reason.value": "vandalism",
        "shell-case.data": "mini",
        "shell-obs-version.data": 0,
    },
)
CORRECT = (
    "edit-message.children",
    {
        "edit-correct.n_clicks": 1,
        "indicators-table.selected_row_ids": [1],
        "edit-field.value": "value",
        "edit-value.value": "948",
        "edit-reason.value": "typo",
        "shell-case.data": "mini",
        "shell-obs-version.data": 0,
    },
)
REFIT_MESSAGE = ("overview-fit-message.children@", {"overview-refit.n_clicks": 1})
REFIT_JOB = (
    "shell-fit-result.data",
    {"shell-fit-request.data": {"at": 1, "reason": "refit"}, "shell-case.data": "mini"},
)
SCENARIO_REFIT_JOB = (
    "scenarios-refit-result.data",
    {"scenarios-refit-request.data": {"spec": {}, "run_id": "x", "at": 1}, "shell-case.data": "mini"},
)


@pytest.mark.parametrize("who", [None, VIEWER], ids=["anonymous", "viewer"])
def test_writes_by_anonymous_and_viewer_are_refused(served: Any, who: tuple[str, str] | None) -> None:
    server, env = served
    session = _session(server.url, who)
    before = _snapshot(env)
    expected_status = 401 if who is None else 403
    expected = (
        "Only a logged-in editor may"
        if who is None
        else f"You are logged in as '{who[0]}', a viewer; only an editor may"
    )

    resp = session.post(server.url + "/api/observations", json=_observation("api"), timeout=60)
    assert resp.status_code == expected_status and expected in resp.json()["error"]

    dash = DashClient(session, server.url)
    for name, (output, values) in {
        "add": ADD,
        "upload": UPLOAD,
        "retract": RETRACT,
        "correct": CORRECT,
        "refit": REFIT_MESSAGE,
    }.items():
        resp = dash.call(output, values)
        assert resp.status_code == 200, (name, resp.text)
        assert expected in resp.text, (name, resp.text[:300])
    resp = dash.call("shell-fit-request.data", {"overview-refit.n_clicks": 1})
    assert resp.status_code == 204  # no fit is requested for them
    job = dash.call(*REFIT_JOB)
    assert job.status_code == expected_status and expected in job.json()["error"]
    for output, values in (REFIT_JOB, SCENARIO_REFIT_JOB):  # Dash dispatches on `output` alone
        job = dash.call(output, values, with_outputs=False)
        assert job.status_code == expected_status and expected in job.json()["error"], output

    assert _snapshot(env) == before  # nothing stored, corrected, retracted or fitted


def test_an_editor_logs_in_and_writes(served: Any) -> None:
    server, env = served
    session = _session(server.url, EDITOR)
    cookie = session.last_login.headers["Set-Cookie"]  # type: ignore[attr-defined]
    assert cookie.startswith("harbinger_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert session.get(server.url + "/api/session", timeout=30).json() == {"user": "ed", "role": "editor"}

    resp = session.post(server.url + "/api/observations", json=_observation("api by ed"), timeout=60)
    assert resp.status_code == 201, resp.text
    dash = DashClient(session, server.url)
    resp = dash.call(*ADD)
    assert resp.status_code == 200 and "Added observation" in resp.text, resp.text[:300]
    resp = dash.call(*UPLOAD)
    assert resp.status_code == 200 and "Imported 1 observation(s)" in resp.text, resp.text[:300]

    store = _store(env)
    try:
        frame = store.observations("mini")
    finally:
        store.close()
    mine = frame[frame["source"].isin(["api by ed", "form", "upload"])]
    assert sorted(mine["source"]) == ["api by ed", "form", "upload"]
    assert set(mine["recorded_by"]) == {"ed"}  # the account, not the server's OS user

    assert session.get(server.url + "/logout", timeout=30).status_code == 200  # GET only asks
    assert session.post(server.url + "/api/observations", json=_observation("still in"), timeout=60).status_code == 201
    page = session.get(server.url + "/logout", timeout=30).text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert (
        session.post(server.url + "/logout", data={"csrf": token}, allow_redirects=False, timeout=30).status_code == 303
    )
    resp = session.post(server.url + "/api/observations", json=_observation("after logout"), timeout=60)
    assert resp.status_code == 401


def test_reading_stays_open(served: Any) -> None:
    server, _ = served
    anonymous = requests.Session()
    index = anonymous.get(server.url + "/", timeout=30)
    assert index.status_code == 200
    assert index.headers["X-Frame-Options"] == "DENY"  # no other page may frame the dashboard
    assert "frame-ancestors 'none'" in index.headers["Content-Security-Policy"]
    assert anonymous.get(server.url + "/login", timeout=30).status_code == 200
    rows = anonymous.get(server.url + "/api/observations", timeout=30).json()
    assert len(rows) >= 5 and {"id", "indicator", "source", "recorded_by"} <= set(rows[0])


def test_serve_beyond_loopback_needs_an_editor_account(tmp_path: Path) -> None:
    env = harbinger_env(tmp_path / "home")
    init_mini(env, observations=False)
    refused = harbinger("serve", "--host", "0.0.0.0", "--port", "1", env=env, timeout=60)
    assert refused.returncode == 2
    assert "no editor account exists; add one with 'harbinger user add NAME --role editor'" in refused.stderr

    done = harbinger("user", "add", EDITOR[0], "--role", "editor", "--password-stdin", env=env, input=EDITOR[1] + "\n")
    assert done.returncode == 0, done.stderr
    server = start_server(env, host="0.0.0.0")
    try:
        assert requests.get(server.url + "/api/health", timeout=30).json()["status"] == "ok"
        resp = requests.post(server.url + "/api/observations", json=_observation("anonymous"), timeout=30)
        assert resp.status_code == 401
        editor = _session(server.url, EDITOR)
        assert editor.post(server.url + "/api/observations", json=_observation("ed"), timeout=30).status_code == 201
    finally:
        server.stop()


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium); CI installs it")
def test_in_a_browser_a_visitor_is_refused_and_an_editor_logs_in_and_adds(served: Any, chromium: Any) -> None:
    server, env = served
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)

        def add(source: str) -> None:
            page.get_by_label("Indicator", exact=True).fill("exercises")
            page.get_by_label("Date", exact=True).fill("2021-06-09")
            page.get_by_label("Value", exact=True).fill("1")
            page.get_by_label("Source", exact=True).fill(source)
            page.get_by_role("button", name="Add observation").click()

        page.goto(server.url + "/indicators")
        page.wait_for_selector("#login-link")
        assert "Viewing only" in page.inner_text("#shell-user")
        add("typed by a visitor")
        refusal = page.wait_for_selector("#add-message .not-allowed")
        assert "Only a logged-in editor may add observations" in refusal.inner_text()

        page.click("#login-link")
        page.get_by_label("User name").fill(EDITOR[0])
        page.get_by_label("Password").fill(EDITOR[1])
        page.get_by_role("button", name="Log in").click()
        page.wait_for_selector("#logout-button")
        assert page.url.endswith("/indicators")
        assert "Logged in as ed (editor)" in page.inner_text("#shell-user")
        add("typed by ed")
        page.wait_for_selector("#add-message .notice-ok")

        page.click("#logout-button")  # a POST with the session's anti-forgery token
        page.wait_for_selector("#login-link")
        assert "Viewing only" in page.inner_text("#shell-user")
    finally:
        context.close()

    store = _store(env)
    try:
        frame = store.observations("mini")
    finally:
        store.close()
    assert "typed by a visitor" not in set(frame["source"])
    assert frame.loc[frame["source"] == "typed by ed", "recorded_by"].tolist() == ["ed"]
