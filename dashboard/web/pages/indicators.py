"""Indicators: one chart per indicator, the observations table, and every way to change it.

Charts show the latest run's expected band per grid cell, the modelled observations (markers
sized and shaded by the model's probability that a report is genuine), surprise flags, and
observations recorded since the run. The table lists the observations in effect with their
sources, filterable and sortable. Below it: the open-coverage series with their reviewed-through
dates and the "Mark reviewed" form, the add form, a CSV upload (the format of
``harbinger observe import``, all or nothing) and correction / retraction of the selected row.
Above the charts, a red notice names every series not reviewed for longer than the stale limit
(:mod:`dashboard.services.reviews`); the Overview shows the same notice (:func:`stale_notice`).
Every change goes through :class:`indicators.store.Store` (validated, audited, nothing
overwritten) under the acting user: the logged-in editor, or on a loopback server without
accounts ``HARBINGER_USER`` or the OS user. Each change is refused on the server unless
:func:`dashboard.web.auth.require_editor` allows it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import warnings
from typing import Any

import dash
from dash import Input, Output, State, dash_table, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import figures
from dashboard.services import reviews, views
from dashboard.services.forecasts import load_forecast
from dashboard.services.runs import current_run
from dashboard.web import auth, cases, ids
from dashboard.web.layout import control, page_head
from indicators.errors import BadInput
from indicators.observations import (
    DEFAULT_CREDIBILITY,
    DEFAULT_RELIABILITY,
    MAX_IMPORT_BYTES,
)
from models.document import ForecastDocument

dash.register_page(__name__, path="/indicators", name="Indicators", order=1, title="Harbinger · Indicators")

GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]}


def _field(label: str, component_id: str, control: Any, hint: str | None = None) -> html.Div:
    children = [html.Label(label, htmlFor=component_id, className="field-label"), control]
    if hint:
        children.append(html.Span(hint, className="field-hint"))
    return html.Div(className="field", children=children)


def _text(component_id: str, placeholder: str = "", **kw: Any) -> dcc.Input:
    return dcc.Input(
        id=component_id,
        type="text",
        placeholder=placeholder,
        debounce=False,
        className="input",
        autoComplete="off",
        **kw,
    )


def layout(**_kwargs: Any) -> html.Div:
    return html.Div(
        className="indicators",
        children=[
            page_head(
                "Indicators",
                control(
                    "Charts shown",
                    dcc.Dropdown(
                        id=ids.IND_SELECT, multi=True, placeholder="Choose indicators to chart", className="dropdown"
                    ),
                    wide=True,
                ),
            ),
            html.Div(id=ids.IND_STALE),
            html.Div(id=ids.IND_CHARTS, className="charts"),
            html.Section(
                className="card section",
                children=[
                    html.H2("Observations"),
                    html.P(id=ids.IND_TABLE_NOTE, className="muted"),
                    _observations_table(),
                ],
            ),
            review_panel(),
            html.Div(
                className="forms",
                children=[
                    add_form(),
                    upload_panel(),
                    edit_panel(),
                ],
            ),
        ],
    )


def table_columns() -> list[tuple[str, str]]:
    """The table's columns: the surprise flag and its PIT (posterior predictive tail probability)
    placed just before the source's reliability grade, so a reader weighs "bad data?" against
    "real change?" at a glance."""
    cols = [c for c in views.TABLE_COLUMNS if c[0] != "surprise"]
    at = [k for k, _ in cols].index("reliability")
    return cols[:at] + [("surprise", "Surprise"), ("pit", "PIT")] + cols[at:]


def _observations_table() -> Any:
    # DataTable warns that it will leave the built-in components in a future Dash; dash-ag-grid
    # is not a dependency yet, so the warning is acknowledged here rather than on every page view.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"(?s).*dash_table\.DataTable will be removed", category=DeprecationWarning
        )
        return dash_table.DataTable(
            id=ids.IND_TABLE,
            columns=[
                {
                    "name": name,
                    "id": key,
                    "type": "numeric" if key in ("id", "value", "credibility", "genuine", "pit") else "text",
                }
                for key, name in table_columns()
            ],
            data=[],
            filter_action="native",
            sort_action="native",
            sort_mode="multi",
            row_selectable="single",
            selected_rows=[],
            page_action="native",
            page_size=15,
            filter_options={"placeholder_text": "filter"},
            style_table={"overflowX": "auto"},
            style_cell={
                "textAlign": "left",
                "whiteSpace": "nowrap",
                "overflow": "hidden",
                "textOverflow": "ellipsis",
                "maxWidth": "14rem",
                "minWidth": "3rem",
                "fontSize": "13px",
                "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, 'DejaVu Sans', sans-serif",
                "padding": "5px 8px",
                "border": "1px solid #e6e9ef",
            },
            style_header={"fontWeight": "600", "backgroundColor": "#f4f6fa", "color": "#1d2433"},
            style_cell_conditional=[
                # long texts wrap instead of being cut off (the full text is also the tooltip)
                {
                    "if": {"column_id": c},
                    "minWidth": w,
                    "width": w,
                    "maxWidth": w,
                    "whiteSpace": "normal",
                    "overflowWrap": "anywhere",
                }
                for c, w in (
                    ("source", "13rem"),
                    ("note", "15rem"),
                    ("indicator", "11rem"),
                    ("recorded_at", "6rem"),
                    ("recorded_by", "6rem"),
                    ("date", "6rem"),
                    ("end", "6rem"),
                )
            ]
            + [{"if": {"column_id": c}, "textAlign": "right"} for c in ("id", "value", "credibility", "genuine")]
            + [{"if": {"column_id": "id"}, "minWidth": "4.5rem"}],
            style_data_conditional=[
                {"if": {"filter_query": '{surprise} = "yes"'}, "backgroundColor": "#fdf0ee"},
            ],
            tooltip_delay=300,
            tooltip_duration=None,
        )


def add_form() -> html.Section:
    return html.Section(
        className="card section form",
        children=[
            html.H2("Add an observation"),
            html.Datalist(id=ids.ADD_INDICATOR_LIST),
            html.Datalist(
                id="reliability-grades",
                children=[html.Option(value=g, label=f"{g} — {m}") for g, m in views.RELIABILITY_MEANING.items()],
            ),
            html.Datalist(
                id="credibility-grades",
                children=[html.Option(value=str(g), label=f"{g} — {m}") for g, m in views.CREDIBILITY_MEANING.items()],
            ),
            html.Div(
                className="form-grid",
                children=[
                    _field(
                        "Indicator",
                        ids.ADD_INDICATOR,
                        _text(ids.ADD_INDICATOR, "indicator id", list=ids.ADD_INDICATOR_LIST),
                    ),
                    _field("Date", ids.ADD_DATE, _text(ids.ADD_DATE, "YYYY-MM-DD"), "day of the event or first day"),
                    _field(
                        "End date", ids.ADD_END, _text(ids.ADD_END, "YYYY-MM-DD (optional)"), "last day of a period"
                    ),
                    _field("Value", ids.ADD_VALUE, _text(ids.ADD_VALUE, "number", inputMode="numeric")),
                    _field("Source", ids.ADD_SOURCE, _text(ids.ADD_SOURCE, "publication, URL"), None),
                    _field(
                        "Reliability",
                        ids.ADD_RELIABILITY,
                        _text(ids.ADD_RELIABILITY, f"A–F (default {DEFAULT_RELIABILITY})", list="reliability-grades"),
                        "Admiralty source grade",
                    ),
                    _field(
                        "Credibility",
                        ids.ADD_CREDIBILITY,
                        _text(ids.ADD_CREDIBILITY, f"1–6 (default {DEFAULT_CREDIBILITY})", list="credibility-grades"),
                        "Admiralty information grade",
                    ),
                    _field("Note", ids.ADD_NOTE, _text(ids.ADD_NOTE, "optional")),
                ],
            ),
            html.Button("Add observation", id=ids.ADD_BUTTON, n_clicks=0, className="btn btn-primary"),
            html.Div(id=ids.ADD_MESSAGE, role="status"),
        ],
    )


def review_panel() -> html.Section:
    """The open-coverage series, their reviewed-through dates, and the "Mark reviewed" form."""
    return html.Section(
        className="card section form review-panel",
        id=ids.REVIEW_PANEL,
        children=[
            html.H2("Reviewed series"),
            html.P(
                "An events series without a coverage end counts a quarter without a recorded event as zero "
                "only up to the date someone last checked its record complete (its newest observation, or "
                "a review). Later quarters are missing to the model. After checking a source, mark the "
                "series reviewed through the last day it covers.",
                className="muted",
            ),
            html.Div(id=ids.REVIEW_TABLE),
            html.Div(
                className="form-grid",
                children=[
                    _field(
                        "Series reviewed",
                        ids.REVIEW_INDICATOR,
                        dcc.Dropdown(
                            id=ids.REVIEW_INDICATOR,
                            options=[],
                            value=None,
                            placeholder="choose a series",
                            clearable=True,
                            className="dropdown",
                        ),
                    ),
                    _field(
                        "Reviewed through",
                        ids.REVIEW_THROUGH,
                        _text(ids.REVIEW_THROUGH, "YYYY-MM-DD", value=reviews.today().isoformat()),
                        "last day the record is complete",
                    ),
                ],
            ),
            html.Button("Mark reviewed", id=ids.REVIEW_BUTTON, n_clicks=0, className="btn btn-primary"),
            html.Div(id=ids.REVIEW_MESSAGE, role="status"),
        ],
    )


def upload_panel() -> html.Section:
    return html.Section(
        className="card section form",
        children=[
            html.H2("Import a CSV file"),
            html.P(
                [
                    "Header ",
                    html.Code("indicator,date,end,value,source,reliability,credibility,note"),
                    " (end, reliability, credibility and note optional; an optional recorded_at column "
                    "back-fills when each fact became known). All or nothing: one bad row and nothing is stored.",
                ],
                className="muted",
            ),
            dcc.Upload(
                id=ids.UPLOAD,
                className="upload",
                max_size=MAX_IMPORT_BYTES,
                multiple=False,
                accept=".csv,text/csv",
                children=html.Div(["Drop a CSV file here or ", html.Span("choose a file", className="link")]),
            ),
            html.Div(id=ids.UPLOAD_MESSAGE, role="status"),
        ],
    )


def edit_panel() -> html.Section:
    return html.Section(
        className="card section form",
        children=[
            html.H2("Correct or retract"),
            html.P(id=ids.EDIT_SELECTED, className="selected-obs"),
            html.Div(
                className="form-grid",
                children=[
                    # options named as the CSV columns, and no default: a selected dropdown is named by its
                    # value, which must not compete with the add form's labels ("Value", "Date", ...)
                    _field(
                        "Field to correct",
                        ids.EDIT_FIELD,
                        dcc.Dropdown(
                            id=ids.EDIT_FIELD,
                            options=[{"label": key, "value": key} for key in views.CORRECTABLE_FIELDS],
                            value=None,
                            placeholder="choose a field",
                            clearable=True,
                            className="dropdown",
                        ),
                    ),
                    _field("Corrected entry", ids.EDIT_VALUE, _text(ids.EDIT_VALUE, "the new entry for that field")),
                    _field(
                        "Reason for change", ids.EDIT_REASON, _text(ids.EDIT_REASON, "required; kept in the record")
                    ),
                ],
            ),
            html.Div(
                className="button-row",
                children=[
                    html.Button("Correct observation", id=ids.CORRECT_BUTTON, n_clicks=0, className="btn btn-primary"),
                    html.Button("Retract observation", id=ids.RETRACT_BUTTON, n_clicks=0, className="btn btn-danger"),
                ],
            ),
            html.Div(id=ids.EDIT_MESSAGE, role="status"),
        ],
    )


# ---------------------------------------------------------------------------- charts


@dash.callback(
    Output(ids.IND_SELECT, "options"),
    Output(ids.IND_SELECT, "value"),
    Output(ids.ADD_INDICATOR_LIST, "children"),
    Input(ids.CASE, "data"),
    State(ids.IND_SELECT, "value"),
)
def indicator_choices(case_id: str, current: list[str] | None) -> tuple[list[dict], list[str], list[Any]]:
    """The case's indicators for the chart selector and the form's suggestions."""
    store = views.get_store()
    case = store.get_case(case_id).case
    forecast = load_forecast(store, current_run(store, case_id))
    options = [{"label": f"{i.name} ({i.id})", "value": i.id} for i in case.indicators]
    value = current or views.default_chart_selection(case.indicator_ids, forecast.document if forecast else None)
    suggestions = [html.Option(value=i.id, label=i.name) for i in case.indicators]
    return options, value, suggestions


@dash.callback(
    Output(ids.IND_CHARTS, "children"),
    Input(ids.IND_SELECT, "value"),
    Input(ids.RUN_STATE, "data"),
    Input(ids.OBS_VERSION, "data"),
    State(ids.CASE, "data"),
)
def render_charts(selected: list[str] | None, _state: Any, _version: Any, case_id: str) -> list[Any]:
    """One chart per selected indicator, from the latest run and the observations in effect."""
    if not selected:
        return [html.P("Choose indicators to chart above.", className="muted")]
    store = views.get_store()
    case = store.get_case(case_id).case
    forecast = load_forecast(store, current_run(store, case_id))
    doc = forecast.document if forecast else None
    frame = views.observations_now(store, case_id)
    news = views.run_cached(
        forecast,
        ("new_observations", views.frame_version(frame)),
        lambda: views.new_observations_by_indicator(frame, doc),
    )
    out = []
    for ind_id in selected:
        if ind_id not in case.indicator_ids:
            continue
        ind = case.indicator(ind_id)
        new, new_key = news.get(ind_id) or (views.new_observations(frame, doc, ind_id), ())
        # built once per run, indicator and observations not in the run (figures are the slow part),
        # and kept as the plain dict a dcc.Graph is sent (plotly's per-response conversion is slow)
        build = functools.partial(_indicator_figure, ind, doc, new)
        key = ("indicator_figure", ind_id, ind.name, ind.unit, new_key)
        fig = views.run_cached(forecast, key, lambda b=build: b().to_dict()) if forecast is not None else build()
        out.append(
            html.Div(
                className="card chart-card",
                id=f"chart-{ind_id}",
                children=[
                    dcc.Graph(figure=fig, config=GRAPH_CONFIG),
                    html.P(ind.description, className="chart-caption"),
                ],
            )
        )
    return out


def _indicator_figure(ind: Any, forecast: ForecastDocument | None, new: Any) -> Any:
    return figures.indicator_figure(ind.id, forecast=forecast, observations=new, title=f"{ind.name}", unit=ind.unit)


# ---------------------------------------------------------------------------- table


@dash.callback(
    Output(ids.IND_TABLE, "data"),
    Output(ids.IND_TABLE, "tooltip_data"),
    Output(ids.IND_TABLE, "selected_rows"),
    Output(ids.IND_TABLE_NOTE, "children"),
    Input(ids.RUN_STATE, "data"),
    Input(ids.OBS_VERSION, "data"),
    State(ids.CASE, "data"),
)
def render_table(_state: Any, _version: Any, case_id: str) -> tuple[list[dict], list[dict], list[int], str]:
    """The observations in effect now, with the latest run's genuine/surprise flags."""
    store = views.get_store()
    frame = views.observations_now(store, case_id)
    forecast = load_forecast(store, current_run(store, case_id))
    doc = forecast.document if forecast else None
    rows = views.run_cached(
        forecast, ("observation_table", views.frame_version(frame)), lambda: views.observation_table(frame, doc)
    )
    from dashboard.services.analysis import observation_flags

    flags = observation_flags(doc)
    for r in rows:
        r["pit"] = (flags.get(int(r["id"])) or {}).get("pit")
    note = (
        f"{len(rows)} observations in effect (corrections applied, retractions removed). "
        "Filter with the row under the headers (e.g. 'leader' or '> 100'); sort by clicking a header; "
        "hover a source or note for the full text. "
        "Rel./Cred.: Admiralty grades; P(genuine), Surprise (outside the central 95% of the "
        "leave-one-out posterior predictive) and PIT come from "
        + (f"run {forecast.run_id}." if forecast else "the latest run (none yet).")
    )
    return rows, views.table_tooltips(rows), [], note


