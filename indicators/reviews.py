"""Reviewed-through dates of open-coverage series, and which series have gone stale.

An ``events`` indicator with no ``coverage_end`` is a record the analyst keeps up to date: a
quarter with no recorded event is a zero only while someone has looked. Its record is complete
through its *reviewed-through* date: the later of its newest observation's end and its newest
review record (``harbinger observe reviewed INDICATOR --through DATE``, stored bitemporally in the
``reviews`` table). The model reads the quarters after it as missing, never as zeros
(``models.design``), and the product warns about series not reviewed for longer than
:data:`DEFAULT_STALE_DAYS` (two quarters; ``HARBINGER_STALE_DAYS`` overrides it).

Shipped review records live beside the shipped observations, in
``data/observations/<case>.reviews.csv`` (``indicator, through, recorded_at, note``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from indicators.case import Case
from indicators.errors import BadInput
from indicators.resources import data_path

#: Series not reviewed for longer than this are stale (two quarters).
DEFAULT_STALE_DAYS = 182


def stale_days() -> int:
    """The staleness threshold in days: ``HARBINGER_STALE_DAYS`` or :data:`DEFAULT_STALE_DAYS`."""
    raw = os.environ.get("HARBINGER_STALE_DAYS", "").strip()
    if not raw:
        return DEFAULT_STALE_DAYS
    try:
        days = int(raw)
    except ValueError:
        raise BadInput(f"HARBINGER_STALE_DAYS: '{raw}' is not a whole number of days.") from None
    if days < 1:
        raise BadInput(f"HARBINGER_STALE_DAYS: {days} is not a positive number of days.")
    return days


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(str(value)).date()


def open_coverage(case: Case) -> list[str]:
    """The ids of the case's ``events`` indicators without ``coverage_end``."""
    return [i.id for i in case.indicators if i.aggregation == "events" and i.coverage_end is None]


def reviewed_through(
    case: Case, observations: pd.DataFrame, reviewed: Mapping[str, Any] | None = None
) -> dict[str, date | None]:
    """For each open-coverage indicator: the later of its newest observation's end (``end``, else
    ``date``) and its newest review (``reviewed``: indicator -> date); None when it has neither."""
    reviewed = reviewed or {}
    out: dict[str, date | None] = {}
    for iid in open_coverage(case):
        last: date | None = None
        if not observations.empty:
            sub = observations[observations["indicator"] == iid]
            if not sub.empty:
                ends = pd.to_datetime(sub["end"]).fillna(pd.to_datetime(sub["date"]))
                last = _day(ends.max())
        r = reviewed.get(iid)
        if r is not None and (last is None or _day(r) > last):
            last = _day(r)
        out[iid] = last
    return out


@dataclass(frozen=True)
class Staleness:
    """An open-coverage series and how long ago it was last known complete."""

    indicator: str
    name: str
    reviewed_through: date | None
    days: int | None  # None: never reviewed
    stale: bool

    def sentence(self) -> str:
        if self.reviewed_through is None:
            return (
                f"{self.name} ({self.indicator}) has never been reviewed: the model reads all of its "
                "quarters as missing."
            )
        return (
            f"{self.name} ({self.indicator}) was last reviewed through {self.reviewed_through.isoformat()} "
            f"({self.days} days ago): the model reads the quarters after it as missing, not zero. "
            f"Record new events, or 'harbinger observe reviewed {self.indicator} --through DATE'."
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator,
            "name": self.name,
            "reviewed_through": self.reviewed_through.isoformat() if self.reviewed_through else None,
            "days": self.days,
            "stale": self.stale,
            "message": self.sentence(),
        }


def staleness(
    case: Case,
    observations: pd.DataFrame,
    reviewed: Mapping[str, Any] | None,
    *,
    today: date,
    max_days: int | None = None,
) -> list[Staleness]:
    """Each open-coverage series' reviewed-through date and whether it is older than ``max_days``
    (default :func:`stale_days`) on ``today``."""
    limit = stale_days() if max_days is None else max_days
    through = reviewed_through(case, observations, reviewed)
    out = []
    for iid, last in through.items():
        days = None if last is None else (today - last).days
        out.append(Staleness(iid, case.indicator(iid).name, last, days, days is None or days > limit))
    return out


def stale_series(
    case: Case,
    observations: pd.DataFrame,
    reviewed: Mapping[str, Any] | None,
    *,
    today: date,
    max_days: int | None = None,
) -> list[Staleness]:
    """Only the stale ones of :func:`staleness`."""
    return [s for s in staleness(case, observations, reviewed, today=today, max_days=max_days) if s.stale]


def read_reviews_csv(path: Path) -> list[dict[str, Any]]:
    """The review records of a reviews CSV (``indicator, through, recorded_at, note``)."""
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            try:
                through = date.fromisoformat(row["through"].strip())
                recorded = datetime.fromisoformat(row["recorded_at"].strip()) if row.get("recorded_at") else None
            except (KeyError, ValueError) as exc:
                raise BadInput(f"{path} line {line}: {exc}") from None
            out.append(
                {
                    "indicator": row["indicator"].strip(),
                    "through": through,
                    "recorded_at": recorded,
                    "note": (row.get("note") or "").strip(),
                }
            )
    return out


def shipped_reviews_path(case_id: str) -> Path | None:
    path = data_path("observations", f"{case_id}.reviews.csv")
    return path if path.exists() else None


def shipped_reviews(case_id: str, *, as_of: date | None = None) -> dict[str, date]:
    """Indicator -> latest ``through`` of the shipped review records recorded by ``as_of``."""
    path = shipped_reviews_path(case_id)
    out: dict[str, date] = {}
    for r in read_reviews_csv(path) if path else []:
        if as_of is not None and r["recorded_at"] is not None and r["recorded_at"].date() > as_of:
            continue
        if r["indicator"] not in out or r["through"] > out[r["indicator"]]:
            out[r["indicator"]] = r["through"]
    return out
