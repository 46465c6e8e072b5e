"""Backtest: how good were past forecasts? Scores of the latest saved backtest of the case.

Reads the newest file under ``HARBINGER_HOME/backtests/`` (written by ``harbinger backtest``);
never fits anything. Shows the targets (met or missed, with the measured value), the skill against
the baselines summarised three ways (mean of ratios, pooled, median; each explained), scores per
indicator and per outcome against the baselines (outcomes against the elicited base rate), the
PIT histogram, the reliability diagram and each outcome's probability across origins with its
resolution marked. Below, with or without a backtest, the rank histograms of the model's latest
simulation-based calibration study (:mod:`dashboard.services.calibration`: a rerun in
``HARBINGER_HOME/calibration/`` or the shipped result).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboard import backtest_figures as bf
from dashboard.services import views
from dashboard.web import ids

dash.register_page(__name__, path="/backtest", name="Backtest", order=4, title="Harbinger · Backtest")

GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]}
RUN_HINT = "harbinger backtest --origins 2014..2024 --jobs 2"
#: The skill table's id: this page's own, like its graphs' ids.
SKILL_TABLE = "backtest-skill"
#: The simulation-based calibration section and its graph.
SBC_SECTION = "backtest-sbc"
SBC_GRAPH = "backtest-sbc-ranks"
SBC_HINT = "python benchmarks/sbc.py --reps 100 --out $HARBINGER_HOME/calibration/sbc.json"


def layout(**_kwargs: Any) -> html.Div:
    return html.Div(
        className="backtest",
        children=[
            html.Div(className="page-head", children=[html.H1("Backtest")]),
            html.Div(id=ids.BT_CONTENT),
        ],
    )


@dash.callback(Output(ids.BT_CONTENT, "children"), Input(ids.RUN_STATE, "data"), State(ids.CASE, "data"))
def render_backtest(_state: Any, case_id: str) -> list[Any]:
    """The latest saved backtest of the case, or how to run one; then the model's latest
    simulation-based calibration study."""
    from dashboard.services.backtests import latest_backtest
    from dashboard.services.calibration import latest_sbc

    store = views.get_store()
    return [*content(latest_backtest(store.home, case_id)), sbc_section(latest_sbc(store.home))]


def sbc_section(doc: Mapping[str, Any] | None) -> html.Section:
    """The rank histograms of the latest simulation-based calibration study (None: none found)."""
    head = html.H2("Simulation-based calibration of the fit")
    if doc is None:
        return html.Section(
            className="card section",
            id=SBC_SECTION,
            children=[head, html.P("No calibration study found. Run one:"), html.Pre(html.Code(SBC_HINT))],
        )
    from dashboard.services.calibration import convergence_text

    s = doc.get("settings", {})
    quantities = doc["quantities"].values()
    rejected = sum(q["chi2_p"] < 0.01 for q in quantities)
    outside = sum(not q["ecdf_in_band"] for q in quantities)
    return html.Section(
        className="card section",
        id=SBC_SECTION,
        children=[
            head,
            html.P(
                f"Does the fit recover the posterior? {doc['replications']} times, every parameter was drawn from "
                "the model's own prior, data for a small synthetic case (two factors, six indicators, two outcomes, "
                f"{(doc.get('case') or {}).get('quarters', '—')} quarters) simulated from it, and the model fitted "
                f"with the production sampler ({', '.join(doc.get('densities', []))} density) and {s.get('chains')} "
                f"chains × {s.get('draws')} draws after {s.get('tune')} tuning steps. Each histogram counts where the "
                f"truth ranked among {doc['rank_draws']} posterior draws (in {doc['bins']} bins): flat within the "
                "grey band (each bin's binomial band) around the dashed uniform count when the fit is calibrated; "
                "U-shaped when the posterior is too narrow; a hump when too wide; a slope when biased.",
                className="muted",
            ),
            html.P(
                f"{len(doc['quantities'])} quantities: {rejected} rejected by the χ² test at 1%, {outside} with an "
                f"ECDF outside its simultaneous {doc.get('band_prob', 0.99):.0%} band (red). "
                f"Study of {doc.get('recorded', '—')}, model {doc.get('model_version', '—')}; "
                f"{doc.get('compiles', '—')} model compile(s) for all fits. {convergence_text(doc)}",
                id=f"{SBC_SECTION}-summary",
            ),
            dcc.Graph(figure=bf.sbc_figure(doc), config=GRAPH_CONFIG, id=SBC_GRAPH),
            html.P(
                f"Rerun it with: {SBC_HINT} (its result then replaces this one). Method and caveats: "
                "benchmarks/README.md, section sbc.py.",
                className="muted small",
            ),
        ],
    )


def content(doc: Mapping[str, Any] | None) -> list[Any]:
    """The page body for a backtest document (None: no backtest saved yet)."""
    if doc is None:
        return [
            html.Div(
                className="panel empty",
                children=[
                    html.H3("No backtest yet"),
                    html.P(
                        "A backtest refits the model as of past dates, using only what had been recorded by each "
                        "date, and scores its forecasts of the following year against naive baselines. Run one "
                        "from the command line (it fits one model per origin year, so it takes a while):"
                    ),
                    html.Pre(html.Code(RUN_HINT)),
                    html.P("This page shows the newest saved backtest once it has finished.", className="muted"),
                ],
            )
        ]
    return [
        header(doc),
        html.Section(
            className="card section",
            id=ids.BT_TARGETS,
            children=[
                html.H2("Targets"),
                html.Ul([target_item(t) for t in doc.get("targets", [])]),
                html.P(coverage_text(doc["summary"]), className="muted"),
            ],
        ),
        skill_section(doc),
        html.Section(
            className="card section",
            children=[
                html.H2("Indicators: next-year forecasts against baselines"),
                html.P(
                    "CRPS (continuous ranked probability score, in the indicator's unit, lower is better) of the "
                    "model's predictive distribution for each held-out observation (for an events indicator: "
                    "each quarter's count), averaged over origins; persistence repeats the last year's rate, "
                    "climatology the historical rate with its spread. Skill = 1 − CRPS / baseline CRPS "
                    "(positive: the model is better). Coverage: share of held-out values inside the 50% and "
                    "90% predictive intervals.",
                    className="muted",
                ),
                indicator_table(doc),
                dcc.Graph(figure=bf.scores_figure(doc), config=GRAPH_CONFIG, id="backtest-scores"),
            ],
        ),
        html.Section(
            className="card section",
            children=[
                html.H2("Outcomes: one-year probabilities"),
                html.P(
                    "At each origin, the probability that each unresolved outcome resolves within the next year, "
                    "scored against what happened: Brier score and log score (lower is better), beside the "
                    "same scores of the case's elicited base rate. Skill against the elicited base rate = 1 − "
                    "model score / base-rate score (positive: the model beat the analyst's stated base rate).",
                    className="muted",
                ),
                outcome_table(doc),
                html.P(outcome_skill_text(doc), className="muted"),
            ],
        ),
        html.Div(
            className="grid-2",
            children=[
                html.Section(
                    className="card section",
                    children=[
                        html.H2("PIT histogram"),
                        html.P(
                            "Where each held-out value fell in its forecast distribution (randomised PIT). Flat within "
                            "the grey band: calibrated; U-shaped: intervals too narrow; hump: too wide.",
                            className="muted",
                        ),
                        dcc.Graph(figure=bf.pit_figure(doc), config=GRAPH_CONFIG, id="backtest-pit"),
                    ],
                ),
                html.Section(
                    className="card section",
                    children=[
                        html.H2("Reliability diagram"),
                        html.P(
                            "Forecast probability against observed frequency: of at least one event in a quarter "
                            "(count indicators) and of outcomes within a year. Points on the diagonal are reliable; "
                            "bars show the binomial 95% band.",
                            className="muted",
                        ),
                        dcc.Graph(figure=bf.reliability_figure(doc), config=GRAPH_CONFIG, id="backtest-reliability"),
                    ],
                ),
            ],
        ),
        html.Section(
            className="card section",
            children=[
                html.H2("Outcome probabilities across origins"),
                html.P(
                    "Each origin's one-year probability with its 90% interval; a star marks a year in which the "
                    "outcome happened, the dotted line its resolution date.",
                    className="muted",
                ),
                *[
                    html.Div(
                        className="chart-card",
                        children=[
                            html.H3(o["id"]),
                            html.P(o.get("question", ""), className="muted small"),
                            dcc.Graph(
                                figure=bf.probability_figure(doc, outcome_id=o["id"]),
                                config=GRAPH_CONFIG,
                                id=f"backtest-prob-{o['id']}",
                            ),
                        ],
                    )
                    for o in doc["outcomes"]
                ],
            ],
        ),
        html.P(
            "Only the observations are replayed as of each origin: the case file (indicator definitions, "
            "coverage windows, priors and base rates) is today's and was written with hindsight.",
            className="footnote muted small",
        ),
    ]


def header(doc: Mapping[str, Any]) -> html.Div:
    s = doc.get("settings", {})
    origins = [o["origin"] for o in doc.get("origins", [])]
    span = f"{origins[0]}–{origins[-1]}" if origins else "none"
    items: list[Any] = [
        html.Div(
            className="notice notice-info",
            children=[
                (
                    f"Backtest of {doc.get('created_at', '')[:16].replace('T', ' ')} UTC: {len(origins)} origins ({span}); "
                    f"each fitted on what was recorded by 31 December of its year and scored on the following year. "
                    f"Sampler {s.get('sampler')}, {s.get('draws')} draws and {s.get('tune')} tuning steps × {s.get('chains')} "
                    f"chains; model {doc.get('model_version')}."
                )
            ],
        )
    ]
    failing = (doc.get("summary") or {}).get("origins_failing_diagnostics") or []
    if failing:
        items.append(
            html.Div(
                className="notice notice-alert",
                children=[
                    (
                        f"Sampler diagnostics failed for origins {', '.join(map(str, failing))}: those fits are not clean, "
                        "so their scores are not a fair measure of the model."
                    )
                ],
            )
        )
    for f in doc.get("failed_origins") or []:
        items.append(html.Div(className="notice notice-alert", children=[f"Origin {f['origin']} failed: {f['error']}"]))
    return html.Div(items)


def target_item(t: Mapping[str, Any]) -> html.Li:
    state = "not measurable" if t.get("met") is None else ("met" if t["met"] else "missed")
    value = "—" if t.get("value") is None else f"{t['value']:.3f}"
    return html.Li(
        className=f"target target-{state.replace(' ', '-')}",
        children=[
            html.Strong(f"{state.capitalize()}: "),
            f"{t['target']} — measured {value}. ",
            html.Span(t.get("detail", ""), className="muted"),
        ],
    )


def coverage_text(summary: Mapping[str, Any]) -> str:
    def pct(x: Any) -> str:
        return "—" if x is None else f"{100 * x:.0f}%"

    band = summary.get("coverage_90_band") or [None, None]
    return (
        f"{summary.get('n_rows', 0)} held-out rows. Interval coverage: 50% intervals {pct(summary.get('coverage_50'))}, "
        f"90% intervals {pct(summary.get('coverage_90'))} (binomial 95% band around 90%: {pct(band[0])}–"
        f"{pct(band[1])}). Randomised coverage, which is nominal for a calibrated forecast even for counts: "
        f"{pct(summary.get('coverage_50_randomised'))} and {pct(summary.get('coverage_90_randomised'))}."
    )


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "—"
    return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:.0f}"


def _pct(x: Any) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _skill(x: Any) -> html.Td:
    if x is None:
        return html.Td("—", className="num")
    return html.Td(f"{x:+.2f}", className="num " + ("status-ok" if x > 0 else "status-outside"))


def indicator_table(doc: Mapping[str, Any]) -> html.Table:
    head = [
        "Indicator",
        "Family",
        "Rows",
        "CRPS",
        "Persistence",
        "Climatology",
        "Skill vs persistence",
        "Skill vs climatology",
        "50% coverage",
        "90% coverage",
    ]
    body = []
    for i in doc["indicators"]:
        if not i.get("n"):
            body.append(
                html.Tr(
                    [
                        html.Td(i["id"]),
                        html.Td(i["family"]),
                        html.Td("0", className="num"),
                        html.Td(
                            "not scored: no held-out observation after a first record", colSpan=7, className="muted"
                        ),
                    ]
                )
            )
            continue
        body.append(
            html.Tr(
                [
                    html.Td(i["id"]),
                    html.Td(i["family"]),
                    html.Td(str(i["n"]), className="num"),
                    html.Td(_num(i["crps"]), className="num"),
                    html.Td(_num(i["crps_persistence"]), className="num"),
                    html.Td(_num(i["crps_climatology"]), className="num"),
                    _skill(i["skill_persistence"]),
                    _skill(i["skill_climatology"]),
                    html.Td(_pct(i["coverage_50"]), className="num"),
                    html.Td(_pct(i["coverage_90"]), className="num"),
                ]
            )
        )
    return html.Table(
        className="table",
        id=ids.BT_INDICATORS,
        children=[html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
    )


def skill_section(doc: Mapping[str, Any]) -> html.Section:
    """The skill against each baseline as a mean of ratios, pooled and as a median, each explained."""
    from dashboard.services.backtests import SKILL_ADVICE, SKILL_SUMMARIES, skill_rows

    rows = skill_rows(dict(doc))
    head = ["Indicators", "Summary", "Skill vs persistence", "Skill vs climatology", "Over"]
    if rows:
        body = [
            html.Tr(
                [
                    html.Td(r["group"]),
                    html.Td(r["summary"]),
                    _skill(r["persistence"]),
                    _skill(r["climatology"]),
                    html.Td(r["over"], className="num"),
                ]
            )
            for r in rows
        ]
    else:
        body = [html.Tr([html.Td("all indicators"), *[html.Td("—", className="num") for _ in head[1:]]])]
    notes: list[Any] = [
        html.Li([html.Strong(f"{label.capitalize()}: "), meaning]) for _, label, meaning in SKILL_SUMMARIES
    ]
    if ((doc.get("summary") or {}).get("skill") or {}).get("from_saved_rows"):
        notes.append(
            html.Li("Computed now from the saved per-row scores: this backtest was saved before these figures.")
        )
    elif not rows:
        notes.append(html.Li("This backtest holds no per-row scores to compute these figures from."))
    return html.Section(
        className="card section",
        children=[
            html.H2("Skill against baselines: mean of ratios / pooled / median"),
            html.P(
                "Skill = 1 − model CRPS / baseline CRPS (positive: the model is better), summarised three ways "
                "over the held-out observations of all indicators and of each family.",
                className="muted",
            ),
            html.Table(
                className="table",
                id=SKILL_TABLE,
                children=[html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
            ),
            html.Ul(notes, className="muted small"),
            html.P(SKILL_ADVICE, className="muted small"),
        ],
    )


def outcome_skill_text(doc: Mapping[str, Any]) -> str:
    pooled = ((doc.get("summary") or {}).get("skill") or {}).get("outcomes") or {}

    def signed(x: Any) -> str:
        return "—" if x is None else f"{x:+.2f}"

    return (
        f"Skill against the elicited base rate, pooled over all {pooled.get('n_forecasts', '—')} outcome forecasts "
        f"(1 − summed model score / summed base-rate score): Brier {signed(pooled.get('brier'))}, "
        f"log score {signed(pooled.get('log_score'))}."
    )


def outcome_table(doc: Mapping[str, Any]) -> html.Table:
    head = [
        "Outcome",
        "Forecasts",
        "Happened",
        "Brier",
        "Brier (base rate)",
        "Log score",
        "Log score (base rate)",
        "Brier skill vs elicited base rate",
        "Log-score skill vs elicited base rate",
    ]
    body = []
    for o in doc["outcomes"]:
        body.append(
            html.Tr(
                [
                    html.Td(o["id"]),
                    html.Td(str(o["n"]), className="num"),
                    html.Td(str(o["events"]), className="num"),
                    html.Td(_num(o["brier"]), className="num"),
                    html.Td(_num(o["brier_base_rate"]), className="num"),
                    html.Td(_num(o["log_score"]), className="num"),
                    html.Td(_num(o["log_score_base_rate"]), className="num"),
                    _skill(o.get("skill_brier_base_rate")),
                    _skill(o.get("skill_log_score_base_rate")),
                ]
            )
        )
    return html.Table(
        className="table",
        id=ids.BT_OUTCOMES,
        children=[html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
    )
