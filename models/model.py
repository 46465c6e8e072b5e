"""The PyMC model: latent factors, indicator likelihoods and outcome hazards.

Statistical model (every case)::

    factor_state[k, t]  = persistence[k] * factor_state[k, t-1] + sqrt(1 - persistence[k]^2) * innovation[k, t]
    factor_state[k, 0]  = innovation[k, 0]                      (stationary AR(1), unit variance)
    innovation          ~ Normal(0, 1)                          (non-centred)
    persistence         ~ Beta(18, 2)                           (quarterly, mean 0.9)

    with cross effects declared by the case (``cross_effects``; a VAR(1) with those entries only):

    factor_state[k, t]  = persistence[k] * factor_state[k, t-1]
                          + shock_scale[k] * (innovation[k, t] + sum_j cross_effect[k, j] * factor_state[j, t-1])
    shock_scale[k]      = sqrt(1 - persistence[k]^2) / sqrt(1 + sum_j cross_effect[k, j]^2 * R(k, j)),
    R(k, j)             = (1 + persistence[k] persistence[j]) / (1 - persistence[k] persistence[j])
    cross_effect[k, j]  ~ Normal(m, s), the maximum-entropy Normal on the case's 90% range of the
                          effect (or its sign's default); 0 where the case declares none
                          (see :func:`var1_paths` for the normalisation and stationarity)
    eta[t, i]           = intercept[i] + sum_k loading[i, k] * factor_state[k, t]
    intercept[i]        = level[i] - sum_k loading[i, k] * mean over indicator i's record of factor_state[k]
                          (the prior is on level[i]: the indicator's typical value over its record)
    loading[i, k]       ~ HalfNormal(1) (sign fixed by the case: +/-), Normal(0, 1) when free,
                          0 where the indicator does not load on the factor; a HalfNormal
                          magnitude is sampled as |Normal(0, 1)| (the same prior, but the sampler
                          reflects at zero instead of chasing log-magnitude down a long tail)
    count rows          ~ NegBinomial(mean = sum over covered cells of weight * exp(eta), alpha),
                          1 / alpha = overdispersion^2 + 1 / 100 (every count varies beyond the
                          Poisson by at least a tenth of its mean), overdispersion ~ HalfNormal(0.3)
                          (sampled as |Normal(0, 0.3)|, so a Poisson-like series sits near zero
                          instead of far out on log alpha)
    binary / continuous / proportion / ordinal rows: Bernoulli / Normal / Beta / ordered logistic
                          on eta averaged over the covered cells
    every row           : mixture  w * p(y | genuine) + (1 - w) * p(y | spurious report),
                          w from the source's reliability grade and credibility
    logit hazard[o, t]  = hazard_intercept[o] + sum_k hazard_effect[o, k] * factor_state[k, t]
    hazard_intercept[o] ~ Normal(mu[o], sd[o]), calibrated so that the prior-predictive 1-year
                          probability (factors varying) has the case's elicited 90% range
    hazard_effect[o, k] ~ Normal(m[o, k], s[o, k]) on the log odds ratio per factor sd, the
                          maximum-entropy Normal on the case's elicited 90% range of the odds
                          ratio; 0 when the outcome names no effect of that factor
                          (models.elicitation builds mu, sd, m and s once per case)
    outcome             : Bernoulli per at-risk quarter; the event in its quarter if resolved

The identification: factors have unit stationary variance (scale) and each has an anchor
indicator whose loading is positive (sign).

The numbers above are the defaults of the structural priors, :class:`models.priors.PriorConfig`
(which says why each has its value); the model reads them from the config its design was built
with (``Design.priors``: the defaults with the case's ``priors:`` overrides).

Each indicator family's intercepts, parameters, priors and likelihood are in its module of
:mod:`models.families`; this module builds what every case shares and asks each family for its
part.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from models.design import Design
from models.elicitation import hazard_prior
from models.families import FAMILIES, row_logliks
from models.likelihood import pytensor_ops
from models.version import MODEL_VERSION  # noqa: F401 - re-exported: the version of this model


def quarterly_hazard(annual: float) -> float:
    """The per-quarter hazard that gives probability ``annual`` over a year."""
    return 1.0 - (1.0 - annual) ** 0.25


def _sign_code(value: str) -> float:
    return {"positive": 1.0, "raises": 1.0, "negative": -1.0, "lowers": -1.0, "free": 0.0}[value]


def loading_structure(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """(I, K) arrays: which loadings exist, and their sign (+1, -1, or 0 for free)."""
    case = design.case
    fid = {f: k for k, f in enumerate(case.factor_ids)}
    present = np.zeros((len(case.indicators), len(fid)))
    sign = np.zeros_like(present)
    for i, ind in enumerate(case.indicators):
        for f, s in ind.loadings.items():
            present[i, fid[f]] = 1.0
            sign[i, fid[f]] = _sign_code(s)
    return present, sign


def effect_structure(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """(O, K) arrays: which hazard effects exist, and their sign."""
    case = design.case
    fid = {f: k for k, f in enumerate(case.factor_ids)}
    present = np.zeros((len(case.outcomes), len(fid)))
    sign = np.zeros_like(present)
    for o, outcome in enumerate(case.outcomes):
        for f, s in outcome.effects.items():
            present[o, fid[f]] = 1.0
            sign[o, fid[f]] = _sign_code(s)
    return present, sign


def effect_positions(design: Design) -> np.ndarray:
    """(n, 2) outcome, factor of each hazard effect the case names, in row-major order."""
    present, _ = effect_structure(design)
    return np.argwhere(present == 1).astype(np.int64).reshape(-1, 2)


def _signed_matrix(name: str, present: np.ndarray, sign: np.ndarray, scale: float, dims: tuple[str, str]):
    """A matrix whose entries are HalfNormal with a fixed sign, Normal when free, zero if absent."""
    signed = np.argwhere((present == 1) & (sign != 0))
    free = np.argwhere((present == 1) & (sign == 0))
    mat = pt.zeros(present.shape)
    if len(signed):
        # |Normal(0, scale)| is HalfNormal(scale). Sampling the unfolded value lets the sampler
        # pass through zero (a reflecting boundary) instead of chasing log(magnitude) down a long
        # tail when the data allow a loading near zero.
        mag = pt.abs(pm.Normal(f"{name}_unfolded", 0.0, scale, shape=len(signed)))
        mat = pt.set_subtensor(mat[signed[:, 0], signed[:, 1]], sign[signed[:, 0], signed[:, 1]] * mag)
    if len(free):
        val = pm.Normal(f"{name}_free", 0.0, scale, shape=len(free))
        mat = pt.set_subtensor(mat[free[:, 0], free[:, 1]], val)
    return pm.Deterministic(name, mat, dims=dims)


def ar1_paths(persistence, innovation, n_cells: int):
    """Stationary AR(1) paths with unit variance from standard-normal innovations, (K, T).

    The recursion ``f[t] = phi * f[t-1] + b[t]`` is unrolled by doubling (a Hillis-Steele scan):
    after the step with offset ``d``, ``b[t]`` holds the sum of ``phi^(t-s) * b[s]`` over the last
    ``2d`` quarters, so ``ceil(log2(T))`` shifted multiply-adds give every path exactly, with a
    gradient as cheap as the value (a dense ``(K, T, T)`` kernel costs T times more per factor).
    """
    n_factors = innovation.shape[0]
    first = np.r_[1.0, np.zeros(n_cells - 1)][None, :]
    scale = pt.sqrt(1.0 - persistence**2)[:, None] * (1.0 - first) + first
    path = innovation * scale
    phi_d, d = persistence[:, None], 1
    while d < n_cells:
        path = path + phi_d * pt.concatenate([pt.zeros((n_factors, d)), path[:, :-d]], axis=1)
        phi_d, d = phi_d * phi_d, 2 * d
    return path


#: z such that a Normal's central 90% lies within mean +/- z sd (the elicited ranges are 90%).
Z90 = 1.6448536269514722


def cross_effect_prior(case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The case's declared cross effects: ``(at, mean, sd)`` with ``at`` (n, 2) the (to, from)
    factor of each, in the case's order, and the Normal prior of each: the maximum-entropy
    distribution with 90% of its mass on the declared range (or the sign's default range,
    ``indicators.case.DEFAULT_CROSS_EFFECT_SIZE``) is the Normal centred on it with sd
    ``(high - low) / (2 * 1.645)`` (the same rule the hazard effects' odds-ratio ranges follow,
    :mod:`models.elicitation`). Empty arrays when the case declares none."""
    fid = {f: k for k, f in enumerate(case.factor_ids)}
    effects = case.cross_effects
    at = np.array([[fid[e.to_factor], fid[e.from_factor]] for e in effects], dtype=np.int64).reshape(-1, 2)
    lo = np.array([e.size_range[0] for e in effects], dtype=np.float64)
    hi = np.array([e.size_range[1] for e in effects], dtype=np.float64)
    return at, (lo + hi) / 2.0, (hi - lo) / (2.0 * Z90)


