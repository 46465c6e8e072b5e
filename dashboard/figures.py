"""Plotly figures built from run data (the typed forecast document of a run,
:class:`models.document.ForecastDocument`).

One public function per figure, each pure (same input, same figure) with keyword-only options.
Tests check traces, axes and values, not pixels. Bands are drawn as filled polygons named by
their level ("90% interval", "50% interval"); probabilities are in percent on the axes.

Text that comes from users (sources, notes) is never put into figures; hover texts hold numbers,
dates and ids only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from models.document import ForecastDocument, Hazard

# Defaults in one place --------------------------------------------------------------------
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
INK = "#1d2433"
MUTED = "#5b6475"
GRID = "#e6e9ef"
ACCENT = "#1f5fa8"
ALERT = "#c0392b"
NEW = "#b7791f"
SERIES = ("#1f5fa8", "#2a9d8f", "#8e44ad", "#d35400", "#546e7a", "#c0392b")
HEIGHT = 320


def color_for(index: int) -> str:
    """The colour of series ``index`` (outcomes, factors) — the same on every page."""
    return SERIES[index % len(SERIES)]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _base_layout(fig: go.Figure, *, height: int, title: str | None = None) -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=56, r=16, t=64 if title else 12, b=40),
        font=dict(family=FONT, size=12, color=INK),
        paper_bgcolor="white",
        plot_bgcolor="white",
        hoverlabel=dict(font=dict(family=FONT)),
        showlegend=True,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0, font=dict(size=11)),
        title=dict(text=title, x=0, xanchor="left", y=0.985, yanchor="top", yref="container", font=dict(size=14))
        if title
        else None,
    )
    fig.update_xaxes(gridcolor=GRID, linecolor="#c9ced8", zeroline=False, ticks="outside", tickcolor="#c9ced8")
    fig.update_yaxes(gridcolor=GRID, linecolor="#c9ced8", zeroline=False)
    return fig


def _band(
    x: Sequence[Any],
    lo: Sequence[float],
    hi: Sequence[float],
    *,
    name: str,
    color: str,
    alpha: float,
    legendgroup: str | None = None,
    showlegend: bool = True,
    **kw: Any,
) -> go.Scatter:
    """A filled band between ``lo`` and ``hi`` as one closed polygon trace."""
    xs = list(x) + list(x)[::-1]
    ys = list(hi) + list(lo)[::-1]
    return go.Scatter(
        x=xs,
        y=ys,
        name=name,
        fill="toself",
        fillcolor=_rgba(color, alpha),
        mode="lines",
        line=dict(width=0, color=_rgba(color, alpha)),
        hoverinfo="skip",
        legendgroup=legendgroup,
        showlegend=showlegend,
        **kw,
    )


# ---------------------------------------------------------------------------- outcomes


def horizon_figure(
    forecast: ForecastDocument,
    *,
    outcome_id: str,
    color: str | None = None,
    height: int = 220,
    selected_horizon: int | None = None,
) -> go.Figure:
    """P(outcome by horizon) against the horizon in years, with 50% and 90% credible bands.

    Traces: "90% interval" (p_05–p_95), "50% interval" (p_25–p_75), "Posterior mean" (p_mean,
    with markers; hover gives the 90% interval). The y axis is in percent. A resolved outcome (no
    horizons) gives an empty figure with a note.
    """
    outcome = forecast.outcome(outcome_id)
    index = forecast.outcome_ids.index(outcome_id)
    color = color or color_for(index)
    fig = go.Figure()
    hs = sorted(outcome.horizons, key=lambda h: h.years)
    if not hs:
        fig.add_annotation(
            text="Resolved — no forecast",
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            font=dict(color=MUTED),
        )
        _base_layout(fig, height=height)
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return fig
    x = [h.years for h in hs]
    pct = lambda key: [100.0 * getattr(h, key) for h in hs]  # noqa: E731
    fig.add_trace(_band(x, pct("p_05"), pct("p_95"), name="90% interval", color=color, alpha=0.15))
    fig.add_trace(_band(x, pct("p_25"), pct("p_75"), name="50% interval", color=color, alpha=0.30))
    custom = [[100.0 * h.p_05, 100.0 * h.p_95, 100.0 * (h.mcse or 0.0)] for h in hs]
    fig.add_trace(
        go.Scatter(
            x=x,
            y=pct("p_mean"),
            name="Posterior mean",
            mode="lines+markers",
            line=dict(color=color, width=2),
            marker=dict(size=7, color=color),
            customdata=custom,
            hovertemplate="%{x}-year horizon: %{y:.2f}%<br>90% interval %{customdata[0]:.2f}–%{customdata[1]:.2f}%"
            "<br>MCSE %{customdata[2]:.3f} pts<extra></extra>",
        )
    )
    if selected_horizon is not None and selected_horizon in x:
        fig.add_vline(x=selected_horizon, line=dict(color=MUTED, width=1, dash="dot"))
    _base_layout(fig, height=height)
    fig.update_layout(showlegend=False, margin=dict(l=48, r=12, t=8, b=36))
    fig.update_xaxes(title=dict(text="horizon (years)", font=dict(size=11)), tickvals=x, range=[0, max(x) + 0.5])
    fig.update_yaxes(title=dict(text="probability (%)", font=dict(size=11)), rangemode="tozero", ticksuffix="%")
    return fig


def horizons_overview_figure(forecast: ForecastDocument, *, height: int = HEIGHT) -> go.Figure:
    """Every unresolved outcome's horizon curve on one chart (mean line and 90% band each)."""
    fig = go.Figure()
    for i, o in enumerate(forecast.outcomes):
        hs = sorted(o.horizons, key=lambda h: h.years)
        if not hs:
            continue
        color = color_for(i)
        x = [h.years for h in hs]
        fig.add_trace(
            _band(
                x,
                [100 * h.p_05 for h in hs],
                [100 * h.p_95 for h in hs],
                name=f"{o.id} 90% interval",
                color=color,
                alpha=0.12,
                legendgroup=o.id,
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[100 * h.p_mean for h in hs],
                name=o.id,
                legendgroup=o.id,
                mode="lines+markers",
                line=dict(color=color, width=2),
                hovertemplate=f"{o.id}: " + "%{y:.2f}% by %{x} years<extra></extra>",
            )
        )
    _base_layout(fig, height=height)
    fig.update_xaxes(title=dict(text="horizon (years)"))
    fig.update_yaxes(title=dict(text="probability (%)"), rangemode="tozero", ticksuffix="%")
    return fig


