"""The watch list: which indicator is worth collecting next (value of information) and which
observation would trip a warning (tripwires), from a run's posterior by importance reweighting.

Both answers condition the run's forecast on a *hypothetical* next value of one indicator, the
building block of :mod:`models.scenarios`: a report dated after the as-of date is a row beyond the
run's window (:func:`models.reweight.future_rows`), its likelihood is evaluated on every (draw,
simulated future path) pair of a :class:`models.reweight.Conditioner`, and the Pareto-smoothed
importance weights of those pairs give the conditioned forecast, with k-hat saying whether the
weights can be trusted. What this module adds is doing that for many values at once, vectorised:
the rows of all candidate values of one indicator share their cells and differ only in value, so
their likelihoods are one array ``(values, draws, paths)`` and the smoothing is one batched PSIS
(:func:`psis_rows`, equal to :func:`models.reweight.psis` row by row).

Periods
-------
"Next quarter" is the three months after the as-of date and "next year" the twelve (a scenario's
observation with ``months_ahead=0`` and ``span_months`` 3 or 12): the window an analyst watches
from today, not the next calendar quarter, which would skip what happens before it starts. A
value is the indicator's number of events (``events``), its total (``total``) or its level over
the period, as the model's row likelihood for a report covering that period reads it.

The hypothetical report
-----------------------
Every hypothetical value is a report of grade A1 (:data:`REPORT_GRADE`, genuine with probability
0.99 in the model's mixture): "if we confirm this". The predictive it is drawn from is that of the
same report (the genuine-report predictive, with the small spurious-report share), so the
preposterior average is coherent: averaged over the predictive, the conditioned probability is
the current one (a martingale; the tests check it). A report from a doubtful source moves the
forecast less than a tripwire says.

Value of information (preposterior)
-----------------------------------
For indicator ``i``, period ``T`` and each outcome ``o`` at horizon ``h``::

    VOI = E_y |P(o by h | data, y_iT = y) - P(o by h | data)|,   y ~ posterior predictive of y_iT

the expected absolute change of the forecast, in probability. The expectation over ``y`` is over
a grid of values (:func:`value_grid`): for integer families whose plausible range holds at most
:data:`GRID_MAX` values, every integer in it, weighted by its exact predictive probability (the
mean over pairs of the report's likelihood: no sampling error from ``y`` at all); otherwise
:data:`QUANTILE_VALUES` predictive quantiles, each weighted by the share of :data:`PREDICTIVE_DRAWS`
predictive draws nearest to it. Also the expected reduction of the forecast's posterior sd (the
spread over draws of each draw's probability, which the credible intervals show)::

    sd now - E_y sd(P(o by h | theta) | data, y)

Monte Carlo error: each estimate is, to first order, the mean over draws of an influence term
(the self-normalised weights' linearisation, as :func:`models.reweight.weighted_mcse` uses for a
scenario; for exact grids also the draws' share in the predictive probabilities), and its error is
that term's ``sd / sqrt(ESS)`` with the ESS from its own autocorrelation over chains
(:func:`mcse_columns`, arviz's estimator vectorised). For quantile grids the sampling error of
the ``y`` draws is added (``sd_y |change| / sqrt(draws)``). The absolute value makes the estimate
biased upwards by the noise of the change itself; because every value is reweighted from the same
draws and paths as the baseline, that noise is small (an indicator unrelated to an outcome moves
its weights, and so its probability, by little).

An indicator whose reweighting is unreliable -- k-hat above :data:`models.reweight.KHAT_MAX` for
most of the predictive's probability (:data:`UNRELIABLE_SHARE`) -- is marked and not ranked.

Tripwires
---------
For the next quarter the document keeps the conditioned probability of every outcome and horizon at
each value of the grid (``curve``); :mod:`models.watchlist` reads the tripwires at any level from
it, so a page or a command can ask for any threshold without reweighting again.

Document (``watch.json``; :data:`WATCH_VERSION`)::

    {"version", "as_of", "seconds", "settings": {...},
     "periods": [{"id", "label", "start", "end", "months"}],
     "targets": [{"key": "outcome@years", "outcome", "years", "p_mean", "sd"}],
     "indicators": [{"id", "name", "family", "aggregation", "unit", "levels", "coverage_end",
                     "periods": {period id: {"grid": "exact"|"quantiles", "n_values", "tail_mass",
                                             "khat_max", "unreliable_share", "reliable",
                                             "predictive_mean",
                                             "voi": {key: {"mean_abs_change", "mcse",
                                                           "sd_reduction", "sd_reduction_mcse"}}}},
                     "curve": {"values", "predictive", "khat",
                               "p": {key: [...]}, "mcse": {key: [...]}}}]}

Probabilities are fractions (0..1) throughout.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.fft import next_fast_len

from models.design import Design
from models.families import family, row_logliks
from models.forecast import Draws
from models.grid import CELLS_PER_YEAR
from models.likelihood import NUMPY
from models.reweight import KHAT_MAX, Conditioner, FutureRows, future_rows, psis
from models.watchlist import PERIODS, PLAUSIBLE, TRIPWIRE_PERIOD, WATCH_VERSION, Period, _r, target_key

Progress = Callable[[float, str], None]

#: The hypothetical report's grade: a confirmed report from a completely reliable source.
REPORT_GRADE = ("A", 1)
#: Integer families whose plausible range holds at most this many values are reweighted at every
#: integer in it (the exact predictive); others on :data:`QUANTILE_VALUES` predictive quantiles.
GRID_MAX = 48
QUANTILE_VALUES = 32
#: Predictive draws per indicator and period that set the plausible range (and, for quantile
#: grids, the weights of the values).
PREDICTIVE_DRAWS = 4000
#: An indicator is not ranked when k-hat exceeds KHAT_MAX on more than this share of the
#: predictive probability.
UNRELIABLE_SHARE = 0.5
#: Draws per chunk when evaluating likelihoods on (draw, path) pairs (bounds memory).
CHUNK_DRAWS = 1000


# ---------------------------------------------------------------------------- batched PSIS


def _gpdfit_rows(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """arviz's empirical-Bayes generalised Pareto fit (Zhang & Stephens 2009, with arviz's weak
    prior on k) of each row of ``t`` (sorted ascending, positive), vectorised over rows."""
    prior_bs, prior_k = 3, 10
    n = t.shape[1]
    m_est = 30 + int(n**0.5)
    b = 1 - np.sqrt(m_est / (np.arange(1, m_est + 1, dtype=float) - 0.5))
    b = b[None, :] / (prior_bs * t[:, int(n / 4 + 0.5) - 1])[:, None] + (1 / t[:, -1])[:, None]
    k_ary = np.log1p(-b[:, :, None] * t[:, None, :]).mean(axis=2)
    len_scale = n * (np.log(-(b / k_ary)) - k_ary - 1)
    weights = 1 / np.exp(len_scale[:, None, :] - len_scale[:, :, None]).sum(axis=2)
    weights = np.where(weights >= 10 * np.finfo(float).eps, weights, 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    b_post = (b * weights).sum(axis=1)
    k_post = np.log1p(-b_post[:, None] * t).mean(axis=1)
    sigma = -k_post / b_post
    return (n * k_post + prior_k * 0.5) / (n + prior_k), sigma


def psis_rows(
    log_ratio: np.ndarray, *, as_weights: bool = False, overwrite: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Pareto-smoothed, normalised log weights of each row of ``log_ratio`` (G, N), and each
    row's k-hat: :func:`models.reweight.psis` of every row, in one pass (``as_weights``: the
    weights themselves, saving an exponential; ``overwrite``: work in ``log_ratio``'s memory).

    The tail of every row has the same length, so sorting it (after a partition, not a full sort)
    and fitting the generalised Pareto run on ``(G, tail)`` arrays. Rows the vectorised path cannot
    take exactly as arviz would (ties at the cut-off, a degenerate fit, a constant row) go through
    :func:`models.reweight.psis` one by one.
    """
    reuse = overwrite and log_ratio.dtype == np.float64 and log_ratio.flags.c_contiguous
    x = log_ratio if reuse else np.array(log_ratio, dtype=float)
    if not np.all(np.isfinite(x)):
        raise ValueError("log importance ratios must be finite")
    G, n = x.shape
    x -= x.max(axis=1, keepdims=True)
    k_tail = int(np.ceil(min(n / 5.0, 3 * n**0.5)))
    khat = np.zeros(G)
    if G == 0:
        return x, khat
    rows = np.arange(G)[:, None]
    part = np.argpartition(x, n - k_tail - 1, axis=1)
    xcut = x[np.arange(G), part[:, n - k_tail - 1]]
    tail_idx = part[:, n - k_tail :]
    tail = np.take_along_axis(x, tail_idx, axis=1)
    order = np.argsort(tail, axis=1)
    tail_idx = np.take_along_axis(tail_idx, order, axis=1)
    tail = np.take_along_axis(tail, order, axis=1)
    cutoffmin = np.log(np.finfo(float).tiny)
    # ties at the cut-off (a constant row among them) make arviz's tail shorter: one by one
    fallback = (tail[:, 0] <= xcut) | (xcut < cutoffmin) | (k_tail <= 4)
    ok = ~fallback
    if ok.any():
        expcut = np.exp(xcut[ok])[:, None]
        t = np.exp(tail[ok]) - expcut
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            k, sigma = _gpdfit_rows(t)
        bad = ~np.isfinite(k) | ~(sigma > 0)
        idx_ok = np.flatnonzero(ok)
        fallback[idx_ok[bad]] = True
        good = ~bad
        if good.any():
            kg, sg = k[good], sigma[good]
            probs = np.arange(0.5, k_tail) / k_tail
            small = np.abs(kg) < np.finfo(float).eps
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                inv = np.where(
                    small[:, None],
                    -np.log1p(-probs)[None, :],
                    np.expm1(-kg[:, None] * np.log1p(-probs)[None, :]) / np.where(small, 1.0, kg)[:, None],
                )
            smoothed = np.log(inv * sg[:, None] + expcut[good])
            r = idx_ok[good]
            x[rows[r], tail_idx[r]] = smoothed
            khat[r] = kg
    # the smoothed tail truncated at the largest raw weight, 0 (other values are <= 0 already)
    np.minimum(x, 0.0, out=x)
    for g in np.flatnonzero(fallback):  # (shifted by a constant: psis does not mind)
        with np.errstate(over="ignore"):  # arviz's own smoothing of a degenerate tail
            lw, k = psis(x[g].copy())
        x[g], khat[g] = lw, k
    # every smoothed row's largest log weight is 0, so the normalising sum needs no further
    # shift; the rows done one by one are normalised already
    e = np.exp(x)
    total = e.sum(axis=1)
    total[fallback] = 1.0
    if as_weights:
        e /= total[:, None]
        return e, khat
    x -= np.log(total)[:, None]
    return x, khat


