"""Ordinal indicators: an ordered logistic on the linear predictor averaged over the row's cells,
``P(level k) = sigmoid(c_k - eta) - sigmoid(c_{k-1} - eta)``, with cutpoints per indicator
``cumsum(s0 raw_0, exp(s raw_1), ...)``, ``raw ~ Normal(0, 1)`` (``s0`` and ``s`` are
``ordinal_first_cut_scale`` and ``ordinal_gap_scale`` of :class:`models.priors.PriorConfig`),
and no intercept (the cutpoints carry the level). A spurious report is uniform over the levels."""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from scipy import special

from models.families.base import Family
from models.families.numerics import mixture, rows_eta_bar, sigmoid, spread
from models.likelihood import level_mean

ORDINAL_EDGE = 30.0  # stands in for -inf / +inf at the ends of the ordinal scale


@numba.njit(cache=True, error_model="numpy")
def kernel(logp, x, grad, at, ends, columns, eta, g_eta, rows, data, priors):
    """The ordinal rows' part of the fused kernel (see ``Family.kernel``): ordered logistic on the
    mean eta; cutpoints = cumsum(s0 raw_0, exp(s raw_j))."""
    ind, local, cells, weights, y, log_w, log_1mw, lp_spurious, mask = rows
    (ordinal_levels,) = data
    n_ord = columns.shape[0]
    first_cut_scale, gap_scale = priors[0], priors[1]
    if n_ord:
        c_at = at[0]
        n_cut = (ends[0] - at[0]) // n_ord
        cut = np.empty((n_ord, n_cut))
        for j in range(n_ord):
            acc = 0.0
            for c in range(n_cut):
                raw = x[c_at + j * n_cut + c]
                acc += first_cut_scale * raw if c == 0 else math.exp(gap_scale * raw)
                cut[j, c] = acc
        g_cut = np.zeros((n_ord, n_cut))
        for r in range(y.shape[0]):
            if mask[r] == 0:
                continue
            i, j = ind[r], local[r]
            level = int(y[r])
            lo, hi = min(max(level - 1, 0), n_cut - 1), min(max(level, 0), n_cut - 1)
            lo_edge, hi_edge = level <= 0, level >= ordinal_levels[j] - 1
            c_lo = -ORDINAL_EDGE if lo_edge else cut[j, lo]
            c_hi = ORDINAL_EDGE if hi_edge else cut[j, hi]
            e = rows_eta_bar(eta, cells, weights, r, i)
            s_hi, s_lo = sigmoid(c_hi - e), sigmoid(c_lo - e)
            p = s_hi - s_lo
            inside = 1e-12 <= p <= 1.0
            p = min(max(p, 1e-12), 1.0)
            total, share = mixture(math.log(p), log_w[r], log_1mw[r], lp_spurious[r])
            logp += mask[r] * total
            if not inside:
                continue
            g = mask[r] * share / p
            d_hi, d_lo = s_hi * (1.0 - s_hi), s_lo * (1.0 - s_lo)
            spread(g_eta, cells, weights, r, i, g * (d_lo - d_hi))
            if not hi_edge:
                g_cut[j, hi] += g * d_hi
            if not lo_edge:
                g_cut[j, lo] -= g * d_lo
        for j in range(n_ord):
            acc = 0.0
            for c in range(n_cut - 1, -1, -1):  # back through the cumulative sum
                acc += g_cut[j, c]
                raw = x[c_at + j * n_cut + c]
                grad[c_at + j * n_cut + c] += (
                    first_cut_scale * acc if c == 0 else gap_scale * math.exp(gap_scale * raw) * acc
                )
    return logp


