"""Log-likelihood of each indicator family, written once for both PyTensor and NumPy.

The model (``models.model``) evaluates these on PyTensor tensors; scenario reweighting and
surprise flags evaluate the same functions on NumPy arrays of posterior draws. Each function takes
the linear predictor gathered onto the rows' cells (``eta_rows``, shape ``(..., R, S)``; the count
family takes the rate ``exp(eta)`` instead, exponentiated once per cell rather than per row), the
rows' cell weights (``(R, S)``) and values, and returns the genuine-report log-likelihood of each
row (``(..., R)``). :func:`mixture` then mixes it with the spurious-report component.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

ORDINAL_EDGE = 30.0  # stands in for -inf / +inf at the ends of the ordinal scale
PROPORTION_EPS = 1e-4
#: From this dispersion up, log Gamma(a + y) - log Gamma(a) - y log(a) is computed from Stirling's
#: series (its remainder after the x^-9 term is below 2e-14 there) instead of as a difference of
#: log Gammas, which loses every digit as the dispersion grows towards a Poisson count.
STIRLING_FROM = 10.0
#: Stirling's series for log Gamma(x) - ((x - 1/2) log x - x + log(2 pi) / 2): coefficients of
#: x^-1, x^-3, x^-5, x^-7, x^-9.
STIRLING_COEFFICIENTS = (1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0)


@dataclass(frozen=True)
class Ops:
    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    log1p: Callable[[Any], Any]
    gammaln: Callable[[Any], Any]
    logaddexp: Callable[[Any, Any], Any]
    sigmoid: Callable[[Any], Any]
    softplus: Callable[[Any], Any]
    where: Callable[[Any, Any, Any], Any]
    clip: Callable[[Any, float, float], Any]

    def log_sigmoid(self, x: Any) -> Any:
        return -self.softplus(-x)


NUMPY = Ops(
    exp=np.exp,
    log=np.log,
    log1p=np.log1p,
    gammaln=special.gammaln,
    logaddexp=np.logaddexp,
    sigmoid=special.expit,
    softplus=lambda x: np.logaddexp(0.0, x),
    where=np.where,
    clip=np.clip,
)


def pytensor_ops() -> Ops:
    import pytensor.tensor as pt

    return Ops(
        exp=pt.exp,
        log=pt.log,
        log1p=pt.log1p,
        gammaln=pt.gammaln,
        logaddexp=pt.logaddexp,
        sigmoid=pt.sigmoid,
        softplus=pt.softplus,
        where=pt.where,
        clip=pt.clip,
    )


def count_mean(ops: Ops, rate_rows: Any, weights: Any) -> Any:
    """Expected count of each row: the rate (``exp(eta)`` on the covered cells) summed over them."""
    return ops.clip((weights * rate_rows).sum(axis=-1), 1e-9, 1e9)


def level_mean(eta_rows: Any, weights: Any) -> Any:
    """The linear predictor averaged over a row's cells (weights sum to one)."""
    return (weights * eta_rows).sum(axis=-1)


def stirling_remainder(x: Any) -> Any:
    """log Gamma(x) minus Stirling's leading terms, for x >= :data:`STIRLING_FROM`."""
    inv, inv2 = 1.0 / x, 1.0 / (x * x)
    acc = STIRLING_COEFFICIENTS[-1]
    for c in STIRLING_COEFFICIENTS[-2::-1]:
        acc = c + inv2 * acc
    return inv * acc


def log_rising_excess(ops: Ops, alpha: Any, y: Any) -> Any:
    """log Gamma(alpha + y) - log Gamma(alpha) - y log(alpha): the rising factorial of ``alpha``
    over ``alpha^y``, near y (y - 1) / (2 alpha) and so near zero for a Poisson-like count.

    Below :data:`STIRLING_FROM` it is the difference of log Gammas; above, the same quantity from
    Stirling's series, ``(alpha + y - 1/2) log1p(y / alpha) - y`` plus the difference of the
    series' remainders, which keeps its digits (and its gradient's) as alpha grows without bound.
    Each branch sees only arguments in its own range, so neither gives an infinite value or
    gradient that the other's selection would multiply by zero.
    """
    large = alpha >= STIRLING_FROM
    a_large = ops.where(large, alpha, STIRLING_FROM)
    a_small = ops.where(large, STIRLING_FROM, alpha)
    stirling = (
        (a_large + y - 0.5) * ops.log1p(y / a_large) - y + stirling_remainder(a_large + y) - stirling_remainder(a_large)
    )
    direct = ops.gammaln(a_small + y) - ops.gammaln(a_small) - y * ops.log(a_small)
    return ops.where(large, stirling, direct)


def count_loglik(ops: Ops, rate_rows: Any, weights: Any, y: Any, alpha: Any, *, log_y_factorial: Any) -> Any:
    """Negative binomial with mean from the covered cells and dispersion ``alpha`` (variance
    ``mu + mu^2 / alpha``).

    ``rate_rows`` is ``exp(eta)`` gathered onto the rows' cells; ``log y!`` comes in already
    computed per row. Written as

        log_rising_excess(alpha, y) - log y! + y log mu - (alpha + y) log1p(mu / alpha)

    (the usual form with log alpha taken out of both its terms), which tends to the Poisson log
    probability ``y log mu - mu - log y!`` as alpha grows, with no difference of large numbers.
    """
    mu = count_mean(ops, rate_rows, weights)
    return log_rising_excess(ops, alpha, y) - log_y_factorial + y * ops.log(mu) - (alpha + y) * ops.log1p(mu / alpha)


