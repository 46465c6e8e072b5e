"""Counts: a negative binomial on the rate summed over the row's cells.

``events`` indicators give one row per quarter of their coverage (zero where nothing was
recorded), ``total`` indicators one row per observation over its period (``models.design``). The
row's mean is ``sum over covered cells of weight * exp(eta)``, its dispersion ``alpha`` per
indicator (variance ``mu + mu^2 / alpha``), ``1 / alpha = overdispersion^2 + 1 / count_dispersion_max``
(every count varies beyond the Poisson by at least a tenth of its mean) with
``overdispersion ~ HalfNormal(count_overdispersion_scale)`` sampled as
``|Normal(0, count_overdispersion_scale)|``. The intercept is sampled as an offset from
the indicator's log mean count per cell (``count_log_rate_centre``). A spurious report is a
negative binomial with dispersion ``count_spurious_alpha`` around that mean. The prior constants
are fields of :class:`models.priors.PriorConfig`, which says why each has its value.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numba
import numpy as np
from scipy import special, stats

from models.families.base import Family
from models.families.numerics import digamma, mixture
from models.likelihood import Ops

# Why the over-dispersion is sampled on 1 / sqrt(alpha) (models.priors, count_overdispersion_scale):
# on log alpha a Poisson-like series (the ASDF scrambles: hundreds a year, near Poisson around
# their factor) has a flat tail with no end, down which chains drift apart; on this scale it sits
# within a few tenths of zero, which the sampler crosses like any other point (sampled unfolded,
# as the loadings are). Why alpha has a ceiling (models.priors, count_dispersion_max): near zero
# over-dispersion a large count's row carries up to its mean's worth of information about the
# factor path (hundreds), against a hundredth of that at an over-dispersion of 0.3, so the
# posterior's curvature along the factor states changed thirtyfold with one parameter: a funnel
# that set the sampler's step size. The ceiling caps a row's information at about 100.
#: From this dispersion up, log Gamma(a + y) - log Gamma(a) - y log(a) is computed from Stirling's
#: series (its remainder after the x^-9 term is below 2e-14 there) instead of as a difference of
#: log Gammas, which loses every digit as the dispersion grows towards a Poisson count.
STIRLING_FROM = 10.0
#: Stirling's series for log Gamma(x) - ((x - 1/2) log x - x + log(2 pi) / 2): coefficients of
#: x^-1, x^-3, x^-5, x^-7, x^-9.
STIRLING_COEFFICIENTS = (1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0)


def count_mean(ops: Ops, rate_rows: Any, weights: Any) -> Any:
    """Expected count of each row: the rate (``exp(eta)`` on the covered cells) summed over them."""
    return ops.clip((weights * rate_rows).sum(axis=-1), 1e-9, 1e9)


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


def nb_logpmf(y: float, mu: float, alpha: float) -> float:
    """Negative binomial log probability of the count nearest ``y`` at mean ``mu``, dispersion ``alpha``."""
    n, p = alpha, alpha / (alpha + mu)
    return float(stats.nbinom.logpmf(int(round(y)), n, p))


@numba.njit(cache=True, error_model="numpy")
def _stirling_remainder(x):
    """:func:`stirling_remainder` at x (>= STIRLING_FROM) and its derivative."""
    inv2 = 1.0 / (x * x)
    acc, d_acc = 0.0, 0.0
    for k in range(len(STIRLING_COEFFICIENTS) - 1, -1, -1):
        acc = STIRLING_COEFFICIENTS[k] + inv2 * acc
        d_acc = (2 * k + 1) * STIRLING_COEFFICIENTS[k] + inv2 * d_acc
    return acc / x, -d_acc * inv2


@numba.njit(cache=True, error_model="numpy")
def kernel(logp, x, grad, at, ends, columns, eta, g_eta, rows, data, priors):
    """The count rows' part of the fused kernel (see ``Family.kernel``): negative binomial on the
    covered cells' summed rate, mixed with a spurious report, in the form of :func:`count_loglik`
    (no difference of large numbers as the dispersion alpha = 1 / (z^2 + 1 / dispersion_max)
    grows towards a Poisson count)."""
    ind, local, cells, weights, y, log_w, log_1mw, lp_spurious, mask = rows
    (count_log_y_factorial,) = data
    dispersion_max = priors[0]
    n_count = columns.shape[0]
    if n_count:
        d_at = at[1]
        alpha, d_alpha = np.empty(n_count), np.empty(n_count)  # alpha and d alpha / d z
        # Per indicator: Stirling's remainder and its derivative, or log Gamma and digamma.
        at_alpha, d_at_alpha = np.empty(n_count), np.empty(n_count)
        for j in range(n_count):
            z = x[d_at + j]
            alpha[j] = 1.0 / (z * z + 1.0 / dispersion_max)
            d_alpha[j] = -2.0 * z * alpha[j] * alpha[j]
            if alpha[j] >= STIRLING_FROM:
                at_alpha[j], d_at_alpha[j] = _stirling_remainder(alpha[j])
            else:
                at_alpha[j], d_at_alpha[j] = math.lgamma(alpha[j]), digamma(alpha[j])
        rate = np.exp(eta)
        for r in range(y.shape[0]):
            if mask[r] == 0:
                continue
            i, j = ind[r], local[r]
            mu = 0.0
            for s in range(cells.shape[1]):
                mu += weights[r, s] * rate[cells[r, s], i]
            inside = 1e-9 <= mu <= 1e9
            mu = min(max(mu, 1e-9), 1e9)
            a, n = alpha[j], y[r]
            # excess = log Gamma(n + a) - log Gamma(a) - n log a and its derivative in a: for the
            # small whole counts most rows hold, as the sum of log(1 + k / a) it is (most rows
            # count nothing); else from Stirling's series or log Gammas, as count_loglik does.
            if n == 0:
                excess, d_excess = 0.0, 0.0
            elif n <= 16 and n == math.floor(n):
                prod, d_excess = 1.0, 0.0
                for step in range(1, int(n)):
                    prod *= 1.0 + step / a
                    d_excess -= step / (a * (a + step))
                excess = math.log(prod)
            elif a >= STIRLING_FROM:
                rem, d_rem = _stirling_remainder(a + n)
                log_ratio = math.log1p(n / a)
                excess = (a + n - 0.5) * log_ratio - n + rem - at_alpha[j]
                d_excess = log_ratio - (a + n - 0.5) * n / (a * (a + n)) + d_rem - d_at_alpha[j]
            else:
                excess = math.lgamma(n + a) - at_alpha[j] - n * math.log(a)
                d_excess = digamma(n + a) - d_at_alpha[j] - n / a
            log_ratio = math.log1p(mu / a)
            lp = excess - count_log_y_factorial[r] - (a + n) * log_ratio
            if n != 0:
                lp += n * math.log(mu)
            total, share = mixture(lp, log_w[r], log_1mw[r], lp_spurious[r])
            logp += mask[r] * total
            g = mask[r] * share
            if inside:
                d_mu = g * (n / mu - (a + n) / (a + mu))
                for s in range(cells.shape[1]):
                    c = cells[r, s]
                    g_eta[c, i] += d_mu * weights[r, s] * rate[c, i]
            d_a = d_excess - log_ratio + (a + n) * mu / (a * (a + mu))
            grad[d_at + j] += g * d_a * d_alpha[j]
    return logp


class Count(Family):
    name = "count"
    aggregations = ("events", "total")
    integer = True
    draw_params = {"count_alpha": "count_dispersion"}
    monitored = ("count_dispersion",)
    value_variables = (
        ("count_intercept_offset", "count_intercept_sd"),
        ("count_overdispersion_unfolded", "count_overdispersion_scale"),
    )
    intercept_variable = "count_intercept_offset"
    intercept_centre = "count_log_rate_centre"
    kernel_data = ("count_log_y_factorial",)
    kernel_priors = ("count_dispersion_max",)
    dim = "count_indicator"
    synthetic = {"count_events": 0, "count_total": 1}
    kernel = staticmethod(kernel)

    def prepare(self, case: Any, indicators: list[str], index: dict[str, int], rows: list[Any]) -> dict[str, Any]:
        """``count_log_rate_centre``: each indicator's log mean count per cell (the intercept's centre)."""
        centre = np.zeros(len(indicators))
        for k, iid in enumerate(indicators):
            rs = [r for r in rows if r.indicator == index[iid]]
            total = sum(r.y for r in rs)
            exposure = sum(float(r.weights.sum()) for r in rs)
            centre[k] = np.log(max(total / exposure, 0.05)) if exposure > 0 else np.log(0.5)
        return {"count_log_rate_centre": centre}

    def spurious(self, y: float, exposure: float, local: int, constants: dict[str, Any], priors: Any) -> float:
        scale = np.exp(constants["count_log_rate_centre"][local]) * exposure
        return nb_logpmf(y, max(scale, 0.05), priors.count_spurious_alpha)

    def extra_data(self, constants: dict[str, Any], rows: Any) -> dict[str, np.ndarray]:
        return {
            "count_log_y_factorial": special.gammaln(rows.y + 1.0),
            "count_log_rate_centre": constants["count_log_rate_centre"],
        }

    def rebase(self, rows: Any, constants: dict[str, Any], to: dict[str, Any], priors: Any) -> None:
        n = rows.n_rows
        if n:
            loc = rows.local[:n]
            scale = np.maximum(np.exp(to["count_log_rate_centre"][loc]) * rows.weights[:n].sum(axis=1), 0.05)
            a = priors.count_spurious_alpha
            rows.lp_spurious[:n] = stats.nbinom.logpmf(np.round(rows.y[:n]).astype(int), a, a / (a + scale))

    def pymc_intercept(self, data: dict[str, Any], indicators: list[str], priors: Any) -> tuple[Any, dict[str, Any]]:
        import pymc as pm

        z = pm.Normal("count_intercept_offset", 0.0, priors.count_intercept_sd, dims=self.dim)
        over = pm.Normal("count_overdispersion_unfolded", 0.0, priors.count_overdispersion_scale, dims=self.dim)
        alpha = pm.Deterministic(
            "count_dispersion", 1.0 / (over * over + 1.0 / priors.count_dispersion_max), dims=self.dim
        )
        return data["count_log_rate_centre"] + z, {"count_alpha": alpha}

    def genuine_loglik(self, ops, params, eta, data, gather, take):
        y = data["count_y"]
        # Design.data() carries log y! precomputed; rows built elsewhere (scenarios) may not
        log_y_factorial = data["count_log_y_factorial"] if "count_log_y_factorial" in data else ops.gammaln(y + 1.0)
        return count_loglik(
            ops,
            gather(ops.exp(eta)),
            data["count_weights"],
            y,
            take(params["count_alpha"], data["count_local"]),
            log_y_factorial=log_y_factorial,
        )

    def expected_level(self, constants, draws, local, eta):
        return np.exp(eta)

    def predictive(self, constants, draws, local, y, w, eta_rows, rng):
        mu = np.clip((w * np.exp(eta_rows)).sum(-1), 1e-9, None)
        alpha = draws.params["count_alpha"][:, local]
        p = alpha / (alpha + mu)
        sim = rng.negative_binomial(alpha, p)
        below = stats.nbinom.cdf(y - 1, alpha, p)
        at = stats.nbinom.pmf(y, alpha, p)
        return sim, below + 0.5 * at, below + at, 1.0 - below

    def sample(self, constants, draws, local, w, eta, rng):
        mu = np.clip((w * np.exp(eta)).sum(-1), 1e-9, 1e9)
        alpha = draws.params["count_alpha"][:, local][:, None]
        return rng.negative_binomial(alpha, alpha / (alpha + mu)).astype(float)

    def sample_report(self, constants, draws, d, local, weights, eta, genuine, rng, priors):
        mu = np.clip((weights * np.exp(eta)).sum(axis=1), 1e-9, 1e9)
        alpha = draws.params["count_alpha"][d, local]
        y = rng.poisson(rng.gamma(alpha, mu / alpha)).astype(float)
        mu_s = max(float(np.exp(constants["count_log_rate_centre"][local]) * weights.sum()), 0.05)
        a = priors.count_spurious_alpha
        spurious = rng.poisson(rng.gamma(a, mu_s / a, size=len(d))).astype(float)
        return np.where(genuine, y, spurious)

    def synthetic_indicator(self, kind: str, start: Any) -> dict[str, Any]:
        if kind == "count_events":
            return {"family": "count", "aggregation": "events", "coverage_start": start}
        return {"family": "count", "aggregation": "total"}

    def simulate(self, ind, eta, intercept, i, rng, sim):
        intercept[i] = rng.uniform(0.0, 1.5) if ind.aggregation == "total" else rng.uniform(-1.0, 0.0)
        rate = np.exp(intercept[i] + eta)
        alpha = 20.0
        grid, as_of = sim.grid, sim.as_of
        rows = []
        if ind.aggregation == "events":
            for t in range(sim.n_cells):
                n = rng.negative_binomial(alpha, alpha / (alpha + rate[t]))
                if n:
                    d = grid.cell_start(t) + timedelta(days=40)
                    if d <= as_of:
                        rows.append((ind.id, d, None, float(n)))
            return rows
        for y0 in range(sim.case.start.year, as_of.year):
            first, last = date(y0, 1, 1), date(y0, 12, 31)
            cells = [grid.cell_of(first) + q for q in range(4)]
            mu = rate[cells].sum()
            rows.append((ind.id, first, last, float(rng.negative_binomial(alpha, alpha / (alpha + mu)))))
        return rows


COUNT = Count()
