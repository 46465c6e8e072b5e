"""Reports: download a run's forecast report (HTML, PDF) or export (CSV, JSON, netCDF).

The page lists the case's good runs as labelled radio buttons (the current one first, each labelled with its as-of date
and whether it passed its diagnostics), shows the chosen run's identity, and has one download
button per format. The files are exactly what ``harbinger report`` writes
(:mod:`dashboard.report`); a PDF takes some seconds to typeset, and the page says so.
"""

from __future__ import annotations

import base64
from typing import Any

import dash
from dash import ALL, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.services import views
from dashboard.services.forecasts import load_forecast
from dashboard.services.runs import current_runs
from dashboard.web import ids
from dashboard.web.layout import kept_choice, page_head
from indicators.errors import BadInput

dash.register_page(__name__, path="/reports", name="Reports", order=5, title="Harbinger · Reports")

#: Format -> what its button says and what the file is.
DESCRIPTIONS = {
    "html": ("Download HTML report", "A self-contained web page: opens offline, no scripts or external files."),
    "pdf": (
        "Download PDF report",
        (
            "The same report for print and e-mail: contents with page numbers, "
            "vector charts. Takes some seconds to typeset."
        ),
    ),
    "csv": (
        "Download CSV",
        ("The forecast table: every outcome and horizon with its 90% interval and the run's identity in every row."),
    ),
    "json": ("Download JSON", "The forecast table with the run's identity and diagnostics."),
    "netcdf": (
        "Download netCDF",
        ("The posterior draws (ArviZ InferenceData) with the run's identity in the attributes."),
    ),
}


FIELDSET_STYLE = {"border": "0", "padding": "0", "margin": "0 0 12px"}
#: The newest runs offered (a long history stays reachable with ``harbinger report --run``).
MAX_RUNS = 25
ITEM_STYLE = {"display": "flex", "alignItems": "center", "gap": "14px", "margin": "10px 0"}


def layout(**_kwargs: Any) -> html.Div:
    from dashboard.report import FORMATS

    return html.Div(
        className="reports",
        children=[
            page_head("Reports"),
            html.Section(
                className="card section",
                children=[
                    # a fieldset of labelled radio buttons: the legend names the group and every run has its
                    # own label (Dash's dropdown labels itself by its value, hiding an outer <label>)
                    html.Fieldset(
                        className="control control-wide",
                        style=FIELDSET_STYLE,
                        children=[
                            html.Legend("Run", className="control-label"),
                            dcc.RadioItems(
                                id=ids.RP_RUN,
                                options=[],
                                value=None,
                                className="run-list",
                                labelStyle={"display": "block", "margin": "4px 0"},
                            ),
                        ],
                    ),
                    html.Div(id=ids.RP_SUMMARY, className="report-summary"),
                ],
            ),
            html.Section(
                className="card section",
                children=[
                    html.H2("Download"),
                    html.Div(
                        id=ids.RP_BUTTONS,
                        className="download-list",
                        children=[
                            html.Div(
                                className="download-item",
                                style=ITEM_STYLE,
                                children=[
                                    html.Button(
                                        DESCRIPTIONS[fmt][0],
                                        id={"type": ids.RP_BUTTON, "format": fmt},
                                        n_clicks=0,
                                        className="btn btn-primary" if fmt in ("html", "pdf") else "btn",
                                        style={"minWidth": "200px"},
                                    ),
                                    html.Span(DESCRIPTIONS[fmt][1], className="muted small"),
                                ],
                            )
                            for fmt in FORMATS
                        ],
                    ),
                    html.Div(
                        "Making the file… (a PDF takes some seconds to typeset; the download starts by itself)",
                        id=ids.RP_BUSY,
                        className="hidden",
                        role="status",
                    ),
                    html.Div(id=ids.RP_MESSAGE, role="status"),
                    dcc.Download(id=ids.RP_DOWNLOAD),
                ],
            ),
        ],
    )


# ---------------------------------------------------------------------------- run choice


def run_options(store: Any, case_id: str) -> list[dict[str, Any]]:
    """The run choices: the case's good runs, current first, labelled with as-of and health."""
    options = []
    for i, run in enumerate(current_runs(store, case_id)[:MAX_RUNS]):
        health = "diagnostics ok" if run.get("diagnostics_ok") else "diagnostics FAILED"
        label = f"{run['id']} · as of {str(run['as_of'])[:10]} · {health}" + (" · current" if i == 0 else "")
        options.append({"label": label, "value": run["id"]})
    return options


