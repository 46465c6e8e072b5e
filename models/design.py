"""Design matrices: from a case and an observations frame to the fixed-shape arrays a model needs.

No database here: the input is the frame ``indicators.store.Store.observations`` returns
(columns ``id, indicator, date, end, value, reliability, credibility``; others are ignored).

Every indicator family becomes a block of *rows*. A row is one likelihood term: its indicator,
the grid cells it covers with a weight per cell, its value, and how much its source is trusted.

- ``total`` counts (a fiscal-year number of scrambles): one row per observation, covering the
  cells of its period, each weighted by the fraction of the cell's days it covers.
- ``events`` counts (a joint patrol, a summit): one row per grid cell from the indicator's
  ``coverage_start`` to its ``coverage_end`` or, when its coverage is open, to the day it is
  *reviewed through* (its newest observation or a later review record; never past the as-of
  date), holding the number of events recorded in that cell (zero where none was), weighted by
  the part of the cell that lies inside the window. Quarters after the reviewed-through date are
  missing, not zeros. An event whose date is an interval within one cell counts in the cell
  holding the interval's midpoint; one spanning several cells (a fiscal-year count) is a total
  over them. A sliver of a cell at either end of the window joins its neighbour's row.
- ``level`` families (binary, continuous, proportion, ordinal): one row per observation; the
  linear predictor is averaged over the cells its period covers.

Arrays are padded to capacities (rows to a power of two, cells to whole two-year blocks) and
padding rows carry ``mask = 0``, so adding, correcting or retracting an observation changes the
data, not the shapes, and a compiled model is reused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from indicators.case import Case
from indicators.reviews import reviewed_through
from models.families import FAMILIES
from models.grid import Grid, to_date
from models.priors import DEFAULT_PRIORS, PriorConfig, priors_for


def genuine_probability(reliability: str, credibility: int, priors: PriorConfig = DEFAULT_PRIORS) -> float:
    """Probability that a report is genuine, from its reliability grade and credibility (the
    measurement model's tables are prior constants, :class:`models.priors.PriorConfig`)."""
    return float(priors.genuine(reliability, credibility))


def capacity(n: int, minimum: int = 16) -> int:
    """The padded size for ``n`` rows: the next power of two (at least ``minimum``) up to 256,
    then the next of four even steps per doubling (320, 384, ..., 512, 640, 768, ...). Every
    padded row costs the sampler as much as a real one, so large families waste at most a
    quarter, yet keep room for a year or more of new rows before the shapes, and so the compiled
    model, change."""
    size = max(minimum, 1 << max(0, int(np.ceil(np.log2(max(n, 1))))))
    if size <= 256:
        return size
    step = (1 << int(np.floor(np.log2(n)))) // 4
    return int(np.ceil(n / step) * step)


@dataclass
class FamilyRows:
    """The rows of one indicator family, padded to ``capacity`` rows and ``span`` cells."""

    family: str
    indicator: np.ndarray  # (R,) int: index into the case's indicators
    local: np.ndarray  # (R,) int: index into this family's indicators
    cells: np.ndarray  # (R, S) int
    weights: np.ndarray  # (R, S) float
    y: np.ndarray  # (R,) float (standardised for continuous)
    log_w: np.ndarray  # (R,) log P(genuine)
    log_1mw: np.ndarray  # (R,) log P(spurious)
    lp_spurious: np.ndarray  # (R,) log density of y under the spurious-report distribution
    mask: np.ndarray  # (R,) 1 for a real row, 0 for padding
    n_rows: int  # real rows (the first n_rows)

    def arrays(self) -> dict[str, np.ndarray]:
        p = self.family
        return {
            f"{p}_indicator": self.indicator,
            f"{p}_local": self.local,
            f"{p}_cells": self.cells,
            f"{p}_weights": self.weights,
            f"{p}_y": self.y,
            f"{p}_log_w": self.log_w,
            f"{p}_log_1mw": self.log_1mw,
            f"{p}_lp_spurious": self.lp_spurious,
            f"{p}_mask": self.mask,
        }


@dataclass
class Design:
    """Everything the model needs, as arrays; built by :func:`build_design`."""

    case: Case
    grid: Grid
    as_of: date
    families: dict[str, FamilyRows]
    family_indicators: dict[str, list[str]]
    constants: dict[str, np.ndarray]
    """The families' constants from the data at hand, by name, one entry per indicator of the
    family (``Family.prepare``): e.g. ``count_log_rate_centre`` (the log mean count per cell, the
    intercept's centre), ``continuous_centre`` and ``continuous_scale`` (the mean and sd the
    values are standardised by), ``ordinal_levels`` (the number of levels)."""
    outcome_at_risk: np.ndarray  # (O, T) 1 where the outcome could happen and had not yet
    outcome_event: np.ndarray  # (O, T) 1 in the cell where it happened
    centring_weight: np.ndarray  # (I, T) each indicator's record: weights over cells, summing to 1
    rows: pd.DataFrame  # one line per real row: family, row, indicator, start, end, value, ids
    excluded: list[tuple[int, str]] = field(default_factory=list)  # (observation id, reason)
    data_hash: str = ""
    n_observations: int = 0
    reviewed_through: dict[str, date | None] = field(default_factory=dict)
    """Open-coverage events indicators: the day through which each is read (see
    :func:`reviewed_through`); later quarters are missing."""
    reviewed: dict[str, date] = field(default_factory=dict)
    """The review records the design was built with (indicator -> reviewed-through date)."""
    priors: PriorConfig = DEFAULT_PRIORS
    """The structural priors the model is built with: the defaults with the case's overrides
    (:func:`models.priors.priors_for`)."""

    @property
    def indicator_ids(self) -> list[str]:
        return self.case.indicator_ids

    @property
    def factor_ids(self) -> list[str]:
        return self.case.factor_ids

    @property
    def outcome_ids(self) -> list[str]:
        return self.case.outcome_ids

    def data(self) -> dict[str, np.ndarray]:
        """The values of every ``pm.Data`` container of the model, by name."""
        out: dict[str, np.ndarray] = {}
        for rows in self.families.values():
            out.update(rows.arrays())
        for fam in FAMILIES:
            out.update(fam.extra_data(self.constants, self.families[fam.name]))
        out["outcome_at_risk"] = self.outcome_at_risk
        out["outcome_event"] = self.outcome_event
        out["centring_weight"] = self.centring_weight
        return out

    def shape_key(self) -> tuple:
        """Everything that fixes the compiled graph: the case's structure, array shapes and
        priors (the priors' digest only when they are not the defaults, so a default case keeps
        the key it had before priors were configurable; the cross effects only when the case
        declares some, for the same reason)."""
        left_out = {"scenarios", "name", "description", "priors"}
        if not self.case.cross_effects:
            left_out.add("cross_effects")
        key: tuple = (
            self.case.model_dump_json(exclude=left_out),
            self.grid.n_cells,
            tuple((k, v.shape) for k, v in sorted(self.data().items())),
        )
        return key if self.priors == DEFAULT_PRIORS else (*key, self.priors.digest())


def observations_hash(frame: pd.DataFrame, reviewed: Mapping[str, date] | None = None) -> str:
    """A stable hash of the observations a fit used (its data snapshot), and of the review
    records it used, when there are any (so a design without them hashes as before)."""
    cols = ["id", "indicator", "date", "end", "value", "reliability", "credibility"]
    extra = "".join(f"\nreviewed {k} {to_date(v).isoformat()}" for k, v in sorted((reviewed or {}).items()))
    if frame.empty:
        return hashlib.sha256(b"empty" + extra.encode()).hexdigest()[:16]
    canon = frame[cols].copy()
    canon["date"] = pd.to_datetime(canon["date"]).dt.strftime("%Y-%m-%d")
    canon["end"] = pd.to_datetime(canon["end"]).dt.strftime("%Y-%m-%d")
    canon = canon.sort_values(["indicator", "date", "id"])
    return hashlib.sha256((canon.to_csv(index=False) + extra).encode()).hexdigest()[:16]


@dataclass
class _Row:
    indicator: int
    cells: np.ndarray
    weights: np.ndarray
    y: float
    w: float
    start: date
    end: date
    ids: tuple[int, ...]


#: A cell at either end of an events window that the window covers less than this fraction of
#: is not a row of its own: it joins its neighbour's row. A window that ends on the day of an
#: event (a coverage end or reviewed-through date set by the last record) would otherwise be a
#: sliver of a cell holding that event, a count the model can only find absurd.
SLIVER = 0.5


def _event_rows(
    grid: Grid,
    i: int,
    coverage_start: date,
    coverage_end: date | None,
    obs: pd.DataFrame,
    priors: PriorConfig = DEFAULT_PRIORS,
) -> list[_Row]:
    """The rows of an events indicator over its window ``coverage_start``..``coverage_end``
    (clipped to the grid and the as-of date; ``coverage_end`` None: an empty window).

    One row per cell, with the events recorded in it (an event dated by an interval counts in
    the cell holding its midpoint), weighted by the part of the cell inside the window. An
    observation whose period spans more than one cell (a fiscal-year count) is a total over
    those cells, as a ``total`` indicator's is: the cells it touches form one row, whose value is
    its count plus any dated events in those cells (a dated event inside the period is taken to
    be counted by the total, so it is not added twice). A sliver cell at either end of the window
    (see :data:`SLIVER`) joins its neighbour's row."""
    if coverage_end is None:
        return []
    first = max(coverage_start, grid.start)
    last = min(coverage_end, grid.as_of)
    if first > last:
        return []
    c0, c1 = grid.cell_of(first), grid.cell_of(last)

    def exposure(c: int) -> float:
        lo, hi = max(first, grid.cell_start(c)), min(last, grid.cell_end(c))
        return ((hi - lo).days + 1) / grid.cell_days(c)

    # Units: (cells, count, trusts, ids, spans); a span is a multi-cell observation's period.
    unit_of: dict[int, int] = {c: c for c in range(c0, c1 + 1)}
    counts = {c: 0.0 for c in unit_of}
    trust: dict[int, list[float]] = {c: [] for c in unit_of}
    ids: dict[int, list[int]] = {c: [] for c in unit_of}
    spans: list[tuple[int, int, float, float, int, date, date]] = []
    points: list[tuple[int, float, float, int, date]] = []
    for rec in obs.itertuples(index=False):
        d0, d1 = to_date(rec.date), to_date(rec.end)
        g = genuine_probability(rec.reliability, rec.credibility, priors)
        a, b = grid.cell_of(d0), grid.cell_of(d1)
        if a != b:
            if b >= c0 and a <= c1:
                spans.append((max(a, c0), min(b, c1), float(rec.value), g, int(rec.id), d0, d1))
            continue
        mid = d0 + (d1 - d0) / 2
        points.append((grid.cell_of(mid), float(rec.value), g, int(rec.id), mid))
    # Merge the cells of each span (and of overlapping spans) into one unit, keyed by its first cell.
    for a, b, _v, _g, _id, _d0, _d1 in sorted(spans):
        root = unit_of[a]
        for c in range(a, b + 1):
            old = unit_of[c]
            if old != root:
                for cc, u in unit_of.items():
                    if u == old:
                        unit_of[cc] = root
    for a, _b, v, g, oid, _d0, _d1 in spans:
        u = unit_of[a]
        counts[u] += v
        trust[u].append(g)
        ids[u].append(oid)
    span_periods = [(d0, d1, unit_of[a]) for a, _b, _v, _g, _i, d0, d1 in spans]
    for c, v, g, oid, mid in points:
        if c not in unit_of:
            continue
        u = unit_of[c]
        if any(uu == u and d0 <= mid <= d1 for d0, d1, uu in span_periods):
            continue  # counted by the total over its period
        counts[u] += v
        trust[u].append(g)
        ids[u].append(oid)
    order = sorted(set(unit_of.values()))
    cells_of = {u: [c for c in range(c0, c1 + 1) if unit_of[c] == u] for u in order}
    # Slivers at the ends join their neighbour.
    if len(order) > 1:
        for end_u, nb in ((order[-1], order[-2]), (order[0], order[1])):
            cs = cells_of[end_u]
            if end_u in cells_of and len(cs) == 1 and exposure(cs[0]) < SLIVER:
                cells_of[nb] = sorted(cells_of[nb] + cs)
                counts[nb] += counts.pop(end_u)
                trust[nb] += trust.pop(end_u)
                ids[nb] += ids.pop(end_u)
                del cells_of[end_u]
                order = [u for u in order if u != end_u]
                if len(order) < 2:
                    break
    rows = []
    for u in order:
        cs = cells_of[u]
        lo = max(first, grid.cell_start(cs[0]))
        hi = min(last, grid.cell_end(cs[-1]))
        weights = np.array([exposure(c) for c in cs])
        w = float(np.mean(trust[u])) if trust[u] else priors.absence_genuine
        rows.append(_Row(i, np.array(cs), weights, counts[u], w, lo, hi, tuple(sorted(ids[u]))))
    return rows


def _pad(rows: list[_Row], family: str, local_of: dict[int, int], spurious: list[float]) -> FamilyRows:
    n = len(rows)
    cap = capacity(n)
    span = max([len(r.cells) for r in rows] + [1])
    span = 1 << int(np.ceil(np.log2(span)))
    span = max(span, 4)
    ind = np.zeros(cap, dtype=np.int64)
    loc = np.zeros(cap, dtype=np.int64)
    cells = np.zeros((cap, span), dtype=np.int64)
    weights = np.zeros((cap, span))
    y = np.zeros(cap)
    w = np.full(cap, 0.5)
    lp_sp = np.zeros(cap)
    mask = np.zeros(cap)
    for j, r in enumerate(rows):
        ind[j] = r.indicator
        loc[j] = local_of[r.indicator]
        cells[j, : len(r.cells)] = r.cells
        weights[j, : len(r.weights)] = r.weights
        y[j] = r.y
        w[j] = r.w
        lp_sp[j] = spurious[j]
        mask[j] = 1.0
    return FamilyRows(family, ind, loc, cells, weights, y, np.log(w), np.log1p(-w), lp_sp, mask, n)


def centring_weights(grid: Grid, n_indicators: int, rows: dict[str, list[_Row]]) -> np.ndarray:
    """(I, T): for each indicator, the cells its rows cover, weighted by coverage and summing to 1
    (the history up to the as-of cell when it has no rows). The model measures each indicator's
    intercept at its factors' average over these cells, which decouples intercepts from the
    factors' overall level."""
    w = np.zeros((n_indicators, grid.n_cells))
    for family_rows in rows.values():
        for r in family_rows:
            np.add.at(w[r.indicator], r.cells, r.weights)
    for i in range(n_indicators):
        if w[i].sum() <= 0:
            w[i, : grid.as_of_cell + 1] = 1.0
        w[i] /= w[i].sum()
    return w


def build_design(
    case: Case, observations: pd.DataFrame, *, as_of: date, reviewed: Mapping[str, date] | None = None
) -> Design:
    """Turn validated observations into the model's arrays, as known on ``as_of``.

    Observations dated after ``as_of``, or whose period ends after it, are left out (and listed
    in ``Design.excluded``): a fit as of a date sees only periods up to that date. ``reviewed``
    (indicator -> date, the review records known on ``as_of``) extends an open-coverage events
    indicator's window past its newest observation (:func:`reviewed_through`).
    """
    as_of = to_date(as_of)
    priors = priors_for(case)
    grid = Grid.for_case(case.start, as_of)
    index = {ind.id: k for k, ind in enumerate(case.indicators)}
    frame = observations.copy()
    excluded: list[tuple[int, str]] = []
    if not frame.empty:
        frame["date"] = pd.to_datetime(frame["date"])
        frame["end"] = pd.to_datetime(frame["end"]).fillna(frame["date"])
        keep = (frame["date"].dt.date >= grid.start) & (frame["end"].dt.date <= as_of)
        keep &= frame["indicator"].isin(index)
        for rec in frame.loc[~keep].itertuples(index=False):
            if rec.indicator not in index:
                reason = "indicator not in the case"
            elif rec.date.date() < grid.start:
                reason = "before the case starts"
            else:
                reason = "its period ends after the as-of date"
            excluded.append((int(rec.id), reason))
        frame = frame.loc[keep]

    reviewed = {k: min(to_date(v), as_of) for k, v in (reviewed or {}).items()}
    through = reviewed_through(case, frame, reviewed)
    fam_inds: dict[str, list[str]] = {f.name: [i.id for i in case.indicators if i.family == f.name] for f in FAMILIES}
    rows: dict[str, list[_Row]] = {f.name: [] for f in FAMILIES}
    for ind in case.indicators:
        i = index[ind.id]
        obs = frame[frame["indicator"] == ind.id] if not frame.empty else frame
        if ind.aggregation == "events":
            assert ind.coverage_start is not None
            end = ind.coverage_end if ind.coverage_end is not None else through.get(ind.id)
            rows[ind.family].extend(_event_rows(grid, i, ind.coverage_start, end, obs, priors))
            continue
        for rec in obs.itertuples(index=False):
            d0, d1 = to_date(rec.date), to_date(rec.end)
            cells, weights = grid.coverage(d0, d1)
            if ind.aggregation == "level":
                weights = weights / weights.sum()
            w = genuine_probability(rec.reliability, rec.credibility, priors)
            rows[ind.family].append(_Row(i, cells, weights, float(rec.value), w, d0, d1, (int(rec.id),)))

    # Each family's constants (centres, standardisation) from the data at hand.
    constants: dict[str, np.ndarray] = {}
    for fam in FAMILIES:
        constants.update(fam.prepare(case, fam_inds[fam.name], index, rows[fam.name]))

    families = {}
    table = []
    for fam in FAMILIES:
        name = fam.name
        local_of = {index[iid]: k for k, iid in enumerate(fam_inds[name])}
        spurious = [
            fam.spurious(r.y, float(r.weights.sum()), local_of[r.indicator], constants, priors) for r in rows[name]
        ]
        families[name] = _pad(rows[name], name, local_of, spurious)
        for j, r in enumerate(rows[name]):
            table.append(
                {
                    "family": name,
                    "row": j,
                    "indicator": case.indicators[r.indicator].id,
                    "start": pd.Timestamp(r.start),
                    "end": pd.Timestamp(r.end),
                    "value": fam.to_unit(float(r.y), constants, local_of[r.indicator]),
                    "genuine": r.w,
                    "observation_ids": list(r.ids),
                }
            )

    O, T = len(case.outcomes), grid.n_cells
    at_risk = np.zeros((O, T))
    event = np.zeros((O, T))
    for o, outcome in enumerate(case.outcomes):
        last = grid.as_of_cell
        if outcome.resolved is not None and outcome.resolved.date <= as_of:
            last = grid.cell_of(outcome.resolved.date)
            event[o, last] = 1.0
        at_risk[o, : last + 1] = 1.0

    n_obs = 0 if frame.empty else len(frame)
    return Design(
        centring_weight=centring_weights(grid, len(case.indicators), rows),
        case=case,
        grid=grid,
        as_of=as_of,
        families=families,
        family_indicators=fam_inds,
        constants=constants,
        outcome_at_risk=at_risk,
        outcome_event=event,
        rows=pd.DataFrame(
            table, columns=["family", "row", "indicator", "start", "end", "value", "genuine", "observation_ids"]
        ),
        excluded=excluded,
        data_hash=observations_hash(frame, reviewed),
        n_observations=n_obs,
        reviewed_through=through,
        reviewed=reviewed,
        priors=priors,
    )
