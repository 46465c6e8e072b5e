"""The report as a PDF: the HTML template printed by WeasyPrint with its print CSS.

The print rules of ``templates/report.css`` give A4 pages with the case and run in the running
header (in red when the run failed its diagnostics), page numbers ("Page N of M") in the footer,
a table of contents with page references (``target-counter``), sections starting on new pages,
and PDF bookmarks from the headings. Charts stay vector (inline SVG). WeasyPrint is given a URL
fetcher that refuses every request, so nothing outside the document is ever read.
"""

from __future__ import annotations

import logging
from typing import Any

from dashboard.report.html import render_html


class ExternalResource(ValueError):
    """The report tried to load something from outside itself (never expected)."""


def _refuse(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise ExternalResource(f"the report refers to an external resource ({url[:80]}); refusing to fetch it")


def render_pdf(content: dict[str, Any]) -> bytes:
    """The PDF of ``content`` (see :mod:`dashboard.report.content`) as bytes."""
    import weasyprint

    # WeasyPrint logs every CSS property it does not support as a warning; the report's CSS
    # is shared with the screen version, so keep its log quiet unless asked for.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    document = weasyprint.HTML(string=render_html(content), url_fetcher=_refuse, base_url=None)
    return document.write_pdf()


__all__ = ["render_pdf"]
