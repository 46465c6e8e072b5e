"""Binary indicators: a Bernoulli on the logistic of the linear predictor averaged over the row's
cells; a spurious report is a fair coin."""

from __future__ import annotations

import numba
import numpy as np
from scipy import special

from models.families.base import Family
from models.families.numerics import bernoulli_logit, mixture, rows_eta_bar, spread
from models.likelihood import level_mean


@numba.njit(cache=True, error_model="numpy")
def kernel(logp, x, grad, at, ends, columns, eta, g_eta, rows, data, priors):
    """The binary rows' part of the fused kernel (see ``Family.kernel``)."""
    ind, local, cells, weights, y, log_w, log_1mw, lp_spurious, mask = rows
    if columns.shape[0]:
        for r in range(y.shape[0]):
            if mask[r] == 0:
                continue
            i = ind[r]
            lp, d_eta = bernoulli_logit(y[r], rows_eta_bar(eta, cells, weights, r, i))
            total, share = mixture(lp, log_w[r], log_1mw[r], lp_spurious[r])
            logp += mask[r] * total
            spread(g_eta, cells, weights, r, i, mask[r] * share * d_eta)
    return logp


class Binary(Family):
    name = "binary"
    integer = True
    value_variables = (("binary_intercept", "binary_intercept_sd"),)
    intercept_variable = "binary_intercept"
    synthetic = {"binary": 3}
    kernel = staticmethod(kernel)

    def spurious(self, y, exposure, local, constants, priors):
        return np.log(0.5)

    def genuine_loglik(self, ops, params, eta, data, gather, take):
        eta_bar = level_mean(gather(eta), data["binary_weights"])
        y = data["binary_y"]
        return y * ops.log_sigmoid(eta_bar) + (1.0 - y) * ops.log_sigmoid(-eta_bar)

    def expected_level(self, constants, draws, local, eta):
        return special.expit(eta)

    def predictive_level(self, constants, draws, local, y, m, rng):
        pr = special.expit(m)
        sim = (rng.random(pr.shape) < pr).astype(float)
        pit = np.where(y > 0.5, (1 - pr) + 0.5 * pr, 0.5 * (1 - pr))
        return sim, pit, np.where(y > 0.5, 1.0, 1 - pr), np.where(y > 0.5, pr, 1.0)

    def sample_level(self, constants, draws, local, m, rng):
        return (rng.random(m.shape) < special.expit(m)).astype(float)

    def report_level(self, constants, draws, d, local, m, genuine, rng, priors):
        n = len(d)
        y = (rng.random(n) < special.expit(m)).astype(float)
        spurious = (rng.random(n) < 0.5).astype(float)
        return np.where(genuine, y, spurious)

    def value_bounds(self, indicator, lo, hi):
        return 0, 1

    def simulate_value(self, rng, e):
        return float(rng.random() < 1 / (1 + np.exp(-e)))


BINARY = Binary()
