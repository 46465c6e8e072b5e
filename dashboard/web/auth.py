"""Who may change the record through the dashboard: login, logout, roles and the editing check.

Policy
------
- Reading (every page, ``GET /api/...``) is open to whoever can reach the server.
- Changing the record (add, upload, correct, retract, refit, save a scenario, set an alert, and
  ``POST /api/observations``) needs the ``editor`` role, checked on the server by
  :func:`require_editor` inside every editing callback and API view, not merely by hiding
  buttons.
- On a loopback bind (``harbinger serve`` on 127.0.0.1, the default) with no user accounts at
  all, the local user is an editor without logging in, and changes are recorded under
  ``HARBINGER_USER`` or the operating-system user, as on the command line.
- When the server is bound beyond loopback, runs under a WSGI server (the bind is unknown there,
  so it counts as exposed), or any account exists, editing needs a logged-in editor
  (``harbinger user add NAME --role editor``); changes are recorded under the account's name.
- Code that calls the callbacks in-process, outside any HTTP request (tests, scripts), acts as the
  local operating-system user: it could open the store directly anyway.

Sessions
--------
``/login`` (a plain HTML form with a per-session anti-forgery token) and ``/logout`` are Flask
routes on the Dash server. The session is Flask's signed cookie ``harbinger_session``, marked
HttpOnly and SameSite=Lax (and Secure when ``HARBINGER_SECURE_COOKIES=1``, for a server behind
HTTPS), lasting 12 hours. It holds the user name, the id of the login that opened it and the
anti-forgery token. Every check re-reads the account and the session from the store
(:func:`indicators.users.session_user`): removing an account or changing its role takes effect at
once, and a cookie stops counting when its session was logged out or the account was removed or
added again, even if someone kept a copy. Logging out is a POST carrying the anti-forgery token
(the top bar's "Log out" button); ``GET /logout`` only shows that button, so another site cannot
log a user out. The signing key is ``HARBINGER_SECRET_KEY`` if set (several servers behind one
address must share it), else the file ``HARBINGER_HOME/secret_key``, created on first start with
mode 0600; a key file readable by other users is refused.

Logins are throttled per account and per address with growing locks
(:func:`indicators.users.login_lock`), counted in the store so every server process shares them;
a locked login is answered 429 with how many minutes are left. The address is the client's as
the WSGI server sees it (behind a reverse proxy: the proxy's, so all users share its count).

What a callback request runs
----------------------------
Dash runs, for ``POST /_dash-update-component``, the callback registered under the body's
``output`` text, looked up verbatim in the app's callback map (one ``id.prop``, several joined as
``..a.x...b.y..``, pattern-matching ids as their JSON text); ``outputs`` only shapes the answer.
:func:`_guard_requests` looks up the same text in the same map, before Dash does. A request whose
body is not a JSON object naming a registered callback is refused (400): Dash could not run it
either, and nothing unidentified gets through. A callback needs a logged-in editor (else 401/403,
before it starts) when it runs in the background, since its body runs outside the request where
:func:`require_editor` cannot see who asked, or when it writes an output given to
:func:`protect_output`. Background callbacks are protected by default, so a new one cannot be left
open by forgetting to list it; callbacks that run in the request check :func:`require_editor`
themselves and answer a refusal the page shows.

Headers
-------
Every response says ``X-Frame-Options: DENY`` and ``Content-Security-Policy: frame-ancestors
'none'`` (no other site may frame the dashboard), ``base-uri 'self'; object-src 'none';
form-action 'self'``, ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``.
The policy sets no ``script-src``: Dash starts its renderer with an inline script, and user text
is never rendered as HTML anyway.

Hardening for the loopback case: a server bound to loopback answers only requests whose ``Host``
is a loopback name or address, so a web page on another site cannot reach it through DNS
rebinding.
"""

from __future__ import annotations

import html as html_lib
import math
import os
import secrets
import stat
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import flask
from flask import current_app, g, has_request_context, request, session

from dashboard.services.context import Failure
from dashboard.services.context import actor as os_actor
from indicators.observations import utcnow

SESSION_COOKIE = "harbinger_session"
SESSION_LIFETIME = timedelta(hours=12)
SECRET_FILE = "secret_key"
USER_BOX = "shell-user"  # component id of the top bar's login / current user element

#: Outputs whose callbacks need an editor before they start (besides every background callback);
#: see :func:`protect_output`. Ids as Dash writes them (pattern-matching ids as JSON text).
PROTECTED_OUTPUTS: set[tuple[str, str]] = set()

