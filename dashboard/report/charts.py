"""Vector charts for reports, as inline SVG markup drawn with matplotlib.

Plotly's static export needs a browser; matplotlib writes SVG itself. Each public function takes
run data (the ``forecast.json`` dict, see :mod:`models.runs`) and returns an ``<svg>`` string that
is safe to inline in HTML and to print with WeasyPrint:

- no XML declaration, DOCTYPE, metadata or namespace URIs (nothing that looks like an external
  reference), ``href`` instead of ``xlink:href``;
- text kept as text (``svg.fonttype: none``) in the DejaVu Sans family that matplotlib ships, so
  no font file is embedded or fetched;
- element ids prefixed per chart, so several charts in one document never share an id.

Figures are made with :class:`matplotlib.figure.Figure` directly (no pyplot state), so drawing is
safe inside a web server. Colours follow :mod:`dashboard.figures`. Text from the case file
(indicator, factor and outcome names) is written by matplotlib, which escapes it; notes and
sources never go into charts.
"""

from __future__ import annotations

import io
import itertools
import re
import textwrap
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import matplotlib
import matplotlib.dates
import matplotlib.lines
import matplotlib.patches
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from dashboard.figures import (
    ACCENT,
    ALERT,
    GRID,
    INK,
    MUTED,
    _cells_covered,  # the dashboard's rule for drawing period totals per cell
    color_for,
)

RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "harbinger",
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "axes.labelcolor": INK,
    "axes.titlecolor": INK,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "legend.frameon": False,
    "legend.fontsize": 7,
}

_counter = itertools.count(1)


def _svg(fig: Figure) -> str:
    """The figure as clean inline SVG (see the module docstring)."""
    buf = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = re.sub(r"<\?xml.*?\?>\s*", "", text, flags=re.DOTALL)
    text = re.sub(r"<!DOCTYPE.*?>\s*", "", text, flags=re.DOTALL)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    text = text.replace("xlink:href=", "href=")
    prefix = f"c{next(_counter)}-"
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    for old in sorted(ids, key=len, reverse=True):
        new = prefix + old
        text = (
            text.replace(f'id="{old}"', f'id="{new}"')
            .replace(f'"#{old}"', f'"#{new}"')
            .replace(f"url(#{old})", f"url(#{new})")
        )
    text = text.replace("<svg ", '<svg role="img" class="chart-svg" ', 1)
    return text.strip()


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(RC):
        return Figure(figsize=(width, height), dpi=72)


def _style(ax: Any) -> None:
    ax.grid(True, color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#c9ced8")
    ax.tick_params(colors=MUTED, labelsize=7)


def _day(text: str) -> date:
    return date.fromisoformat(str(text)[:10])


def _figure_legend(fig: Figure, *axes: Any) -> None:
    """One legend for the whole figure, in a strip above the panels (laid out below it), so it
    never covers data; entries of several panels are merged by label."""
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if not label.startswith("resolved "):
                handles.setdefault(label, handle)
    strip = 0.25 / fig.get_figheight() if handles else 0.0
    fig.tight_layout(h_pad=1.2, w_pad=1.0, rect=(0.0, 0.0, 1.0, 1.0 - strip))
    if handles:
        fig.legend(
            list(handles.values()),
            list(handles),
            loc="center",
            bbox_to_anchor=(0.5, 1.0 - strip / 2),
            ncols=len(handles),
            fontsize=6.5,
            handlelength=1.6,
            columnspacing=1.4,
            frameon=False,
        )


def _wrap(text: str, width: int, lines: int = 3) -> str:
    parts = textwrap.wrap(str(text), width)
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1].rstrip() + "…"
    return "\n".join(parts)


# ---------------------------------------------------------------------------- outcomes


