"""Predictive draws for observations a fit has not seen: the held-out rows of a backtest.

A fit as of an origin date has posterior draws of every parameter and of the latent factors up to
the origin's quarter. An observation after the origin (a quarter's count of events, a fiscal-year
total, a coded statement) is predicted by continuing each draw's factor paths past the origin
with :func:`models.forecast.future_paths` (the draw's own AR(1), or its VAR(1) when the case
declares cross effects), forming the linear predictor on the cells the observation covers, and
drawing a value from the genuine-report component of its family's likelihood (``Family.sample``,
:mod:`models.families`: the forecast is of the indicator itself, not of a possibly spurious
report about it). Rows that straddle the origin (a fiscal year that began before it) use the
posterior factor states for their cells up to the origin.

Nothing here touches the database: the caller passes observation frames as
:meth:`indicators.store.Store.observations` returns them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from indicators.case import Case
from models.design import Design, build_design
from models.families import family
from models.forecast import Draws, future_paths, outcome_probabilities
from models.grid import CELLS_PER_YEAR, Grid, to_date

Progress = Callable[[float, str], None]


def exposure(grid: Grid, start: Any, end: Any) -> tuple[np.ndarray, np.ndarray]:
    """Cells and day-fraction weights of the period ``start``..``end`` (inclusive) on ``grid``."""
    return grid.coverage(to_date(start), to_date(end))


def _with_exposure(rows: pd.DataFrame, grid: Grid) -> pd.DataFrame:
    rows = rows.copy()
    rows["exposure"] = [float(exposure(grid, s, e)[1].sum()) for s, e in zip(rows["start"], rows["end"])]
    return rows


def history_rows(design: Design) -> pd.DataFrame:
    """The fit's own rows (``Design.rows``) with each row's ``exposure`` in grid cells."""
    return _with_exposure(design.rows, design.grid)


def held_out_rows(
    case: Case,
    observations: pd.DataFrame,
    *,
    origin: date,
    window_end: date,
    reviewed: Mapping[str, date] | None = None,
) -> pd.DataFrame:
    """The rows whose period ends after ``origin`` and by ``window_end``, from ``observations``.

    ``observations`` is what is known when scoring (recorded later than the origin). Rows are
    built exactly as a fit as of ``window_end`` would build them (``models.design``), so an
    events indicator contributes one row per quarter of the window inside its coverage (zero
    where nothing was recorded), a fiscal-year total one row, a level indicator one row per
    observation. ``reviewed``: the review records (indicator -> reviewed-through date) that
    extend an open-coverage series past its newest observation (:func:`models.design.build_design`).
    Columns: those of ``Design.rows`` plus ``exposure``.
    """
    design = build_design(case, observations, as_of=window_end, reviewed=reviewed)
    rows = design.rows
    ends = rows["end"].dt.date
    keep = (ends > origin) & (ends <= window_end)
    return _with_exposure(rows.loc[keep].reset_index(drop=True), design.grid)


def _factor_paths(draws: Draws, as_of_cell: int, last_cell: int, per_draw: int, seed: int) -> np.ndarray:
    """Factor states (D, P, K, last_cell + 1): posterior up to the origin's cell, simulated after."""
    past = draws.factor_state[:, None, :, : as_of_cell + 1]
    past = np.broadcast_to(past, (past.shape[0], per_draw) + past.shape[2:])
    n_future = last_cell - as_of_cell
    if n_future <= 0:
        return np.ascontiguousarray(past[..., : last_cell + 1])
    future = future_paths(draws, as_of_cell, n_future, paths=per_draw, seed=seed)
    return np.concatenate([past, future], axis=-1)


