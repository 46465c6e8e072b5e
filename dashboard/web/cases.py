"""Which case a page shows: every loaded case is served, and the URL names the one shown.

``?case=ID`` on any page (``/indicators?case=mini``) picks the case; without it the app's default
case is shown (``harbinger serve --case``, else ``HARBINGER_CASE``, else the first loaded case:
:func:`dashboard.services.context.default_case`). The shell's ``ids.CASE`` store holds the case of
the page as loaded (:func:`request_case`), the navigation links keep ``?case=``, and the case
picker in the top bar loads the same page for another case, so every per-page state (run state,
fit progress, forms) starts afresh for it. The HTTP API takes the same ``?case=``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import flask

CASE_PARAM = "case"


def default_case() -> str | None:
    """The app's default case (``None`` outside a request of an app from ``create_app``)."""
    return flask.current_app.config.get("HARBINGER_CASE") if flask.has_app_context() else None


def loaded_cases() -> list[str]:
    from dashboard.services import views

    return list(views.get_store().case_ids())


def case_in(search: str | None) -> str | None:
    """The ``case`` of a URL's query (``?case=mini&x=1`` -> ``mini``), or ``None``."""
    values = parse_qs((search or "").lstrip("?")).get(CASE_PARAM) or []
    return values[0] if values else None


def valid_case(wanted: str | None) -> str | None:
    """``wanted`` when it is a loaded case, else ``None``."""
    return wanted if wanted and wanted in loaded_cases() else None


def request_case(wanted: str | None = None) -> str | None:
    """The case a request is for: ``wanted`` (a page layout's ``case`` argument), else the
    request's own ``?case=``, else that of the page the request comes from (Dash asks for its
    layout from the page, so the page's URL is the referrer); any of them only when loaded. Else
    :func:`default_case`."""
    if not flask.has_request_context():
        return valid_case(wanted) or default_case()
    referrer = flask.request.referrer
    for candidate in (
        wanted,
        flask.request.args.get(CASE_PARAM),
        case_in(urlsplit(referrer).query) if referrer else None,
    ):
        if valid_case(candidate):
            return candidate
    return default_case()


def with_case(path: str, case_id: str | None) -> str:
    """``path`` naming ``case_id`` (``/indicators?case=mini``); ``path`` itself without a case."""
    if not case_id:
        return path
    from urllib.parse import quote

    return f"{path}?{CASE_PARAM}={quote(case_id)}"


def case_options() -> list[dict[str, Any]]:
    """The case picker's options: every loaded case, by name."""
    from dashboard.services import views

    store = views.get_store()
    out = []
    for case_id in store.case_ids():
        try:
            name = store.get_case(case_id).case.name
        except Exception:  # noqa: BLE001 - a case that cannot be read is still listed by its id
            name = case_id
        out.append({"label": name, "value": case_id, "title": f"case '{case_id}'"})
    return out


__all__ = [
    "CASE_PARAM",
    "case_in",
    "case_options",
    "default_case",
    "loaded_cases",
    "request_case",
    "valid_case",
    "with_case",
]
