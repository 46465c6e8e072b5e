"""The Dash app shell: navigation, the run bar, the page container and the shared stores.

Pages live in ``dashboard/web/pages`` (the Dash ``pages`` pattern): each module calls
``dash.register_page``, defines ``layout(**kwargs)`` and its own callbacks. The shell holds what
every page shares:

- ``ids.CASE``: the case shown (chosen when the app is created);
- ``ids.RUN_STATE``: the latest ok run, running fits and the number of records, re-read every
  few seconds and after every fit or change of observations, so every page switches to a new run
  when one finishes (including fits started elsewhere, e.g. ``harbinger fit``);
- ``ids.FIT_REQUEST`` / ``ids.FIT_RESULT``: a fit asked for (by the Overview's Refit button or
  its first-fit trigger) and how the last fit started from this browser ended. The request lives
  in the shell so that the background callback is triggered only by it, never by a page being
  shown;
- ``ids.OBS_VERSION``: bumped by the Indicators page whenever it stores something;
- the run bar: run id, as-of date, diagnostics, and red labels for failed diagnostics, a run
  fitted on an earlier version of the case (or model), or a stale run, on every page.

Fits run as Dash background callbacks in a :class:`dash.DiskcacheManager` whose cache lives in
``HARBINGER_HOME/cache``, or, with ``HARBINGER_REDIS_URL`` set, on Celery workers through Dash's
``CeleryManager`` (:func:`background_manager`, :mod:`dashboard.web.worker`); no request ever waits on
a sampler.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard.web import ASSETS_FOLDER, PAGES_FOLDER, ids
from dashboard.services import views
from dashboard.services.forecasts import load_forecast
from dashboard.web import api
from dashboard.web import auth
from dashboard.services.runs import current_run

POLL_MS = 5000


def create_app(case_id: str | None = None, *, host: str | None = None) -> Dash:
    """The dashboard for ``case_id`` (default: the only case in the store).

    ``host``: the address the server listens on. On a loopback address with no user accounts the
    local user may edit without logging in; otherwise (including ``None``, e.g. under a WSGI
    server whose bind is unknown here) editing needs a logged-in editor (:mod:`dashboard.web.auth`).
    """
    from dashboard.services.context import choose_case

    store = views.get_store()
    case_id = choose_case(store, case_id)
    case = store.get_case(case_id).case
    manager = background_manager(store.home)

    app = Dash(
        "dashboard", use_pages=True, pages_folder=str(PAGES_FOLDER), assets_folder=str(ASSETS_FOLDER),
        background_callback_manager=manager, suppress_callback_exceptions=True,
        title="Harbinger", update_title=None, serve_locally=True,
        enable_mcp=False,  # Dash's MCP server would run callbacks past the editing guard (dashboard.web.auth)
    )
    _drop_duplicate_page_callbacks()
    app.layout = shell(case_id=case_id, case_name=case.name)
    app.server.config["HARBINGER_CASE"] = case_id  # pages may build their first content as served
    from dashboard.web.net import is_loopback

    auth.install(app, local=host is not None and is_loopback(host))
    auth.protect_output(ids.FIT_RESULT, "data")  # the background Refit runs outside the request
    api.install(app, case_id)
    app.callback(Output(auth.USER_BOX, "children"), Input(ids.URL, "pathname"))(auth.user_box)
    app.callback(Output(ids.NAV, "children"), Input(ids.URL, "pathname"))(render_nav)
    app.callback(
        Output(ids.RUN_STATE, "data"),
        Input(ids.POLL, "n_intervals"), Input(ids.FIT_RESULT, "data"), Input(ids.OBS_VERSION, "data"),
        State(ids.CASE, "data"), State(ids.RUN_STATE, "data"),
    )(poll_run_state)
    app.callback(Output(ids.RUN_BAR, "children"), Input(ids.RUN_STATE, "data"), State(ids.CASE, "data"))(
        render_run_bar)
    return app


def background_manager(home: Path) -> Any:
    """Where background callbacks (fits) run.

    With ``HARBINGER_REDIS_URL`` set: Dash's ``CeleryManager`` (:mod:`dashboard.web.worker`), so fits
    run on ``harbinger worker`` processes and any number of server processes share them.
    Otherwise: Dash's ``DiskcacheManager`` with its cache in ``home/cache``, running each fit in a
    child process of this server.
    """
    from dashboard.web import worker

    if worker.redis_url():
        return worker.background_manager()
    import diskcache

    cache_dir = home / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    return dash.DiskcacheManager(diskcache.Cache(str(cache_dir)))


def _drop_duplicate_page_callbacks() -> None:
    """Keep one registration per output when a page module ran twice in this process.

    Dash executes every page module when an app is created; a module imported before (by a test,
    or by an earlier app in the same process) has registered its callbacks already. The newest
    registration wins, as in Dash's own callback map.
    """
    from dash import _callback

    newest: dict[str, dict[str, Any]] = {}
    for spec in _callback.GLOBAL_CALLBACK_LIST:
        newest[spec["output"]] = spec
    _callback.GLOBAL_CALLBACK_LIST[:] = list(newest.values())


def shell(*, case_id: str, case_name: str) -> html.Div:
    """The layout around every page."""
    return html.Div(className="app", children=[
        dcc.Location(id=ids.URL),
        dcc.Store(id=ids.CASE, data=case_id),
        dcc.Store(id=ids.RUN_STATE),
        dcc.Store(id=ids.FIT_REQUEST),
        dcc.Store(id=ids.FIT_RESULT),
        dcc.Store(id=ids.OBS_VERSION, data=0),
        dcc.Interval(id=ids.POLL, interval=POLL_MS),
        html.Header(className="topbar", children=[
            html.Div(className="brand", children=[
                html.Span("Harbinger", className="brand-name"),
                html.Span(case_name, className="brand-case", title=f"case '{case_id}'"),
            ]),
            html.Nav(id=ids.NAV, className="nav", children=render_nav("/")),
            html.Div(id=auth.USER_BOX, className="user-box",  # login link, or who is logged in
                     style={"display": "flex", "alignItems": "center", "gap": "10px", "fontSize": "13px",
                            "whiteSpace": "nowrap", "color": "#d7deea"}),
        ]),
        html.Div(id=ids.RUN_BAR, className="runbar"),
        html.Main(className="page", children=[dash.page_container]),
    ])


def render_nav(pathname: str | None) -> list[Any]:
    """Links to the registered pages, the current one marked."""
    links = []
    for page in sorted(dash.page_registry.values(), key=lambda p: (p.get("order") or 0, p["name"])):
        path = page["relative_path"]
        active = (pathname or "/") == path or ((pathname or "/") == "/" and path == "/")
        links.append(dcc.Link(page["name"], href=path, className="nav-link active" if active else "nav-link"))
    return links


def poll_run_state(_n: Any, _fit: Any, _obs: Any, case_id: str, previous: dict | None) -> Any:
    """Re-read the run state; update the shared store only when something changed."""
    state = views.run_state(views.get_store(), case_id)
    return no_update if state == previous else state


def render_run_bar(state: dict | None, case_id: str) -> list[Any]:
    """The run bar: which run is shown, its as-of date and health, and any red labels."""
    store = views.get_store()
    run = current_run(store, case_id)
    forecast = load_forecast(store, run)
    stale = views.stale_records(store, case_id, run)
    summary = views.run_summary(run, forecast, stale_records=stale)
    running = (state or {}).get("running") or []
    return run_bar_children(summary, running=running)


def warm_caches(case_id: str) -> None:
    """Build what the pages show for the latest run, so the first visits find it remembered.

    Reads the run's forecast and builds the Overview at every horizon, the run bar, the
    Indicators table and every indicator's chart, and the Model page (each result is kept by
    :func:`dashboard.services.views.cached` / :func:`~dashboard.services.views.run_cached`). Any error is left to
    the pages to report when they build the same on demand.
    """
    from dashboard.web.pages import indicators, model, overview

    try:
        store = views.get_store()
        state = views.run_state(store, case_id)
        forecast = load_forecast(store, current_run(store, case_id))
        hs = views.horizons(forecast.document if forecast else None)
        overview.overview_content(hs[0] if hs else None, case_id)
        render_run_bar(state, case_id)
        for h in hs[1:]:
            overview.overview_content(h, case_id)
        indicators.render_table(state, 0, case_id)
        indicators.render_charts(store.get_case(case_id).case.indicator_ids, state, 0, case_id)
        model.render_model(state, case_id)
    except Exception as exc:  # noqa: BLE001 - only a head start; the pages build and report on demand
        logging.getLogger(__name__).warning("building the pages ahead of the first visit failed: %s", exc)


def start_warming(case_id: str) -> threading.Thread:
    """:func:`warm_caches` in a background thread (``harbinger serve`` starts it with the server)."""
    thread = threading.Thread(target=warm_caches, args=(case_id,), name="harbinger-warm-caches", daemon=True)
    thread.start()
    return thread


def run_bar_children(summary: dict[str, Any], *, running: list[str] | None = None) -> list[Any]:
    """Components of the run bar for a :func:`dashboard.services.views.run_summary`."""
    items: list[Any] = []
    if not summary["exists"]:
        items.append(html.Span("No forecast yet: no fit has finished for this case.", className="runbar-item"))
    else:
        items += [
            html.Span(["Run ", html.Code(summary["run_id"], className="run-id")], className="runbar-item"),
            html.Span(["As of ", html.Strong(summary["as_of"], className="run-asof")], className="runbar-item"),
            html.Span(f"{summary['n_observations']} observations", className="runbar-item")
            if summary["n_observations"] is not None else None,
        ]
        if summary["diagnostics_ok"]:
            items.append(html.Span(f"Diagnostics OK · {summary['diagnostics_text']}",
                                   className="runbar-item diag-ok"))
    for text in summary["warnings"]:
        items.append(html.Span(text, className="runbar-item label-alert"))
    if running:
        items.append(html.Span(f"Fit running: {', '.join(running)}", className="runbar-item label-running"))
    return [i for i in items if i is not None]


__all__ = ["create_app", "shell", "render_nav", "poll_run_state", "render_run_bar", "run_bar_children"]