# ---------------------------------------------------------------------------- Monte Carlo error


def mcse_columns(u: np.ndarray, chains: int, *, block: int = 256) -> np.ndarray:
    """Monte Carlo standard error of the mean of each column of ``u`` (D, n), draws in order chain
    after chain: ``sd / sqrt(ESS)`` with arviz's ESS (split chains, Geyer's initial monotone
    sequence), vectorised over columns; equal to ``arviz.mcse(column, method="mean")``."""
    u = np.asarray(u, dtype=float)
    D, n = u.shape
    out = np.empty(n)
    draws = D // chains
    for s in range(0, n, block):
        cols = u[:, s : s + block]
        x = cols.T.reshape(-1, chains, draws)
        half = draws // 2
        split = np.concatenate([x[:, :, :half], x[:, :, draws - half :]], axis=1)  # (n, 2c, half)
        out[s : s + block] = np.std(cols, axis=0, ddof=1) / np.sqrt(_ess_split(split))
    return out


def _ess_split(x: np.ndarray) -> np.ndarray:
    """arviz's ``_ess`` of each leading slice of ``x`` (n, chains, draws), vectorised."""
    n, m_chain, n_draw = x.shape
    size = m_chain * n_draw
    const = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))) < np.finfo(float).resolution
    centred = x - x.mean(axis=2, keepdims=True)
    fft_len = next_fast_len(2 * n_draw)
    f = np.fft.rfft(centred, n=fft_len, axis=2)
    acov = np.fft.irfft(f * np.conjugate(f), n=fft_len, axis=2)[:, :, :n_draw] / n_draw
    chain_mean = x.mean(axis=2)
    mean_var = acov[:, :, 0].mean(axis=1) * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if m_chain > 1:
        var_plus = var_plus + np.var(chain_mean, axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]  # (n, n_draw)
    rho[:, 0] = 1.0
    # Geyer's initial positive sequence over pairs (2j, 2j + 1): pair j >= 1 is looked at while the
    # previous pair's sum is positive and 2j - 1 < n_draw - 3; a pair is kept when its sum is >= 0.
    n_pairs = (n_draw - 2) // 2 + 1
    n_pairs = min(n_pairs, n_draw // 2)
    even, odd = rho[:, 0 : 2 * n_pairs : 2], rho[:, 1 : 2 * n_pairs : 2]
    sums = even + odd  # (n, n_pairs)
    limit = np.arange(n_pairs)
    allowed = (2 * limit - 1) < (n_draw - 3)
    allowed[0] = True
    # j_end: the last pair looked at: the first j >= 1 whose sum is <= 0, else the last allowed one
    positive = sums > 0.0
    looked = np.ones_like(sums, dtype=bool)
    looked[:, 1:] = np.logical_and.accumulate(positive[:, :-1], axis=1) & allowed[None, 1:]
    j_end = looked.sum(axis=1) - 1  # (n,)
    kept_last = sums[np.arange(n), j_end] >= 0.0
    # Geyer's initial monotone sequence: pair sums 0 .. j_end - 1 as a running minimum
    mono = np.minimum.accumulate(sums, axis=1)
    mask = np.arange(n_pairs)[None, :] < j_end[:, None]
    total = np.where(mask, mono, 0.0).sum(axis=1)
    last_even = even[np.arange(n), j_end]
    last = np.where((last_even > 0) | kept_last, last_even, 0.0)
    last = np.where(j_end == 0, 1.0, last)
    tau = -1.0 + 2.0 * total + last
    tau = np.maximum(tau, 1.0 / np.log10(size))
    ess = size / tau
    ess = np.where(np.isnan(rho).any(axis=1), np.nan, ess)
    return np.where(const, float(size), ess)


# ---------------------------------------------------------------------------- rows and likelihoods


def candidate_rows(design: Design, indicator: str, period: Period, values: Sequence[float]) -> FutureRows:
    """One hypothetical report per value, each covering ``period`` (the rows a scenario with
    these observations would add), graded :data:`REPORT_GRADE`."""
    start, end = period.dates(design.as_of)
    n = len(values)
    frame = pd.DataFrame(
        {
            "id": -np.arange(1, n + 1),
            "indicator": indicator,
            "date": pd.Timestamp(start),
            "end": pd.Timestamp(end),
            "value": np.asarray(values, dtype=float),
            "reliability": REPORT_GRADE[0],
            "credibility": REPORT_GRADE[1],
        }
    )
    return future_rows(design, frame)


def _pair_eta(draws: Draws, paths: np.ndarray, as_of_cell: int, i: int, cells: np.ndarray, sub: slice) -> np.ndarray:
    """Indicator ``i``'s linear predictor on absolute ``cells`` for every pair of the draws in
    ``sub``: (n, P, C). Cells up to the as-of cell take the draw's state, later ones the path's."""
    load = draws.loading[sub, i, :]
    icpt = draws.intercept[sub, i]
    n, P = load.shape[0], paths.shape[1]
    out = np.empty((n, P, len(cells)))
    for k, c in enumerate(cells):
        if c <= as_of_cell:
            out[:, :, k] = (icpt + np.einsum("dk,dk->d", load, draws.factor_state[sub, :, c]))[:, None]
        else:
            out[:, :, k] = icpt[:, None] + np.einsum("dk,dpk->dp", load, paths[sub, :, :, c - as_of_cell - 1])
    return out


def candidate_logliks(design: Design, draws: Draws, paths: np.ndarray, rows: FutureRows) -> np.ndarray:
    """Log-likelihood of each row of ``rows`` (all of one indicator and family, sharing cells)
    on every (draw, path) pair: (G, D, P), with the model's own likelihood
    (:func:`models.families.row_logliks`) on the indicator's linear predictor only.

    Counts, the bulk of most cases, take a shortcut that gives the same numbers for a fraction
    of the work (:func:`_count_logliks`, an optimisation of that family alone: any family takes
    the general path); the tests hold the two equal.
    """
    if str(rows.table["family"].iloc[0]) == "count":
        return _count_logliks(design, draws, paths, rows)
    return _generic_logliks(design, draws, paths, rows)


def _generic_logliks(design: Design, draws: Draws, paths: np.ndarray, rows: FutureRows) -> np.ndarray:
    table = rows.table
    fam = str(table["family"].iloc[0])
    i = design.indicator_ids.index(str(table["indicator"].iloc[0]))
    G = len(table)
    D, P = paths.shape[0], paths.shape[1]
    data = dict(rows.data)
    data[f"{fam}_indicator"] = np.zeros(G, dtype=np.int64)  # eta below holds this indicator only
    a = design.grid.as_of_cell
    out = np.empty((G, D, P))
    keys = tuple(family(fam).draw_params)
    for s in range(0, D, CHUNK_DRAWS):
        sub = slice(s, min(s + CHUNK_DRAWS, D))
        eta = _pair_eta(draws, paths, a, i, rows.cells, sub)
        n = eta.shape[0]
        params: dict[str, Any] = {"families": [fam]}
        for key in keys:
            params[key] = np.repeat(draws.params[key][sub], P, axis=0)
        ll = row_logliks(NUMPY, params, eta.reshape(n * P, -1, 1), data, batched=True)[fam]  # (n P, G)
        out[:, sub, :] = ll.T.reshape(G, n, P)
    return out


def _count_logliks(design: Design, draws: Draws, paths: np.ndarray, rows: FutureRows) -> np.ndarray:
    """:func:`_generic_logliks` for counts, factored.

    A negative binomial's log probability of ``y`` at mean ``mu`` and dispersion ``alpha`` is
    its value at a reference mean ``E`` plus ``y log(mu / E) - (alpha + y) log1p((mu - E) /
    (alpha + E))``, in any of its usual parametrisations. The reference value (the part with the
    log Gammas) depends on the draw and the value only, so the model's own likelihood is evaluated
    there, per draw and value (``E`` is the row's exposure: the mean at a zero linear predictor);
    per pair and value only the two-term correction remains. The genuine/spurious mixture
    (:func:`models.likelihood.mixture`) is then applied with the rows' trust, in probabilities
    rather than with ``logaddexp`` (which does not vectorise).
    """
    table = rows.table
    iid = str(table["indicator"].iloc[0])
    i = design.indicator_ids.index(iid)
    local = design.family_indicators["count"].index(iid)
    arr = rows.families["count"]
    G = len(table)
    D, P = paths.shape[0], paths.shape[1]
    cells = rows.cells[arr["cells"][0]]  # every row covers the same cells with the same weights
    weights = arr["weights"][0]
    exposure = float(np.clip(weights.sum(), 1e-9, 1e9))
    y = arr["y"][:, None, None]
    data = dict(rows.data)
    data["count_indicator"] = np.zeros(G, dtype=np.int64)
    data["count_log_w"] = np.zeros(G)  # the genuine component alone: mixed below
    data["count_log_1mw"] = np.full(G, -np.inf)
    trust = np.exp(arr["log_w"])[:, None, None]
    spurious = np.exp(arr["log_1mw"] + arr["lp_spurious"])[:, None, None]
    a = design.grid.as_of_cell
    out = np.empty((G, D, P))
    for s in range(0, D, CHUNK_DRAWS):
        sub = slice(s, min(s + CHUNK_DRAWS, D))
        alpha = draws.params["count_alpha"][sub]
        n = alpha.shape[0]
        reference = row_logliks(
            NUMPY, {"families": ["count"], "count_alpha": alpha}, np.zeros((n, len(rows.cells), 1)), data, batched=True
        )["count"]  # (n, G)
        eta = _pair_eta(draws, paths, a, i, cells, sub)  # (n, P, C)
        mu = np.clip((weights * np.exp(eta)).sum(axis=-1), 1e-9, 1e9)
        al = alpha[:, local][:, None]
        shift = np.log1p((mu - exposure) / (al + exposure))
        genuine = reference.T[:, :, None] + y * (np.log(mu / exposure) - shift)[None] - (al * shift)[None]
        # w p(y | genuine) + (1 - w) p(y | spurious), in probabilities: the spurious term is a
        # constant per value and never underflows for a value in the plausible range, so the sum
        # is exact where it matters; a value improbable under both is floored, not infinite
        mixed = np.exp(genuine, out=genuine)
        mixed *= trust
        mixed += spurious
        np.maximum(mixed, np.finfo(float).tiny, out=mixed)
        out[:, sub, :] = np.log(mixed)
    return out


def sample_predictive(
    design: Design, draws: Draws, paths: np.ndarray, rows: FutureRows, *, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` draws of the report of the first row of ``rows`` from the posterior predictive: a
    random (draw, path) pair each, the genuine-report family distribution with the row's trust
    and the spurious-report distribution otherwise (as the mixture likelihood has it). Values
    are on the indicator's own scale."""
    table = rows.table
    fam = str(table["family"].iloc[0])
    iid = str(table["indicator"].iloc[0])
    i = design.indicator_ids.index(iid)
    local = design.family_indicators[fam].index(iid)
    arr = rows.families[fam]
    weights = arr["weights"][0]
    cells = rows.cells[arr["cells"][0]]
    trust = np.exp(arr["log_w"][0])
    D, P = paths.shape[0], paths.shape[1]
    d = rng.integers(D, size=n)
    p = rng.integers(P, size=n)
    a = design.grid.as_of_cell
    eta = np.empty((n, len(cells)))
    for k, c in enumerate(cells):
        f = draws.factor_state[d, :, c] if c <= a else paths[d, p, :, c - a - 1]
        eta[:, k] = draws.intercept[d, i] + np.einsum("mk,mk->m", draws.loading[d, i, :], f)
    genuine = rng.random(n) < trust
    return family(fam).sample_report(design.constants, draws, d, local, weights, eta, genuine, rng, design.priors)


def value_grid(design: Design, indicator: str, samples: np.ndarray) -> tuple[np.ndarray, bool]:
    """The values to reweight on, and whether they are every integer of the plausible range.

    Integer families (``Family.integer``): every integer between the :data:`PLAUSIBLE`
    quantiles of ``samples`` when that is at most :data:`GRID_MAX` values (the probability beyond
    is reported as ``tail_mass``); else :data:`QUANTILE_VALUES` quantiles of
    ``samples`` over the plausible range (rounded for integer families); the number of those
    (:data:`QUANTILE_VALUES`) bounds the work per indicator, and a count's quantiles are a few
    units apart (the tripwire's resolution there).
    """
    ind = design.case.indicator(indicator)
    lo_q, hi_q = np.quantile(samples, PLAUSIBLE)
    fam = family(ind.family)
    integer = fam.integer
    if integer:
        lo, hi = fam.value_bounds(ind, int(np.floor(lo_q)), int(np.ceil(hi_q)))
        if hi - lo + 1 <= GRID_MAX:
            return np.arange(lo, hi + 1, dtype=float), True
    probs = np.linspace(PLAUSIBLE[0], PLAUSIBLE[1], QUANTILE_VALUES)
    values = np.quantile(samples, probs)
    if integer:
        values = np.round(values)
    return np.unique(fam.clip_values(values)), False


# ---------------------------------------------------------------------------- the computation


@dataclass
class _Baseline:
    keys: list[str]
    targets: list[dict[str, Any]]
    pp: np.ndarray  # (D, P, Q) path probabilities at each target
    p0_draw: np.ndarray  # (D, Q)
    p0: np.ndarray  # (Q,)
    sd0: np.ndarray  # (Q,)
    efficiency: np.ndarray  # (Q,) ESS / draws of each draw's probability


def _baseline(conditioner: Conditioner) -> _Baseline:
    design = conditioner.design
    prob = conditioner.path_probabilities()  # (D, P, O, H)
    keys, targets, cols = [], [], []
    for o, outcome in enumerate(design.case.outcomes):
        if outcome.resolved is not None and outcome.resolved.date <= design.as_of:
            continue
        for h in outcome.horizons:
            keys.append(target_key(outcome.id, h))
            cols.append(prob[:, :, o, h * CELLS_PER_YEAR - 1])
            targets.append({"key": keys[-1], "outcome": outcome.id, "question": outcome.question, "years": int(h)})
    D, P = prob.shape[:2]
    pp = np.stack(cols, axis=-1) if cols else np.zeros((D, P, 0))
    p0_draw = pp.mean(axis=1)
    p0 = p0_draw.mean(axis=0)
    sd0 = np.sqrt(((p0_draw - p0) ** 2).mean(axis=0))
    draws = conditioner.draws
    efficiency = np.ones(len(keys))
    if keys:
        x = p0_draw.T.reshape(len(keys), draws.chains, -1)
        half = x.shape[2] // 2
        ess = _ess_split(np.concatenate([x[:, :, :half], x[:, :, x.shape[2] - half :]], axis=1))
        efficiency = np.clip(np.nan_to_num(ess / D, nan=1.0), 1e-3, 1.0)
    for t, m, s in zip(targets, p0, sd0):
        t["p_mean"], t["sd"] = _r(m, 6), _r(s, 6)
    return _Baseline(keys, targets, pp, p0_draw, p0, sd0, efficiency)


def _condition_on_values(
    conditioner: Conditioner,
    base: _Baseline,
    rows: FutureRows,
    *,
    exact: bool,
    samples: np.ndarray,
    values: np.ndarray,
    curve: bool,
) -> dict[str, Any]:
    """Everything one indicator and period contribute: see the module docstring."""
    design, draws = conditioner.design, conditioner.draws
    paths = conditioner.paths(rows.last_cell - design.grid.as_of_cell)
    ll = candidate_logliks(design, draws, paths, rows)  # (G, D, P)
    G, D, P = ll.shape
    Q = len(base.keys)
    if exact:  # each draw's predictive probability of each value, before the weights take ll's memory
        lik = np.exp(ll).mean(axis=2)  # (G, D)
    w, khat = psis_rows(ll.reshape(G, D * P), as_weights=True, overwrite=True)
    w = w.reshape(G, D, P)
    W = w.sum(axis=2)  # (G, D) draw weights
    num = np.einsum("gdp,dpq->gdq", w, base.pp, optimize=True)  # (G, D, Q): sum over paths of w pp
    m = num.sum(axis=1)  # (G, Q) conditioned probabilities
    # W_d (p_d - m), p_d the draw's probability under the value, without dividing by W_d; and
    # W_d (p_d - m)^2 from it (these (G, D, Q) arrays are most of the time here: few passes)
    wdev = num
    wdev -= W[..., None] * m[:, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_w = np.where(W > 0, 1.0 / W, 0.0)
    wdev2 = wdev * wdev
    wdev2 *= inv_w[..., None]
    if exact:
        total = lik.mean(axis=1).sum()
        pi_draw = lik / total
        pi = pi_draw.mean(axis=1)
        tail_mass = max(0.0, 1.0 - float(total))
    else:
        nearest = np.abs(samples[:, None] - values[None, :]).argmin(axis=1)
        pi = np.bincount(nearest, minlength=G) / len(samples)
        pi_draw = None
        tail_mass = None
    delta = m - base.p0  # (G, Q)
    voi = (pi[:, None] * np.abs(delta)).sum(axis=0)
    var_j = wdev2.sum(axis=1)  # (G, Q)
    sd_j = np.sqrt(var_j)
    reduction = base.sd0 - (pi[:, None] * sd_j).sum(axis=0)

    # influence terms (D, .) of the estimates, for their Monte Carlo error: of each conditioned
    # probability m, D W_d (p_d - m) (= D wdev); of its sd, D (W_d (p_d - m)^2 - W_d var) / (2 sd)
    dev0 = base.p0_draw - base.p0  # (D, Q)
    sign = np.sign(delta)
    psi_voi = (
        D * np.einsum("gq,gdq->dq", pi[:, None] * sign, wdev, optimize=True)
        - dev0 * (pi[:, None] * sign).sum(axis=0)[None, :]
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(sd_j > 0, D / (2 * sd_j), 0.0) * pi[:, None]  # (G, Q)
        infl_sd0 = np.where(base.sd0 > 0, (dev0**2 - base.sd0**2) / (2 * base.sd0), 0.0)
    psi_red = (
        infl_sd0
        - np.einsum("gq,gdq->dq", scale, wdev2, optimize=True)
        + np.einsum("gq,gd->dq", scale * var_j, W, optimize=True)
    )
    if pi_draw is not None:
        dpi = (pi_draw - pi[:, None]).T  # (D, G)
        psi_voi = psi_voi + dpi @ np.abs(delta)
        psi_red = psi_red - dpi @ sd_j
    errors = mcse_columns(np.concatenate([psi_voi, psi_red], axis=1), draws.chains)
    voi_se, red_se = errors[:Q], errors[Q : 2 * Q]
    if not exact:  # the y draws' own sampling error, for quantile grids
        spread = np.sqrt((pi[:, None] * (np.abs(delta) - voi) ** 2).sum(axis=0))
        voi_se = np.hypot(voi_se, spread / np.sqrt(len(samples)))
        spread_sd = np.sqrt((pi[:, None] * (sd_j - (pi[:, None] * sd_j).sum(axis=0)) ** 2).sum(axis=0))
        red_se = np.hypot(red_se, spread_sd / np.sqrt(len(samples)))
    unreliable_share = float(pi[khat > KHAT_MAX].sum())
    median = int(np.searchsorted(np.cumsum(pi), 0.5))
    out: dict[str, Any] = {
        "grid": "exact" if exact else "quantiles",
        "n_values": int(G),
        "tail_mass": _r(tail_mass, 6),
        "khat_max": _r(float(khat.max()), 3),
        "khat_median": _r(float(khat[min(median, G - 1)]), 3),
        "unreliable_share": _r(unreliable_share, 4),
        "reliable": bool(unreliable_share <= UNRELIABLE_SHARE),
        "predictive_mean": _r(float((pi * values).sum()), 4),
        "voi": {
            k: {
                "mean_abs_change": _r(voi[q], 6),
                "mcse": _r(voi_se[q], 6),
                "sd_reduction": _r(reduction[q], 6),
                "sd_reduction_mcse": _r(red_se[q], 6),
            }
            for q, k in enumerate(base.keys)
        },
    }
    if curve:
        # the curve's errors (G x Q of them) take the draws' autocorrelation from the baseline's
        # ESS instead of each column's own (the weights' unevenness is in the sd): a tenth of the
        # time, and within a few percent where the weights are not extreme
        spread = D * np.sqrt(np.einsum("gdq,gdq->gq", wdev, wdev, optimize=True) / (D - 1))  # sd of D wdev
        p_se = spread / np.sqrt(D * base.efficiency)[None, :]
        out["curve"] = {
            "values": _r(values, 6),
            "predictive": _r(pi, 6),
            "khat": _r(khat, 3),
            "p": {k: _r(m[:, q], 6) for q, k in enumerate(base.keys)},
            "mcse": {k: _r(p_se[:, q], 6) for q, k in enumerate(base.keys)},
        }
    return out


def _indicator_entry(conditioner: Conditioner, base: _Baseline, iid: str, rng: np.random.Generator) -> dict[str, Any]:
    """One indicator's part of the document: both periods, and the next quarter's curve."""
    design = conditioner.design
    ind = design.case.indicator(iid)
    entry: dict[str, Any] = {
        "id": ind.id,
        "name": ind.name,
        "family": ind.family,
        "aggregation": ind.aggregation,
        "unit": ind.unit,
        "levels": list(ind.levels) if ind.levels else None,
        "coverage_end": ind.coverage_end.isoformat() if ind.coverage_end else None,
        "periods": {},
    }
    for period in PERIODS:
        probe = candidate_rows(design, iid, period, [0.0])
        paths = conditioner.paths(probe.last_cell - design.grid.as_of_cell)
        samples = sample_predictive(design, conditioner.draws, paths, probe, n=PREDICTIVE_DRAWS, rng=rng)
        values, exact = value_grid(design, iid, samples)
        rows = candidate_rows(design, iid, period, values)
        result = _condition_on_values(
            conditioner, base, rows, exact=exact, samples=samples, values=values, curve=period.id == TRIPWIRE_PERIOD
        )
        curve = result.pop("curve", None)
        if curve is not None:
            entry["curve"] = curve
        entry["periods"][period.id] = result
    return entry


def watch(
    conditioner: Conditioner,
    *,
    indicators: Sequence[str] | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """The watch-list document of a run (see the module docstring) from its conditioner (the run's
    draws and the forecast's paths, so the baseline equals the run's forecast).

    Indicators are computed ``workers`` at a time (default: two, or one on a single CPU) in
    threads: NumPy releases the interpreter lock in the array work, so the second core is used,
    and on a machine shared with other fits the list gets two shares of the CPU instead of one.
    Each indicator draws its predictive values from its own random stream (``seed`` and its
    position), so the document does not depend on the threads' order.
    """
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    design = conditioner.design
    case = design.case
    base = _baseline(conditioner)  # the paths and path probabilities, before any thread reads them
    conditioner.paths(max(p.months for p in PERIODS) // 3 + 2)
    ids = list(indicators) if indicators is not None else case.indicator_ids
    workers = workers or min(2, os.cpu_count() or 1)
    done = [0]
    lock = threading.Lock()

    def one(k: int) -> dict[str, Any]:
        entry = _indicator_entry(conditioner, base, ids[k], np.random.default_rng([seed, k]))
        if progress is not None:
            with lock:
                done[0] += 1
                progress(done[0] / max(len(ids), 1), f"watch list: {ids[k]}")
        return entry

    if workers <= 1:
        out_indicators = [one(k) for k in range(len(ids))]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="harbinger-watch") as pool:
            out_indicators = list(pool.map(one, range(len(ids))))
    if progress is not None:
        progress(1.0, "watch list done")
    periods = []
    for p in PERIODS:
        start, end = p.dates(design.as_of)
        periods.append(
            {"id": p.id, "label": p.label, "months": p.months, "start": start.isoformat(), "end": end.isoformat()}
        )
    return {
        "version": WATCH_VERSION,
        "as_of": design.as_of.isoformat(),
        "seconds": round(time.perf_counter() - started, 2),
        "settings": {
            "draws": int(conditioner.draws.n),
            "chains": int(conditioner.draws.chains),
            "paths": int(conditioner.n_paths),
            "grid_max": GRID_MAX,
            "predictive_draws": PREDICTIVE_DRAWS,
            "plausible": list(PLAUSIBLE),
            "khat_max": KHAT_MAX,
            "unreliable_share": UNRELIABLE_SHARE,
            "report_grade": f"{REPORT_GRADE[0]}{REPORT_GRADE[1]}",
            "seed": int(seed),
        },
        "periods": periods,
        "targets": base.targets,
        "indicators": out_indicators,
    }
