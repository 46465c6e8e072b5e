"""Proportions: a Beta with mean the logistic of the linear predictor averaged over the row's
cells and precision ``kappa ~ Gamma(proportion_kappa_shape, proportion_kappa_rate)`` per indicator
(prior constants of :class:`models.priors.PriorConfig`); values are held within
:data:`PROPORTION_EPS` of 0 and 1. A spurious report is uniform on (0, 1)."""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy import special, stats

from models.families.base import Family
from models.families.numerics import digamma, mixture, rows_eta_bar, sigmoid, spread
from models.likelihood import level_mean

PROPORTION_EPS = 1e-4


@numba.njit(cache=True, error_model="numpy")
def kernel(logp, x, grad, at, ends, columns, eta, g_eta, rows, data, priors):
    """The proportion rows' part of the fused kernel (see ``Family.kernel``): Beta with mean
    sigmoid(mean eta) and precision kappa (log scale sampled)."""
    ind, local, cells, weights, y, log_w, log_1mw, lp_spurious, mask = rows
    if columns.shape[0]:
        k_at = at[1]
        kappa_shape, kappa_rate = priors[0], priors[1]
        for j in range(columns.shape[0]):  # Gamma on kappa = exp(u), Jacobian included
            u = x[k_at + j]
            logp += (
                kappa_shape * math.log(kappa_rate)
                - math.lgamma(kappa_shape)
                + kappa_shape * u
                - kappa_rate * math.exp(u)
            )
            grad[k_at + j] += kappa_shape - kappa_rate * math.exp(u)
        for r in range(y.shape[0]):
            if mask[r] == 0:
                continue
            i, j = ind[r], local[r]
            kappa = math.exp(x[k_at + j])
            e = rows_eta_bar(eta, cells, weights, r, i)
            m = sigmoid(e)
            a, b = m * kappa, (1.0 - m) * kappa
            yc = min(max(y[r], PROPORTION_EPS), 1.0 - PROPORTION_EPS)
            log_y, log_1my = math.log(yc), math.log(1.0 - yc)
            lp = math.lgamma(kappa) - math.lgamma(a) - math.lgamma(b) + (a - 1.0) * log_y + (b - 1.0) * log_1my
            total, share = mixture(lp, log_w[r], log_1mw[r], lp_spurious[r])
            logp += mask[r] * total
            g = mask[r] * share
            d_a, d_b = log_y - digamma(a), log_1my - digamma(b)
            spread(g_eta, cells, weights, r, i, g * (d_a - d_b) * kappa * m * (1.0 - m))
            grad[k_at + j] += g * kappa * (digamma(kappa) + m * d_a + (1.0 - m) * d_b)
    return logp


class Proportion(Family):
    name = "proportion"
    draw_params = {"proportion_kappa": "proportion_kappa"}
    monitored = ("proportion_kappa",)
    value_variables = (("proportion_intercept", "proportion_intercept_sd"), ("proportion_kappa_log__", None))
    intercept_variable = "proportion_intercept"
    kernel_priors = ("proportion_kappa_shape", "proportion_kappa_rate")
    dim = "proportion_indicator"
    synthetic = {"proportion": 5}
    kernel = staticmethod(kernel)

    def spurious(self, y, exposure, local, constants, priors):
        return 0.0  # uniform on (0, 1)

    def pymc_parameters(self, data, design):
        import pymc as pm

        shape, rate = design.priors.proportion_kappa_shape, design.priors.proportion_kappa_rate
        return {"proportion_kappa": pm.Gamma("proportion_kappa", shape, rate, dims=self.dim)}

    def genuine_loglik(self, ops, params, eta, data, gather, take):
        kappa = take(params["proportion_kappa"], data["proportion_local"])
        m = ops.sigmoid(level_mean(gather(eta), data["proportion_weights"]))
        a, b = m * kappa, (1.0 - m) * kappa
        yc = ops.clip(data["proportion_y"], PROPORTION_EPS, 1.0 - PROPORTION_EPS)
        return (
            ops.gammaln(kappa)
            - ops.gammaln(a)
            - ops.gammaln(b)
            + (a - 1.0) * ops.log(yc)
            + (b - 1.0) * ops.log(1.0 - yc)
        )

    def expected_level(self, constants, draws, local, eta):
        return special.expit(eta)

    def predictive_level(self, constants, draws, local, y, m, rng):
        kap = draws.params["proportion_kappa"][:, local]
        mean = special.expit(m)
        a, b = mean * kap, (1 - mean) * kap
        sim = rng.beta(a, b)
        pit = stats.beta.cdf(np.clip(y, PROPORTION_EPS, 1 - PROPORTION_EPS), a, b)
        return sim, pit, pit, 1.0 - pit

    def sample_level(self, constants, draws, local, m, rng):
        kappa = draws.params["proportion_kappa"][:, local][:, None]
        mean = special.expit(m)
        return rng.beta(np.maximum(mean * kappa, 1e-6), np.maximum((1 - mean) * kappa, 1e-6))

    def report_level(self, constants, draws, d, local, m, genuine, rng, priors):
        kappa = draws.params["proportion_kappa"][d, local]
        mean = special.expit(m)
        y = rng.beta(np.maximum(mean * kappa, 1e-6), np.maximum((1 - mean) * kappa, 1e-6))
        spurious = rng.random(len(d))
        return np.where(genuine, y, spurious)

    def clip_values(self, values):
        return np.clip(values, PROPORTION_EPS, 1 - PROPORTION_EPS)

    def simulate_value(self, rng, e):
        m = 1 / (1 + np.exp(-e))
        return float(np.clip(rng.beta(m * 30, (1 - m) * 30), 0.001, 0.999))


PROPORTION = Proportion()