@dash.callback(
    Output(ids.RP_RUN, "options"),
    Output(ids.RP_RUN, "value"),
    Input(ids.RUN_STATE, "data"),
    State(ids.RP_RUN, "value"),
    State(ids.CASE, "data"),
)
def choose_runs(_state: Any, current: str | None, case_id: str) -> tuple[list[dict[str, Any]], Any]:
    """The runs to choose from; the chosen one kept while it exists, else the current run."""
    options = run_options(views.get_store(), case_id)
    values = [o["value"] for o in options]
    return options, kept_choice(current, values)


@dash.callback(Output(ids.RP_SUMMARY, "children"), Input(ids.RP_RUN, "value"), State(ids.CASE, "data"))
def show_run(run_id: str | None, case_id: str) -> list[Any]:
    """The chosen run's identity; a red label when it failed its diagnostics."""
    store = views.get_store()
    run = store.get_run(run_id) if run_id else None
    if run is None:
        return [
            html.P(
                "No fitted run yet: fit the model (Refit on the Overview, or 'harbinger fit') to make a report.",
                className="muted",
            )
        ]
    forecast = load_forecast(store, run)
    summary = views.run_summary(run, forecast, stale_records=views.stale_records(store, case_id, run))
    rows = [
        ("Run id", run["id"]),
        ("As of", summary["as_of"]),
        ("Observations", summary["n_observations"]),
        ("Model version", summary["model_version"]),
        ("Case hash", run.get("case_hash")),
        ("Diagnostics", "passed · " + summary["diagnostics_text"] if summary["diagnostics_ok"] else "FAILED"),
    ]
    return [
        *[html.Div(text, className="notice notice-alert") for text in summary["warnings"]],
        html.Table(
            className="table table-kv",
            id="reports-run-table",
            children=[html.Tbody([html.Tr([html.Th(k), html.Td("" if v is None else str(v))]) for k, v in rows])],
        ),
    ]


# ---------------------------------------------------------------------------- downloads


def download(store: Any, case_id: str, run_id: str | None, fmt: str) -> tuple[dict[str, Any] | None, str]:
    """The ``dcc.Download`` data of a run's report in ``fmt`` and a message; ``(None, reason)``
    when it cannot be made (no run, no saved posterior, ...)."""
    from dashboard import report

    if not run_id:
        return None, "No run chosen: there is no fitted run to report on yet."
    try:
        content = report.build(store, case_id, run_id=run_id, fmt=fmt)
        data = report.render(content, fmt)
    except BadInput as exc:
        text = str(exc).removeprefix("--run: ")
        return None, text[:1].upper() + text[1:]
    name = report.filename(content, fmt)
    note = "" if content["diagnostics"]["ok"] else " This run FAILED its diagnostics; the report says so."
    payload = {
        "content": base64.b64encode(data).decode("ascii"),
        "filename": name,
        "base64": True,
        "type": report.FORMATS[fmt][1],
    }
    return payload, f"Downloaded {name} ({len(data):,} bytes).{note}"


@dash.callback(
    Output(ids.RP_DOWNLOAD, "data"),
    Output(ids.RP_MESSAGE, "children"),
    Input({"type": ids.RP_BUTTON, "format": ALL}, "n_clicks"),
    State(ids.RP_RUN, "value"),
    State(ids.CASE, "data"),
    prevent_initial_call=True,
    # while a file is made (a PDF takes seconds): every button disabled, and the page says what it does
    running=[
        (Output({"type": ids.RP_BUTTON, "format": ALL}, "disabled"), True, False),
        (Output(ids.RP_BUSY, "className"), "notice notice-info", "hidden"),
    ],
)
def download_clicked(clicks: list[int | None], run_id: str | None, case_id: str) -> tuple[Any, Any]:
    """A download button was pressed: make that format of the chosen run's report."""
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any(clicks):
        raise PreventUpdate
    data, message = download(views.get_store(), case_id, run_id, str(trigger["format"]))
    css = "notice notice-ok" if data is not None else "notice notice-alert"
    return (data if data is not None else dash.no_update), html.Div(message, className=css, id="reports-result")
