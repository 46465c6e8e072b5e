"""Scenarios: pick a case-file or saved scenario, edit or build one, save it, run it against the
current run and compare with the baseline for every outcome and horizon.

Running a scenario reweights the current run's posterior draws in the request (importance
sampling, no MCMC; a second or so). When the reweighting's k-hat is above 0.7 the result is shown
as unreliable and a refit with the hypothetical observations starts as a background callback
(editors only; progress bar), whose result then replaces it. Saving needs the editor role.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, dash_table, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import figures
from dashboard.services import views
from dashboard.web import auth, ids
from dashboard.web.layout import control, page_head
from indicators.errors import BadInput

dash.register_page(__name__, path="/scenarios", name="Scenarios", order=3, title="Harbinger · Scenarios")
auth.protect_output(ids.SC_REFIT_RESULT, "data")

COLUMNS = [
    ("indicator", "Indicator"),
    ("months_ahead", "Months ahead"),
    ("span_months", "Span (months)"),
    ("value", "Value"),
    ("reliability", "Reliability"),
    ("credibility", "Credibility"),
    ("note", "Note"),
]
GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]}
BLANK_ROW = {
    "indicator": "",
    "months_ahead": "",
    "span_months": "0",
    "value": "",
    "reliability": "B",
    "credibility": "2",
    "note": "",
}

#: The function the background refit calls, ``(store, case_id, spec, progress) -> document``;
#: ``None`` means :func:`dashboard.services.analysis.run_scenario`. Tests put a fake here.
REFIT_FUNCTION: Callable[..., dict[str, Any]] | None = None


def _field(label: str, component_id: str, control: Any) -> html.Div:
    return html.Div(
        className="field", children=[html.Label(label, htmlFor=component_id, className="field-label"), control]
    )


def layout(**_kwargs: Any) -> html.Div:
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"(?s).*dash_table\.DataTable will be removed", category=DeprecationWarning
        )
        table = dash_table.DataTable(
            id=ids.SC_TABLE,
            columns=[{"name": n, "id": k, "editable": True} for k, n in COLUMNS],
            data=[dict(BLANK_ROW)],
            editable=True,
            row_deletable=True,
            style_table={"overflowX": "auto"},
            style_cell={
                "textAlign": "left",
                "fontSize": "13px",
                "padding": "5px 8px",
                "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif",
                "border": "1px solid #e6e9ef",
                "minWidth": "5rem",
                "maxWidth": "22rem",
                "whiteSpace": "normal",
            },
            style_header={"fontWeight": "600", "backgroundColor": "#f4f6fa", "color": "#1d2433"},
        )
    return html.Div(
        className="scenarios",
        children=[
            page_head(
                "Scenarios",
                control(
                    "Scenario",
                    dcc.Dropdown(
                        id=ids.SC_SELECT,
                        placeholder="Choose a scenario, or build one below",
                        className="dropdown",
                        clearable=True,
                    ),
                    wide=True,
                ),
            ),
            html.Div(id=ids.SC_DESCRIPTION, className="muted"),
            html.Section(
                className="card section",
                children=[
                    html.H2("Hypothetical observations"),
                    html.P(
                        "Each row is an observation the scenario supposes, placed relative to the run's as-of date: "
                        "'Months ahead' after it, lasting 'Span' months (0 = a single day, e.g. one event). Values "
                        "use the indicator's unit (counts of events, 0/1, levels). Edit the rows, add or delete "
                        "them, then run the scenario or save it under a name.",
                        className="muted",
                    ),
                    table,
                    html.Div(
                        className="button-row",
                        children=[
                            html.Button("Add a row", id=ids.SC_ADD_ROW, n_clicks=0, className="btn"),
                            html.Button("Run scenario", id=ids.SC_RUN, n_clicks=0, className="btn btn-primary"),
                        ],
                    ),
                    html.Div(
                        className="form-grid",
                        style={"marginTop": "14px"},
                        children=[
                            _field(
                                "Scenario name",
                                ids.SC_NAME,
                                dcc.Input(
                                    id=ids.SC_NAME, type="text", className="input", placeholder="name to save under"
                                ),
                            ),
                            _field(
                                "Scenario description",
                                ids.SC_SAVE_DESCRIPTION,
                                dcc.Input(
                                    id=ids.SC_SAVE_DESCRIPTION, type="text", className="input", placeholder="optional"
                                ),
                            ),
                        ],
                    ),
                    html.Button("Save scenario", id=ids.SC_SAVE, n_clicks=0, className="btn"),
                    html.Div(id=ids.SC_SAVE_MESSAGE, role="status"),
                ],
            ),
            html.Div(
                id=ids.SC_PROGRESS_BOX,
                className="progress-box hidden",
                children=[
                    html.Progress(id=ids.SC_PROGRESS, value="0", max="100"),
                    html.Span(id=ids.SC_PROGRESS_LABEL, className="progress-label"),
                ],
            ),
            html.Div(id=ids.SC_MESSAGE, role="status"),
            html.Section(
                className="card section",
                children=[
                    html.H2("Scenario against the baseline"),
                    html.Div(id=ids.SC_SUMMARY),
                    html.Div(id=ids.SC_COMPARISON),
                    dcc.Graph(id=ids.SC_CHART, config=GRAPH_CONFIG, figure=empty_figure()),
                ],
            ),
            dcc.Store(id=ids.SC_RESULT),
            dcc.Store(id=ids.SC_REFIT_REQUEST),
            dcc.Store(id=ids.SC_REFIT_RESULT),
            dcc.Store(id=ids.SC_SAVED_VERSION, data=0),
        ],
    )


# ---------------------------------------------------------------------------- choosing and editing


@dash.callback(
    Output(ids.SC_SELECT, "options"),
    Input(ids.CASE, "data"),
    Input(ids.SC_SAVED_VERSION, "data"),
)
def scenario_options(case_id: str, _version: Any) -> list[dict[str, str]]:
    """The case file's scenarios, then the saved ones."""
    from dashboard.services.analysis import scenario_specs

    return [
        {"label": f"{s.name} ({'saved' if s.origin == 'saved' else 'case file'})", "value": s.id}
        for s in scenario_specs(views.get_store(), case_id)
    ]


