"""Overview: a card per outcome at a chosen horizon, horizon curves, and the Refit button.

The Refit button starts :func:`dashboard.services.runs.fit_case` in a Dash background callback (a
separate process of the app's DiskcacheManager) with a progress bar; the page stays usable.
When the fit ends, :data:`dashboard.web.ids.FIT_RESULT` changes, the shell re-reads the run state
and every page shows the new run. A failed fit leaves the previous run shown and explains why.
When the case has no ok run, or records were made since the current one, and no fit is running,
opening the Overview starts a fit the same way (:func:`autofit_trigger`); meanwhile a fast update
(the current run reweighted by the new records, :mod:`dashboard.services.updates`) is shown, labelled.
A run fitted on an earlier version of the case (or with another model version) is still shown, under
a red notice that says so and offers Refit (:mod:`dashboard.services.forecasts`). Series not
reviewed for longer than the stale limit are named in a red notice above the cards, the same as the
Indicators page's (:func:`dashboard.web.pages.indicators.stale_notice`), with a link to its form.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import dash
import flask
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import figures
from dashboard.services import views
from dashboard.services.forecasts import RunForecast, current_run, load_forecast, previous_ok_run
from dashboard.web import auth, ids, panels
from dashboard.web.layout import control, horizon_options, kept_choice, page_head
from dashboard.web.pages.indicators import stale_notice
from indicators.errors import BadInput

dash.register_page(__name__, path="/", name="Overview", order=0, title="Harbinger · Overview")

#: The fit function the Refit button calls, ``fit(store, case_id, *, progress) -> run_id``.
#: ``None`` means :func:`dashboard.services.runs.fit_case`; tests put a fake here.
FIT_FUNCTION: Callable[..., str] | None = None

DEFAULT_HORIZONS = [1, 3, 5, 10]
GRAPH_CONFIG = {"displayModeBar": False}


def layout(**_kwargs: Any) -> html.Div:
    return html.Div(
        className="overview",
        children=[
            page_head(
                "Overview",
                control(
                    "Horizon",
                    dcc.RadioItems(
                        id=ids.OV_HORIZON,
                        options=horizon_options(DEFAULT_HORIZONS),
                        value=DEFAULT_HORIZONS[0],
                        inline=True,
                        className="segmented",
                    ),
                ),
                # disabled while any fit of the case runs (refit_enabled); its bar is the shell's
                control(
                    None,
                    html.Button(
                        "Refit",
                        id=ids.OV_REFIT,
                        n_clicks=0,
                        className="btn btn-primary",
                        title="Fit the model to the observations recorded now (runs in the background)",
                    ),
                    extra_class="refit",
                ),
            ),
            html.Div(id=ids.OV_FIT_MESSAGE, role="status"),
            html.Div(id=ids.OV_FAST_UPDATE, className="fast-update", role="status"),
            html.Div(id=ids.OV_STALE),
            html.Div(id=ids.OV_CONTENT, children=first_content(_kwargs.get("case"))),
            *panels.overview_sections(),  # "Why it moved" and alerts
            dcc.Store(id=ids.OV_AUTOFIT),
        ],
    )


# ---------------------------------------------------------------------------- content


@dash.callback(
    Output(ids.OV_HORIZON, "options"),
    Output(ids.OV_HORIZON, "value"),
    Input(ids.RUN_STATE, "data"),
    State(ids.OV_HORIZON, "value"),
    State(ids.CASE, "data"),
)
def horizon_choices(_state: Any, current: int | None, case_id: str) -> tuple[list[dict[str, Any]], Any]:
    """The horizons of the latest run; the chosen one kept when it still exists."""
    store = views.get_store()
    forecast = load_forecast(store, current_run(store, case_id))
    hs = views.horizons(forecast.document if forecast else None) or DEFAULT_HORIZONS
    return horizon_options(hs), kept_choice(current, hs)


@dash.callback(
    Output(ids.OV_CONTENT, "children"),
    Input(ids.OV_HORIZON, "value"),
    Input(ids.RUN_STATE, "data"),
    State(ids.CASE, "data"),
)
def render_overview(horizon: int | None, state: dict | None, case_id: str) -> list[Any]:
    """Outcome cards of the latest run at ``horizon``, or what to do when there is no run."""
    return overview_content(horizon, case_id)


@dash.callback(
    Output(ids.OV_STALE, "children"),
    Input(ids.RUN_STATE, "data"),
    Input(ids.OBS_VERSION, "data"),
    State(ids.CASE, "data"),
)
def render_stale(_state: Any, _version: Any, case_id: str) -> Any:
    """The stale-series notice (series not reviewed for longer than the stale limit), as of now."""
    return stale_notice(case_id, link=True)


def first_content(case: str | None = None) -> list[Any] | None:
    """The cards at the first horizon, put into the page as it is served, so they show without
    waiting for the chain of callbacks (run state, horizons, cards) that keeps them current: of
    the case the page's URL names (``case``), else the app's default case. ``None`` outside a
    request of an app made by :func:`dashboard.web.app.create_app`."""
    from dashboard.web.cases import request_case

    case_id = request_case(case) if flask.has_app_context() else None
    return overview_content(None, case_id) if case_id else None


def overview_content(horizon: int | None, case_id: str) -> list[Any]:
    """What :func:`render_overview` shows (a plain function, for the page layout too)."""
    store = views.get_store()
    runs = store.runs(case_id)
    latest = next((r for r in runs if r["status"] == "ok"), None)
    running = [r["id"] for r in runs if r["status"] == "running"]
    if latest is None:
        return [no_run_panel(running)]
    forecast = load_forecast(store, latest)
    if forecast is None:
        return [
            html.Div(
                className="panel alert",
                children=(
                    f"The forecast file of run {latest['id']} cannot be read ({latest.get('path')}); refit to "
                    "make a new one."
                ),
            )
        ]
    doc = forecast.document
    previous_run = previous_ok_run(runs, latest["id"])
    previous = load_forecast(store, previous_run)
    hs = views.horizons(doc)
    horizon = horizon if horizon in hs else (hs[0] if hs else 1)
    cards = views.outcome_cards(doc, horizon=horizon, previous=previous.document if previous else None)
    order = doc.outcome_ids
    return [
        stale_case_notice(forecast),
        html.Div(className="cards", children=[outcome_card(c, forecast, order.index(c["id"])) for c in cards]),
        html.P(
            className="footnote",
            children=(
                f"Probabilities are posterior means of P(outcome happens within the horizon) from run "
                f"{doc.run_id} (as of {doc.as_of}); intervals are 90% credible intervals; "
                "shaded bands on the curves are 50% and 90% intervals. "
                + (
                    f"Change is against run {previous_run['id']}."
                    if previous_run
                    else "There is no earlier run to compare with."
                )
            ),
        ),
    ]


def stale_case_notice(forecast: RunForecast) -> html.Div | None:
    """A red notice over a run fitted on an earlier version of the case (or with another model
    version), offering Refit; ``None`` for a run of the case as stored."""
    if not forecast.stale:
        return None
    return html.Div(
        className="notice notice-alert stale-case",
        id="overview-stale-case",
        role="alert",
        children=[
            html.Strong("Out of date: "),
            forecast.stale,
            " Its forecast is shown until then; press Refit to fit the case as it is stored now.",
        ],
    )


def outcome_card(card: dict[str, Any], forecast: RunForecast, index: int) -> html.Div:
    """One outcome's card (see :func:`dashboard.services.views.outcome_cards`)."""
    head = [html.Span(card["id"], className="outcome-id")]
    if card["resolved"]:
        head.append(html.Span("Resolved", className="badge badge-resolved"))
    body: list[Any] = [html.Div(className="card-head", children=head), html.H3(card["question"], className="question")]
    if card["resolved"]:
        when = card.get("resolution_date") or "date not recorded"
        body.append(
            html.P(
                f"Resolved YES on {when}; no forecast is made for it. Its event informs "
                "the hazard model of the other outcomes.",
                className="resolved-text",
            )
        )
    elif card["probability"] is not None:
        change_class = "change"
        if card["change_pp"] is not None and abs(card["change_pp"]) >= 0.05:
            change_class += " up" if card["change_pp"] > 0 else " down"
        body += [
            html.Div(
                className="prob-row",
                children=[
                    html.Span(card["probability"], className="prob"),
                    html.Span(
                        f"within {card['horizon']} year{'s' if card['horizon'] != 1 else ''}", className="prob-horizon"
                    ),
                ],
            ),
            html.Div(card["interval"], className="interval"),
            html.Div(card["change"], className=change_class),
        ]
        if card.get("driven_by_prior"):
            body.append(
                html.Div(
                    "driven by the prior",
                    className="badge prior-driven",
                    title=card.get("moved") or "The data hardly move this forecast (power-scaling sensitivity).",
                )
            )
    else:
        body.append(html.P(card["change"], className="muted"))
    if not card["resolved"]:
        body.append(
            dcc.Graph(
                figure=views.figure_of(
                    forecast,
                    figures.horizon_figure,
                    outcome_id=card["id"],
                    color=figures.color_for(index),
                    selected_horizon=card["horizon"],
                ),
                config=GRAPH_CONFIG,
                className="card-graph",
            )
        )
    return html.Div(
        className="card outcome-card" + (" resolved" if card["resolved"] else ""),
        id=f"outcome-{card['id']}",
        children=body,
        style={"borderTopColor": figures.color_for(index)},
    )


