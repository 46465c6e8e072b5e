"""The model's log density and its gradient, fused into one numba kernel for the sampler.

``models.model`` states the model as a PyMC graph; PyTensor turns its log density and gradient
into some 240 small compiled operations, each with its own loop and output array, and on the
shipped case one evaluation takes about 0.2 ms, most of it spent between operations rather than
in arithmetic. This module writes the same density and its reverse-mode gradient by hand as a
few loops over the rows, the factor paths and the outcome quarters; :mod:`models.compiled` hands
it to nutpie (with the model's own unconstrained coordinates and initial points) without
compiling the PyMC graph at all.

The kernel is the model, written a second time, so it is held to the PyMC graph twice: the tests
compare its log density and gradient with PyMC's at random points, on the shipped case and on a
synthetic case with every indicator family (a model change that is not made here too fails them);
and every process checks, when it builds a model, that the kernel and PyMC's graph agree at the
model's initial point and two jittered starting points (:func:`disagreement`, against
:func:`reference`, a second or two). Where they do not (a case shape the tests never saw, an edit
made on one side only), ``models.fit`` logs a warning and samples with PyTensor's generated
density: a slower fit of the right posterior, never a fast fit of a different one.

The kernel is written per family: each module of :mod:`models.families` holds its rows' part (a
numba function, ``Family.kernel``), and this module holds the common parts (the priors of the
factors, loadings and hazards, the factor paths, the linear predictor, the outcomes and the way
back through them) and the driver that calls the families' parts in the registry's order
(:func:`kernel_source`, generated once per process from :data:`models.families.FAMILIES`).

The prior constants (:class:`models.priors.PriorConfig`) are arguments of the kernel, not
constants compiled into it: the Normal priors' sds, the persistence's Beta and each family's
``kernel_priors`` come from the design's config, so a case that overrides a prior is sampled by
the same compiled kernel, and the kernel and the PyMC graph read each number from one place.
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

from models import kernel_cache
from models.design import Design
from models.elicitation import hazard_prior
from models.families import FAMILIES
from models.families.numerics import LOG_2PI, bernoulli_logit, log_sigmoid, normal, sigmoid
from models.model import cross_effect_prior, effect_positions, loading_structure
from models.priors import PriorConfig

#: The value variables every model has before and after the families' own, each with the sd of
#: its Normal(0, sd) prior as ``Family.value_variables`` gives it (a PriorConfig field, a fixed
#: number, or None).
_HEAD = (
    ("persistence_logodds__", None),
    ("innovation", 1.0),
    ("loading_unfolded", "loading_scale"),
    ("loading_free", "loading_scale"),
)
_TAIL = (("hazard_intercept", None), ("hazard_effect_log_or", None), ("cross_effect", None))
_VARIABLES = _HEAD + tuple(v for fam in FAMILIES for v in fam.value_variables) + _TAIL
#: The model's value variables, in the order of the kernel's offsets (absent ones have offset -1).
VALUE_VARIABLES = tuple(name for name, _ in _VARIABLES)


def normal_sd(priors: PriorConfig) -> np.ndarray:
    """The sd of each value variable's Normal(0, sd) prior under ``priors``; 0 where the prior is
    another (the persistence's and the hazards' are written below, the families' others by their
    kernels)."""
    return np.array([priors.value(sd) or 0.0 for _, sd in _VARIABLES], dtype=np.float64)


PERSISTENCE, INNOVATION, LOADING_UNFOLDED, LOADING_FREE = range(4)
HAZARD_INTERCEPT, EFFECT_LOG_OR, CROSS_EFFECT = (len(VALUE_VARIABLES) - k for k in (3, 2, 1))

#: The per-row arrays of every family, in the order the kernel takes them.
ROW_FIELDS = ("indicator", "local", "cells", "weights", "y", "log_w", "log_1mw", "lp_spurious", "mask")
#: The data containers the common part of the kernel reads.
OTHER_DATA = ("outcome_at_risk", "outcome_event", "centring_weight")

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
    sizes: np.ndarray  # (I, K, O, T)
    normal_sd: np.ndarray  # normal_sd(the design's priors)
    loading_signed: np.ndarray  # (n, 2) indicator, factor of each signed loading
    loading_sign: np.ndarray  # (n,) its sign
    loading_free: np.ndarray  # (m, 2)
    effect_at: np.ndarray  # (n, 2) outcome, factor of each hazard effect
    effect_mean: np.ndarray  # (n,) its prior mean (log odds ratio per factor sd)
    effect_sd: np.ndarray  # (n,) its prior sd
    hazard_mean: np.ndarray  # (O,) prior mean of each outcome's hazard intercept
    hazard_sd: np.ndarray  # (O,) its prior sd
    persistence_prior: np.ndarray  # (2,) the persistence's Beta(a, b)
    cross_at: np.ndarray  # (n, 2) to, from factor of each declared cross effect (n = 0: none)
    cross_mean: np.ndarray  # (n,) its prior mean
    cross_sd: np.ndarray  # (n,) its prior sd
    family_at: tuple[np.ndarray, ...]  # per family: offsets of its value variables
    family_ends: tuple[np.ndarray, ...]  # per family: their ends
    family_columns: tuple[np.ndarray, ...]  # per family: the case's index of each of its indicators
    family_priors: tuple[np.ndarray, ...]  # per family: the values of its kernel_priors

    def arrays(self) -> tuple:
        """The arguments of the kernel's common part, in order."""
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self) if not f.name.startswith("family_"))


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

    def signed(p, s):
        at = np.argwhere((p == 1) & (s != 0)).astype(np.int64)
        return at, s[at[:, 0], at[:, 1]].astype(np.float64), np.argwhere((p == 1) & (s == 0)).astype(np.int64)

    def positions(fam):
        return np.array([VALUE_VARIABLES.index(name) for name, _ in fam.value_variables], dtype=np.int64)

    ls, lsign, lf = signed(present, sign)
    cross_at, cross_mean, cross_sd = cross_effect_prior(design.case)
    return Structure(
        offsets=offsets,
        ends=ends,
        sizes=np.array(
            [present.shape[0], present.shape[1], len(design.case.outcomes), design.grid.n_cells], dtype=np.int64
        ),
        normal_sd=normal_sd(design.priors),
        loading_signed=ls.reshape(-1, 2),
        loading_sign=lsign,
        loading_free=lf.reshape(-1, 2),
        effect_at=e_at,
        effect_mean=prior.effect_mean[e_at[:, 0], e_at[:, 1]].astype(np.float64),
        effect_sd=prior.effect_sd[e_at[:, 0], e_at[:, 1]].astype(np.float64),
        hazard_mean=prior.intercept_mean.astype(np.float64),
        hazard_sd=prior.intercept_sd.astype(np.float64),
        persistence_prior=np.array(design.priors.persistence, dtype=np.float64),
        cross_at=cross_at,
        cross_mean=cross_mean,
        cross_sd=cross_sd,
        family_at=tuple(offsets[positions(f)] for f in FAMILIES),
        family_ends=tuple(ends[positions(f)] for f in FAMILIES),
        family_columns=tuple(
            np.array([index[i] for i in design.family_indicators[f.name]], dtype=np.int64) for f in FAMILIES
        ),
        family_priors=tuple(np.array(design.priors.values(f.kernel_priors), dtype=np.float64) for f in FAMILIES),
    )


