"""Accounts, password hashing, the ``harbinger user`` commands, sessions and the editing policy.

In-process: the store functions, the command line through click's runner, and the dashboard's
Flask server through its test client (real HTTP against a running server is in
test_http_access.py).
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from dash.exceptions import PreventUpdate

from dashboard.web import ids
from indicators.errors import BadInput
from tests.dashboard_support import plain, text_of

PASSWORD = "correct horse battery staple"
LOCAL = "http://127.0.0.1:8050"


def _account(login: dict[str, Any] | None) -> dict[str, Any] | None:
    """A successful login without its session id."""
    return None if login is None else {k: v for k, v in login.items() if k != "session"}


# ---------------------------------------------------------------------------- accounts


def test_passwords_are_stored_only_as_argon2id_hashes(store: Any) -> None:
    from indicators import users

    assert users.add_user(store, "ann", PASSWORD, "editor", actor="admin") == "added"
    snap = store.snapshot()
    (row,) = snap["users"]
    assert row["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in json.dumps(snap, default=str)  # not in any table, audit included
    assert [a["action"] for a in store.audit_log()][:1] == ["user.add"]
    assert _account(users.verify(store, "ann", PASSWORD)) == {"name": "ann", "role": "editor"}
    assert users.verify(store, "ann", PASSWORD + "!") is None
    assert users.verify(store, "nobody", PASSWORD) is None
    actions = [a["action"] for a in store.audit_log(limit=3)]
    assert actions == ["user.login_failed", "user.login_failed", "user.login"]
    assert PASSWORD not in json.dumps(store.snapshot(), default=str)


def test_the_same_password_gets_different_salted_hashes(store: Any) -> None:
    from indicators import users

    users.add_user(store, "ann", PASSWORD, "editor", actor="admin")
    users.add_user(store, "bob", PASSWORD, "viewer", actor="admin")
    hashes = [u["password_hash"] for u in store.snapshot()["users"]]
    assert hashes[0] != hashes[1]


def test_account_rules(store: Any) -> None:
    from indicators import users

    with pytest.raises(BadInput, match="too short"):
        users.add_user(store, "ann", "short", "editor", actor="admin")
    with pytest.raises(BadInput, match="role 'admin' is unknown"):
        users.add_user(store, "ann", PASSWORD, "admin", actor="admin")
    with pytest.raises(BadInput, match="user name 'a b' is not allowed"):
        users.add_user(store, "a b", PASSWORD, "viewer", actor="admin")
    assert not users.has_accounts(store) and not users.has_editor(store)
    users.add_user(store, "ann", PASSWORD, "viewer", actor="admin")
    assert users.has_accounts(store) and not users.has_editor(store)
    with pytest.raises(BadInput, match="user 'ann' exists already"):
        users.add_user(store, "ann", PASSWORD, "editor", actor="admin")
    users.deactivate_user(store, "ann", actor="admin")
    assert users.verify(store, "ann", PASSWORD) is None
    assert not users.has_accounts(store)
    with pytest.raises(BadInput, match="there is no active user 'ann'"):
        users.deactivate_user(store, "ann", actor="admin")
    assert users.add_user(store, "ann", "a new long password", "editor", actor="admin") == "reactivated"
    assert users.verify(store, "ann", PASSWORD) is None
    assert _account(users.verify(store, "ann", "a new long password")) == {"name": "ann", "role": "editor"}
    assert len(store.snapshot()["users"]) == 1  # nothing deleted, nothing doubled


# ---------------------------------------------------------------------------- command line


def test_user_add_prompts_twice_without_echo(store: Any, cli: Any) -> None:
    result = cli("user", "add", "ann", "--role", "editor", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.stderr
    assert "user 'ann' added with role editor" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    assert "Repeat the password" in result.stderr
    from indicators.users import verify

    assert _account(verify(store, "ann", PASSWORD)) == {"name": "ann", "role": "editor"}


def test_user_add_with_mismatched_repetition_adds_nobody(store: Any, cli: Any) -> None:
    result = cli("user", "add", "ann", "--role", "editor", input=f"{PASSWORD}\nsomething else entirely\n")
    assert result.exit_code != 0
    assert "do not match" in result.stderr
    assert store.snapshot()["users"] == []


def test_user_add_password_stdin_list_and_remove(store: Any, cli: Any) -> None:
    assert cli("user", "add", "ann", "--role", "editor", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert cli("user", "add", "vic", "--role", "viewer", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    listed = json.loads(cli("user", "list", "--format", "json").stdout)
    assert [(u["name"], u["role"], u["active"]) for u in listed] == [("ann", "editor", True), ("vic", "viewer", True)]
    assert all("hash" not in key for u in listed for key in u)
    assert "argon2" not in cli("user", "list").stdout
    removed = cli("user", "remove", "vic")
    assert removed.exit_code == 0 and "user 'vic' removed" in removed.stdout
    assert [u["name"] for u in json.loads(cli("user", "list", "--format", "json").stdout)] == ["ann"]
    everyone = json.loads(cli("user", "list", "--all", "--format", "json").stdout)
    assert [(u["name"], u["active"]) for u in everyone] == [("ann", True), ("vic", False)]
    actors = {(a["action"], a["actor"]) for a in store.audit_log()}
    assert {("user.add", "tester"), ("user.deactivate", "tester")} <= actors


def test_serve_refuses_a_non_loopback_host_while_no_editor_exists(store: Any, cli: Any) -> None:
    from indicators.users import add_user

    add_user(store, "vic", PASSWORD, "viewer", actor="admin")  # a viewer is not enough
    result = cli("serve", "--host", "0.0.0.0", "--port", "1")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "harbinger: --host: 0.0.0.0 is reachable from other machines and no editor "
        "account exists; add one with 'harbinger user add NAME --role editor' or serve "
        "on 127.0.0.1 (the default)."
    )


# ---------------------------------------------------------------------------- secret key


def test_the_session_key_is_kept_private_in_harbinger_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.services.context import Failure
    from dashboard.web.auth import secret_key

    monkeypatch.delenv("HARBINGER_SECRET_KEY", raising=False)
    key = secret_key(tmp_path)
    path = tmp_path / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32 and secret_key(tmp_path) == key  # kept across restarts
    path.chmod(0o644)
    with pytest.raises(Failure, match="readable by other users"):
        secret_key(tmp_path)
    monkeypatch.setenv("HARBINGER_SECRET_KEY", "k" * 40)
    assert secret_key(tmp_path) == b"k" * 40


# ---------------------------------------------------------------------------- the dashboard's server


@pytest.fixture
def make_app(store: Any) -> Any:
    """``make_app(host)``: the dashboard on the test's store, and its page modules."""
    from dashboard.services import views
    from dashboard.web import app as shell

    views.forget_stores()

    def make(host: str | None) -> SimpleNamespace:
        app = shell.create_app("mini", host=host)
        return SimpleNamespace(
            app=app,
            client=app.server.test_client(),
            ind=sys.modules["dashboard.web.pages.indicators"],
            overview=sys.modules["dashboard.web.pages.overview"],
        )

    yield make
    views.forget_stores()


