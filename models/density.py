"""The model's log density and its gradient, fused into one numba kernel for the sampler.

``models.model`` states the model as a PyMC graph; PyTensor turns its log density and gradient
into some 240 small compiled operations, each with its own loop and output array, and on the
shipped case one evaluation takes about 0.2 ms, most of it spent between operations rather than
in arithmetic. This module writes the same density and its reverse-mode gradient by hand as a
few loops over the rows, the factor paths and the outcome quarters, and hands it to nutpie in
place of the generated function (:func:`fuse`). Everything else nutpie does with the PyMC model
is unchanged: the same unconstrained coordinates, initial points, data containers (``with_data``)
and the generated function that expands a draw into the model's deterministics.

The kernel is the model, written a second time, so it is held to the PyMC graph twice: the tests
compare its log density and gradient with PyMC's at random points, on the shipped case and on a
synthetic case with every indicator family (a model change that is not made here too fails them);
and every process checks, when it compiles a model, that the kernel and the generated function
agree at the model's initial point and two jittered starting points (:func:`disagreement`, a
few milliseconds). Where they do not (a case shape the tests never saw, an edit made on one side
only), ``models.fit`` logs a warning and samples with the generated density: a slower fit of the
right posterior, never a fast fit of a different one.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import pymc as pm

from models.design import FAMILIES, Design
from models.elicitation import hazard_prior
from models.likelihood import ORDINAL_EDGE, PROPORTION_EPS, STIRLING_COEFFICIENTS, STIRLING_FROM
from models.model import (
    CONTINUOUS_SIGMA_SCALE,
    DISPERSION_MAX,
    FAMILY_INTERCEPT_SD,
    LOADING_SCALE,
    ORDINAL_FIRST_CUT_SCALE,
    ORDINAL_GAP_SCALE,
    OVERDISPERSION_SCALE,
    PERSISTENCE_PRIOR,
    PROPORTION_KAPPA_PRIOR,
    effect_positions,
    loading_structure,
)

#: The model's value variables, in the order of the kernel's offsets (absent ones have offset -1).
VALUE_VARIABLES = (
    "persistence_logodds__",
    "innovation",
    "loading_unfolded",
    "loading_free",
    "count_intercept_offset",
    "count_overdispersion_unfolded",
    "binary_intercept",
    "continuous_intercept",
    "continuous_sigma_log__",
    "proportion_intercept",
    "proportion_kappa_log__",
    "ordinal_cut_raw",
    "hazard_intercept",
    "hazard_effect_log_or",
)
(
    PERSISTENCE,
    INNOVATION,
    LOADING_UNFOLDED,
    LOADING_FREE,
    COUNT_OFFSET,
    COUNT_OVERDISPERSION,
    BINARY_INTERCEPT,
    CONTINUOUS_INTERCEPT,
    CONTINUOUS_SIGMA,
    PROPORTION_INTERCEPT,
    PROPORTION_KAPPA,
    ORDINAL_CUT_RAW,
    HAZARD_INTERCEPT,
    EFFECT_LOG_OR,
) = range(len(VALUE_VARIABLES))

#: The per-row arrays of every family, in the order the kernel takes them.
ROW_FIELDS = ("indicator", "local", "cells", "weights", "y", "log_w", "log_1mw", "lp_spurious", "mask")
#: The other data containers the kernel reads.
OTHER_DATA = (
    "count_log_y_factorial",
    "count_log_rate_centre",
    "ordinal_levels",
    "outcome_at_risk",
    "outcome_event",
    "centring_weight",
)

BINARY_INTERCEPT_SD, CONTINUOUS_INTERCEPT_SD, PROPORTION_INTERCEPT_SD = (
    FAMILY_INTERCEPT_SD["binary"],
    FAMILY_INTERCEPT_SD["continuous"],
    FAMILY_INTERCEPT_SD["proportion"],
)
KAPPA_SHAPE, KAPPA_RATE = PROPORTION_KAPPA_PRIOR
LOG_2PI = math.log(2.0 * math.pi)

#: The fused and the generated log density may differ by this much at a check point: PyMC's Beta
#: normalising constant differs from the kernel's log-beta by about 1.4e-6 per factor, and
#: PyTensor's digamma is good to about 1e-10; a model written differently differs by far more.
GUARD_LOGP_TOLERANCE = 1e-4
#: ... and each gradient entry by this much relative to the larger of the entry and 1.
GUARD_GRAD_TOLERANCE = 1e-6
#: Seeds of nutpie's jittered starting points checked besides the model's initial point.
GUARD_JITTER_SEEDS = (1, 2)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Structure:
    """The fixed structure of a design's model, as the kernel's integer and float arrays."""

    offsets: np.ndarray  # (len(VALUE_VARIABLES),) start of each value variable in x, -1 if absent
    ends: np.ndarray  # (len(VALUE_VARIABLES),) where each ends (its start + its size)
    sizes: np.ndarray  # (I, K, O, T, n_cut)
    loading_signed: np.ndarray  # (n, 2) indicator, factor of each signed loading
    loading_sign: np.ndarray  # (n,) its sign
    loading_free: np.ndarray  # (m, 2)
    effect_at: np.ndarray  # (n, 2) outcome, factor of each hazard effect
    effect_mean: np.ndarray  # (n,) its prior mean (log odds ratio per factor sd)
    effect_sd: np.ndarray  # (n,) its prior sd
    family_columns: tuple[np.ndarray, ...]  # indicator index of each family's parameter slots
    hazard_mean: np.ndarray  # (O,) prior mean of each outcome's hazard intercept
    hazard_sd: np.ndarray  # (O,) its prior sd

    def arrays(self) -> tuple:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))


def structure(design: Design, model: pm.Model) -> Structure:
    """The kernel's view of ``model`` (built from ``design``): where each value variable sits in
    nutpie's flat vector (PyMC's free variables in order, each raveled), and the model's sparsity."""
    point = model.initial_point()
    offsets = np.full(len(VALUE_VARIABLES), -1, dtype=np.int64)
    ends = offsets.copy()
    start = 0
    for rv in model.free_RVs:
        name = model.rvs_to_values[rv].name
        if name not in VALUE_VARIABLES:
            raise ValueError(f"the fused density does not know the model variable {name!r}")
        offsets[VALUE_VARIABLES.index(name)] = start
        start += int(np.prod(point[name].shape))
        ends[VALUE_VARIABLES.index(name)] = start
    present, sign = loading_structure(design)
    prior = hazard_prior(design.case)
    e_at = effect_positions(design)
    index = {iid: i for i, iid in enumerate(design.indicator_ids)}
    columns = tuple(np.array([index[i] for i in design.family_indicators[f]], dtype=np.int64) for f in FAMILIES)
    n_cut = int(max(design.ordinal_levels.max(initial=2) - 1, 1))

    def signed(p, s):
        at = np.argwhere((p == 1) & (s != 0)).astype(np.int64)
        return at, s[at[:, 0], at[:, 1]].astype(np.float64), np.argwhere((p == 1) & (s == 0)).astype(np.int64)

    ls, lsign, lf = signed(present, sign)
    return Structure(
        offsets=offsets,
        ends=ends,
        sizes=np.array(
            [present.shape[0], present.shape[1], len(design.case.outcomes), design.grid.n_cells, n_cut], dtype=np.int64
        ),
        loading_signed=ls.reshape(-1, 2),
        loading_sign=lsign,
        loading_free=lf.reshape(-1, 2),
        effect_at=e_at,
        effect_mean=prior.effect_mean[e_at[:, 0], e_at[:, 1]].astype(np.float64),
        effect_sd=prior.effect_sd[e_at[:, 0], e_at[:, 1]].astype(np.float64),
        family_columns=columns,
        hazard_mean=prior.intercept_mean.astype(np.float64),
        hazard_sd=prior.intercept_sd.astype(np.float64),
    )


