"""The Overview's analysis panels: "Why it moved" (explanation of the last change) and alerts
(fired crossings, every alert's state, a form to add and remove alerts).

The Overview page imports this module and puts :func:`overview_sections` in its layout; the
callbacks here are registered on import. "Why it moved" reweights the current run's draws
(:func:`dashboard.services.analysis.explain_runs`, cached per pair of runs in the run's
directory); adding and removing alerts needs the editor role.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.services import views
from dashboard.web import auth, ids
from indicators.errors import BadInput

TOP_CONTRIBUTIONS = 5
KIND_OPTIONS = [
    {"label": "rises to (%)", "value": "above"},
    {"label": "falls below (%)", "value": "below"},
    {"label": "moves by more than (pts)", "value": "change"},
]


def _field(label: str, component_id: str, control: Any) -> html.Div:
    return html.Div(
        className="field", children=[html.Label(label, htmlFor=component_id, className="field-label"), control]
    )


def overview_sections() -> list[Any]:
    """The two sections below the outcome cards."""
    return [
        html.Section(
            className="card section",
            children=[
                html.H2("Why it moved"),
                html.Div(id=ids.OV_EXPLAIN),
            ],
        ),
        html.Section(
            className="card section",
            children=[
                html.H2("Alerts"),
                html.Div(id=ids.OV_ALERTS),
                html.Div(
                    className="form-grid",
                    children=[
                        _field(
                            "Alert outcome",
                            ids.OV_ALERT_OUTCOME,
                            dcc.Dropdown(id=ids.OV_ALERT_OUTCOME, className="dropdown", placeholder="outcome"),
                        ),
                        _field(
                            "Alert horizon (years)",
                            ids.OV_ALERT_HORIZON,
                            dcc.Input(id=ids.OV_ALERT_HORIZON, type="text", className="input", placeholder="e.g. 5"),
                        ),
                        _field(
                            "Alert when the probability",
                            ids.OV_ALERT_KIND,
                            dcc.Dropdown(
                                id=ids.OV_ALERT_KIND,
                                options=KIND_OPTIONS,
                                value="above",
                                clearable=False,
                                className="dropdown",
                            ),
                        ),
                        _field(
                            "Alert threshold",
                            ids.OV_ALERT_THRESHOLD,
                            dcc.Input(id=ids.OV_ALERT_THRESHOLD, type="text", className="input", placeholder="e.g. 20"),
                        ),
                    ],
                ),
                html.Div(
                    className="button-row",
                    children=[
                        html.Button("Add alert", id=ids.OV_ALERT_ADD, n_clicks=0, className="btn btn-primary"),
                    ],
                ),
                html.Div(id=ids.OV_ALERT_MESSAGE, role="status"),
                dcc.Store(id=ids.OV_ALERT_VERSION, data=0),
            ],
        ),
    ]


# ---------------------------------------------------------------------------- why it moved


@dash.callback(
    Output(ids.OV_EXPLAIN, "children"),
    Input(ids.RUN_STATE, "data"),
    Input(ids.OV_HORIZON, "value"),
    State(ids.CASE, "data"),
)
def render_explain(_state: Any, horizon: int | None, case_id: str) -> Any:
    """Each changed observation's contribution to the last change, at the chosen horizon."""
    from dashboard.services import analysis as sa

    store = views.get_store()
    current = sa.current_run(store, case_id)
    if current is None or sa.baseline_run(store, case_id, current) is None:
        return html.P("There is no earlier run to compare with yet.", className="muted", id="explain-empty")
    try:
        doc = sa.explain_runs(store, case_id)
    except (sa.AnalysisUnavailable, BadInput) as exc:
        return html.P(f"No explanation for this change: {exc}", className="muted", id="explain-empty")
    return explain_view(doc, horizon=horizon)