def horizon_curves(forecast: Mapping[str, Any], *, columns: int = 3) -> str | None:
    """Small multiples: P(outcome within H years) against H for every open outcome, with the
    posterior mean (line and markers) and 50% and 90% bands, in percent. ``None`` when every
    outcome is resolved."""
    outcomes = [(i, o) for i, o in enumerate(forecast.get("outcomes", [])) if o.get("horizons")]
    if not outcomes:
        return None
    n = len(outcomes)
    cols = min(columns, n)
    rows = (n + cols - 1) // cols
    with matplotlib.rc_context(RC):
        fig = _figure(6.8, 1.85 * rows + 0.3)
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        for ax, (index, o) in zip(axes.flat, outcomes):
            _style(ax)
            color = color_for(index)
            hs = sorted(o["horizons"], key=lambda h: h["years"])
            x = [h["years"] for h in hs]
            pct = {key: [100.0 * h[key] for h in hs] for key in ("p_05", "p_25", "p_mean", "p_75", "p_95")}
            ax.fill_between(x, pct["p_05"], pct["p_95"], color=color, alpha=0.15, linewidth=0, label="90% interval")
            ax.fill_between(x, pct["p_25"], pct["p_75"], color=color, alpha=0.30, linewidth=0, label="50% interval")
            ax.plot(x, pct["p_mean"], color=color, marker="o", markersize=3.5, linewidth=1.6, label="Posterior mean")
            ax.set_title(_wrap(o.get("question", o["id"]), 34 if cols > 2 else 48), fontsize=7.5, loc="left")
            ax.set_xticks(x)
            ax.set_xlim(0, max(x) + 0.5)
            ax.set_ylim(bottom=0)
            ax.set_xlabel("horizon (years)", fontsize=7)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}%"))
        _figure_legend(fig, axes.flat[0])
        return _svg(fig)


# ---------------------------------------------------------------------------- factors


def factor_paths(forecast: Mapping[str, Any]) -> str | None:
    """One panel per latent factor: posterior mean with 50% and 90% bands, the as-of date dotted."""
    factors = list(forecast.get("factors", []))
    if not factors:
        return None
    as_of = forecast.get("as_of")
    with matplotlib.rc_context(RC):
        fig = _figure(6.8, 1.05 * len(factors) + 0.4)
        axes = fig.subplots(len(factors), 1, squeeze=False, sharex=True)[:, 0]
        for i, (ax, f) in enumerate(zip(axes, factors)):
            _style(ax)
            color = color_for(i)
            x = [_day(d) + timedelta(days=45) for d in f["dates"]]
            ax.fill_between(x, f["p05"], f["p95"], color=color, alpha=0.15, linewidth=0, label="90% interval")
            ax.fill_between(x, f["p25"], f["p75"], color=color, alpha=0.30, linewidth=0, label="50% interval")
            ax.plot(x, f["mean"], color=color, linewidth=1.4, label="Posterior mean")
            ax.axhline(0, color="#c9ced8", linewidth=0.8)
            if as_of:
                ax.axvline(_day(as_of), color=MUTED, linewidth=0.8, linestyle=":")
            ax.set_title(f.get("name", f["id"]), fontsize=8, loc="left")
        _figure_legend(fig, axes[0])
        return _svg(fig)


# ---------------------------------------------------------------------------- indicators