# ---------------------------------------------------------------------------------------------
# Scalar helpers


@numba.njit(cache=True, inline="always")
def _log_sigmoid(x):
    """log(1 / (1 + exp(-x))), without overflow."""
    if x >= 0:
        return -math.log1p(math.exp(-x))
    return x - math.log1p(math.exp(x))


@numba.njit(cache=True, inline="always")
def _sigmoid(x):
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
def _mixture(lp, log_w, log_1mw, lp_spurious):
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
def _bernoulli_logit(y, x):
    """y log sigmoid(x) + (1 - y) log sigmoid(-x) and its derivative y - sigmoid(x), from one exp
    and one log1p."""
    e = math.exp(-abs(x))
    tail = math.log1p(e)
    if x >= 0:
        return -tail - (1.0 - y) * x, y - 1.0 / (1.0 + e)
    return y * x - tail, y - e / (1.0 + e)


@numba.njit(cache=True, inline="always")
def _normal(x, mu, sd, log_norm):
    """Normal(mu, sd) log density and its derivative; ``log_norm`` is log(sd) + log(2 pi) / 2."""
    z = (x - mu) / sd
    return -0.5 * z * z - log_norm, -z / sd


@numba.njit(cache=True, error_model="numpy")
def _stirling_remainder(x):
    """models.likelihood.stirling_remainder at x (>= STIRLING_FROM) and its derivative."""
    inv2 = 1.0 / (x * x)
    acc, d_acc = 0.0, 0.0
    for k in range(len(STIRLING_COEFFICIENTS) - 1, -1, -1):
        acc = STIRLING_COEFFICIENTS[k] + inv2 * acc
        d_acc = (2 * k + 1) * STIRLING_COEFFICIENTS[k] + inv2 * d_acc
    return acc / x, -d_acc * inv2