def explain_view(doc: dict[str, Any], *, horizon: int | None) -> Any:
    """A table per outcome at ``horizon``: total change, the largest contributions, the remainder."""
    years = horizon or min((o["years"] for o in doc["outcomes"]), default=1)
    failed = (
        ""
        if doc.get("from_diagnostics_ok", True)
        else (" No earlier run passed its diagnostics, so the change is measured from one that failed them.")
    )
    head = html.P(
        f"From run {doc['from_run']} (as of {doc['from_as_of']}) to run {doc['to_run']} (as of "
        f"{doc['to_as_of']}): {len(doc['changes'])} changed observation(s)"
        + (", grouped by indicator and kind." if doc["grouped"] else ".")
        + failed,
        className="muted",
    )
    rows = []
    for o in doc["outcomes"]:
        if o["years"] != years:
            continue
        total = "—" if o["total_pp"] is None else f"{o['total_pp']:+.2f} pts"
        rows.append(
            html.Tr(
                className="explain-total",
                children=[
                    html.Td(html.Strong(o["outcome"])),
                    html.Td("total change"),
                    html.Td(total),
                    html.Td("" if o["total_log_odds"] is None else f"{o['total_log_odds']:+.3f}"),
                    html.Td(""),
                ],
            )
        )
        contributions = []
        for it in doc["items"]:
            c = next((c for c in it["contributions"] if c["outcome"] == o["outcome"] and c["years"] == years), None)
            if c is not None:
                contributions.append((it, c))
        contributions.sort(key=lambda ic: -abs(ic[1]["pp"]))
        for it, c in contributions[:TOP_CONTRIBUTIONS]:
            khat = f"{it['khat']:.2f}" + ("" if it["reliable"] or it["method"] == "refit" else " (unreliable)")
            rows.append(
                html.Tr(
                    [
                        html.Td(""),
                        html.Td(it["label"]),
                        html.Td(f"{c['pp']:+.2f} pts"),
                        html.Td(f"{c['log_odds']:+.3f}"),
                        html.Td(khat),
                    ]
                )
            )
        if len(contributions) > TOP_CONTRIBUTIONS:
            rest = sum(c["pp"] for _, c in contributions[TOP_CONTRIBUTIONS:])
            rows.append(
                html.Tr(
                    [
                        html.Td(""),
                        html.Td(f"{len(contributions) - TOP_CONTRIBUTIONS} other change(s)"),
                        html.Td(f"{rest:+.2f} pts"),
                        html.Td(""),
                        html.Td(""),
                    ]
                )
            )
        rows.append(
            html.Tr(
                className="explain-remainder",
                children=[
                    html.Td(""),
                    html.Td("unexplained remainder"),
                    html.Td("—" if o["unexplained_pp"] is None else f"{o['unexplained_pp']:+.2f} pts"),
                    html.Td(""),
                    html.Td(""),
                ],
            )
        )
    table = html.Table(
        className="table",
        id="explain-table",
        children=[
            html.Thead(
                html.Tr([html.Th(h) for h in ("Outcome", "What changed", f"Change ({years} y)", "Log-odds", "k-hat")])
            ),
            html.Tbody(rows),
        ],
    )
    note = html.P(
        "Contribution = current probability minus the probability with that change undone, from "
        "leave-new-out importance reweighting of the current run (k-hat above 0.7: unreliable). The "
        "remainder is what no single observation explains: interactions, the passing of time between "
        "as-of dates, and the Monte Carlo error of the two fits.",
        className="footnote",
    )
    return [head, table, note]


# ---------------------------------------------------------------------------- alerts


@dash.callback(
    Output(ids.OV_ALERTS, "children"),
    Output(ids.OV_ALERT_OUTCOME, "options"),
    Input(ids.RUN_STATE, "data"),
    Input(ids.OV_ALERT_VERSION, "data"),
    State(ids.CASE, "data"),
)
def render_alerts(_state: Any, _version: Any, case_id: str) -> tuple[Any, list[dict[str, str]]]:
    from dashboard.services.analysis import check_alerts

    store = views.get_store()
    case = store.get_case(case_id).case
    options = [{"label": o.id, "value": o.id} for o in case.outcomes if o.resolved is None]
    return alerts_view(check_alerts(store, case_id)), options


def alerts_view(doc: dict[str, Any]) -> Any:
    if not doc["alerts"]:
        return html.P(
            "No alerts set. Add one below (or with 'harbinger alert add').", className="muted", id="alerts-empty"
        )
    fired = [html.Div(a["message"], className="notice notice-alert alert-fired", role="alert") for a in doc["fired"]]
    rows = [
        html.Tr(
            className="alert-row fired" if a["fired"] else "alert-row",
            children=[
                html.Td(str(a["id"])),
                html.Td(a["outcome"]),
                html.Td(f"{a['years']:g}"),
                html.Td(a["kind"]),
                html.Td(f"{100 * a['threshold']:g}" + (" pts" if a["kind"] == "change" else "%")),
                html.Td("—" if a["previous"] is None else views.fmt_prob(a["previous"])),
                html.Td("—" if a["current"] is None else views.fmt_prob(a["current"])),
                html.Td("FIRED" if a["fired"] else a["state"]),
                html.Td(
                    html.Button(
                        "Remove",
                        id={"type": ids.OV_ALERT_REMOVE, "alert": int(a["id"])},
                        n_clicks=0,
                        className="btn btn-danger btn-small",
                        title=f"Remove alert {a['id']}",
                        **{"aria-label": f"Remove alert {a['id']}"},
                    )
                ),
            ],
        )
        for a in doc["alerts"]
    ]
    table = html.Table(
        className="table",
        id="alerts-table",
        children=[
            html.Thead(
                html.Tr(
                    [
                        html.Th(h)
                        for h in (
                            "Id",
                            "Outcome",
                            "Years",
                            "Kind",
                            "Threshold",
                            "Previous run",
                            "Current run",
                            "Status",
                            "",
                        )
                    ]
                )
            ),
            html.Tbody(rows),
        ],
    )
    return fired + [table]


