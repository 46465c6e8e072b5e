"""The PyMC model: latent factors, indicator likelihoods and outcome hazards.

Statistical model (every case)::

    factor_state[k, t]  = persistence[k] * factor_state[k, t-1] + sqrt(1 - persistence[k]^2) * innovation[k, t]
    factor_state[k, 0]  = innovation[k, 0]                      (stationary AR(1), unit variance)
    innovation          ~ Normal(0, 1)                          (non-centred)
    persistence         ~ Beta(18, 2)                           (quarterly, mean 0.9)
    eta[t, i]           = intercept[i] + sum_k loading[i, k] * factor_state[k, t]
    intercept[i]        = level[i] - sum_k loading[i, k] * mean over indicator i's record of factor_state[k]
                          (the prior is on level[i]: the indicator's typical value over its record)
    loading[i, k]       ~ HalfNormal(1) (sign fixed by the case: +/-), Normal(0, 1) when free,
                          0 where the indicator does not load on the factor; a HalfNormal
                          magnitude is sampled as |Normal(0, 1)| (the same prior, but the sampler
                          reflects at zero instead of chasing log-magnitude down a long tail)
    count rows          ~ NegBinomial(mean = sum over covered cells of weight * exp(eta), alpha),
                          1 / sqrt(alpha) ~ HalfNormal(0.3) (sampled as |Normal(0, 0.3)|, so a
                          Poisson-like series sits near zero instead of far out on log alpha)
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


def coords(design: Design) -> dict[str, list[str]]:
    out = {
        "factor": design.factor_ids,
        "period": design.grid.labels,
        "indicator": design.indicator_ids,
        "outcome": design.outcome_ids,
    }
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
        innovation = pm.Normal("innovation", 0.0, 1.0, dims=("factor", "period"))
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
