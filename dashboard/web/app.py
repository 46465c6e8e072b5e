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

import fcntl
import logging
import threading
from pathlib import Path
from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard.services import views
from dashboard.services.forecasts import load_forecast
from dashboard.services.runs import current_run
from dashboard.web import ASSETS_FOLDER, PAGES_FOLDER, api, auth, cases, ids

POLL_MS = 5000
#: How often the bar of a running fit is re-read (only while one runs).
FIT_POLL_MS = 2000
PROGRESS_SHOWN = "progress-box fit-progress"
PROGRESS_HIDDEN = "progress-box fit-progress hidden"


def create_app(case_id: str | None = None, *, host: str | None = None) -> Dash:
    """The dashboard for ``case_id`` (default: the only case in the store).

    ``host``: the address the server listens on. On a loopback address with no user accounts the
    local user may edit without logging in; otherwise (including ``None``, e.g. under a WSGI
    server whose bind is unknown here) editing needs a logged-in editor (:mod:`dashboard.web.auth`).
    """
    from dashboard.services.context import default_case

    store = views.get_store()
    case_id = default_case(store, case_id)
    manager = background_manager(store.home)

    app = Dash(
        "dashboard",
        use_pages=True,
        pages_folder=str(PAGES_FOLDER),
        assets_folder=str(ASSETS_FOLDER),
        background_callback_manager=manager,
        suppress_callback_exceptions=True,
        title="Harbinger",
        update_title=None,
        serve_locally=True,
        enable_mcp=False,  # Dash's MCP server would run callbacks past the editing guard (dashboard.web.auth)
    )
    _drop_duplicate_page_callbacks()
    app.layout = page_shell  # per page load: the case its URL names (dashboard.web.cases)
    app.server.config["HARBINGER_CASE"] = case_id  # the default case; pages build their first content as served
    from dashboard.web.net import is_loopback

    auth.install(app, local=host is not None and is_loopback(host))
    auth.protect_output(ids.FIT_RESULT, "data")  # the background Refit runs outside the request
    api.install(app, case_id)
    app.callback(Output(auth.USER_BOX, "children"), Input(ids.URL, "pathname"))(auth.user_box)
    app.callback(Output(ids.NAV, "children"), Input(ids.URL, "pathname"), Input(ids.CASE, "data"))(render_nav)
    app.callback(Output(ids.CASE, "data"), Input(ids.URL, "search"), State(ids.CASE, "data"))(case_of_url)
    app.callback(
        Output(ids.CASE_NAV, "href"),
        Input(ids.CASE_PICKER, "value"),
        State(ids.URL, "pathname"),
        State(ids.CASE, "data"),
        prevent_initial_call=True,
    )(pick_case)
    app.callback(
        Output(ids.RUN_STATE, "data"),
        Input(ids.POLL, "n_intervals"),
        Input(ids.OBS_VERSION, "data"),
        Input(ids.CASE, "data"),
        State(ids.RUN_STATE, "data"),
    )(poll_run_state)
    app.callback(Output(ids.RUN_BAR, "children"), Input(ids.RUN_STATE, "data"), State(ids.CASE, "data"))(render_run_bar)
    app.callback(
        Output(ids.FIT_PROGRESS_BOX, "className"),
        Output(ids.FIT_PROGRESS, "value"),
        Output(ids.FIT_PROGRESS_LABEL, "children"),
        Output(ids.FIT_POLL, "disabled"),
        Input(ids.FIT_POLL, "n_intervals"),
        Input(ids.RUN_STATE, "data"),
        Input(ids.FIT_REQUEST, "data"),
        State(ids.CASE, "data"),
    )(render_fit_progress)
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


def page_shell() -> html.Div:
    """The shell for the page being loaded: the case its URL names, else the default case
    (:func:`dashboard.web.cases.request_case`), with every loaded case in the picker."""
    case_id = cases.request_case()
    options = cases.case_options()
    name = next((o["label"] for o in options if o["value"] == case_id), case_id or "")
    return shell(case_id=case_id or "", case_name=name, options=options)