def _login(client: Any, name: str, password: str, *, next_path: str = "/") -> Any:
    page = client.get("/login", base_url=LOCAL).get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return client.post(
        "/login", data={"name": name, "password": password, "csrf": token, "next": next_path}, base_url=LOCAL
    )


def _logout(client: Any) -> Any:
    """Press Log out as the top bar does: a POST carrying the session's anti-forgery token."""
    page = client.get("/logout", base_url=LOCAL).get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return client.post("/logout", data={"csrf": token}, base_url=LOCAL)


def _add(client: Any, source: str = "api test") -> Any:
    return client.post(
        "/api/observations",
        base_url=LOCAL,
        json={"indicator": "exercises", "date": "2021-06-01", "value": 1, "source": source},
    )


def test_loopback_without_accounts_the_local_user_edits(make_app: Any, store: Any) -> None:
    ui = make_app("127.0.0.1")
    resp = _add(ui.client)
    assert resp.status_code == 201, resp.get_json()
    assert store.observations("mini")["recorded_by"].tolist() == ["tester"]
    assert ui.client.get("/api/session", base_url=LOCAL).get_json() == {"user": None, "role": "editor"}


def test_exposed_or_with_accounts_editing_needs_an_editor_login(make_app: Any, store: Any) -> None:
    from indicators.users import add_user

    exposed = make_app(None)  # e.g. under a WSGI server: the bind is unknown, so it counts as exposed
    resp = _add(exposed.client)
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "Only a logged-in editor may add observations; log in at /login."

    add_user(store, "ed", PASSWORD, "editor", actor="admin")
    add_user(store, "vic", PASSWORD, "viewer", actor="admin")
    ui = make_app("127.0.0.1")
    before = store.snapshot()["observations"]
    assert _add(ui.client).status_code == 401  # loopback, but accounts exist
    assert _login(ui.client, "vic", PASSWORD).status_code == 303
    resp = _add(ui.client)
    assert resp.status_code == 403
    assert resp.get_json()["error"] == ("You are logged in as 'vic', a viewer; only an editor may add observations.")
    assert store.snapshot()["observations"] == before

    editor = make_app("127.0.0.1").client
    assert _login(editor, "ed", PASSWORD).status_code == 303
    assert editor.get("/api/session", base_url=LOCAL).get_json() == {"user": "ed", "role": "editor"}
    resp = _add(editor, "by ed")
    assert resp.status_code == 201
    frame = store.observations("mini")
    assert frame.loc[frame["source"] == "by ed", "recorded_by"].tolist() == ["ed"]

    assert _logout(editor).status_code == 303
    assert _add(editor, "after logout").status_code == 401


