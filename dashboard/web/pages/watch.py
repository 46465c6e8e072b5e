"""Watch list: which indicator to collect next, and which next-quarter observation would trip a
warning.

Reads the current run's cached watch list (``watch.json``, computed by
:mod:`dashboard.services.watch` when the server prepares a new run), so it opens at once; when a
run has none yet (the page opened before the server got to it, or a server that does not prepare
runs) it is computed in a thread of the server and the page re-reads every few seconds until it
is there. Nothing here reweights or fits: ranking and
tripwires at any outcome, horizon and threshold are read from the document's curves.
"""

from __future__ import annotations

from typing import Any

import dash
import flask
from dash import Input, Output, State, dcc, html

from dashboard.services import views
from dashboard.web import ids
from dashboard.web.layout import control, horizon_options, kept_choice, page_head, years_label
from indicators.errors import BadInput

dash.register_page(__name__, path="/watch", name="Watch list", order=6, title="Harbinger · Watch list")

POLL_MS = 3000
PERIOD_OPTIONS = [
    {"label": "next quarter", "value": "next_quarter"},
    {"label": "next 4 quarters", "value": "next_year"},
]


def _case_id(case: str | None = None) -> str | None:
    """The case the page's URL names (``case``), else the app's default case."""
    from dashboard.web.cases import request_case

    return request_case(case) if flask.has_app_context() else None


def _outcome_options(case_id: str | None) -> tuple[list[dict[str, Any]], str | None, list[int]]:
    """Unresolved outcomes of the case (as of today) and the horizons of the first one."""
    if not case_id:
        return [], None, [1]
    try:
        case = views.get_store().get_case(case_id).case
    except Exception:  # noqa: BLE001 - the page reports what it can; the content says what is wrong
        return [], None, [1]
    open_outcomes = [o for o in case.outcomes if o.resolved is None]
    options = [{"label": o.id.replace("_", " "), "value": o.id} for o in open_outcomes]
    first = open_outcomes[0] if open_outcomes else None
    return options, first.id if first else None, list(first.horizons) if first else [1]


def layout(**_kwargs: Any) -> html.Div:
    case_id = _case_id(_kwargs.get("case"))
    options, outcome, horizons = _outcome_options(case_id)
    return html.Div(
        className="watch",
        children=[
            page_head(
                "Watch list",
                control(
                    "Outcome",
                    dcc.Dropdown(
                        id=ids.WL_OUTCOME,
                        options=options,
                        value=outcome,
                        clearable=False,
                        className="dropdown",
                        style={"minWidth": "260px"},
                    ),
                ),
                control(
                    "Horizon",
                    dcc.RadioItems(
                        id=ids.WL_HORIZON,
                        options=horizon_options(horizons),
                        value=horizons[0],
                        inline=True,
                        className="segmented",
                    ),
                ),
                control(
                    "Value of a report over the",
                    dcc.RadioItems(
                        id=ids.WL_PERIOD,
                        options=PERIOD_OPTIONS,
                        value="next_quarter",
                        inline=True,
                        className="segmented",
                    ),
                ),
                control(
                    "Tripwire threshold (%)",
                    dcc.Input(
                        id=ids.WL_THRESHOLD,
                        type="text",
                        className="input",
                        placeholder="default",
                        debounce=True,
                        style={"width": "110px"},
                    ),
                ),
            ),
            html.Div(
                id=ids.WL_CONTENT,
                children=content(case_id, outcome, horizons[0], "next_quarter", None) if case_id else None,
            ),
            dcc.Interval(id=ids.WL_POLL, interval=POLL_MS, disabled=True),
        ],
    )


@dash.callback(
    Output(ids.WL_HORIZON, "options"),
    Output(ids.WL_HORIZON, "value"),
    Input(ids.WL_OUTCOME, "value"),
    State(ids.WL_HORIZON, "value"),
    State(ids.CASE, "data"),
)
def horizon_choices(outcome: str | None, current: int | None, case_id: str) -> tuple[list[dict[str, Any]], Any]:
    """The chosen outcome's horizons; the chosen one kept (not written back) when the outcome has it."""
    try:
        case = views.get_store().get_case(case_id).case
        hs = list(case.outcome(outcome).horizons) if outcome else [1]
    except Exception:  # noqa: BLE001 - unknown outcome: keep a harmless default
        hs = [1]
    return horizon_options(hs), kept_choice(current, hs)


