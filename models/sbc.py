"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari and Gelman 2018) of the
production fit: nutpie with the fused log density, at the settings of a :class:`FitSettings`.

One replication:

1. **Truth from the model's own prior.** One draw of every parameter from the PyMC model of a
   small synthetic case (``pm.sample_prior_predictive``: persistences, innovations and so the
   factor states, loadings, intercepts, the families' parameters such as the count
   over-dispersion, hazard intercepts and effects). The model's likelihood terms are
   ``pm.Potential``s, which prior sampling leaves out, so the draw is from the prior alone.
2. **Data simulated from that draw** on the layout of a template design (:func:`sbc_design`): every
   row of every family gets a new value from the model's mixture likelihood (a genuine report
   with the row's probability ``w``, else a spurious one: ``Family.sample_report``), on the
   design's scale, with its spurious-report log density recomputed; each outcome gets a new
   history (a Bernoulli per quarter at the true hazard until it happens). Only data values change,
   so every replication has the template's array shapes and is fitted by one compiled model
   (``models.fit.compiled_for``; the benchmark reports the number of compiles).
3. **The production fit** (``models.fit.sample``) of the design holding those values.
4. **Ranks**: for each quantity, the number of the :data:`RANK_DRAWS` draws (evenly thinned through
   the chains, ``Draws.thinned``) below the truth, ties split at random. When the fit computes the
   exact posterior, the rank is uniform on ``0..RANK_DRAWS``.

**The template's constants are held fixed.** A design built from data centres some priors on the
data (a count intercept's prior is centred on the indicator's log mean rate; continuous values are
standardised by their mean and sd; ``Design.constants``). SBC needs one prior for the truth and
the fit, so the simulated values go into the template design's arrays and its constants are kept:
the study checks the model and its sampler given those constants, not the empirical centring.

**Quantities** (:func:`quantities`): each factor's persistence; its state in the first quarter,
the middle one and the as-of quarter (the state forecasts start from); every loading; each count
indicator's dispersion ``alpha``; each outcome's hazard intercept and its probability of
happening within a year of the as-of quarter. That probability depends on the future factor path,
so it is estimated by the forecasts' own Monte Carlo (``models.predictive.outcome_probability_draws``,
:data:`PROBABILITY_PATHS` paths) for the truth and for each posterior draw alike, with independent
paths: the truth's estimate and the draws' are then exchangeable, and its rank is uniform too.

**Tests** on the ranks of one quantity over the replications (:func:`rank_summary`): a χ² test of
the histogram in :data:`RANK_BINS` bins, each bin's binomial band (the central range of its count
for uniform ranks, drawn on the histograms), and the simultaneous ECDF band (Säilynoja, Bürkner and
Vehtari 2022, computed by ``arviz.stats.ecdf_utils.ecdf_confidence_band``): the ECDF of the ranks
stays inside it everywhere with the band's probability when the ranks are uniform. Draws are
thinned to :data:`RANK_DRAWS`; Talts et al. ask for near-independent draws, so each replication
records the bulk ESS of every quantity and the summary says how often it fell below that number.

Pure functions: no database, no dashboard. PyMC and nutpie are imported where a fit needs them,
so the rank statistics can be used without them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np

from models.version import MODEL_VERSION

#: Posterior draws each rank is taken among (so ranks are 0..RANK_DRAWS, RANK_DRAWS + 1 values).
RANK_DRAWS = 99
#: Bins of a rank histogram: RANK_DRAWS + 1 divisible by it, so every bin holds as many ranks.
RANK_BINS = 10
#: The probability of the per-bin binomial band and of the simultaneous ECDF band.
BAND_PROB = 0.99
#: Future factor paths per draw (and for the truth) behind the one-year outcome probability.
PROBABILITY_PATHS = 200
#: The synthetic case: indicator kinds (models.simulate), two factors, two outcomes, 24 quarters.
SBC_KINDS = ("count_events", "binary", "proportion", "ordinal", "count_total", "continuous")
SBC_FACTORS = 2
SBC_OUTCOMES = 2
SBC_START = date(2010, 1, 1)
SBC_AS_OF = date(2015, 12, 31)
#: Short chains: 2 x (300 tuning + 300 draws), thinned to RANK_DRAWS for the ranks.
SBC_FIT = {"draws": 300, "tune": 300, "chains": 2}
#: Where a study's result (ranks per quantity and their tests) is kept for the dashboard.
RESULT_FILE = "sbc.json"


