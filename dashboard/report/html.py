"""The report as one self-contained HTML file (Jinja2 template, autoescaped).

The template (``templates/report.html`` with ``templates/report.css`` inlined) renders the
sections of :func:`dashboard.report.content.gather` from their generic blocks. Autoescaping is
on for every value; chart SVG made by :mod:`dashboard.report.charts` is the only markup inserted
as is, and the ``code_spans`` filter, which escapes a text first, adds only ``<code>`` around its
backticked parts. The file has no scripts and references nothing outside itself: styles are inline, charts
are inline SVG, fonts are the reader's system fonts.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import jinja2
import markupsafe

TEMPLATE = "report.html"


def code_spans(text: Any) -> markupsafe.Markup:
    """``text`` escaped, with each `backticked` part shown as code (the only markup added)."""
    escaped = str(markupsafe.escape(text))
    return markupsafe.Markup(re.sub(r"`([^`\n]+)`", r"<code>\1</code>", escaped))


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the report templates (package data), autoescaping on."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dashboard.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    env.filters["code_spans"] = code_spans
    return env


def render_html(content: dict[str, Any]) -> str:
    """The report of ``content`` (see :mod:`dashboard.report.content`) as an HTML document."""
    return environment().get_template(TEMPLATE).render(**content)


__all__ = ["environment", "render_html"]
