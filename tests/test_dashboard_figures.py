"""Figures and views of the dashboard, on the sample run data (values, not pixels)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from dashboard import figures
from dashboard.services import forecasts, views
from models.document import ForecastDocument
from tests.dashboard_support import sample_document, sample_forecast, shifted


@pytest.fixture
def forecast() -> ForecastDocument:
    """The sample run, as the typed document the figures and views read."""
    return sample_document()


def _trace(fig, name):
    found = [t for t in fig.data if t.name == name]
    assert len(found) == 1, [t.name for t in fig.data]
    return found[0]


def _outcome(forecast, oid):
    return forecast.outcome(oid)


# ---------------------------------------------------------------------------- the sample itself


def test_sample_follows_the_run_schema(forecast):
    assert forecast.to_json_dict() == sample_forecast()  # the document reads every key of the sample
    assert len(forecast.outcomes) == 4
    assert [o.id for o in forecast.outcomes if o.resolved] == ["japan_hardline_shift"]
    assert len(forecast.factors) == 3 and all(len(f.mean) == 64 for f in forecast.factors)
    for o in forecast.outcomes:
        means = [h.p_mean for h in o.horizons]
        assert means == sorted(means)  # horizon curves never decrease
        for h in o.horizons:
            assert h.p_05 <= h.p_25 <= h.p_50 <= h.p_75 <= h.p_95


# ---------------------------------------------------------------------------- outcomes


def test_horizon_figure_traces_are_the_horizon_curve_with_bands(forecast):
    fig = figures.horizon_figure(forecast, outcome_id="peace_treaty")
    hs = _outcome(forecast, "peace_treaty").horizons
    mean = _trace(fig, "Posterior mean")
    assert list(mean.x) == [1, 3, 5, 10]
    assert list(mean.y) == pytest.approx([100 * h.p_mean for h in hs])
    band = _trace(fig, "90% interval")
    # a closed polygon: upper edge left to right, then lower edge right to left
    assert list(band.y) == pytest.approx([100 * h.p_95 for h in hs] + [100 * h.p_05 for h in hs][::-1])
    assert band.fill == "toself"
    band50 = _trace(fig, "50% interval")
    assert list(band50.y)[:4] == pytest.approx([100 * h.p_75 for h in hs])
    assert fig.layout.yaxis.ticksuffix == "%"
    assert fig.layout.xaxis.title.text == "horizon (years)"


def test_horizon_figure_of_a_resolved_outcome_is_empty_with_a_note(forecast):
    fig = figures.horizon_figure(forecast, outcome_id="japan_hardline_shift")
    assert len(fig.data) == 0
    assert "Resolved" in fig.layout.annotations[0].text


def test_horizons_overview_has_one_line_per_unresolved_outcome(forecast):
    fig = figures.horizons_overview_figure(forecast)
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert [t.name for t in lines] == ["territorial_transfer", "peace_treaty", "russian_military_escalation"]


def test_outcome_colours_are_stable_per_position():
    assert figures.color_for(0) == figures.color_for(len(figures.SERIES))
    assert figures.color_for(0) != figures.color_for(1)


# ---------------------------------------------------------------------------- indicators


def test_indicator_figure_band_observations_and_surprises(forecast):
    ind = views.forecast_indicator(forecast, "russian_statement_tone")
    fig = figures.indicator_figure("russian_statement_tone", forecast=forecast)
    band = _trace(fig, "Expected (90%)")
    n = len(ind.dates)
    assert list(band.y) == pytest.approx(list(ind.expected.p95) + list(ind.expected.p05)[::-1])
    assert list(_trace(fig, "Expected mean").y) == pytest.approx(ind.expected.mean)
    assert len(band.x) == 2 * n
    observed = _trace(fig, "Observed")
    assert list(observed.y) == pytest.approx([r.value for r in ind.rows])  # single days: unscaled
    # markers sized and shaded by the model's P(genuine)
    genuine = [r.genuine for r in ind.rows]
    low = genuine.index(min(genuine))
    high = genuine.index(max(genuine))
    assert observed.marker.size[low] < observed.marker.size[high]
    assert list(observed.marker.color) == pytest.approx(genuine)
    surprises = _trace(fig, "Surprise")
    assert len(surprises.y) == sum(r.surprise for r in ind.rows) == 1
    assert fig.layout.title.text == ind.name


def test_indicator_figure_puts_period_totals_on_the_per_quarter_scale(forecast):
    ind = views.forecast_indicator(forecast, "asdf_scrambles_russia")
    fig = figures.indicator_figure("asdf_scrambles_russia", forecast=forecast)
    observed = _trace(fig, "Observed")
    # a fiscal year (April-March) covers exactly four quarterly cells
    assert list(observed.y) == pytest.approx([r.value / 4 for r in ind.rows])
    assert observed.customdata[0][2] == ind.rows[0].value  # hover keeps the recorded total
    assert "per quarter" in fig.layout.yaxis.title.text


def test_indicator_figure_without_a_run_shows_the_observations():
    frame = pd.DataFrame(
        {
            "id": [1, 2],
            "indicator": ["x", "x"],
            "date": pd.to_datetime(["2020-01-05", "2021-03-01"]),
            "end": pd.to_datetime(["2020-01-05", "2021-03-31"]),
            "value": [1.0, 3.0],
            "reliability": ["B", "C"],
        }
    )
    fig = figures.indicator_figure("x", forecast=None, observations=frame, title="X", unit="events")
    assert [t.name for t in fig.data] == ["Observed"]
    assert list(fig.data[0].y) == [1.0, 3.0]
    assert fig.layout.yaxis.title.text == "events"


def test_indicator_figure_marks_observations_not_in_the_run(forecast):
    frame = pd.DataFrame(
        {
            "id": [999],
            "indicator": ["leader_summit"],
            "date": pd.to_datetime(["2025-11-01"]),
            "end": pd.to_datetime(["2025-11-01"]),
            "value": [1.0],
            "reliability": ["A"],
        }
    )
    fig = figures.indicator_figure("leader_summit", forecast=forecast, observations=frame)
    new = _trace(fig, "Not in this run")
    assert list(new.y) == [1.0] and new.customdata[0][0] == 999


def test_indicator_figure_with_nothing_says_so():
    fig = figures.indicator_figure("x")
    assert not fig.data and "No observations" in fig.layout.annotations[0].text


# ---------------------------------------------------------------------------- model


def test_factor_figure_has_mean_and_bands_per_factor(forecast):
    fig = figures.factor_figure(forecast)
    means = [t for t in fig.data if t.name and t.name.endswith(" mean")]
    assert [t.name for t in means] == [f"{f.id} mean" for f in forecast.factors]
    for t, f in zip(means, forecast.factors, strict=True):
        assert list(t.y) == pytest.approx(f.mean)
    assert sum(1 for t in fig.data if t.name == "90% interval") == 3
    assert sum(1 for t in fig.data if t.showlegend is not False and t.name == "90% interval") == 1
    assert len(fig.layout.shapes) == 3  # as-of line in each panel
    assert [a.text for a in fig.layout.annotations] == [f.name for f in forecast.factors]


def test_loadings_figure_intervals(forecast):
    fig = figures.loadings_figure(forecast)
    assert [t.name for t in fig.data] == ["military_pressure", "diplomatic_engagement", "china_alignment"]
    rows = forecast.loadings_on("military_pressure")
    t = fig.data[0]
    assert list(t.x) == pytest.approx([r.mean for r in rows])
    assert list(t.error_x.array) == pytest.approx([r.p95 - r.mean for r in rows])
    assert list(t.error_x.arrayminus) == pytest.approx([r.mean - r.p05 for r in rows])


def test_hazard_figure_prior_vs_posterior_on_the_prior_scale(forecast):
    fig = figures.hazard_figure(forecast)
    rows = forecast.hazard
    prior, post = _trace(fig, "Prior"), _trace(fig, "Posterior")
    assert list(prior.x) == [0.0] * len(rows)
    assert list(prior.error_x.array) == pytest.approx([1.6449] * len(rows))
    assert list(post.x) == pytest.approx([(r.post_mean - r.prior_mean) / r.prior_sd for r in rows])
    assert list(post.error_x.array) == pytest.approx([(r.post_p95 - r.post_mean) / r.prior_sd for r in rows])
    # long labels on two lines, outcome then parameter, so they do not squeeze the plot (issue 20, item 8)
    assert list(fig.layout.yaxis.ticktext)[0] == f"{rows[0].outcome}:<br>{rows[0].parameter}"
    assert all(len(line) <= 60 for t in fig.layout.yaxis.ticktext for line in t.split("<br>"))
    one = figures.hazard_figure(forecast, outcome_id="peace_treaty")
    assert len(one.data[0].x) == sum(r.outcome == "peace_treaty" for r in rows)


# ---------------------------------------------------------------------------- views


@pytest.mark.parametrize(
    "p, text",
    [
        (0.0, "0%"),
        (0.0004, "<0.1%"),
        (0.0042, "0.4%"),
        (0.042, "4.2%"),
        (0.42, "42%"),
        (0.9996, ">99.9%"),
        (1.0, "100%"),
        (None, "—"),
    ],
)
def test_fmt_prob(p, text):
    assert views.fmt_prob(p) == text


def test_outcome_cards_with_intervals_change_and_resolved(forecast):
    previous = sample_document(shifted(sample_forecast(), -0.01))
    cards = views.outcome_cards(forecast, horizon=5, previous=previous)
    assert [c["id"] for c in cards] == forecast.outcome_ids
    treaty = next(c for c in cards if c["id"] == "peace_treaty")
    h5 = forecast.horizon("peace_treaty", 5)
    assert treaty["p_mean"] == h5.p_mean
    assert treaty["probability"] == views.fmt_prob(h5.p_mean)
    assert treaty["interval"] == f"90% interval {views.fmt_prob(h5.p_05)} – {views.fmt_prob(h5.p_95)}"
    assert treaty["change_pp"] == pytest.approx(1.0)
    assert treaty["change"].startswith("▲ +1.0 pts")
    resolved = next(c for c in cards if c["id"] == "japan_hardline_shift")
    assert resolved["resolved"] and resolved["probability"] is None
    assert resolved["resolution_date"] == date(2022, 2, 23)
    first = views.outcome_cards(forecast, horizon=5, previous=None)
    assert first[0]["change"] == "no previous run to compare" and first[0]["change_pp"] is None


def test_horizons_of_the_run(forecast):
    assert views.horizons(forecast) == [1, 3, 5, 10]
    assert views.horizons(None) == []


def _run(tmp_path, forecast: dict, **kw):
    """A run row whose file holds ``forecast`` (a dict), fitted with this Harbinger's model version."""
    import json

    from models.version import MODEL_VERSION

    d = tmp_path / "run"
    d.mkdir(exist_ok=True)
    (d / "forecast.json").write_text(json.dumps({**forecast, "model_version": MODEL_VERSION}))
    return {
        "id": "r1",
        "status": "ok",
        "path": str(d),
        "as_of": "2025-12-15",
        "diagnostics_ok": True,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "n_observations": 174,
        "model_version": MODEL_VERSION,
        **kw,
    }