def test_session_cookie_flags_and_login_page(make_app: Any, store: Any) -> None:
    from indicators.users import add_user

    add_user(store, "ed", PASSWORD, "editor", actor="admin")
    client = make_app("127.0.0.1").client
    page = client.get("/login?next=/indicators", base_url=LOCAL)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert '<label class="field-label" for="login-name">User name</label>' in html
    assert '<label class="field-label" for="login-password">Password</label>' in html
    resp = _login(client, "ed", PASSWORD, next_path="/indicators")
    assert resp.status_code == 303 and resp.headers["Location"] == "/indicators"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("harbinger_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert PASSWORD not in cookie


def test_login_refusals(make_app: Any, store: Any) -> None:
    from indicators.users import add_user

    add_user(store, "ed", PASSWORD, "editor", actor="admin")
    client = make_app("127.0.0.1").client
    wrong = _login(client, "ed", "not the password at all")
    assert wrong.status_code == 401 and "Wrong user name or password." in wrong.get_data(as_text=True)
    assert "Set-Cookie" not in wrong.headers or "user" not in wrong.headers.get("Set-Cookie", "")
    assert _add(client).status_code == 401
    forged = client.post("/login", data={"name": "ed", "password": PASSWORD, "csrf": "guess"}, base_url=LOCAL)
    assert forged.status_code == 400 and "The login form expired" in forged.get_data(as_text=True)
    assert _add(client).status_code == 401
    elsewhere = _login(client, "ed", PASSWORD, next_path="//evil.example/")
    assert elsewhere.status_code == 303 and elsewhere.headers["Location"] == "/"


def test_removing_an_account_ends_its_rights_at_once(make_app: Any, store: Any) -> None:
    from indicators.users import add_user, deactivate_user

    add_user(store, "ed", PASSWORD, "editor", actor="admin")
    add_user(store, "vic", PASSWORD, "viewer", actor="admin")  # accounts remain: login stays required
    client = make_app("127.0.0.1").client
    _login(client, "ed", PASSWORD)
    assert _add(client, "first").status_code == 201
    deactivate_user(store, "ed", actor="admin")
    assert _add(client, "second").status_code == 401  # the old session cookie no longer counts


def test_a_loopback_server_answers_only_loopback_host_names(make_app: Any) -> None:
    client = make_app("127.0.0.1").client
    assert client.get("/api/health", base_url="http://localhost:8050").status_code == 200
    rebound = client.post(
        "/api/observations",
        base_url="http://attacker.example:8050",
        json={"indicator": "exercises", "date": "2021-06-01", "value": 1, "source": "x"},
    )
    assert rebound.status_code == 403
    assert client.get("/", base_url="http://attacker.example:8050").status_code == 403


def test_editing_callbacks_refuse_anonymous_callers_on_the_server(make_app: Any, store: Any) -> None:
    from indicators.users import add_user

    add_user(store, "vic", PASSWORD, "viewer", actor="admin")
    (obs_id,) = store.add_observations(
        "mini", [{"indicator": "exercises", "date": "2021-06-01", "value": 1, "source": "MoD"}], actor="t"
    )
    ui = make_app("127.0.0.1")
    before = store.snapshot()
    with ui.app.server.test_request_context("/_dash-update-component", method="POST", base_url=LOCAL):
        message, _ = plain(ui.ind.add_observation)(
            1, "exercises", "2021-06-02", None, "1", "MoD", None, None, None, "mini", 0
        )
        assert "Only a logged-in editor may add observations" in text_of(message)
        message, _, _ = plain(ui.ind.upload_csv)("data:text/csv;base64,aW5kaWNhdG9y", "x.csv", "mini", 0)
        assert "Only a logged-in editor may import observations" in text_of(message)
        message, _ = plain(ui.ind.edit_observation)(0, 1, [obs_id], None, None, "wrong", "mini", 0, action="retract")
        assert "Only a logged-in editor may retract observations" in text_of(message)
        message, _ = plain(ui.ind.edit_observation)(1, 0, [obs_id], "value", "2", "typo", "mini", 0, action="correct")
        assert "Only a logged-in editor may correct observations" in text_of(message)
        message, _ = plain(ui.ind.mark_reviewed)(1, "exercises", "2021-06-30", "mini", 0)
        assert "Only a logged-in editor may mark series reviewed" in text_of(message)
        assert "Only a logged-in editor may start a fit" in text_of(plain(ui.overview.refit_refusal)(1))
        with pytest.raises(PreventUpdate):
            plain(ui.overview.request_fit)(1, None, trigger="overview-refit")
    assert store.snapshot() == before
    assert store.reviews("mini") == {}
    # every callback that changes the observations (it bumps the shell's version) was sent above
    assert ui.client.get("/", base_url=LOCAL).status_code == 200  # Dash fills its callback map
    writers = {
        cb["callback"].__name__
        for cb in ui.app.callback_map.values()
        if any(o.component_id == ids.OBS_VERSION for o in _outputs(cb))
    }
    assert writers == {"add_observation", "upload_csv", "edit_observation", "mark_reviewed"}


def _outputs(callback: dict[str, Any]) -> list[Any]:
    out = callback["output"]
    return list(out) if isinstance(out, (list, tuple)) else [out]


def test_the_background_refit_cannot_be_started_without_an_editor(make_app: Any, store: Any) -> None:
    from indicators.users import add_user

    add_user(store, "vic", PASSWORD, "viewer", actor="admin")
    client = make_app("127.0.0.1").client
    body = {
        "output": "shell-fit-result.data",
        "outputs": {"id": "shell-fit-result", "property": "data"},
        "inputs": [{"id": "shell-fit-request", "property": "data", "value": {"at": 1, "reason": "refit"}}],
        "state": [{"id": "shell-case", "property": "data", "value": "mini"}],
        "changedPropIds": ["shell-fit-request.data"],
    }
    resp = client.post("/_dash-update-component", json=body, base_url=LOCAL)
    assert resp.status_code == 401 and "Only a logged-in editor may start this" in resp.get_json()["error"]
    _login(client, "vic", PASSWORD)
    assert client.post("/_dash-update-component", json=body, base_url=LOCAL).status_code == 403
    assert store.runs("mini") == []


def test_the_top_bar_shows_who_is_logged_in(make_app: Any, store: Any) -> None:
    from dashboard.web import auth
    from indicators.users import add_user

    ui = make_app("127.0.0.1")
    with ui.app.server.test_request_context("/", base_url=LOCAL):
        assert "Local editor (no accounts)" in text_of(auth.user_box("/"))
    add_user(store, "ed", PASSWORD, "editor", actor="admin")
    with ui.app.server.test_request_context("/", base_url=LOCAL):
        box = auth.user_box("/indicators")
        assert "Viewing only" in text_of(box) and box[1].href == "/login?next=/indicators"
    from indicators.users import verify

    login = verify(store, "ed", PASSWORD)
    with ui.app.server.test_request_context("/", base_url=LOCAL):
        from flask import session

        session.update(user="ed", login=login["session"], csrf="the token")
        box = auth.user_box("/")
        assert "Logged in as ed (editor)" in text_of(box).replace("  ", " ")
        form = box[1]  # Log out is a POST of the anti-forgery token, never a link
        assert (form.method, form.action) == ("post", "/logout")
        assert (form.children.type, form.children.name, form.children.value) == ("submit", "csrf", "the token")


def test_in_process_calls_act_as_the_local_user(make_app: Any) -> None:
    from dashboard.web import auth

    make_app("127.0.0.1")
    assert auth.current_role() == "editor"
    assert auth.require_editor() == os.environ["HARBINGER_USER"]
