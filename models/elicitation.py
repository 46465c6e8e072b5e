"""The outcome hazards' prior, built from what the case file elicits.

The case states, per outcome, the annual probability as a 90% range (``base_rate.range``, or the
documented default around ``base_rate.annual``) and, per outcome×factor, the odds ratio per factor
sd as a 90% range (``effect_sizes``, or the sign's default). The hazard prior is::

    hazard_effect[o, k]  ~ Normal(m[o, k], s[o, k])   on the log odds ratio per factor sd, the
                           maximum-entropy Normal with 90% of its mass on the stated range (PreliZ)
    hazard_intercept[o]  ~ Normal(mu[o], sd[o])       calibrated below

The intercept is calibrated so that the *prior-predictive* 1-year probability of the outcome,
with the factors varying as the model lets them (independent stationary AR(1) paths with unit
variance, persistence ~ the model's Beta prior, ``persistence_alpha`` and ``persistence_beta`` of
the case's :class:`models.priors.PriorConfig`; a case's cross effects are left out: they keep each
factor's variance at one, so they change the calibration little) and the effects drawn from their
prior, has its
5% and 95% quantiles at the elicited range's ends (within :data:`TOLERANCE` on the log-odds
scale). When the effects' spread alone is wider than the range, the intercept sd sits at
:data:`INTERCEPT_SD_FLOOR`, its mean centres the range, and the calibration says so (``fits`` is
False) instead of pretending. Deterministic: a fixed-seed Monte Carlo of :data:`N_DRAWS` prior
draws, vectorised, run once per case and code version and kept on disk (:func:`hazard_prior`); the
constants are part of each run's record (``forecast.json``, ``elicitation``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import special

from indicators.case import Case
from models import kernel_cache
from models.priors import DEFAULT_PRIORS, priors_for

N_DRAWS = 4000
SEED = 18_2026
QUARTERS = 40  # the 10-year horizon
#: How far (log odds) each end of the prior-predictive 1-year 90% interval may sit from the
#: elicited end: 0.1 is a 10% change in the odds of a rare event.
TOLERANCE = 0.1
INTERCEPT_SD_FLOOR = 0.05
#: Bisection steps for the intercept's mean (a bracket 20 log-odds wider than the range: to
#: within 1e-6) and for its sd (between the floor and 5: to within 2e-6), far inside the
#: calibration's tolerance and the Monte Carlo quantiles' own noise (about 0.05 log odds at
#: N_DRAWS draws); each step is one prior-predictive quantile pair.
MEAN_STEPS = 25
SD_STEPS = 22
MASS = 0.9  # the elicited ranges are 90% intervals


def _preliz():
    """PreliZ, imported on first use. PreliZ 0.24 (the last release for Python 3.11) registers its
    plot styles through ``matplotlib.style.core``, which matplotlib 3.11 folded into
    ``matplotlib.style`` itself: alias it, and put back the ``savefig.bbox`` it sets globally so
    that importing it changes no figure elsewhere."""
    import matplotlib
    import matplotlib.style

    if not hasattr(matplotlib.style, "core"):
        matplotlib.style.core = matplotlib.style
    bbox = matplotlib.rcParams["savefig.bbox"]
    import preliz

    matplotlib.rcParams["savefig.bbox"] = bbox
    return preliz


def _maxent_normal(low: float, high: float) -> tuple[float, float]:
    """PreliZ's maximum-entropy Normal with ``MASS`` of its probability on [low, high]."""
    pz = _preliz()
    dist = pz.Normal()
    pz.maxent(dist, low, high, MASS, plot=False)
    return float(dist.mu), float(dist.sigma)


@dataclass(frozen=True)
class HazardPrior:
    """The hazard prior's constants, (O,) and (O, K) arrays in the case's outcome and factor order."""

    intercept_mean: np.ndarray
    intercept_sd: np.ndarray
    effect_mean: np.ndarray  # log odds ratio per factor sd; 0 where the outcome names no effect
    effect_sd: np.ndarray
    present: np.ndarray  # 1 where the outcome names an effect of the factor
    summary: tuple[dict, ...]  # per outcome: the elicited ranges and the prior-predictive check

    def record(self) -> list[dict]:
        """The constants and the check, per outcome, for the run's record."""
        return [dict(s) for s in self.summary]


def _factor_paths(n_factors: int, rng: np.random.Generator, persistence: tuple[float, float]) -> np.ndarray:
    """(N, K, QUARTERS) stationary unit-variance AR(1) paths, persistence drawn from its Beta prior."""
    phi = rng.beta(*persistence, size=(N_DRAWS, n_factors))
    e = rng.standard_normal((N_DRAWS, n_factors, QUARTERS))
    f = np.empty_like(e)
    f[:, :, 0] = e[:, :, 0]
    scale = np.sqrt(1.0 - phi**2)
    for t in range(1, QUARTERS):
        f[:, :, t] = phi * f[:, :, t - 1] + scale * e[:, :, t]
    return f