# ---------------------------------------------------------------------------------------------
# The kernel


@numba.njit(cache=True)
def _rows_eta_bar(eta, cells, weights, r, i):
    acc = 0.0
    for s in range(cells.shape[1]):
        acc += weights[r, s] * eta[cells[r, s], i]
    return acc


@numba.njit(cache=True)
def _spread(g_eta, cells, weights, r, i, g):
    for s in range(cells.shape[1]):
        g_eta[cells[r, s], i] += g * weights[r, s]


@numba.njit(cache=True, error_model="numpy")
def logp_and_grad(
    x,
    grad,
    offsets,
    ends,
    sizes,
    loading_signed,
    loading_sign,
    loading_free,
    effect_at,
    effect_mean,
    effect_sd,
    columns,
    hazard_mean,
    hazard_sd,
    count,
    binary,
    continuous,
    proportion,
    ordinal,
    count_log_y_factorial,
    count_log_rate_centre,
    ordinal_levels,
    outcome_at_risk,
    outcome_event,
    centring_weight,
):
    """The model's log density at ``x`` (nutpie's flat unconstrained vector); its gradient is
    written into ``grad``. Each family's rows come as a tuple in :data:`ROW_FIELDS` order."""
    n_ind, n_fac, n_out, n_cells, n_cut = sizes[0], sizes[1], sizes[2], sizes[3], sizes[4]
    grad[:] = 0.0
    logp = 0.0

    # Priors on every Normal coordinate (innovations, unfolded loadings and effects, intercepts).
    normals = (
        (INNOVATION, 0.0, 1.0),
        (LOADING_UNFOLDED, 0.0, LOADING_SCALE),
        (LOADING_FREE, 0.0, LOADING_SCALE),
        (COUNT_OFFSET, 0.0, 1.0),
        (COUNT_OVERDISPERSION, 0.0, OVERDISPERSION_SCALE),
        (BINARY_INTERCEPT, 0.0, BINARY_INTERCEPT_SD),
        (CONTINUOUS_INTERCEPT, 0.0, CONTINUOUS_INTERCEPT_SD),
        (PROPORTION_INTERCEPT, 0.0, PROPORTION_INTERCEPT_SD),
        (ORDINAL_CUT_RAW, 0.0, 1.0),
    )
    for v, mu, sd in normals:
        if offsets[v] < 0:
            continue
        log_norm = math.log(sd) + 0.5 * LOG_2PI
        for j in range(offsets[v], ends[v]):
            lp, g = _normal(x[j], mu, sd, log_norm)
            logp += lp
            grad[j] += g
    h_at = offsets[HAZARD_INTERCEPT]
    for o in range(n_out):
        lp, g = _normal(x[h_at + o], hazard_mean[o], hazard_sd[o], math.log(hazard_sd[o]) + 0.5 * LOG_2PI)
        logp += lp
        grad[h_at + o] += g
    b_at = offsets[EFFECT_LOG_OR]
    for n in range(effect_at.shape[0]):
        lp, g = _normal(x[b_at + n], effect_mean[n], effect_sd[n], math.log(effect_sd[n]) + 0.5 * LOG_2PI)
        logp += lp
        grad[b_at + n] += g

    # Persistence: Beta(a, b) on the log-odds scale, Jacobian included.
    a_prior, b_prior = PERSISTENCE_PRIOR
    log_beta = math.lgamma(a_prior) + math.lgamma(b_prior) - math.lgamma(a_prior + b_prior)
    p_at = offsets[PERSISTENCE]
    phi = np.empty(n_fac)
    for k in range(n_fac):
        u = x[p_at + k]
        phi[k] = _sigmoid(u)
        logp += a_prior * _log_sigmoid(u) + b_prior * _log_sigmoid(-u) - log_beta
        grad[p_at + k] += a_prior * (1.0 - phi[k]) - b_prior * phi[k]

    # Factor paths: f[k, 0] = e[k, 0]; f[k, t] = phi f[k, t-1] + sqrt(1 - phi^2) e[k, t].
    # 1 - phi^2 is taken as (1 - phi)(1 + phi) with 1 - phi = sigmoid(-u): exact as phi nears 1,
    # where 1 - phi * phi would round to zero (and its derivative to infinity).
    e_at = offsets[INNOVATION]
    f = np.empty((n_fac, n_cells))
    scale, d_scale = np.empty(n_fac), np.empty(n_fac)  # sqrt(1 - phi^2) and its derivative in u
    for k in range(n_fac):
        q = _sigmoid(-x[p_at + k])
        scale[k] = math.sqrt(q * (1.0 + phi[k]))
        d_scale[k] = -phi[k] * phi[k] * math.sqrt(q / (1.0 + phi[k]))
        s = scale[k]
        f[k, 0] = x[e_at + k * n_cells]
        for t in range(1, n_cells):
            f[k, t] = phi[k] * f[k, t - 1] + s * x[e_at + k * n_cells + t]

    # Loadings, hazard effects and the indicators' base intercepts.
    loading = np.zeros((n_ind, n_fac))
    for n in range(loading_signed.shape[0]):
        loading[loading_signed[n, 0], loading_signed[n, 1]] = loading_sign[n] * abs(x[offsets[LOADING_UNFOLDED] + n])
    for n in range(loading_free.shape[0]):
        loading[loading_free[n, 0], loading_free[n, 1]] = x[offsets[LOADING_FREE] + n]
    effect = np.zeros((n_out, n_fac))
    for n in range(effect_at.shape[0]):
        effect[effect_at[n, 0], effect_at[n, 1]] = x[b_at + n]
    base = np.zeros(n_ind)
    for j in range(columns[0].shape[0]):
        base[columns[0][j]] = count_log_rate_centre[j] + x[offsets[COUNT_OFFSET] + j]
    for fam, var in ((1, BINARY_INTERCEPT), (2, CONTINUOUS_INTERCEPT), (3, PROPORTION_INTERCEPT)):
        for j in range(columns[fam].shape[0]):
            base[columns[fam][j]] = x[offsets[var] + j]

    # eta[t, i] = intercept[i] + sum_k loading[i, k] f[k, t], the intercept centred on each
    # indicator's record.
    factor_mean = centring_weight @ f.T  # (I, K)
    intercept = base.copy()
    for i in range(n_ind):
        for k in range(n_fac):
            intercept[i] -= loading[i, k] * factor_mean[i, k]
    eta = f.T @ loading.T  # (T, I)
    for t in range(n_cells):
        for i in range(n_ind):
            eta[t, i] += intercept[i]
    g_eta = np.zeros((n_cells, n_ind))

    # Count rows: negative binomial on the covered cells' summed rate, mixed with a spurious report,
    # in the form of models.likelihood.count_loglik (no difference of large numbers as the
    # dispersion alpha = 1 / (z^2 + 1 / DISPERSION_MAX) grows towards a Poisson count).
    ind, local, cells, weights, y, log_w, log_1mw, lp_spurious, mask = count
    n_count = columns[0].shape[0]
    if n_count:
        d_at = offsets[COUNT_OVERDISPERSION]
        alpha, d_alpha = np.empty(n_count), np.empty(n_count)  # alpha and d alpha / d z
        # Per indicator: Stirling's remainder and its derivative, or log Gamma and digamma.
        at_alpha, d_at_alpha = np.empty(n_count), np.empty(n_count)
        for j in range(n_count):
            z = x[d_at + j]
            alpha[j] = 1.0 / (z * z + 1.0 / DISPERSION_MAX)
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
            total, share = _mixture(lp, log_w[r], log_1mw[r], lp_spurious[r])
            logp += mask[r] * total
            g = mask[r] * share
            if inside:
                d_mu = g * (n / mu - (a + n) / (a + mu))
                for s in range(cells.shape[1]):
                    c = cells[r, s]
                    g_eta[c, i] += d_mu * weights[r, s] * rate[c, i]
            d_a = d_excess - log_ratio + (a + n) * mu / (a * (a + mu))
            grad[d_at + j] += g * d_a * d_alpha[j]

    # Binary rows: Bernoulli on the covered cells' mean eta.
    ind, local, cells, weights, y, log_w, log_1mw, lp_spurious, mask = binary
    if columns[1].shape[0]:
        for r in range(y.shape[0]):
            if mask[r] == 0:
                continue
            i = ind[r]
            lp, d_eta = _bernoulli_logit(y[r], _rows_eta_bar(eta, cells, weights, r, i))
            total, share = _mixture(lp, log_w[r], log_1mw[r], lp_spurious[r])
            logp += mask[r] * total
            _spread(g_eta, cells, weights, r, i, mask[r] * share * d_eta)

    # Continuous rows: Normal around the mean eta, sd per indicator (log scale sampled).
    ind, local, cells, weights, y, log_w, log_1mw, lp_spurious, mask = continuous
    if columns[2].shape[0]:
        s_at = offsets[CONTINUOUS_SIGMA]
        for j in range(columns[2].shape[0]):  # HalfNormal on sigma = exp(u), Jacobian included
            z = math.exp(x[s_at + j]) / CONTINUOUS_SIGMA_SCALE
            logp += 0.5 * math.log(2.0 / math.pi) - math.log(CONTINUOUS_SIGMA_SCALE) - 0.5 * z * z + x[s_at + j]
            grad[s_at + j] += 1.0 - z * z
        for r in range(y.shape[0]):
            if mask[r] == 0:
                continue
            i, j = ind[r], local[r]
            sigma = math.exp(x[s_at + j])
            e = _rows_eta_bar(eta, cells, weights, r, i)
            z = (y[r] - e) / sigma
            lp = -0.5 * z * z - math.log(sigma) - 0.5 * LOG_2PI
            total, share = _mixture(lp, log_w[r], log_1mw[r], lp_spurious[r])
            logp += mask[r] * total
            g = mask[r] * share
            _spread(g_eta, cells, weights, r, i, g * z / sigma)
            grad[s_at + j] += g * (z * z - 1.0)

    # Proportion rows: Beta with mean sigmoid(mean eta) and precision kappa (log scale sampled).
    ind, local, cells, weights, y, log_w, log_1mw, lp_spurious, mask = proportion
    if columns[3].shape[0]:
        k_at = offsets[PROPORTION_KAPPA]
        for j in range(columns[3].shape[0]):  # Gamma on kappa = exp(u), Jacobian included
            u = x[k_at + j]
            logp += (
                KAPPA_SHAPE * math.log(KAPPA_RATE)
                - math.lgamma(KAPPA_SHAPE)
                + KAPPA_SHAPE * u
                - KAPPA_RATE * math.exp(u)
            )
            grad[k_at + j] += KAPPA_SHAPE - KAPPA_RATE * math.exp(u)
        for r in range(y.shape[0]):
            if mask[r] == 0:
                continue
            i, j = ind[r], local[r]
            kappa = math.exp(x[k_at + j])
            e = _rows_eta_bar(eta, cells, weights, r, i)
            m = _sigmoid(e)
            a, b = m * kappa, (1.0 - m) * kappa
            yc = min(max(y[r], PROPORTION_EPS), 1.0 - PROPORTION_EPS)
            log_y, log_1my = math.log(yc), math.log(1.0 - yc)
            lp = math.lgamma(kappa) - math.lgamma(a) - math.lgamma(b) + (a - 1.0) * log_y + (b - 1.0) * log_1my
            total, share = _mixture(lp, log_w[r], log_1mw[r], lp_spurious[r])
            logp += mask[r] * total
            g = mask[r] * share
            d_a, d_b = log_y - digamma(a), log_1my - digamma(b)
            _spread(g_eta, cells, weights, r, i, g * (d_a - d_b) * kappa * m * (1.0 - m))
            grad[k_at + j] += g * kappa * (digamma(kappa) + m * d_a + (1.0 - m) * d_b)

    # Ordinal rows: ordered logistic on the mean eta; cutpoints = cumsum(s0 raw_0, exp(s raw_j)).
    ind, local, cells, weights, y, log_w, log_1mw, lp_spurious, mask = ordinal
    n_ord = columns[4].shape[0]
    if n_ord:
        c_at = offsets[ORDINAL_CUT_RAW]
        cut = np.empty((n_ord, n_cut))
        for j in range(n_ord):
            acc = 0.0
            for c in range(n_cut):
                raw = x[c_at + j * n_cut + c]
                acc += ORDINAL_FIRST_CUT_SCALE * raw if c == 0 else math.exp(ORDINAL_GAP_SCALE * raw)
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
            e = _rows_eta_bar(eta, cells, weights, r, i)
            s_hi, s_lo = _sigmoid(c_hi - e), _sigmoid(c_lo - e)
            p = s_hi - s_lo
            inside = 1e-12 <= p <= 1.0
            p = min(max(p, 1e-12), 1.0)
            total, share = _mixture(math.log(p), log_w[r], log_1mw[r], lp_spurious[r])
            logp += mask[r] * total
            if not inside:
                continue
            g = mask[r] * share / p
            d_hi, d_lo = s_hi * (1.0 - s_hi), s_lo * (1.0 - s_lo)
            _spread(g_eta, cells, weights, r, i, g * (d_lo - d_hi))
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
                    ORDINAL_FIRST_CUT_SCALE * acc
                    if c == 0
                    else ORDINAL_GAP_SCALE * math.exp(ORDINAL_GAP_SCALE * raw) * acc
                )

    # Outcomes: Bernoulli per at-risk quarter on logit hazard = h0[o] + sum_k effect[o, k] f[k, t].
    g_f = np.zeros((n_fac, n_cells))
    g_effect = np.zeros((n_out, n_fac))
    for o in range(n_out):
        for t in range(n_cells):
            if outcome_at_risk[o, t] == 0:
                continue
            xh = x[h_at + o]
            for k in range(n_fac):
                xh += effect[o, k] * f[k, t]
            lp, d_xh = _bernoulli_logit(outcome_event[o, t], xh)
            logp += outcome_at_risk[o, t] * lp
            g = outcome_at_risk[o, t] * d_xh
            grad[h_at + o] += g
            for k in range(n_fac):
                g_effect[o, k] += g * f[k, t]
                g_f[k, t] += g * effect[o, k]

    # Back through eta to the intercepts, loadings and factor paths.
    g_intercept = g_eta.sum(axis=0)  # (I,)
    g_loading = g_eta.T @ f.T  # (I, K)
    g_f += loading.T @ g_eta.T  # (K, T)
    for i in range(n_ind):
        for k in range(n_fac):
            g_loading[i, k] -= g_intercept[i] * factor_mean[i, k]
    g_f -= ((g_intercept[:, None] * loading).T) @ centring_weight
    for j in range(columns[0].shape[0]):
        grad[offsets[COUNT_OFFSET] + j] += g_intercept[columns[0][j]]
    for fam, var in ((1, BINARY_INTERCEPT), (2, CONTINUOUS_INTERCEPT), (3, PROPORTION_INTERCEPT)):
        for j in range(columns[fam].shape[0]):
            grad[offsets[var] + j] += g_intercept[columns[fam][j]]
    for n in range(loading_signed.shape[0]):
        z = x[offsets[LOADING_UNFOLDED] + n]
        grad[offsets[LOADING_UNFOLDED] + n] += (
            loading_sign[n] * np.sign(z) * g_loading[loading_signed[n, 0], loading_signed[n, 1]]
        )
    for n in range(loading_free.shape[0]):
        grad[offsets[LOADING_FREE] + n] += g_loading[loading_free[n, 0], loading_free[n, 1]]
    for n in range(effect_at.shape[0]):
        grad[b_at + n] += g_effect[effect_at[n, 0], effect_at[n, 1]]

    # Back through the AR(1) recursion: adj[t] = g_f[t] + phi adj[t+1].
    for k in range(n_fac):
        adj, g_phi, g_scale = 0.0, 0.0, 0.0
        for t in range(n_cells - 1, 0, -1):
            adj = g_f[k, t] + phi[k] * adj
            e = x[e_at + k * n_cells + t]
            grad[e_at + k * n_cells + t] += scale[k] * adj
            g_phi += adj * f[k, t - 1]
            g_scale += adj * e
        adj = g_f[k, 0] + phi[k] * adj
        grad[e_at + k * n_cells] += adj
        grad[p_at + k] += g_phi * phi[k] * (1.0 - phi[k]) + g_scale * d_scale[k]
    return logp