#: Sent with every response (see the module's notes).
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'; base-uri 'self'; object-src 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

#: Now as naive UTC, for the login locks; tests replace it to move time on.
clock: Callable[[], datetime] = utcnow


class NotAllowed(Exception):
    """The caller may not do this; ``status`` is 401 (not logged in) or 403 (logged in, no right)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------- setup


def secret_key(home: Path) -> bytes:
    """``HARBINGER_SECRET_KEY``, else the key in ``home/secret_key`` (made on first use, mode 0600)."""
    env = os.environ.get("HARBINGER_SECRET_KEY")
    if env:
        if len(env) < 32:
            raise Failure(
                "HARBINGER_SECRET_KEY is shorter than 32 characters; use a long random value, e.g. "
                "from 'python -c \"import secrets; print(secrets.token_hex(32))\"'."
            )
        return env.encode("utf-8")
    home.mkdir(parents=True, exist_ok=True)
    path = home / SECRET_FILE
    if not path.exists():
        tmp = home / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic: exactly one of several starting servers wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        raise Failure(
            f"{path} is readable by other users (mode {mode:04o}); run 'chmod 600 {path}', or delete "
            "it to make a new key (everyone is logged out)."
        )
    key = path.read_text().strip()
    if len(key) < 32:
        raise Failure(f"{path} does not hold a usable key; delete it to make a new one.")
    return key.encode("utf-8")


def install(app: Any, *, local: bool) -> None:
    """Add login, logout, cookie settings and the request guards to a Dash app's Flask server.

    ``local``: the server is bound to a loopback address only (then, with no accounts, the local
    user is an editor without logging in).
    """
    from dashboard.services import views

    server = app.server
    server.secret_key = secret_key(views.get_store().home)
    server.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("HARBINGER_SECURE_COOKIES", "") not in ("", "0", "false", "no"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        HARBINGER_LOCAL=bool(local),
    )
    server.extensions["harbinger_dash"] = app
    server.add_url_rule("/login", "harbinger_login", login_view, methods=["GET", "POST"])
    server.add_url_rule("/logout", "harbinger_logout", logout_view, methods=["GET", "POST"])
    server.before_request(_guard_requests)  # after Dash's own set-up, which fills its callback map
    server.after_request(_security_headers)


def protect_output(component_id: str | dict[str, Any], prop: str) -> None:
    """Refuse, before it starts, any callback request whose callback writes ``component_id.prop``
    unless the caller is an editor (background callbacks are refused so without being listed)."""
    from dash import Output

    PROTECTED_OUTPUTS.add((Output(component_id, prop).component_id_str(), prop))


# ---------------------------------------------------------------------------- who is asking


def _store() -> Any:
    from dashboard.services import views

    return views.get_store()


def current_user() -> dict[str, Any] | None:
    """The logged-in, still active account of this request as ``{"name", "role"}``, or None."""
    if not has_request_context():
        return None
    if "harbinger_user" not in g:
        name = session.get("user")
        user = None
        if name:
            from indicators.users import session_user

            user = session_user(_store(), str(name), session.get("login"))
        g.harbinger_user = user
    return g.harbinger_user


def local_open() -> bool:
    """Whether this request may edit without logging in: a loopback bind and no accounts at all."""
    if not has_request_context() or not current_app.config.get("HARBINGER_LOCAL"):
        return False
    if "harbinger_local_open" not in g:
        from indicators.users import has_accounts

        g.harbinger_local_open = not has_accounts(_store())
    return g.harbinger_local_open


def current_role() -> str | None:
    """``"editor"``, ``"viewer"``, or None for an anonymous visitor (who may read only).

    Outside an HTTP request (in-process calls) the answer is ``"editor"``: the caller is the local
    operating-system user, who can open the store anyway.
    """
    if not has_request_context():
        return "editor"
    user = current_user()
    if user is not None:
        return user["role"]
    return "editor" if local_open() else None


def acting_user() -> str:
    """The name recorded with a change: the logged-in account, else ``HARBINGER_USER`` / the OS user."""
    user = current_user()
    return user["name"] if user is not None else os_actor()


def require_editor(action: str = "change the record") -> str:
    """Return the acting user's name if the caller may edit; raise :class:`NotAllowed` otherwise.

    Every editing callback and API view calls this first, on the server.
    """
    if current_role() == "editor":
        return acting_user()
    user = current_user()
    if user is not None:
        raise NotAllowed(f"You are logged in as '{user['name']}', a viewer; only an editor may {action}.", 403)
    raise NotAllowed(f"Only a logged-in editor may {action}; log in at /login.", 401)


# ---------------------------------------------------------------------------- guards


def _is_loopback_host(host_header: str) -> bool:
    from dashboard.web.net import is_loopback

    try:
        hostname = urlsplit(f"//{host_header}").hostname or ""
    except ValueError:
        return False
    return is_loopback(hostname)


def _refuse(message: str, status: int) -> Any:
    return flask.jsonify({"error": message}), status


def _needs_editor(callback: dict[str, Any]) -> bool:
    """Whether a callback (an entry of Dash's callback map) may only run for an editor."""
    if callback.get("background"):
        return True
    outputs = callback.get("output")
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return any(
        (o.component_id_str(), o.component_property) in PROTECTED_OUTPUTS
        for o in outputs
        if hasattr(o, "component_id_str")
    )


def _callback_refusal(dash_app: Any) -> Any:
    """The answer refusing a ``_dash-update-component`` request, or None to let Dash run it."""
    try:
        body = request.get_json(silent=True)  # cached: Dash reads this very object
    except RecursionError:
        return _refuse("The callback request is nested too deeply.", 400)
    output = body.get("output") if isinstance(body, dict) else None
    callback = dash_app.callback_map.get(output) if isinstance(output, str) else None
    if callback is None:
        return _refuse("The callback request names no callback of this dashboard.", 400)
    if _needs_editor(callback):
        try:
            require_editor("start this")
        except NotAllowed as exc:
            return _refuse(str(exc), exc.status)
    return None


def _guard_requests() -> Any:
    if current_app.config.get("HARBINGER_LOCAL") and not _is_loopback_host(request.host):
        return flask.Response(
            "This server listens on loopback only and answers requests addressed to 127.0.0.1 or localhost.\n",
            status=403,
            mimetype="text/plain",
        )
    dash_app = current_app.extensions["harbinger_dash"]
    if (
        request.method == "POST"
        and request.endpoint == dash_app.config.routes_pathname_prefix + "_dash-update-component"
    ):
        return _callback_refusal(dash_app)
    return None


def _security_headers(response: Any) -> Any:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


# ---------------------------------------------------------------------------- pages


def _safe_next(target: str | None) -> str:
    """A local path to go to after login (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _csrf_token() -> str:
    """This session's anti-forgery token (made on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def _csrf_ok() -> bool:
    expected = session.get("csrf")
    return bool(expected) and secrets.compare_digest(str(expected), str(request.form.get("csrf", "")))


def _logout_form() -> str:
    return (
        f'<form method="post" action="/logout" class="logout-form" style="display: inline;">'
        f'<button class="btn" type="submit" name="csrf" value="{html_lib.escape(_csrf_token())}" '
        f'id="logout-button">Log out</button></form>'
    )


def _page(title: str, body: str, status: int) -> Any:
    """A plain page in the dashboard's style, never cached."""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Harbinger · {html_lib.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/harbinger.css"></head>
<body><main class="page login-page" style="max-width: 460px; margin: 48px auto;">
<section class="card section form" style="display: flex; flex-direction: column; gap: 12px;">
{body}
</section></main></body></html>"""
    resp = flask.make_response(page, status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _login_page(*, error: str | None = None, next_path: str = "/", name: str = "", status: int = 200) -> Any:
    token = _csrf_token()
    esc = html_lib.escape
    user = current_user()
    who = (
        (
            f'<p class="muted">You are logged in as <strong>{esc(user["name"])}</strong> ({esc(user["role"])}). '
            f"{_logout_form()}</p>"
        )
        if user
        else ""
    )
    error_html = f'<div class="notice notice-alert" role="alert" id="login-error">{esc(error)}</div>' if error else ""
    return _page(
        "Log in",
        f"""<h1>Log in to Harbinger</h1>
<p class="muted">Anyone who can open the dashboard may read it; changing the record needs an editor account
(made with <code>harbinger user add NAME --role editor</code>).</p>
{who}{error_html}
<form method="post" action="/login" style="display: flex; flex-direction: column; gap: 12px;">
<input type="hidden" name="csrf" value="{esc(token)}">
<input type="hidden" name="next" value="{esc(next_path)}">
<div class="field"><label class="field-label" for="login-name">User name</label>
<input class="input" id="login-name" name="name" autocomplete="username" value="{esc(name)}" required></div>
<div class="field"><label class="field-label" for="login-password">Password</label>
<input class="input" id="login-password" name="password" type="password" autocomplete="current-password"
required></div>
<button class="btn btn-primary" type="submit" id="login-submit">Log in</button>
</form>
<p><a href="{esc(next_path)}">Back to the dashboard</a></p>""",
        status,
    )


def _locked_page(lock: Any, now: datetime, *, next_path: str, name: str) -> Any:
    resp = _login_page(error=lock.message(now), next_path=next_path, name=name, status=429)
    resp.headers["Retry-After"] = str(max(1, math.ceil((lock.until - now).total_seconds())))
    return resp


def login_view() -> Any:
    """``GET /login``: the form; ``POST /login``: check the password (unless locked), start a session."""
    next_path = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return _login_page(next_path=next_path)
    if not _csrf_ok():
        return _login_page(
            error="The login form expired; please enter your name and password again.", next_path=next_path, status=400
        )
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    from indicators.users import login_lock, verify

    now = clock()
    lock = login_lock(_store(), name, request.remote_addr, now=now)
    if lock is not None:
        return _locked_page(lock, now, next_path=next_path, name=name)
    user = verify(_store(), name, password, address=request.remote_addr)
    if user is None:
        now = clock()
        lock = login_lock(_store(), name, request.remote_addr, now=now)
        if lock is not None:  # this failure was the one too many: say so now
            return _locked_page(lock, now, next_path=next_path, name=name)
        return _login_page(error="Wrong user name or password.", next_path=next_path, name=name, status=401)
    session.clear()  # a fresh session on login: nothing carried over from before
    session["user"] = user["name"]
    session["login"] = user["session"]
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True
    g.pop("harbinger_user", None)
    return flask.redirect(next_path, code=303)


def logout_view() -> Any:
    """``POST /logout`` with the anti-forgery token: end the session (for good, in the store) and
    go back to the Overview. ``GET /logout`` (or a POST without the token) shows the Log out
    button instead, so a link or a form on another site cannot log anyone out."""
    if request.method == "POST" and _csrf_ok():
        user = current_user()
        if user is not None:
            from indicators.users import end_session

            end_session(_store(), user["name"], session["login"], address=request.remote_addr)
        session.clear()
        g.pop("harbinger_user", None)
        return flask.redirect("/", code=303)
    user = current_user()
    if user is None:
        return _page(
            "Log out",
            '<h1>Log out</h1><p>You are not logged in.</p><p><a href="/">Back to the dashboard</a></p>',
            400 if request.method == "POST" else 200,
        )
    expired = (
        (
            '<div class="notice notice-alert" role="alert" id="logout-error">The log-out form expired; '
            "press Log out again.</div>"
        )
        if request.method == "POST"
        else ""
    )
    return _page(
        "Log out",
        f"""<h1>Log out</h1>{expired}
<p>You are logged in as <strong>{html_lib.escape(user["name"])}</strong>. {_logout_form()}</p>
<p><a href="/">Back to the dashboard</a></p>""",
        400 if request.method == "POST" else 200,
    )


def user_box(pathname: str | None = None) -> list[Any]:
    """The top bar's account element: who is logged in and a Log out button (a POST with the
    anti-forgery token), or a log-in link."""
    from dash import html

    user = current_user()
    if user is not None:
        return [
            html.Span(["Logged in as ", html.Strong(user["name"]), f" ({user['role']})"], className="user-name"),
            html.Form(
                html.Button(
                    "Log out",
                    type="submit",
                    name="csrf",
                    value=_csrf_token(),
                    className="nav-link user-link",
                    id="logout-button",
                    style={"background": "none", "border": "none", "font": "inherit", "cursor": "pointer"},
                ),
                method="post",
                action="/logout",
                id="logout-form",
                style={"margin": 0},
            ),
        ]
    role = current_role()
    if role == "editor":
        return [
            html.Span(
                "Local editor (no accounts)",
                className="user-name",
                title="Served on loopback with no user accounts: this machine's user may edit.",
            )
        ]
    target = _safe_next(pathname)
    return [
        html.Span("Viewing only", className="user-name"),
        html.A(
            "Log in", href=f"/login?next={quote(target, safe='/')}", className="nav-link user-link", id="login-link"
        ),
    ]


__all__ = [
    "SESSION_COOKIE",
    "USER_BOX",
    "NotAllowed",
    "acting_user",
    "current_role",
    "current_user",
    "install",
    "local_open",
    "protect_output",
    "require_editor",
    "secret_key",
    "user_box",
]
