"""The web side of hardening: forged callback requests, login throttling, framing headers, sessions
that end on logout, and API answers to malformed input.

In-process through the dashboard's Flask test client, on the test's store (see test_auth.py for the
accounts and the editing policy itself). Background callbacks never run a fit here: the app's
background manager is replaced by one that only records the jobs it was asked to start.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from dash import MATCH, Input, Output

from dashboard.web import auth, ids
from indicators.observations import utcnow
from tests.test_auth import LOCAL, PASSWORD, _add, _login, _logout, make_app  # noqa: F401 - make_app: fixture

EDITOR, VIEWER = "ed", "vic"
PROBE_PATTERN = {"type": "probe-result", "index": MATCH}  # a pattern-matching background callback
PROBE_PAIR = ("probe-open.data", "probe-locked.data")  # a multi-output callback, one output protected


@pytest.fixture
def served(make_app: Any, store: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The dashboard with an editor and a viewer account, two probe callbacks in the shapes the
    real editing callbacks do not use (pattern-matching ids, several outputs; ``ui.calls`` records
    what the second ran), and a background manager that records jobs instead of starting them
    (``ui.jobs``)."""
    from indicators.users import add_user

    add_user(store, EDITOR, PASSWORD, "editor", actor="admin")
    add_user(store, VIEWER, PASSWORD, "viewer", actor="admin")
    monkeypatch.setattr(auth, "PROTECTED_OUTPUTS", set(auth.PROTECTED_OUTPUTS))
    ui = make_app("127.0.0.1")
    app = ui.app
    app.callback(
        Output(PROBE_PATTERN, "data"),
        Input({"type": "probe-request", "index": MATCH}, "data"),
        background=True,
        prevent_initial_call=True,
    )(lambda value: value)
    ui.calls, ui.jobs = [], []

    def pair(value: Any) -> tuple[Any, Any]:
        ui.calls.append(value)
        return value, value

    app.callback(
        Output("probe-open", "data"),
        Output("probe-locked", "data"),
        Input("probe-in", "data"),
        prevent_initial_call=True,
    )(pair)
    auth.protect_output("probe-locked", "data")

    def record_job(key: str, job_fn: Any, args: Any, context: Any) -> int:
        ui.jobs.append(key)
        return 4242

    monkeypatch.setattr(app._background_manager, "call_job_fn", record_job)
    assert ui.client.get("/", base_url=LOCAL).status_code == 200  # Dash fills its callback map
    return ui


def _key(output: str) -> str:
    """The key Dash registered a callback under, for an ``id.prop`` it writes."""
    return output if output.startswith("{") else output.replace(".", "\\.", output.count(".") - 1)


def _requests(ui: Any) -> dict[str, dict[str, Any]]:
    """Every callback that needs an editor before it starts, as the bodies Dash accepts for it:
    ``output`` alone (Dash's real dispatch key) and with ``outputs`` (what the renderer sends)."""
    pattern_key = json.dumps({"index": ["MATCH"], "type": "probe-result"}, separators=(",", ":")) + ".data"
    specs = {
        "refit": (
            f"{ids.FIT_RESULT}.data",
            [(ids.FIT_REQUEST, "data", {"at": 1, "reason": "refit"})],
            [(ids.CASE, "data", "mini")],
            {"id": ids.FIT_RESULT, "property": "data"},
        ),
        "scenario refit": (
            f"{ids.SC_REFIT_RESULT}.data",
            [(ids.SC_REFIT_REQUEST, "data", {"spec": {}, "run_id": "r", "at": 1})],
            [(ids.CASE, "data", "mini")],
            {"id": ids.SC_REFIT_RESULT, "property": "data"},
        ),
        "pattern-matching": (
            pattern_key,
            [({"type": "probe-request", "index": 1}, "data", 7)],
            [],
            {"id": {"type": "probe-result", "index": 1}, "property": "data"},
        ),
        "multi-output": (
            f"..{PROBE_PAIR[0]}...{PROBE_PAIR[1]}..",
            [("probe-in", "data", 7)],
            [],
            [dict(zip(("id", "property"), o.split("."), strict=True)) for o in PROBE_PAIR],
        ),
    }
    bodies = {}
    for name, (output, inputs, state, outputs) in specs.items():
        assert output in ui.app.callback_map, (name, output)
        body = {
            "output": output,
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
            "changedPropIds": [
                f"{json.dumps(i, separators=(',', ':')) if isinstance(i, dict) else i}.{p}" for i, p, _ in inputs
            ],
        }
        bodies[f"{name}, output only"] = body
        bodies[f"{name}, with outputs"] = {**body, "outputs": outputs}
    return bodies


