"""Pareto-smoothed importance reweighting of a run's posterior draws.

A run's draws are a sample from ``p(theta | y)``. Conditioning on observations the fit did not
see (a scenario's hypothetical ones, a report recorded since the run) or leaving out ones it did
see (explanations of a change) changes the posterior by the likelihood ratio of the two data
sets, so the same draws, reweighted, estimate the new posterior::

    w(theta) ∝ p(y' | theta) / p(y | theta)

The weights are Pareto-smoothed (PSIS, Vehtari et al. 2024; ``arviz.psislw``) and their Pareto
shape k-hat says whether the estimate can be trusted: above :data:`KHAT_MAX` (0.7) the new
posterior is too far from the old one and a refit is needed instead.

Two kinds of rows, both evaluated with :func:`models.families.row_logliks` on NumPy arrays:

- **Rows within the run's data window** (the period ends on or before the run's as-of date):
  the run's design is rebuilt from the changed observations with the design machinery
  (:func:`models.design.build_design`; an event joins its quarter's count, exactly as a fit would
  see it) and the draw's log-likelihood of the rebuilt rows minus that of the run's rows is the
  log weight. Standardisation constants stay those of the run, so the draws' linear predictor
  means the same thing in both.
- **Rows beyond the as-of date** (hypothetical future observations): there are no factor states
  for those quarters in the posterior. Each draw's factor path is continued by the same simulated
  AR(1) paths the forecast uses (:func:`models.forecast.future_paths`, same seed), the row's
  likelihood is evaluated on every (draw, path) pair, and the importance weights apply to the
  pairs: ``p(theta, path | y, y*) ∝ p(theta | y) p(path | theta) p(y* | theta, path)``. An
  outcome's probability under the scenario is then the weighted mean of its probability along
  each path, so the forecast is conditioned on the hypothetical future, not only on what it says
  about the parameters. A future ``events`` observation says how many events happen in its
  quarter (the part of the quarter after the as-of date); quarters no observation mentions stay
  unconstrained.

Summaries per outcome and horizon have the ``forecast.json`` format (``p_mean``, quantiles,
``mcse``, ``ess``): a draw's probability is the weighted mean over its paths, the draw's weight the
sum of its pairs' weights; quantiles are weighted quantiles over draws. ``mcse`` is the
Monte Carlo standard error of the self-normalised estimate from correlated draws
(:func:`weighted_mcse`): to first order ``sum_i w_i (p_i - mean)`` is the mean of the chain series
``u_i = D w_i (p_i - mean)``, so its error is ``sd(u) / sqrt(ESS(u))``, which carries both the
weights' unevenness and the draws' autocorrelation as the weighted quantity sees it. ``ess`` is
the number of independent draws that error is worth: the weighted variance of ``p`` over
``mcse^2``. With uniform weights both reduce exactly to the run's own (``arviz.mcse``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import arviz as az
import numpy as np
import pandas as pd

from indicators.case import Case
from indicators.errors import BadInput
from models.design import Design, build_design, capacity, genuine_probability
from models.families import FAMILIES, NAMES, row_logliks
from models.forecast import (
    PATHS_PER_DRAW,
    QUANTILES,
    Draws,
    draws_of,
    future_paths,
    outcome_path_probabilities,
)
from models.grid import CELLS_PER_YEAR, to_date
from models.likelihood import NUMPY

#: Pareto k-hat above which reweighting is not trusted (Vehtari et al. 2024).
KHAT_MAX = 0.7
#: Draws per chunk when evaluating likelihoods (bounds memory on large runs).
CHUNK = 400
FRAME_COLUMNS = ["id", "indicator", "date", "end", "value", "reliability", "credibility"]


# ---------------------------------------------------------------------------- frames


def as_frame(rows: pd.DataFrame | list[dict[str, Any]]) -> pd.DataFrame:
    """Observation rows (a frame or dicts with ``indicator, date, end, value, reliability,
    credibility`` and optionally ``id``) as the frame :func:`build_design` takes. Rows without an
    id get negative ids (-1, -2, ...), which no stored observation has."""
    frame = pd.DataFrame(rows).copy() if not isinstance(rows, pd.DataFrame) else rows.copy()
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in FRAME_COLUMNS})
    if "id" not in frame:
        frame["id"] = -np.arange(1, len(frame) + 1)
    if "end" not in frame:
        frame["end"] = frame["date"]
    frame["reliability"] = frame.get("reliability", pd.Series("B", index=frame.index)).fillna("B")
    frame["credibility"] = frame.get("credibility", pd.Series(2, index=frame.index)).fillna(2).astype(int)
    frame["date"] = pd.to_datetime(frame["date"])
    frame["end"] = pd.to_datetime(frame["end"]).fillna(frame["date"])
    frame["value"] = frame["value"].astype(float)
    return frame


def split_at(frame: pd.DataFrame, as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows whose period ends on or before ``as_of`` (within the run's data window), and the rest."""
    if frame.empty:
        return frame, frame
    inside = pd.to_datetime(frame["end"]).dt.date <= as_of
    return frame.loc[inside], frame.loc[~inside]


