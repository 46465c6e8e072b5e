"""Review records and stale series: the use cases behind ``harbinger observe reviewed``, the
stale-series warnings (CLI, Overview, Indicators, report), the Indicators page's "Mark reviewed"
form and the shipped review records.

See :mod:`indicators.reviews` for what "reviewed through" means to the model. "Today" is the
product's one clock (:func:`dashboard.services.context.today`), so a review dated today is never
"in the future" and tests that fix the clock fix staleness too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pandas as pd

from dashboard.services.context import today
from indicators.errors import BadInput
from indicators.observations import parse_date
from indicators.reviews import (
    DEFAULT_STALE_DAYS,
    open_coverage,
    read_reviews_csv,
    shipped_reviews_path,
    stale_days,
    staleness,
)

__all__ = [
    "add_review",
    "judge_staleness",
    "load_shipped_reviews",
    "mark_reviewed",
    "review_choices",
    "review_rows",
    "stale_notice",
    "stale_view",
    "stale_warning",
    "today",
]


def add_review(store: Any, case_id: str, indicator: str, through: date, *, actor: str, note: str = "") -> int:
    """Record ``indicator`` reviewed through ``through``; the new review's id."""
    return store.add_review(case_id, indicator, through, actor=actor, note=note)


def load_shipped_reviews(store: Any, case_id: str, *, actor: str) -> int:
    """Insert the shipped review records of ``case_id`` (``data/observations/<case>.reviews.csv``)
    while the case has none; how many were inserted."""
    path = shipped_reviews_path(case_id)
    if path is None or store.reviews(case_id):
        return 0
    rows = read_reviews_csv(path)
    return store.add_reviews(case_id, rows, actor=actor)


def judge_staleness(
    case: Any, frame: pd.DataFrame, reviewed: Mapping[str, Any] | None, *, on: date, max_days: int | None = None
) -> dict[str, Any]:
    """:func:`stale_view` of observations and review records already read (the report has them)."""
    limit = stale_days() if max_days is None else max_days
    items = [s.as_dict() for s in staleness(case, frame, reviewed, today=on, max_days=limit)]
    return {"max_days": limit, "series": items, "stale": [s for s in items if s["stale"]]}


def stale_view(
    store: Any, case_id: str, *, as_of: date | None = None, on: date | None = None, max_days: int | None = None
) -> dict[str, Any]:
    """Every open-coverage series' reviewed-through date as known at ``as_of`` (default: now),
    judged on ``on`` (default: ``as_of`` or today): ``{"max_days", "series": [...], "stale": [...]}``,
    each item :meth:`indicators.reviews.Staleness.as_dict` (``message`` is the warning's sentence)."""
    case = store.get_case(case_id).case
    frame = store.observations(case_id, as_of=as_of)
    reviewed = store.reviews(case_id, as_of=as_of)
    return judge_staleness(case, frame, reviewed, on=on or as_of or today(), max_days=max_days)


def stale_warning(view: dict[str, Any]) -> str | None:
    """One paragraph naming the stale series of :func:`stale_view`, or None."""
    stale = view["stale"]
    if not stale:
        return None
    names = ", ".join(f"{s['indicator']} (through {s['reviewed_through'] or 'never'})" for s in stale)
    return (
        f"{len(stale)} series not reviewed for more than {view['max_days']} days: {names}. "
        "The model reads their quarters after that date as missing, not zero; record new events or "
        "'harbinger observe reviewed ID --through DATE'."
    )


# ---------------------------------------------------------------------------- the warning in words


def _threshold(days: int) -> str:
    """The staleness limit in words: the default is "two quarters (182 days)"."""
    return f"two quarters ({days} days)" if days == DEFAULT_STALE_DAYS else f"{days} days"


def _ago(days: int) -> str:
    """How long ago, in days, with months or years beside a long span: "339 days ago (about 11 months)"."""
    if days == 0:
        return "today"
    if days < 60:
        return f"{days} day{'s' if days != 1 else ''} ago"
    months = round(days / 30.44)
    rough = f"about {months} months" if months < 24 else f"about {round(days / 365.25)} years"
    return f"{days} days ago ({rough})"