def _dash(ui: Any, body: Any, **kwargs: Any) -> Any:
    return ui.client.post("/_dash-update-component", json=body, base_url=LOCAL, **kwargs)


# ---------------------------------------------------------------------------- 1. forged callback requests


@pytest.mark.parametrize("who", [None, VIEWER], ids=["anonymous", "viewer"])
def test_protected_callbacks_are_refused_in_every_shape_dash_accepts(served: Any, store: Any, who: str | None) -> None:
    if who is not None:
        assert _login(served.client, who, PASSWORD).status_code == 303
    status = 401 if who is None else 403
    expected = "Only a logged-in editor may start this" if who is None else f"You are logged in as '{who}'"
    for shape, body in _requests(served).items():
        resp = _dash(served, body)
        assert resp.status_code == status, (shape, resp.get_data(as_text=True)[:200])
        assert expected in resp.get_json()["error"], shape
    assert served.jobs == [] and served.calls == []  # nothing started, nothing ran
    assert store.runs("mini") == []


def test_an_editor_still_runs_protected_callbacks_in_every_shape(served: Any) -> None:
    assert _login(served.client, EDITOR, PASSWORD).status_code == 303
    for shape, body in _requests(served).items():
        resp = _dash(served, body)
        if shape == "multi-output, output only":
            continue  # Dash 4.4 cannot run a multi-output callback without `outputs`: it fails first
        assert resp.status_code == 200, (shape, resp.get_data(as_text=True)[:300])
        if shape.startswith("multi-output"):
            assert resp.get_json()["response"] == {"probe-open": {"data": 7}, "probe-locked": {"data": 7}}
        else:
            assert {"cacheKey", "job"} <= set(resp.get_json()), shape
    assert len(served.jobs) == 6  # refit, scenario refit and the pattern-matching probe, two shapes each
    assert served.calls == [7]


def test_every_background_callback_needs_an_editor(served: Any) -> None:
    background = [key for key, cb in served.app.callback_map.items() if cb.get("background")]
    assert {f"{ids.FIT_RESULT}.data", f"{ids.SC_REFIT_RESULT}.data"} <= set(background)
    for key in background:
        resp = _dash(served, {"output": key, "inputs": [], "state": [], "changedPropIds": []})
        assert resp.status_code == 401, key
    assert served.jobs == []


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": [], "state": []},
        {"output": None},
        {"output": ["shell-fit-result.data"]},
        {"output": {"id": "shell-fit-result", "property": "data"}},
        {"output": "shell-fit-result.data "},
        {"output": "..shell-fit-result.data.."},
        {"output": "..shell-fit-result.data...scenarios-refit-result.data.."},
        {"output": '{"type":"probe-result","index":["MATCH"]}.data'},  # the keys in another order
        {"output": "no-such-component.children"},
        ["shell-fit-result.data"],
        "shell-fit-result.data",
    ],
    ids=lambda b: json.dumps(b)[:60],
)
def test_callback_requests_that_name_no_registered_callback_are_refused(served: Any, body: Any) -> None:
    if isinstance(body, dict):
        body = {
            **body,
            "outputs": {"id": ids.FIT_RESULT, "property": "data"},
            "inputs": [{"id": ids.FIT_REQUEST, "property": "data", "value": {"at": 1}}],
        }
    resp = _dash(served, body)
    assert resp.status_code == 400
    assert resp.get_json() == {"error": "The callback request names no callback of this dashboard."}
    assert served.jobs == []


def test_callback_requests_that_are_not_json_or_nested_too_deeply_are_refused(served: Any) -> None:
    plain = served.client.post(
        "/_dash-update-component", base_url=LOCAL, data='{"output": "shell-fit-result.data"}', content_type="text/plain"
    )
    assert plain.status_code == 400
    deep = served.client.post(
        "/_dash-update-component", base_url=LOCAL, data="[" * 100_000 + "]" * 100_000, content_type="application/json"
    )
    assert deep.status_code == 400 and deep.get_json() == {"error": "The callback request is nested too deeply."}
    assert served.jobs == []


# ---------------------------------------------------------------------------- 4. login throttling


def _try_login(client: Any, name: str, password: str, *, address: str = "127.0.0.1") -> Any:
    env = {"REMOTE_ADDR": address}
    page = client.get("/login", base_url=LOCAL, environ_base=env).get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return client.post(
        "/login",
        data={"name": name, "password": password, "csrf": token, "next": "/"},
        base_url=LOCAL,
        environ_base=env,
    )