def no_run_panel(running: list[str]) -> html.Div:
    """What the Overview shows with no forecast: while a fit runs, that the first forecast is on
    its way (its bar is above); otherwise how to get one."""
    if running:
        return html.Div(
            className="panel empty",
            id="overview-fitting",
            children=[
                html.H3("Fitting the first forecast"),
                html.P(
                    f"The first forecast is on its way: a fit is running (run {', '.join(running)}); its progress is shown above and "
                    "the forecast appears here when it finishes. Meanwhile the observations are on the "
                    "Indicators page."
                ),
            ],
        )
    text = (
        "No forecast yet: no fit has finished for this case. Press Refit to fit the model in the "
        "background; meanwhile the observations are on the Indicators page."
    )
    return html.Div(className="panel empty", id="overview-no-run", children=[html.H3("No forecast yet"), html.P(text)])


@dash.callback(Output(ids.OV_REFIT, "disabled"), Input(ids.RUN_STATE, "data"))
def refit_enabled(state: dict | None) -> bool:
    """Refit is disabled while a fit of the case runs (started here or anywhere else)."""
    return bool((state or {}).get("running"))


# ---------------------------------------------------------------------------- fast update


@dash.callback(
    Output(ids.OV_FAST_UPDATE, "children"),
    Input(ids.OV_HORIZON, "value"),
    Input(ids.RUN_STATE, "data"),
    State(ids.CASE, "data"),
)
def render_fast_update(horizon: int | None, _state: Any, case_id: str) -> Any:
    """Records made since the current run: its forecast reweighted by them, labelled as such."""
    from dashboard.services.updates import fast_update

    update = fast_update(views.get_store(), case_id)
    return fast_update_panel(update, int(horizon or DEFAULT_HORIZONS[0]))


