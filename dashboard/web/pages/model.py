"""Model: the latest run's diagnostics, factor paths, loadings and hazard priors vs posteriors."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboard import figures
from dashboard.services import views
from dashboard.services.forecasts import RunForecast, load_forecast
from dashboard.services.runs import current_run
from dashboard.web import ids
from dashboard.web.layout import page_head
from models.document import Diagnostics

dash.register_page(__name__, path="/model", name="Model", order=2, title="Harbinger · Model")

GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]}


def layout(**_kwargs: Any) -> html.Div:
    return html.Div(
        className="model",
        children=[
            page_head("Model"),
            html.Div(id=ids.MODEL_CONTENT),
        ],
    )


@dash.callback(Output(ids.MODEL_CONTENT, "children"), Input(ids.RUN_STATE, "data"), State(ids.CASE, "data"))
def render_model(_state: Any, case_id: str) -> list[Any]:
    """Everything about the latest ok run's fit."""
    store = views.get_store()
    run = current_run(store, case_id)
    forecast = load_forecast(store, run)
    if run is None or forecast is None:
        text = (
            "No run yet: the model has not been fitted for this case (start a fit with Refit on the Overview)."
            if run is None
            else f"The forecast file of run {run['id']} cannot be read."
        )
        return [html.Div(className="panel empty", children=[html.H3("Nothing to show"), html.P(text)])]
    diag = forecast.document.diagnostics
    return [
        html.Div(
            className="grid-2",
            children=[
                html.Section(
                    className="card section",
                    children=[
                        html.H2("Sampler diagnostics"),
                        diagnostics_status(diag),
                        diagnostics_table(views.diagnostics_rows(diag)),
                        failing_list(views.failing_quantities(diag)),
                        html.P(
                            "Thresholds are those the run is checked against (Vehtari et al. 2021 for R-hat and "
                            "ESS: 400 for the outcome probabilities, 100 per chain for the model's parameters and "
                            "factor states); the run's own check decides the status.",
                            className="muted small",
                        ),
                    ],
                ),
                html.Section(
                    className="card section",
                    children=[
                        html.H2("Run"),
                        run_table(run, forecast),
                    ],
                ),
            ],
        ),
        html.Section(
            className="card section",
            children=[
                html.H2("Latent factor paths"),
                html.P(
                    "Posterior mean with 50% and 90% credible bands per quarter; the dotted line is the "
                    "as-of date (later cells are projections).",
                    className="muted",
                ),
                dcc.Graph(
                    figure=views.figure_of(forecast, figures.factor_figure), config=GRAPH_CONFIG, id="model-factors"
                ),
            ],
        ),
        html.Div(
            children=[
                html.Section(
                    className="card section",
                    children=[
                        html.H2("Loadings"),
                        html.P(
                            "How each indicator reflects its factor(s): posterior mean and 90% interval.",
                            className="muted",
                        ),
                        dcc.Graph(
                            figure=views.figure_of(forecast, figures.loadings_figure),
                            config=GRAPH_CONFIG,
                            id="model-loadings",
                        ),
                    ],
                ),
                html.Section(
                    className="card section",
                    children=[
                        html.H2("Hazard parameters: prior vs posterior"),
                        html.P(
                            "Logit-scale baseline and factor effects of each outcome's hazard: prior "
                            "(mean ± 90%) against posterior (mean, 90% interval). Little movement means "
                            "the data say little about that parameter.",
                            className="muted",
                        ),
                        dcc.Graph(
                            figure=views.figure_of(forecast, figures.hazard_figure),
                            config=GRAPH_CONFIG,
                            id="model-hazard",
                        ),
                    ],
                ),
            ]
        ),
        elicitation_section(views.elicitation_rows(forecast.document)),
        cross_effects_section(forecast.document.cross_effects),
        priors_section(views.prior_rows(forecast.document)),
    ]


def _interval(low: float | None, high: float | None) -> str:
    return "–" if low is None or high is None else f"{low:+.2f} to {high:+.2f}"