class Ordinal(Family):
    name = "ordinal"
    integer = True
    draw_params = {"ordinal_cut": "ordinal_cut"}
    monitored = ("ordinal_cut",)
    value_variables = (("ordinal_cut_raw", 1.0),)
    kernel_data = ("ordinal_levels",)
    kernel_priors = ("ordinal_first_cut_scale", "ordinal_gap_scale")
    dim = "ordinal_indicator"
    synthetic = {"ordinal": 4}
    kernel = staticmethod(kernel)

    def prepare(self, case: Any, indicators: list[str], index: dict[str, int], rows: list[Any]) -> dict[str, Any]:
        """``ordinal_levels``: the number of levels of each indicator."""
        return {"ordinal_levels": np.array([len(case.indicator(i).levels or []) for i in indicators], dtype=np.int64)}

    def spurious(self, y, exposure, local, constants, priors):
        return -np.log(constants["ordinal_levels"][local])

    def extra_data(self, constants, rows):
        return {"ordinal_levels": constants["ordinal_levels"]}

    def future_data(self, constants):
        return {"ordinal_levels": constants["ordinal_levels"]}

    def coords(self, design):
        n_cut = int(max(design.constants["ordinal_levels"].max(initial=2) - 1, 1))
        return {self.dim: design.family_indicators[self.name], "cut": [f"c{k}" for k in range(n_cut)]}

    def pymc_parameters(self, data, design):
        import pymc as pm
        import pytensor.tensor as pt

        raw = pm.Normal("ordinal_cut_raw", 0.0, 1.0, dims=(self.dim, "cut"))
        first = raw[:, :1] * design.priors.ordinal_first_cut_scale
        gaps = pt.exp(design.priors.ordinal_gap_scale * raw[:, 1:])
        cut = pm.Deterministic(
            "ordinal_cut", pt.cumsum(pt.concatenate([first, gaps], axis=1), axis=1), dims=(self.dim, "cut")
        )
        return {"ordinal_cut": cut}

    def genuine_loglik(self, ops, params, eta, data, gather, take):
        cut = params["ordinal_cut"]
        n_cut = cut.shape[-1]
        levels, local = data["ordinal_levels"], data["ordinal_local"]
        yi = data["ordinal_y"].astype("int64")
        lo_idx = ops.clip(yi - 1, 0, n_cut - 1)
        hi_idx = ops.clip(yi, 0, n_cut - 1)
        c_lo = ops.where(yi <= 0, -ORDINAL_EDGE, take(cut, local, lo_idx))
        c_hi = ops.where(yi >= levels[local] - 1, ORDINAL_EDGE, take(cut, local, hi_idx))
        eta_bar = level_mean(gather(eta), data["ordinal_weights"])
        p = ops.sigmoid(c_hi - eta_bar) - ops.sigmoid(c_lo - eta_bar)
        return ops.log(ops.clip(p, 1e-12, 1.0))

    def expected_level(self, constants, draws, local, eta):
        cut = draws.params["ordinal_cut"][:, local, :]  # (D, C)
        n_levels = int(constants["ordinal_levels"][local])
        cdf = special.expit(cut[:, None, : n_levels - 1] - eta[..., None])  # P(Y <= k), k < L-1
        return (1.0 - cdf).sum(axis=-1)  # E[Y] = sum_k P(Y > k)

    def predictive_level(self, constants, draws, local, y, m, rng):
        cut = draws.params["ordinal_cut"][:, local, :]  # (D, n, C)
        levels = constants["ordinal_levels"][local]
        cdf = special.expit(cut - m[..., None])
        k = np.arange(cut.shape[-1])
        cdf = np.where(k[None, None, :] < (levels[None, :, None] - 1), cdf, 1.0)
        cdf_full = np.concatenate([cdf, np.ones(cdf.shape[:-1] + (1,))], axis=-1)
        u = rng.random(m.shape)
        sim = (u[..., None] > cdf_full).sum(-1).astype(float)
        yi = y.astype(int)
        upper = np.take_along_axis(cdf_full, yi[None, :, None].repeat(cdf_full.shape[0], 0), -1)[..., 0]
        lower = np.where(
            yi > 0,
            np.take_along_axis(cdf_full, np.clip(yi - 1, 0, None)[None, :, None].repeat(cdf_full.shape[0], 0), -1)[
                ..., 0
            ],
            0.0,
        )
        return sim, lower + 0.5 * (upper - lower), upper, 1.0 - lower

    def sample_level(self, constants, draws, local, m, rng):
        levels = int(constants["ordinal_levels"][local])
        cut = draws.params["ordinal_cut"][:, local, : levels - 1]  # (D, L-1)
        cdf = special.expit(cut[:, None, :] - m[..., None])  # P(Y <= k)
        u = rng.random(m.shape)
        return (u[..., None] > cdf).sum(-1).astype(float)

    def report_level(self, constants, draws, d, local, m, genuine, rng, priors):
        n = len(d)
        levels = int(constants["ordinal_levels"][local])
        cut = draws.params["ordinal_cut"][d, local, : levels - 1]
        cdf = special.expit(cut - m[:, None])
        y = (rng.random(n)[:, None] > cdf).sum(axis=1).astype(float)
        spurious = rng.integers(levels, size=n).astype(float)
        return np.where(genuine, y, spurious)

    def value_bounds(self, indicator, lo, hi):
        return max(lo, 0), min(hi, len(indicator.levels or []) - 1)

    def synthetic_indicator(self, kind, start):
        return {
            "family": "ordinal",
            "aggregation": "level",
            "levels": ["low", "mid", "high"],
            "coding": "synthetic tercile",
        }

    def simulate_value(self, rng, e):
        return float(np.digitize(e + rng.logistic(), [-0.7, 0.7]))

    def after_simulated(self, intercept, i):
        intercept[i] = 0.0


ORDINAL = Ordinal()
