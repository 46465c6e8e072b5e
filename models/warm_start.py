"""A refit's sampler coordinates, from an earlier posterior of the same model.

A refit (one new observation, a scenario's hypothetical reports, the next day's run) samples a
posterior close to one already sampled. Its sampler need not start from nothing: its coordinates
are whitened by that earlier posterior (each unconstrained coordinate shifted by its mean and
scaled by its sd, :class:`models.compiled.Whitening`) and its chains start from earlier draws, so
a short warm-up (``FitSettings.warm_tune``) finds the step size and the mass matrix that a fit
from the prior needs ``FitSettings.tune`` steps for. The posterior sampled is the model's
whatever the coordinates; the fit is judged by the same diagnostics.

The earlier posterior is matched to the model by name and coordinate: a variable the model has
and the earlier one lacks (a new indicator), and a cell it did not have (a new quarter's
innovation), are shifted by 0 and scaled by 1 (their priors' scale: the innovations are standard
normal) and start at 0. Coordinates sampled unfolded (a sign-constrained loading or an
over-dispersion sampled as ``|Normal|``, whose posterior is two mirror-image modes) are whitened
by their magnitude, so the shift centres one mode rather than sitting between the two.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from models.compiled import Whitening

#: A fit starts from an earlier run only if that run's as-of date is at most this many days from
#: its own (a quarter of the model's grid: further apart, the posteriors differ by more than new
#: reports move them, and the fit starts from the prior).
MAX_DAYS_APART = 92
#: Earlier draws kept as chains' starting points.
STARTS = 16
#: The smallest scale a coordinate gets (a coordinate the earlier posterior pinned down may move).
MIN_SCALE = 1e-3


def _matched(var: xr.DataArray, shape: tuple[int, ...], coords: dict[str, Any]) -> np.ndarray | None:
    """``var``'s draws ``(n, *shape)`` aligned to the model's coordinates (NaN where it has none),
    or None when they cannot be aligned."""
    var = var.transpose("chain", "draw", ...)
    dims = var.dims[2:]
    indexers = {d: list(coords[d]) for d in dims if d in coords and d in var.coords}
    if indexers:
        var = var.reindex(indexers)
    if tuple(var.shape[2:]) != tuple(shape):
        return None
    return var.values.reshape(var.shape[0] * var.shape[1], *shape).astype(np.float64)


def whitening(posterior: xr.Dataset, shape_info: tuple, coords: dict[str, Any], *, seed: int = 0) -> Whitening | None:
    """The whitening of a model with nutpie's ``shape_info`` (names, slices, shapes) and the
    model's ``coords`` by ``posterior`` (an earlier fit's, with the model's value variables), or
    None when the posterior has none of them."""
    names, slices, shapes = shape_info
    n_dim = slices[-1].stop if slices else 0
    columns: list[np.ndarray] = []
    matched = 0
    n_draws = posterior.sizes.get("chain", 1) * posterior.sizes.get("draw", 0)
    if n_draws < 2:
        return None
    for name, shape in zip(names, shapes, strict=True):
        values = _matched(posterior[name], shape, coords) if name in posterior else None
        if values is None:
            values = np.full((n_draws, *shape), np.nan)
        else:
            matched += 1
            if name.endswith("_unfolded"):
                values = np.abs(values)
        columns.append(values.reshape(n_draws, -1))
    if not matched:
        return None
    flat = np.concatenate(columns, axis=1)
    assert flat.shape[1] == n_dim
    known = np.isfinite(flat).all(axis=0)
    shift = np.where(known, np.nanmean(np.where(known, flat, 0.0), axis=0), 0.0)
    scale = np.where(known, np.maximum(np.nanstd(np.where(known, flat, 0.0), axis=0), MIN_SCALE), 1.0)
    rng = np.random.default_rng(seed)
    starts = flat[rng.choice(n_draws, size=min(STARTS, n_draws), replace=False)]
    starts = np.where(known, starts, 0.0)
    return Whitening(shift, scale, np.ascontiguousarray(starts))
