"""Scoring a rolling-origin backtest: proper scores, coverage, PIT, naive baselines and skill.

Pure functions on NumPy arrays and plain dicts: no database, no sampler. The predictive draws
come from :mod:`models.predictive`; :mod:`dashboard.services.backtests` runs the origins and saves the
document :func:`summarise` builds.

Definitions (all per held-out row, i.e. per observation or per events cell of the scored window)

CRPS
    From ``S`` predictive draws ``x`` of a row with value ``y``, the sorted-sample (probability
    weighted moment) form of the energy estimator::

        CRPS = mean_i |x_i - y| - (1 / S^2) * sum_i (2 i - S - 1) x_(i)

    which is ``E|X - y| - E|X - X'| / 2`` with the expectations taken over the empirical
    distribution of the draws. A point forecast (``S = 1``) scores its absolute error. Lower is
    better; it has the unit of the indicator.
Interval coverage
    The central ``level`` interval ``[q_(1-level)/2, q_(1+level)/2]`` of the draws, with quantiles
    of the empirical distribution (``inverted_cdf``, the smallest draw whose ECDF reaches the
    level), contains ``y`` (ends included). For discrete indicators an inclusive interval covers
    at least its level when the forecast is calibrated, so count coverage tends to sit above it.
    The *randomised* coverage counts a row as covered when its randomised PIT lies in
    ``[(1-level)/2, (1+level)/2]``: exactly ``level`` in expectation for a calibrated forecast,
    discrete or not.
PIT
    Randomised probability integral transform ``F(y-) + V (F(y) - F(y-))``, ``V ~ U(0, 1)``, from
    the ECDF of the draws: uniform on (0, 1) for a calibrated forecast, counts included
    (Czado, Gneiting and Held 2009).
Baselines (fitted on exactly the information the model had at the origin)
    ``persistence``: counts follow a Poisson law at the last year's rate (events per unit of
    exposure over the four quarters before the origin; for a fiscal-year total, its last value);
    other families repeat the last recorded value (a point mass).
    ``climatology``: counts follow a negative binomial with the historical mean rate and the
    historical over-dispersion (method of moments, Poisson when under-dispersed); other families
    draw from the empirical distribution of every value recorded so far.
Skill
    ``1 - CRPS_model / CRPS_baseline`` (positive: the model beats the baseline); undefined
    (``None``) when the baseline scored exactly zero. Across indicators of very different scales
    (hundreds of scrambles a year, a summit or two) there are three summaries, each against
    persistence and against climatology, over every held-out row and per family:

    - *mean of ratios* (:func:`mean_of_ratios_skill`; the count target's figure): each indicator's
      mean CRPS divided by its climatology CRPS, averaged over the indicators, for the model and
      for persistence; skill ``1 - model / persistence`` of those averages (against climatology
      ``1 - model``). Every indicator weighs the same, so one indicator with a tiny climatology
      CRPS can dominate it.
    - *pooled* (:func:`pooled_skill`): ``1 - sum(CRPS_model) / sum(CRPS_baseline)`` over the rows.
      Every row is one term, so a small-scale indicator cannot dominate it; large-scale series
      weigh most.
    - *median* (:func:`median_skill`): the median over indicators of each one's skill, with the
      number of indicators; one outlier indicator cannot move it.
Outcomes
    The probability, at each origin, that an outcome not yet resolved resolves within one year,
    against whether it did: Brier score ``(p - y)^2`` and log score ``-log p(y)`` (natural log,
    lower is better; ``p`` clipped to ``[1e-9, 1 - 1e-9]``), with the case's elicited annual base
    rate as the reference forecast: skill against it per outcome and pooled over every outcome's
    forecasts (:func:`outcome_skill`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np

LEVELS = (0.5, 0.9)
PIT_BINS = 10
RELIABILITY_BINS = 10
LOG_SCORE_EPS = 1e-9
BASELINE_DRAWS = 4000
COVERAGE_90_TARGET = (0.80, 0.97)
#: Calibration bands are binomial: a rate is "within the band" if it lies inside the central
#: 95% of a binomial with the nominal probability and the number of trials (see :func:`binomial_band`).
BAND_LEVEL = 0.95


# ---------------------------------------------------------------------------- proper scores


def crps_samples(samples: np.ndarray, y: np.ndarray | float) -> np.ndarray:
    """CRPS of each row's predictive draws against its value (sorted-sample estimator).

    Parameters
    ----------
    samples
        ``(n, S)`` draws (or ``(S,)`` for one row).
    y
        ``(n,)`` observed values (or a scalar).
    """
    x = np.atleast_2d(np.asarray(samples, dtype=float))
    y = np.broadcast_to(np.asarray(y, dtype=float), (x.shape[0],))
    s = x.shape[1]
    xs = np.sort(x, axis=1)
    spread = ((2.0 * np.arange(1, s + 1) - s - 1.0) * xs).sum(axis=1) / s**2
    return np.abs(x - y[:, None]).mean(axis=1) - spread


def interval_bounds(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Ends of the central ``level`` interval of each row's draws, ``(n,)`` each."""
    x = np.atleast_2d(np.asarray(samples, dtype=float))
    lo = np.quantile(x, (1.0 - level) / 2.0, axis=1, method="inverted_cdf")
    hi = np.quantile(x, (1.0 + level) / 2.0, axis=1, method="inverted_cdf")
    return lo, hi


