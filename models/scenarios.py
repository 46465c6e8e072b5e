"""Scenario forecasts: the posterior conditioned on a scenario's hypothetical observations,
compared with the run's own forecast for every outcome and horizon.

A scenario's observations are placed relative to the run's as-of date (``months_ahead`` months
later, lasting ``span_months`` months; see :func:`hypothetical_frame`). Two methods:

``reweighting`` (the fast path)
    Pareto-smoothed importance reweighting of the run's draws and simulated future paths
    (:mod:`models.reweight`). The baseline comes from the very same draws and paths, so the
    difference carries no Monte Carlo noise from the paths. Its k-hat is reported; above
    :data:`models.reweight.KHAT_MAX` the result is marked unreliable.
``refit``
    The model fitted again with the hypothetical observations as data
    (:func:`models.reweight.extended_design`: the grid is lengthened so the model samples the
    factor states of the hypothetical quarters; forecasts continue from them). Exact up to MCMC
    error; slow. It is the method whenever the reweighting's k-hat is above 0.7.

Each result row (one per outcome and horizon)::

    {"outcome", "years",
     "baseline": {"p_mean", "p_05", "p_95"},
     "scenario": {"p_mean", "p_05", "p_95", "mcse"},
     "difference": {"pp", "low_pp", "high_pp"},   # percentage points; 90% Monte Carlo interval
     "method": "reweighting" | "refit", "khat": float | null, "reliable": bool}

``difference.pp`` is ``100 * (scenario p_mean - baseline p_mean)``; ``low_pp``/``high_pp`` is
``pp ± 1.645 * MCSE`` of that difference (Monte Carlo error only: how precisely the change is
computed, not a credible interval of the probability, which ``p_05``/``p_95`` give).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from indicators.case import HypotheticalObservation, Scenario
from models.design import Design
from models.forecast import PATHS_PER_DRAW, Draws, outcome_path_probabilities
from models.grid import CELLS_PER_YEAR, add_months
from models.reweight import (
    KHAT_MAX,
    Conditioner,
    Reweighted,
    extended_design,
    extended_paths,
    summarise,
    weighted_mcse,
)

Z90 = 1.6449

Progress = Callable[[float, str], None]


@dataclass
class ScenarioSpec:
    """A scenario to run: from the case file (``origin="case file"``) or saved (``"saved"``)."""

    id: str
    name: str
    description: str
    observations: list[dict[str, Any]]
    origin: str = "case file"
    source: str = ""

    @classmethod
    def from_case(cls, scenario: Scenario) -> ScenarioSpec:
        return cls(
            id=scenario.id,
            name=scenario.name,
            description=scenario.description,
            observations=[o.model_dump() for o in scenario.observations],
            source=scenario.source,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "origin": self.origin,
            "source": self.source,
            "observations": self.observations,
        }


def hypothetical_frame(observations: Sequence[HypotheticalObservation | dict[str, Any]], as_of: date) -> pd.DataFrame:
    """The scenario's observations as dated rows (ids -1, -2, ...).

    An observation ``months_ahead`` months after ``as_of`` is dated that day; with ``span_months``
    it covers the ``span_months`` months from that day (its end is the day before). A span of 0
    is a single day (an event).
    """
    rows = []
    for k, raw in enumerate(observations):
        h = raw if isinstance(raw, HypotheticalObservation) else HypotheticalObservation.model_validate(raw)
        start = add_months(as_of, h.months_ahead)
        end = add_months(start, h.span_months) - timedelta(days=1) if h.span_months else start
        rows.append(
            {
                "id": -(k + 1),
                "indicator": h.indicator,
                "date": pd.Timestamp(start),
                "end": pd.Timestamp(end),
                "value": float(h.value),
                "reliability": h.reliability,
                "credibility": int(h.credibility),
                "note": h.note,
            }
        )
    frame = pd.DataFrame(
        rows, columns=["id", "indicator", "date", "end", "value", "reliability", "credibility", "note"]
    )
    return frame


@dataclass
class ScenarioResult:
    """A scenario compared with the baseline (see the module docstring for ``rows``)."""

    scenario: ScenarioSpec
    method: str
    khat: float | None
    reliable: bool
    rows: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]
    baseline: list[dict[str, Any]]
    reweighting_khat: float | None = None
    ignored: list[tuple[int, str]] = field(default_factory=list)
    diagnostics: dict[str, Any] | None = None
    hypothetical: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.as_dict(),
            "method": self.method,
            "khat": _r(self.khat, 3),
            "khat_max": KHAT_MAX,
            "reliable": self.reliable,
            "reweighting_khat": _r(self.reweighting_khat, 3),
            "hypothetical_observations": self.hypothetical,
            "ignored": [{"observation": i, "reason": r} for i, r in self.ignored],
            "refit_diagnostics": self.diagnostics,
            "results": self.rows,
            "resolved": [o["id"] for o in self.baseline if o.get("resolved")],
        }


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def compare(baseline: Reweighted, scenario: Reweighted, *, method: str, common: bool) -> list[dict[str, Any]]:
    """Rows per outcome and horizon; ``common`` when both come from the same draws and paths
    (then the difference's Monte Carlo error accounts for their correlation)."""
    rows = []
    khat = scenario.khat if method == "reweighting" else None
    reliable = scenario.reliable if method == "reweighting" else True
    for o in baseline.outcomes:
        if o["resolved"]:
            continue
        for hb in o["horizons"]:
            key = (o["id"], hb["years"])
            hs = scenario.horizon(*key)
            if hs is None:
                continue
            pb, wb, chains = baseline.per_draw[key]
            ps, ws, _ = scenario.per_draw[key]
            diff = hs["p_mean"] - hb["p_mean"]
            if common:
                mb, ms = float((wb * pb).sum()), float((ws * ps).sum())
                se = weighted_mcse(len(pb) * (ws * (ps - ms) - wb * (pb - mb)), chains)
            else:
                se = float(np.hypot(hb["mcse"] or 0.0, hs["mcse"] or 0.0))
            rows.append(
                {
                    "outcome": o["id"],
                    "years": hb["years"],
                    "baseline": {k: hb[k] for k in ("p_mean", "p_05", "p_95")},
                    "scenario": {k: hs[k] for k in ("p_mean", "p_05", "p_95", "mcse")},
                    "difference": {
                        "pp": _r(100 * diff, 2),
                        "low_pp": _r(100 * (diff - Z90 * se), 2),
                        "high_pp": _r(100 * (diff + Z90 * se), 2),
                    },
                    "method": method,
                    "khat": _r(khat, 3),
                    "reliable": bool(reliable),
                }
            )
    return rows


def reweighted_scenario(conditioner: Conditioner, spec: ScenarioSpec) -> ScenarioResult:
    """The fast path: the scenario by importance reweighting of the run's draws and paths."""
    design = conditioner.design
    hypo = hypothetical_frame(spec.observations, design.as_of)
    baseline = conditioner.baseline()
    result = conditioner.condition(add=hypo)
    rows = compare(baseline, result, method="reweighting", common=True)
    return ScenarioResult(
        scenario=spec,
        method="reweighting",
        khat=result.khat,
        reliable=result.reliable,
        rows=rows,
        outcomes=result.outcomes,
        baseline=baseline.outcomes,
        reweighting_khat=result.khat,
        ignored=result.ignored,
        hypothetical=_records(hypo),
    )


def refit_scenario(
    conditioner: Conditioner,
    spec: ScenarioSpec,
    settings: Any,
    *,
    progress: Progress | None = None,
    reweighting_khat: float | None = None,
) -> ScenarioResult:
    """The scenario by fitting the model again with the hypothetical observations as data.

    ``settings`` are :class:`models.fit.FitSettings` (normally the run's own). The refit starts
    from the run's posterior when the conditioner holds it (``warm_start``). The baseline is the
    run's forecast from its own draws; the difference's Monte Carlo error combines both runs'.
    """
    from models.fit import Remembered, diagnostics, sample
    from models.forecast import draws_of

    design = conditioner.design
    if conditioner.observations is None:
        raise ValueError("a refit needs the observations the run was fitted on")
    hypo = hypothetical_frame(spec.observations, design.as_of)
    ext = extended_design(design, conditioner.observations, hypo)

    last: list[tuple[Any, Reweighted]] = []  # the draws last forecast, and their forecast

    def forecast(idata: Any) -> Reweighted:
        # once per draws: the judge forecasts the draws it looks at, and a refit keeps those of
        # its passing look (or the draws it made to the end, which its verdict judges afterwards)
        if last and last[0][0] is idata.posterior:
            return last[0][1]
        result = forecast_extended(ext, draws_of(ext, idata), seed=conditioner.seed, paths=conditioner.n_paths)
        last[:] = [(idata.posterior, result)]
        return result

    def judged(idata: Any, ess_margin: float = 1.0) -> dict[str, Any]:
        # the refit is judged by the probabilities it reports, its parameters and every factor
        # state of its grid (which reaches the quarters of its hypothetical observations)
        return diagnostics(
            idata,
            outcome_probability=per_draw_probabilities(forecast(idata)),
            observed_periods=ext.grid.n_cells,
            ess_margin=ess_margin,
        )

    judge = Remembered(judged)  # a refit that stops early is not judged again
    idata = sample(ext, settings, progress=progress, judge=judge, warm_start=conditioner.posterior)
    result = forecast(idata)
    baseline = conditioner.baseline()
    rows = compare(baseline, result, method="refit", common=False)
    return ScenarioResult(
        scenario=spec,
        method="refit",
        khat=None,
        reliable=True,
        rows=rows,
        outcomes=result.outcomes,
        baseline=baseline.outcomes,
        reweighting_khat=reweighting_khat,
        diagnostics=judge.verdict(idata),
        hypothetical=_records(hypo),
    )


def per_draw_probabilities(forecast: Reweighted) -> xr.DataArray:
    """Each draw's probability of each outcome by each horizon of an unweighted forecast, as
    (chain, draw, outcome_horizon), the form :func:`models.fit.diagnostics` judges."""
    names = [f"{outcome}@{years}y" for outcome, years in forecast.per_draw]
    grids = [p.reshape(int(chains), -1) for p, _, chains in forecast.per_draw.values()]
    return xr.DataArray(
        np.stack(grids, axis=-1) if grids else np.zeros((1, 0, 0)),
        dims=("chain", "draw", "outcome_horizon"),
        coords={"outcome_horizon": names},
    )


def forecast_extended(design: Design, draws: Draws, *, seed: int = 0, paths: int = PATHS_PER_DRAW) -> Reweighted:
    """Outcome forecasts of a fit on an extended design (uniform weights)."""
    n = max(h for o in design.case.outcomes for h in o.horizons) * CELLS_PER_YEAR
    prob = outcome_path_probabilities(draws, extended_paths(design, draws, n, paths=paths, seed=seed))
    return summarise(design, draws, prob, None)


def run_scenario(
    conditioner: Conditioner, spec: ScenarioSpec, *, refit_settings: Any | None = None, progress: Progress | None = None
) -> ScenarioResult:
    """Reweight; when k-hat is above :data:`KHAT_MAX` and ``refit_settings`` are given, refit.

    Without ``refit_settings`` an unreliable reweighting is returned marked ``reliable=False``.
    """
    fast = reweighted_scenario(conditioner, spec)
    if fast.reliable or refit_settings is None:
        return fast
    return refit_scenario(conditioner, spec, refit_settings, progress=progress, reweighting_khat=fast.khat)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in frame.to_dict("records"):
        out.append(
            {
                "indicator": rec["indicator"],
                "date": pd.Timestamp(rec["date"]).date().isoformat(),
                "end": pd.Timestamp(rec["end"]).date().isoformat(),
                "value": float(rec["value"]),
                "reliability": rec["reliability"],
                "credibility": int(rec["credibility"]),
                "note": rec.get("note", ""),
            }
        )
    return out
