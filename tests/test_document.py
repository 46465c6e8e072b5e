"""The typed forecast document (models/document.py): it reads every key today's writer puts in
``forecast.json`` and writes the same JSON back; its loader names the file and the first bad
field of a file it cannot read, and refuses a run of another case version or model version.

No fit: the writer's document comes from :func:`models.runs.summarise` on a fake posterior of
the right shapes, the older file's from the shipped sample (tests/fixtures/forecast_sample.json).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import pytest

from models.document import (
    FORECAST_FILE,
    SCHEMA_VERSION,
    ForecastDocument,
    ForecastStale,
    ForecastUnreadable,
    forecast_json_schema,
    parse_forecast,
    read_forecast,
)
from tests.dashboard_support import SAMPLE_FORECAST, sample_forecast

OPTIONAL_TOP = {"schema_version", "created_at"}


def write(directory: Path, forecast: dict[str, Any] | str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FORECAST_FILE
    text = forecast if isinstance(forecast, str) else json.dumps(forecast, indent=1)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def written() -> dict[str, Any]:
    """The forecast document today's writer makes of a fake posterior, as its file holds it: every
    family of indicator, and observations after the as-of date (so ``excluded`` is not empty)."""
    from models.design import build_design
    from models.fit import FitSettings
    from models.runs import identity, summarise
    from models.simulate import simulate_observations, synthetic_case
    from tests.test_reweight import fake_idata

    case = synthetic_case(n_factors=2, n_indicators=6)
    frame, _ = simulate_observations(case, as_of=date(2017, 6, 30), seed=3)
    design = build_design(case, frame, as_of=date(2016, 6, 30))
    import arviz as az

    posterior = fake_idata(design, draws=100).posterior.rename(
        {"factor_state_dim_0": "factor", "factor_state_dim_1": "period"}
    )  # the dims diagnostics read
    stats = {"diverging": np.zeros((2, 100), bool), "energy": np.random.default_rng(1).normal(size=(2, 100))}
    idata = az.InferenceData(posterior=posterior, sample_stats=az.from_dict(sample_stats=stats).sample_stats)
    settings = FitSettings(draws=100, tune=100, sampler="pymc", density="fused")
    forecast = summarise(design, idata, identity(design, "c" * 64, settings, "r-test"))
    return json.loads(json.dumps(forecast))


# ---------------------------------------------------------------------------- round trips


def test_the_writers_document_round_trips_to_the_same_json(written: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path / "run", written)
    doc = read_forecast(path)
    assert doc.to_json_dict() == written
    assert doc.to_json() == path.read_text(encoding="utf-8")  # key order and all
    assert {i.family for i in doc.indicators} == {"count", "binary", "continuous", "proportion", "ordinal"}


def test_the_document_names_every_key_the_writer_writes(written: dict[str, Any]) -> None:
    doc = ForecastDocument.model_validate(written)
    # cross_effects: only for a case that declares some (tests/test_cross_effects.py)
    assert doc.model_fields_set == set(ForecastDocument.model_fields) - OPTIONAL_TOP - {"cross_effects"}
    assert doc.excluded and all(e.reason for e in doc.excluded)
    rows = [row for _, row in doc.rows()]
    assert rows and all(r.model_fields_set == set(type(r).model_fields) for r in rows)
    assert all(o.model_fields_set == set(type(o).model_fields) for o in doc.outcomes)


def test_the_writer_records_the_runs_priors(written: dict[str, Any]) -> None:
    from models.priors import DEFAULT_PRIORS, PriorConfig

    record = ForecastDocument.model_validate(written).prior_record()
    assert record is not None and record.source == "recorded"
    assert record.priors.overrides == ()
    assert record.priors.hash == DEFAULT_PRIORS.digest()
    assert PriorConfig.from_dict(record.priors.values) == DEFAULT_PRIORS
    assert written["priors"]["values"]["persistence_alpha"] == 18.0


def test_a_file_without_priors_reads_as_its_versions_defaults_or_as_not_recorded() -> None:
    from models.priors import DEFAULT_PRIORS, DEFAULTS_OF_VERSIONS

    older = sample_forecast()
    assert "priors" not in older and older["model_version"] not in DEFAULTS_OF_VERSIONS
    assert parse_forecast(json.dumps(older)).prior_record() is None
    older["model_version"] = sorted(DEFAULTS_OF_VERSIONS)[0]
    record = parse_forecast(json.dumps(older)).prior_record()
    assert record is not None and record.source == f"defaults of model {older['model_version']}"
    assert record.priors.hash == DEFAULT_PRIORS.digest()
    assert "priors" not in parse_forecast(json.dumps(older)).to_json_dict()  # nothing written that was not read


def test_an_older_file_without_the_newer_keys_round_trips_byte_for_byte() -> None:
    text = SAMPLE_FORECAST.read_text(encoding="utf-8")
    doc = parse_forecast(text, path=SAMPLE_FORECAST)
    assert doc.excluded is None and doc.diagnostics.failing is None
    assert doc.to_json() == text
    written_back = doc.to_json_dict()
    assert "excluded" not in written_back and "p_at_most" not in written_back["indicators"][0]["rows"][0]


def test_non_finite_numbers_are_written_as_the_writer_writes_them(tmp_path: Path) -> None:
    forecast = sample_forecast()
    forecast["diagnostics"]["max_rhat"] = float("nan")
    forecast["diagnostics"]["min_bfmi"] = None
    path = write(tmp_path, forecast)
    doc = read_forecast(path)
    assert math.isnan(doc.diagnostics.max_rhat) and doc.diagnostics.min_bfmi is None
    assert doc.to_json() == path.read_text(encoding="utf-8")  # NaN stays NaN, null stays null


def test_sampler_options_the_schema_does_not_name_are_kept_in_order(tmp_path: Path) -> None:
    forecast = sample_forecast()
    forecast["settings"] |= {"density": "fused", "mass_matrix_window": 400, "low_rank_mass_matrix": False}
    doc = read_forecast(write(tmp_path, forecast))
    assert list(doc.to_json_dict()["settings"]) == list(forecast["settings"])
    assert doc.settings.model_extra == {"density": "fused", "mass_matrix_window": 400, "low_rank_mass_matrix": False}


# ---------------------------------------------------------------------------- reading it


def test_accessors_find_outcomes_horizons_indicators_and_rows() -> None:
    doc = ForecastDocument.model_validate(sample_forecast())
    assert doc.outcome_ids[0] == "territorial_transfer"
    assert doc.horizon_years == [1, 3, 5, 10]
    assert doc.outcome("territorial_transfer").horizon(1).p_mean == 0.002
    assert doc.p_at("territorial_transfer", 1) == 0.002
    assert doc.as_of == date(2025, 12, 15)
    resolved = next(o for o in doc.outcomes if o.resolved)
    assert resolved.resolution_date is not None and resolved.horizons == ()
    assert doc.p_at(resolved.id, 1) is None  # resolved: no forecast
    assert doc.p_at("territorial_transfer", 2) is None and doc.p_at("no_such_outcome", 1) is None
    with pytest.raises(KeyError, match="no outcome 'no_such_outcome'"):
        doc.outcome("no_such_outcome")
    ind = doc.indicator("asdf_scrambles_russia")
    assert len(ind.expected.mean) == len(ind.periods) == len(ind.dates)
    assert 1 in ind.observation_ids and doc.rows_by_observation()[1] is ind.rows[0]
    assert doc.surprising_indicators == [i.id for i in doc.indicators if any(r.surprise for r in i.rows)]
    first_date = sample_forecast()["factors"][0]["dates"][0]
    assert doc.factor(doc.factor_ids[0]).dates[0] == date.fromisoformat(first_date)
    assert {h.outcome for h in doc.hazard_of("territorial_transfer")} == {"territorial_transfer"}
    assert all(r.factor == doc.factor_ids[0] for r in doc.loadings_on(doc.factor_ids[0]))


def test_the_document_is_immutable_so_one_parse_can_be_shared() -> None:
    doc = ForecastDocument.model_validate(sample_forecast())
    with pytest.raises(pydantic.ValidationError):
        doc.run_id = "other"  # type: ignore[misc]
    assert isinstance(doc.outcomes, tuple) and isinstance(doc.outcomes[0].horizons, tuple)
    assert isinstance(doc.factors[0].mean, tuple)


def test_the_store_rows_identity_replaces_the_files() -> None:
    doc = ForecastDocument.model_validate(sample_forecast())
    created = datetime(2025, 12, 15, 9, 30, tzinfo=UTC)
    shown = doc.with_identity(run_id="r2", as_of=date(2025, 12, 1), diagnostics_ok=False, created_at=created)
    assert (shown.run_id, shown.as_of) == ("r2", date(2025, 12, 1))
    assert shown.diagnostics.ok is False and shown.created_at == created
    assert shown.to_json_dict()["created_at"] == created.isoformat()
    assert doc.run_id != "r2" and doc.diagnostics.ok is True  # the original is unchanged
    assert doc.with_identity(diagnostics_ok=True).diagnostics.ok is True
    failing = sample_forecast()
    failing["diagnostics"]["ok"] = False
    failed = ForecastDocument.model_validate(failing)
    assert failed.with_identity(diagnostics_ok=True).diagnostics.ok is False  # the file's failure stands


# ---------------------------------------------------------------------------- what it refuses


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda f: f["outcomes"][1]["horizons"][0].update(p_mean="high"), "outcomes[1].horizons[0].p_mean"),
        (lambda f: f["indicators"][2]["rows"][0].pop("surprise"), "indicators[2].rows[0].surprise"),
        (lambda f: f.pop("case_hash"), "case_hash"),
        (lambda f: f.update(as_of="15/12/2025"), "as_of"),
        (lambda f: f["diagnostics"].update(rhat_max=1.0), "diagnostics.rhat_max"),
        (lambda f: f["loadings"][0].update(mean=[0.1]), "loadings[0].mean"),
    ],
)
def test_an_invalid_file_is_unreadable_and_names_the_file_and_the_first_bad_field(
    tmp_path: Path, change: Any, field: str
) -> None:
    forecast = sample_forecast()
    change(forecast)
    path = write(tmp_path / "run", forecast)
    with pytest.raises(ForecastUnreadable) as err:
        read_forecast(tmp_path / "run")
    assert err.value.field == field and err.value.path == path
    assert str(path) in str(err.value) and f"field {field}:" in str(err.value)
    assert str(err.value).endswith("refit the case to write it again.")


@pytest.mark.parametrize("text", ['{"case": "northern_territories", "run_i', "", "[1, 2]", "null"])
def test_a_damaged_file_is_unreadable(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ForecastUnreadable, match="refit the case") as err:
        read_forecast(path)
    assert err.value.field is None and str(path) in str(err.value)


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    # no such file; a run directory without one; no such run directory
    for missing in (tmp_path / "gone" / FORECAST_FILE, tmp_path, tmp_path / "r-gone"):
        with pytest.raises(ForecastUnreadable, match="cannot be read") as err:
            read_forecast(missing)
        assert err.value.path.name == FORECAST_FILE and str(err.value.path) in str(err.value)


def test_a_file_of_a_newer_schema_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, {"schema_version": SCHEMA_VERSION + 1, **sample_forecast()})
    with pytest.raises(ForecastUnreadable, match="upgrade Harbinger") as err:
        read_forecast(path)
    assert err.value.field == "schema_version"
    same = write(tmp_path / "same", {"schema_version": SCHEMA_VERSION, **sample_forecast()})
    assert read_forecast(same).to_json() == same.read_text(encoding="utf-8")


def test_a_run_of_another_case_version_is_stale(tmp_path: Path) -> None:
    forecast = sample_forecast()
    path = write(tmp_path, forecast)
    assert read_forecast(path, case_hash=forecast["case_hash"]).run_id == forecast["run_id"]
    with pytest.raises(ForecastStale) as err:
        read_forecast(path, case_hash="f" * 64)
    message = str(err.value)
    assert message.startswith(
        f"Run {forecast['run_id']} was fitted on a different version of case '{forecast['case']}'"
    ) and message.endswith("refit the case.")
    assert err.value.document.run_id == forecast["run_id"] and err.value.path == path


def test_a_run_of_another_model_version_is_stale(tmp_path: Path) -> None:
    forecast = sample_forecast()
    path = write(tmp_path, forecast)
    version = forecast["model_version"]
    assert read_forecast(path, model_version=version).model_version == version
    with pytest.raises(ForecastStale, match=f"with model version {version}, not the 9.9.9 "):
        read_forecast(path, model_version="9.9.9")
    with pytest.raises(ForecastStale, match="different version of case .* and with model version"):
        read_forecast(path, case_hash="f" * 64, model_version="9.9.9")


# ---------------------------------------------------------------------------- schema and import


def test_the_json_schema_describes_the_file() -> None:
    schema = forecast_json_schema()
    assert schema["x-schema-version"] == SCHEMA_VERSION
    optional = {"excluded", "density", "priors", "cross_effects"}
    assert set(schema["required"]) == set(ForecastDocument.model_fields) - OPTIONAL_TOP - optional
    assert schema["$defs"]["Settings"]["additionalProperties"] is True
    assert schema["$defs"]["Outcome"]["additionalProperties"] is False
    json.dumps(schema)


def test_reading_a_forecast_loads_no_sampler() -> None:
    code = (
        "import sys, models.document; "
        "print(sorted(m for m in ('pymc', 'pytensor', 'arviz', 'nutpie', 'xarray') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