def fast_update_panel(update: dict[str, Any] | None, horizon: int) -> Any:
    """The fast-update panel for :func:`dashboard.services.updates.fast_update`'s result (None: nothing new)."""
    if update is None:
        return None
    head = (
        f"Fast update: run {update['run_id']} reweighted by the {update['records']} record(s) made "
        "since it (Pareto-smoothed importance sampling). A refit gives the full answer."
    )
    if "error" in update:
        return html.Div([html.Strong("No fast update: "), update["error"]], className="notice")
    rows = []
    for o in update["outcomes"]:
        h = next((h for h in o["horizons"] if h["years"] == horizon), None)
        text = (
            "resolved"
            if o["resolved"]
            else (f"{100 * h['p_mean']:.1f}% (90% interval {100 * h['p_05']:.1f}–{100 * h['p_95']:.1f}%)" if h else "—")
        )
        rows.append(html.Tr([html.Td(o["question"]), html.Td(text, className="num")]))
    khat = f"k-hat {update['khat']:.2f}"
    label = (
        html.Span(f"Reliable ({khat} ≤ 0.7)", className="diag-ok")
        if update["reliable"]
        else html.Span(
            f"NOT RELIABLE ({khat} > 0.7): the new evidence is too far from the run's "
            "posterior for reweighting; only a refit counts.",
            className="label-alert",
        )
    )
    ignored = [html.Li(f"Observation {oid}: not used by the model ({why}).") for oid, why in update["ignored"]]
    return html.Div(
        className="notice fast-update-panel",
        children=[
            html.Strong(head),
            html.Div(label),
            html.Table(
                className="table",
                children=[
                    html.Thead(html.Tr([html.Th("Outcome"), html.Th(f"P(by {horizon} y), fast update")])),
                    html.Tbody(rows),
                ],
            ),
            html.Ul(ignored) if ignored else None,
        ],
    )