# ---------------------------------------------------------------------------- rows in the window


def rebuild(design: Design, observations: pd.DataFrame) -> Design:
    """The design of ``observations`` at ``design``'s as-of date, on ``design``'s scales.

    Built by :func:`build_design`; the standardisation of continuous values and the centres of
    count rates (which :func:`build_design` takes from the data) are reset to ``design``'s, so a
    row that did not change has exactly the same likelihood in both designs.
    """
    new = build_design(design.case, observations, as_of=design.as_of, reviewed=design.reviewed)
    for fam in FAMILIES:
        fam.rebase(new.families[fam.name], new.constants, design.constants, new.priors)
    new.constants = {name: value.copy() for name, value in design.constants.items()}
    return new


def _params_slice(params: dict[str, Any], sub: slice | np.ndarray, repeat: int = 1) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, np.ndarray):
            v = v[sub]
            out[k] = np.repeat(v, repeat, axis=0) if repeat > 1 else v
        else:
            out[k] = v
    return out


def design_loglik(design: Design, draws: Draws) -> np.ndarray:
    """Each draw's log-likelihood of every indicator row of ``design`` (outcomes excluded), (D,)."""
    data = design.data()
    out = np.empty(draws.n)
    for s in range(0, draws.n, CHUNK):
        sub = slice(s, s + CHUNK)
        eta = draws.intercept[sub, None, :] + np.einsum("dkt,dik->dti", draws.factor_state[sub], draws.loading[sub])
        ll = row_logliks(NUMPY, _params_slice(draws.params, sub), eta, data, batched=True)
        out[sub] = sum(v.sum(axis=-1) for v in ll.values()) if ll else 0.0
    return out


# ---------------------------------------------------------------------------- rows beyond the window


@dataclass
class FutureRows:
    """Rows beyond the as-of date, as ``Design.data()``-style arrays over a compact set of cells.

    ``cells`` are the absolute grid cells the rows touch (they may lie beyond the design's grid);
    each family's ``{family}_cells`` index into ``cells``.
    """

    data: dict[str, np.ndarray]
    cells: np.ndarray
    table: pd.DataFrame
    families: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.table)

    @property
    def last_cell(self) -> int:
        return int(self.cells.max()) if len(self.cells) else -1