# ---------------------------------------------------------------------------------------------
# The kernel's common part


@numba.njit(cache=True, error_model="numpy")
def _priors_and_paths(
    x,
    grad,
    offsets,
    ends,
    sizes,
    normal_sd,
    loading_signed,
    loading_sign,
    loading_free,
    effect_at,
    effect_mean,
    effect_sd,
    hazard_mean,
    hazard_sd,
    persistence_prior,
    cross_at,
    cross_mean,
    cross_sd,
):
    """Zeroes ``grad``; the log density of the priors on every Normal coordinate, the hazards,
    the cross effects and the persistences, with their gradient; the factor paths (AR(1), or the
    VAR(1) of ``models.model.var1_paths`` when the case declares cross effects), loadings and
    hazard effects. Returns also each factor's shock scale and the ``Q`` it is divided by."""
    n_ind, n_fac, n_out, n_cells = sizes[0], sizes[1], sizes[2], sizes[3]
    grad[:] = 0.0
    logp = 0.0

    # Priors on every Normal coordinate (innovations, unfolded loadings, the families' own).
    for v in range(normal_sd.shape[0]):
        sd = normal_sd[v]
        if sd <= 0.0 or offsets[v] < 0:
            continue
        log_norm = math.log(sd) + 0.5 * LOG_2PI
        for j in range(offsets[v], ends[v]):
            lp, g = normal(x[j], 0.0, sd, log_norm)
            logp += lp
            grad[j] += g
    h_at = offsets[HAZARD_INTERCEPT]
    for o in range(n_out):
        lp, g = normal(x[h_at + o], hazard_mean[o], hazard_sd[o], math.log(hazard_sd[o]) + 0.5 * LOG_2PI)
        logp += lp
        grad[h_at + o] += g
    b_at = offsets[EFFECT_LOG_OR]
    for n in range(effect_at.shape[0]):
        lp, g = normal(x[b_at + n], effect_mean[n], effect_sd[n], math.log(effect_sd[n]) + 0.5 * LOG_2PI)
        logp += lp
        grad[b_at + n] += g
    c_at = offsets[CROSS_EFFECT]
    n_cross = cross_at.shape[0]
    for n in range(n_cross):
        lp, g = normal(x[c_at + n], cross_mean[n], cross_sd[n], math.log(cross_sd[n]) + 0.5 * LOG_2PI)
        logp += lp
        grad[c_at + n] += g

    # Persistence: Beta(a, b) on the log-odds scale, Jacobian included.
    a_prior, b_prior = persistence_prior[0], persistence_prior[1]
    log_beta = math.lgamma(a_prior) + math.lgamma(b_prior) - math.lgamma(a_prior + b_prior)
    p_at = offsets[PERSISTENCE]
    phi = np.empty(n_fac)
    for k in range(n_fac):
        u = x[p_at + k]
        phi[k] = sigmoid(u)
        logp += a_prior * log_sigmoid(u) + b_prior * log_sigmoid(-u) - log_beta
        grad[p_at + k] += a_prior * (1.0 - phi[k]) - b_prior * phi[k]

    # Factor paths: f[k, 0] = e[k, 0]; f[k, t] = phi f[k, t-1] + sqrt(1 - phi^2) e[k, t].
    # 1 - phi^2 is taken as (1 - phi)(1 + phi) with 1 - phi = sigmoid(-u): exact as phi nears 1,
    # where 1 - phi * phi would round to zero (and its derivative to infinity).
    e_at = offsets[INNOVATION]
    f = np.empty((n_fac, n_cells))
    scale, d_scale = np.empty(n_fac), np.empty(n_fac)  # sqrt(1 - phi^2) and its derivative in u
    for k in range(n_fac):
        q = sigmoid(-x[p_at + k])
        scale[k] = math.sqrt(q * (1.0 + phi[k]))
        d_scale[k] = -phi[k] * phi[k] * math.sqrt(q / (1.0 + phi[k]))
    # With cross effects: shock[k] = scale[k] / sqrt(q[k]), q[k] = 1 + sum_j c^2 (1 + ab) / (1 - ab).
    q = np.ones(n_fac)
    for n in range(n_cross):
        ab = phi[cross_at[n, 0]] * phi[cross_at[n, 1]]
        q[cross_at[n, 0]] += x[c_at + n] ** 2 * (1.0 + ab) / (1.0 - ab)
    shock = np.empty(n_fac)
    for k in range(n_fac):
        shock[k] = scale[k] / math.sqrt(q[k]) if n_cross > 0 else scale[k]
    if n_cross == 0:
        for k in range(n_fac):
            s = scale[k]
            f[k, 0] = x[e_at + k * n_cells]
            for t in range(1, n_cells):
                f[k, t] = phi[k] * f[k, t - 1] + s * x[e_at + k * n_cells + t]
    else:
        # f[k, t] = phi f[k, t-1] + shock[k] (e[k, t] + sum_j c[k, j] f[j, t-1])
        for k in range(n_fac):
            f[k, 0] = x[e_at + k * n_cells]
        for t in range(1, n_cells):
            for k in range(n_fac):
                f[k, t] = x[e_at + k * n_cells + t]
            for n in range(n_cross):
                f[cross_at[n, 0], t] += x[c_at + n] * f[cross_at[n, 1], t - 1]
            for k in range(n_fac):
                f[k, t] = phi[k] * f[k, t - 1] + shock[k] * f[k, t]

    # Loadings and hazard effects.
    loading = np.zeros((n_ind, n_fac))
    for n in range(loading_signed.shape[0]):
        loading[loading_signed[n, 0], loading_signed[n, 1]] = loading_sign[n] * abs(x[offsets[LOADING_UNFOLDED] + n])
    for n in range(loading_free.shape[0]):
        loading[loading_free[n, 0], loading_free[n, 1]] = x[offsets[LOADING_FREE] + n]
    effect = np.zeros((n_out, n_fac))
    for n in range(effect_at.shape[0]):
        effect[effect_at[n, 0], effect_at[n, 1]] = x[b_at + n]
    return logp, phi, f, scale, d_scale, loading, effect, shock, q