# ---------------------------------------------------------------------------- add form


@dash.callback(
    Output(ids.ADD_MESSAGE, "children"),
    Output(ids.OBS_VERSION, "data", allow_duplicate=True),
    Input(ids.ADD_BUTTON, "n_clicks"),
    State(ids.ADD_INDICATOR, "value"),
    State(ids.ADD_DATE, "value"),
    State(ids.ADD_END, "value"),
    State(ids.ADD_VALUE, "value"),
    State(ids.ADD_SOURCE, "value"),
    State(ids.ADD_RELIABILITY, "value"),
    State(ids.ADD_CREDIBILITY, "value"),
    State(ids.ADD_NOTE, "value"),
    State(ids.CASE, "data"),
    State(ids.OBS_VERSION, "data"),
    prevent_initial_call=True,
)
def add_observation(
    n_clicks: int | None,
    indicator: Any,
    date: Any,
    end: Any,
    value: Any,
    source: Any,
    reliability: Any,
    credibility: Any,
    note: Any,
    case_id: str,
    version: int | None,
) -> tuple[Any, Any]:
    """Store one observation from the form, or show every problem (nothing stored then)."""
    if not n_clicks:
        raise PreventUpdate
    try:
        actor = auth.require_editor("add observations")
    except auth.NotAllowed as exc:
        return _refused(exc), no_update
    row = views.form_row(
        indicator=indicator,
        date=date,
        end=end,
        value=value,
        source=source,
        reliability=reliability,
        credibility=credibility,
        note=note,
    )
    try:
        (new_id,) = views.get_store().add_observations(case_id, [row], actor=actor, where="observation")
    except BadInput as exc:
        return _alert("Observation not added:", views.form_errors(exc)), no_update
    return _ok(f"Added observation {new_id}."), (version or 0) + 1