@dash.callback(
    Output(ids.OV_ALERT_MESSAGE, "children"),
    Output(ids.OV_ALERT_VERSION, "data"),
    Input(ids.OV_ALERT_ADD, "n_clicks"),
    State(ids.OV_ALERT_OUTCOME, "value"),
    State(ids.OV_ALERT_HORIZON, "value"),
    State(ids.OV_ALERT_KIND, "value"),
    State(ids.OV_ALERT_THRESHOLD, "value"),
    State(ids.CASE, "data"),
    State(ids.OV_ALERT_VERSION, "data"),
    prevent_initial_call=True,
)
def add_clicked(
    n_add: int | None,
    outcome: str | None,
    horizon: Any,
    kind: str | None,
    threshold: Any,
    case_id: str,
    version: int | None,
) -> tuple[Any, Any]:
    """ "Add alert" was pressed."""
    if not n_add:
        raise PreventUpdate
    return edit_alerts(n_add, 0, outcome, horizon, kind, threshold, None, case_id, version, action="add")


@dash.callback(
    Output(ids.OV_ALERT_MESSAGE, "children", allow_duplicate=True),
    Output(ids.OV_ALERT_VERSION, "data", allow_duplicate=True),
    Input({"type": ids.OV_ALERT_REMOVE, "alert": ALL}, "n_clicks"),
    State(ids.CASE, "data"),
    State(ids.OV_ALERT_VERSION, "data"),
    prevent_initial_call=True,
)
def remove_clicked(clicks: list[int | None], case_id: str, version: int | None) -> tuple[Any, Any]:
    """A row's "Remove" was pressed: remove that alert (the table is redrawn with new buttons,
    unpressed, which trigger nothing)."""
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any(clicks or []):
        raise PreventUpdate
    return edit_alerts(0, 1, None, None, None, None, trigger["alert"], case_id, version, action="remove")


def edit_alerts(
    n_add: int | None,
    n_remove: int | None,
    outcome: str | None,
    horizon: Any,
    kind: str | None,
    threshold: Any,
    remove_id: Any,
    case_id: str,
    version: int | None,
    *,
    action: str | None = None,
) -> tuple[Any, Any]:
    """Add or remove an alert (editors only); problems are shown and nothing changes."""
    from dashboard.services.analysis import parse_threshold
    from indicators.alerts import add_alert, remove_alert

    if action is None:
        trigger = dash.ctx.triggered_id
        action = "add" if trigger == ids.OV_ALERT_ADD and n_add else "remove" if n_remove else None
        if action is None:
            raise PreventUpdate
    try:
        actor = auth.require_editor("set alerts")
    except auth.NotAllowed as exc:
        return _alert(f"Not allowed: {exc}"), dash.no_update
    store = views.get_store()
    try:
        if action == "add":
            if not outcome:
                raise BadInput("choose the alert's outcome.")
            try:
                years = float(str(horizon).strip())
            except ValueError:
                raise BadInput(f"the horizon '{horizon or ''}' is not a number of years.") from None
            new_id = add_alert(
                store,
                case_id,
                outcome=outcome,
                horizon=years,
                kind=kind or "above",
                threshold=parse_threshold(threshold if threshold is not None else ""),
                actor=actor,
            )
            text = f"Added alert {new_id}."
        else:
            try:
                aid = int(str(remove_id).strip())
            except ValueError:
                raise BadInput(f"'{remove_id or ''}' is not an alert id.") from None
            remove_alert(store, aid, actor=actor, case_id=case_id)
            text = f"Removed alert {aid}."
    except BadInput as exc:
        return _alert(f"Not changed: {str(exc)[:1].upper()}{str(exc)[1:]}"), dash.no_update
    return html.Div(text, className="notice notice-ok", id="alert-edit-ok"), (version or 0) + 1


def _alert(text: str) -> html.Div:
    return html.Div(text, className="notice notice-alert", role="alert")