def covered(samples: np.ndarray, y: np.ndarray, level: float) -> np.ndarray:
    """Whether each value lies in its row's central ``level`` interval (ends included)."""
    lo, hi = interval_bounds(samples, level)
    y = np.asarray(y, dtype=float)
    return (lo <= y) & (y <= hi)


def pit_values(samples: np.ndarray, y: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Randomised PIT of each value under its row's draws (uniform if calibrated)."""
    x = np.atleast_2d(np.asarray(samples, dtype=float))
    y = np.asarray(y, dtype=float)[:, None]
    below = (x < y).mean(axis=1)
    at_most = (x <= y).mean(axis=1)
    return below + rng.random(x.shape[0]) * (at_most - below)


def brier(p: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
    return (np.asarray(p, dtype=float) - np.asarray(y, dtype=float)) ** 2


def log_score(p: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
    """``-log`` of the probability given to what happened (lower is better)."""
    p = np.clip(np.asarray(p, dtype=float), LOG_SCORE_EPS, 1.0 - LOG_SCORE_EPS)
    y = np.asarray(y, dtype=float)
    return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))


def skill(score: float | None, reference: float | None) -> float | None:
    """``1 - score / reference``; None when undefined."""
    if score is None or reference is None or not np.isfinite(score) or not np.isfinite(reference):
        return None
    if reference <= 0:
        return None
    return 1.0 - score / reference


def pit_histogram(pit: Sequence[float], bins: int = PIT_BINS) -> dict[str, list]:
    """Counts of PIT values in ``bins`` equal bins of [0, 1]."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts, _ = np.histogram(np.clip(np.asarray(pit, dtype=float), 0.0, 1.0), bins=edges)
    return {"edges": [round(float(e), 4) for e in edges], "counts": [int(c) for c in counts]}


def reliability_bins(p: Sequence[float], y: Sequence[float], bins: int = RELIABILITY_BINS) -> list[dict]:
    """Forecast probabilities grouped in ``bins`` equal bins: mean forecast and observed frequency.

    Empty bins are left out. ``observed`` is the fraction of the bin's forecasts whose event
    happened; a calibrated forecaster's points lie on the diagonal, within binomial noise
    (``band``: the central 95% of the observed frequency if the mean forecast were right).
    """
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        if not n:
            continue
        mean_p = float(p[sel].mean())
        lo, hi = binomial_band(mean_p, n)
        out.append(
            {
                "lo": round(float(edges[b]), 3),
                "hi": round(float(edges[b + 1]), 3),
                "n": n,
                "mean_forecast": round(mean_p, 4),
                "observed": round(float(y[sel].mean()), 4),
                "band": [round(lo, 4), round(hi, 4)],
            }
        )
    return out


def binomial_band(p: float, n: int, level: float = BAND_LEVEL) -> tuple[float, float]:
    """The central ``level`` range of the observed rate of ``n`` trials with probability ``p``."""
    from scipy import stats

    if n <= 0:
        return 0.0, 1.0
    lo = stats.binom.ppf((1 - level) / 2, n, p) / n
    hi = stats.binom.ppf((1 + level) / 2, n, p) / n
    return float(lo), float(hi)


# ---------------------------------------------------------------------------- baselines


def _last_year(values: np.ndarray, exposure: np.ndarray, ends: Sequence[date], origin: date) -> tuple[float, float]:
    """Total count and exposure of the rows ending in the year before ``origin`` (else the last row)."""
    try:
        start = origin.replace(year=origin.year - 1)
    except ValueError:  # 29 February
        start = origin.replace(year=origin.year - 1, day=28)
    recent = np.array([start < e <= origin for e in ends], dtype=bool)
    if not recent.any():
        recent = np.zeros(len(values), dtype=bool)
        recent[int(np.argmax([e.toordinal() for e in ends]))] = True
    return float(values[recent].sum()), float(exposure[recent].sum())


def count_persistence_samples(
    values: Sequence[float],
    exposure: Sequence[float],
    ends: Sequence[date],
    target_exposure: Sequence[float],
    *,
    origin: date,
    n: int = BASELINE_DRAWS,
    rng: np.random.Generator,
) -> np.ndarray:
    """Poisson draws at the last year's rate, scaled to each target row's exposure, ``(rows, n)``.

    ``exposure`` is each history row's length in grid cells (quarters); a fiscal-year total has
    exposure 4, a full quarter of an events indicator 1.
    """
    v, e = np.asarray(values, dtype=float), np.asarray(exposure, dtype=float)
    total, expo = _last_year(v, e, ends, origin)
    rate = total / expo if expo > 0 else 0.0
    mu = rate * np.asarray(target_exposure, dtype=float)
    return rng.poisson(np.broadcast_to(mu[:, None], (len(mu), n))).astype(float)


def count_climatology_params(values: Sequence[float], exposure: Sequence[float]) -> tuple[float, float]:
    """Historical mean rate per unit of exposure and the over-dispersion ``1/alpha`` (0: Poisson)."""
    v, e = np.asarray(values, dtype=float), np.asarray(exposure, dtype=float)
    keep = e > 0
    v, e = v[keep], e[keep]
    if not len(v) or e.sum() <= 0:
        return 0.0, 0.0
    rate = float(v.sum() / e.sum())
    mu = rate * e
    if rate <= 0 or len(v) < 2:
        return rate, 0.0
    inv_alpha = float((((v - mu) ** 2 - mu).sum()) / (mu**2).sum())
    return rate, max(inv_alpha, 0.0)


def count_climatology_samples(
    values: Sequence[float],
    exposure: Sequence[float],
    target_exposure: Sequence[float],
    *,
    n: int = BASELINE_DRAWS,
    rng: np.random.Generator,
) -> np.ndarray:
    """Negative-binomial draws with the historical rate and over-dispersion, ``(rows, n)``."""
    rate, inv_alpha = count_climatology_params(values, exposure)
    mu = np.broadcast_to((rate * np.asarray(target_exposure, dtype=float))[:, None], (len(target_exposure), n))
    if inv_alpha <= 0:
        return rng.poisson(mu).astype(float)
    alpha = 1.0 / inv_alpha
    return rng.negative_binomial(alpha, alpha / (alpha + np.maximum(mu, 1e-12))).astype(float)


def level_persistence_samples(values: Sequence[float], ends: Sequence[date], n_rows: int) -> np.ndarray:
    """The last recorded value as a point forecast for every target row, ``(rows, 1)``."""
    last = float(np.asarray(values, dtype=float)[int(np.argmax([e.toordinal() for e in ends]))])
    return np.full((n_rows, 1), last)


def level_climatology_samples(
    values: Sequence[float], n_rows: int, *, n: int = BASELINE_DRAWS, rng: np.random.Generator
) -> np.ndarray:
    """Draws from the empirical distribution of every value recorded so far, ``(rows, n)``."""
    v = np.asarray(values, dtype=float)
    return v[rng.integers(0, len(v), size=(n_rows, n))]


def baseline_samples(
    family: str,
    history: Mapping[str, Sequence[Any]],
    target_exposure: Sequence[float],
    *,
    origin: date,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Persistence and climatology draws for the target rows of one indicator.

    ``history`` holds the indicator's rows known at the origin: ``value``, ``exposure``, ``end``
    (dates). Returns ``(persistence, climatology)``, each ``(rows, draws)``.
    """
    values, exposure, ends = history["value"], history["exposure"], list(history["end"])
    n_rows = len(target_exposure)
    if family == "count":
        return (
            count_persistence_samples(values, exposure, ends, target_exposure, origin=origin, rng=rng),
            count_climatology_samples(values, exposure, target_exposure, rng=rng),
        )
    return level_persistence_samples(values, ends, n_rows), level_climatology_samples(values, n_rows, rng=rng)


# ---------------------------------------------------------------------------- one origin


def score_rows(samples: np.ndarray, y: np.ndarray, *, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """CRPS, coverage, PIT and P(value > 0) of each row's predictive draws."""
    out = {
        "crps": crps_samples(samples, y),
        "pit": pit_values(samples, y, rng=rng),
        "p_positive": (np.asarray(samples) > 0).mean(axis=1),
    }
    for level in LEVELS:
        out[f"covered_{int(level * 100)}"] = covered(samples, y, level)
        out[f"pit_covered_{int(level * 100)}"] = np.abs(out["pit"] - 0.5) <= level / 2
    return out


def _r(x: Any, nd: int = 4) -> Any:
    if x is None:
        return None
    x = float(x)
    return round(x, nd) if math.isfinite(x) else None


def score_origin(forecast: Any, case: Any, *, seed: int = 0) -> dict[str, Any]:
    """Scores of one origin from a :class:`models.predictive.OriginForecast`.

    Held-out rows of an indicator with no row in the fit (its record had not started by the
    origin) are not scored: no baseline exists for them; they are counted in ``n_unscored``.
    Returns ``{"origin", "as_of", "window_end", "n_observations", "data_hash", "diagnostics",
    "seconds", "n_scored", "n_unscored", "rows": [...], "outcomes": [...]}``.
    """
    rng = np.random.default_rng(seed)
    held, hist = forecast.held_out, forecast.history
    origin: date = forecast.origin
    rows_out: list[dict[str, Any]] = []
    unscored = 0
    for ind in case.indicators:
        sel = np.flatnonzero((held["indicator"] == ind.id).to_numpy())
        if not len(sel):
            continue
        past = hist[hist["indicator"] == ind.id]
        if past.empty:
            unscored += len(sel)
            continue
        target = held.iloc[sel]
        y = target["value"].to_numpy(dtype=float)
        history = {
            "value": past["value"].to_numpy(dtype=float),
            "exposure": past["exposure"].to_numpy(dtype=float),
            "end": [e.date() for e in past["end"]],
        }
        pers, clim = baseline_samples(
            ind.family, history, target["exposure"].to_numpy(dtype=float), origin=origin, rng=rng
        )
        scores = score_rows(forecast.samples[sel], y, rng=rng)
        lo, hi = interval_bounds(forecast.samples[sel], 0.9)
        crps_p, crps_c = crps_samples(pers, y), crps_samples(clim, y)
        for k, rec in enumerate(target.itertuples(index=False)):
            rows_out.append(
                {
                    "indicator": ind.id,
                    "family": ind.family,
                    "start": rec.start.date().isoformat(),
                    "end": rec.end.date().isoformat(),
                    "value": _r(y[k]),
                    "exposure": _r(rec.exposure, 3),
                    "observation_ids": list(rec.observation_ids),
                    "pred_mean": _r(forecast.samples[sel[k]].mean()),
                    "pred_p05": _r(lo[k]),
                    "pred_p95": _r(hi[k]),
                    "crps": _r(scores["crps"][k], 5),
                    "crps_persistence": _r(crps_p[k], 5),
                    "crps_climatology": _r(crps_c[k], 5),
                    "covered_50": bool(scores["covered_50"][k]),
                    "covered_90": bool(scores["covered_90"][k]),
                    "pit_covered_50": bool(scores["pit_covered_50"][k]),
                    "pit_covered_90": bool(scores["pit_covered_90"][k]),
                    "pit": _r(scores["pit"][k]),
                    "p_positive": _r(scores["p_positive"][k]),
                }
            )
    outcomes_out = []
    p = forecast.outcome_p
    for o, oc in enumerate(case.outcomes):
        res = oc.resolved.date if oc.resolved is not None else None
        at_risk = res is None or res > origin
        entry: dict[str, Any] = {
            "id": oc.id,
            "as_of": origin.isoformat(),
            "at_risk": at_risk,
            "happened": bool(at_risk and res is not None and res <= forecast.window_end),
            "p": None,
            "p_05": None,
            "p_95": None,
        }
        if at_risk:
            entry |= {
                "p": _r(p[:, o].mean(), 6),
                "p_05": _r(np.quantile(p[:, o], 0.05), 6),
                "p_95": _r(np.quantile(p[:, o], 0.95), 6),
            }
        outcomes_out.append(entry)
    design = forecast.design
    return {
        "origin": origin.year,
        "as_of": origin.isoformat(),
        "window_end": forecast.window_end.isoformat(),
        "n_observations": int(design.n_observations),
        "data_hash": design.data_hash,
        "diagnostics": forecast.diagnostics,
        "seconds": round(float(forecast.seconds), 1),
        "n_scored": len(rows_out),
        "n_unscored": unscored,
        "rows": rows_out,
        "outcomes": outcomes_out,
    }


# ---------------------------------------------------------------------------- skill across indicators

#: The baselines every held-out row is scored against, with the row key of each one's CRPS.
BASELINES = {"persistence": "crps_persistence", "climatology": "crps_climatology"}


def pooled_skill(crps: Sequence[float], baseline: Sequence[float]) -> float | None:
    """Pooled CRPS skill of a set of held-out rows: ``1 - sum(crps) / sum(baseline)``.

    Every row is one term of each sum, whatever its indicator (rows weigh equally, not
    indicators), and no indicator is divided by its own baseline: an indicator whose baseline scored almost nothing (a series that stayed at zero,
    a persistence that happened to be exact) adds almost nothing to either sum, so it cannot
    dominate the figure as it can the mean of ratios. The terms keep their indicators' units, so
    rows of large-scale series (hundreds of scrambles a year) weigh more than a summit count's:
    read it per family and beside the median. Undefined (None) without rows or when the
    baseline's sum is 0.
    """
    m, b = np.asarray(crps, dtype=float), np.asarray(baseline, dtype=float)
    return skill(float(m.sum()), float(b.sum())) if len(m) else None


def median_skill(crps: Sequence[float], baseline: Sequence[float]) -> tuple[float | None, int]:
    """Median over indicators of ``1 - crps / baseline`` (each an indicator's mean CRPS), and how
    many indicators it is over (those whose baseline CRPS is above 0).

    Each indicator counts once and only the middle of their skills matters, so one outlier
    indicator (a tiny baseline CRPS makes its ratio huge) cannot move it. None without indicators.
    """
    skills = [s for m, b in zip(crps, baseline, strict=True) if (s := skill(m, b)) is not None]
    return (float(np.median(skills)) if skills else None), len(skills)


def mean_of_ratios_skill(
    crps: Sequence[float], persistence: Sequence[float], climatology: Sequence[float]
) -> dict[str, Any]:
    """The mean-of-ratios skill over indicators (each argument: one mean CRPS per indicator).

    Each indicator's CRPS is divided by its climatology CRPS, which makes series of very different
    scales comparable, and the ratios are averaged over the indicators whose climatology CRPS is
    above 0: ``model = mean(crps / climatology)``, ``persistence = mean(persistence /
    climatology)``; skill against climatology ``1 - model``, against persistence
    ``1 - model / persistence``. Each indicator weighs the same, which is why one indicator with
    a tiny climatology CRPS (a huge ratio) can dominate it; :func:`pooled_skill` and
    :func:`median_skill` do not have that weakness. Returns ``n_indicators``,
    ``model_relative_to_climatology``, ``persistence_relative_to_climatology``,
    ``skill_persistence`` and ``skill_climatology`` (None where undefined).
    """
    kept = [(m, p, c) for m, p, c in zip(crps, persistence, climatology, strict=True) if c and c > 0]
    model = _mean(m / c for m, _, c in kept)
    pers = _mean(p / c for _, p, c in kept)
    return {
        "n_indicators": len(kept),
        "model_relative_to_climatology": model,
        "persistence_relative_to_climatology": pers,
        "skill_persistence": skill(model, pers),
        "skill_climatology": None if model is None else 1.0 - model,
    }


def _complete(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Rows that carry all three CRPS values (the same rows enter every figure)."""
    keys = ("crps", *BASELINES.values())
    return [r for r in rows if all(r.get(k) is not None and math.isfinite(float(r[k])) for k in keys)]


def _indicator_means(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Each indicator's mean CRPS of the model and of each baseline, over its complete rows."""
    by_ind: dict[str, list[Mapping[str, Any]]] = {}
    for r in _complete(rows):
        by_ind.setdefault(r["indicator"], []).append(r)
    keys = ("crps", *BASELINES.values())
    return {i: {k: float(np.mean([float(r[k]) for r in mine])) for k in keys} for i, mine in by_ind.items()}


def skill_group(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The three skill figures of a set of held-out rows against each baseline.

    Returns ``{"n_indicators", "n_rows", "mean_of_ratios_n", "persistence": {...},
    "climatology": {...}}``, each baseline with ``mean_of_ratios`` (:func:`mean_of_ratios_skill`,
    over ``mean_of_ratios_n`` indicators), ``pooled`` (:func:`pooled_skill`), ``median`` and
    ``median_n`` (:func:`median_skill`).
    """
    rows = _complete(rows)
    per_ind = list(_indicator_means(rows).values())
    means = {k: [m[k] for m in per_ind] for k in ("crps", *BASELINES.values())}
    ratios = mean_of_ratios_skill(means["crps"], means["crps_persistence"], means["crps_climatology"])
    out: dict[str, Any] = {
        "n_indicators": len(per_ind),
        "n_rows": len(rows),
        "mean_of_ratios_n": ratios["n_indicators"],
    }
    for name, key in BASELINES.items():
        median, n_median = median_skill(means["crps"], means[key])
        out[name] = {
            "mean_of_ratios": _r(ratios[f"skill_{name}"]),
            "pooled": _r(pooled_skill([r["crps"] for r in rows], [r[key] for r in rows])),
            "median": _r(median),
            "median_n": n_median,
        }
    return out


def skill_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """:func:`skill_group` over every held-out row (``all``) and per family (``families``)."""
    families = sorted({r["family"] for r in rows})
    return {
        "all": skill_group(rows),
        "families": {f: skill_group(r for r in rows if r["family"] == f) for f in families},
    }


def outcome_skill(outcomes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Pooled skill of every scored outcome forecast against the case's elicited annual base rate.

    ``brier``: ``1 - sum(Brier) / sum(Brier of the base rate)`` over every (outcome, origin)
    forecast; ``log_score`` the same with log scores. Pooled for the reason :func:`pooled_skill`
    gives; Brier and log scores share one scale across outcomes, so here no outcome outweighs
    another by its unit. ``outcomes``: :func:`summarise`'s outcome entries.
    """
    p, y, base = [], [], []
    for o in outcomes:
        for f in o.get("probabilities", []):
            if f.get("at_risk") and f.get("p") is not None:
                p.append(float(f["p"]))
                y.append(1.0 if f["happened"] else 0.0)
                base.append(float(o["base_rate"]))
    if not p:
        return {"n_forecasts": 0, "brier": None, "log_score": None}
    return {
        "n_forecasts": len(p),
        "brier": _r(pooled_skill(brier(p, y), brier(base, y))),
        "log_score": _r(pooled_skill(log_score(p, y), log_score(base, y))),
    }


# ---------------------------------------------------------------------------- across origins


def _mean(xs: Iterable[float | None]) -> float | None:
    vals = [float(x) for x in xs if x is not None and math.isfinite(float(x))]
    return float(np.mean(vals)) if vals else None


def summarise(
    origins: list[dict[str, Any]], *, indicators: Sequence[Mapping[str, Any]], outcomes: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The backtest's scores across origins.

    Parameters
    ----------
    origins
        One dict per origin (made by :func:`dashboard.services.backtests` from
        :func:`models.predictive.forecast_origin` and :func:`score_rows`), each with ``origin``
        and ``rows`` (``indicator``, ``family``, ``value``, ``crps``, ``crps_persistence``,
        ``crps_climatology``, ``covered_50``, ``covered_90``, ``pit``, ``p_positive``) and
        ``outcomes`` (``id``, ``at_risk``, ``happened``, ``p``, ``p_05``, ``p_95``).
    indicators
        ``id``, ``name``, ``family`` of the case's indicators, in case order.
    outcomes
        ``id``, ``question``, ``base_rate`` (annual), ``resolution_date`` (or None) of the case's outcomes.

    Returns ``{"indicators": [...], "outcomes": [...], "summary": {...}, "targets": [...]}``.
    """
    rows = [dict(r, origin=o["origin"]) for o in origins for r in o.get("rows", [])]
    ind_out = []
    for ind in indicators:
        mine = [r for r in rows if r["indicator"] == ind["id"]]
        entry: dict[str, Any] = {
            "id": ind["id"],
            "name": ind.get("name", ind["id"]),
            "family": ind["family"],
            "n": len(mine),
        }
        if mine:
            crps = _mean(r["crps"] for r in mine)
            pers = _mean(r["crps_persistence"] for r in mine)
            clim = _mean(r["crps_climatology"] for r in mine)
            entry |= {
                "crps": _r(crps),
                "crps_persistence": _r(pers),
                "crps_climatology": _r(clim),
                "skill_persistence": _r(skill(crps, pers)),
                "skill_climatology": _r(skill(crps, clim)),
                "coverage_50": _r(np.mean([r["covered_50"] for r in mine])),
                "coverage_90": _r(np.mean([r["covered_90"] for r in mine])),
                "mean_value": _r(np.mean([r["value"] for r in mine])),
                "origins": sorted({r["origin"] for r in mine}),
                "pit": [_r(r["pit"]) for r in mine],
            }
        else:
            entry |= {
                "crps": None,
                "crps_persistence": None,
                "crps_climatology": None,
                "skill_persistence": None,
                "skill_climatology": None,
                "coverage_50": None,
                "coverage_90": None,
                "mean_value": None,
                "origins": [],
                "pit": [],
            }
        ind_out.append(entry)

    out_out = []
    for oc in outcomes:
        forecasts = [dict(f, origin=o["origin"]) for o in origins for f in o.get("outcomes", []) if f["id"] == oc["id"]]
        scored = [f for f in forecasts if f["at_risk"] and f.get("p") is not None]
        p = np.array([f["p"] for f in scored])
        y = np.array([1.0 if f["happened"] else 0.0 for f in scored])
        base = float(oc["base_rate"])
        entry = {
            "id": oc["id"],
            "question": oc.get("question", ""),
            "resolution_date": oc.get("resolution_date"),
            "n": len(scored),
            "events": int(y.sum()),
            "brier": _r(brier(p, y).mean(), 5) if len(scored) else None,
            "log_score": _r(log_score(p, y).mean(), 4) if len(scored) else None,
            "brier_base_rate": _r(brier(base, y).mean(), 5) if len(scored) else None,
            "log_score_base_rate": _r(log_score(base, y).mean(), 4) if len(scored) else None,
            "base_rate": base,
            "probabilities": [
                {
                    "origin": f["origin"],
                    "as_of": f.get("as_of"),
                    "at_risk": bool(f["at_risk"]),
                    "happened": bool(f["happened"]),
                    "p": _r(f.get("p"), 5),
                    "p_05": _r(f.get("p_05"), 5),
                    "p_95": _r(f.get("p_95"), 5),
                }
                for f in forecasts
            ],
        }
        entry["skill_brier_base_rate"] = _r(skill(entry["brier"], entry["brier_base_rate"]))
        entry["skill_log_score_base_rate"] = _r(skill(entry["log_score"], entry["log_score_base_rate"]))
        out_out.append(entry)

    summary = _overall(rows, ind_out, origins, out_out)
    return {"indicators": ind_out, "outcomes": out_out, "summary": summary, "targets": _targets(summary)}


def _overall(rows: list[dict], ind_out: list[dict], origins: list[dict], out_out: list[dict]) -> dict[str, Any]:
    counts = [r for r in rows if r["family"] == "count"]
    means = [m for m in _indicator_means(counts).values() if m["crps_climatology"] > 0]
    ratios = mean_of_ratios_skill(*([m[k] for m in means] for k in ("crps", *BASELINES.values())))
    count_summary = {
        "n_indicators": ratios["n_indicators"],
        "n_rows": len(counts),
        "crps_relative_to_climatology": _r(ratios["model_relative_to_climatology"]),
        "crps_persistence_relative_to_climatology": _r(ratios["persistence_relative_to_climatology"]),
        "skill_persistence": _r(ratios["skill_persistence"]),
        "skill_climatology": _r(ratios["skill_climatology"]),
        "n_better_than_persistence": sum(1 for m in means if m["crps"] < m["crps_persistence"]),
        "n_better_than_climatology": sum(1 for m in means if m["crps"] < m["crps_climatology"]),
        "coverage_50": _r(np.mean([r["covered_50"] for r in counts])) if counts else None,
        "coverage_90": _r(np.mean([r["covered_90"] for r in counts])) if counts else None,
    }
    pit = [r["pit"] for r in rows]
    events = [(r["p_positive"], 1.0 if r["value"] > 0 else 0.0) for r in counts]
    outcome_pairs = [
        (f["p"], 1.0 if f["happened"] else 0.0)
        for o in out_out
        for f in o["probabilities"]
        if f["at_risk"] and f["p"] is not None
    ]
    n = len(rows)
    return {
        "n_origins": len(origins),
        "n_rows": n,
        "coverage_50": _r(np.mean([r["covered_50"] for r in rows])) if n else None,
        "coverage_90": _r(np.mean([r["covered_90"] for r in rows])) if n else None,
        "coverage_50_randomised": _r(np.mean([r["pit_covered_50"] for r in rows])) if n else None,
        "coverage_90_randomised": _r(np.mean([r["pit_covered_90"] for r in rows])) if n else None,
        "coverage_50_band": [_r(x) for x in binomial_band(0.5, n)] if n else None,
        "coverage_90_band": [_r(x) for x in binomial_band(0.9, n)] if n else None,
        "count": count_summary,
        "skill": skill_summary(rows) | {"outcomes": outcome_skill(out_out)},
        "pit_histogram": pit_histogram(pit),
        "pit_band": [_r(x * n, 1) for x in binomial_band(1.0 / PIT_BINS, n)] if n else None,
        "reliability_indicators": reliability_bins([e[0] for e in events], [e[1] for e in events]),
        "reliability_outcomes": reliability_bins([e[0] for e in outcome_pairs], [e[1] for e in outcome_pairs]),
        "origins_failing_diagnostics": [o["origin"] for o in origins if not (o.get("diagnostics") or {}).get("ok")],
    }


def _targets(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with its measured value and whether it is met."""
    count = summary["count"]
    skill_p = count["skill_persistence"]
    cov = summary["coverage_90"]
    lo, hi = COVERAGE_90_TARGET
    return [
        {
            "id": "crps_vs_persistence",
            "target": "count indicators: lower CRPS than persistence on average (skill > 0)",
            "value": skill_p,
            "met": None if skill_p is None else bool(skill_p > 0),
            "detail": f"{count['n_better_than_persistence']} of {count['n_indicators']} count indicators beat "
            "persistence; average of each indicator's CRPS relative to climatology",
        },
        {
            "id": "coverage_90",
            "target": f"90% intervals cover {lo:.0%}–{hi:.0%} of held-out observations",
            "value": cov,
            "met": None if cov is None else bool(lo <= cov <= hi),
            "detail": f"{summary['n_rows']} held-out rows; inclusive intervals of a discrete forecast cover at least "
            f"their level when calibrated; the randomised (PIT) coverage, nominal when calibrated, is "
            f"{summary['coverage_90_randomised']}",
        },
    ]