@numba.njit(cache=True)
def _set_base(base, x, at, columns):
    """A family's sampled intercepts into the indicators' base intercepts."""
    for j in range(columns.shape[0]):
        base[columns[j]] = x[at + j]


@numba.njit(cache=True)
def _set_base_centred(base, x, at, columns, centre):
    """:func:`_set_base` for intercepts sampled as offsets from a centre."""
    for j in range(columns.shape[0]):
        base[columns[j]] = centre[j] + x[at + j]


@numba.njit(cache=True, error_model="numpy")
def _linear_predictor(base, loading, f, centring_weight):
    """eta[t, i] = intercept[i] + sum_k loading[i, k] f[k, t], the intercept centred on each
    indicator's record; and the factors' mean over each indicator's record, (I, K)."""
    n_ind, n_fac, n_cells = loading.shape[0], loading.shape[1], f.shape[1]
    factor_mean = centring_weight @ f.T  # (I, K)
    intercept = base.copy()
    for i in range(n_ind):
        for k in range(n_fac):
            intercept[i] -= loading[i, k] * factor_mean[i, k]
    eta = f.T @ loading.T  # (T, I)
    for t in range(n_cells):
        for i in range(n_ind):
            eta[t, i] += intercept[i]
    return factor_mean, eta


@numba.njit(cache=True, error_model="numpy")
def _outcomes_and_back(
    logp,
    x,
    grad,
    offsets,
    sizes,
    loading_signed,
    loading_sign,
    loading_free,
    effect_at,
    phi,
    f,
    scale,
    d_scale,
    loading,
    effect,
    factor_mean,
    g_eta,
    outcome_at_risk,
    outcome_event,
    centring_weight,
    cross_at,
    shock,
    q,
):
    """The outcomes' log likelihood, then the gradient back through eta to the loadings and the
    factor paths; returns the log density and the gradient of the indicators' intercepts."""
    n_ind, n_fac, n_out, n_cells = sizes[0], sizes[1], sizes[2], sizes[3]
    h_at, b_at = offsets[HAZARD_INTERCEPT], offsets[EFFECT_LOG_OR]
    p_at, e_at = offsets[PERSISTENCE], offsets[INNOVATION]

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
            lp, d_xh = bernoulli_logit(outcome_event[o, t], xh)
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
    for n in range(loading_signed.shape[0]):
        z = x[offsets[LOADING_UNFOLDED] + n]
        grad[offsets[LOADING_UNFOLDED] + n] += (
            loading_sign[n] * np.sign(z) * g_loading[loading_signed[n, 0], loading_signed[n, 1]]
        )
    for n in range(loading_free.shape[0]):
        grad[offsets[LOADING_FREE] + n] += g_loading[loading_free[n, 0], loading_free[n, 1]]
    for n in range(effect_at.shape[0]):
        grad[b_at + n] += g_effect[effect_at[n, 0], effect_at[n, 1]]

    if cross_at.shape[0] > 0:
        _var1_back(x, grad, offsets, cross_at, phi, f, scale, d_scale, shock, q, g_f)
        return logp, g_intercept
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
    return logp, g_intercept