# ---------------------------------------------------------------------------- fitting


@dash.callback(Output(ids.OV_AUTOFIT, "data"), Input(ids.CASE, "data"))
def autofit_trigger(case_id: str) -> float:
    """Start a fit on opening the Overview when none is running and the case has no ok run, or
    records were made since the current one (see :func:`auto_refit`)."""
    store = views.get_store()
    if store.runs(case_id, status="running"):
        raise PreventUpdate
    run = current_run(store, case_id)
    if run is None:
        return time.time()
    # Records made since the run: the fast update is shown at once and the refit starts behind it
    # (HARBINGER_AUTO_REFIT=0 turns this off; Refit then starts it).
    if auto_refit() and views.stale_records(store, case_id, run) > 0:
        return time.time()
    raise PreventUpdate


def auto_refit() -> bool:
    import os

    return os.environ.get("HARBINGER_AUTO_REFIT", "1").strip().lower() not in ("0", "false", "no", "off")


def resolve_fit_function() -> Callable[..., str]:
    if FIT_FUNCTION is not None:
        return FIT_FUNCTION
    from dashboard.services.runs import fit_case

    return fit_case


def run_fit(
    set_progress: Callable[[Any], None], case_id: str, *, fit: Callable[..., str] | None = None
) -> dict[str, Any]:
    """Run one fit for ``case_id`` and describe how it ended (the background callback's body).

    ``fit(store, case_id, progress=callback) -> run_id`` (default :func:`resolve_fit_function`)
    blocks until the run is saved, calls ``progress(fraction, message)`` along the way, and
    raises :class:`dashboard.services.runs.FitFailed` (or ``BadInput``) when it fails. Returns
    ``{"status": "ok" | "failed" | "busy", "run_id", "message", "at"}``.
    """
    fit = fit or resolve_fit_function()
    now = time.time()
    views.forget_stores()  # in the background process: never reuse the parent's connections
    store = views.get_store()
    store.fail_stale_runs()
    running = store.runs(case_id, status="running")
    if running:
        return {
            "status": "busy",
            "run_id": running[0]["id"],
            "at": now,
            "message": f"A fit is already running (run {running[0]['id']}); the page switches to it when it finishes.",
        }

    def progress(fraction: float, message: str) -> None:
        set_progress((str(round(100 * max(0.0, min(1.0, float(fraction))))), str(message)))

    progress(0.0, "Starting the fit…")
    try:
        from dashboard.services.runs import FitFailed
    except ImportError:  # pragma: no cover - services always defines it
        FitFailed = RuntimeError  # type: ignore[misc,assignment]  # noqa: N806
    try:
        run_id = fit(store, case_id, progress=progress)
    except (FitFailed, BadInput) as exc:
        return {
            "status": "failed",
            "run_id": getattr(exc, "run_id", None),
            "at": time.time(),
            "message": _sentence(str(exc)),
        }
    except Exception as exc:  # noqa: BLE001 - the reason is shown to the user, the old run stays
        return {
            "status": "failed",
            "run_id": None,
            "at": time.time(),
            "message": f"The fit failed unexpectedly ({type(exc).__name__}: {exc}); the previous "
            "forecast is still shown.",
        }
    from dashboard.services.runs import fit_outcome

    return {"status": "ok", "run_id": run_id, "at": time.time(), "message": fit_outcome(store, run_id)}


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


