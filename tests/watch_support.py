"""Helpers for the watch-list tests: fake posteriors whose loadings and hazard effects the test
chooses, and a watch-list document of a fake posterior cached for a registered run, so the
command, the API and the page can be tested without a fit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np


def fake_idata(
    design: Any,
    *,
    chains: int = 2,
    draws: int = 100,
    seed: int = 0,
    loading: Any = None,
    hazard_effect: Any = None,
    hazard_intercept: float = -4.0,
) -> Any:
    """A fake posterior with every variable the forecasts read. ``loading`` (I, K) and
    ``hazard_effect`` (O, K), when given, are held at those values in every draw (plus a little
    noise), so a test decides which indicator tells about which outcome."""
    import arviz as az

    rng = np.random.default_rng(seed)
    K, T = len(design.factor_ids), design.grid.n_cells
    I, O = len(design.indicator_ids), len(design.outcome_ids)
    fam = design.family_indicators
    s = (chains, draws)
    load = (
        np.abs(rng.normal(size=s + (I, K)))
        if loading is None
        else np.asarray(loading, dtype=float) + 0.02 * rng.normal(size=s + (I, K))
    )
    effect = (
        rng.normal(0.5, 0.3, size=s + (O, K))
        if hazard_effect is None
        else np.asarray(hazard_effect, dtype=float) + 0.05 * rng.normal(size=s + (O, K))
    )
    post = {
        "factor_state": rng.normal(size=s + (K, T)),
        "persistence": rng.uniform(0.8, 0.95, size=s + (K,)),
        "loading": load,
        "intercept": rng.normal(0.0, 0.3, size=s + (I,)),
        "hazard_intercept": rng.normal(hazard_intercept, 0.3, size=s + (O,)),
        "hazard_effect": effect,
    }
    family_params = {
        "count": ("count_dispersion", lambda n: rng.uniform(5, 30, size=s + (n,))),
        "continuous": ("continuous_sigma", lambda n: rng.uniform(0.5, 1.0, size=s + (n,))),
        "proportion": ("proportion_kappa", lambda n: rng.uniform(10, 30, size=s + (n,))),
        "ordinal": ("ordinal_cut", lambda n: np.sort(rng.normal(size=s + (n, 4)), axis=-1)),
    }
    for family, (name, make) in family_params.items():
        if fam[family]:
            post[name] = make(len(fam[family]))
    return az.from_dict(posterior=post)


def conditioner(case: Any, frame: Any, as_of: date, *, seed: int = 3, **fake: Any) -> Any:
    """A :class:`models.reweight.Conditioner` on a fake posterior of ``case`` (see :func:`fake_idata`)."""
    from models.design import build_design
    from models.forecast import draws_of
    from models.reweight import Conditioner

    design = build_design(case, frame, as_of=as_of)
    return Conditioner(design, draws_of(design, fake_idata(design, **fake)), observations=frame, seed=seed)


def shipped_watch_doc(as_of: date, run_id: str, *, draws: int = 60) -> dict[str, Any]:
    """The watch list of a fake posterior of the shipped case on its shipped observations as of
    ``as_of``, labelled as the document of run ``run_id`` (as dashboard.services.watch.compute
    writes it)."""
    import pandas as pd

    from indicators.case import load_case, shipped_case_path
    from indicators.resources import data_path
    from models.watch import watch

    case = load_case(shipped_case_path()).case
    frame = pd.read_csv(data_path("observations", f"{case.id}.csv"))
    frame["id"] = range(1, len(frame) + 1)
    frame["date"] = pd.to_datetime(frame["date"])
    frame["end"] = pd.to_datetime(frame["end"]).fillna(frame["date"])
    frame = frame[frame["date"].dt.date <= as_of]
    doc = watch(conditioner(case, frame, as_of, draws=draws), seed=1)
    return {
        "run_id": run_id,
        "case": case.id,
        "diagnostics_ok": True,
        "model_version": "test",
        "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **doc,
        "seconds_total": doc["seconds"],
    }


def write_watch(run_dir: Path, doc: dict[str, Any]) -> Path:
    path = Path(run_dir) / "watch.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path