# ---------------------------------------------------------------------------- reviewed series


def stale_notice(case_id: str, *, link: bool = False, view: dict[str, Any] | None = None) -> html.Div | None:
    """The red notice naming each series not reviewed for longer than the stale limit, as of
    now (:func:`dashboard.services.reviews.stale_notice` of ``view``, by default read from the
    store); ``None`` when none is. ``link``: end with a link to this page (the Overview's copy)."""
    notice = reviews.stale_notice(view or reviews.stale_view(views.get_store(), case_id))
    if notice is None:
        return None
    children: list[Any] = [
        html.Strong(notice["headline"]),
        " ",
        notice["explanation"],
        html.Ul([html.Li(line) for line in notice["lines"]]),
    ]
    if link:
        children.append(
            html.A("Mark series reviewed on the Indicators page", href=cases.with_case("/indicators", case_id))
        )
    return html.Div(children, className="notice notice-alert stale-series", role="alert")


def review_table(rows: list[dict[str, Any]]) -> Any:
    """The open-coverage series of :func:`dashboard.services.reviews.review_rows`."""
    if not rows:
        return html.P("This case has no open-coverage series.", className="muted")
    head = html.Thead(
        html.Tr([html.Th("Series"), html.Th("Reviewed through"), html.Th("Last checked"), html.Th("Status")])
    )
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td([r["name"], " ", html.Code(r["indicator"], className="muted")]),
                    html.Td(r["reviewed_through"], className="num"),
                    html.Td(r["ago"]),
                    html.Td(html.Span("stale", className="label-alert") if r["stale"] else "up to date"),
                ],
                className="stale" if r["stale"] else "",
            )
            for r in rows
        ]
    )
    return html.Table([head, body], className="table review-table")


