"""Plotly figures of a saved backtest (the document of :func:`dashboard.services.backtests.run_backtest`).

One public function per figure, each pure (same document, same figure) with keyword-only options;
tests check traces and values. The Backtest page and reports draw these.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import plotly.graph_objects as go

from dashboard.figures import ACCENT, ALERT, GRID, MUTED, NEW, _base_layout, _rgba, color_for

MODEL = ACCENT
PERSISTENCE = NEW
CLIMATOLOGY = MUTED


def relative_crps_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per scored indicator: model and persistence CRPS divided by climatology CRPS (1 = climatology)."""
    out = []
    for ind in doc["indicators"]:
        clim = ind.get("crps_climatology")
        if not ind.get("n") or not clim:
            continue
        out.append(
            {
                "id": ind["id"],
                "family": ind["family"],
                "n": ind["n"],
                "model": ind["crps"] / clim,
                "persistence": ind["crps_persistence"] / clim,
            }
        )
    return out


def scores_figure(doc: Mapping[str, Any], *, height: int | None = None) -> go.Figure:
    """CRPS of the model and of persistence relative to climatology, per indicator (lower is better).

    Traces: "Model", "Persistence" (horizontal bars, x = CRPS / climatology CRPS), and a dashed
    line at 1 ("Climatology").
    """
    rows = relative_crps_rows(doc)
    ids = [r["id"] for r in rows][::-1]
    fig = go.Figure()
    for name, key, color in (("Persistence", "persistence", PERSISTENCE), ("Model", "model", MODEL)):
        vals = [r[key] for r in rows][::-1]
        fig.add_bar(
            y=ids,
            x=vals,
            name=name,
            orientation="h",
            marker_color=color,
            hovertemplate="%{y}: %{x:.2f} × climatology<extra>" + name + "</extra>",
        )
    fig.add_shape(type="line", x0=1, x1=1, y0=0, y1=1, yref="paper", line=dict(color=CLIMATOLOGY, dash="dash"))
    fig.add_scatter(x=[None], y=[None], mode="lines", name="Climatology", line=dict(color=CLIMATOLOGY, dash="dash"))
    _base_layout(fig, height=height or max(260, 26 * len(rows) + 90))
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_xaxes(title_text="CRPS relative to climatology (lower is better)", rangemode="tozero")
    fig.update_yaxes(automargin=True)
    return fig


def pit_figure(doc: Mapping[str, Any], *, height: int = 280) -> go.Figure:
    """Histogram of the held-out rows' randomised PIT values, with the flat line a calibrated
    forecast would give and its binomial 95% band.

    Traces: "PIT" (bars, counts per bin), "Uniform" (line at the expected count), "95% band".
    """
    hist = doc["summary"]["pit_histogram"]
    edges, counts = hist["edges"], hist["counts"]
    mids = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    n = sum(counts)
    expected = n / len(counts) if counts else 0
    band = doc["summary"].get("pit_band") or [expected, expected]
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1, 1, 0],
        y=[band[0], band[0], band[1], band[1]],
        fill="toself",
        mode="lines",
        line=dict(width=0),
        fillcolor=_rgba(MUTED, 0.15),
        name="95% band",
        hoverinfo="skip",
    )
    fig.add_bar(
        x=mids,
        y=counts,
        width=[b - a for a, b in zip(edges[:-1], edges[1:])],
        name="PIT",
        marker_color=_rgba(MODEL, 0.8),
        marker_line=dict(color="white", width=1),
        hovertemplate="PIT %{x:.2f}: %{y} rows<extra></extra>",
    )
    fig.add_scatter(
        x=[0, 1], y=[expected, expected], mode="lines", name="Uniform", line=dict(color=CLIMATOLOGY, dash="dash")
    )
    _base_layout(fig, height=height)
    fig.update_xaxes(title_text="PIT of the held-out observation under its forecast", range=[0, 1])
    fig.update_yaxes(title_text="rows", rangemode="tozero")
    return fig


def reliability_figure(doc: Mapping[str, Any], *, height: int = 320) -> go.Figure:
    """Reliability diagram: forecast probability against observed frequency, per probability bin.

    Traces: "Perfect reliability" (the diagonal); "Events in a quarter" (P(at least one event)
    for the count rows, from ``reliability_indicators``); "Outcomes within a year" (from
    ``reliability_outcomes``). Error bars show each bin's binomial 95% band around its mean
    forecast; marker size grows with the number of forecasts in the bin.
    """
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", name="Perfect reliability", line=dict(color=CLIMATOLOGY, dash="dash")
    )
    for name, key, color in (
        ("Events in a quarter", "reliability_indicators", MODEL),
        ("Outcomes within a year", "reliability_outcomes", ALERT),
    ):
        bins = doc["summary"].get(key) or []
        if not bins:
            continue
        x = [b["mean_forecast"] for b in bins]
        y = [b["observed"] for b in bins]
        fig.add_scatter(
            x=x,
            y=y,
            mode="markers+lines",
            name=name,
            line=dict(color=color, width=1),
            marker=dict(color=color, size=[min(6 + 2 * b["n"] ** 0.5, 22) for b in bins]),
            customdata=[[b["n"], b["band"][0], b["band"][1]] for b in bins],
            hovertemplate="forecast %{x:.2f}, observed %{y:.2f} (n=%{customdata[0]}, "
            "95% band %{customdata[1]:.2f}–%{customdata[2]:.2f})<extra>" + name + "</extra>",
        )
        fig.add_scatter(
            x=[v for b in bins for v in (b["mean_forecast"], b["mean_forecast"], None)],
            y=[v for b in bins for v in (b["band"][0], b["band"][1], None)],
            mode="lines",
            line=dict(color=_rgba(color, 0.5), width=3),
            name=f"{name}: 95% band",
            hoverinfo="skip",
            showlegend=False,
        )
    _base_layout(fig, height=height)
    fig.update_xaxes(title_text="forecast probability", range=[0, 1])
    fig.update_yaxes(title_text="observed frequency", range=[0, 1])
    return fig