def _probabilities(logit_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-year and 10-year probabilities of at least one event from (N, QUARTERS) logit hazards."""
    log_survive = np.cumsum(special.log_expit(-logit_h), axis=1)
    return -np.expm1(log_survive[:, 3]), -np.expm1(log_survive[:, -1])


def prior_predictive(
    intercept_mean,
    intercept_sd,
    effect_mean,
    effect_sd,
    n_factors: int,
    seed: int = SEED,
    persistence: tuple[float, float] = DEFAULT_PRIORS.persistence,
):
    """Draws of the 1-year and 10-year probability under a hazard prior, for one outcome.

    ``effect_*`` are (K,) arrays (sd 0 and mean 0 where absent; a callable ``effect_mean`` draws
    the effects itself, for priors that are not Normal)."""
    rng = np.random.default_rng(seed)
    f = _factor_paths(n_factors, rng, persistence)
    z = rng.standard_normal(N_DRAWS)
    if callable(effect_mean):
        beta = effect_mean(rng)
    else:
        beta = effect_mean + effect_sd * rng.standard_normal((N_DRAWS, n_factors))
    linear = np.einsum("nk,nkt->nt", beta, f)
    return _probabilities(intercept_mean + intercept_sd * z[:, None] + linear)


def _calibrate(linear: np.ndarray, z: np.ndarray, low: float, high: float) -> tuple[float, float, bool]:
    """(mu, sd, fits): the intercept prior whose 1-year 90% interval is [low, high]."""
    target_lo, target_hi = special.logit(low), special.logit(high)

    def ends(mu: float, sd: float) -> tuple[float, float]:
        p1 = -np.expm1(np.sum(special.log_expit(-(mu + sd * z[:, None] + linear)), axis=1))
        q = np.quantile(p1, [0.05, 0.95])
        return float(special.logit(q[0])), float(special.logit(q[1]))

    def centred(sd: float) -> tuple[float, float]:
        # The interval's centre (on log odds) rises with mu: bisect for the elicited centre.
        a, b = target_lo - 10.0, target_hi + 10.0
        for _ in range(MEAN_STEPS):
            mid = 0.5 * (a + b)
            lo, hi = ends(mid, sd)
            a, b = (mid, b) if lo + hi < target_lo + target_hi else (a, mid)
        mu = 0.5 * (a + b)
        lo, hi = ends(mu, sd)
        return mu, hi - lo

    width = target_hi - target_lo
    mu, w = centred(INTERCEPT_SD_FLOOR)
    if w >= width:  # the effects alone spread it wider than the range
        return mu, INTERCEPT_SD_FLOOR, w - width <= 2 * TOLERANCE
    a, b = INTERCEPT_SD_FLOOR, 5.0
    for _ in range(SD_STEPS):  # the width rises with the intercept's sd
        mid = 0.5 * (a + b)
        a, b = (mid, b) if centred(mid)[1] < width else (a, mid)
    sd = 0.5 * (a + b)
    return centred(sd)[0], sd, True


def _summary_of(p1: np.ndarray, p10: np.ndarray) -> dict:
    def stats(p):
        q = np.quantile(p, [0.05, 0.5, 0.95])
        return {
            "mean": round(float(p.mean()), 5),
            "p05": round(float(q[0]), 5),
            "p50": round(float(q[1]), 5),
            "p95": round(float(q[2]), 5),
        }

    return {"1": stats(p1), "10": stats(p10)}


def _build(case: Case) -> HazardPrior:
    fid = case.factor_ids
    O, K = len(case.outcomes), len(fid)
    present = np.zeros((O, K))
    e_mean, e_sd = np.zeros((O, K)), np.zeros((O, K))
    i_mean, i_sd = np.zeros(O), np.zeros(O)
    summary = []
    persistence = priors_for(case).persistence
    for o, outcome in enumerate(case.outcomes):
        effects = []
        for f in outcome.effects:
            k = fid.index(f)
            low, high = outcome.effect_odds_ratio(f)
            present[o, k] = 1.0
            e_mean[o, k], e_sd[o, k] = _maxent_normal(float(np.log(low)), float(np.log(high)))
            effects.append(
                {
                    "factor": f,
                    "odds_ratio": [low, high],
                    "stated": f in outcome.effect_sizes,
                    "rationale": outcome.effect_sizes[f].rationale
                    if f in outcome.effect_sizes
                    else f"default range for '{outcome.effects[f]}'",
                    "log_or_mean": round(e_mean[o, k], 4),
                    "log_or_sd": round(e_sd[o, k], 4),
                }
            )
        rng = np.random.default_rng(SEED + o)
        f_paths = _factor_paths(K, rng, persistence)
        z = rng.standard_normal(N_DRAWS)
        beta = e_mean[o] + e_sd[o] * rng.standard_normal((N_DRAWS, K))
        linear = np.einsum("nk,nkt->nt", beta, f_paths)
        low, high = outcome.base_rate.annual_range
        mu, sd, fits = _calibrate(linear[:, :4], z, low, high)
        i_mean[o], i_sd[o] = mu, sd
        p1, p10 = _probabilities(mu + sd * z[:, None] + linear)
        check = _summary_of(p1, p10)
        summary.append(
            {
                "outcome": outcome.id,
                "elicited": {
                    "annual": outcome.base_rate.annual,
                    "range": [low, high],
                    "stated": outcome.base_rate.range is not None,
                    "range_10y": [round(1 - (1 - low) ** 10, 5), round(1 - (1 - high) ** 10, 5)],
                },
                "effects": effects,
                "intercept_mean": round(mu, 4),
                "intercept_sd": round(sd, 4),
                "fits": bool(fits),
                "prior_predictive": check,
            }
        )
    return HazardPrior(
        intercept_mean=i_mean,
        intercept_sd=i_sd,
        effect_mean=e_mean,
        effect_sd=e_sd,
        present=present,
        summary=tuple(summary),
    )


_CACHE: dict[str, HazardPrior] = {}
#: Arrays of :class:`HazardPrior`, by field name (the rest is ``summary``).
_ARRAYS = ("intercept_mean", "intercept_sd", "effect_mean", "effect_sd", "present")


def _stored(prior: HazardPrior) -> dict:
    return {**{name: getattr(prior, name).tolist() for name in _ARRAYS}, "summary": list(prior.summary)}


def _library_versions() -> str:
    from importlib import metadata

    return " ".join(f"{name} {metadata.version(name)}" for name in ("numpy", "scipy", "preliz"))


def hazard_prior(case: Case) -> HazardPrior:
    """The case's calibrated hazard prior: computed once per case and code version (a few
    seconds), then read from the on-disk cache (:func:`models.kernel_cache.stored_json`) by every
    later process, and kept in memory for this one."""
    key = json.dumps(
        [
            [o.model_dump(mode="json", exclude={"resolved", "question", "resolution_criteria"}) for o in case.outcomes],
            case.factor_ids,
            priors_for(case).persistence,
        ],
        sort_keys=True,
    )
    if key not in _CACHE:
        stored = kernel_cache.stored_json(
            "hazard_prior",
            f"{key} {_library_versions()}",
            [Path(__file__)],
            lambda: _stored(_build(case)),
        )
        _CACHE[key] = HazardPrior(
            **{name: np.asarray(stored[name], dtype=float) for name in _ARRAYS},
            summary=tuple(stored["summary"]),
        )
    return _CACHE[key]


#: Power-scaling sensitivity (ArviZ's psens) from which a probability counts as sensitive: the
#: threshold the power-scaling paper (Kallioinen et al. 2023) and ArviZ's documentation use.
SENSITIVITY_THRESHOLD = 0.05
#: The posterior moved less than this factor from the prior-predictive mean: "barely moved".
BARELY_MOVED = 1.25


def driven_by_prior(sensitivity: dict) -> bool:
    """A forecast is driven by the prior when it is sensitive to power-scaling the prior and not
    to power-scaling the likelihood (the data hardly inform it)."""
    prior, lik = sensitivity.get("prior"), sensitivity.get("likelihood")
    if prior is None or lik is None:
        return False
    return prior >= SENSITIVITY_THRESHOLD and lik < SENSITIVITY_THRESHOLD


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%" if p >= 0.001 else f"{100 * p:.2f}%"


def moved_line(record: dict, posterior: dict, years: str, pulls: dict[str, float]) -> str:
    """One plain sentence: how far the data moved the headline probability, and whether it left
    the elicited range (naming the factor states that pulled it most)."""
    prior_mean = record["prior_predictive"].get(years, {}).get("mean")
    post = posterior[years]["mean"]
    if prior_mean is None or post is None:
        return f"The {years}-year probability is {_pct(post or 0)}; no prior-predictive value at that horizon."
    ratio = post / prior_mean if prior_mean > 0 else float("inf")
    if 1 / BARELY_MOVED <= ratio <= BARELY_MOVED:
        text = f"The data barely moved the {years}-year probability: {_pct(prior_mean)} from the elicitation alone, {_pct(post)} with the data."
    else:
        way = "raised" if ratio > 1 else "lowered"
        text = (
            f"The data {way} the {years}-year probability from {_pct(prior_mean)} (elicitation alone) to "
            f"{_pct(post)}, {ratio:.1f} times the prior."
            if ratio > 1
            else f"The data {way} the {years}-year probability from {_pct(prior_mean)} (elicitation alone) to "
            f"{_pct(post)}, {1 / ratio:.1f} times lower."
        )
    if years == "10":
        low, high = record["elicited"]["range_10y"]
    elif years == "1":
        low, high = record["elicited"]["range"]
    else:
        return text
    if low <= post <= high:
        return text + f" It is inside the elicited range ({_pct(low)}-{_pct(high)})."
    ranked = sorted(pulls.items(), key=lambda kv: -abs(kv[1]) if (kv[1] > 0) == (post > high) else 0)
    named = [
        f"{f} ({'raising' if v > 0 else 'lowering'} the log odds by {abs(v):.2f})"
        for f, v in ranked[:2]
        if (v > 0) == (post > high)
    ]
    why = (
        ("; moved out by the current factor states: " + ", ".join(named))
        if named
        else "; moved out by the outcome's own record (its quarters at risk without the event)"
    )
    return text + f" It is outside the elicited range ({_pct(low)}-{_pct(high)}){why}."