# ---------------------------------------------------------------------------- the study's layout


def sbc_design(seed: int = 0) -> Any:
    """The template design every replication shares: a synthetic case with :data:`SBC_KINDS`
    indicators (three a factor), observations simulated once (``models.simulate``) for its row
    layout and constants only; the values are replaced in each replication."""
    from models.design import build_design
    from models.simulate import simulate_observations, synthetic_case

    case = synthetic_case(
        n_factors=SBC_FACTORS, n_indicators=len(SBC_KINDS), families=SBC_KINDS, start=SBC_START, n_outcomes=SBC_OUTCOMES
    )
    frame, _ = simulate_observations(case, as_of=SBC_AS_OF, seed=seed)
    return build_design(case, frame, as_of=SBC_AS_OF)


def prior_truths(design: Any, n: int, seed: int) -> list[Any]:
    """``n`` independent draws from the model's prior (each an ``xarray.Dataset`` of one draw)."""
    import pymc as pm

    from models.model import build_model

    with build_model(design):
        prior = pm.sample_prior_predictive(draws=n, random_seed=seed).prior
    return [prior.isel(draw=[r]) for r in range(n)]


def draws_from(design: Any, dataset: Any) -> Any:
    """A :class:`models.forecast.Draws` of a posterior-like dataset (chain, draw, ...)."""
    import arviz as az

    from models.forecast import draws_of

    return draws_of(design, az.InferenceData(posterior=dataset))


def simulate_design(design: Any, truth: Any, rng: np.random.Generator) -> Any:
    """``design`` with every data value replaced by one drawn from the model given ``truth`` (a
    one-draw :class:`models.forecast.Draws`), its constants and row layout kept."""
    from models.families import FAMILIES

    eta = truth.eta()[0]  # (T, I)
    families = {}
    one = np.zeros(1, dtype=int)
    for fam in FAMILIES:
        rows = design.families[fam.name]
        y, lp_spurious = rows.y.copy(), rows.lp_spurious.copy()
        for j in range(rows.n_rows):
            local, weights = int(rows.local[j]), rows.weights[j]
            genuine = rng.random(1) < np.exp(rows.log_w[j])
            cells_eta = eta[rows.cells[j], rows.indicator[j]][None, :]
            value = fam.sample_report(
                design.constants, truth, one, local, weights, cells_eta, genuine, rng, design.priors
            )
            y[j] = fam.standardise(float(fam.clip_values(value)[0]), design.constants, local)
            lp_spurious[j] = fam.spurious(y[j], float(weights.sum()), local, design.constants, design.priors)
        families[fam.name] = dataclasses.replace(rows, y=y, lp_spurious=lp_spurious)
    logit = truth.hazard_intercept[0][:, None] + truth.hazard_effect[0] @ truth.factor_state[0]  # (O, T)
    at_risk = np.zeros_like(design.outcome_at_risk)
    event = np.zeros_like(design.outcome_event)
    for o in range(at_risk.shape[0]):
        for t in np.flatnonzero(design.outcome_at_risk[o]):
            at_risk[o, t] = 1.0
            if rng.random() < 1.0 / (1.0 + np.exp(-logit[o, t])):
                event[o, t] = 1.0
                break
    return dataclasses.replace(
        design, families=families, outcome_at_risk=at_risk, outcome_event=event, data_hash="", rows=design.rows[:0]
    )