@dash.callback(
    Output(ids.IND_STALE, "children"),
    Output(ids.REVIEW_TABLE, "children"),
    Output(ids.REVIEW_INDICATOR, "options"),
    Input(ids.OBS_VERSION, "data"),
    Input(ids.RUN_STATE, "data"),
    State(ids.CASE, "data"),
)
def render_reviews(_version: Any, _state: Any, case_id: str) -> tuple[Any, Any, list[dict[str, str]]]:
    """The stale-series notice, the reviewed-series table and the form's series, as of now."""
    view = reviews.stale_view(views.get_store(), case_id)
    return stale_notice(case_id, view=view), review_table(reviews.review_rows(view)), reviews.review_choices(view)


@dash.callback(
    Output(ids.REVIEW_MESSAGE, "children"),
    Output(ids.OBS_VERSION, "data", allow_duplicate=True),
    Input(ids.REVIEW_BUTTON, "n_clicks"),
    State(ids.REVIEW_INDICATOR, "value"),
    State(ids.REVIEW_THROUGH, "value"),
    State(ids.CASE, "data"),
    State(ids.OBS_VERSION, "data"),
    prevent_initial_call=True,
)
def mark_reviewed(
    n_clicks: int | None, indicator: Any, through: Any, case_id: str, version: int | None
) -> tuple[Any, Any]:
    """Record that the chosen series' record is complete through the date given (a review
    record, under the acting editor), or say in one sentence why not (nothing recorded then)."""
    if not n_clicks:
        raise PreventUpdate
    try:
        actor = auth.require_editor("mark series reviewed")
    except auth.NotAllowed as exc:
        return _refused(exc), no_update
    try:
        done = reviews.mark_reviewed(views.get_store(), case_id, indicator, through, actor=actor)
    except BadInput as exc:
        message = html.Div([html.Strong("Not recorded: "), _sentence(str(exc))], className="notice notice-alert")
        return message, no_update
    return _ok(done), (version or 0) + 1


