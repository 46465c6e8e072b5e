"""Rows as text: JSON-safe records and ``table``/``csv``/``json`` renderings of frames and dict lists.

One definition for every front end that prints or exports rows (the command line, the HTTP API,
the report's CSV). JSON output (stable): a list of objects, one per row, with every column;
dates as ``YYYY-MM-DD``, times as ISO 8601 with offset (``2021-04-09T06:00:00+00:00``), missing
values as ``null``. CSV output has a header row; text cells that start with ``= + - @`` (or a tab
or carriage return) are prefixed with ``'`` so spreadsheets do not run them as formulas.

Stored text never drives the terminal: in every format, control characters, bidirectional-text
overrides and the like (:func:`indicators.text.printable`) are written as visible escapes, in
tables and CSV as the text ``\x1b``, in JSON as the equivalent ``\u001b`` (so JSON output still
parses to the stored text).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd

from indicators.errors import BadInput
from indicators.text import printable, unsafe

FORMATS = ("table", "csv", "json")


def _cell(value: Any, *, date_only: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is None and date_only:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _cell(value.item(), date_only=date_only)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def to_records(data: pd.DataFrame | Sequence[Mapping[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and JSON-safe rows (dates ISO, missing values None) of a frame or dict list."""
    if isinstance(data, pd.DataFrame):
        columns = [str(c) for c in data.columns]
        date_only = {}
        for c in data.columns:
            s = data[c]
            if pd.api.types.is_datetime64_any_dtype(s) and getattr(s.dt, "tz", None) is None:
                nonnull = s.dropna()
                date_only[c] = bool((nonnull == nonnull.dt.normalize()).all())
            else:
                date_only[c] = False
        rows = [
            {str(c): _cell(v, date_only=date_only[c]) for c, v in zip(data.columns, row)}
            for row in data.itertuples(index=False, name=None)
        ]
        return columns, rows
    rows_in = list(data)
    columns = []
    for r in rows_in:
        columns += [str(k) for k in r if str(k) not in columns]
    rows = [{c: _cell(r.get(c), date_only=True) for c in columns} for r in rows_in]
    return columns, rows


def _safe_csv_cell(value: Any) -> Any:
    if isinstance(value, str):
        text = printable(value, multiline=True)
        return "'" + text if value[:1] in ("=", "+", "-", "@", "\t", "\r") else text
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else value


def format_table(columns: list[str], rows: list[dict[str, Any]], *, max_width: int = 48) -> str:
    def show(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:g}"
        if isinstance(v, (dict, list)):
            v = json.dumps(v)
        text = printable(str(v).replace("\n", " ").replace("\t", " "))
        if len(text) > 19 and text[10:11] == "T" and text[4:5] == "-":  # ISO time: to the minute
            text = text[:16].replace("T", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[show(r[c]) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def render(data: pd.DataFrame | Sequence[Mapping[str, Any]], fmt: str, *, empty: str = "(nothing to show)") -> str:
    """``data`` as text in format ``fmt`` (``table``, ``csv`` or ``json``)."""
    columns, rows = to_records(data)
    if fmt == "json":
        text = json.dumps(rows, indent=2, ensure_ascii=False)
        # outside strings JSON holds only ASCII and line breaks, so each escape lands in a string
        return "".join(f"\\u{ord(ch):04x}" if unsafe(ch, multiline=True) else ch for ch in text)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_safe_csv_cell(r[c]) for c in columns])
        return buf.getvalue().rstrip("\n")
    if fmt == "table":
        return format_table(columns, rows) if rows else empty
    raise BadInput(f"--format: unknown format '{fmt}'; use one of {', '.join(FORMATS)}.")