def binary_loglik(ops: Ops, eta_rows: Any, weights: Any, y: Any) -> Any:
    eta = level_mean(eta_rows, weights)
    return y * ops.log_sigmoid(eta) + (1.0 - y) * ops.log_sigmoid(-eta)


def continuous_loglik(ops: Ops, eta_rows: Any, weights: Any, y: Any, sigma: Any) -> Any:
    eta = level_mean(eta_rows, weights)
    z = (y - eta) / sigma
    return -0.5 * z * z - ops.log(sigma) - 0.5 * np.log(2 * np.pi)


def proportion_loglik(ops: Ops, eta_rows: Any, weights: Any, y: Any, kappa: Any) -> Any:
    m = ops.sigmoid(level_mean(eta_rows, weights))
    a, b = m * kappa, (1.0 - m) * kappa
    yc = ops.clip(y, PROPORTION_EPS, 1.0 - PROPORTION_EPS)
    return (
        ops.gammaln(kappa) - ops.gammaln(a) - ops.gammaln(b) + (a - 1.0) * ops.log(yc) + (b - 1.0) * ops.log(1.0 - yc)
    )


def ordinal_loglik(ops: Ops, eta_rows: Any, weights: Any, cut_lo: Any, cut_hi: Any) -> Any:
    """Ordered logistic: P(level k) = sigmoid(c_k - eta) - sigmoid(c_{k-1} - eta).

    ``cut_lo`` and ``cut_hi`` are the cutpoints around each row's level, with
    ``-ORDINAL_EDGE`` / ``+ORDINAL_EDGE`` at the ends of the scale.
    """
    eta = level_mean(eta_rows, weights)
    p = ops.sigmoid(cut_hi - eta) - ops.sigmoid(cut_lo - eta)
    return ops.log(ops.clip(p, 1e-12, 1.0))


def mixture(ops: Ops, lp_genuine: Any, log_w: Any, log_1mw: Any, lp_spurious: Any) -> Any:
    """A report is genuine with probability w, else drawn from a diffuse spurious distribution."""
    return ops.logaddexp(log_w + lp_genuine, log_1mw + lp_spurious)


def _gather(eta: Any, cells: Any, ind: Any) -> Any:
    """``eta[cells, ind[:, None]]`` (``(R, S)``) as one flat take: its gradient is a single
    scatter-add along one axis, which compiles to a much tighter loop than a 2-D one."""
    n_rows, n_slots = cells.shape[0], cells.shape[1]
    flat = (cells * eta.shape[1] + ind[:, None]).reshape((-1,))
    return eta.reshape((-1,))[flat].reshape((n_rows, n_slots))


def row_logliks(
    ops: Ops, params: dict[str, Any], eta: Any, data: dict[str, Any], *, batched: bool = False
) -> dict[str, Any]:
    """Masked mixture log-likelihood of every row of every family.

    ``eta`` is the linear predictor, ``(T, I)`` (or ``(D, T, I)`` with ``batched``); ``params``
    holds the family parameters ``count_alpha``, ``continuous_sigma``, ``proportion_kappa`` and
    ``ordinal_cut`` (with a leading draw axis when batched) and ``families``, the families the case
    uses; ``data`` is ``Design.data()``.
    Returns ``{family: (..., R)}``; padding rows contribute zero.
    """

    def take(x: Any, idx: Any) -> Any:
        return x[:, idx] if batched else x[idx]

    def gather(grid: Any) -> Any:
        return grid[:, cells, ind[:, None]] if batched else _gather(grid, cells, ind)

    out = {}
    for fam in ("count", "binary", "continuous", "proportion", "ordinal"):
        cells, ind = data[f"{fam}_cells"], data[f"{fam}_indicator"]
        weights, y, local = data[f"{fam}_weights"], data[f"{fam}_y"], data[f"{fam}_local"]
        if fam not in params["families"]:
            continue
        if fam == "count":
            alpha = params["count_alpha"]
            # Design.data() carries log y! precomputed; rows built elsewhere (scenarios) may not
            log_y_factorial = data["count_log_y_factorial"] if "count_log_y_factorial" in data else ops.gammaln(y + 1.0)
            lp = count_loglik(
                ops, gather(ops.exp(eta)), weights, y, take(alpha, local), log_y_factorial=log_y_factorial
            )
        elif fam == "binary":
            lp = binary_loglik(ops, gather(eta), weights, y)
        elif fam == "continuous":
            lp = continuous_loglik(ops, gather(eta), weights, y, take(params["continuous_sigma"], local))
        elif fam == "proportion":
            lp = proportion_loglik(ops, gather(eta), weights, y, take(params["proportion_kappa"], local))
        else:
            cut = params["ordinal_cut"]
            n_cut = cut.shape[-1]
            levels = data["ordinal_levels"]
            yi = y.astype("int64")
            lo_idx = ops.clip(yi - 1, 0, n_cut - 1)
            hi_idx = ops.clip(yi, 0, n_cut - 1)
            c_lo = cut[:, local, lo_idx] if batched else cut[local, lo_idx]
            c_hi = cut[:, local, hi_idx] if batched else cut[local, hi_idx]
            c_lo = ops.where(yi <= 0, -ORDINAL_EDGE, c_lo)
            c_hi = ops.where(yi >= levels[local] - 1, ORDINAL_EDGE, c_hi)
            lp = ordinal_loglik(ops, gather(eta), weights, c_lo, c_hi)
        mixed = mixture(ops, lp, data[f"{fam}_log_w"], data[f"{fam}_log_1mw"], data[f"{fam}_lp_spurious"])
        out[fam] = data[f"{fam}_mask"] * mixed
    return out
