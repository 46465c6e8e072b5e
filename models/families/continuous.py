"""Continuous indicators: a Normal around the linear predictor averaged over the row's cells, on
values standardised per indicator (``continuous_centre``, ``continuous_scale``: the mean and sd
of the indicator's values in the design), with sd ``sigma ~ HalfNormal(continuous_sigma_scale)``
per indicator; a spurious report is a Normal(0, ``continuous_spurious_sd``) on the standardised
scale (prior constants of :class:`models.priors.PriorConfig`)."""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from scipy import stats

from models.families.base import Family
from models.families.numerics import LOG_2PI, mixture, rows_eta_bar, spread
from models.likelihood import level_mean


@numba.njit(cache=True, error_model="numpy")
def kernel(logp, x, grad, at, ends, columns, eta, g_eta, rows, data, priors):
    """The continuous rows' part of the fused kernel (see ``Family.kernel``): Normal around the
    mean eta, sd per indicator (log scale sampled)."""
    ind, local, cells, weights, y, log_w, log_1mw, lp_spurious, mask = rows
    if columns.shape[0]:
        s_at = at[1]
        sigma_scale = priors[0]
        for j in range(columns.shape[0]):  # HalfNormal on sigma = exp(u), Jacobian included
            z = math.exp(x[s_at + j]) / sigma_scale
            logp += 0.5 * math.log(2.0 / math.pi) - math.log(sigma_scale) - 0.5 * z * z + x[s_at + j]
            grad[s_at + j] += 1.0 - z * z
        for r in range(y.shape[0]):
            if mask[r] == 0:
                continue
            i, j = ind[r], local[r]
            sigma = math.exp(x[s_at + j])
            e = rows_eta_bar(eta, cells, weights, r, i)
            z = (y[r] - e) / sigma
            lp = -0.5 * z * z - math.log(sigma) - 0.5 * LOG_2PI
            total, share = mixture(lp, log_w[r], log_1mw[r], lp_spurious[r])
            logp += mask[r] * total
            g = mask[r] * share
            spread(g_eta, cells, weights, r, i, g * z / sigma)
            grad[s_at + j] += g * (z * z - 1.0)
    return logp


class Continuous(Family):
    name = "continuous"
    draw_params = {"continuous_sigma": "continuous_sigma"}
    monitored = ("continuous_sigma",)
    value_variables = (("continuous_intercept", "continuous_intercept_sd"), ("continuous_sigma_log__", None))
    intercept_variable = "continuous_intercept"
    kernel_priors = ("continuous_sigma_scale",)
    dim = "continuous_indicator"
    synthetic = {"continuous": 2}
    kernel = staticmethod(kernel)

    def prepare(self, case: Any, indicators: list[str], index: dict[str, int], rows: list[Any]) -> dict[str, Any]:
        """``continuous_centre`` and ``continuous_scale``, each indicator's mean and sd, by which
        its rows' values are standardised (here)."""
        centre = np.zeros(len(indicators))
        scale = np.ones(len(indicators))
        for k, iid in enumerate(indicators):
            vals = np.array([r.y for r in rows if r.indicator == index[iid]])
            if len(vals):
                centre[k] = vals.mean()
            if len(vals) > 1 and vals.std() > 0:
                scale[k] = vals.std()
            for r in rows:
                if r.indicator == index[iid]:
                    r.y = (r.y - centre[k]) / scale[k]
        return {"continuous_centre": centre, "continuous_scale": scale}

    def spurious(self, y, exposure, local, constants, priors):
        return float(stats.norm.logpdf(y, 0.0, priors.continuous_spurious_sd))

    def standardise(self, y, constants, local):
        return (y - constants["continuous_centre"][local]) / constants["continuous_scale"][local]

    def to_unit(self, v, constants, local):
        return v * constants["continuous_scale"][local] + constants["continuous_centre"][local]

    def rebase(self, rows: Any, constants: dict[str, Any], to: dict[str, Any], priors: Any) -> None:
        n = rows.n_rows
        if n:
            loc = rows.local[:n]
            raw = rows.y[:n] * constants["continuous_scale"][loc] + constants["continuous_centre"][loc]
            rows.y[:n] = (raw - to["continuous_centre"][loc]) / to["continuous_scale"][loc]
            rows.lp_spurious[:n] = stats.norm.logpdf(rows.y[:n], 0.0, priors.continuous_spurious_sd)

    def pymc_parameters(self, data, design):
        import pymc as pm

        return {
            "continuous_sigma": pm.HalfNormal("continuous_sigma", design.priors.continuous_sigma_scale, dims=self.dim)
        }

    def genuine_loglik(self, ops, params, eta, data, gather, take):
        eta_bar = level_mean(gather(eta), data["continuous_weights"])
        sigma = take(params["continuous_sigma"], data["continuous_local"])
        z = (data["continuous_y"] - eta_bar) / sigma
        return -0.5 * z * z - ops.log(sigma) - 0.5 * np.log(2 * np.pi)

    def expected_level(self, constants, draws, local, eta):
        return self.to_unit(eta, constants, local)

    def predictive_level(self, constants, draws, local, y, m, rng):
        s = draws.params["continuous_sigma"][:, local]
        sim = m + s * rng.standard_normal(m.shape)
        pit = stats.norm.cdf(y, m, s)
        return sim, pit, pit, 1.0 - pit

    def sample_level(self, constants, draws, local, m, rng):
        s = draws.params["continuous_sigma"][:, local][:, None]
        return self.to_unit(m + s * rng.standard_normal(m.shape), constants, local)

    def report_level(self, constants, draws, d, local, m, genuine, rng, priors):
        n = len(d)
        z = np.where(
            genuine,
            m + draws.params["continuous_sigma"][d, local] * rng.standard_normal(n),
            priors.continuous_spurious_sd * rng.standard_normal(n),
        )
        return self.to_unit(z, constants, local)

    def simulate_value(self, rng, e):
        return float(e + 0.5 * rng.normal())


CONTINUOUS = Continuous()