def predictive_samples(
    design: Design, draws: Draws, rows: pd.DataFrame, *, per_draw: int = 1, seed: int = 0
) -> np.ndarray:
    """Posterior predictive draws of each row, ``(len(rows), D * per_draw)``.

    ``design`` is the fit's design (its grid, family indexing and standardisation constants);
    ``rows`` have ``family``, ``indicator``, ``start``, ``end`` (e.g. :func:`held_out_rows`).
    Continuous values are returned in the indicator's own unit.
    """
    rng = np.random.default_rng(seed)
    grid = design.grid
    n = len(rows)
    if n == 0:
        return np.zeros((0, draws.n * per_draw))
    geometry = [exposure(grid, s, e) for s, e in zip(rows["start"], rows["end"])]
    last_cell = max(int(c.max()) for c, _ in geometry)
    paths = _factor_paths(draws, grid.as_of_cell, max(last_cell, grid.as_of_cell), per_draw, seed + 17)
    index = {iid: i for i, iid in enumerate(design.indicator_ids)}
    out = np.empty((n, draws.n * per_draw))
    for j, (rec, (cells, w)) in enumerate(zip(rows.itertuples(index=False), geometry)):
        fam = str(rec.family)
        i = index[rec.indicator]
        local = design.family_indicators[fam].index(rec.indicator)
        f = paths[..., cells]  # (D, P, K, S)
        eta = draws.intercept[:, i, None, None] + np.einsum("dk,dpks->dps", draws.loading[:, i, :], f)
        y = family(fam).sample(design.constants, draws, local, w, eta, rng)
        out[j] = y.reshape(-1)
    return out


def outcome_probability_draws(
    design: Design, draws: Draws, *, years: int = 1, paths: int = 16, seed: int = 0
) -> np.ndarray:
    """P(each outcome happens within ``years`` after the as-of quarter) per draw, ``(D, O)``."""
    n_cells = years * CELLS_PER_YEAR
    future = future_paths(draws, design.grid.as_of_cell, n_cells, paths=paths, seed=seed)
    return outcome_probabilities(design, draws, future)[:, :, n_cells - 1]


@dataclass
class OriginForecast:
    """A fit as of one origin and its predictions for the scored window."""

    origin: date
    window_end: date
    design: Design
    draws: Draws
    history: pd.DataFrame  # the fit's rows, with exposure
    held_out: pd.DataFrame  # the window's rows, with exposure
    samples: np.ndarray  # (rows, draws) predictive draws of held_out
    outcome_p: np.ndarray  # (D, O) P(outcome within one year of the origin)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def forecast_origin(
    case: Case,
    fit_observations: pd.DataFrame,
    later_observations: pd.DataFrame,
    *,
    origin: date,
    window_end: date,
    settings: Any,
    per_draw: int = 2,
    reviewed: Mapping[str, date] | None = None,
    progress: Progress | None = None,
) -> OriginForecast:
    """Fit on ``fit_observations`` (what was recorded by ``origin``) and predict the window.

    ``settings`` is a :class:`models.fit.FitSettings`. The fit uses nothing recorded after the
    origin; ``later_observations`` (the record as known when scoring) supply only the held-out
    rows. ``reviewed`` (review records) is clipped to the origin for the fit and to the window's
    end for the held-out rows, as every design clips it to its as-of date.
    """
    import xarray as xr

    from models.fit import diagnostics, sample
    from models.forecast import draws_of

    t0 = time.monotonic()
    design = build_design(case, fit_observations, as_of=origin, reviewed=reviewed)
    idata = sample(design, settings, progress=progress)
    draws = draws_of(design, idata)
    seed = int(settings.seed)
    held = held_out_rows(case, later_observations, origin=origin, window_end=window_end, reviewed=reviewed)
    samples = predictive_samples(design, draws, held, per_draw=per_draw, seed=seed + 1)
    outcome_p = outcome_probability_draws(design, draws, seed=seed + 2)
    at_risk = [o for o, oc in enumerate(case.outcomes) if oc.resolved is None or oc.resolved.date > origin]
    prob = xr.DataArray(
        outcome_p[:, at_risk].reshape(draws.chains, -1, len(at_risk)),
        dims=("chain", "draw", "outcome_horizon"),
        coords={"outcome_horizon": [f"{case.outcomes[o].id}@1y" for o in at_risk]},
    )
    diag = diagnostics(idata, outcome_probability=prob, observed_periods=design.grid.as_of_cell + 1)
    return OriginForecast(
        origin=origin,
        window_end=window_end,
        design=design,
        draws=draws,
        history=history_rows(design),
        held_out=held,
        samples=samples,
        outcome_p=outcome_p,
        diagnostics=diag,
        seconds=time.monotonic() - t0,
    )
