"""The pieces every page's layout is built from, so the pages look and label alike: the page's
head (its title and controls) and a labelled control.

A control's label names its component (``htmlFor``), so a screen reader and a browser test find
the control by its visible label.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import html


def page_head(title: str, *controls: Any) -> html.Div:
    """The page's title with its controls (from :func:`control`) beside it."""
    children: list[Any] = [html.H1(title)]
    if controls:
        children.append(html.Div(className="controls", children=list(controls)))
    return html.Div(className="page-head", children=children)


def control(label: str | None, component: Any, *, wide: bool = False, extra_class: str = "") -> html.Div:
    """A control of a page's head: ``label`` names ``component`` (which needs an ``id``); a wide
    control takes the head's free width (dropdowns of many options). No label for a button,
    whose own text names it."""
    classes = " ".join(c for c in ("control", "control-wide" if wide else "", extra_class) if c)
    children: list[Any] = [component]
    if label is not None:
        children.insert(0, html.Label(label, htmlFor=component.id, className="control-label"))
    return html.Div(className=classes, children=children)


def horizon_options(horizons: list[int]) -> list[dict[str, Any]]:
    """Radio options for forecast horizons in years ("1 year", "3 years", ...)."""
    return [{"label": years_label(h), "value": h} for h in horizons]


def kept_choice(current: Any, values: list[Any]) -> Any:
    """The value a callback that refreshes a control's options writes back: nothing
    (``dash.no_update``) while the chosen value is still among ``values``, else the first of them
    (None when there are none).

    Writing the chosen value back would undo a choice the user made while the request was under
    way: the callback read the value when it was sent, and its answer lands after the click."""
    if current in values:
        return dash.no_update
    return values[0] if values else None


def years_label(years: int) -> str:
    """ "1 year", "3 years"."""
    return "1 year" if years == 1 else f"{years} years"


__all__ = ["control", "horizon_options", "kept_choice", "page_head", "years_label"]
