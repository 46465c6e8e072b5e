"""Helpers for dashboard tests: the sample forecast and fake ok runs registered in a store."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

SAMPLE_FORECAST = Path(__file__).parent / "fixtures" / "forecast_sample.json"


def sample_forecast() -> dict[str, Any]:
    """A fresh copy of tests/fixtures/forecast_sample.json (shipped case, 4 outcomes, one resolved)."""
    return json.loads(SAMPLE_FORECAST.read_text(encoding="utf-8"))


def sample_document(forecast: dict[str, Any] | None = None) -> Any:
    """``forecast`` (default: the sample) as the typed document the views read
    (:class:`models.document.ForecastDocument`)."""
    from models.document import ForecastDocument

    return ForecastDocument.model_validate(forecast if forecast is not None else sample_forecast())


def shipped_store() -> Any:
    """The views' store (``views.get_store()``, fresh) with the shipped case and its shipped
    observations (ids 1..174, as the sample run expects), as ``harbinger init`` loads them."""
    from dashboard.services import views
    from indicators.case import load_case, shipped_case_path
    from indicators.resources import data_path

    views.forget_stores()
    views.forget_cache()
    store = views.get_store()
    store.load_case(load_case(shipped_case_path()))
    case_id = store.case_ids()[0]
    store.import_csv(case_id, data_path("observations", f"{case_id}.csv"), actor="harbinger init")
    return store


def register_fake_run(
    store: Any, case_id: str, forecast: dict[str, Any] | None = None, *, diagnostics_ok: bool | None = None
) -> str:
    """Register an ok run whose directory holds ``forecast`` (default: the sample) as forecast.json.

    The run row is created and finished through the store's public methods, as a real fit does;
    as in a fit, the file and the row carry the new row's id, the hash of the case as stored and
    this Harbinger's model version (a run of the case as it is now). Returns the run id.
    """
    from models.version import MODEL_VERSION

    forecast = copy.deepcopy(forecast if forecast is not None else sample_forecast())
    forecast["case_hash"] = store.get_case(case_id).hash
    forecast["model_version"] = MODEL_VERSION
    ok = forecast["diagnostics"]["ok"] if diagnostics_ok is None else diagnostics_ok
    run_id = store.create_run(
        case_id,
        as_of=date.fromisoformat(forecast["as_of"]),
        case_hash=forecast["case_hash"],
        data_hash=forecast["data_hash"],
        n_observations=forecast["n_observations"],
        model_version=forecast["model_version"],
        settings=forecast["settings"],
        actor="test",
    )
    forecast["run_id"] = run_id
    run_dir = store.runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "forecast.json").write_text(json.dumps(forecast), encoding="utf-8")
    store.finish_run(run_id, diagnostics=forecast["diagnostics"], diagnostics_ok=ok, path=str(run_dir), actor="test")
    return run_id


def shifted(forecast: dict[str, Any], delta: float) -> dict[str, Any]:
    """A copy of ``forecast`` with every horizon probability moved by ``delta`` (clipped to [0, 1])."""
    out = copy.deepcopy(forecast)
    for o in out["outcomes"]:
        for h in o["horizons"]:
            for key in ("p_mean", "p_05", "p_25", "p_50", "p_75", "p_95"):
                h[key] = min(max(h[key] + delta, 0.0), 1.0)
    return out


def plain(fn: Any) -> Any:
    """The function under a Dash callback decorator."""
    return getattr(fn, "__wrapped__", fn)


def text_of(component: Any) -> str:
    """All text inside a component tree (strings only, as the browser shows them)."""
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return " ".join(text_of(c) for c in component)
    return text_of(getattr(component, "children", None))