# ---------------------------------------------------------------------------- quantities and ranks


def quantities(design: Any, draws: Any, *, seed: int) -> dict[str, np.ndarray]:
    """Every quantity the study ranks, by name: ``(D,)`` values from ``draws`` (a ``Draws``)."""
    from models.predictive import outcome_probability_draws

    out: dict[str, np.ndarray] = {}
    a = design.grid.as_of_cell
    labels = design.grid.labels
    for k, fac in enumerate(design.factor_ids):
        out[f"persistence {fac}"] = draws.persistence[:, k]
    for k, fac in enumerate(design.factor_ids):
        for t in (0, a // 2, a):
            out[f"factor state {fac} {labels[t]}"] = draws.factor_state[:, k, t]
    factor_index = {fac: k for k, fac in enumerate(design.factor_ids)}
    for i, ind in enumerate(design.case.indicators):
        for fac in ind.loadings:
            out[f"loading {ind.id}/{fac}"] = draws.loading[:, i, factor_index[fac]]
    for local, ind in enumerate(design.family_indicators.get("count", [])):
        out[f"count dispersion {ind}"] = draws.params["count_alpha"][:, local]
    for o, oc in enumerate(design.outcome_ids):
        out[f"hazard intercept {oc}"] = draws.hazard_intercept[:, o]
    p = outcome_probability_draws(design, draws, years=1, paths=PROBABILITY_PATHS, seed=seed)
    for o, oc in enumerate(design.outcome_ids):
        out[f"P(1y) {oc}"] = p[:, o]
    return out


def group_of(name: str) -> str:
    """The group a quantity's name belongs to (its words before the indicator, factor or outcome)."""
    for group in ("persistence", "factor state", "loading", "count dispersion", "hazard intercept", "P(1y)"):
        if name.startswith(group):
            return group
    return name


def rank_of(truth: float, draws: np.ndarray, rng: np.random.Generator) -> int:
    """How many of ``draws`` lie below ``truth``, ties split uniformly at random (so a discrete or
    tied quantity still has uniform ranks under calibration)."""
    below = int(np.sum(draws < truth))
    ties = int(np.sum(draws == truth))
    return below + int(rng.integers(ties + 1))


def convergence(values: np.ndarray, chains: int) -> tuple[float, float]:
    """Bulk ESS and rank-normalised R-hat of one quantity's draws (chains concatenated, equal
    lengths)."""
    import arviz as az

    by_chain = values.reshape(chains, -1)
    return float(az.ess(by_chain, method="bulk")), float(az.rhat(by_chain))


def replicate(index: int, truth_dataset: Any, *, settings: dict[str, Any], template_seed: int = 0) -> dict[str, Any]:
    """One replication: simulate from the truth, fit with the production path, rank every quantity.

    ``settings`` are :class:`models.settings.FitSettings` fields (the seed is offset by ``index``).
    Returns the ranks by quantity with the fit's record: each quantity's bulk ESS, the largest
    R-hat, the divergences, the density sampled with, the outcome events simulated, the seconds,
    and the process's id and number of compiles so far.
    """
    import time

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from models import fit
    from models.forecast import draws_of
    from models.settings import FitSettings

    t0 = time.monotonic()
    design = _template(template_seed)
    rng = np.random.default_rng([template_seed, index])
    truth = draws_from(design, truth_dataset)
    data = simulate_design(design, truth, rng)
    run = FitSettings(**(settings | {"seed": settings.get("seed", 1) + index}))
    idata = fit.sample(data, run)
    posterior = draws_of(data, idata)
    thinned = posterior.thinned(RANK_DRAWS)
    seeds = rng.integers(2**31, size=2)
    true_q = quantities(data, truth, seed=int(seeds[0]))
    post_q = quantities(data, thinned, seed=int(seeds[1]))
    full_q = {k: v for k, v in quantities(data, posterior, seed=int(seeds[1])).items() if not k.startswith("P(1y)")}
    ranks = {k: rank_of(float(true_q[k][0]), post_q[k], rng) for k in true_q}
    checks = {k: convergence(v, posterior.chains) for k, v in full_q.items()}
    diverging = idata.sample_stats.get("diverging")
    return {
        "index": index,
        "ranks": ranks,
        "ess": {k: round(e, 1) for k, (e, _) in checks.items()},
        "rhat_max": round(max(r for _, r in checks.values()), 4),
        "divergences": int(diverging.values.sum()) if diverging is not None else 0,
        "density": str(idata.posterior.attrs.get("density", run.sampler)),
        "events": int(data.outcome_event.sum()),
        "seconds": round(time.monotonic() - t0, 2),
        "compiles": fit.COMPILE_COUNT["n"],
        "pid": os.getpid(),
    }


_TEMPLATES: dict[int, Any] = {}


def _template(seed: int) -> Any:
    """The template design, built once per process (a worker builds it for its first replication)."""
    if seed not in _TEMPLATES:
        _TEMPLATES[seed] = sbc_design(seed)
    return _TEMPLATES[seed]


def run_study(
    replications: int,
    *,
    settings: dict[str, Any] | None = None,
    jobs: int = 1,
    seed: int = 1,
    template_seed: int = 0,
    progress: Any = None,
) -> dict[str, Any]:
    """Draw ``replications`` truths from the prior, fit each (``jobs`` processes at once) and
    summarise: the result document :func:`summarise` makes, with the settings and the compiles."""
    import time
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    settings = {**SBC_FIT, "seed": 7, "sampler": "nutpie", **(settings or {})}
    t0 = time.monotonic()
    design = _template(template_seed)
    truths = prior_truths(design, replications, seed)
    records: list[dict[str, Any]] = []
    kwargs = {"settings": settings, "template_seed": template_seed}
    if jobs <= 1:
        for r, truth in enumerate(truths):
            records.append(replicate(r, truth, **kwargs))
            if progress:
                progress(r + 1, replications)
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(replicate, r, truth, **kwargs) for r, truth in enumerate(truths)]
            for r, future in enumerate(futures):
                records.append(future.result())
                if progress:
                    progress(r + 1, replications)
    result = summarise(records)
    result["settings"] = settings
    result["seed"] = seed
    result["model_version"] = MODEL_VERSION
    result["seconds"] = round(time.monotonic() - t0, 1)
    result["case"] = {
        "kinds": list(SBC_KINDS),
        "factors": SBC_FACTORS,
        "outcomes": SBC_OUTCOMES,
        "quarters": design.grid.as_of_cell + 1,
    }
    return result


