"""Scalar helpers of the fused kernel (:mod:`models.density`), shared by its common part and the
families' parts: numba functions of one row or one coordinate, each with its derivative where the
kernel needs one."""

from __future__ import annotations

import math

import numba
import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


@numba.njit(cache=True, inline="always")
def log_sigmoid(x):
    """log(1 / (1 + exp(-x))), without overflow."""
    if x >= 0:
        return -math.log1p(math.exp(-x))
    return x - math.log1p(math.exp(x))


@numba.njit(cache=True, inline="always")
def sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@numba.njit(cache=True, error_model="numpy")
def digamma(x):
    """The digamma function for x > 0: the recurrence up to 10, then the asymptotic series
    (error below 1e-14 there)."""
    acc = 0.0
    while x < 10.0:
        acc -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    tail = f * (
        -1.0 / 12
        + f * (1.0 / 120 + f * (-1.0 / 252 + f * (1.0 / 240 + f * (-1.0 / 132 + f * (691.0 / 32760 - f / 12.0)))))
    )
    return acc + math.log(x) - 0.5 / x + tail


@numba.njit(cache=True, inline="always")
def mixture(lp, log_w, log_1mw, lp_spurious):
    """log(w p + (1 - w) q) and the genuine component's share of it (d out / d lp), from one
    exp and one log1p."""
    a, b = log_w + lp, log_1mw + lp_spurious
    if a == -np.inf and b == -np.inf:
        return -np.inf, 0.0
    d = a - b
    if d > 0:
        e = math.exp(-d)
        return a + math.log1p(e), 1.0 / (1.0 + e)
    e = math.exp(d)
    return b + math.log1p(e), e / (1.0 + e)


@numba.njit(cache=True, inline="always")
def bernoulli_logit(y, x):
    """y log sigmoid(x) + (1 - y) log sigmoid(-x) and its derivative y - sigmoid(x), from one exp
    and one log1p."""
    e = math.exp(-abs(x))
    tail = math.log1p(e)
    if x >= 0:
        return -tail - (1.0 - y) * x, y - 1.0 / (1.0 + e)
    return y * x - tail, y - e / (1.0 + e)


@numba.njit(cache=True, inline="always")
def normal(x, mu, sd, log_norm):
    """Normal(mu, sd) log density and its derivative; ``log_norm`` is log(sd) + log(2 pi) / 2."""
    z = (x - mu) / sd
    return -0.5 * z * z - log_norm, -z / sd


@numba.njit(cache=True)
def rows_eta_bar(eta, cells, weights, r, i):
    """Row ``r``'s linear predictor of indicator ``i``, averaged over its cells."""
    acc = 0.0
    for s in range(cells.shape[1]):
        acc += weights[r, s] * eta[cells[r, s], i]
    return acc


@numba.njit(cache=True)
def spread(g_eta, cells, weights, r, i, g):
    """The gradient ``g`` of row ``r``'s averaged linear predictor, back onto its cells."""
    for s in range(cells.shape[1]):
        g_eta[cells[r, s], i] += g * weights[r, s]
