"""Issue 20, dashboard items without a browser: new data on the run's scale (3), the failing
diagnostics check in the Model page's table (4), the Scenarios page's refit notice, questions and
Monte Carlo label (6), and the fit's stages, bar and estimate (2)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from dashboard import figures
from dashboard.services import views
from tests.dashboard_support import plain, register_fake_run, sample_document, sample_forecast, shipped_store, text_of

CASE = "northern_territories"


@pytest.fixture
def pages(harbinger_home):
    """The shipped case in a temporary store, and the page modules as the app runs them."""
    import sys
    from types import SimpleNamespace

    from dashboard.web import app as shell

    store = shipped_store()
    shell.create_app(CASE)
    yield SimpleNamespace(store=store, app=shell, **{name: sys.modules[f"dashboard.web.pages.{name}"]
                                                     for name in ("overview", "model", "scenarios", "indicators")})
    views.forget_stores()


def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def _new(indicator, rows):
    """Store-like rows of observations not in the run: (id, date, end, value)."""
    return pd.DataFrame({
        "id": [r[0] for r in rows], "indicator": indicator,
        "date": pd.to_datetime([r[1] for r in rows]), "end": pd.to_datetime([r[2] for r in rows]),
        "value": [float(r[3]) for r in rows], "reliability": "B"})


# ---------------------------------------------------------------------------- 3. scale

def test_a_new_fiscal_year_total_is_drawn_per_quarter_like_the_runs_rows():
    doc = sample_document()
    new = _new("asdf_scrambles_russia", [(900, "2024-04-01", "2025-03-31", 211)])
    fig = figures.indicator_figure("asdf_scrambles_russia", forecast=doc, observations=new)
    drawn = _trace(fig, "Not in this run")
    assert drawn.y[0] == pytest.approx(211 / 4, rel=0.02)  # four quarters, as the run's own FY rows
    assert drawn.customdata[0][4] == 211  # the hover keeps the recorded total
    assert fig.layout.yaxis.title.text == "per quarter (period totals ÷ quarters)"


def test_a_level_observation_spanning_quarters_is_drawn_as_recorded():
    forecast = sample_forecast()
    tone = next(i for i in forecast["indicators"] if i["id"] == "russian_statement_tone")
    assert tone["aggregation"] == "level"
    row = dict(tone["rows"][0], start="2015-01-01", end="2015-09-30", value=3.0)
    tone["rows"] = [row, *tone["rows"][1:]]
    doc = sample_document(forecast)
    new = _new("russian_statement_tone", [(901, "2024-01-01", "2024-12-31", 4)])
    fig = figures.indicator_figure("russian_statement_tone", forecast=doc, observations=new)
    observed = _trace(fig, "Observed")
    assert 3.0 in list(observed.y)  # not 3.0 / 3 quarters
    assert list(_trace(fig, "Not in this run").y) == [4.0]  # not 4 / 4 quarters
    assert "÷" not in (fig.layout.yaxis.title.text or "")


# ---------------------------------------------------------------------------- 4. diagnostics

FAILED_PARAM_ESS = {
    "max_rhat": 1.004, "min_ess_bulk": 812.0, "min_ess_tail": 655.0, "divergences": 0, "min_bfmi": 0.9,
    "ok": False, "problems": ["a parameter's or factor state's ESS 37 below 200"],
    "failing": ["count_dispersion[summits] (R-hat 1.008, ESS 37)", "factor_state[economic, 2012Q1] (R-hat 1.004, ESS 120)"],
}


def test_the_diagnostics_table_shows_the_check_that_failed():
    rows = views.diagnostics_rows(FAILED_PARAM_ESS)
    failed = [r for r in rows if r["status"] == "outside"]
    assert [r["check"] for r in failed] == ["Smallest ESS of parameters and factor states"]
    assert failed[0]["value"] == "37" and failed[0]["threshold"] == "≥ 200"
    # the outcome probabilities' ESS passed: their rows say ok, and say whose ESS they are
    bulk = next(r for r in rows if r["check"].startswith("Smallest bulk ESS"))
    assert bulk["status"] == "ok" and "outcome probabilities" in bulk["check"]


def test_the_model_page_marks_the_failed_row_and_names_the_failing_quantities(pages):
    model = pages.model
    table = model.diagnostics_table(views.diagnostics_rows(FAILED_PARAM_ESS))
    failed_rows = [tr for tr in table.children[1].children if "failed" in (tr.className or "")]
    assert len(failed_rows) == 1 and "FAILED" in text_of(failed_rows[0]) and "37" in text_of(failed_rows[0])
    listing = text_of(model.failing_list(views.failing_quantities(FAILED_PARAM_ESS)))
    assert "count_dispersion[summits] (R-hat 1.008, ESS 37)" in listing
    assert model.failing_list([]) is None


def test_a_problem_no_row_names_gets_its_own_row():
    diag = dict(FAILED_PARAM_ESS, problems=["something new went wrong"])
    rows = views.diagnostics_rows(diag)
    assert rows[-1]["check"] == "Something new went wrong" and rows[-1]["status"] == "outside"