# ---------------------------------------------------------------------------- upload


def decode_upload(contents: str) -> bytes:
    """The bytes of a dcc.Upload ``contents`` data URL."""
    try:
        _, b64 = contents.split(",", 1)
        return base64.b64decode(b64, validate=True)
    except (ValueError, binascii.Error):
        raise BadInput("the uploaded file could not be read (not a base64 data URL).") from None


@dash.callback(
    Output(ids.UPLOAD_MESSAGE, "children"),
    Output(ids.OBS_VERSION, "data", allow_duplicate=True),
    Output(ids.UPLOAD, "contents"),
    Input(ids.UPLOAD, "contents"),
    State(ids.UPLOAD, "filename"),
    State(ids.CASE, "data"),
    State(ids.OBS_VERSION, "data"),
    prevent_initial_call=True,
)
def upload_csv(contents: str | None, filename: str | None, case_id: str, version: int | None) -> tuple[Any, Any, None]:
    """Import an uploaded CSV all or nothing; list every bad row with its line and reason."""
    if not contents:
        raise PreventUpdate
    name = filename or "uploaded file"
    try:
        actor = auth.require_editor("import observations")
    except auth.NotAllowed as exc:
        return _refused(exc), no_update, None
    try:
        new_ids, outside = views.import_upload(
            views.get_store(), case_id, decode_upload(contents), filename=name, actor=actor
        )
    except BadInput as exc:
        headline, rows = views.upload_errors(exc)
        return _alert(headline, rows, element_id="upload-errors"), no_update, None
    done = f"Imported {len(new_ids)} observation(s) from {name} (ids {new_ids[0]}–{new_ids[-1]})."
    if outside:  # stored, but outside their indicator's coverage: say which rows the model ignores
        message = html.Div(
            [html.Div(done), html.Strong(outside[0]), html.Ul([html.Li(t) for t in outside[1:]])],
            className="notice notice-info",
            id="upload-coverage",
        )
        return message, (version or 0) + 1, None
    return _ok(done), (version or 0) + 1, None