# ---------------------------------------------------------------------------- rank statistics


def rank_histogram(ranks: Sequence[int], draws: int = RANK_DRAWS, bins: int = RANK_BINS) -> np.ndarray:
    """Counts of ``ranks`` (0..draws) in ``bins`` equal bins."""
    return np.histogram(np.asarray(ranks), bins=bins, range=(0, draws + 1))[0]


def chi2_p(counts: np.ndarray) -> float:
    """p-value of the χ² test of ``counts`` against equal expected counts."""
    from scipy import stats

    return float(stats.chisquare(counts).pvalue)


def bin_band(n: int, bins: int = RANK_BINS, prob: float = BAND_PROB) -> tuple[int, int]:
    """The central ``prob`` range of one bin's count out of ``n`` uniform ranks (Binomial(n, 1/bins))."""
    from models.backtest import binomial_band

    lo, hi = binomial_band(1.0 / bins, n, level=prob)
    return round(lo * n), round(hi * n)


def ecdf_band(n: int, draws: int = RANK_DRAWS, prob: float = BAND_PROB) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The simultaneous ``prob`` band of the ECDF of ``n`` uniform ranks on 0..draws.

    Evaluated at ``u_k = (k + 1) / (draws + 1)``, k = 0..draws-1, where the ranks' ECDF is
    ``P(rank <= k)`` and equals ``u_k`` under uniformity: the same law as a continuous uniform
    sample's ECDF at those points, so ArviZ's band for the uniform applies as it is.
    Returns ``(u, lower, upper)``.
    """
    import warnings

    from arviz.stats.ecdf_utils import ecdf_confidence_band

    u = np.arange(1, draws + 1) / (draws + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lower, upper = ecdf_confidence_band(n, u, u, prob=prob, method="optimized")
    return u, np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)


def ecdf_of(ranks: Sequence[int], draws: int = RANK_DRAWS) -> np.ndarray:
    """The ECDF of ``ranks`` at k = 0..draws-1: the fraction of ranks at most k."""
    r = np.asarray(ranks)
    return np.array([np.mean(r <= k) for k in range(draws)])


def rank_summary(
    ranks: Sequence[int], *, draws: int = RANK_DRAWS, bins: int = RANK_BINS, prob: float = BAND_PROB
) -> dict[str, Any]:
    """The tests of one quantity's ranks: histogram, χ² p-value, per-bin band, ECDF in band."""
    n = len(ranks)
    counts = rank_histogram(ranks, draws, bins)
    u, lower, upper = ecdf_band(n, draws, prob)
    ecdf = ecdf_of(ranks, draws)
    outside = (ecdf < lower - 1e-12) | (ecdf > upper + 1e-12)
    return {
        "n": n,
        "histogram": [int(c) for c in counts],
        "chi2_p": round(chi2_p(counts), 5),
        "bin_band": list(bin_band(n, bins, prob)),
        "ecdf_in_band": bool(not outside.any()),
        "ecdf_worst": round(float(np.max(np.abs(ecdf - u))), 4),
    }


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The study's result document: per quantity its ranks, tests and ESS; the fits' records."""
    names = list(records[0]["ranks"]) if records else []
    per: dict[str, Any] = {}
    for name in names:
        ranks = [int(r["ranks"][name]) for r in records]
        entry = {"group": group_of(name), "ranks": ranks, **rank_summary(ranks)}
        ess = [r["ess"][name] for r in records if name in r["ess"]]
        if ess:
            entry["ess_median"] = round(float(np.median(ess)), 1)
            entry["ess_below_draws"] = int(np.sum(np.asarray(ess) < RANK_DRAWS))
        per[name] = entry
    processes = {r["pid"]: r["compiles"] for r in records}
    fits = [
        {k: r[k] for k in ("index", "divergences", "rhat_max", "seconds", "events")}
        | {"ess_min": min(r["ess"].values(), default=None)}
        for r in records
    ]
    return {
        "method": "simulation-based calibration (Talts et al. 2018)",
        "replications": len(records),
        "rank_draws": RANK_DRAWS,
        "bins": RANK_BINS,
        "band_prob": BAND_PROB,
        "quantities": per,
        "compiles": int(sum(processes.values())),
        "processes": len(processes),
        "divergences": int(sum(r["divergences"] for r in records)),
        "fits_with_divergences": int(sum(r["divergences"] > 0 for r in records)),
        "densities": sorted({r["density"] for r in records}),
        "fit_seconds_median": round(float(np.median([r["seconds"] for r in records])), 2) if records else None,
        "outcome_events": int(sum(r["events"] for r in records)),
        "fits_rhat_over_1_01": int(sum(r["rhat_max"] > 1.01 for r in records)),
        "fits": fits,
    }


__all__ = [
    "BAND_PROB",
    "RANK_BINS",
    "RANK_DRAWS",
    "RESULT_FILE",
    "bin_band",
    "chi2_p",
    "ecdf_band",
    "ecdf_of",
    "quantities",
    "rank_histogram",
    "rank_of",
    "rank_summary",
    "replicate",
    "run_study",
    "sbc_design",
    "simulate_design",
    "summarise",
]