def future_rows(design: Design, frame: pd.DataFrame) -> FutureRows:
    """Likelihood rows of observations whose period ends after the design's as-of date.

    - ``events`` counts: single-day events are counted per quarter (one row per indicator and
      quarter, covering the part of the quarter after the as-of date); an observation over a
      period (e.g. "no summit for 12 months", value 0) is one row: the number of events in its
      period after the as-of date.
    - ``total`` counts: the rate summed over the covered cells, as in the design.
    - level families: the linear predictor averaged over the covered cells.
    Values are on the design's scales (continuous values standardised with its constants).
    """
    case, grid = design.case, design.grid
    as_of = design.as_of
    index = {ind.id: k for k, ind in enumerate(case.indicators)}
    raw: dict[str, list[dict[str, Any]]] = {f: [] for f in NAMES}
    table: list[dict[str, Any]] = []
    grouped: dict[tuple[str, int], dict[str, Any]] = {}
    for rec in frame.itertuples(index=False):
        if rec.indicator not in index:
            raise BadInput(f"indicator '{rec.indicator}' is not in case '{case.id}'.")
        ind = case.indicator(rec.indicator)
        d0, d1 = to_date(rec.date), to_date(rec.end)
        w = genuine_probability(rec.reliability, int(rec.credibility), design.priors)
        if ind.aggregation == "events":
            lo = max(d0, as_of + timedelta(days=1))
            if d1 == d0:
                c = grid.cell_of(d0)
                key = (rec.indicator, c)
                g = grouped.setdefault(
                    key,
                    {
                        "indicator": rec.indicator,
                        "y": 0.0,
                        "trust": [],
                        "ids": [],
                        "start": max(grid.cell_start(c), lo),
                        "end": grid.cell_end(c),
                    },
                )
                g["y"] += float(rec.value)
                g["trust"].append(w)
                g["ids"].append(int(rec.id))
                continue
            cells, weights = grid.coverage(lo, d1)
            raw[ind.family].append(
                dict(
                    indicator=rec.indicator,
                    cells=cells,
                    weights=weights,
                    y=float(rec.value),
                    w=w,
                    start=lo,
                    end=d1,
                    ids=[int(rec.id)],
                )
            )
            continue
        cells, weights = grid.coverage(d0, d1)
        if ind.aggregation == "level":
            weights = weights / weights.sum()
        raw[ind.family].append(
            dict(
                indicator=rec.indicator,
                cells=cells,
                weights=weights,
                y=float(rec.value),
                w=w,
                start=d0,
                end=d1,
                ids=[int(rec.id)],
            )
        )
    for (iid, c), g in grouped.items():
        exposure = ((g["end"] - g["start"]).days + 1) / grid.cell_days(c)
        raw[case.indicator(iid).family].append(
            dict(
                indicator=iid,
                cells=np.array([c]),
                weights=np.array([exposure]),
                y=g["y"],
                w=float(np.mean(g["trust"])),
                start=g["start"],
                end=g["end"],
                ids=g["ids"],
            )
        )

    all_cells = sorted({int(c) for rows in raw.values() for r in rows for c in r["cells"]})
    cells = np.asarray(all_cells, dtype=np.int64)
    position = {c: k for k, c in enumerate(all_cells)}
    data: dict[str, np.ndarray] = {}
    for family in FAMILIES:
        data.update(family.future_data(design.constants))
    fam_arrays: dict[str, dict[str, np.ndarray]] = {}
    for family in FAMILIES:
        fam = family.name
        rows = raw[fam]
        n = len(rows)
        span = max([len(r["cells"]) for r in rows] + [1])
        local_of = {index[i]: k for k, i in enumerate(design.family_indicators[fam])}
        arr = {
            "indicator": np.zeros(n, dtype=np.int64),
            "local": np.zeros(n, dtype=np.int64),
            "cells": np.zeros((n, span), dtype=np.int64),
            "abs_cells": np.zeros((n, span), dtype=np.int64),
            "weights": np.zeros((n, span)),
            "y": np.zeros(n),
            "log_w": np.zeros(n),
            "log_1mw": np.zeros(n),
            "lp_spurious": np.zeros(n),
            "mask": np.ones(n),
        }
        for j, r in enumerate(rows):
            i = index[r["indicator"]]
            loc = local_of[i]
            k = len(r["cells"])
            arr["indicator"][j], arr["local"][j] = i, loc
            arr["cells"][j, :k] = [position[int(c)] for c in r["cells"]]
            arr["abs_cells"][j, :k] = r["cells"]
            arr["weights"][j, :k] = r["weights"]
            y = family.standardise(r["y"], design.constants, loc)
            arr["y"][j] = y
            arr["log_w"][j], arr["log_1mw"][j] = np.log(r["w"]), np.log1p(-r["w"])
            arr["lp_spurious"][j] = family.spurious(y, float(r["weights"].sum()), loc, design.constants, design.priors)
            table.append(
                {
                    "family": fam,
                    "row": j,
                    "indicator": r["indicator"],
                    "start": pd.Timestamp(r["start"]),
                    "end": pd.Timestamp(r["end"]),
                    "value": float(r["y"]),
                    "genuine": r["w"],
                    "observation_ids": list(r["ids"]),
                }
            )
        fam_arrays[fam] = arr
        for key in ("indicator", "local", "cells", "weights", "y", "log_w", "log_1mw", "lp_spurious", "mask"):
            data[f"{fam}_{key}"] = arr[key]
    return FutureRows(data=data, cells=cells, table=pd.DataFrame(table), families=fam_arrays)


