"""Saved runs: a posterior file with its identity, and the forecast summary the views read.

A run directory holds:

``posterior.nc``
    The ArviZ InferenceData (netCDF). Its ``posterior`` attributes carry the run's identity:
    ``case_id``, ``case_hash``, ``data_hash``, ``n_observations``, ``as_of``, ``model_version``,
    ``settings`` (JSON), ``priors`` (JSON: the structural priors' record) and ``run_id``. :func:`load_posterior` refuses a file whose case hash
    differs from the case it is loaded against.

``forecast.json``
    Everything pages and reports show, computed once when the fit ends (:func:`summarise`): the
    forecast document, whose schema, types and one loader are :mod:`models.document`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import arviz as az

from models.design import Design
from models.document import FORECAST_FILE
from models.fit import FitSettings, Progress, Remembered, diagnostics, run_judge, sample
from models.forecast import (
    cross_effect_summaries,
    draws_of,
    factor_summaries,
    hazard_summaries,
    indicator_summaries,
    loading_summaries,
    outcome_forecasts,
)
from models.model import MODEL_VERSION
from models.priors import record

POSTERIOR_FILE = "posterior.nc"
#: The forecast's keys a posterior file carries in its attributes: the run's identity.
POSTERIOR_ATTRS = ("case", "run_id", "as_of", "model_version", "case_hash", "data_hash", "n_observations")
POSTERIOR_ATTRS += ("settings", "priors")


class RunMismatch(ValueError):
    """A saved posterior that does not belong to the case it is loaded against."""


def identity(design: Design, case_hash: str, settings: FitSettings, run_id: str) -> dict[str, Any]:
    return {
        "case": design.case.id,
        "run_id": run_id,
        "as_of": design.as_of.isoformat(),
        "model_version": MODEL_VERSION,
        "case_hash": case_hash,
        "data_hash": design.data_hash,
        "n_observations": design.n_observations,
        "settings": settings.as_dict(),
    }


def summarise(
    design: Design, idata: az.InferenceData, ident: dict[str, Any], *, verdict: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The forecast document (:mod:`models.document`) of a sampled posterior, as its file holds it;
    its diagnostics are ``verdict`` when given (:func:`models.fit.run_judge`'s on these draws, with
    the run's seed), else computed."""
    seed = int(ident["settings"]["seed"])
    draws = draws_of(design, idata)
    outcomes, prob = outcome_forecasts(design, draws, seed=seed)
    # Only when the case declares cross effects: a case without them writes the file it wrote
    # before they existed.
    cross = {"cross_effects": cross_effect_summaries(design, draws)} if design.case.cross_effects else {}
    return {
        **ident,
        "density": idata.posterior.attrs.get("density"),
        "priors": record(design.priors),
        "diagnostics": verdict
        if verdict is not None
        else diagnostics(idata, outcome_probability=prob, observed_periods=design.grid.as_of_cell + 1),
        "outcomes": outcomes,
        "factors": factor_summaries(design, draws),
        "indicators": indicator_summaries(design, draws, seed=seed),
        "loadings": loading_summaries(design, draws),
        "hazard": hazard_summaries(design, draws),
        **cross,
        "excluded": [{"observation_id": i, "reason": r} for i, r in design.excluded],
    }


def fit_run(
    design: Design,
    settings: FitSettings,
    *,
    case_hash: str,
    run_id: str,
    directory: Path,
    progress: Progress | None = None,
    warm_start: Any = None,
) -> dict[str, Any]:
    """Sample (from the earlier posterior ``warm_start`` if given: :func:`models.fit.sample`),
    summarise and save a run into ``directory``; returns the forecast document. A fit that stops
    early is summarised with the verdict of the look that stopped it (:class:`models.fit.Remembered`)."""
    judge = Remembered(run_judge(design, settings.seed))
    idata = sample(design, settings, progress=progress, warm_start=warm_start, judge=judge)
    if progress:
        progress(0.99, "computing forecasts")
    ident = identity(design, case_hash, settings, run_id)
    forecast = summarise(design, idata, ident, verdict=judge.passed(idata))
    save_run(directory, idata, forecast)
    return forecast


def save_run(directory: Path, idata: az.InferenceData, forecast: dict[str, Any]) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    keep = [g for g in ("posterior", "sample_stats") if g in idata.groups()]
    slim = az.InferenceData(**{g: idata[g] for g in keep})
    attrs = {
        k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in forecast.items() if k in POSTERIOR_ATTRS
    }
    slim.posterior.attrs.update(attrs)
    tmp = directory / (POSTERIOR_FILE + ".tmp")
    slim.to_netcdf(str(tmp))
    tmp.replace(directory / POSTERIOR_FILE)
    tmp = directory / (FORECAST_FILE + ".tmp")
    tmp.write_text(json.dumps(forecast, indent=1))
    tmp.replace(directory / FORECAST_FILE)


def export_posterior(directory: Path, target: Path, *, case_hash: str, attrs: dict[str, Any]) -> None:
    """Write the saved posterior of the run in ``directory`` (its posterior and sample-stats
    groups) to ``target``, with ``attrs`` added to the posterior's attributes; refuses a posterior
    saved for a different version of the case (:class:`RunMismatch`)."""
    idata = load_posterior(directory, case_hash=case_hash)
    keep = [g for g in ("posterior", "sample_stats") if g in idata.groups()]
    out = az.InferenceData(**{g: idata[g].load() for g in keep})
    out.posterior.attrs.update(attrs)
    idata.close() if hasattr(idata, "close") else None
    out.to_netcdf(str(target))


def load_posterior(directory: Path, *, case_hash: str | None = None) -> az.InferenceData:
    """The saved posterior; refuses one saved for a different version of the case."""
    idata = az.from_netcdf(str(Path(directory) / POSTERIOR_FILE))
    saved = idata.posterior.attrs.get("case_hash")
    if case_hash is not None and saved != case_hash:
        raise RunMismatch(f"run in {directory} was fitted on case version {saved}, not {case_hash}; refit.")
    return idata