@dash.callback(
    Output(ids.SC_TABLE, "data"),
    Output(ids.SC_DESCRIPTION, "children"),
    Output(ids.SC_NAME, "value"),
    Input(ids.SC_SELECT, "value"),
    State(ids.CASE, "data"),
    prevent_initial_call=True,
)
def load_scenario(name: str | None, case_id: str) -> tuple[list[dict[str, Any]], Any, str]:
    """Put the chosen scenario's observations in the table."""
    from dashboard.services.analysis import find_scenario

    if not name:
        return [dict(BLANK_ROW)], "", ""
    spec = find_scenario(views.get_store(), case_id, name)
    rows = [{k: ("" if o.get(k) is None else str(o.get(k))) for k, _ in COLUMNS} for o in spec.observations]
    for r in rows:
        r["value"] = _num_text(r["value"])
    text = [html.Strong(spec.name), f": {spec.description}"]
    if spec.source:
        text += [html.Br(), html.Span(f"Source: {spec.source}", className="small")]
    return rows, html.P(text, id="scenario-description-text"), spec.name if spec.origin == "saved" else ""


def _num_text(text: str) -> str:
    try:
        v = float(text)
    except ValueError:
        return text
    return f"{v:g}"


@dash.callback(
    Output(ids.SC_TABLE, "data", allow_duplicate=True),
    Input(ids.SC_ADD_ROW, "n_clicks"),
    State(ids.SC_TABLE, "data"),
    prevent_initial_call=True,
)
def add_row(n_clicks: int | None, rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if not n_clicks:
        raise PreventUpdate
    return list(rows or []) + [dict(BLANK_ROW)]


def table_observations(rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The table's non-blank rows as hypothetical observations (numbers parsed; validation is the
    store's :func:`indicators.alerts.validate_scenario`)."""
    out = []
    for k, r in enumerate(rows or [], start=1):
        if not any(str(r.get(c) or "").strip() for c in ("indicator", "months_ahead", "value")):
            continue
        obs: dict[str, Any] = {"indicator": str(r.get("indicator") or "").strip(), "note": str(r.get("note") or "")}
        for key, kind, default in (
            ("months_ahead", int, None),
            ("span_months", int, 0),
            ("value", float, None),
            ("credibility", int, 2),
        ):
            text = str(r.get(key) if r.get(key) is not None else "").strip()
            if not text:
                if default is None:
                    raise BadInput(f"row {k}: '{dict(COLUMNS)[key]}' is empty.")
                obs[key] = default
                continue
            try:
                obs[key] = kind(float(text)) if kind is int else float(text)
            except ValueError:
                raise BadInput(f"row {k}: '{dict(COLUMNS)[key]}' is not a number ('{text}').") from None
            if kind is int and float(text) != int(float(text)):
                raise BadInput(f"row {k}: '{dict(COLUMNS)[key]}' must be a whole number ('{text}').")
        obs["reliability"] = str(r.get("reliability") or "B").strip().upper()
        out.append(obs)
    return out


def _spec_for(
    store: Any,
    case_id: str,
    selected: str | None,
    rows: list[dict[str, Any]] | None,
    name: str | None,
    description: str | None,
) -> Any:
    """The chosen scenario when the table still holds its observations; else an ad-hoc one."""
    from dashboard.services.analysis import adhoc_spec, find_scenario

    observations = table_observations(rows)
    if selected:
        spec = find_scenario(store, case_id, selected)
        if _same(spec.observations, observations):
            return spec
    label = (name or "").strip() or "ad-hoc scenario"
    return adhoc_spec(
        store,
        case_id,
        name=label if label != selected else f"{label} (edited)",
        description=description or "",
        observations=observations,
    )


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    keys = ("indicator", "months_ahead", "span_months", "value", "reliability", "credibility")

    def norm(rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
        return [tuple(str(float(r.get(k))) if k in ("value",) else str(r.get(k)) for k in keys) for r in rows]

    return norm(a) == norm(b)


# ---------------------------------------------------------------------------- saving


@dash.callback(
    Output(ids.SC_SAVE_MESSAGE, "children"),
    Output(ids.SC_SAVED_VERSION, "data"),
    Input(ids.SC_SAVE, "n_clicks"),
    State(ids.SC_TABLE, "data"),
    State(ids.SC_NAME, "value"),
    State(ids.SC_SAVE_DESCRIPTION, "value"),
    State(ids.CASE, "data"),
    State(ids.SC_SAVED_VERSION, "data"),
    prevent_initial_call=True,
)
def save(
    n_clicks: int | None,
    rows: list[dict[str, Any]] | None,
    name: str | None,
    description: str | None,
    case_id: str,
    version: int | None,
) -> tuple[Any, Any]:
    """Save the table under the name (editors only); every problem is shown, nothing saved then."""
    from indicators.alerts import save_scenario

    if not n_clicks:
        raise PreventUpdate
    try:
        actor = auth.require_editor("save scenarios")
    except auth.NotAllowed as exc:
        return _alert(f"Not allowed: {exc}"), dash.no_update
    try:
        sid = save_scenario(
            views.get_store(),
            case_id,
            name=name or "",
            description=description or "",
            observations=table_observations(rows),
            actor=actor,
        )
    except BadInput as exc:
        return _alert(f"Not saved: {_sentence(str(exc))}"), dash.no_update
    return html.Div(
        f"Saved scenario '{(name or '').strip()}' (id {sid}).", className="notice notice-ok", id="scenario-saved-text"
    ), (version or 0) + 1


# ---------------------------------------------------------------------------- running


@dash.callback(
    Output(ids.SC_RESULT, "data"),
    Output(ids.SC_MESSAGE, "children"),
    Output(ids.SC_REFIT_REQUEST, "data"),
    Input(ids.SC_RUN, "n_clicks"),
    State(ids.SC_SELECT, "value"),
    State(ids.SC_TABLE, "data"),
    State(ids.SC_NAME, "value"),
    State(ids.SC_SAVE_DESCRIPTION, "value"),
    State(ids.CASE, "data"),
    prevent_initial_call=True,
)
def run(
    n_clicks: int | None,
    selected: str | None,
    rows: list[dict[str, Any]] | None,
    name: str | None,
    description: str | None,
    case_id: str,
) -> tuple[Any, Any, Any]:
    """The fast path in the request; a refit request when its k-hat is above 0.7."""
    from dashboard.services import analysis as sa

    if not n_clicks:
        raise PreventUpdate
    store = views.get_store()
    try:
        spec = _spec_for(store, case_id, selected, rows, name, description)
        doc = sa.run_scenario(store, case_id, spec, refit=False)
    except BadInput as exc:
        return None, _alert(f"Not run: {_sentence(str(exc))}"), dash.no_update
    except sa.AnalysisUnavailable as exc:
        return None, _alert(f"Cannot run scenarios on this run: {_sentence(str(exc))}"), dash.no_update
    doc["at"] = time.time()
    if doc["reliable"]:
        return doc, None, dash.no_update
    if auth.current_role() != "editor":
        return (
            doc,
            _alert("The reweighting is unreliable (k-hat above 0.7) and a refit needs an editor; log in to refit."),
            dash.no_update,
        )
    note = html.Div(
        "The reweighting is unreliable (k-hat above 0.7): refitting the model with the "
        "hypothetical observations in the background; the result replaces this one when done.",
        className="notice notice-info",
        id="scenario-refit-note",
    )
    return doc, note, {"spec": spec.as_dict(), "run_id": doc["run_id"], "at": time.time()}


def run_refit(
    set_progress: Callable[[Any], None],
    case_id: str,
    request: dict[str, Any],
    *,
    refit: Callable[..., dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The background refit's body: the scenario refitted on the request's run."""
    from dashboard.services import analysis as sa
    from models.scenarios import ScenarioSpec

    views.forget_stores()  # in the background process: never reuse the parent's connections
    store = views.get_store()
    spec = ScenarioSpec(**request["spec"])

    def progress(fraction: float, message: str) -> None:
        set_progress((str(round(100 * max(0.0, min(1.0, float(fraction))))), str(message)))

    progress(0.0, "Starting the refit…")
    fn = refit or REFIT_FUNCTION
    try:
        if fn is not None:
            doc = fn(store, case_id, spec, progress)
        else:
            doc = sa.run_scenario(store, case_id, spec, run_id=request.get("run_id"), refit=True, progress=progress)
    except Exception as exc:  # noqa: BLE001 - shown to the user; the reweighted result stays
        return {"error": f"The refit failed ({type(exc).__name__}: {exc}).", "at": time.time()}
    doc["at"] = time.time()
    return doc


@dash.callback(
    Output(ids.SC_REFIT_RESULT, "data"),
    Input(ids.SC_REFIT_REQUEST, "data"),
    State(ids.CASE, "data"),
    background=True,
    progress=[Output(ids.SC_PROGRESS, "value"), Output(ids.SC_PROGRESS_LABEL, "children")],
    progress_default=["0", ""],
    running=[
        (Output(ids.SC_RUN, "disabled"), True, False),
        (Output(ids.SC_PROGRESS_BOX, "className"), "progress-box", "progress-box hidden"),
    ],
    prevent_initial_call=True,
    interval=1000,
)
def refit(set_progress: Callable[[Any], None], request: dict | None, case_id: str) -> dict[str, Any]:
    """Background callback: refit the scenario (k-hat was above 0.7)."""
    if not request:
        raise PreventUpdate
    return run_refit(set_progress, case_id, request)


# ---------------------------------------------------------------------------- showing


@dash.callback(
    Output(ids.SC_SUMMARY, "children"),
    Output(ids.SC_COMPARISON, "children"),
    Output(ids.SC_CHART, "figure"),
    Input(ids.SC_RESULT, "data"),
    Input(ids.SC_REFIT_RESULT, "data"),
    State(ids.CASE, "data"),
)
def show(fast: dict | None, refitted: dict | None, case_id: str | None = None) -> tuple[Any, Any, go.Figure]:
    """The newest result: its method and k-hat, the comparison table and the chart."""
    docs = [d for d in (fast, refitted) if d]
    if not docs:
        return html.P("Run a scenario to compare it with the baseline.", className="muted"), None, empty_figure()
    doc = max(docs, key=lambda d: d.get("at", 0))
    if "error" in doc:
        return _alert(doc["error"]), None, empty_figure()
    return summary(doc), comparison_table(doc, questions=outcome_questions(case_id)), scenario_figure(doc)


@dash.callback(
    Output(ids.SC_MESSAGE, "children", allow_duplicate=True),
    Input(ids.SC_REFIT_RESULT, "data"),
    prevent_initial_call=True,
)
def refit_done(result: dict | None) -> Any:
    """The background refit ended: the "refitting…" notice gives way to how it ended."""
    if not result:
        raise PreventUpdate
    return refit_message(result)


def refit_message(result: dict[str, Any]) -> html.Div:
    """How a scenario refit ended, with its diagnostics."""
    if "error" in result:
        return _alert(result["error"] + " The reweighted result is shown instead, marked unreliable.")
    diag = result.get("refit_diagnostics") or {}
    if diag and not diag.get("ok", True):
        return html.Div(
            "Refit finished, but its diagnostics failed ("
            + "; ".join(diag.get("problems") or [])
            + "): read the refitted numbers below with care.",
            className="notice notice-alert",
            id="scenario-refit-done",
            role="alert",
        )
    checks = views.diagnostics_text(diag) if diag else ""
    return html.Div(
        "Refit finished: the numbers below are the refitted scenario"
        + (f" (diagnostics passed: {checks})." if checks else "."),
        className="notice notice-ok",
        id="scenario-refit-done",
    )


def outcome_questions(case_id: str | None) -> dict[str, str]:
    """Each outcome's question, by id (empty without a case)."""
    if not case_id:
        return {}
    try:
        return {o.id: o.question for o in views.get_store().get_case(case_id).case.outcomes}
    except BadInput:
        return {}


def summary(doc: dict[str, Any]) -> html.Div:
    s = doc["scenario"]
    k = doc.get("reweighting_khat")
    parts: list[Any] = [
        html.Span(["Scenario ", html.Strong(s["name"]), f" ({s['origin']})"], className="runbar-item"),
        html.Span(
            ["Run ", html.Code(doc["run_id"], className="run-id"), f" as of {doc['as_of']}"], className="runbar-item"
        ),
        html.Span(["Method ", html.Strong(doc["method"], id="scenario-method")], className="runbar-item"),
        html.Span(
            ["k-hat ", html.Strong("—" if k is None else f"{k:.2f}", id="scenario-khat")], className="runbar-item"
        ),
    ]
    if not doc["reliable"]:
        parts.append(
            html.Span(
                "Unreliable: k-hat above 0.7 — do not read these numbers as the scenario's forecast",
                className="runbar-item label-alert",
                id="scenario-unreliable",
            )
        )
    diag = doc.get("refit_diagnostics")
    if diag is not None and not diag.get("ok", True):
        parts.append(
            html.Span(
                "Refit diagnostics failed: " + "; ".join(diag.get("problems", [])),
                className="runbar-item label-alert",
                id="scenario-refit-diagnostics",
            )
        )
    elif diag is not None:
        parts.append(
            html.Span(
                f"Refit diagnostics OK · {views.diagnostics_text(diag)}",
                className="runbar-item diag-ok",
                id="scenario-refit-diagnostics",
            )
        )
    if doc.get("ignored"):
        parts.append(
            html.Span(
                f"{len(doc['ignored'])} hypothetical observation(s) carry no information "
                "(outside the indicator's coverage)",
                className="runbar-item",
            )
        )
    return html.Div(parts, className="runbar", id="scenario-summary-line")


def comparison_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for r in doc["results"]:
        b, s, d = r["baseline"], r["scenario"], r["difference"]
        rows.append(
            {
                "outcome": r["outcome"],
                "years": r["years"],
                "baseline": views.fmt_prob(b["p_mean"]),
                "baseline_90": f"{views.fmt_prob(b['p_05'])} – {views.fmt_prob(b['p_95'])}",
                "scenario": views.fmt_prob(s["p_mean"]),
                "scenario_90": f"{views.fmt_prob(s['p_05'])} – {views.fmt_prob(s['p_95'])}",
                "change": f"{d['pp']:+.2f} pts",
                "change_mc": f"{d['low_pp']:+.2f} to {d['high_pp']:+.2f}",
                "method": r["method"],
                "khat": "—" if r["khat"] is None else f"{r['khat']:.2f}",
            }
        )
    return rows


#: The comparison table's columns after the outcome: key, header.
COMPARISON_COLUMNS = [
    ("years", "Years"),
    ("baseline", "Baseline"),
    ("baseline_90", "Baseline 90% credible"),
    ("scenario", "Scenario"),
    ("scenario_90", "Scenario 90% credible"),
    ("change", "Change"),
    ("change_mc", "Change ± Monte Carlo error (90%)"),
    ("method", "Method"),
    ("khat", "k-hat"),
]


def comparison_table(doc: dict[str, Any], *, questions: dict[str, str] | None = None) -> html.Div:
    """Baseline against scenario per outcome (its question, id below) and horizon, with a note
    that the change's interval is Monte Carlo error, not the uncertainty of the change."""
    questions = questions or {}
    body = [
        html.Tr(
            [
                html.Td(
                    [
                        html.Div(questions.get(r["outcome"], r["outcome"]), className="sc-question"),
                        html.Code(r["outcome"], className="outcome-id"),
                    ]
                    if r["outcome"] in questions
                    else r["outcome"]
                )
            ]
            + [html.Td(str(r[k]), className="num" if k != "method" else None) for k, _ in COMPARISON_COLUMNS]
        )
        for r in comparison_rows(doc)
    ]
    head = html.Thead(html.Tr([html.Th("Outcome")] + [html.Th(h) for _, h in COMPARISON_COLUMNS]))
    table = html.Table(className="table", id="scenario-comparison-table", children=[head, html.Tbody(body)])
    note = html.P(
        "Baseline and Scenario: posterior mean with its 90% credible interval. Change ± Monte Carlo "
        "error: how precisely the change is computed from a finite number of draws (the change ± "
        "1.645 Monte Carlo standard errors); it is not a credible interval of the change, whose "
        "uncertainty the two credible intervals describe.",
        className="footnote",
        id="scenario-mc-note",
    )
    return html.Div([table, note])


def empty_figure() -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        height=120,
        margin=dict(l=10, r=10, t=10, b=10),
        paper_bgcolor="white",
        plot_bgcolor="white",
        xaxis=dict(visible=False),
        yaxis=dict(visible=False),
    )
    return fig


def scenario_figure(doc: dict[str, Any]) -> go.Figure:
    """Baseline and scenario probability (posterior mean, 90% interval) per outcome and horizon.

    Traces: one "Baseline" and one "Scenario" trace per outcome (markers with 90% error bars),
    x = horizon in years, y in percent; one subplot column per outcome."""
    from plotly.subplots import make_subplots

    outcomes = list(dict.fromkeys(r["outcome"] for r in doc["results"]))
    fig = make_subplots(rows=1, cols=max(len(outcomes), 1), subplot_titles=outcomes, shared_yaxes=False)
    for j, oid in enumerate(outcomes, start=1):
        rows = [r for r in doc["results"] if r["outcome"] == oid]
        xs = [r["years"] for r in rows]
        for key, name, color, shift in (
            ("baseline", "Baseline", figures.MUTED, -0.12),
            ("scenario", "Scenario", figures.ACCENT, 0.12),
        ):
            p = [100 * r[key]["p_mean"] for r in rows]
            lo = [100 * (r[key]["p_mean"] - r[key]["p_05"]) for r in rows]
            hi = [100 * (r[key]["p_95"] - r[key]["p_mean"]) for r in rows]
            fig.add_trace(
                go.Scatter(
                    x=[x * (1 + shift / 2) for x in xs],
                    y=p,
                    mode="markers+lines",
                    name=name,
                    legendgroup=name,
                    showlegend=j == 1,
                    marker=dict(color=color, size=8),
                    line=dict(color=color, width=1, dash="dot"),
                    error_y=dict(type="data", symmetric=False, array=hi, arrayminus=lo, color=color, thickness=1.2),
                    hovertemplate=f"{oid} · %{{x:.0f}} years · {name}: %{{y:.1f}}%<extra></extra>",
                ),
                row=1,
                col=j,
            )
        fig.update_xaxes(type="log", tickvals=xs, ticktext=[str(x) for x in xs], title_text="years", row=1, col=j)
    fig.update_yaxes(title_text="probability (%)", row=1, col=1)
    fig.update_layout(
        height=340,
        margin=dict(l=56, r=16, t=60, b=40),
        paper_bgcolor="white",
        plot_bgcolor="white",
        font=dict(family=figures.FONT, size=12, color=figures.INK),
        legend=dict(orientation="h", yanchor="bottom", y=1.08, xanchor="left", x=0),
    )
    return fig


# ---------------------------------------------------------------------------- helpers


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _alert(text: str) -> html.Div:
    return html.Div(text, className="notice notice-alert", role="alert")


__all__ = [
    "comparison_rows",
    "layout",
    "run_refit",
    "scenario_figure",
    "summary",
    "table_observations",
]