def var1_paths(persistence, cross, at: np.ndarray, innovation, n_cells: int):
    """Stationary VAR(1) paths from standard-normal innovations, (K, T), with the transition
    matrix and the shock scales: ``f[t] = A f[t-1] + g * e[t]``, ``f[0] = e[0]``, where
    ``A = diag(persistence) + diag(g) C`` and ``C[k, j]`` is the declared cross effect of factor j
    on factor k (zero elsewhere).

    **The effect's unit.** ``cross_effect[k, j]`` shifts factor k's quarterly shock by that many
    of its own shock sds per sd of factor j's state the quarter before, so its size reads the
    same whatever the factors' persistences (``A[k, j] = g[k] * cross_effect[k, j]``).

    **Unit variance.** ``g[k] = sqrt(1 - phi_k^2) / sqrt(Q_k)`` with ``Q_k = 1 + sum_j c_kj^2
    (1 + phi_k phi_j) / (1 - phi_k phi_j)``: the sum in ``Q_k`` is the variance that unit-variance
    AR(1) parents, independent of each other, add to factor k's shock sum, so dividing by
    ``sqrt(Q_k)`` keeps factor k's stationary variance at exactly 1 when its parents have no
    parents of their own (the shipped case's structure: both effects act on military pressure)
    and close to 1 otherwise. The factors' scale, which identifies the loadings and the hazard
    effects (per factor sd), keeps its meaning; ``Q_k >= 1``, so every value of the effects is
    valid (no constraint for the sampler to meet).

    **Stationarity.** The case cannot declare a cycle of cross effects
    (``indicators.case``), so ``A`` is triangular up to an ordering of the factors and its
    eigenvalues are the persistences, all below 1: the VAR is stationary for every draw.

    **The first quarter.** ``f[0] = e[0]``: unit variances and no correlation, the stationary
    covariance's diagonal (its off-diagonal, solving the Lyapunov equation ``S = A S A' + G G'``,
    is small for effects of the declared sizes and is left out, as the AR(1) model starts each
    factor from its stationary marginal).

    The recursion is unrolled by doubling as in :func:`ar1_paths`, with matrix powers.
    """
    n_factors = innovation.shape[0]
    raw = pt.set_subtensor(pt.zeros((n_factors, n_factors))[at[:, 0], at[:, 1]], cross)
    ab = persistence[at[:, 0]] * persistence[at[:, 1]]
    q = pt.inc_subtensor(pt.ones(n_factors)[at[:, 0]], cross**2 * (1.0 + ab) / (1.0 - ab))
    shock = pt.sqrt(1.0 - persistence**2) / pt.sqrt(q)
    transition = pt.diag(persistence) + shock[:, None] * raw
    first = np.r_[1.0, np.zeros(n_cells - 1)][None, :]
    path = innovation * (shock[:, None] * (1.0 - first) + first)
    a_d, d = transition, 1
    while d < n_cells:
        path = path + pt.dot(a_d, pt.concatenate([pt.zeros((n_factors, d)), path[:, :-d]], axis=1))
        a_d, d = pt.dot(a_d, a_d), 2 * d
    return path, transition, shock