@dash.callback(
    Output(ids.WL_CONTENT, "children"),
    Output(ids.WL_POLL, "disabled"),
    Input(ids.RUN_STATE, "data"),
    Input(ids.WL_OUTCOME, "value"),
    Input(ids.WL_HORIZON, "value"),
    Input(ids.WL_PERIOD, "value"),
    Input(ids.WL_THRESHOLD, "value"),
    Input(ids.WL_POLL, "n_intervals"),
    State(ids.CASE, "data"),
)
def render_watch(
    _state: Any, outcome: str | None, horizon: int | None, period: str | None, threshold: Any, _ticks: Any, case_id: str
) -> tuple[list[Any], bool]:
    """The watch list for the chosen outcome, horizon, period and threshold; polls while it is
    being computed."""
    body = content(case_id, outcome, horizon, period, threshold)
    computing = any(getattr(c, "id", None) == "watch-computing" for c in body)
    return body, not computing


def content(case_id: str, outcome: str | None, horizon: int | None, period: str | None, threshold: Any) -> list[Any]:
    """The page body (a plain function, for the first render as served too)."""
    from dashboard.services import watch as ws

    store = views.get_store()
    try:
        level = ws.parse_level(threshold, {**ws.CLI_OPTIONS, "threshold": "Tripwire threshold"})
        state, view, run = ws.current_view(
            store, case_id, outcome=outcome, years=horizon, threshold=level, period=period or None, names=PAGE_OPTIONS
        )
    except BadInput as exc:
        return [html.Div(str(exc), className="notice notice-alert", role="alert")]
    if run is None:
        return [
            html.Div(
                className="panel empty",
                children=[
                    html.H3("No run yet"),
                    html.P("The watch list is computed from a fitted run; start a fit with Refit on the Overview."),
                ],
            )
        ]
    if view is None:
        if state == "computing":
            return [
                html.Div(
                    id="watch-computing",
                    className="notice notice-info",
                    role="status",
                    children=(
                        f"Computing the watch list of run {run['id']} (a few seconds); this page shows it when it is "
                        "ready."
                    ),
                )
            ]
        return [
            html.Div(
                className="notice notice-alert",
                role="alert",
                children=(f"The watch list of run {run['id']} cannot be computed ({state.removeprefix('failed: ')})."),
            )
        ]
    return [
        header(view),
        *[section for o in view["outcomes"] for section in outcome_sections(view, o)],
        alert_section(view),
        footnote(view),
    ]


PAGE_OPTIONS = {"outcome": "Outcome", "horizon": "Horizon", "threshold": "Tripwire threshold", "period": "Period"}


def header(view: dict[str, Any]) -> html.Div:
    p = view["period"]
    text = (
        f"Run {view['run_id']} as of {view['as_of']}, {view['draws']} posterior draws; computed "
        f"{(view.get('computed_at') or '')[:16].replace('T', ' ')} UTC in {view.get('seconds')} s. "
        f"Value of information of a confirmed ({view['report_grade']}) report over the {p['label']} "
        f"({p['start']} to {p['end']})."
    )
    children: list[Any] = [html.Div(text, className="notice notice-info")]
    if view.get("diagnostics_ok") is False:
        children.append(
            html.Div(
                "This run failed its sampler diagnostics: the watch list inherits its "
                "problems — do not treat it as a clean forecast.",
                className="notice notice-alert",
            )
        )
    return html.Div(children)


def _pts(p: float | None, digits: int = 2) -> str:
    return "—" if p is None else f"{100 * p:.{digits}f}"


def _reviewed_cell(reviewed: dict[str, Any] | None) -> html.Td:
    """When an open-coverage series was last confirmed complete; red when longer ago than the
    stale limit. Empty for a series whose coverage is closed (its record is complete by definition)."""
    if not reviewed:
        return html.Td("")
    text = reviewed["date"] or "never"
    if reviewed["days"] is not None:
        text += f" ({reviewed['days']} days ago)"
    return html.Td(text, className="label-alert" if reviewed["stale"] else None)