class Clock:
    """Now for the store's audit trail and the login locks alike; ``advance`` moves it on."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> Any:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    import indicators.store

    fake = Clock()
    monkeypatch.setattr(indicators.store, "utcnow", fake)  # when failures are recorded
    monkeypatch.setattr(auth, "clock", fake)  # when locks are checked
    return fake


def test_failed_logins_lock_the_account_until_the_lock_expires(served: Any, make_app: Any, clock: Clock) -> None:
    from indicators.users import ACCOUNT_FREE_FAILURES

    client = served.client
    for _ in range(ACCOUNT_FREE_FAILURES - 1):
        assert _try_login(client, EDITOR, "not the password at all").status_code == 401
    locked = _try_login(client, EDITOR, "not the password at all")
    assert locked.status_code == 429
    assert "Too many failed logins for this account; try again in 1 minute." in locked.get_data(as_text=True)
    assert 0 < int(locked.headers["Retry-After"]) <= 60

    refused = _try_login(client, EDITOR, PASSWORD)  # the right password, while locked
    assert refused.status_code == 429 and "Set-Cookie" not in refused.headers
    assert _add(client).status_code == 401
    other = make_app("127.0.0.1").client  # another server process on the same store: the same lock
    assert _try_login(other, EDITOR, PASSWORD, address="10.0.0.9").status_code == 429

    clock.advance(timedelta(seconds=59))
    assert _try_login(client, EDITOR, PASSWORD).status_code == 429
    clock.advance(timedelta(seconds=2))
    assert _try_login(client, EDITOR, PASSWORD).status_code == 303
    assert _add(client).status_code == 201


def test_each_further_failure_doubles_the_lock(served: Any, clock: Clock) -> None:
    from indicators.users import ACCOUNT_FREE_FAILURES

    for _ in range(ACCOUNT_FREE_FAILURES):
        _try_login(served.client, "nobody-at-all", "a guess of some length")  # unknown names count alike
    for minutes in (2, 4, 8):
        clock.advance(timedelta(minutes=minutes // 2, seconds=1))  # the last lock is over
        again = _try_login(served.client, "nobody-at-all", "another guess of length")
        assert again.status_code == 429
        assert f"try again in {minutes} minutes." in again.get_data(as_text=True)
    clock.advance(timedelta(minutes=7))
    locked = _try_login(served.client, "nobody-at-all", "a guess while locked")
    assert "try again in 1 minute." in locked.get_data(as_text=True)
    clock.advance(timedelta(minutes=1, seconds=1))  # the refused attempt did not extend the lock: this one
    counted = _try_login(served.client, "nobody-at-all", "a guess once more")  # is checked, and fails
    assert "try again in 16 minutes." in counted.get_data(as_text=True)


def test_failed_logins_from_one_address_lock_that_address(served: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from indicators import users

    monkeypatch.setattr(users, "ADDRESS_FREE_FAILURES", 3)  # as 20, sooner
    for i in range(3):
        _try_login(served.client, f"guess{i}", "a guess of some length", address="203.0.113.7")
    locked = _try_login(served.client, EDITOR, PASSWORD, address="203.0.113.7")
    assert locked.status_code == 429
    assert "Too many failed logins from this address; try again in" in locked.get_data(as_text=True)
    assert _try_login(served.client, EDITOR, PASSWORD, address="203.0.113.8").status_code == 303


# ---------------------------------------------------------------------------- 5. headers


def test_every_response_forbids_framing_and_sniffing(served: Any) -> None:
    client = served.client
    index = client.get("/", base_url=LOCAL)
    suite = re.search(r'src="(/_dash-component-suites/[^"]+)"', index.get_data(as_text=True)).group(1)
    responses = {
        "/": index,
        "/login": client.get("/login", base_url=LOCAL),
        "/api/health": client.get("/api/health", base_url=LOCAL),
        "asset": client.get("/assets/harbinger.css", base_url=LOCAL),
        "component suite": client.get(suite, base_url=LOCAL),
        "callback": _dash(served, {"output": "nothing.children"}),
        "not found": client.get("/no/such/page.txt", base_url=LOCAL),
        "wrong host": client.get("/", base_url="http://attacker.example:8050"),
    }
    for name, resp in responses.items():
        assert resp.status_code in (200, 400, 403, 404), name
        assert resp.headers["X-Frame-Options"] == "DENY", name
        policy = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, name
        assert resp.headers["X-Content-Type-Options"] == "nosniff", name
        assert resp.headers["Referrer-Policy"] == "same-origin", name


# ---------------------------------------------------------------------------- 6. sessions end on logout


def _cookie(client: Any) -> str:
    return client.get_cookie(auth.SESSION_COOKIE, domain="127.0.0.1").value


def _with_cookie(make_app: Any, value: str) -> Any:
    client = make_app("127.0.0.1").client
    client.set_cookie(auth.SESSION_COOKIE, value, domain="127.0.0.1")
    return client


def test_a_cookie_saved_before_logout_no_longer_authenticates(served: Any, make_app: Any) -> None:
    client = served.client
    _login(client, EDITOR, PASSWORD)
    saved = _cookie(client)
    assert _with_cookie(make_app, saved).get("/api/session", base_url=LOCAL).get_json()["user"] == EDITOR
    other = make_app("127.0.0.1").client  # the same account in another browser
    _login(other, EDITOR, PASSWORD)

    assert _logout(client).status_code == 303
    replayed = _with_cookie(make_app, saved)
    assert replayed.get("/api/session", base_url=LOCAL).get_json() == {"user": None, "role": None}
    assert _add(replayed).status_code == 401
    assert _add(other, "still logged in elsewhere").status_code == 201  # only that session ended


def test_re_adding_a_removed_user_does_not_revive_old_cookies(served: Any, make_app: Any, store: Any) -> None:
    from indicators.users import add_user, deactivate_user

    _login(served.client, EDITOR, PASSWORD)
    saved = _cookie(served.client)
    deactivate_user(store, EDITOR, actor="admin")
    add_user(store, EDITOR, PASSWORD, "editor", actor="admin")
    replayed = _with_cookie(make_app, saved)
    assert replayed.get("/api/session", base_url=LOCAL).get_json()["user"] is None
    assert _add(replayed).status_code == 401


def test_logging_out_needs_a_post_with_the_anti_forgery_token(served: Any) -> None:
    client = served.client
    _login(client, EDITOR, PASSWORD)
    confirm = client.get("/logout", base_url=LOCAL)  # a link, an image or a page elsewhere
    assert confirm.status_code == 200
    assert re.search(r'<form method="post" action="/logout".*name="csrf" value="[^"]+"', confirm.get_data(as_text=True))
    assert client.get("/api/session", base_url=LOCAL).get_json()["user"] == EDITOR

    forged = client.post("/logout", data={"csrf": "a guess"}, base_url=LOCAL)  # a form on another site
    assert forged.status_code == 400 and "The log-out form expired" in forged.get_data(as_text=True)
    assert client.post("/logout", base_url=LOCAL).status_code == 400
    assert client.get("/api/session", base_url=LOCAL).get_json()["user"] == EDITOR

    assert _logout(client).status_code == 303
    assert client.get("/api/session", base_url=LOCAL).get_json()["user"] is None


# ---------------------------------------------------------------------------- 8. the API and bad input


def _post_raw(client: Any, data: str | bytes) -> Any:
    return client.post("/api/observations", data=data, content_type="application/json", base_url=LOCAL)


@pytest.mark.parametrize(
    "data, reason",
    [
        ('{"observations": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"a": ' * 50_000 + "1" + "}" * 50_000, "nested too deeply"),
        (b"\xff\xfe not text", "not valid JSON"),
        ('{"indicator": "exercises", "date": "2021-06-01", "value": NaN, "source": "x"}', "not valid JSON"),
        ("[1, 2]", "item 1 of the request is not an object"),
        ('"text"', "must be an observation object"),
    ],
    ids=["nested observations", "nested list", "nested objects", "not UTF-8", "NaN", "numbers", "a string"],
)
def test_the_api_answers_malformed_bodies_with_one_sentence(make_app: Any, store: Any, data: Any, reason: str) -> None:
    before = store.snapshot()["observations"]
    resp = _post_raw(make_app("127.0.0.1").client, data)
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert reason in error and error.count(". ") == 0 and error.endswith("."), error
    assert store.snapshot()["observations"] == before


def test_the_api_answers_values_the_store_refuses_with_400(
    make_app: Any, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    client = make_app("127.0.0.1").client

    def refused(*_: Any, **__: Any) -> Any:
        raise sa.exc.DataError("INSERT ...", {}, ValueError("A string literal cannot contain NUL (0x00) characters."))

    monkeypatch.setattr(type(store), "add_observations", refused)
    resp = _add(client, "nul\x00byte")
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "the database refused a value of the request (ValueError); nothing was stored."