@numba.njit(cache=True, error_model="numpy")
def _var1_back(x, grad, offsets, cross_at, phi, f, scale, d_scale, shock, q, g_f):
    """The gradient back through the VAR(1) paths (``models.model.var1_paths``): the adjoint
    ``adj[t] = g_f[t] + A' adj[t+1]``, then through ``A = diag(phi) + diag(shock) C`` and
    ``shock = scale / sqrt(q)`` to the persistences' log-odds and the cross effects."""
    n_fac, n_cells = f.shape[0], f.shape[1]
    n_cross = cross_at.shape[0]
    p_at, e_at, c_at = offsets[PERSISTENCE], offsets[INNOVATION], offsets[CROSS_EFFECT]
    adj = np.zeros(n_fac)
    new = np.empty(n_fac)
    g_phi = np.zeros(n_fac)  # through A's diagonal
    g_shock = np.zeros(n_fac)
    g_cross = np.zeros(n_cross)
    for t in range(n_cells - 1, -1, -1):
        for k in range(n_fac):
            new[k] = g_f[k, t] + phi[k] * adj[k]
        for n in range(n_cross):
            new[cross_at[n, 1]] += shock[cross_at[n, 0]] * x[c_at + n] * adj[cross_at[n, 0]]
        adj[:] = new
        if t == 0:
            for k in range(n_fac):
                grad[e_at + k * n_cells] += adj[k]
            break
        for k in range(n_fac):
            e = x[e_at + k * n_cells + t]
            grad[e_at + k * n_cells + t] += shock[k] * adj[k]
            g_phi[k] += adj[k] * f[k, t - 1]
            g_shock[k] += adj[k] * e
        for n in range(n_cross):
            w = adj[cross_at[n, 0]] * f[cross_at[n, 1], t - 1]
            g_cross[n] += shock[cross_at[n, 0]] * w
            g_shock[cross_at[n, 0]] += x[c_at + n] * w
    # shock = scale * q^(-1/2): through scale (the own persistence) and q.
    g_q = np.empty(n_fac)
    for k in range(n_fac):
        root = math.sqrt(q[k])
        g_q[k] = -0.5 * g_shock[k] * scale[k] / (q[k] * root)
        grad[p_at + k] += g_phi[k] * phi[k] * (1.0 - phi[k]) + g_shock[k] * d_scale[k] / root
    # q[to] = 1 + sum c^2 (1 + ab) / (1 - ab), a = phi[to], b = phi[from].
    for n in range(n_cross):
        to, fr = cross_at[n, 0], cross_at[n, 1]
        c, a, b = x[c_at + n], phi[to], phi[fr]
        den = 1.0 - a * b
        grad[c_at + n] += g_cross[n] + g_q[to] * 2.0 * c * (1.0 + a * b) / den
        d_ratio = 2.0 / (den * den)  # d/da of (1 + ab) / (1 - ab) is 2b / (1 - ab)^2
        grad[p_at + to] += g_q[to] * c * c * d_ratio * b * a * (1.0 - a)
        grad[p_at + fr] += g_q[to] * c * c * d_ratio * a * b * (1.0 - b)


