"""Forecast reports: a self-contained HTML file, a PDF, and CSV/JSON/netCDF exports of one run.

The pieces, one job each:

- :mod:`dashboard.report.content` gathers everything a report shows (from the store, the run's
  ``forecast.json``, and the case) as plain data: identity, the forecast table, and a list of
  sections made of generic blocks (paragraphs, notices, tables, charts);
- :mod:`dashboard.report.charts` draws the charts as inline SVG with matplotlib (vector, no
  external fonts or images);
- :mod:`dashboard.report.html` renders the sections with a Jinja2 template (autoescaped);
- :mod:`dashboard.report.pdf` prints the same template with WeasyPrint (page numbers, a table of
  contents with page references);
- :mod:`dashboard.report.exports` writes the forecast table as CSV or JSON and the run's
  posterior as netCDF with the run's identity in its attributes.

Typical use (what ``harbinger report`` and the Reports page do)::

    from dashboard import report

    content = report.build(store, case_id, run_id=None, as_of=None)   # the current run
    data = report.render(content, "pdf")                                # bytes
    name = report.filename(content, "pdf")                              # a safe file name
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

#: Format -> (file suffix, MIME type).
FORMATS: dict[str, tuple[str, str]] = {
    "html": (".html", "text/html"),
    "pdf": (".pdf", "application/pdf"),
    "csv": (".csv", "text/csv"),
    "json": (".json", "application/json"),
    "netcdf": (".nc", "application/x-netcdf"),
}

FORMAT_LABELS = {"html": "HTML", "pdf": "PDF", "csv": "CSV", "json": "JSON", "netcdf": "netCDF"}


def check_format(fmt: str | None) -> str:
    """``fmt`` if it is a report format, else :class:`BadInput` naming the formats."""
    from indicators.errors import BadInput

    if fmt not in FORMATS:
        raise BadInput(f"--format: unknown report format '{fmt}'; use one of {', '.join(FORMATS)}.")
    return str(fmt)


#: Formats that show the report's sections (the others need only the identity and the table).
DOCUMENT_FORMATS = ("html", "pdf")


def build(
    store: Any, case_id: str, *, run_id: str | None = None, as_of: date | None = None, fmt: str | None = None
) -> dict[str, Any]:
    """The content of the report of a run (see :func:`dashboard.report.content.gather`); for a
    ``fmt`` other than HTML or PDF, without the sections (no charts are drawn)."""
    from dashboard.report.content import gather

    return gather(store, case_id, run_id=run_id, as_of=as_of, sections=fmt is None or fmt in DOCUMENT_FORMATS)


def render(content: dict[str, Any], fmt: str) -> bytes:
    """The report (or export) ``fmt`` of ``content`` as bytes."""
    fmt = check_format(fmt)
    if fmt == "html":
        from dashboard.report.html import render_html

        return render_html(content).encode("utf-8")
    if fmt == "pdf":
        from dashboard.report.pdf import render_pdf

        return render_pdf(content)
    from dashboard.report import exports

    if fmt == "csv":
        return exports.forecast_csv(content)
    if fmt == "json":
        return exports.forecast_json(content)
    return exports.posterior_netcdf(content)


def safe_filename(text: str, *, default: str = "report") -> str:
    """``text`` as a file name safe on every system: ASCII letters, digits, ``.``, ``_`` and ``-``
    only, no leading dot or dash, at most 120 characters."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text)
    name = re.sub(r"\.{2,}", ".", name)
    name = re.sub(r"-{2,}", "-", name).strip(".-_ ")
    return name[:120].rstrip(".-_") or default


def filename(content: dict[str, Any], fmt: str) -> str:
    """The suggested file name of a report: ``harbinger-<case>-<as-of>-<run>.<suffix>``, sanitised."""
    fmt = check_format(fmt)
    ident = content["identity"]
    stem = safe_filename(f"harbinger-{content['case']['id']}-{ident['as_of']}-{ident['run_id']}")
    return stem + FORMATS[fmt][0]


__all__ = ["FORMATS", "FORMAT_LABELS", "build", "check_format", "filename", "render", "safe_filename"]