def test_the_reports_load_forecast_is_the_file_as_a_dict_with_the_store_identity(tmp_path):
    """views.load_forecast: the plain dict dashboard/report reads until it reads the typed document."""
    run = _run(tmp_path, sample_forecast())
    loaded = views.load_forecast(run)
    assert loaded["run_id"] == "r1" and loaded["outcomes"] == sample_forecast()["outcomes"]
    assert loaded["created_at"] == "2026-01-01T00:00:00+00:00"
    loaded["outcomes"].clear()  # callers get their own copy
    assert views.load_forecast(run)["outcomes"] == sample_forecast()["outcomes"]
    assert views.load_forecast(None) is None
    assert views.load_forecast({**run, "status": "failed"}) is None
    assert views.load_forecast({**run, "path": str(tmp_path / "missing")}) is None
    assert views.load_forecast(_run(tmp_path, sample_forecast(), diagnostics_ok=False))["diagnostics"]["ok"] is False


def test_run_summary_labels_failed_diagnostics_and_staleness(tmp_path):
    from dashboard.services.forecasts import load_forecast

    bad = sample_forecast()
    bad["diagnostics"].update(
        ok=False, max_rhat=1.08, divergences=12, problems=["R-hat 1.08 > 1.01", "12 divergent transitions"]
    )
    run = _run(tmp_path, bad, diagnostics_ok=False)
    summary = views.run_summary(run, load_forecast(None, run), stale_records=3)
    assert summary["diagnostics_ok"] is False
    assert summary["warnings"] == [
        "Diagnostics failed: R-hat 1.08 > 1.01; 12 divergent transitions — do not treat as a clean forecast",
        "Stale: 3 records made since this run",
    ]
    good_run = _run(tmp_path, sample_forecast())
    for forecast in (load_forecast(None, good_run), views.load_forecast(good_run)):  # typed, and the report's dict
        good = views.run_summary(good_run, forecast, stale_records=0)
        assert good["warnings"] == [] and good["diagnostics_ok"] is True and good["stale_case"] is None
        assert "R-hat ≤ 1.004" in good["diagnostics_text"]
    unreadable = views.run_summary({**good_run, "diagnostics": {"ok": True}}, None)
    assert unreadable["warnings"] == ["The saved forecast of this run cannot be read (file missing or damaged)"]
    assert views.run_summary(None, None)["exists"] is False