@numba.njit(cache=True)
def _intercept_grad(grad, g_intercept, at, columns):
    """The gradient of a family's sampled intercepts."""
    for j in range(columns.shape[0]):
        grad[at + j] += g_intercept[columns[j]]


# ---------------------------------------------------------------------------------------------
# The driver: the common part and each family's, in the registry's order

_COMMON = tuple(f.name for f in dataclasses.fields(Structure) if not f.name.startswith("family_"))
#: The common part's functions the driver calls.
_KERNEL_COMMON = (
    "_priors_and_paths",
    "_set_base",
    "_set_base_centred",
    "_linear_predictor",
    "_outcomes_and_back",
    "_var1_back",
    "_intercept_grad",
)


def kernel_source() -> str:
    """The source of :func:`logp_and_grad`, from the registry: each family's argument is the tuple
    ``(rows, data, at, ends, columns, centre, priors)`` (:func:`kernel_arguments`)."""
    families = [f"family_{k}" for k in range(len(FAMILIES))]
    lines = [
        f"def logp_and_grad(x, grad, {', '.join(_COMMON)}, {', '.join(families)}, {', '.join(OTHER_DATA)}):",
        f"    logp, phi, f, scale, d_scale, loading, effect, shock, q = _priors_and_paths(x, grad, {', '.join(_COMMON)})",
        "    base = np.zeros(sizes[0])",
    ]
    intercepts = []
    for k, fam in enumerate(FAMILIES):
        if fam.intercept_variable is None:
            continue
        at = f"family_{k}[2][{[name for name, _ in fam.value_variables].index(fam.intercept_variable)}]"
        intercepts.append((at, f"family_{k}[4]"))
        centre = f", family_{k}[5]" if fam.intercept_centre else ""
        lines.append(f"    _set_base{'_centred' if centre else ''}(base, x, {at}, family_{k}[4]{centre})")
    lines += [
        "    factor_mean, eta = _linear_predictor(base, loading, f, centring_weight)",
        "    g_eta = np.zeros((sizes[3], sizes[0]))",
    ]
    for k in range(len(FAMILIES)):
        p = f"family_{k}"
        lines.append(
            f"    logp = kernel_{k}(logp, x, grad, {p}[2], {p}[3], {p}[4], eta, g_eta, {p}[0], {p}[1], {p}[6])"
        )
    lines += [
        "    logp, g_intercept = _outcomes_and_back(logp, x, grad, offsets, sizes, loading_signed, loading_sign,"
        " loading_free, effect_at, phi, f, scale, d_scale, loading, effect, factor_mean, g_eta, outcome_at_risk,"
        " outcome_event, centring_weight, cross_at, shock, q)",
    ]
    lines += [f"    _intercept_grad(grad, g_intercept, {at}, {columns})" for at, columns in intercepts]
    lines.append("    return logp")
    return "\n".join(lines) + "\n"