# ---------------------------------------------------------------------------- indicators


def _cells_covered(starts: Sequence[date | str], start: date, end: date) -> float:
    """How many grid cells (starting on ``starts``) the day interval [start, end] covers, by days.
    (Shared with :mod:`dashboard.report.charts`, which passes the cells' ISO dates.)"""
    starts = [date.fromisoformat(d) if isinstance(d, str) else d for d in starts]
    if not starts:
        return 1.0
    total = 0.0
    for i, s in enumerate(starts):
        e = starts[i + 1] - timedelta(days=1) if i + 1 < len(starts) else s + timedelta(days=91)
        lo, hi = max(start, s), min(end, e)
        if hi >= lo:
            total += ((hi - lo).days + 1) / ((e - s).days + 1)
    return max(total, 1.0)


def per_cell_divisor(aggregation: str, starts: Sequence[date | str], start: date, end: date) -> float:
    """What a row's value is divided by on an indicator chart: the grid cells its period covers
    for a ``total`` (or ``events``) indicator, whose band is per cell; 1 for a ``level``
    indicator, whose row and band are both levels over their period."""
    if aggregation == "level":
        return 1.0
    return _cells_covered(starts, start, end)


def indicator_figure(
    indicator_id: str,
    *,
    forecast: ForecastDocument | None = None,
    observations: pd.DataFrame | None = None,
    title: str | None = None,
    unit: str | None = None,
    height: int = HEIGHT,
) -> go.Figure:
    """One indicator: the model's expected band per grid cell, its observations and surprises.

    Parameters
    ----------
    forecast
        Run data; its entry for ``indicator_id`` gives the expected band ("Expected (90%)" and
        "Expected mean", per grid cell) and the modelled rows ("Observed", markers sized and
        shaded by the model's probability that the report is genuine, with the row's posterior
        predictive 90% interval as error bars; "Surprise", a red ring on the rows the model
        flags as surprising).
    observations
        Store rows of this indicator that are not in the run (recorded since): hollow diamonds
        "Not in this run". Without a forecast, every observation is shown this way.

    Rows that span several grid cells (fiscal-year totals, merged events) of a ``total`` or
    ``events`` indicator are drawn at their midpoint on a per-cell scale (value divided by the
    cells covered), so they line up with the per-cell band; the hover gives the recorded total.
    A ``level`` indicator's row measures the level over its period, as the band does: it is drawn
    as recorded, whatever its span. Observations not in the run are drawn on the same scale as the
    run's rows (:func:`per_cell_divisor`).
    """
    ind = None
    if forecast is not None and indicator_id in forecast.indicator_ids:
        ind = forecast.indicator(indicator_id)
    fig = go.Figure()
    per_cell_note = False
    if ind is not None:
        unit = unit or ind.unit
        title = title or ind.name
        x = [pd.Timestamp(d) + pd.Timedelta(days=45) for d in ind.dates]
        exp = ind.expected
        fig.add_trace(_band(x, exp.p05, exp.p95, name="Expected (90%)", color=ACCENT, alpha=0.15))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=list(exp.mean),
                name="Expected mean",
                mode="lines",
                line=dict(color=ACCENT, width=1.5, dash="dot"),
                hovertemplate="%{x|%Y-%m}: expected %{y:.3g}<extra></extra>",
            )
        )
        rows = ind.rows
        if rows:
            xs, ys, lo, hi, gen, custom = [], [], [], [], [], []
            for r in rows:
                s, e = r.start, r.end
                n = per_cell_divisor(ind.aggregation, ind.dates, s, e)
                per_cell_note = per_cell_note or n > 1.05
                xs.append(pd.Timestamp(s) + (pd.Timestamp(e) - pd.Timestamp(s)) / 2)
                ys.append(r.value / n)
                lo.append(r.pred_p05 / n if r.pred_p05 is not None else None)
                hi.append(r.pred_p95 / n if r.pred_p95 is not None else None)
                g = float(r.genuine)
                gen.append(g)
                ids = ", ".join(str(i) for i in r.observation_ids) or "none (no events)"
                custom.append([s.isoformat(), e.isoformat(), r.value, g, r.pit, ids])
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    name="Observed",
                    mode="markers",
                    marker=dict(
                        size=[6 + 10 * g for g in gen],
                        color=gen,
                        cmin=0,
                        cmax=1,
                        colorscale=[[0, "#c5ccd8"], [1, INK]],
                        opacity=1.0,
                        line=dict(width=1, color="white"),
                    ),
                    error_y=dict(
                        type="data",
                        symmetric=False,
                        array=[h - y if h is not None else 0 for h, y in zip(hi, ys)],
                        arrayminus=[y - v if v is not None else 0 for v, y in zip(lo, ys)],
                        color="rgba(29,36,51,0.25)",
                        thickness=1,
                        width=0,
                    ),
                    customdata=custom,
                    hovertemplate="%{customdata[0]} – %{customdata[1]}<br>recorded %{customdata[2]}"
                    "<br>P(genuine) %{customdata[3]:.2f}<br>PIT %{customdata[4]}"
                    "<br>observation ids: %{customdata[5]}<extra></extra>",
                )
            )
            flagged = [i for i, r in enumerate(rows) if r.surprise]
            fig.add_trace(
                go.Scatter(
                    x=[xs[i] for i in flagged],
                    y=[ys[i] for i in flagged],
                    name="Surprise",
                    mode="markers",
                    marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(width=2.5, color=ALERT), symbol="circle"),
                    customdata=[custom[i] for i in flagged],
                    hovertemplate="Surprise: outside the posterior predictive<br>%{customdata[0]} – "
                    "%{customdata[1]}, recorded %{customdata[2]}<extra></extra>",
                )
            )
    if observations is not None and len(observations):
        obs = observations.sort_values("date")
        mids = obs["date"] + (obs["end"] - obs["date"]) / 2
        label = "Not in this run" if ind is not None else "Observed"
        ys = list(obs["value"].astype(float))
        if ind is not None:  # on the scale of the run's rows and band
            divisors = [
                per_cell_divisor(ind.aggregation, ind.dates, pd.Timestamp(d).date(), pd.Timestamp(e).date())
                for d, e in zip(obs["date"], obs["end"])
            ]
            per_cell_note = per_cell_note or any(n > 1.05 for n in divisors)
            ys = [v / n for v, n in zip(ys, divisors)]
        fig.add_trace(
            go.Scatter(
                x=list(mids),
                y=ys,
                name=label,
                mode="markers",
                marker=dict(
                    size=10,
                    symbol="diamond-open" if ind is not None else "circle",
                    color=NEW if ind is not None else INK,
                    line=dict(width=2),
                ),
                customdata=[
                    [int(i), d.strftime("%Y-%m-%d"), e.strftime("%Y-%m-%d"), rel, float(v)]
                    for i, d, e, rel, v in zip(obs["id"], obs["date"], obs["end"], obs["reliability"], obs["value"])
                ],
                hovertemplate="observation %{customdata[0]}<br>%{customdata[1]} – %{customdata[2]}"
                "<br>recorded %{customdata[4]}<br>reliability %{customdata[3]}<extra></extra>",
            )
        )
    if not fig.data:
        fig.add_annotation(
            text="No observations and no model band yet",
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            font=dict(color=MUTED),
        )
    _base_layout(fig, height=height, title=title or indicator_id)
    y_title = unit or ""
    if per_cell_note:
        y_title = "per quarter (period totals ÷ quarters)"
    fig.update_yaxes(title=dict(text=y_title, font=dict(size=11)))
    fig.update_xaxes(type="date")
    return fig