@dash.callback(
    Output(ids.FIT_REQUEST, "data"),
    Input(ids.OV_REFIT, "n_clicks"),
    Input(ids.OV_AUTOFIT, "data"),
    prevent_initial_call=True,
)
def request_fit(
    n_clicks: int | None, autofit: float | None, *, trigger: str | list[str] | None = None
) -> dict[str, Any]:
    """Ask for a fit when Refit is pressed or the first-fit trigger fires (not on page display).

    Dash may report both inputs as changed in one call (the first-fit trigger fires while the
    Refit button appears with 0 clicks), so every triggering input is weighed, not just the first.
    Only an editor may start a fit (:func:`dashboard.web.auth.require_editor`); for anyone else nothing
    is requested, and :func:`refit_refusal` says why. The background callback itself is guarded
    too (``auth.protect_output``), so a forged request cannot start a fit either.
    """
    if trigger is None:
        triggers = set(dash.ctx.triggered_prop_ids.values())
    else:
        triggers = {trigger} if isinstance(trigger, str) else set(trigger)
    if triggers & {ids.OV_REFIT, ids.OV_AUTOFIT} and auth.current_role() != "editor":
        raise PreventUpdate
    if ids.OV_REFIT in triggers and n_clicks:
        return {"at": time.time(), "reason": "refit"}
    if ids.OV_AUTOFIT in triggers and autofit:
        return {"at": time.time(), "reason": "first fit"}
    raise PreventUpdate


@dash.callback(
    Output(ids.OV_FIT_MESSAGE, "children", allow_duplicate=True),
    Input(ids.OV_REFIT, "n_clicks"),
    prevent_initial_call=True,
)
def refit_refusal(n_clicks: int | None) -> Any:
    """When someone who may not fit presses Refit: the editing check's message."""
    if not n_clicks:
        raise PreventUpdate
    try:
        auth.require_editor("start a fit")
    except auth.NotAllowed as exc:
        return html.Div(
            [html.Strong("Not allowed: "), str(exc), " ", html.A("Log in", href="/login?next=/")],
            className="notice notice-alert not-allowed",
            role="alert",
            id="fit-result-text",
        )
    raise PreventUpdate


@dash.callback(
    Output(ids.FIT_RESULT, "data"),
    Input(ids.FIT_REQUEST, "data"),
    State(ids.CASE, "data"),
    background=True,
    # No progress outputs: the fit records its stages with its run, and the shell's bar reads them
    # from the store (dashboard.web.app.render_fit_progress), on every page and in every browser.
    running=[(Output(ids.OV_REFIT, "disabled"), True, False), (Output(ids.OV_CONTENT, "className"), "fitting", "")],
    prevent_initial_call=True,
    interval=1000,
)
def refit(request: dict | None, case_id: str) -> dict[str, Any]:
    """Background callback: run the requested fit (see :func:`run_fit`)."""
    if not request:
        raise PreventUpdate
    return run_fit(_no_progress, case_id)


def _no_progress(_update: Any) -> None:
    """The fit's stages go to its run's progress file, not to this browser."""


@dash.callback(Output(ids.OV_FIT_MESSAGE, "children"), Input(ids.FIT_RESULT, "data"))
def fit_message(result: dict | None) -> Any:
    """The outcome of the last fit started here: a plain note, or the failure in red."""
    if not result:
        return None
    status = result.get("status")
    css = {"ok": "notice notice-ok", "busy": "notice notice-info"}.get(status, "notice notice-alert")
    return html.Div(result.get("message", ""), className=css, id="fit-result-text")
