"""Reading a watch-list document (:mod:`models.watch` computes it): the ranking of indicators by
value of information, the tripwires at any level, and the sentences that state them.

Everything here works on the document alone, with NumPy: no posterior, no reweighting, no
sampler libraries to import, so a page, a command or an API answer built from a cached document
is quick. The periods and the constants both sides need live here too.

Tripwires
---------
The document keeps, for the next quarter, the conditioned probability of every outcome and horizon
at each value of each indicator's grid (``curve``). :func:`tripwires` reads, for a level, the values
that take the probability across it from where it stands (the other indicators unobserved: held at
their predictive), and states the smallest (or, for an indicator that lowers it, the largest) such
value within the plausible range, the chance of seeing it next quarter, and the k-hat and Monte
Carlo error there. No plausible value crossing is an answer too (``crosses: False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from models.grid import add_months

#: Version of the document's schema and of the computation; a cached document of another
#: version is computed again.
WATCH_VERSION = 1
#: The plausible range of a next value: between these predictive quantiles. A tripwire value
#: beyond it (less than 0.1% chance in the tail) is "not plausible".
PLAUSIBLE = (0.001, 0.999)
#: Levels offered as default tripwire thresholds (the first one clearly above the forecast): finer
#: at the low end, where the probabilities of rare outcomes live.
ROUND_LEVELS = (
    0.005,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    0.6,
    0.7,
    0.8,
    0.9,
    0.95,
    0.98,
    0.99,
)


@dataclass(frozen=True)
class Period:
    """A watch window: the ``months`` months after the as-of date."""

    id: str
    label: str
    months: int

    def dates(self, as_of: date) -> tuple[date, date]:
        return as_of + timedelta(days=1), add_months(as_of, self.months)


PERIODS = (Period("next_quarter", "next quarter", 3), Period("next_year", "next 4 quarters", 12))
PERIOD_IDS = tuple(p.id for p in PERIODS)
TRIPWIRE_PERIOD = "next_quarter"


def target_key(outcome: str, years: float) -> str:
    return f"{outcome}@{int(years)}"


def _r(x: Any, nd: int = 5) -> Any:
    if isinstance(x, np.ndarray):
        return [None if not np.isfinite(v) else round(float(v), nd) for v in x]
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def find_target(doc: dict[str, Any], outcome: str, years: float) -> dict[str, Any] | None:
    key = target_key(outcome, years)
    return next((t for t in doc["targets"] if t["key"] == key), None)


def ranking(doc: dict[str, Any], outcome: str, years: float, *, period: str = TRIPWIRE_PERIOD) -> list[dict[str, Any]]:
    """Indicators by value of information for ``outcome`` at ``years`` and ``period``, highest
    first. Indicators whose reweighting is unreliable come last, with ``rank`` None."""
    key = target_key(outcome, years)
    rows = []
    for ind in doc["indicators"]:
        per = ind["periods"].get(period)
        if per is None or key not in per["voi"]:
            continue
        v = per["voi"][key]
        other = {pid: p["voi"][key]["mean_abs_change"] for pid, p in ind["periods"].items() if key in p["voi"]}
        rows.append(
            {
                "indicator": ind["id"],
                "name": ind["name"],
                "reliable": per["reliable"],
                "khat_max": per["khat_max"],
                "khat_median": per["khat_median"],
                "unreliable_share": per["unreliable_share"],
                "mean_abs_change": v["mean_abs_change"],
                "mcse": v["mcse"],
                "sd_reduction": v["sd_reduction"],
                "sd_reduction_mcse": v["sd_reduction_mcse"],
                "by_period": other,
                "predictive_mean": per["predictive_mean"],
            }
        )
    rows.sort(key=lambda r: (not r["reliable"], -(r["mean_abs_change"] or 0.0)))
    rank = 0
    for r in rows:
        if r["reliable"]:
            rank += 1
            r["rank"] = rank
        else:
            r["rank"] = None
    return rows


def default_level(p_now: float) -> float | None:
    """The tripwire threshold offered when none is chosen: the first of :data:`ROUND_LEVELS`
    clearly above the forecast (by a quarter of it, and at least a quarter of a point), so that a
    tripwire means a real rise, not Monte Carlo noise around a level just above the forecast."""
    need = p_now + max(0.0025, 0.25 * p_now)
    return next((lvl for lvl in ROUND_LEVELS if lvl >= need), None)


def tripwires(doc: dict[str, Any], outcome: str, years: float, level: float) -> list[dict[str, Any]]:
    """For each indicator, the next-quarter values that would take P(``outcome`` by ``years``)
    across ``level`` from where it stands (see the module docstring), crossings first, most
    likely first.

    Each entry: ``indicator, name, crosses`` and, when it crosses, ``direction`` ("at_least":
    this value or more; "at_most": this value or less; "values": only the listed ones),
    ``value``, ``values``, ``chance`` (predictive probability of seeing ``value`` or beyond next
    quarter), ``p`` and ``mcse`` (the conditioned probability at ``value`` and its Monte Carlo
    error), ``clear`` (``p`` is at least two Monte Carlo errors beyond ``level``), ``khat`` and
    ``reliable`` (k-hat at ``value`` within 0.7); ``plausible_max`` / ``plausible_min`` bound the
    values looked at.

    Crossings are judged on the plausible values whose reweighting holds (k-hat <= 0.7); values
    beyond that say nothing either way, and are looked at only when no reliable value crosses,
    in which case the answer is marked unreliable (a scenario refit at that value is the check).
    """
    key = target_key(outcome, years)
    target = find_target(doc, outcome, years)
    if target is None:
        raise KeyError(key)
    p_now = float(target["p_mean"])
    up = p_now < level
    khat_max = float(doc["settings"]["khat_max"])
    out = []
    for ind in doc["indicators"]:
        curve = ind.get("curve")
        if curve is None or key not in curve["p"]:
            continue
        values = np.asarray(curve["values"], dtype=float)
        pi = np.asarray(curve["predictive"], dtype=float)
        p = np.asarray([np.nan if v is None else v for v in curve["p"][key]], dtype=float)
        khat = np.asarray([np.inf if k is None else k for k in curve["khat"]], dtype=float)
        mcse = np.asarray([np.nan if v is None else v for v in curve["mcse"][key]], dtype=float)
        upper_tail = np.cumsum(pi[::-1])[::-1]  # P(Y >= value)
        lower_tail = np.cumsum(pi)  # P(Y <= value)
        plausible = (upper_tail >= PLAUSIBLE[0]) & (lower_tail >= PLAUSIBLE[0]) & np.isfinite(p)
        crossing = (p >= level) if up else (p < level)
        # judged where the reweighting holds (k-hat <= 0.7): values beyond it say nothing either
        # way; only when nothing reliable crosses are they looked at, and the answer is marked
        trusted = plausible & (khat <= khat_max)
        looked = trusted if (crossing & trusted).any() else plausible
        cross = crossing & looked
        entry: dict[str, Any] = {
            "indicator": ind["id"],
            "name": ind["name"],
            "unit": ind["unit"],
            "family": ind["family"],
            "levels": ind.get("levels"),
            "crosses": bool(cross.any()),
            "plausible_min": float(values[plausible].min()) if plausible.any() else None,
            "plausible_max": float(values[plausible].max()) if plausible.any() else None,
        }
        if cross.any():
            # a value that does not cross but lies within twice its Monte Carlo error of the level
            # does not break "this value or more": the curve is only known to that precision
            with np.errstate(invalid="ignore", divide="ignore"):
                clearly_not = looked & ~crossing & (np.abs(p - level) >= 2 * np.nan_to_num(mcse))
            idx, at = np.flatnonzero(cross), np.arange(len(values))
            if not (clearly_not & (at > idx[0])).any():
                direction, j = "at_least", int(idx[0])
            elif not (clearly_not & (at < idx[-1])).any():
                direction, j = "at_most", int(idx[-1])
            else:
                direction, j = "values", int(idx[np.argmax(pi[idx])])
            if direction == "at_least":
                chance = float(upper_tail[j])
            elif direction == "at_most":
                chance = float(lower_tail[j])
            else:
                chance = float(pi[idx].sum())
            margin = abs(p[j] - level) / mcse[j] if mcse[j] > 0 else np.inf
            entry.update(
                {
                    "direction": direction,
                    "value": float(values[j]),
                    "values": [float(v) for v in values[idx]],
                    "chance": _r(chance, 6),
                    "p": _r(p[j], 6),
                    "mcse": _r(mcse[j], 6),
                    "khat": _r(khat[j], 3),
                    "reliable": bool(khat[j] <= khat_max),
                    "clear": bool(margin >= 2.0),
                }
            )
        out.append(entry)
    out.sort(key=lambda e: (not e["crosses"], -(e.get("chance") or 0.0)))
    return out


def _unit_word(unit: str) -> str:
    """A count's unit as a noun: 'scrambles per Japanese fiscal year' -> 'scrambles' (the value
    is a count over the watched period, not per year)."""
    return unit.split(" per ")[0].strip()


def value_phrase(entry: dict[str, Any]) -> str:
    """The crossing value in words: '≥ 3 drills', '≤ hard-line (1)', 'a report of 1 (yes)'."""
    direction, v = entry["direction"], entry["value"]
    op = {"at_least": "≥ ", "at_most": "≤ ", "values": ""}[direction]
    fam = entry["family"]
    if direction == "values":
        shown = ", ".join(f"{x:g}" for x in entry["values"][:5])
        return f"exactly {shown}" + (f" {_unit_word(entry['unit'])}" if fam == "count" else "")
    if fam == "count":
        if direction == "at_most" and v == 0:
            return f"no {_unit_word(entry['unit'])}"
        return f"{op}{v:g} {_unit_word(entry['unit'])}"
    if fam == "ordinal" and entry.get("levels"):
        return f"{op}{entry['levels'][int(v)]} ({int(v)})"
    if fam == "binary":
        return "a report of 1 (yes)" if v >= 0.5 else "a report of 0 (no)"
    return f"{op}{v:.3g} {entry['unit']}"


def outcome_label(outcome: str) -> str:
    return outcome.replace("_", " ")


def sentence(
    entry: dict[str, Any], outcome: str, years: float, level: float, *, up: bool, period_label: str = "next quarter"
) -> str:
    """'watch for: ≥ 3 drills next quarter (Russian military drill on the disputed islands) →
    russian military escalation 1y above 5%', or that no plausible value crosses the level."""
    where = f"{outcome_label(outcome)} {int(years)}y {'above' if up else 'below'} {100 * level:g}%"
    if not entry["crosses"]:
        return f"{entry['name']}: no plausible value {period_label} takes {where}"
    caveat = "" if entry["reliable"] else " (k-hat above 0.7 there: check with a scenario refit)"
    return f"watch for: {value_phrase(entry)} {period_label} ({entry['name']}) → {where}{caveat}"
