"""The building blocks of a report: what a section reads (:class:`Inputs`) and the generic blocks it
returns (paragraphs, notices, lists, key-value lists, tables, charts), which the HTML template
renders. Shared by :mod:`dashboard.report.content` and :mod:`dashboard.report.analysis`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Inputs:
    """What the section functions read."""

    case: Any                       # indicators.case.LoadedCase
    run: dict[str, Any]             # the run row
    forecast: dict[str, Any]        # its forecast.json, with the store's identity
    previous_run: dict[str, Any] | None
    previous: dict[str, Any] | None  # the previous ok run's forecast (for changes)
    observations: pd.DataFrame      # in effect at the end of the run's as-of date
    stale_records: int              # records recorded after the run was created
    store: Any = None               # the store (scenarios, explanations, backtests); None: those say so


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
    return {"text": "" if text is None else str(text), "lines": [line for line in lines if line],
            "cls": cls, "data": data or {}}


def table(columns: list[tuple[str, str]], rows: list[list[dict[str, Any]]], *, id: str, caption: str = "",
          fixed: bool = False) -> dict[str, Any]:
    """A table block; ``fixed`` keeps the template's column widths (long text wraps inside)."""
    return {"kind": "table", "id": id, "caption": caption, "fixed": fixed,
            "columns": [{"label": label, "cls": cls} for label, cls in columns], "rows": rows}


def chart(svg: str | None, caption: str = "", *, wide: bool = True, title: str = "") -> dict[str, Any] | None:
    if not svg:
        return None
    return {"kind": "chart", "svg": svg, "caption": caption, "wide": wide, "title": title}


def section(id: str, title: str, blocks: list[dict[str, Any] | None]) -> dict[str, Any]:
    return {"id": f"sec-{id}", "title": title, "blocks": [b for b in blocks if b is not None]}