def _driver() -> Callable[..., float]:
    """:func:`kernel_source` compiled, from a file numba caches it by (:mod:`models.kernel_cache`;
    the file's name carries this module's and the families' code, which the compiled driver
    carries): each process loads the compiled driver instead of compiling it (about 2.5 s)."""
    from pathlib import Path

    import models.families

    source = kernel_source()
    header = "import numpy as np\n\nfrom models.density import (\n"
    header += "".join(f"    {n},\n" for n in _KERNEL_COMMON) + ")\n"
    for k, fam in enumerate(FAMILIES):
        header += f"from {fam.kernel.py_func.__module__} import {fam.kernel.py_func.__name__} as kernel_{k}\n"
    carried = [Path(__file__), *Path(models.families.__file__).parent.glob("*.py")]
    module = kernel_cache.generated_module("harbinger_fused_kernel", header + "\n\n" + source, carried)
    if module is not None:
        return numba.njit(cache=True, error_model="numpy")(module.logp_and_grad)
    scope = {"np": np, **{n: globals()[n] for n in _KERNEL_COMMON}}
    scope.update({f"kernel_{k}": fam.kernel for k, fam in enumerate(FAMILIES)})
    exec(compile(source, "<fused density kernel>", "exec"), scope)
    return numba.njit(error_model="numpy")(scope["logp_and_grad"])


#: The model's log density at ``x`` (nutpie's flat unconstrained vector); its gradient is written
#: into ``grad``. Arguments after ``x`` and ``grad``: :func:`kernel_arguments`.
logp_and_grad = _driver()


# ---------------------------------------------------------------------------------------------
# Handing the kernel to nutpie

_NOTHING = np.zeros(0)


def _row_names(family: str) -> list[str]:
    return [f"{family}_{field}" for field in ROW_FIELDS]


def kernel_arguments(design: Design, model: pm.Model, data: dict[str, np.ndarray] | None = None) -> tuple:
    """The kernel's arguments after ``x`` and ``grad``, from a design's data (``data``, the
    design's own by default): the callback nutpie calls (:mod:`models.compiled`) finds each array
    by address."""
    data = design.data() if data is None else data
    at = structure(design, model)

    def array(name: str) -> np.ndarray:
        return np.ascontiguousarray(data[name])

    families = tuple(
        (
            tuple(array(n) for n in _row_names(fam.name)),
            tuple(array(n) for n in fam.kernel_data),
            at.family_at[k],
            at.family_ends[k],
            at.family_columns[k],
            array(fam.intercept_centre) if fam.intercept_centre else _NOTHING,
            at.family_priors[k],
        )
        for k, fam in enumerate(FAMILIES)
    )
    return (*at.arrays(), *families, *(array(n) for n in OTHER_DATA))


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


