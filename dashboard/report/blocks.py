"""The building blocks of a report: what a section reads (:class:`Inputs`) and the generic blocks it
returns (paragraphs, notices, lists, key-value lists, tables, charts, groups), which the HTML
template renders. Text in paragraphs, notices and lists may quote a command or a field in
backticks (`harbinger backtest`): the template shows it as code. Shared by :mod:`dashboard.report.content` and :mod:`dashboard.report.analysis`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Inputs:
    """What the section functions read."""

    case: Any  # indicators.case.LoadedCase
    run: dict[str, Any]  # the run row
    forecast: dict[str, Any]  # its forecast.json, with the store's identity
    previous_run: dict[str, Any] | None
    previous: dict[str, Any] | None  # the previous ok run's forecast (for changes)
    observations: pd.DataFrame  # in effect at the end of the run's as-of date
    stale_records: int  # records recorded after the run was created
    store: Any = None  # the store (scenarios, explanations, backtests); None: those say so
    stale: dict[str, Any] | None = None  # dashboard.services.reviews.stale_view as of the run's as-of date


def paragraph(text: str) -> dict[str, Any]:
    return {"kind": "paragraph", "text": text}


def notice(text: str, level: str = "info") -> dict[str, Any]:
    return {"kind": "notice", "text": text, "level": level}


def bullet_list(items: list[str], *, ordered: bool = False) -> dict[str, Any]:
    return {"kind": "list", "items": list(items), "ordered": ordered}


def subheading(text: str) -> dict[str, Any]:
    return {"kind": "subheading", "text": text}


def keyvalue(rows: list[tuple[str, Any]]) -> dict[str, Any]:
    return {"kind": "keyvalue", "rows": [[k, "—" if v is None or v == "" else str(v)] for k, v in rows]}


def cell(text: Any, *lines: str, cls: str = "", data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "text": "" if text is None else str(text),
        "lines": [line for line in lines if line],
        "cls": cls,
        "data": data or {},
    }


#: Tables with at most this many rows are kept on one page with their caption (unless told otherwise).
KEEP_ROWS = 8


def table(
    columns: list[tuple[str, str] | tuple[str, str, float]],
    rows: list[list[dict[str, Any]]],
    *,
    id: str,
    caption: str = "",
    fixed: bool = False,
    keep: bool | None = None,
) -> dict[str, Any]:
    """A table block. Every table fits the width of the page: columns share it, and text wraps
    inside its cell. A column may give its share of the width in percent as a third item
    (the others share what is left); ``fixed`` is kept for callers and means the same. ``keep``
    keeps the table on one page with its caption (default: when it has at most
    :data:`KEEP_ROWS` rows); a longer table breaks between rows and repeats its header."""
    if keep is None:
        keep = len(rows) <= KEEP_ROWS
    cols = []
    for spec in columns:
        label, cls, *width = spec
        cols.append({"label": label, "cls": cls, "width": float(width[0]) if width else None})
    return {"kind": "table", "id": id, "caption": caption, "fixed": fixed, "keep": keep, "columns": cols, "rows": rows}


#: Chart sizes: the full width, half of it, or a third (small multiples).
CHART_SIZES = ("wide", "half", "third")


def chart(
    svg: str | None, caption: str = "", *, wide: bool = True, title: str = "", size: str | None = None
) -> dict[str, Any] | None:
    """A chart block (``size`` one of :data:`CHART_SIZES`; by default ``wide`` or ``half``)."""
    if not svg:
        return None
    size = size or ("wide" if wide else "half")
    if size not in CHART_SIZES:
        raise ValueError(f"chart size {size!r} is not one of {CHART_SIZES}")
    return {"kind": "chart", "svg": svg, "caption": caption, "wide": size == "wide", "size": size, "title": title}


def group(blocks: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Blocks kept together on one page (a heading with its text and a short table)."""
    return {"kind": "group", "blocks": [b for b in blocks if b is not None]}


def section(id: str, title: str, blocks: list[dict[str, Any] | None], *, appendix: bool = False) -> dict[str, Any]:
    """A section; an ``appendix`` one is printed after the others, under "Appendix", for details."""
    return {"id": f"sec-{id}", "title": title, "blocks": [b for b in blocks if b is not None], "appendix": appendix}