def indicator_chart(
    indicator: Mapping[str, Any],
    *,
    as_of: str,
    years: int = 8,
    width: float = 3.4,
    height: float = 2.1,
    legend: bool = True,
) -> str:
    """One indicator over the ``years`` before ``as_of`` and the projected quarters after it.

    The model's expected value per grid cell (90% band, dotted mean); the modelled rows with an
    observation as dots (a row spanning several cells is drawn at its midpoint on the per-cell
    scale, as on the dashboard) with their 90% posterior predictive interval as a bar, shaded by
    the model's probability that the report is genuine; periods with no recorded event as small
    hollow dots; red rings on surprises. Without ``legend``, the chart has none (small multiples
    share one: :func:`indicator_legend`).
    """
    start = _day(as_of) - timedelta(days=int(365.25 * years))
    dates = list(indicator.get("dates", []))
    with matplotlib.rc_context(RC):
        fig = _figure(width, height)
        ax = fig.subplots()
        _style(ax)
        exp = indicator.get("expected") or {}
        keep = [k for k, d in enumerate(dates) if _day(d) >= start - timedelta(days=92)]
        if keep and exp:
            x = [_day(dates[k]) + timedelta(days=45) for k in keep]
            ax.fill_between(
                x,
                [exp["p05"][k] for k in keep],
                [exp["p95"][k] for k in keep],
                color=ACCENT,
                alpha=0.16,
                linewidth=0,
                label="Expected (90%)",
            )
            ax.plot(
                x, [exp["mean"][k] for k in keep], color=ACCENT, linewidth=1.0, linestyle=":", label="Expected mean"
            )
        per_cell = False
        points: dict[bool, list[tuple[Any, float, float, float, float]]] = {True: [], False: []}
        flagged = []
        for r in indicator.get("rows", []):
            s, e = _day(r["start"]), _day(r["end"])
            if e < start:
                continue
            n = _cells_covered(dates, s, e)
            per_cell = per_cell or n > 1.05
            mid = s + (e - s) / 2
            y = float(r["value"]) / n
            lo = max(0.0, y - float(r["pred_p05"]) / n) if r.get("pred_p05") is not None else 0.0
            hi = max(0.0, float(r["pred_p95"]) / n - y) if r.get("pred_p95") is not None else 0.0
            genuine = 1.0 if r.get("genuine") is None else float(r["genuine"])
            points[bool(r.get("observation_ids"))].append((mid, y, lo, hi, genuine))
            if r.get("surprise"):
                flagged.append((mid, y))
        observed, empty = points[True], points[False]
        if empty:  # periods inside the coverage with nothing recorded: zero events, no bar
            ax.scatter(
                [p[0] for p in empty],
                [p[1] for p in empty],
                s=7,
                facecolors="white",
                edgecolors=MUTED,
                linewidths=0.6,
                zorder=3,
                label="No event recorded",
            )
        if observed:
            ax.errorbar(
                [p[0] for p in observed],
                [p[1] for p in observed],
                yerr=[[p[2] for p in observed], [p[3] for p in observed]],
                fmt="none",
                ecolor=INK,
                alpha=0.3,
                elinewidth=0.8,
                capsize=0,
            )
            shades = [(0.77 - 0.66 * p[4], 0.80 - 0.66 * p[4], 0.85 - 0.65 * p[4]) for p in observed]
            ax.scatter(
                [p[0] for p in observed],
                [p[1] for p in observed],
                s=[6 + 14 * p[4] for p in observed],
                c=shades,
                edgecolors="white",
                linewidths=0.4,
                zorder=3,
                label="Observed",
            )
        if flagged:
            ax.scatter(
                [p[0] for p in flagged],
                [p[1] for p in flagged],
                s=70,
                facecolors="none",
                edgecolors=ALERT,
                linewidths=1.3,
                zorder=4,
                label="Surprise",
            )
        ax.axvline(_day(as_of), color=MUTED, linewidth=0.8, linestyle=":")
        end = _day(dates[-1]) + timedelta(days=91) if dates else _day(as_of) + timedelta(days=365)
        ax.set_xlim(start, end)
        chars = max(24, int(14 * width))
        ax.set_title(_wrap(indicator.get("name", indicator["id"]), chars, 2), fontsize=8 if legend else 7, loc="left")
        unit = "per quarter (period totals ÷ quarters)" if per_cell else str(indicator.get("unit", ""))
        ax.set_ylabel(_wrap(unit, max(20, int(12 * height)), 2), fontsize=6.5 if legend else 5.5)
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
        ax.tick_params(axis="x", labelsize=6.5)
        if not (observed or empty or keep):
            ax.text(
                0.5,
                0.5,
                "No observations or model band in this period",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color=MUTED,
                fontsize=7,
            )
        if legend:
            ax.legend(loc="upper left", fontsize=5.5, ncols=2, handlelength=1.2, columnspacing=0.8)
        else:
            ax.tick_params(labelsize=5.5)
            ax.xaxis.set_major_locator(matplotlib.dates.YearLocator(base=2))
            ax.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%Y"))
        fig.tight_layout(pad=0.4)
        return _svg(fig)


def indicator_legend(width: float = 6.8) -> str:
    """The key of the indicator charts drawn without their own legend, as a strip."""
    with matplotlib.rc_context(RC):
        fig = _figure(width, 0.42)
        handles = [
            matplotlib.patches.Patch(color=ACCENT, alpha=0.16, label="Expected per quarter (90%)"),
            matplotlib.lines.Line2D([], [], color=ACCENT, linewidth=1.0, linestyle=":", label="Expected mean"),
            matplotlib.lines.Line2D(
                [], [], marker="o", linestyle="none", markersize=4, color=INK, label="Observed (pale: likely spurious)"
            ),
            matplotlib.lines.Line2D(
                [],
                [],
                marker="o",
                linestyle="none",
                markersize=3,
                markerfacecolor="white",
                markeredgecolor=MUTED,
                label="No event recorded",
            ),
            matplotlib.lines.Line2D(
                [],
                [],
                marker="o",
                linestyle="none",
                markersize=7,
                markerfacecolor="none",
                markeredgecolor=ALERT,
                label="Surprise",
            ),
            matplotlib.lines.Line2D([], [], color=MUTED, linewidth=0.8, linestyle=":", label="As-of date"),
        ]
        fig.legend(
            handles=handles, loc="center", ncols=3, fontsize=6.5, handlelength=1.6, columnspacing=1.6, frameon=False
        )
        return _svg(fig)


