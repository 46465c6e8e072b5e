"""The dashboard as a WSGI application, for gunicorn (or any WSGI server).

::

    gunicorn --workers 4 --bind 0.0.0.0:8050 'dashboard.web.wsgi:create_server()'
    gunicorn --workers 4 --bind 0.0.0.0:8050 "dashboard.web.wsgi:create_server(case='northern_territories')"
    gunicorn --workers 4 --bind 0.0.0.0:8050 dashboard.web.wsgi:server     # the same, case from HARBINGER_CASE

Each gunicorn worker process builds its own app (do not use ``--preload``: database connections
must not be shared across a fork). The environment says what to serve: ``HARBINGER_DATABASE_URL``
(the store), ``HARBINGER_HOME`` (saved runs), ``HARBINGER_REDIS_URL`` (fits on ``harbinger
worker`` processes instead of children of each gunicorn worker), ``HARBINGER_CASE`` (the case, when
several are loaded) and ``HARBINGER_SECRET_KEY`` (the session-signing key; every server behind one
address needs the same one, see :mod:`dashboard.web.auth`).

The address gunicorn binds is not known here, so the dashboard counts as exposed: reading is open,
editing needs a logged-in editor, and the server refuses to start while no editor account exists
(as ``harbinger serve --host`` does on a non-loopback address). The store must exist: run
``harbinger init`` once (it also applies migrations) before starting the servers.
"""

from __future__ import annotations

import os
from typing import Any

from dashboard.services.context import Failure

CASE_ENV = "HARBINGER_CASE"

_SERVER: Any = None


def create_server(case: str | None = None) -> Any:
    """The Flask server of a new dashboard app for ``case`` (default ``HARBINGER_CASE``, else the
    only case in the store). Raises :class:`Failure` with the fix when the store is not ready."""
    from dashboard.services import views
    from dashboard.web.app import create_app

    store = views.get_store()
    where = store.engine.url.render_as_string(hide_password=True)
    if not store.case_ids():
        raise Failure(f"no case is loaded in the store {where}; run 'harbinger init' first.")
    try:
        from indicators.users import has_editor
    except ImportError:  # pragma: no cover - accounts are part of the package
        has_editor = None
    if has_editor is not None and not has_editor(store):
        raise Failure(
            f"no editor account exists in the store {where}, and a server under gunicorn is "
            "reachable by others; add one with 'harbinger user add NAME --role editor' first."
        )
    app = create_app(case or os.environ.get(CASE_ENV) or None)
    from dashboard.services.runs import current_run
    from dashboard.web.app import start_preparing

    case_id = app.server.config["HARBINGER_CASE"]
    latest = current_run(store, case_id)
    start_preparing(case_id, latest["id"] if latest else None)  # as `harbinger serve` does
    return app.server


def __getattr__(name: str) -> Any:
    """``server``: built on first use (``gunicorn dashboard.web.wsgi:server``), once per process."""
    global _SERVER
    if name == "server":
        if _SERVER is None:
            _SERVER = create_server()
        return _SERVER
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