# ---------------------------------------------------------------------------- model


def factor_figure(
    forecast: ForecastDocument, *, factor_ids: Sequence[str] | None = None, height_per_factor: int = 200
) -> go.Figure:
    """Latent factor paths: one row per factor, posterior mean with 50% and 90% bands.

    A dotted vertical line marks the run's as-of date.
    """
    factors = [f for f in forecast.factors if factor_ids is None or f.id in factor_ids]
    n = max(len(factors), 1)
    fig = make_subplots(
        rows=n,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06 if n > 1 else 0.0,
        subplot_titles=[f.name for f in factors] or None,
    )
    for i, f in enumerate(factors, start=1):
        color = color_for(i - 1)
        x = [pd.Timestamp(d) + pd.Timedelta(days=45) for d in f.dates]
        first = i == 1
        fig.add_trace(
            _band(x, f.p05, f.p95, name="90% interval", color=color, alpha=0.15, legendgroup="90", showlegend=first),
            row=i,
            col=1,
        )
        fig.add_trace(
            _band(x, f.p25, f.p75, name="50% interval", color=color, alpha=0.30, legendgroup="50", showlegend=first),
            row=i,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=list(f.mean),
                name=f"{f.id} mean",
                mode="lines",
                line=dict(color=color, width=2),
                showlegend=False,
                hovertemplate=f"{f.id} " + "%{x|%Y-%m}: %{y:.2f}<extra></extra>",
            ),
            row=i,
            col=1,
        )
    _base_layout(fig, height=height_per_factor * n + 40)
    as_of = forecast.as_of
    if as_of:
        for i in range(1, n + 1):
            fig.add_vline(x=pd.Timestamp(as_of), line=dict(color=MUTED, width=1, dash="dot"), row=i, col=1)
    for ann in fig.layout.annotations:
        ann.update(x=0, xanchor="left", font=dict(size=12, color=INK))
    fig.update_yaxes(zeroline=True, zerolinecolor="#c9ced8")
    fig.update_layout(legend=dict(y=1.0 + 30 / (height_per_factor * n + 40)))
    return fig