def test_diagnostics_problems_fall_back_to_thresholds():
    diag = {"ok": False, "max_rhat": 1.2, "min_ess_bulk": 1000, "divergences": 0, "problems": []}
    assert views.diagnostics_problems(diag) == "Largest R-hat 1.2 (want ≤ 1.01)"
    rows = views.diagnostics_rows(diag)
    assert [r["status"] for r in rows] == ["outside", "ok", "not reported", "not reported", "ok", "not reported"]


def test_diagnostics_line_says_a_fit_started_from_an_earlier_posterior():
    base = {"ok": True, "max_rhat": 1.004, "min_ess_bulk": 900, "min_ess_tail": 800, "divergences": 0, "draws": 2000}
    cold = views.diagnostics_text({**base, "tune": 2000, "warm_start": False})
    warm = views.diagnostics_text({**base, "tune": 500, "warm_start": True})
    assert cold == "R-hat ≤ 1.004, ESS ≥ 800, 0 divergences, 2000 draws per chain"
    assert warm == cold + ", warm start (500 tuning steps)"
    assert views.diagnostics_text(base) == cold  # a run recorded before the fields existed


def test_records_since_counts_later_records():
    created = datetime(2026, 1, 1, 12, tzinfo=UTC)
    history = pd.DataFrame(
        {
            "recorded_at": pd.to_datetime(
                [created - timedelta(days=1), created + timedelta(seconds=1), created + timedelta(days=2)], utc=True
            )
        }
    )
    assert views.records_since(history, {"created_at": created}) == 2
    assert views.records_since(history, None) == 0


def test_previous_ok_run_skips_failed_runs():
    runs = [
        {"id": "d", "status": "ok", "diagnostics_ok": True},
        {"id": "c", "status": "ok", "diagnostics_ok": False},
        {"id": "b", "status": "failed"},
        {"id": "a", "status": "ok", "diagnostics_ok": True},
    ]
    assert forecasts.previous_ok_run(runs, "d")["id"] == "a"  # a run failing its diagnostics is no baseline
    assert forecasts.previous_ok_run(runs, "a") is None


def test_default_chart_selection_prefers_surprises(forecast):
    ids = ["asdf_scrambles_russia", "leader_summit", "russian_statement_tone", "other"]
    assert views.default_chart_selection(ids, forecast) == ["asdf_scrambles_russia", "russian_statement_tone"]
    assert views.default_chart_selection(ids, None, n=2) == ids[:2]


def test_form_row_drops_blank_fields():
    row = views.form_row(
        indicator=" leader_summit ",
        date="2024-01-02",
        end="",
        value="1",
        source="x",
        reliability=None,
        credibility="",
        note="  ",
    )
    assert row == {"indicator": "leader_summit", "date": "2024-01-02", "value": "1", "source": "x"}