def check_points(initial_point_func: Callable, model: pm.Model) -> list[tuple[str, np.ndarray]]:
    """The points :func:`disagreement` checks: the model's initial point (flattened in nutpie's
    order) and nutpie's jittered starting points (``initial_point_func``) for
    :data:`GUARD_JITTER_SEEDS`."""
    start = model.initial_point()
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    points = [("the initial point", np.concatenate([np.ravel(start[n]) for n in names]).astype(np.float64))]
    for seed in GUARD_JITTER_SEEDS:
        points.append(
            (
                f"a jittered starting point (seed {seed})",
                np.ascontiguousarray(initial_point_func(seed), dtype=np.float64),
            )
        )
    return points


def reference(model: pm.Model) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """PyMC's log density and gradient of ``model`` at its containers' current data, as a function
    of nutpie's flat vector, evaluated by PyTensor's Python backend on the graph as PyMC states it
    (no rewrites): nothing to compile, a couple of seconds to build, and slow per call (fine for a
    few check points). NumPy's ufuncs take at most 32 operands, inputs and output, so the
    gradient's wide sums and products are split into ones of 16 terms."""
    import pytensor
    import pytensor.scalar as ps
    from pytensor.compile.mode import Mode
    from pytensor.graph.rewriting.basic import in2out, node_rewriter
    from pytensor.tensor.elemwise import Elemwise

    WIDEST = 32  # noqa: N806 - NumPy's limit on a ufunc's inputs and outputs together

    @node_rewriter([Elemwise])
    def narrow(fgraph, node):
        if len(node.inputs) < WIDEST or not isinstance(node.op.scalar_op, ps.Add | ps.Mul):
            return None
        terms = list(node.inputs)
        while len(terms) >= WIDEST:
            terms = [
                node.op(*terms[k : k + 16]) if len(terms[k : k + 16]) > 1 else terms[k]
                for k in range(0, len(terms), 16)
            ]
        return [node.op(*terms)]

    start = model.initial_point()
    values = [model.rvs_to_values[rv] for rv in model.free_RVs]
    shapes = [start[v.name].shape for v in values]
    bounds = np.cumsum([0, *(int(np.prod(s)) for s in shapes)])
    # ``include=()``: only the narrowing; PyTensor's default canonicalization would take longer
    # than the rest of the guard and is not needed to evaluate the graph
    outputs = pytensor.graph.rewrite_graph([model.logp(), model.dlogp()], include=(), custom_rewrite=in2out(narrow))
    with model:
        function = pm.pytensorf.compile(values, outputs, mode=Mode(linker="py", optimizer=None))

    def evaluate(x: np.ndarray) -> tuple[float, np.ndarray]:
        parts = [x[a:b].reshape(s) for s, a, b in zip(shapes, bounds[:-1], bounds[1:], strict=True)]
        value, grad = function(*parts)
        if not np.isfinite(value):
            raise FloatingPointError("the model's log density is not finite at this point")
        return float(value), np.asarray(grad, dtype=np.float64)

    return evaluate


def disagreement(
    fused: Callable[[np.ndarray], tuple[float, np.ndarray]],
    design: Design,
    model: pm.Model,
    initial_point_func: Callable,
) -> str | None:
    """None when the fused log density (``fused``, e.g. :func:`evaluator` of the model nutpie
    samples) and PyMC's (:func:`reference`) give the same value and gradient at
    :func:`check_points` with the design's data; else what differs, in words."""
    with model:
        pm.set_data(design.data())
    generated_at = reference(model)
    at = structure(design, model)
    for where, x in check_points(initial_point_func, model):
        try:
            expected, expected_grad = generated_at(x)
        except FloatingPointError:
            continue  # no reference at this point
        try:
            value, grad = fused(x)
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
