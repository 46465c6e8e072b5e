"""Forecasts from a posterior: outcome probabilities by horizon, factor paths, indicator bands,
and each observation's predictive tail probability (surprise flags).

P(outcome by horizon H) for one posterior draw is the average, over simulated future factor
paths that continue the draw's AR(1) from the as-of quarter, of ``1 - prod(1 - hazard)`` over the
quarters up to H. It can only grow with H, in every draw, so every summary of it does too. The
spread across draws is the parameter uncertainty the intervals show; the Monte Carlo standard
error comes from the effective sample size of the draws.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import arviz as az
import numpy as np
import xarray as xr
from scipy import stats

from models.design import Design
from models.elicitation import driven_by_prior, hazard_prior, moved_line
from models.families import FAMILIES, family, row_logliks
from models.grid import CELLS_PER_YEAR
from models.likelihood import NUMPY

PATHS_PER_DRAW = 16
#: Draws behind each indicator's expected level, predictive bands and PIT (thinned evenly).
INDICATOR_DRAWS = 2000
FUTURE_CELLS_SHOWN = 4
#: An observation is a surprise when it lies outside the central 95% of its leave-one-out
#: posterior predictive: P(Y <= y) or P(Y >= y) below 2.5% (both tails count the value itself,
#: so a single rare event is not flagged merely for being an event).
SURPRISE_TAIL = 0.025
QUANTILES = {"p_05": 0.05, "p_25": 0.25, "p_50": 0.5, "p_75": 0.75, "p_95": 0.95}


@dataclass
class Draws:
    """Posterior draws flattened to a leading ``(D,)`` axis, as NumPy arrays."""

    chains: int
    factor_state: np.ndarray  # (D, K, T)
    persistence: np.ndarray  # (D, K)
    loading: np.ndarray  # (D, I, K)
    intercept: np.ndarray  # (D, I)
    hazard_intercept: np.ndarray  # (D, O)
    hazard_effect: np.ndarray  # (D, O, K)
    params: dict[str, Any]
    #: (D, K, K) and (D, K): the VAR(1)'s transition matrix and shock scales
    #: (``models.model.var1_paths``) when the case declares cross effects, else None (AR(1)s).
    transition: np.ndarray | None = None
    shock_scale: np.ndarray | None = None
    cross_effect: np.ndarray | None = None  # (D, n) the case's cross effects, in its order

    @property
    def n(self) -> int:
        return self.persistence.shape[0]

    def thinned(self, at_most: int) -> Draws:
        """At most ``at_most`` draws, evenly spaced through every chain (all of them if fewer)."""
        if self.n <= at_most:
            return self
        keep = np.linspace(0, self.n - 1, at_most).round().astype(int)
        arrays = {
            f.name: getattr(self, f.name)[keep]
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        params = {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in self.params.items()}
        return dataclasses.replace(self, params=params, **arrays)

    def eta(self) -> np.ndarray:
        """Linear predictor (D, T, I)."""
        return self.intercept[:, None, :] + np.einsum("dkt,dik->dti", self.factor_state, self.loading)


def draws_of(design: Design, idata: az.InferenceData) -> Draws:
    post = idata.posterior

    def flat(name: str) -> np.ndarray:
        v = post[name].values
        return v.reshape((-1,) + v.shape[2:])

    fam = design.family_indicators
    params: dict[str, Any] = {"families": [k for k, v in fam.items() if v]}
    for f in FAMILIES:
        for key, name in f.draw_params.items():
            if name in post:
                params[key] = flat(name)
    return Draws(
        chains=post.sizes["chain"],
        factor_state=flat("factor_state"),
        persistence=flat("persistence"),
        loading=flat("loading"),
        intercept=flat("intercept"),
        hazard_intercept=flat("hazard_intercept"),
        hazard_effect=flat("hazard_effect"),
        params=params,
        transition=flat("factor_transition") if "factor_transition" in post else None,
        shock_scale=flat("factor_shock_scale") if "factor_shock_scale" in post else None,
        cross_effect=flat("cross_effect") if "cross_effect" in post else None,
    )


def future_paths(
    draws: Draws, start_cell: int, n_cells: int, *, paths: int = PATHS_PER_DRAW, seed: int = 0
) -> np.ndarray:
    """Factor paths after ``start_cell``, (D, P, K, n_cells), continuing each draw's AR(1) (or its
    VAR(1), when the case declares cross effects: a scenario's news about one factor then moves
    the factors it acts on in the quarters after)."""
    rng = np.random.default_rng(seed)
    D, K = draws.persistence.shape
    if draws.transition is not None:
        a = draws.transition[:, None]  # (D, 1, K, K)
        g = draws.shock_scale[:, None, :]
        out = np.empty((D, paths, K, n_cells))
        f = np.broadcast_to(draws.factor_state[:, None, :, start_cell], (D, paths, K))
        for t in range(n_cells):
            f = np.matmul(a, f[..., None])[..., 0] + g * rng.standard_normal((D, paths, K))
            out[..., t] = f
        return out
    phi = draws.persistence[:, None, :]
    scale = np.sqrt(1 - phi**2)
    out = np.empty((D, paths, K, n_cells))
    f = np.broadcast_to(draws.factor_state[:, None, :, start_cell], (D, paths, K))
    for t in range(n_cells):
        f = phi * f + scale * rng.standard_normal((D, paths, K))
        out[..., t] = f
    return out


def outcome_path_probabilities(draws: Draws, paths: np.ndarray) -> np.ndarray:
    """P(outcome within h quarters after the as-of quarter) along each path, (D, P, O, H)."""
    # One (D, P, O, T) buffer, transformed in place: logit -> -log(1 - hazard) -> cumulative sum
    # -> 1 - survival (about a third of the time of the same steps with fresh arrays).
    x = np.matmul(draws.hazard_effect[:, None], paths)
    x += draws.hazard_intercept[:, None, :, None]
    np.logaddexp(0.0, x, out=x)  # -log(1 - hazard)
    np.cumsum(x, axis=-1, out=x)
    np.negative(x, out=x)
    np.exp(x, out=x)  # survival to each quarter
    return np.subtract(1.0, x, out=x)


def outcome_probabilities(design: Design, draws: Draws, paths: np.ndarray) -> np.ndarray:
    """P(outcome happens within h quarters after the as-of quarter), (D, O, H) for h = 1..H."""
    return outcome_path_probabilities(draws, paths).mean(axis=1)


def _quantiles(x: np.ndarray, axis: int = 0) -> dict[str, np.ndarray]:
    qs = np.quantile(x, list(QUANTILES.values()), axis=axis)
    return dict(zip(QUANTILES, qs))


def _r(x: Any, nd: int = 4) -> Any:
    if isinstance(x, np.ndarray):
        return [None if not np.isfinite(v) else round(float(v), nd) for v in x]
    return None if not np.isfinite(x) else round(float(x), nd)


def _probabilities(design: Design, draws: Draws, seed: int) -> np.ndarray:
    """P(outcome by each quarter after the as-of quarter), (D, O, H*4), over simulated paths."""
    max_h = max(h for o in design.case.outcomes for h in o.horizons)
    paths = future_paths(draws, design.grid.as_of_cell, max_h * CELLS_PER_YEAR, seed=seed)
    return outcome_probabilities(design, draws, paths)


def _is_resolved(design: Design, outcome: Any) -> bool:
    return outcome.resolved is not None and outcome.resolved.date <= design.as_of


def _monitored(design: Design, draws: Draws, prob: np.ndarray) -> xr.DataArray:
    """Each open outcome's probability by each of its horizons, (chain, draw, outcome_horizon)."""
    chains = draws.chains
    monitored = {
        f"{outcome.id}@{h}y": prob[:, o, h * CELLS_PER_YEAR - 1].reshape(chains, -1)
        for o, outcome in enumerate(design.case.outcomes)
        if not _is_resolved(design, outcome)
        for h in outcome.horizons
    }
    names = list(monitored)
    arr = np.stack([monitored[n] for n in names], axis=-1) if names else np.zeros((chains, draws.n // chains, 0))
    return xr.DataArray(arr, dims=("chain", "draw", "outcome_horizon"), coords={"outcome_horizon": names})


def outcome_probability_draws(design: Design, draws: Draws, *, seed: int = 0) -> xr.DataArray:
    """The outcome probabilities of :func:`outcome_forecasts` per draw, without their summaries
    (what a fit's diagnostics judge, :func:`models.fit.run_judge`)."""
    return _monitored(design, draws, _probabilities(design, draws, seed))


def outcome_forecasts(design: Design, draws: Draws, *, seed: int = 0) -> tuple[list[dict], xr.DataArray]:
    """Per outcome and horizon: mean, quantiles, MCSE and ESS of P(outcome by horizon), and the
    probabilities per draw (:func:`outcome_probability_draws`)."""
    prob = _probabilities(design, draws, seed)  # (D, O, H*4)
    chains = draws.chains
    out = []
    for o, outcome in enumerate(design.case.outcomes):
        resolved = _is_resolved(design, outcome)
        entry: dict[str, Any] = {
            "id": outcome.id,
            "question": outcome.question,
            "resolved": resolved,
            "resolution_date": outcome.resolved.date.isoformat() if resolved else None,
            "horizons": [],
            "elicitation": None,
        }
        if not resolved:
            for h in outcome.horizons:
                p = prob[:, o, h * CELLS_PER_YEAR - 1]
                grid = p.reshape(chains, -1)
                q = _quantiles(p)
                entry["horizons"].append(
                    {
                        "years": h,
                        "p_mean": _r(p.mean()),
                        **{k: _r(v) for k, v in q.items()},
                        "mcse": _r(float(np.ravel(az.mcse(grid))[0]), 5),
                        "ess": _r(float(np.ravel(az.ess(grid))[0]), 1),
                    }
                )
            entry["elicitation"] = elicitation_of(
                design, draws, o, {h: prob[:, o, h * CELLS_PER_YEAR - 1] for h in outcome.horizons}
            )
        out.append(entry)
    return out, _monitored(design, draws, prob)


def factor_summaries(design: Design, draws: Draws) -> list[dict]:
    grid = design.grid
    last = grid.as_of_cell + 1
    out = []
    for k, factor in enumerate(design.case.factors):
        x = draws.factor_state[:, k, :last]
        q = np.quantile(x, [0.05, 0.25, 0.75, 0.95], axis=0)
        out.append(
            {
                "id": factor.id,
                "name": factor.name,
                "periods": grid.labels[:last],
                "dates": [grid.cell_start(i).isoformat() for i in range(last)],
                "mean": _r(x.mean(0), 3),
                "p05": _r(q[0], 3),
                "p25": _r(q[1], 3),
                "p75": _r(q[2], 3),
                "p95": _r(q[3], 3),
            }
        )
    return out


def _expected_level(design: Design, draws: Draws, name: str, local: int, eta: np.ndarray) -> np.ndarray:
    """Expected observed value per cell from the linear predictor (D, T')."""
    return family(name).expected_level(design.constants, draws, local, eta)


def _predictive_rows(
    design: Design,
    draws: Draws,
    name: str,
    rng: np.random.Generator,
    eta_all: np.ndarray,
    loo_weights: np.ndarray,
    khat: np.ndarray | None = None,
) -> list[dict]:
    """Predictive quantiles and leave-one-out PIT of each real row of one family, with the
    Pareto k-hat of the row's leave-one-out importance weights (``khat``, one per row)."""
    rows = design.families[name]
    n = rows.n_rows
    if n == 0:
        return []
    cells, ind, w = rows.cells[:n], rows.indicator[:n], rows.weights[:n]
    eta_rows = eta_all[:, cells, ind[:, None]]  # (D, n, S)
    y = rows.y[:n]
    local = rows.local[:n]
    fam = family(name)
    sim, pit_d, lower_d, upper_d = fam.predictive(design.constants, draws, local, y, w, eta_rows, rng)
    pit = (loo_weights[:, :n] * pit_d).sum(0)
    p_at_most = (loo_weights[:, :n] * lower_d).sum(0)  # P(Y <= y), leave-one-out
    p_at_least = (loo_weights[:, :n] * upper_d).sum(0)  # P(Y >= y)
    q = fam.to_unit(np.quantile(sim, [0.05, 0.5, 0.95], axis=0), design.constants, local)
    table = design.rows[design.rows["family"] == name].reset_index(drop=True)
    out = []
    for j in range(n):
        rec = table.iloc[j]
        k = None if khat is None else float(khat[j])
        out.append(
            {
                "indicator": rec["indicator"],
                "start": rec["start"].date().isoformat(),
                "end": rec["end"].date().isoformat(),
                "value": _r(float(rec["value"]), 4),
                "genuine": round(float(rec["genuine"]), 3),
                "observation_ids": list(rec["observation_ids"]),
                "pred_p05": _r(q[0, j], 3),
                "pred_p50": _r(q[1, j], 3),
                "pred_p95": _r(q[2, j], 3),
                "pit": _r(pit[j], 4),
                "p_at_most": _r(p_at_most[j], 4),
                "p_at_least": _r(p_at_least[j], 4),
                "surprise": bool(min(p_at_most[j], p_at_least[j]) < SURPRISE_TAIL),
                "loo_khat": None if k is None or not np.isfinite(k) else round(k, 3),
                "loo_unreliable": bool(k is not None and (not np.isfinite(k) or k > KHAT_UNRELIABLE)),
            }
        )
    return out


#: Above this Pareto k-hat a row's leave-one-out weights are unreliable (Vehtari et al. 2017;
#: the threshold arviz's ``loo`` warns at): its PIT and surprise flag are shown, marked as such.
KHAT_UNRELIABLE = 0.7


def loo_weights(design: Design, draws: Draws, eta: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Pareto-smoothed leave-one-out weights of each row, per family: (D, R), columns sum to 1;
    and each row's Pareto k-hat, per family: (R,)."""
    ll = row_logliks(NUMPY, draws.params, eta, design.data(), batched=True)
    out, khat = {}, {}
    for fam, lp in ll.items():
        lw, k = az.psislw(-lp.T)  # (rows, draws): smoothed, normalised over draws
        out[fam] = np.exp(lw).T
        khat[fam] = np.asarray(k, dtype=float).reshape(-1)
    return out, khat


def indicator_summaries(design: Design, draws: Draws, *, seed: int = 0) -> list[dict]:
    """Per indicator: expected value per cell (through 4 quarters ahead) and its rows' predictive.

    These are pictures and surprise flags, not the forecast: they use at most
    ``INDICATOR_DRAWS`` evenly spaced draws, plenty for 90% bands and a PIT.
    """
    draws = draws.thinned(INDICATOR_DRAWS)
    rng = np.random.default_rng(seed + 1)
    grid = design.grid
    last = grid.as_of_cell + 1
    eta = draws.eta()
    paths = future_paths(draws, grid.as_of_cell, FUTURE_CELLS_SHOWN, paths=1, seed=seed + 2)[:, 0]
    eta_future = draws.intercept[:, None, :] + np.einsum("dkt,dik->dti", paths, draws.loading)
    eta_span = np.concatenate([eta[:, :last], eta_future], axis=1)
    labels = grid.labels[:last] + [
        f"{grid.cell_start(last + i).year}Q{(grid.cell_start(last + i).month - 1) // 3 + 1}"
        for i in range(FUTURE_CELLS_SHOWN)
    ]
    dates = [grid.cell_start(i).isoformat() for i in range(last + FUTURE_CELLS_SHOWN)]
    weights, khat = loo_weights(design, draws, eta)
    rows_by_family = {fam: _predictive_rows(design, draws, fam, rng, eta, weights[fam], khat[fam]) for fam in weights}
    out = []
    for i, ind in enumerate(design.case.indicators):
        fam = ind.family
        local = design.family_indicators[fam].index(ind.id)
        level = _expected_level(design, draws, fam, local, eta_span[:, :, i])
        q = np.quantile(level, [0.05, 0.95], axis=0)
        out.append(
            {
                "id": ind.id,
                "name": ind.name,
                "family": fam,
                "unit": ind.unit,
                "aggregation": ind.aggregation,
                "periods": labels,
                "dates": dates,
                "expected": {"mean": _r(level.mean(0), 4), "p05": _r(q[0], 4), "p95": _r(q[1], 4)},
                "rows": [r for r in rows_by_family.get(fam, []) if r["indicator"] == ind.id],
            }
        )
    return out


def loading_summaries(design: Design, draws: Draws) -> list[dict]:
    out = []
    for i, ind in enumerate(design.case.indicators):
        for k, factor in enumerate(design.case.factors):
            if factor.id not in ind.loadings:
                continue
            x = draws.loading[:, i, k]
            out.append(
                {
                    "indicator": ind.id,
                    "factor": factor.id,
                    "mean": _r(x.mean(), 3),
                    "p05": _r(np.quantile(x, 0.05), 3),
                    "p95": _r(np.quantile(x, 0.95), 3),
                }
            )
    return out


def cross_effect_summaries(design: Design, draws: Draws) -> list[dict]:
    """Each cross effect the case declares: its declared 90% range (the prior's) and rationale,
    with its posterior mean and 90% interval (``models.model.var1_paths`` gives its unit)."""
    out = []
    for n, e in enumerate(design.case.cross_effects):
        x = draws.cross_effect[:, n] if draws.cross_effect is not None else np.full(1, np.nan)
        low, high = e.size_range
        out.append(
            {
                "from_factor": e.from_factor,
                "to_factor": e.to_factor,
                "effect": e.effect,
                "rationale": e.rationale,
                "prior_low": _r(low, 3),
                "prior_high": _r(high, 3),
                "post_mean": _r(x.mean(), 3),
                "post_p05": _r(np.quantile(x, 0.05), 3),
                "post_p95": _r(np.quantile(x, 0.95), 3),
            }
        )
    return out


def hazard_summaries(design: Design, draws: Draws) -> list[dict]:
    """Prior against posterior for each outcome's hazard parameters."""
    out = []
    prior = hazard_prior(design.case)
    for o, outcome in enumerate(design.case.outcomes):
        x = draws.hazard_intercept[:, o]
        out.append(
            {
                "outcome": outcome.id,
                "parameter": "hazard_intercept",
                "prior_mean": _r(prior.intercept_mean[o], 3),
                "prior_sd": _r(prior.intercept_sd[o], 3),
                "post_mean": _r(x.mean(), 3),
                "post_p05": _r(np.quantile(x, 0.05), 3),
                "post_p95": _r(np.quantile(x, 0.95), 3),
            }
        )
        for k, factor in enumerate(design.case.factors):
            effect = outcome.effects.get(factor.id)
            if effect is None:
                continue
            x = draws.hazard_effect[:, o, k]
            out.append(
                {
                    "outcome": outcome.id,
                    "parameter": f"effect of {factor.id} ({effect})",
                    "prior_mean": _r(prior.effect_mean[o, k], 3),
                    "prior_sd": _r(prior.effect_sd[o, k], 3),
                    "post_mean": _r(x.mean(), 3),
                    "post_p05": _r(np.quantile(x, 0.05), 3),
                    "post_p95": _r(np.quantile(x, 0.95), 3),
                }
            )
    return out


def _hazard_log_densities(design: Design, draws: Draws, o: int) -> tuple[np.ndarray, np.ndarray]:
    """Per draw, outcome ``o``'s hazard log prior (intercept and effects, as calibrated) and the
    log likelihood of its own record (the at-risk quarters, and its event if resolved)."""
    prior = hazard_prior(design.case)
    h0, beta = draws.hazard_intercept[:, o], draws.hazard_effect[:, o, :]
    on = prior.present[o] == 1
    log_prior = stats.norm.logpdf(h0, prior.intercept_mean[o], prior.intercept_sd[o]) + stats.norm.logpdf(
        beta[:, on], prior.effect_mean[o, on], prior.effect_sd[o, on]
    ).sum(axis=1)
    logit_h = h0[:, None] + np.einsum("dk,dkt->dt", beta, draws.factor_state)
    at_risk, event = design.outcome_at_risk[o], design.outcome_event[o]
    log_lik = (at_risk * (event * -np.logaddexp(0, -logit_h) + (1 - event) * -np.logaddexp(0, logit_h))).sum(axis=1)
    return log_prior, log_lik


def _psens(p: np.ndarray, log_prior: np.ndarray, log_lik: np.ndarray, chains: int) -> dict[str, float | None]:
    """ArviZ's power-scaling sensitivity of ``p`` to the prior and to the likelihood."""
    shape = (chains, -1)
    coords = {"chain": np.arange(chains), "draw": np.arange(p.size // chains)}

    def ds(name: str, x: np.ndarray) -> xr.Dataset:
        return xr.Dataset({name: (("chain", "draw"), x.reshape(shape))}, coords=coords)

    idata = az.InferenceData(
        posterior=ds("p", p), log_prior=ds("hazard", log_prior), log_likelihood=ds("outcome", log_lik)
    )
    out: dict[str, float | None] = {}
    for component in ("prior", "likelihood"):
        try:
            r = az.psens(idata, component=component, var_names=["p"])
            value = float(np.asarray(r["p"] if isinstance(r, xr.Dataset) else r))
            out[component] = _r(value, 4) if np.isfinite(value) else None
        except Exception:  # noqa: BLE001 - a diagnostic that fails is reported as missing
            out[component] = None
    return out


def elicitation_of(design: Design, draws: Draws, o: int, prob: dict[int, np.ndarray]) -> dict[str, Any]:
    """The elicited range, the prior-predictive and the posterior probability side by side, the
    power-scaling sensitivity of each horizon's probability and whether the data moved it."""
    record = hazard_prior(design.case).record()[o]
    log_prior, log_lik = _hazard_log_densities(design, draws, o)
    sens = {str(h): _psens(p, log_prior, log_lik, draws.chains) for h, p in prob.items()}
    posterior = {
        str(h): {"mean": _r(p.mean(), 5), "p05": _r(np.quantile(p, 0.05), 5), "p95": _r(np.quantile(p, 0.95), 5)}
        for h, p in prob.items()
    }
    headline = "10" if "10" in posterior else str(max(prob))
    fid = design.case.factor_ids
    pulls = {
        fid[k]: float(draws.hazard_effect[:, o, k].mean() * draws.factor_state[:, k, design.grid.as_of_cell].mean())
        for k in range(len(fid))
        if hazard_prior(design.case).present[o, k]
    }
    return {
        "elicited": record["elicited"],
        "prior": {
            "intercept_mean": record["intercept_mean"],
            "intercept_sd": record["intercept_sd"],
            "effects": record["effects"],
            "fits": record["fits"],
        },
        "prior_predictive": record["prior_predictive"],
        "posterior": posterior,
        "sensitivity": sens,
        "headline_years": int(headline),
        "driven_by_prior": driven_by_prior(sens.get(headline, {})),
        "moved": moved_line(record, posterior, headline, pulls),
    }