def loadings_figure(forecast: ForecastDocument, *, factor_ids: Sequence[str] | None = None) -> go.Figure:
    """Loadings with 90% intervals: one marker per (indicator, factor), error bars p05–p95.

    One trace per factor (named by the factor id); the y axis lists indicators.
    """
    rows = [r for r in forecast.loadings if factor_ids is None or r.factor in factor_ids]
    factors = list(dict.fromkeys(r.factor for r in rows))
    order = list(dict.fromkeys(r.indicator for r in rows))
    fig = go.Figure()
    for i, fid in enumerate(factors):
        sub = [r for r in rows if r.factor == fid]
        fig.add_trace(
            go.Scatter(
                x=[r.mean for r in sub],
                y=[r.indicator for r in sub],
                name=fid,
                mode="markers",
                marker=dict(size=9, color=color_for(i)),
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=[r.p95 - r.mean for r in sub],
                    arrayminus=[r.mean - r.p05 for r in sub],
                    color=color_for(i),
                    thickness=1.5,
                ),
                customdata=[[r.p05, r.p95] for r in sub],
                hovertemplate="%{y}: %{x:.2f} (90% interval %{customdata[0]:.2f} to %{customdata[1]:.2f})"
                f"<extra>{fid}</extra>",
            )
        )
    _base_layout(fig, height=max(260, 26 * len(order) + 90))
    fig.add_vline(x=0, line=dict(color=MUTED, width=1))
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], automargin=True)
    fig.update_xaxes(title=dict(text="loading (posterior mean, 90% interval)"))
    return fig