# ---------------------------------------------------------------------------- correct / retract


@dash.callback(
    Output(ids.EDIT_SELECTED, "children"),
    Input(ids.IND_TABLE, "selected_row_ids"),
    State(ids.CASE, "data"),
)
def show_selected(selected_ids: list[int] | None, case_id: str) -> str:
    obs_id = selected_ids[0] if selected_ids else None
    frame = views.observations_now(views.get_store(), case_id) if obs_id is not None else None
    return views.describe_observation(frame, obs_id)


@dash.callback(
    Output(ids.EDIT_MESSAGE, "children"),
    Output(ids.OBS_VERSION, "data", allow_duplicate=True),
    Input(ids.CORRECT_BUTTON, "n_clicks"),
    Input(ids.RETRACT_BUTTON, "n_clicks"),
    State(ids.IND_TABLE, "selected_row_ids"),
    State(ids.EDIT_FIELD, "value"),
    State(ids.EDIT_VALUE, "value"),
    State(ids.EDIT_REASON, "value"),
    State(ids.CASE, "data"),
    State(ids.OBS_VERSION, "data"),
    prevent_initial_call=True,
)
def edit_observation(
    n_correct: int | None,
    n_retract: int | None,
    selected_ids: list[int] | None,
    field: str | None,
    new_value: Any,
    reason: str | None,
    case_id: str,
    version: int | None,
    *,
    action: str | None = None,
) -> tuple[Any, Any]:
    """Correct (one field) or retract the selected observation, with a reason."""
    if action is None:
        trigger = dash.ctx.triggered_id
        if trigger == ids.CORRECT_BUTTON and n_correct:
            action = "correct"
        elif trigger == ids.RETRACT_BUTTON and n_retract:
            action = "retract"
        else:  # the page was shown, nothing was pressed
            raise PreventUpdate
    try:
        actor = auth.require_editor(f"{action} observations")
    except auth.NotAllowed as exc:
        return _refused(exc), no_update
    if not selected_ids:
        return _alert("Select an observation in the table first.", []), no_update
    obs_id = int(selected_ids[0])
    store = views.get_store()
    try:
        if action == "retract":
            new_id = store.retract(obs_id, reason=reason or "", actor=actor)
            message = f"Retracted observation {obs_id} (retraction record {new_id})."
        else:
            if not field:
                raise BadInput("choose the field to correct.")
            if new_value is None or (isinstance(new_value, str) and not new_value.strip() and field != "note"):
                raise BadInput(f"give the corrected entry for {views.CORRECTABLE_FIELDS.get(field, field)}.")
            new_id = store.correct(obs_id, {field: new_value}, reason=reason or "", actor=actor)
            message = f"Corrected observation {obs_id} (correction record {new_id})."
    except BadInput as exc:
        return _alert("Not changed:", [_sentence(str(exc))]), no_update
    return _ok(message), (version or 0) + 1


# ---------------------------------------------------------------------------- helpers


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _refused(exc: auth.NotAllowed) -> html.Div:
    """The editing check's refusal, with a link to the login page."""
    return html.Div(
        [html.Strong("Not allowed: "), str(exc), " ", html.A("Log in", href="/login?next=/indicators")],
        className="notice notice-alert not-allowed",
        role="alert",
    )


def _ok(text: str) -> html.Div:
    return html.Div(text, className="notice notice-ok")


def _alert(headline: str, lines: list[str], *, element_id: str | None = None) -> html.Div:
    children: list[Any] = [html.Strong(headline)]
    if lines:
        children.append(html.Ul([html.Li(line) for line in lines]))
    kw = {"id": element_id} if element_id else {}
    return html.Div(children, className="notice notice-alert", **kw)