def coords(design: Design) -> dict[str, list[str]]:
    out = {
        "factor": design.factor_ids,
        "period": design.grid.labels,
        "indicator": design.indicator_ids,
        "outcome": design.outcome_ids,
    }
    if design.case.cross_effects:
        out["factor_from"] = design.factor_ids
    for family in FAMILIES:
        out.update(family.coords(design))
    return out


def build_model(design: Design) -> pm.Model:
    """The PyMC model of a design. Data enter as ``pm.Data``, so new observations that fit the
    design's capacities are set with ``pm.set_data`` (or the sampler's ``with_data``) without
    rebuilding or recompiling."""
    case = design.case
    fam = design.family_indicators
    index = {iid: i for i, iid in enumerate(design.indicator_ids)}
    ops = pytensor_ops()
    T = design.grid.n_cells
    priors = design.priors
    with pm.Model(coords=coords(design)) as model:
        data = {name: pm.Data(name, value) for name, value in design.data().items()}

        persistence = pm.Beta("persistence", *priors.persistence, dims="factor")
        cross_at, cross_mean, cross_sd = cross_effect_prior(case)
        if len(cross_at):
            cross = pm.Normal("cross_effect", cross_mean, cross_sd, shape=len(cross_at))
        innovation = pm.Normal("innovation", 0.0, 1.0, dims=("factor", "period"))
        if len(cross_at):
            paths, transition, shock = var1_paths(persistence, cross, cross_at, innovation, T)
            pm.Deterministic("factor_transition", transition, dims=("factor", "factor_from"))
            pm.Deterministic("factor_shock_scale", shock, dims="factor")
            f = pm.Deterministic("factor_state", paths, dims=("factor", "period"))
        else:  # no cross effects: the independent AR(1)s, the same graph as before they existed
            f = pm.Deterministic("factor_state", ar1_paths(persistence, innovation, T), dims=("factor", "period"))

        present, sign = loading_structure(design)
        loading = _signed_matrix("loading", present, sign, priors.loading_scale, ("indicator", "factor"))

        intercept = pt.zeros(len(index))
        params: dict = {"families": [k for k, v in fam.items() if v]}
        # Every family's intercepts first, then their other parameters: the model's free
        # variables, and so the sampler's coordinates, come in this order.
        for family in FAMILIES:
            if fam[family.name]:
                values, created = family.pymc_intercept(data, fam[family.name], priors)
                params.update(created)
                if values is not None:
                    intercept = pt.set_subtensor(intercept[[index[i] for i in fam[family.name]]], values)
        for family in FAMILIES:
            if fam[family.name]:
                params.update(family.pymc_parameters(data, design))
        # The sampled intercepts are each indicator's level at its factors' average over the
        # indicator's own record; the intercept of eta subtracts that average back out. Same
        # model, but intercepts no longer trade off against the factors' overall level.
        factor_mean = pt.dot(data["centring_weight"], f.T)  # (I, K)
        intercept = intercept - (loading * factor_mean).sum(axis=1)
        intercept = pm.Deterministic("intercept", intercept, dims="indicator")
        eta = intercept[None, :] + pt.dot(f.T, loading.T)  # (T, I)

        for family, lp in row_logliks(ops, params, eta, data).items():
            pm.Potential(f"{family}_loglik", lp.sum())

        prior = hazard_prior(case)
        h0 = pm.Normal("hazard_intercept", prior.intercept_mean, prior.intercept_sd, dims="outcome")
        at = effect_positions(design)
        value = pm.Normal(
            "hazard_effect_log_or",
            prior.effect_mean[at[:, 0], at[:, 1]],
            prior.effect_sd[at[:, 0], at[:, 1]],
            shape=len(at),
        )
        effect = pm.Deterministic(
            "hazard_effect",
            pt.set_subtensor(pt.zeros(prior.present.shape)[at[:, 0], at[:, 1]], value),
            dims=("outcome", "factor"),
        )
        logit_h = h0[:, None] + pt.dot(effect, f)  # (O, T)
        at_risk, event = data["outcome_at_risk"], data["outcome_event"]
        pm.Potential(
            "outcome_loglik",
            (at_risk * (event * ops.log_sigmoid(logit_h) + (1 - event) * ops.log_sigmoid(-logit_h))).sum(),
        )
    return model
