"""Review records and stale series: the use cases behind ``harbinger observe reviewed``, the
stale-series warnings (CLI, Overview, Indicators, report) and the shipped review records.

See :mod:`indicators.reviews` for what "reviewed through" means to the model.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from indicators.reviews import read_reviews_csv, shipped_reviews_path, stale_days, staleness


def today() -> date:
    return datetime.now(UTC).date()


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


def stale_view(
    store: Any, case_id: str, *, as_of: date | None = None, on: date | None = None, max_days: int | None = None
) -> dict[str, Any]:
    """Every open-coverage series' reviewed-through date as known at ``as_of`` (default: now),
    judged on ``on`` (default: ``as_of`` or today): ``{"max_days", "series": [...], "stale": [...]}``,
    each item :meth:`indicators.reviews.Staleness.as_dict` (``message`` is the warning's sentence)."""
    case = store.get_case(case_id).case
    frame = store.observations(case_id, as_of=as_of)
    reviewed = store.reviews(case_id, as_of=as_of)
    limit = stale_days() if max_days is None else max_days
    items = [s.as_dict() for s in staleness(case, frame, reviewed, today=on or as_of or today(), max_days=limit)]
    return {"max_days": limit, "series": items, "stale": [s for s in items if s["stale"]]}


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