def stale_notice(view: dict[str, Any]) -> dict[str, Any] | None:
    """The stale-series warning of :func:`stale_view` in words, for the pages and the report:
    ``{"headline", "explanation", "lines": [one sentence per stale series], "indicators": [ids]}``
    (each line names the series, the date it was reviewed through and how long ago), or None when
    no series is stale."""
    stale = view["stale"]
    if not stale:
        return None
    n = len(stale)
    headline = (
        f"{n} series {'has' if n == 1 else 'have'} not been reviewed for more than {_threshold(view['max_days'])}."
    )
    explanation = (
        "The model reads their quarters after the reviewed-through date as missing, not as quarters "
        "without events, so the forecast does not see what happened since. Record the new events, or "
        "mark a series reviewed once its record is checked complete."
    )
    lines = []
    for s in stale:
        if s["reviewed_through"] is None:
            lines.append(f"{s['name']}: never reviewed and no record, so every quarter of it is missing.")
        else:
            lines.append(f"{s['name']}: reviewed through {s['reviewed_through']}, {_ago(int(s['days']))}.")
    return {
        "headline": headline,
        "explanation": explanation,
        "lines": lines,
        "indicators": [s["indicator"] for s in stale],
    }


# ---------------------------------------------------------------------------- the "Mark reviewed" form


def review_choices(view: dict[str, Any]) -> list[dict[str, str]]:
    """The form's series: every open-coverage series of :func:`stale_view`, as
    ``{"label", "value"}`` (its name and reviewed-through date)."""
    return [
        {
            "label": f"{s['name']} (reviewed through {s['reviewed_through'] or 'never'})",
            "value": s["indicator"],
        }
        for s in view["series"]
    ]


def review_rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The Indicators page's table of open-coverage series: ``{"indicator", "name",
    "reviewed_through", "ago", "stale"}`` per series of :func:`stale_view`, stale ones first."""
    rows = [
        {
            "indicator": s["indicator"],
            "name": s["name"],
            "reviewed_through": s["reviewed_through"] or "never",
            "ago": "—" if s["days"] is None else _ago(int(s["days"])),
            "stale": bool(s["stale"]),
        }
        for s in view["series"]
    ]
    return sorted(rows, key=lambda r: not r["stale"])


def mark_reviewed(store: Any, case_id: str, indicator: Any, through: Any, *, actor: str, note: str = "") -> str:
    """Record, from the dashboard's form, that ``indicator`` was reviewed through ``through``
    (``YYYY-MM-DD`` text or a date); the confirmation sentence. Bad input is one sentence in a
    :class:`BadInput` (nothing is recorded): no series chosen, a series without open coverage, a
    date that is not a date, in the future, or before the case or the series' record starts."""
    case = store.get_case(case_id).case
    if not indicator or not str(indicator).strip():
        raise BadInput("Choose the series whose record you checked.")
    indicator = str(indicator).strip()
    if indicator not in open_coverage(case):
        raise BadInput(f"'{indicator}' is not an open-coverage series of this case, so it has no review date.")
    ind = case.indicator(indicator)
    if through is None or not str(through).strip():
        raise BadInput("Give the date through which the record is complete, as YYYY-MM-DD.")
    try:
        day = parse_date(through)
    except ValueError as exc:
        raise BadInput(f"Reviewed through: {exc}.") from None
    now = today()
    if day > now:
        raise BadInput(f"Reviewed through: {day} is in the future; a record can be complete only up to today ({now}).")
    if day < case.start:
        raise BadInput(f"Reviewed through: {day} is before the case starts ({case.start}).")
    if ind.coverage_start is not None and day < ind.coverage_start:
        raise BadInput(f"Reviewed through: {day} is before the record of {ind.name} starts ({ind.coverage_start}).")
    add_review(store, case_id, indicator, day, actor=actor, note=note)
    return f"Recorded: {ind.name} reviewed through {day}."
