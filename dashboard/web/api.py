"""A small JSON HTTP API on the dashboard's server, for scripts and other tools.

Endpoints (all JSON; errors as ``{"error": "one sentence", "errors": [...]}``):

``GET /api/health``
    ``{"status": "ok", "case": ID, "schema": REVISION}``; 503 if the store cannot be read.
``GET /api/session``
    Who is asking: ``{"user": NAME | null, "role": "editor" | "viewer" | null}``.
``GET /api/observations[?indicator=ID][&as_of=YYYY-MM-DD]``
    The observations in effect, as ``harbinger observe list --format json`` prints them.
``POST /api/observations``
    Adds observations, all or nothing, through the store with the same validation as the form, the
    CSV import and ``harbinger observe add``. The body is one observation object, a list of them,
    or ``{"observations": [...]}``; each object has the CSV columns as keys (``indicator``,
    ``date``, ``value``, ``source`` required; ``end``, ``reliability``, ``credibility``, ``note``,
    ``recorded_at`` optional). Needs the editor role (see :mod:`dashboard.web.auth`): 401 anonymous,
    403 viewer. Answers 201 ``{"case": ID, "ids": [...]}``, or 400 with every bad row in
    ``errors`` as ``{"row": N, "column": NAME, "reason": TEXT}`` (rows numbered from 1) and nothing
    stored. Bodies above the import limit (5 MB) get 413, non-JSON bodies 415.

``GET /api/watch[?outcome=ID][&horizon=YEARS][&threshold=PCT][&period=next_quarter|next_year]``
    The current run's watch list (value of information per indicator, tripwires), as
    ``harbinger watch --format json`` prints it (:func:`dashboard.services.watch.watch_view`).
    It is computed after each fit; when the run has none yet it is computed in the background and
    the answer is 202 ``{"status": "computing", "run_id": ID}`` with ``Retry-After``; a run that
    cannot be reweighted (no posterior) gets 409, no run 404, a bad option 400.

The case is the dashboard's; ``?case=ID`` picks another loaded case.

Bad input of any kind (malformed or too deeply nested JSON, values of the wrong type, a value the
database refuses) gets 400 with one sentence, never a 500: the store's validation decides what
is acceptable, and whatever still slips past it to the database is answered the same way. Any
other failure is the server's and gets a one-sentence 500 in JSON, logged with its traceback.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import flask
import sqlalchemy as sa
from flask import request

from dashboard.web import auth
from indicators.errors import BadInput, RowErrors
from indicators.observations import MAX_IMPORT_BYTES


def _error(message: str, status: int, **extra: Any) -> Any:
    return flask.jsonify({"error": message, **extra}), status


#: Errors a request's content can provoke in the database (a value it cannot hold, a constraint),
#: as against failures of the database itself (connections, locks), which stay server errors.
REFUSED_BY_DATABASE = (sa.exc.DataError, sa.exc.IntegrityError)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; every value must be finite")


def install(app: Any, case_id: str) -> None:
    """Register the ``/api`` routes on the Dash app's Flask server for case ``case_id``."""
    bp = flask.Blueprint("harbinger_api", __name__, url_prefix="/api")

    def store() -> Any:
        from dashboard.services import views

        return views.get_store()

    def chosen_case() -> str:
        wanted = request.args.get("case")
        if not wanted or wanted == case_id:
            return case_id
        if wanted not in store().case_ids():
            raise BadInput(f"case: unknown case '{wanted[:80]}'.")
        return wanted

    @bp.get("/health")
    def health() -> Any:
        try:
            schema = store().schema_version()
        except Exception as exc:  # noqa: BLE001 - the health check reports, never crashes
            return _error(f"the store cannot be read ({type(exc).__name__}).", 503, status="unavailable")
        return flask.jsonify({"status": "ok", "case": case_id, "schema": schema})

    @bp.get("/session")
    def whoami() -> Any:
        user = auth.current_user()
        return flask.jsonify({"user": user["name"] if user else None, "role": auth.current_role()})

    @bp.get("/observations")
    def list_observations() -> Any:
        from dashboard.services.context import parse_date_option
        from dashboard.services.tables import to_records

        try:
            day = parse_date_option(request.args.get("as_of"), "as_of")
            frame = store().observations(chosen_case(), as_of=day, indicator=request.args.get("indicator") or None)
        except BadInput as exc:
            return _error(str(exc), 400)
        _, rows = to_records(frame)
        return flask.jsonify(rows)

    @bp.post("/observations")
    def add_observations() -> Any:
        try:
            actor = auth.require_editor("add observations")
        except auth.NotAllowed as exc:
            return _error(str(exc), exc.status)
        if request.content_length is not None and request.content_length > MAX_IMPORT_BYTES:
            return _error(
                f"the request body is {request.content_length / 1e6:.1f} MB, above the limit of "
                f"{MAX_IMPORT_BYTES / 1024 / 1024:g} MB; send fewer observations at a time.",
                413,
            )
        if not request.is_json:
            return _error("send the observations as JSON (Content-Type: application/json).", 415)
        raw = request.get_data(cache=False)
        if len(raw) > MAX_IMPORT_BYTES:
            return _error(
                f"the request body is above the limit of {MAX_IMPORT_BYTES / 1024 / 1024:g} MB; "
                "send fewer observations at a time.",
                413,
            )
        try:
            body = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(f"the request body is not valid JSON ({exc}).", 400)
        except RecursionError:
            return _error("the request body is nested too deeply; send a list of flat observation objects.", 400)
        rows = body.get("observations") if isinstance(body, dict) and "observations" in body else body
        if isinstance(rows, dict):
            rows = [rows]
        if not isinstance(rows, list):
            return _error(
                'the request body must be an observation object, a list of them, or {"observations": [...]}.', 400
            )
        bad = [i for i, r in enumerate(rows, start=1) if not isinstance(r, dict)]
        if bad:
            return _error(f"item {bad[0]} of the request is not an object with observation fields.", 400)
        try:
            case = chosen_case()
            ids = store().add_observations(case, rows, actor=actor, where="request")
        except RowErrors as exc:
            return _error(
                str(exc).splitlines()[0],
                400,
                errors=[{"row": r, "column": c, "reason": why} for r, c, why in exc.errors],
            )
        except BadInput as exc:
            return _error(str(exc), 400)
        except REFUSED_BY_DATABASE as exc:
            return _error(
                f"the database refused a value of the request ({type(exc.orig).__name__}); nothing was stored.", 400
            )
        except sa.exc.DBAPIError:
            raise
        except (sa.exc.StatementError, TypeError, ValueError, RecursionError) as exc:
            return _error(f"a value of the request cannot be stored ({type(exc).__name__}); nothing was stored.", 400)
        return flask.jsonify({"case": case, "ids": ids}), 201

    @bp.get("/watch")
    def watch_list() -> Any:
        from dashboard.services import watch as ws

        try:
            case = chosen_case()
            options = {
                "outcome": request.args.get("outcome") or None,
                "years": ws.parse_years(request.args.get("horizon"), ws.API_OPTIONS),
                "threshold": ws.parse_level(request.args.get("threshold"), ws.API_OPTIONS),
                "period": request.args.get("period") or None,
                "names": ws.API_OPTIONS,
            }
            state, view, run = ws.current_view(store(), case, **options)
        except BadInput as exc:
            return _error(str(exc), 400)
        if run is None:
            return _error(f"no fitted run for case '{case}'; run 'harbinger fit' first.", 404)
        if state == "computing":
            answer = flask.jsonify({"status": "computing", "run_id": run["id"]})
            return answer, 202, {"Retry-After": "10"}
        if view is None:
            reason = state.removeprefix("failed: ")
            return _error(f"the watch list of run {run['id']} cannot be computed ({reason}).", 409)
        return flask.jsonify(view)

    @bp.errorhandler(Exception)
    def server_failure(exc: Exception) -> Any:
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            return _error(exc.description or exc.name, exc.code or 500)
        logging.getLogger(__name__).exception("the API failed on %s %s", request.method, request.path)
        return _error(f"the server failed to answer ({type(exc).__name__}); the error is in its log.", 500)

    app.server.register_blueprint(bp)


__all__ = ["install"]