def _two_lines(label: str, width: int = 28) -> str:
    """``label`` broken at its "outcome: parameter" colon (or its last space before ``width``)
    when longer than ``width`` characters."""
    if len(label) <= width:
        return label
    if ": " in label:
        head, tail = label.split(": ", 1)
        return f"{head}:<br>{tail}"
    cut = label.rfind(" ", 0, width)
    return label if cut < 0 else f"{label[:cut]}<br>{label[cut + 1 :]}"


def hazard_figure(forecast: ForecastDocument, *, outcome_id: str | None = None, z90: float = 1.6449) -> go.Figure:
    """Prior against posterior for the hazard parameters, on the prior's standard scale.

    Each parameter ``theta`` is shown as ``(theta - prior_mean) / prior_sd``, so every prior is
    the same band (0 ± 1.645, its 90% interval) and the posterior's shift and shrinkage read
    directly: a posterior interval much narrower than the prior's means the data are informative.
    Two traces, "Prior" and "Posterior" (mean with its 90% interval), one row per parameter
    (``outcome: parameter`` unless ``outcome_id`` picks one outcome); hover gives raw values.
    """
    rows = list(forecast.hazard if outcome_id is None else forecast.hazard_of(outcome_id))
    labels = [r.parameter if outcome_id else f"{r.outcome}: {r.parameter}" for r in rows]
    # long labels on two lines (outcome, then parameter) so they do not squeeze the plot
    ticks = [_two_lines(lab) for lab in labels]
    n = len(rows)
    y = [n - 1 - i for i in range(n)]  # first row at the top

    def z(r: Hazard, key: str) -> float:
        return (getattr(r, key) - r.prior_mean) / r.prior_sd if r.prior_sd else 0.0

    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0.0] * n,
            y=[v + 0.17 for v in y],
            name="Prior",
            mode="markers",
            marker=dict(size=8, symbol="square-open", color=MUTED, line=dict(width=2)),
            error_x=dict(type="data", array=[z90] * n, color=MUTED, thickness=1.5, width=3),
            customdata=[[lab, r.prior_mean, r.prior_sd] for lab, r in zip(labels, rows)],
            hovertemplate="%{customdata[0]}<br>prior mean %{customdata[1]:.2f}, sd %{customdata[2]:.2f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[z(r, "post_mean") for r in rows],
            y=[v - 0.17 for v in y],
            name="Posterior",
            mode="markers",
            marker=dict(size=9, color=ACCENT),
            error_x=dict(
                type="data",
                symmetric=False,
                array=[z(r, "post_p95") - z(r, "post_mean") for r in rows],
                arrayminus=[z(r, "post_mean") - z(r, "post_p05") for r in rows],
                color=ACCENT,
                thickness=1.5,
                width=3,
            ),
            customdata=[[lab, r.post_mean, r.post_p05, r.post_p95] for lab, r in zip(labels, rows)],
            hovertemplate="%{customdata[0]}<br>posterior mean %{customdata[1]:.2f} (90% interval "
            "%{customdata[2]:.2f} to %{customdata[3]:.2f})<extra></extra>",
        )
    )
    _base_layout(fig, height=max(240, 38 * n + 100))
    fig.add_vline(x=0, line=dict(color="#c9ced8", width=1))
    fig.update_yaxes(
        tickvals=y, ticktext=ticks, range=[-0.6, n - 0.4], automargin=True, showgrid=False, tickfont=dict(size=11)
    )
    fig.update_xaxes(title=dict(text="(value − prior mean) / prior sd"), zeroline=False)
    return fig


__all__ = [
    "horizon_figure",
    "horizons_overview_figure",
    "indicator_figure",
    "factor_figure",
    "loadings_figure",
    "hazard_figure",
    "color_for",
]