def cross_effects_section(effects: Any) -> html.Section | None:
    """The case's declared lagged effects between factors (``forecast.json``'s ``cross_effects``):
    each with its declared 90% range, its posterior and its rationale; nothing when the case
    declares none (the factors are then independent)."""
    if not effects:
        return None
    head = ["Effect", "Declared 90% range", "Posterior mean", "Posterior 90%", "Rationale"]
    body = [
        html.Tr(
            className="cross-effect-row",
            children=[
                html.Td([html.Code(e.from_factor), f" (quarter t−1) {e.effect} ", html.Code(e.to_factor)]),
                html.Td(_interval(e.prior_low, e.prior_high), className="num"),
                html.Td("–" if e.post_mean is None else f"{e.post_mean:+.2f}", className="num"),
                html.Td(_interval(e.post_p05, e.post_p95), className="num"),
                html.Td(e.rationale, className="small muted"),
            ],
        )
        for e in effects
    ]
    return html.Section(
        className="card section",
        id="model-cross-effects",
        children=[
            html.H2("Cross effects between factors"),
            html.P(
                "Lagged effects the case declares (the factors' VAR(1) has only these entries besides "
                "the persistences): how far one standard deviation of the first factor shifts the "
                "second's next quarterly shock, in units of that shock's standard deviation.",
                className="muted",
            ),
            html.Table(
                className="table",
                id="cross-effects-table",
                children=[html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
            ),
        ],
    )


def priors_section(priors: dict[str, Any]) -> html.Section:
    """The structural priors the run was fitted with (:func:`dashboard.services.views.prior_rows`):
    name, distribution, value and meaning, the ones the case set marked."""
    rows = priors["rows"]
    body = [
        html.Tr(
            className="prior-row overridden" if r["overridden"] else "prior-row",
            children=[
                html.Td(
                    [
                        html.Code(r["name"]),
                        html.Span(" set by the case", className="badge") if r["overridden"] else None,
                    ]
                ),
                html.Td(r["distribution"]),
                html.Td(r["value"], className="num"),
                html.Td(r["meaning"], className="small muted"),
            ],
        )
        for r in rows
    ]
    head = ["Name", "Distribution", "Value", "Meaning"]
    return html.Section(
        className="card section",
        id="model-priors",
        children=[
            html.H2("Structural priors"),
            html.P(
                [
                    "The model's prior constants besides the elicited hazard priors above (models/priors.py; a "
                    "case may set some under priors:, docs/case-file.md). ",
                    priors["note"],
                ],
                className="muted",
            ),
            html.Table(
                className="table",
                id="priors-table",
                children=[html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
            )
            if rows
            else None,
        ],
    )


def elicitation_section(rows: list[dict[str, Any]]) -> html.Section:
    """Per outcome: the elicited range, the prior-predictive and the posterior probability, the
    power-scaling sensitivity and how far the data moved it."""
    head = ["Outcome", "Elicited range", "Prior alone", "With the data", "Sensitivity (psens)", ""]
    body = [
        html.Tr(
            [
                html.Td(r["outcome"]),
                html.Td(r["elicited"], className="num"),
                html.Td(r["prior"], className="num"),
                html.Td(r["posterior"], className="num"),
                html.Td(r["sensitivity"], className="num"),
                html.Td("driven by the prior" if r["driven_by_prior"] else "", className="badge"),
            ]
        )
        for r in rows
    ]
    notes = [html.P(f"{r['outcome']}: {r['moved']}", className="small") for r in rows]
    return html.Section(
        className="card section",
        id="model-elicitation",
        children=[
            html.H2("Elicitation, prior and data"),
            html.P(
                "Probability within the headline horizon (years: "
                + ", ".join(sorted({str(r["years"]) for r in rows}))
                + "): the case's elicited 90% range, the prior's own prediction (mean, 90%) and the "
                "posterior. Power-scaling sensitivity above 0.05 to the prior and below it to the "
                "likelihood marks a forecast driven by the prior."
                if rows
                else "This run has no elicitation record (fitted before model 1.6.0): refit to see it.",
                className="muted",
            ),
            html.Table(className="table", children=[html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)])
            if rows
            else None,
            *notes,
        ],
    )


def diagnostics_status(diag: Diagnostics) -> html.Div:
    if not diag.ok:
        return html.Div(
            f"Diagnostics failed: {views.diagnostics_problems(diag)} — do not treat as a clean forecast",
            className="notice notice-alert",
        )
    return html.Div("Diagnostics passed: no sign of non-convergence.", className="notice notice-ok")


#: How a row's status reads in the table.
STATUS_TEXT = {"ok": "ok", "outside": "FAILED", "not reported": "not reported"}


def diagnostics_table(rows: list[dict[str, Any]]) -> html.Table:
    """One row per check (:func:`dashboard.services.views.diagnostics_rows`); a check the run
    failed reads "FAILED" in red and its row is marked."""
    return html.Table(
        className="table",
        id="diagnostics-table",
        children=[
            html.Thead(html.Tr([html.Th("Check"), html.Th("Value"), html.Th("Threshold"), html.Th("Status")])),
            html.Tbody(
                [
                    html.Tr(
                        className="diag-row failed" if r["status"] == "outside" else "diag-row",
                        children=[
                            html.Td(r["check"]),
                            html.Td(r["value"], className="num"),
                            html.Td(r["threshold"]),
                            html.Td(
                                STATUS_TEXT.get(r["status"], r["status"]),
                                className=f"status-{r['status'].replace(' ', '-')}",
                            ),
                        ],
                    )
                    for r in rows
                ]
            ),
        ],
    )


def failing_list(failing: list[str]) -> Any:
    """The quantities that miss a limit (worst first), as the run names them; nothing when none."""
    if not failing:
        return None
    return html.Div(
        id="diagnostics-failing",
        className="diag-failing",
        children=[
            html.Strong("Failing quantities (worst first): "),
            html.Ul([html.Li(html.Code(text)) for text in failing]),
        ],
    )


def run_table(run: dict[str, Any], forecast: RunForecast) -> html.Table:
    doc = forecast.document
    created = doc.created_at
    rows = [
        ("Run id", run["id"]),
        ("As of", doc.as_of.isoformat()),
        ("Created (UTC)", created.strftime("%Y-%m-%d %H:%M:%S") if created else ""),
        ("Observations", doc.n_observations),
        ("Model version", doc.model_version),
        ("Case hash", doc.case_hash[:16]),
        ("Data hash", doc.data_hash),
        ("Sampler", ", ".join(f"{k} {v}" for k, v in doc.settings.model_dump().items())),
    ]
    return html.Table(
        className="table table-kv",
        id="run-table",
        children=[html.Tbody([html.Tr([html.Th(k), html.Td("" if v is None else str(v))]) for k, v in rows])],
    )