def shell(*, case_id: str, case_name: str, options: list[dict[str, Any]] | None = None) -> html.Div:
    """The layout around every page. With several cases, the top bar has a case picker."""
    if options and len(options) > 1:
        case_box: Any = html.Div(
            className="case-picker",
            title="The case shown; each case keeps its own runs",
            children=[
                html.Label("Case", htmlFor=ids.CASE_PICKER, className="case-picker-label"),
                dcc.Dropdown(
                    id=ids.CASE_PICKER,
                    options=options,
                    value=case_id,
                    clearable=False,
                    searchable=False,
                    className="dropdown case-dropdown",
                ),
            ],
        )
    else:
        case_box = html.Span(case_name, className="brand-case", title=f"case '{case_id}'")
    return html.Div(
        className="app",
        children=[
            dcc.Location(id=ids.URL),
            dcc.Location(id=ids.CASE_NAV, refresh=True),
            dcc.Store(id=ids.CASE, data=case_id),
            dcc.Store(id=ids.RUN_STATE),
            dcc.Store(id=ids.FIT_REQUEST),
            dcc.Store(id=ids.FIT_RESULT),
            dcc.Store(id=ids.OBS_VERSION, data=0),
            dcc.Interval(id=ids.POLL, interval=POLL_MS),
            html.Header(
                className="topbar",
                children=[
                    html.Div(
                        className="brand",
                        children=[
                            html.Span("Harbinger", className="brand-name"),
                            case_box,
                        ],
                    ),
                    html.Nav(id=ids.NAV, className="nav", children=render_nav("/", case_id)),
                    html.Div(
                        id=auth.USER_BOX,
                        className="user-box",  # login link, or who is logged in
                        style={
                            "display": "flex",
                            "alignItems": "center",
                            "gap": "10px",
                            "fontSize": "13px",
                            "whiteSpace": "nowrap",
                            "color": "#d7deea",
                        },
                    ),
                ],
            ),
            html.Div(id=ids.RUN_BAR, className="runbar"),
            dcc.Interval(id=ids.FIT_POLL, interval=FIT_POLL_MS, disabled=True),
            html.Div(
                id=ids.FIT_PROGRESS_BOX,
                className=PROGRESS_HIDDEN,
                role="status",
                children=[
                    html.Label("Fit", htmlFor=ids.FIT_PROGRESS, className="fit-progress-title"),
                    html.Progress(id=ids.FIT_PROGRESS, value="0", max="100"),
                    html.Span(id=ids.FIT_PROGRESS_LABEL, className="progress-label"),
                ],
            ),
            html.Main(className="page", children=[dash.page_container]),
        ],
    )


def render_nav(pathname: str | None, case_id: str | None = None) -> list[Any]:
    """Links to the registered pages, the current one marked; each names the case shown
    (``?case=``) unless it is the default one."""
    named = case_id if case_id and case_id != cases.default_case() else None
    links = []
    for page in sorted(dash.page_registry.values(), key=lambda p: (p.get("order") or 0, p["name"])):
        path = page["relative_path"]
        active = (pathname or "/") == path or ((pathname or "/") == "/" and path == "/")
        links.append(
            dcc.Link(
                page["name"], href=cases.with_case(path, named), className="nav-link active" if active else "nav-link"
            )
        )
    return links


def case_of_url(search: str | None, current: str | None) -> Any:
    """The case the URL names, when it is loaded and not the one shown (the page as loaded shows
    it already, unless its browser sent no referrer with Dash's layout request)."""
    wanted = cases.valid_case(cases.case_in(search))
    return wanted if wanted and wanted != current else no_update


def pick_case(picked: str | None, pathname: str | None, current: str | None) -> Any:
    """Load the same page for the picked case (a full load: every per-page state starts afresh)."""
    if not picked or picked == current:
        return no_update
    return cases.with_case(pathname or "/", picked)


def poll_run_state(_n: Any, _obs: Any, case_id: str, previous: dict | None) -> Any:
    """Re-read the case's run state; update the shared store only when something changed (a
    change of case is a change).

    Nothing here listens to the background fit's output (``ids.FIT_RESULT``):
    Dash holds back a callback while any of its inputs or states is an output of a callback still
    running, and everything downstream of it, so the run bar and the fit's own bar would freeze for
    as long as the fit runs. The store says when a fit starts and ends; the poll reads it."""
    state = {"case": case_id, **views.run_state(views.get_store(), case_id)}
    if _SERVING.is_set() and state["latest"] and not state["running"]:
        start_preparing(case_id, state["latest"])
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


def render_fit_progress(_n: Any, state: dict | None, request: Any, case_id: str) -> tuple[str, str, str, bool]:
    """The running fit's bar on every page: stage, percent and an estimate from the last fit
    (:func:`dashboard.services.progress.fit_progress`, read from the store and the run's progress
    file, so a fit started anywhere shows). Re-read every :data:`FIT_POLL_MS` while one runs.

    A fit asked for from this browser (``ids.FIT_REQUEST``) shows at once as starting, until its
    process records its run (then the run's own progress shows) or :data:`PENDING_SECONDS` pass.
    The bar is decided from the store and the request, never from which input fired (Dash may
    report several at once), and never from the background fit's outputs (see
    :func:`poll_run_state`).
    """
    from dashboard.services.progress import fit_progress

    store = views.get_store()
    info = fit_progress(store, case_id)
    if info is not None:
        return PROGRESS_SHOWN, str(info["percent"]), info["text"], False
    if _pending(store, case_id, request):
        return PROGRESS_SHOWN, "0", "Starting the fit…", False
    return PROGRESS_HIDDEN, "0", "", True