# ---------------------------------------------------------------------------- backtests


def pit_histogram(doc: Mapping[str, Any]) -> str | None:
    """Histogram of a saved backtest's held-out PIT values (``summary.pit_histogram``), with the
    count a calibrated forecast would give per bin (dashed) and its binomial 95% band (grey).
    ``None`` when nothing was scored."""
    summary = doc.get("summary") or {}
    hist = summary.get("pit_histogram") or {}
    edges, counts = list(hist.get("edges") or []), list(hist.get("counts") or [])
    if len(edges) != len(counts) + 1 or not sum(counts):
        return None
    expected = sum(counts) / len(counts)
    band = summary.get("pit_band") or [expected, expected]
    with matplotlib.rc_context(RC):
        fig = _figure(3.4, 2.2)
        ax = fig.subplots()
        _style(ax)
        ax.axhspan(band[0], band[1], color=MUTED, alpha=0.15, linewidth=0, label="95% band if calibrated")
        ax.bar(
            edges[:-1],
            counts,
            width=[b - a for a, b in itertools.pairwise(edges)],
            align="edge",
            color=ACCENT,
            alpha=0.8,
            edgecolor="white",
            linewidth=0.8,
            label="Held-out rows",
        )
        ax.axhline(expected, color=MUTED, linewidth=1.0, linestyle="--", label="Uniform")
        ax.set_xlim(0, 1)
        ax.set_xlabel("PIT of the held-out observation", fontsize=7)
        ax.set_ylabel("rows", fontsize=7)
        ax.legend(loc="upper center", fontsize=5.5, ncols=3, handlelength=1.2)
        ax.set_ylim(0, max(max(counts), band[1]) * 1.3 + 0.5)
        fig.tight_layout()
        return _svg(fig)


def probability_over_origins(doc: Mapping[str, Any], *, columns: int = 2) -> str | None:
    """Small multiples, one per outcome of a saved backtest: P(outcome within a year) at each
    origin with its 90% interval; origins after which the outcome happened within the year as red
    stars; a resolved outcome's resolution date as a red dotted line. ``None`` without outcomes."""
    outcomes = [
        o
        for o in doc.get("outcomes", [])
        if any(p.get("at_risk") and p.get("p") is not None for p in o.get("probabilities", []))
    ]
    if not outcomes:
        return None
    n = len(outcomes)
    cols = min(columns, n)
    rows = (n + cols - 1) // cols
    with matplotlib.rc_context(RC):
        fig = _figure(6.8, 2.0 * rows + 0.3)
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        for index, (ax, o) in enumerate(zip(axes.flat, outcomes)):
            _style(ax)
            color = color_for(index)
            pts = [p for p in o["probabilities"] if p.get("at_risk") and p.get("p") is not None]
            x = [_day(p["as_of"]) for p in pts]
            ax.fill_between(
                x,
                [100 * p["p_05"] for p in pts],
                [100 * p["p_95"] for p in pts],
                color=color,
                alpha=0.18,
                linewidth=0,
                label="90% interval",
            )
            ax.plot(
                x,
                [100 * p["p"] for p in pts],
                color=color,
                marker="o",
                markersize=3,
                linewidth=1.2,
                label="P(within a year)",
            )
            hit = [(d, 100 * p["p"]) for d, p in zip(x, pts) if p.get("happened")]
            if hit:
                ax.scatter(
                    [h[0] for h in hit],
                    [h[1] for h in hit],
                    marker="*",
                    s=60,
                    color=ALERT,
                    zorder=4,
                    label="happened within the year",
                )
            if o.get("resolution_date"):
                ax.axvline(
                    _day(o["resolution_date"]),
                    color=ALERT,
                    linewidth=1.0,
                    linestyle=":",
                    label=f"resolved {o['resolution_date']}",
                )
            ax.set_title(_wrap(o.get("question", o["id"]), 48, 2), fontsize=7.5, loc="left")
            ax.set_ylim(bottom=0)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}%"))
            ax.tick_params(axis="x", labelsize=6.5)
        _figure_legend(fig, *axes.flat[:n])
        return _svg(fig)


__all__ = [
    "factor_paths",
    "horizon_curves",
    "indicator_chart",
    "indicator_legend",
    "pit_histogram",
    "probability_over_origins",
]