def probability_figure(doc: Mapping[str, Any], *, outcome_id: str, height: int = 240) -> go.Figure:
    """P(outcome within a year) at each origin, with its 90% interval and the resolution marked.

    Traces: "90% interval", "P(within a year)" (markers at each origin's as-of date, red where the
    outcome happened within that year). A resolved outcome gets a vertical line at its resolution
    date labelled "resolved YYYY-MM-DD"; origins after it are not at risk and not drawn.
    """
    index = [o["id"] for o in doc["outcomes"]].index(outcome_id)
    outcome = doc["outcomes"][index]
    color = color_for(index)
    pts = [p for p in outcome["probabilities"] if p["at_risk"] and p["p"] is not None]
    x = [p["as_of"] for p in pts]
    fig = go.Figure()
    if pts:
        xs = x + x[::-1]
        ys = [100 * p["p_95"] for p in pts] + [100 * p["p_05"] for p in pts][::-1]
        fig.add_scatter(
            x=xs,
            y=ys,
            fill="toself",
            mode="lines",
            line=dict(width=0),
            fillcolor=_rgba(color, 0.18),
            name="90% interval",
            hoverinfo="skip",
        )
        fig.add_scatter(
            x=x,
            y=[100 * p["p"] for p in pts],
            mode="lines+markers",
            name="P(within a year)",
            line=dict(color=color),
            marker=dict(
                size=9,
                color=[ALERT if p["happened"] else color for p in pts],
                symbol=["star" if p["happened"] else "circle" for p in pts],
            ),
            customdata=[
                [p["origin"], 100 * p["p_05"], 100 * p["p_95"], "happened" if p["happened"] else "did not happen"]
                for p in pts
            ],
            hovertemplate="origin %{customdata[0]}: %{y:.2f}% (90%: %{customdata[1]:.2f}–%{customdata[2]:.2f}%), "
            "%{customdata[3]} within the year<extra></extra>",
        )
    resolved = outcome.get("resolution_date")
    if resolved:
        fig.add_shape(
            type="line", x0=resolved, x1=resolved, y0=0, y1=1, yref="paper", line=dict(color=ALERT, dash="dot", width=2)
        )
        fig.add_annotation(
            x=resolved,
            y=1,
            yref="paper",
            text=f"resolved {resolved}",
            showarrow=False,
            xanchor="right",
            yanchor="top",
            font=dict(color=ALERT, size=11),
        )
    _base_layout(fig, height=height)
    fig.update_yaxes(title_text="% within a year", rangemode="tozero", gridcolor=GRID)
    if x or resolved:
        lo = min(x + ([resolved] if resolved else []))
        hi = max(x + ([resolved] if resolved else []))
        pad = 120
        fig.update_xaxes(range=[_shift(lo, -pad), _shift(hi, pad)])
    return fig


def _shift(day: str, days: int) -> str:
    return date.fromordinal(date.fromisoformat(day).toordinal() + days).isoformat()


def sbc_figure(doc: Mapping[str, Any], *, columns: int = 4, row_height: int = 150) -> go.Figure:
    """Simulation-based calibration: one rank histogram per quantity of the study's document
    (:mod:`models.sbc`), with each bin's binomial band shaded and the uniform count dashed behind
    the bars. A quantity whose χ² test rejects at 1% or whose ECDF leaves its simultaneous band is
    drawn in the alert colour.

    Traces: one bar trace per quantity (in the document's order), named after it. Shapes: per
    quantity a rectangle (the band, ``y0``-``y1``) and a dashed line (the uniform count), both
    below the bars.
    """
    from plotly.subplots import make_subplots

    quantities = list(doc["quantities"].items())
    rows = max(1, -(-len(quantities) // columns))
    fig = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[name for name, _ in quantities],
        horizontal_spacing=0.04,
        vertical_spacing=0.5 / rows,
    )
    bins = int(doc["bins"])
    for k, (name, q) in enumerate(quantities):
        row, col = k // columns + 1, k % columns + 1
        lo, hi = q["bin_band"]
        expected = q["n"] / bins
        calibrated = q["chi2_p"] >= 0.01 and q["ecdf_in_band"]
        span = {"x0": -0.5, "x1": bins - 0.5, "layer": "below", "row": row, "col": col}
        fig.add_shape(type="rect", y0=lo, y1=hi, fillcolor=_rgba(MUTED, 0.2), line=dict(width=0), **span)
        fig.add_shape(type="line", y0=expected, y1=expected, line=dict(color=CLIMATOLOGY, dash="dash", width=1), **span)
        fig.add_bar(
            x=list(range(bins)),
            y=q["histogram"],
            name=name,
            marker_color=_rgba(MODEL if calibrated else ALERT, 0.85),
            hovertemplate=(
                f"{name}<br>ranks in bin %{{x}}: %{{y}}<br>χ² p = {q['chi2_p']:.3f}; ECDF "
                f"{'inside' if q['ecdf_in_band'] else 'outside'} its band<extra></extra>"
            ),
            row=row,
            col=col,
        )
        fig.update_yaxes(range=[0, max(max(q["histogram"]), hi) * 1.15], row=row, col=col)
    _base_layout(fig, height=rows * row_height + 40)
    fig.update_layout(showlegend=False, bargap=0.1, margin=dict(t=36))
    fig.update_annotations(font=dict(size=10))
    fig.update_xaxes(showticklabels=False, gridcolor=GRID)
    fig.update_yaxes(tickfont=dict(size=9))
    return fig