# ---------------------------------------------------------------------------------------------
# Handing the kernel to nutpie


def _row_names(family: str) -> list[str]:
    return [f"{family}_{field}" for field in ROW_FIELDS]


def kernel_arguments(design: Design, model: pm.Model, data: dict[str, np.ndarray] | None = None) -> tuple:
    """The kernel's arguments after ``x`` and ``grad``, from a design's data (for tests and the
    benchmark; the sampler passes nutpie's data containers instead, see :func:`fuse`)."""
    data = design.data() if data is None else data
    families = tuple(tuple(np.ascontiguousarray(data[n]) for n in _row_names(f)) for f in FAMILIES)
    return (*structure(design, model).arrays(), *families, *(np.ascontiguousarray(data[n]) for n in OTHER_DATA))


def fuse(compiled, design: Design, model: pm.Model):
    """nutpie's compiled PyMC model with its log density and gradient replaced by the kernel.

    The kernel reads the data from nutpie's own containers (the same pointers ``with_data``
    updates); containers PyTensor pruned from the graph (families the case does not use) are
    fixed at the design's values, which the kernel never reads.
    """
    from nutpie.compile_pymc import _make_c_logp_func

    shared = list(compiled.shared_data)
    design_data = design.data()
    constants = {"np": np, "logp_and_grad": logp_and_grad}
    for n, value in zip(
        ("structure_" + f.name for f in dataclasses.fields(Structure)), structure(design, model).arrays()
    ):
        constants[n] = value

    def ref(name: str) -> str:
        if name in shared:
            return name
        constants["fixed_" + name] = np.ascontiguousarray(design_data[name])
        return "fixed_" + name

    struct_args = ", ".join("structure_" + f.name for f in dataclasses.fields(Structure))
    family_args = ", ".join("(" + ", ".join(ref(n) for n in _row_names(f)) + ",)" for f in FAMILIES)
    other_args = ", ".join(ref(n) for n in OTHER_DATA)
    source = (
        f"def fused(x, {', '.join(shared)}):\n"
        f"    grad = np.empty_like(x)\n"
        f"    logp = logp_and_grad(x, grad, {struct_args}, {family_args}, {other_args})\n"
        f"    return logp, grad\n"
    )
    exec(compile(source, "<fused density>", "exec"), constants)
    inner = numba.njit(constants["fused"])
    raw, signature = _make_c_logp_func(compiled.n_dim, inner, compiled.user_data, shared, compiled.shared_data)
    return dataclasses.replace(compiled, compiled_logp_func=numba.cfunc(signature)(raw))