def ranking_table(view: dict[str, Any], o: dict[str, Any]) -> html.Table:
    other = next((p for p in view["periods"] if p["id"] != view["period"]["id"]), None)
    head = ["Rank", "Indicator", "Expected change (pts)", "± MC error"]
    head += [f"Over the {other['label']} (pts)"] if other else []
    head += ["SD reduction (pts)", "k-hat", "Last observed", "Last recorded", "Reviewed through"]
    rows = []
    for r in o["ranking"]:
        khat = f"{r['khat_median']:.2f}" if r["khat_median"] is not None else "—"
        mark = (
            html.Span(
                " unreliable",
                className="label-alert",
                title=(
                    f"k-hat above {view['khat_max']} for {100 * (r['unreliable_share'] or 0):.0f}% of the predictive: "
                    "not ranked"
                ),
            )
            if not r["reliable"]
            else None
        )
        observed = r["last_observed"] or "never"
        if r.get("coverage_end"):
            observed = f"{observed} (record kept through {r['coverage_end']})"
        rows.append(
            html.Tr(
                [
                    html.Td("—" if r["rank"] is None else str(r["rank"]), className="num"),
                    html.Td([html.Span(r["name"], title=r["indicator"]), mark]),
                    html.Td(_pts(r["mean_abs_change"], 3), className="num"),
                    html.Td(_pts(r["mcse"], 3), className="num"),
                    *([html.Td(_pts(r["by_period"].get(other["id"]), 3), className="num")] if other else []),
                    html.Td(_pts(r["sd_reduction"], 3), className="num"),
                    html.Td(khat, className="num", title=f"largest over the values: {r['khat_max']}"),
                    html.Td(observed),
                    html.Td((r["last_recorded"] or "")[:10]),
                    _reviewed_cell(r.get("reviewed_through")),
                ]
            )
        )
    return html.Table(
        className="table",
        id=ids.WL_RANKING,
        children=[html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
    )


def outcome_sections(view: dict[str, Any], o: dict[str, Any]) -> list[Any]:
    years = years_label(o["years"])
    return [
        html.Section(
            className="card section",
            children=[
                html.H2(f"Which indicator to collect next: {o['outcome'].replace('_', ' ')} within {years}"),
                html.P(
                    f"{o['question']} Now {_pts(o['p_mean'])}% (posterior sd {_pts(o['sd'])} points). Indicators "
                    "ranked by how much their next report is expected to move this probability (the mean "
                    "absolute change over the report's predictive), with its Monte Carlo error; the SD reduction "
                    "is how much the report is expected to narrow the forecast's uncertainty.",
                    className="muted",
                ),
                ranking_table(view, o),
            ],
        ),
        html.Section(
            className="card section",
            id=ids.WL_TRIPWIRES,
            children=[
                html.H2("Tripwires"),
                *[tripwire_block(w, o["p_mean"]) for w in o["tripwires"]],
                html.P(
                    "No tripwire: the forecast is already near certainty." if not o["tripwires"] else "",
                    className="muted",
                ),
            ],
        ),
    ]


def tripwire_block(wires: dict[str, Any], p_now: float) -> html.Div:
    source = {"default": "the first round level clearly above the forecast", "threshold": "your threshold"}.get(
        wires["source"], wires["source"]
    )
    items = []
    for e in wires["entries"]:
        if not e["crosses"]:
            continue
        detail = (
            f" — then {_pts(e['p'])}% ± {_pts(e['mcse'])} (Monte Carlo); chance of seeing it next quarter "
            f"{_pts(e['chance'], 1)}%; k-hat {e['khat']}"
        )
        items.append(
            html.Li([html.Span(e["sentence"], className="tripwire"), html.Span(detail, className="muted small")])
        )
    rest = len(wires["no_crossing"])
    return html.Div(
        className="tripwire-set",
        children=[
            html.H3(f"{wires['direction'].capitalize()} {100 * wires['level']:g}% ({source}; now {_pts(p_now)}%)"),
            html.Ul(items) if items else html.P("No plausible value of any indicator next quarter crosses it."),
            html.P(
                f"No plausible next-quarter value of the other {rest} indicator(s) crosses it.", className="muted small"
            )
            if items and rest
            else None,
        ],
    )


def alert_section(view: dict[str, Any]) -> html.Section | None:
    if not view["alerts"]:
        return None
    blocks = []
    for a in view["alerts"]:
        years = years_label(a["years"])
        blocks.append(
            html.H3(
                f"Alert {a['id']}: {a['outcome'].replace('_', ' ')} within {years}, {a['kind']} "
                f"{100 * a['threshold']:g}{' points' if a['kind'] == 'change' else '%'}"
            )
        )
        blocks += [tripwire_block(w, a["p_mean"]) for w in a["tripwires"]]
    return html.Section(className="card section", children=[html.H2("Tripwires of your alerts"), *blocks])


def footnote(view: dict[str, Any]) -> html.P:
    return html.P(
        className="footnote muted small",
        children=(
            "Each hypothetical report conditions the run's posterior and simulated future paths by Pareto-smoothed "
            f"importance reweighting; k-hat above {view['khat_max']} means the reweighting cannot be trusted there (a "
            "scenario refit is the check). Tripwire values are the smallest (or, for an indicator that lowers the "
            "forecast, the largest) plausible next-quarter values that take it across the level, others unobserved; "
            "a report from a less reliable source moves the forecast less. Last observed: the end of the latest "
            "observed period in effect; last recorded: when the latest record was made."
        ),
    )
