"""Why the forecast moved: each changed observation's contribution to the change between two runs.

Between an older run A and a newer run B, the observations each used are compared by lineage
(:func:`observation_changes`): an observation B used that A did not is *new*, one whose record in
effect differs is *corrected*, one A used that B does not is *retracted* (or no longer in B's
window). A change's contribution to an outcome's probability at a horizon is

    contribution = P_B - P_B(without the change)

where ``P_B(without the change)`` comes from B's own draws reweighted to B's data with that one
change undone (leave-new-out PSIS, :class:`models.reweight.Conditioner`), in probability points
and in log-odds (``logit P_B - logit P_B(without)``). Its k-hat is reported; above 0.7 the
reweighting is unreliable and, when a refit function is given, a refit of B's data without the
change replaces it (method ``refit``).

Contributions are shown with the total change ``P_B - P_A`` (from the two runs' forecasts) and the
remainder ``total - sum of contributions``, which holds what no single observation explains:
interactions between changes, the passing of time when the as-of dates differ (new quarters with
no events, one more quarter at risk, a later forecast origin), a changed case or model version,
and the Monte Carlo error of the two independent fits. ``all_changes_pp`` undoes every change at
once; its difference from the sum shows how far the changes interact.

When more than ``max_items`` observations changed, changes are grouped by indicator and kind
(each group left out together), so the explanation stays fast and readable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from models.reweight import KHAT_MAX, Conditioner, Reweighted

MAX_ITEMS = 40
#: Probabilities are clipped to [EPS, 1 - EPS] before taking log-odds.
EPS = 1e-6

Refit = Callable[[pd.DataFrame], list[dict[str, Any]]]


@dataclass
class Change:
    """One observation lineage whose record in effect differs between two runs."""

    kind: str  # "new" | "corrected" | "retracted"
    original_id: int
    record_id: int
    indicator: str
    date: str
    end: str
    value: float
    previous_value: float | None = None

    def label(self) -> str:
        period = self.date if self.end == self.date else f"{self.date}–{self.end}"
        if self.kind == "corrected":
            return (
                f"corrected observation {self.original_id} ({self.indicator}, {period}, value "
                f"{self.previous_value:g} → {self.value:g})"
            )
        return f"{self.kind} observation {self.record_id} ({self.indicator}, {period}, value {self.value:g})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "observation_id": self.record_id,
            "original_id": self.original_id,
            "indicator": self.indicator,
            "date": self.date,
            "end": self.end,
            "value": self.value,
            "previous_value": self.previous_value,
        }


def _lineage(frame: pd.DataFrame) -> pd.Series:
    return frame["original_id"] if "original_id" in frame else frame["id"]


def _day(x: Any) -> str:
    return pd.Timestamp(x).date().isoformat()


def observation_changes(old: pd.DataFrame, new: pd.DataFrame) -> list[Change]:
    """New, corrected and retracted observations from the frame ``old`` to the frame ``new``
    (store frames; lineages matched by ``original_id``)."""
    old_by = {int(k): r for k, r in zip(_lineage(old), old.to_dict("records"))}
    new_by = {int(k): r for k, r in zip(_lineage(new), new.to_dict("records"))}
    fields = ("indicator", "date", "end", "value", "reliability", "credibility")
    out = []
    for lid, r in new_by.items():
        before = old_by.get(lid)
        if before is None:
            out.append(
                Change("new", lid, int(r["id"]), r["indicator"], _day(r["date"]), _day(r["end"]), float(r["value"]))
            )
        elif any(_norm(before[f]) != _norm(r[f]) for f in fields):
            out.append(
                Change(
                    "corrected",
                    lid,
                    int(r["id"]),
                    r["indicator"],
                    _day(r["date"]),
                    _day(r["end"]),
                    float(r["value"]),
                    float(before["value"]),
                )
            )
    for lid, r in old_by.items():
        if lid not in new_by:
            out.append(
                Change(
                    "retracted", lid, int(r["id"]), r["indicator"], _day(r["date"]), _day(r["end"]), float(r["value"])
                )
            )
    return sorted(out, key=lambda c: (c.date, c.original_id))


def _norm(v: Any) -> Any:
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(v).date()
    if isinstance(v, (float, np.floating, int, np.integer)):
        return float(v)
    return v


def undo(new: pd.DataFrame, old: pd.DataFrame, changes: list[Change]) -> pd.DataFrame:
    """``new`` with ``changes`` undone: new ones removed, corrections reverted, retractions restored."""
    lid_new, lid_old = _lineage(new).astype(int), _lineage(old).astype(int)
    drop = {c.original_id for c in changes}
    restore = {c.original_id for c in changes if c.kind in ("corrected", "retracted")}
    kept = new.loc[~lid_new.isin(drop)]
    back = old.loc[lid_old.isin(restore)]
    return pd.concat([kept, back], ignore_index=True) if len(back) else kept.reset_index(drop=True)


@dataclass
class Item:
    """What is left out together: one change, or a group of changes of one indicator and kind."""

    label: str
    changes: list[Change]
    result: Reweighted | None = None
    refit_outcomes: list[dict[str, Any]] | None = None
    contributions: list[dict[str, Any]] = field(default_factory=list)


def _items(changes: list[Change], max_items: int) -> tuple[list[Item], bool]:
    if len(changes) <= max_items:
        return [Item(c.label(), [c]) for c in changes], False
    groups: dict[tuple[str, str], list[Change]] = {}
    for c in changes:
        groups.setdefault((c.indicator, c.kind), []).append(c)
    return [
        Item(f"{len(cs)} {kind} observation{'s' if len(cs) != 1 else ''} of {ind}", cs)
        for (ind, kind), cs in sorted(groups.items())
    ], True


def _logit(p: float) -> float:
    p = min(max(float(p), EPS), 1 - EPS)
    return float(np.log(p / (1 - p)))


def _p(outcomes: list[dict[str, Any]], oid: str, years: int) -> float | None:
    for o in outcomes:
        if o["id"] == oid:
            h = next((h for h in o.get("horizons", []) if int(h["years"]) == years), None)
            return None if h is None else h["p_mean"]
    return None


def explain(
    conditioner: Conditioner,
    old_observations: pd.DataFrame,
    before: list[dict[str, Any]],
    *,
    max_items: int = MAX_ITEMS,
    refit: Refit | None = None,
) -> dict[str, Any]:
    """Each change's contribution to each outcome's change from an older run to a newer one.

    Parameters
    ----------
    conditioner
        The newer run's draws, design and the observations it used (``observations``).
    old_observations
        The observations the older run used (within its window).
    before
        The older run's outcome forecasts (``forecast.json`` ``outcomes``).
    refit
        Optional: ``refit(frame) -> outcomes`` fits the newer run's model on ``frame``; used for
        changes whose reweighting k-hat is above 0.7.

    Returns
    -------
    ``{"changes": [...], "items": [{"label", "kind", "observation_ids", "method", "khat",
    "reliable", "contributions": [{"outcome", "years", "pp", "log_odds"}]}], "outcomes":
    [{"outcome", "years", "before", "after", "total_pp", "total_log_odds", "explained_pp",
    "unexplained_pp", "all_changes_pp"}], "grouped": bool, "all_changes_khat": float | None}``
    (probability points are percentage points).
    """
    new_obs = conditioner.observations
    if new_obs is None:
        raise ValueError("the conditioner needs the newer run's observations")
    changes = observation_changes(old_observations, new_obs)
    after = conditioner.baseline()
    items, grouped = _items(changes, max_items)
    for item in items:
        item.result = conditioner.condition(observations_after=undo(new_obs, old_observations, item.changes))
        if not item.result.reliable and refit is not None:
            item.refit_outcomes = refit(undo(new_obs, old_observations, item.changes))
    joint = None
    if len(items) > 1:
        joint = conditioner.condition(observations_after=undo(new_obs, old_observations, changes))
    elif items:
        joint = items[0].result

    rows_out, item_rows = [], []
    keys = [(o["id"], h["years"]) for o in after.outcomes if not o["resolved"] for h in o["horizons"]]
    for item in items:
        assert item.result is not None
        method = "refit" if item.refit_outcomes is not None else "reweighting"
        without = item.refit_outcomes if item.refit_outcomes is not None else item.result.outcomes
        contrib = []
        for oid, years in keys:
            p_after, p_without = _p(after.outcomes, oid, years), _p(without, oid, years)
            if p_after is None or p_without is None:
                continue
            contrib.append(
                {
                    "outcome": oid,
                    "years": years,
                    "pp": round(100 * (p_after - p_without), 3),
                    "log_odds": round(_logit(p_after) - _logit(p_without), 4),
                }
            )
        item.contributions = contrib
        kinds = sorted({c.kind for c in item.changes})
        item_rows.append(
            {
                "label": item.label,
                "kind": kinds[0] if len(kinds) == 1 else "mixed",
                "observation_ids": [c.record_id for c in item.changes],
                "indicator": item.changes[0].indicator,
                "method": method,
                "khat": round(item.result.khat, 3),
                "reliable": bool(item.result.reliable),
                "ignored": [{"observation": i, "reason": r} for i, r in item.result.ignored],
                "contributions": contrib,
            }
        )
    for oid, years in keys:
        p_after, p_before = _p(after.outcomes, oid, years), _p(before, oid, years)
        explained = sum(
            c["pp"] for it in item_rows for c in it["contributions"] if c["outcome"] == oid and c["years"] == years
        )
        all_pp = None
        if joint is not None:
            p_joint = _p(joint.outcomes, oid, years)
            all_pp = None if p_joint is None else round(100 * (p_after - p_joint), 3)
        total = None if p_before is None else 100 * (p_after - p_before)
        rows_out.append(
            {
                "outcome": oid,
                "years": years,
                "before": p_before,
                "after": p_after,
                "total_pp": None if total is None else round(total, 3),
                "total_log_odds": None if p_before is None else round(_logit(p_after) - _logit(p_before), 4),
                "explained_pp": round(explained, 3),
                "unexplained_pp": None if total is None else round(total - explained, 3),
                "all_changes_pp": all_pp,
            }
        )
    return {
        "changes": [c.as_dict() for c in changes],
        "items": item_rows,
        "outcomes": rows_out,
        "grouped": grouped,
        "khat_max": KHAT_MAX,
        "all_changes_khat": None if joint is None else round(joint.khat, 3),
    }


def context_changes(
    from_as_of: date, to_as_of: date, old_reviewed: Mapping[str, date | None], new_reviewed: Mapping[str, date | None]
) -> list[dict[str, Any]]:
    """What moved a forecast between two runs besides changed observations, by name: time passing
    (the as-of date moved, so more quarters are at risk, the factors' paths run longer and the
    horizons end later) and each open-coverage series whose reviewed-through date changed (the
    quarters between the two dates are now read as counts, or as missing). Reviewed-through maps
    are :attr:`models.design.Design.reviewed_through` of each run's design. These are not
    reweightable changes of data, so the part of the change they carry is the remainder that no
    observation explains; this names it."""
    out: list[dict[str, Any]] = []
    if to_as_of != from_as_of:
        quarters = (to_as_of.year - from_as_of.year) * 4 + (to_as_of.month - 1) // 3 - (from_as_of.month - 1) // 3
        out.append(
            {
                "kind": "time",
                "label": f"time passing: as of {from_as_of.isoformat()} → {to_as_of.isoformat()} "
                f"({quarters:+d} quarter(s) at risk, horizons moved on)",
                "from": from_as_of.isoformat(),
                "to": to_as_of.isoformat(),
            }
        )
    for iid in sorted(set(old_reviewed) | set(new_reviewed)):
        a, b = old_reviewed.get(iid), new_reviewed.get(iid)
        if a == b:
            continue
        label = f"{iid} reviewed through {a.isoformat() if a else 'never'} → {b.isoformat() if b else 'never'}"
        out.append(
            {
                "kind": "review",
                "indicator": iid,
                "label": label,
                "from": a.isoformat() if a else None,
                "to": b.isoformat() if b else None,
            }
        )
    stale_through = sorted({b for b in new_reviewed.values() if b is not None and b < to_as_of})
    if stale_through and to_as_of != from_as_of:
        n = sum(1 for b in new_reviewed.values() if b is not None and b < to_as_of)
        out.append(
            {
                "kind": "missing",
                "label": f"{n} open-coverage series read as missing after their "
                f"reviewed-through date (latest {stale_through[-1].isoformat()})",
            }
        )
    return out