def future_loglik(design: Design, draws: Draws, paths: np.ndarray, rows: FutureRows) -> np.ndarray:
    """Log-likelihood of ``rows`` on each (draw, path) pair, (D, P).

    Cells up to the as-of cell take the draw's factor states; later cells take the path's
    (``paths[:, :, :, j]`` is the ``j + 1``-th cell after the as-of cell).
    """
    D, P = paths.shape[0], paths.shape[1]
    if rows.n_rows == 0:
        return np.zeros((D, P))
    a = design.grid.as_of_cell
    if rows.last_cell - a > paths.shape[-1]:
        raise ValueError("the simulated paths do not reach the last cell of the rows")
    out = np.empty((D, P))
    for s in range(0, D, max(1, CHUNK // P)):
        sub = slice(s, min(s + max(1, CHUNK // P), D))
        n = sub.stop - sub.start
        f = np.empty((n, P, paths.shape[2], len(rows.cells)))
        for k, c in enumerate(rows.cells):
            f[..., k] = draws.factor_state[sub, None, :, c] if c <= a else paths[sub, :, :, c - a - 1]
        eta = draws.intercept[sub, None, None, :] + np.einsum("dpkc,dik->dpci", f, draws.loading[sub])
        eta = eta.reshape(n * P, len(rows.cells), -1)
        ll = row_logliks(NUMPY, _params_slice(draws.params, sub, repeat=P), eta, rows.data, batched=True)
        total = sum(v.sum(axis=-1) for v in ll.values()) if ll else np.zeros(n * P)
        out[sub] = np.asarray(total).reshape(n, P)
    return out


# ---------------------------------------------------------------------------- weights and summaries


def psis(log_ratio: np.ndarray, *, reff: float = 1.0) -> tuple[np.ndarray, float]:
    """Pareto-smoothed, normalised log weights (same shape as ``log_ratio``) and k-hat.

    All samples are smoothed together (a ``(D, P)`` array is flattened over draws and paths).
    A constant ratio (nothing changed) gives uniform weights and k-hat 0.
    """
    flat = np.asarray(log_ratio, dtype=float).ravel()
    if not np.all(np.isfinite(flat)):
        raise ValueError("log importance ratios must be finite")
    if np.ptp(flat) == 0.0:
        return np.full(log_ratio.shape, -np.log(flat.size)), 0.0
    lw, k = az.psislw(flat - flat.max(), reff=reff)
    return np.asarray(lw).reshape(log_ratio.shape), float(k)


def weighted_mcse(u: np.ndarray, chains: int) -> float:
    """Monte Carlo standard error of ``mean(u)`` for a series of draws ``u`` (chain after chain):
    ``sd(u) / sqrt(ESS(u))``, the ESS from ``u``'s own autocorrelation within and across chains."""
    if not np.any(u):
        return 0.0
    return float(np.ravel(az.mcse(np.asarray(u, dtype=float).reshape(chains, -1), method="mean"))[0])


def weighted_quantiles(x: np.ndarray, w: np.ndarray, qs: list[float]) -> np.ndarray:
    """Quantiles of ``x`` under normalised weights ``w`` (mid-point rule on the weighted CDF)."""
    keep = w > 0
    order = np.argsort(x[keep])
    xs, ws = x[keep][order], w[keep][order]
    cdf = (np.cumsum(ws) - 0.5 * ws) / ws.sum()
    return np.interp(qs, cdf, xs)


@dataclass
class Reweighted:
    """A forecast conditioned by importance weights, with its diagnostic.

    ``outcomes`` has the ``forecast.json`` format; ``per_draw[(outcome_id, years)]`` holds each
    draw's probability ``p`` (weighted over its paths), the draw's weight ``w`` (sums to 1) and the
    number of chains the draws come from (in order, chain after chain), for :func:`weighted_mcse`.
    ``ignored`` lists observation ids that carry no information for this design, with why.
    """

    outcomes: list[dict[str, Any]]
    khat: float
    ess: float
    per_draw: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, float]]
    log_weights: np.ndarray
    ignored: list[tuple[int, str]] = field(default_factory=list)

    @property
    def reliable(self) -> bool:
        return bool(self.khat <= KHAT_MAX)

    def horizon(self, outcome_id: str, years: int) -> dict[str, Any] | None:
        for o in self.outcomes:
            if o["id"] == outcome_id:
                return next((h for h in o["horizons"] if h["years"] == years), None)
        return None


def _r(x: float, nd: int = 4) -> float | None:
    return None if not np.isfinite(x) else round(float(x), nd)


def summarise(
    design: Design,
    draws: Draws,
    prob: np.ndarray,
    log_weights: np.ndarray | None,
    *,
    khat: float = 0.0,
    ignored: list[tuple[int, str]] | None = None,
) -> Reweighted:
    """Per outcome and horizon summaries of path probabilities ``prob`` (D, P, O, H) under
    normalised pair weights ``exp(log_weights)`` (D, P); ``None`` means uniform (the run itself)."""
    D, P = prob.shape[:2]
    if log_weights is None:
        pair_w = np.full((D, P), 1.0 / (D * P))
    else:
        pair_w = np.exp(log_weights - np.logaddexp.reduce(log_weights.ravel()))
    draw_w = pair_w.sum(axis=1)
    is_ess = 1.0 / float((draw_w**2).sum())
    case = design.case
    out, per_draw = [], {}
    min_eff = 1.0
    for o, outcome in enumerate(case.outcomes):
        resolved = outcome.resolved is not None and outcome.resolved.date <= design.as_of
        entry: dict[str, Any] = {
            "id": outcome.id,
            "question": outcome.question,
            "resolved": resolved,
            "resolution_date": outcome.resolved.date.isoformat() if resolved else None,
            "horizons": [],
        }
        if not resolved:
            for h in outcome.horizons:
                pp = prob[:, :, o, h * CELLS_PER_YEAR - 1]
                base = pp.mean(axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    p = np.where(draw_w > 0, (pair_w * pp).sum(axis=1) / draw_w, base)
                mean = float((draw_w * p).sum())
                mcmc_ess = float(np.ravel(az.ess(base.reshape(draws.chains, -1)))[0])
                eff = min(1.0, mcmc_ess / D) if np.isfinite(mcmc_ess) and mcmc_ess > 0 else 1.0
                min_eff = min(min_eff, eff)
                if log_weights is None:
                    q = dict(zip(QUANTILES, np.quantile(p, list(QUANTILES.values()))))
                else:
                    q = dict(zip(QUANTILES, weighted_quantiles(p, draw_w, list(QUANTILES.values()))))
                if log_weights is None:  # exactly as the run's forecast reports them
                    grid = p.reshape(draws.chains, -1)
                    mcse, ess = float(np.ravel(az.mcse(grid))[0]), mcmc_ess
                else:
                    mcse = weighted_mcse(D * draw_w * (p - mean), draws.chains)
                    spread = float((draw_w * (p - mean) ** 2).sum())
                    ess = spread / mcse**2 if mcse > 0 else float(D)
                entry["horizons"].append(
                    {
                        "years": h,
                        "p_mean": _r(mean),
                        **{k: _r(v) for k, v in q.items()},
                        "mcse": _r(mcse, 5),
                        "ess": _r(ess, 1),
                    }
                )
                per_draw[(outcome.id, h)] = (p, draw_w, draws.chains)
        out.append(entry)
    return Reweighted(
        outcomes=out,
        khat=float(khat),
        ess=is_ess * min_eff,
        per_draw=per_draw,
        log_weights=np.log(np.maximum(pair_w, 1e-300)),
        ignored=list(ignored or []),
    )


# ---------------------------------------------------------------------------- the conditioner


class Conditioner:
    """A run's draws, ready to be conditioned on changed or extra observations many times.

    Parameters
    ----------
    design
        The run's design (built from ``observations`` at the run's as-of date).
    draws
        The run's posterior draws (:func:`models.forecast.draws_of`).
    observations
        The frame the design was built from; needed when rows within the run's window change.
    seed, paths
        Seed and number of simulated future paths per draw; the run's own seed and
        :data:`models.forecast.PATHS_PER_DRAW` reproduce its forecast exactly.
    posterior
        The run's posterior (with its value variables), which a refit starts from
        (:func:`models.fit.sample`'s ``warm_start``); None: a refit starts from the prior.
    """

    def __init__(
        self,
        design: Design,
        draws: Draws,
        *,
        observations: pd.DataFrame | None = None,
        seed: int = 0,
        paths: int = PATHS_PER_DRAW,
        posterior: Any = None,
    ):
        self.design, self.draws = design, draws
        self.posterior = posterior
        self.observations = observations
        self.seed, self.n_paths = int(seed), int(paths)
        self.horizon_cells = max(h for o in design.case.outcomes for h in o.horizons) * CELLS_PER_YEAR
        self._paths: np.ndarray | None = None
        self._prob: np.ndarray | None = None
        self._base_ll: np.ndarray | None = None

    def paths(self, n_cells: int = 0) -> np.ndarray:
        """Simulated future factor paths (D, P, K, >= max(horizon, n_cells)), seeded as the forecast's."""
        need = max(self.horizon_cells, int(n_cells))
        if self._paths is None or self._paths.shape[-1] < need:
            self._paths = future_paths(
                self.draws, self.design.grid.as_of_cell, need, paths=self.n_paths, seed=self.seed
            )
        return self._paths

    def path_probabilities(self) -> np.ndarray:
        if self._prob is None:
            self._prob = outcome_path_probabilities(self.draws, self.paths()[..., : self.horizon_cells])
        return self._prob

    def base_loglik(self) -> np.ndarray:
        if self._base_ll is None:
            self._base_ll = design_loglik(self.design, self.draws)
        return self._base_ll

    def baseline(self) -> Reweighted:
        """The run's own forecast from these draws and paths (uniform weights)."""
        return summarise(self.design, self.draws, self.path_probabilities(), None)

    def loglik_change(self, observations_after: pd.DataFrame) -> tuple[np.ndarray, Design]:
        """Per draw, log p(y' | theta) - log p(y | theta) for the observations in the run's window
        replaced by ``observations_after``; also the rebuilt design."""
        new = rebuild(self.design, observations_after)
        return design_loglik(new, self.draws) - self.base_loglik(), new

    def condition(
        self, *, add: pd.DataFrame | list[dict[str, Any]] | None = None, observations_after: pd.DataFrame | None = None
    ) -> Reweighted:
        """The forecast given extra observations ``add`` and/or the run's window's observations
        replaced by ``observations_after`` (e.g. with some left out)."""
        extra = as_frame(add if add is not None else [])
        past, future = split_at(extra, self.design.as_of)
        ignored: list[tuple[int, str]] = []
        D = self.draws.n
        ll_past = np.zeros(D)
        if len(past) or observations_after is not None:
            base = observations_after if observations_after is not None else self.observations
            if base is None:
                raise ValueError(
                    "observations (the frame the run's design was built from) are needed to "
                    "condition on observations within the run's window"
                )
            after = (
                pd.concat([as_frame(base)[FRAME_COLUMNS], past[FRAME_COLUMNS]], ignore_index=True)
                if len(past)
                else as_frame(base)
            )
            ll_past, new = self.loglik_change(after)
            used = {int(i) for ids in new.rows["observation_ids"] for i in ids}
            excluded = dict(new.excluded)
            for oid in past["id"]:
                if int(oid) in excluded:
                    ignored.append((int(oid), excluded[int(oid)]))
                elif int(oid) not in used:
                    ignored.append((int(oid), "outside the indicator's coverage window"))
        rows = future_rows(self.design, future) if len(future) else None
        if rows is not None and rows.n_rows:
            paths = self.paths(rows.last_cell - self.design.grid.as_of_cell)
            log_ratio = ll_past[:, None] + future_loglik(self.design, self.draws, paths, rows)
            lw, khat = psis(log_ratio)
        else:
            lw_d, khat = psis(ll_past)
            lw = np.repeat(lw_d[:, None], self.n_paths, axis=1) - np.log(self.n_paths)
        return summarise(self.design, self.draws, self.path_probabilities(), lw, khat=khat, ignored=ignored)


def reweighted_forecast(
    design_or_case: Design | Case,
    idata: az.InferenceData,
    extra: pd.DataFrame | list[dict[str, Any]],
    as_of: date | None = None,
    *,
    observations: pd.DataFrame | None = None,
    seed: int | None = None,
    paths: int = PATHS_PER_DRAW,
) -> tuple[list[dict[str, Any]], float]:
    """Outcome forecasts of a saved run conditioned on ``extra`` observations, and the k-hat.

    Parameters
    ----------
    design_or_case
        The run's design, or its case (then ``observations`` and ``as_of`` build the design).
    idata
        The run's posterior (``models.runs.load_posterior``).
    extra
        Rows ``indicator, date, end, value, reliability, credibility`` (past or future).
    observations
        The frame the run was fitted on; required for rows on or before the run's as-of date.
    seed
        Seed of the future paths (default: the run's seed from ``idata``'s attributes, so the
        unconditioned forecast equals the run's).

    Returns
    -------
    (outcomes in the ``forecast.json`` format, k-hat). k-hat above :data:`KHAT_MAX` means the
    result is not reliable: refit instead.
    """
    if isinstance(design_or_case, Design):
        design = design_or_case
    else:
        if observations is None or as_of is None:
            raise ValueError("a case needs observations and as_of to build the run's design")
        design = build_design(design_or_case, observations, as_of=as_of)
    draws = draws_of(design, idata)
    result = Conditioner(
        design, draws, observations=observations, seed=run_seed(idata) if seed is None else seed, paths=paths
    ).condition(add=extra)
    return result.outcomes, result.khat


def run_seed(idata: az.InferenceData) -> int:
    """The seed a saved run's forecast used (from its posterior attributes), else 0."""
    import json

    settings = idata.posterior.attrs.get("settings")
    try:
        return int(json.loads(settings)["seed"]) if isinstance(settings, str) else int(settings["seed"])
    except (TypeError, KeyError, ValueError):
        return 0


# ---------------------------------------------------------------------------- extended designs (refits)


def extended_design(design: Design, observations: pd.DataFrame, extra: pd.DataFrame) -> Design:
    """``design`` with ``extra`` observations added as data, for a refit that conditions exactly.

    Rows within the window are rebuilt (as :func:`rebuild`); rows beyond the as-of date are
    appended with the same construction as :func:`future_rows`, and the grid is lengthened (to a
    multiple of 8 quarters) so that the model samples factor states for their quarters. Arrays
    over grid cells are padded with zeros (no outcome is at risk after the as-of date). The
    forecast of such a design continues from its sampled states (:func:`extended_paths`).
    """
    extra = as_frame(extra)
    past, future = split_at(extra, design.as_of)
    base = (
        pd.concat([as_frame(observations)[FRAME_COLUMNS], past[FRAME_COLUMNS]], ignore_index=True)
        if len(past)
        else as_frame(observations)
    )
    new = rebuild(design, base)
    rows = future_rows(design, future)
    if rows.n_rows == 0:
        return new
    T_old = new.grid.n_cells
    T = max(T_old, int(np.ceil((rows.last_cell + 1) / 8) * 8))
    grid = dataclasses.replace(new.grid, n_cells=T)
    families = {}
    for fam, fr in new.families.items():
        add = rows.families[fam]
        n_add = len(add["y"])
        if n_add == 0:
            families[fam] = fr
            continue
        n = fr.n_rows
        span = max(fr.cells.shape[1], add["abs_cells"].shape[1])
        cap = capacity(n + n_add)

        def stack(
            base_arr: np.ndarray,
            extra_arr: np.ndarray,
            fill: float = 0.0,
            *,
            n: int = n,
            n_add: int = n_add,
            cap: int = cap,
            span: int = span,
        ) -> np.ndarray:
            shape = (cap,) + ((span,) if base_arr.ndim == 2 else ())
            out = np.full(shape, fill, dtype=base_arr.dtype)
            if base_arr.ndim == 2:
                out[:n, : base_arr.shape[1]] = base_arr[:n]
                out[n : n + n_add, : extra_arr.shape[1]] = extra_arr
            else:
                out[:n] = base_arr[:n]
                out[n : n + n_add] = extra_arr
            return out

        families[fam] = dataclasses.replace(
            fr,
            indicator=stack(fr.indicator, add["indicator"]),
            local=stack(fr.local, add["local"]),
            cells=stack(fr.cells, add["abs_cells"]),
            weights=stack(fr.weights, add["weights"]),
            y=stack(fr.y, add["y"]),
            log_w=stack(fr.log_w, add["log_w"], np.log(0.5)),
            log_1mw=stack(fr.log_1mw, add["log_1mw"], np.log(0.5)),
            lp_spurious=stack(fr.lp_spurious, add["lp_spurious"]),
            mask=stack(fr.mask, add["mask"]),
            n_rows=n + n_add,
        )
    changes: dict[str, Any] = {"grid": grid, "families": families}
    for f in dataclasses.fields(new):
        value = getattr(new, f.name)
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[-1] == T_old:
            pad = [(0, 0)] * (value.ndim - 1) + [(0, T - T_old)]
            changes[f.name] = np.pad(value, pad)
    table = rows.table.copy()
    if not table.empty:
        offsets = {fam: new.families[fam].n_rows for fam in NAMES}
        table["row"] = table["row"] + table["family"].map(offsets)
    changes["rows"] = pd.concat([new.rows, table], ignore_index=True)
    return dataclasses.replace(new, **changes)


def extended_paths(
    design: Design, draws: Draws, n_cells: int, *, paths: int = PATHS_PER_DRAW, seed: int = 0
) -> np.ndarray:
    """Future factor paths (D, P, K, n_cells) after the as-of cell of an extended design: the
    draw's sampled states for the quarters its grid holds beyond the as-of cell, then AR(1)
    continuations."""
    a = design.grid.as_of_cell
    held = min(design.grid.n_cells - 1 - a, n_cells)
    D, K = draws.persistence.shape
    out = np.empty((D, paths, K, n_cells))
    if held > 0:
        out[..., :held] = draws.factor_state[:, None, :, a + 1 : a + 1 + held]
    if n_cells > held:
        out[..., held:] = future_paths(draws, a + held, n_cells - held, paths=paths, seed=seed)
    return out
