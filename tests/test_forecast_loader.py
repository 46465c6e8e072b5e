"""The one forecast loader (dashboard.services.forecasts) and what every front end shows of a run that
no longer forecasts the case as stored: one fitted on an earlier version of the case, or with
another model version, is still shown, labelled "... refit the case." (no fit: fake runs).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dashboard.services import forecasts, views
from dashboard.web import app as shell
from models.document import ForecastDocument, ForecastUnreadable
from models.version import MODEL_VERSION
from tests.dashboard_support import plain, register_fake_run, sample_forecast, shipped_store, text_of

CASE = "northern_territories"
STALE_CASE = re.compile(
    r"Run (\S+) was fitted on a different version of case 'northern_territories' than the one "
    r"stored now \(case hash \w{16}, now \w{16}\); refit the case\."
)


@pytest.fixture
def nt_store(harbinger_home: Path) -> Any:
    """The shipped case with its shipped observations, as ``harbinger init`` loads them."""
    store = shipped_store()
    yield store
    views.forget_stores()


@pytest.fixture
def pages(nt_store: Any) -> SimpleNamespace:
    shell.create_app(CASE)
    return SimpleNamespace(
        overview=sys.modules["dashboard.web.pages.overview"], reports=sys.modules["dashboard.web.pages.reports"]
    )


def change_the_case(store: Any, tmp_path: Path) -> str:
    """Load an edited shipped case (another base rate) under the same id; its new hash."""
    from indicators.case import load_case, shipped_case_path

    text = shipped_case_path().read_text(encoding="utf-8")
    edited = tmp_path / "edited.yaml"
    edited.write_text(text.replace("annual: 0.003", "annual: 0.004", 1), encoding="utf-8")
    loaded = load_case(edited)
    assert store.load_case(loaded) == "updated"
    return loaded.hash


# ---------------------------------------------------------------------------- the loader


def test_the_loader_reads_the_typed_document_with_the_rows_identity_once_per_file_version(nt_store: Any) -> None:
    run_id = register_fake_run(nt_store, CASE, diagnostics_ok=False)
    run = nt_store.get_run(run_id)
    forecast = forecasts.load_forecast(nt_store, run)
    doc = forecast.document
    assert isinstance(doc, ForecastDocument) and forecast.stale is None
    assert (doc.run_id, doc.as_of.isoformat(), doc.case_hash) == (run_id, "2025-12-15", run["case_hash"])
    assert doc.diagnostics.ok is False  # the row's flag holds
    assert doc.created_at is not None and doc.created_at.tzinfo is not None
    # one parse per file version and row: the same immutable document, no copies
    assert forecasts.load_forecast(nt_store, nt_store.get_run(run_id)) is forecast
    path = Path(run["path"]) / "forecast.json"
    changed = json.loads(path.read_text(encoding="utf-8"))
    changed["outcomes"][0]["question"] = "A question asked again?"
    path.write_text(json.dumps(changed), encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    again = forecasts.load_forecast(nt_store, run)
    assert again is not forecast and again.document.outcomes[0].question == "A question asked again?"


def test_a_run_without_a_readable_forecast_has_none_and_read_run_says_why(nt_store: Any) -> None:
    run = nt_store.get_run(register_fake_run(nt_store, CASE))
    assert forecasts.load_forecast(nt_store, None) is None
    assert forecasts.load_forecast(nt_store, {**run, "status": "failed"}) is None
    path = Path(run["path"]) / "forecast.json"
    bad = sample_forecast() | {"outcomes": "none"}
    path.write_text(json.dumps(bad), encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert forecasts.load_forecast(nt_store, run) is None
    with pytest.raises(ForecastUnreadable, match=r"forecast\.json .*field outcomes"):
        forecasts.read_run(nt_store, run)
    path.unlink()
    assert forecasts.load_forecast(nt_store, run) is None
    summary = views.run_summary(run, None)
    assert "The saved forecast of this run cannot be read (file missing or damaged)" in summary["warnings"]


# ---------------------------------------------------------------------------- the stale case


def test_a_run_of_an_earlier_case_version_is_shown_labelled_everywhere(
    pages: Any, nt_store: Any, cli: Any, tmp_path: Path
) -> None:
    run_id = register_fake_run(nt_store, CASE)
    assert forecasts.load_forecast(nt_store, nt_store.get_run(run_id)).stale is None
    before = cli("forecast")
    assert before.exit_code == 0 and "refit" not in before.output
    assert "Out of date" not in text_of(plain(pages.overview.render_overview)(1, None, CASE))

    new_hash = change_the_case(nt_store, tmp_path)

    # the loader: the same forecast, labelled with why and what to do
    forecast = forecasts.load_forecast(nt_store, nt_store.get_run(run_id))
    assert forecast.document.run_id == run_id
    match = STALE_CASE.fullmatch(forecast.stale)
    assert match and match.group(1) == run_id and new_hash[:16] in forecast.stale
    # harbinger forecast: the forecast on stdout as before, the label on stderr
    after = cli("forecast")
    assert after.exit_code == 0
    assert after.stdout == before.stdout
    assert after.stderr.strip() == f"harbinger: warning: {forecast.stale}"
    as_json = cli("forecast", "--format", "json")
    assert json.loads(as_json.stdout)["run_id"] == run_id and forecast.stale in as_json.stderr
    # the Overview: the cards still shown, under the label, with Refit offered
    content = plain(pages.overview.render_overview)(1, None, CASE)
    text = text_of(content)
    assert "Out of date:" in text and forecast.stale in text and "press Refit" in text
    assert f"from run {run_id}" in text and "outcome-card" in str(content)
    # the run bar (every page) and the Reports page
    assert forecast.stale in text_of(shell.render_run_bar(None, CASE))
    assert forecast.stale in text_of(plain(pages.reports.show_run)(run_id, CASE))
    summary = views.run_summary(nt_store.get_run(run_id), forecast)
    assert summary["stale_case"] == forecast.stale and forecast.stale in summary["warnings"]


def test_a_run_of_another_model_version_is_labelled_too(pages: Any, nt_store: Any, cli: Any) -> None:
    run_id = register_fake_run(nt_store, CASE)
    run = nt_store.get_run(run_id)
    path = Path(run["path"]) / "forecast.json"
    path.write_text(
        json.dumps(json.loads(path.read_text(encoding="utf-8")) | {"model_version": "0.9.0"}), encoding="utf-8"
    )
    forecast = forecasts.load_forecast(nt_store, run)
    assert forecast.stale == (
        f"Run {run_id} was fitted with model version 0.9.0, not the {MODEL_VERSION} this "
        "Harbinger runs; refit the case."
    )
    assert forecast.stale in cli("forecast").stderr
    assert forecast.stale in text_of(plain(pages.overview.render_overview)(1, None, CASE))
