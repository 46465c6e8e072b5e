"""Convergence statistics of many quantities at once: rank-normalised split R-hat and bulk and
tail ESS (Vehtari, Gelman, Simpson, Carpenter and Buerkner 2021).

The same estimators as ``arviz.summary(kind="diagnostics")`` (its ``r_hat``, ``ess_bulk`` and
``ess_tail``), computed for every quantity in one pass of array operations instead of one Python
call per quantity (ArviZ's cost is mostly that per-quantity overhead, and a run is judged on
hundreds of quantities); the tests hold the two to agreement at 1e-9.

Every function takes draws shaped ``(quantity, chain, draw)``.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats
from scipy.fftpack import next_fast_len

#: Blom's offset for turning ranks into normal scores.
_BLOM = 3.0 / 8.0


def split_chains(draws: np.ndarray) -> np.ndarray:
    """Each chain's first and last halves as two chains (the middle draw of an odd count dropped)."""
    half = draws.shape[2] // 2
    return np.concatenate([draws[:, :, :half], draws[:, :, draws.shape[2] - half :]], axis=1)


def z_scale(draws: np.ndarray) -> np.ndarray:
    """Normal scores of each quantity's ranks over all its draws (ties get their average rank)."""
    n_quantities = draws.shape[0]
    flat = draws.reshape(n_quantities, -1)
    ranks = stats.rankdata(flat, method="average", axis=1)
    return special.ndtri((ranks - _BLOM) / (flat.shape[1] - 2 * _BLOM + 1)).reshape(draws.shape)


def _rhat(draws: np.ndarray) -> np.ndarray:
    n_draws = draws.shape[2]
    between = n_draws * draws.mean(axis=2).var(axis=1, ddof=1)
    within = draws.var(axis=2, ddof=1).mean(axis=1)
    return np.sqrt((between / within + n_draws - 1) / n_draws)


def rhat(draws: np.ndarray, *, z_split: np.ndarray | None = None) -> np.ndarray:
    """Rank-normalised split R-hat: the larger of the bulk's and the folded tails' (NaN for a
    quantity with no spread). ``z_split`` is ``z_scale(split_chains(draws))`` if already at hand."""
    bulk = _rhat(z_scale(split_chains(draws)) if z_split is None else z_split)
    median = np.median(draws.reshape(draws.shape[0], -1), axis=1)
    folded = np.abs(draws - median[:, None, None])
    tail = _rhat(z_scale(split_chains(folded)))
    return np.where(np.isnan(bulk), np.nan, np.fmax(bulk, tail))


def ess(draws: np.ndarray) -> np.ndarray:
    """Effective sample size of each quantity's mean from its chains' autocorrelations, truncated
    by Geyer's initial monotone sequence (as Stan and ArviZ do). A quantity with no spread counts
    every draw."""
    n_quantities, n_chains, n_draws = draws.shape
    total = n_chains * n_draws
    centred = draws - draws.mean(axis=2, keepdims=True)
    size = next_fast_len(2 * n_draws)
    spectrum = np.fft.rfft(centred, n=size, axis=2)
    spectrum *= np.conjugate(spectrum)
    acov = np.fft.irfft(spectrum, n=size, axis=2)[:, :, :n_draws] / n_draws
    mean_var = acov[:, :, 0].mean(axis=1) * n_draws / (n_draws - 1.0)
    var_plus = mean_var * (n_draws - 1.0) / n_draws
    if n_chains > 1:
        var_plus = var_plus + draws.mean(axis=2).var(axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]
    rho[:, 0] = 1.0

    # Pairs of lags (2j, 2j + 1). Geyer's initial positive sequence reads pairs while the last one
    # read had a positive sum, up to lag n - 2; `stop` is the first pair left unread.
    n_read = max(int(np.ceil((n_draws - 2) / 2)), 1)
    pair_sum = rho[:, 0 : 2 * n_read : 2] + rho[:, 1 : 2 * n_read : 2]
    nonpositive = pair_sum <= 0.0
    first_nonpositive = np.where(nonpositive.any(axis=1), nonpositive.argmax(axis=1), n_read)
    stop = np.minimum(first_nonpositive + 1, n_read)
    # Pairs before the last one read count, made monotone (each sum at most the one before).
    monotone = np.minimum.accumulate(pair_sum, axis=1)
    counted = np.arange(n_read)[None, :] < (stop - 1)[:, None]
    rows = np.arange(n_quantities)
    last_even = rho[rows, 2 * (stop - 1)]
    last_sum = pair_sum[rows, stop - 1]
    tail = np.where((last_sum >= 0.0) | (last_even > 0.0), last_even, 0.0)
    tau = -1.0 + 2.0 * np.where(counted, monotone, 0.0).sum(axis=1) + tail
    tau = np.maximum(tau, 1.0 / np.log10(total))
    out = total / tau
    out[np.isnan(rho).any(axis=1)] = np.nan
    flat = draws.reshape(n_quantities, -1)
    out[(flat.max(axis=1) - flat.min(axis=1)) < np.finfo(float).resolution] = total
    return out


def ess_tail(draws: np.ndarray) -> np.ndarray:
    """The smaller ESS of the indicators of falling below the 5% and the 95% quantiles."""
    flat = draws.reshape(draws.shape[0], -1)
    low, high = np.quantile(flat, [0.05, 0.95], axis=1)
    return np.minimum(
        ess(split_chains((draws <= low[:, None, None]).astype(float))),
        ess(split_chains((draws <= high[:, None, None]).astype(float))),
    )


def summary(draws: np.ndarray) -> dict[str, np.ndarray]:
    """``r_hat``, ``ess_bulk`` and ``ess_tail`` per quantity; NaN throughout for a quantity with a
    missing draw, or with fewer than 4 draws per chain; R-hat NaN with a single chain."""
    draws = np.asarray(draws, dtype=float)
    n_quantities, n_chains, n_draws = draws.shape
    if n_draws < 4:
        return {name: np.full(n_quantities, np.nan) for name in ("r_hat", "ess_bulk", "ess_tail")}
    invalid = np.isnan(draws).any(axis=(1, 2))
    clean = np.where(invalid[:, None, None], 0.0, draws)
    with np.errstate(invalid="ignore", divide="ignore"):
        z_split = z_scale(split_chains(clean))
        out = {
            "r_hat": rhat(clean, z_split=z_split) if n_chains >= 2 else np.full(n_quantities, np.nan),
            # bulk ESS: the ESS of the rank-normalised split chains
            "ess_bulk": ess(z_split),
            "ess_tail": ess_tail(clean),
        }
    for values in out.values():
        values[invalid] = np.nan
    return out