#: How long a fit asked for from this browser shows as starting while no run of it is recorded (a
#: loaded machine takes a minute or more to start the fit's process; a fit refused before it
#: records a run says why in the Overview's fit message).
PENDING_SECONDS = 10 * 60


def _pending(store: Any, case_id: str, request: Any, *, now: float | None = None) -> bool:
    """Whether this browser asked for a fit whose run is not recorded yet."""
    import time

    if not isinstance(request, dict) or not isinstance(request.get("at"), (int, float)):
        return False
    asked = float(request["at"])
    if (time.time() if now is None else now) - asked >= PENDING_SECONDS:
        return False
    newest = store.runs(case_id, limit=1)
    return not (newest and newest[0]["created_at"].timestamp() >= asked - 1.0)


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


def prepare_run(case_id: str, run_id: str | None) -> None:
    """Compute ahead, in this server process, what users ask of the case's current run, so they
    do not wait for it: first the pages (:func:`warm_caches`), then :func:`prepare_run_content`.
    Errors are only logged: each piece is built again, and reported, when it is asked for."""
    warm_caches(case_id)
    if run_id is not None:
        prepare_run_content(case_id, run_id)


def prepare_run_content(case_id: str, run_id: str) -> None:
    """The run's posterior and its reweighting baseline held in memory
    (:func:`dashboard.services.analysis.run_context`: the fast update after the next observation
    reads no file), then its watch list and the report's costly content in the run directory
    (:func:`dashboard.services.watch.prepared`; :func:`dashboard.report.build`, kept by
    :mod:`dashboard.report.cache`: the Watch page and the run's first HTML or PDF report, from
    any process, read them). One server process prepares a run's watch list and report; the
    others (gunicorn's workers) leave them. Errors are only logged."""
    log = logging.getLogger(__name__)
    try:
        from dashboard import report
        from dashboard.services import watch
        from dashboard.services.analysis import AnalysisUnavailable, run_context

        store = views.get_store()
        run = store.get_run(run_id)
        if run is None or run.get("status") != "ok" or not run.get("path"):
            return
        try:
            run_context(store, case_id, run)
        except AnalysisUnavailable as exc:  # e.g. no saved posterior: nothing to hold
            log.info("run %s is not held in memory: %s", run_id, exc)
        with (Path(run["path"]) / ".preparing-report").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return
            watch.prepared(store, case_id, run)
            report.build(store, case_id, run_id=run_id, fmt="html")
    except Exception as exc:  # noqa: BLE001 - only a head start; a report or update computes it on demand
        log.warning("preparing run %s ahead of its use failed: %s", run_id, exc)


#: Case id -> the run id last prepared (or being prepared) by this process.
_PREPARED: dict[str, str | None] = {}
_PREPARED_LOCK = threading.Lock()
#: Set in a process that serves the dashboard (:func:`start_preparing` at its start): only there
#: does the run-state poll prepare new runs (a test calling the poll starts no thread).
_SERVING = threading.Event()


def start_preparing(case_id: str, run_id: str | None) -> threading.Thread | None:
    """:func:`prepare_run` in a background thread, once per case and current run: ``harbinger
    serve`` calls it at start, and the run-state poll (:func:`poll_run_state`) whenever a new run
    becomes current, wherever it was fitted (only once this process started preparing, i.e.
    serves the dashboard). ``HARBINGER_PREPARE_RUNS=0`` limits it to the pages
    (for a server whose cores are better left to fits). None when that run is already prepared."""
    import os

    _SERVING.set()
    with _PREPARED_LOCK:
        if case_id in _PREPARED and _PREPARED[case_id] == run_id:
            return None
        _PREPARED[case_id] = run_id
    if os.environ.get("HARBINGER_PREPARE_RUNS", "1").strip() == "0":
        target, args = warm_caches, (case_id,)
    else:
        target, args = prepare_run, (case_id, run_id)
    thread = threading.Thread(target=target, args=args, name="harbinger-prepare-run", daemon=True)
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
            if summary["n_observations"] is not None
            else None,
        ]
        if summary["diagnostics_ok"]:
            items.append(html.Span(f"Diagnostics OK · {summary['diagnostics_text']}", className="runbar-item diag-ok"))
    for text in summary["warnings"]:
        items.append(html.Span(text, className="runbar-item label-alert"))
    if running:
        items.append(html.Span(f"Fit running: {', '.join(running)}", className="runbar-item label-running"))
    return [i for i in items if i is not None]


__all__ = ["create_app", "shell", "render_nav", "poll_run_state", "render_run_bar", "run_bar_children"]