def c_call(compiled, x: np.ndarray, grad: np.ndarray, logp: np.ndarray) -> tuple[Callable[..., int], tuple]:
    """nutpie's C callback for ``compiled`` (at its current data) and its arguments for the point
    ``x``, writing into ``grad`` and ``logp`` (contiguous float64 arrays): ``call(*args)`` returns
    nutpie's status code, 0 when the density and gradient are finite."""
    import ctypes

    as_double = ctypes.POINTER(ctypes.c_double)
    args = (
        x.size,
        x.ctypes.data_as(as_double),
        grad.ctypes.data_as(as_double),
        logp.ctypes.data_as(as_double),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    return compiled.compiled_logp_func.ctypes, args


def evaluator(compiled) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """The log density and gradient nutpie's sampler calls for ``compiled`` (its C callback, at the
    compiled model's current data), as a Python function of the flat vector: for tests."""
    grad, logp = np.empty(compiled.n_dim), np.empty(1)

    def evaluate(x: np.ndarray) -> tuple[float, np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float64)
        call, args = c_call(compiled, x, grad, logp)
        code = call(*args)
        if code != 0:
            raise FloatingPointError(f"the compiled log density failed at this point (nutpie code {code})")
        return float(logp[0]), grad.copy()

    return evaluate


def _coordinate(offsets: np.ndarray, ends: np.ndarray, index: int) -> str:
    """The model variable (and its entry) at position ``index`` of the flat vector."""
    for v, name in enumerate(VALUE_VARIABLES):
        if offsets[v] <= index < ends[v]:
            return f"{name}[{index - offsets[v]}]"
    return f"x[{index}]"


def check_points(compiled, model: pm.Model) -> list[tuple[str, np.ndarray]]:
    """The points :func:`disagreement` checks: the model's initial point (flattened in nutpie's
    order) and nutpie's jittered starting points for :data:`GUARD_JITTER_SEEDS`."""
    start = model.initial_point()
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    points = [("the initial point", np.concatenate([np.ravel(start[n]) for n in names]).astype(np.float64))]
    for seed in GUARD_JITTER_SEEDS:
        points.append(
            (
                f"a jittered starting point (seed {seed})",
                np.ascontiguousarray(compiled.initial_point_func(seed), dtype=np.float64),
            )
        )
    return points


def disagreement(fused, generated, design: Design, model: pm.Model) -> str | None:
    """None when nutpie's fused and generated log densities (:func:`fuse`'s result and its
    input) give the same value and gradient at :func:`check_points` with the design's data; else
    what differs, in words."""
    data = {k: v for k, v in design.data().items() if k in generated.shared_data}
    fused_at, generated_at = evaluator(fused.with_data(**data)), evaluator(generated.with_data(**data))
    at = structure(design, model)
    for where, x in check_points(generated, model):
        try:
            expected, expected_grad = generated_at(x)
        except FloatingPointError:
            continue  # no reference at this point
        try:
            value, grad = fused_at(x)
        except FloatingPointError:
            return f"the fused log density is not finite at {where}, where the model's is {expected:.6g}"
        if not abs(value - expected) <= GUARD_LOGP_TOLERANCE:
            return f"the fused log density is {value:.10g} at {where}, the model's {expected:.10g}"
        excess = np.abs(grad - expected_grad) / np.maximum(np.abs(expected_grad), 1.0)
        if not excess.max() <= GUARD_GRAD_TOLERANCE:
            worst = int(np.argmax(np.where(np.isnan(excess), np.inf, excess)))
            return (
                f"the fused gradient in {_coordinate(at.offsets, at.ends, worst)} is {grad[worst]:.10g} at "
                f"{where}, the model's {expected_grad[worst]:.10g}"
            )
    return None
