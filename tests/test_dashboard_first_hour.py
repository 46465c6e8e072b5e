"""Issue 20, dashboard items without a browser: new data on the run's scale (3), the failing
diagnostics check in the Model page's table (4), the Scenarios page's refit notice, questions and
Monte Carlo label (6), and the fit's stages, bar and estimate (2)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pandas as pd
import pytest

from dashboard import figures
from dashboard.services import views
from tests.dashboard_support import (
    plain,
    register_fake_run,
    sample_document,
    sample_forecast,
    shipped_store,
    text_of,
)

CASE = "northern_territories"


@pytest.fixture
def pages(harbinger_home):
    """The shipped case in a temporary store, and the page modules as the app runs them."""
    import sys
    from types import SimpleNamespace

    from dashboard.web import app as shell

    store = shipped_store()
    shell.create_app(CASE)
    yield SimpleNamespace(
        store=store,
        app=shell,
        **{
            name: sys.modules[f"dashboard.web.pages.{name}"]
            for name in ("overview", "model", "scenarios", "indicators")
        },
    )
    views.forget_stores()


def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def _new(indicator, rows):
    """Store-like rows of observations not in the run: (id, date, end, value)."""
    return pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "indicator": indicator,
            "date": pd.to_datetime([r[1] for r in rows]),
            "end": pd.to_datetime([r[2] for r in rows]),
            "value": [float(r[3]) for r in rows],
            "reliability": "B",
        }
    )


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
    "max_rhat": 1.004,
    "min_ess_bulk": 812.0,
    "min_ess_tail": 655.0,
    "divergences": 0,
    "min_bfmi": 0.9,
    "ok": False,
    "problems": ["a parameter's or factor state's ESS 37 below 200"],
    "failing": [
        "count_dispersion[summits] (R-hat 1.008, ESS 37)",
        "factor_state[economic, 2012Q1] (R-hat 1.004, ESS 120)",
    ],
}


def test_the_diagnostics_table_shows_the_check_that_failed():
    rows = views.diagnostics_rows(FAILED_PARAM_ESS)
    failed = [r for r in rows if r["status"] == "outside"]
    assert [r["check"] for r in failed] == ["Smallest ESS of parameters and factor states"]
    assert failed[0]["value"] == "37" and failed[0]["threshold"] == "≥ 200"
    # the outcome probabilities' ESS passed: their rows say ok, and say whose ESS they are
    bulk = next(r for r in rows if r["check"].startswith("Smallest bulk ESS"))
    assert bulk["status"] == "ok" and "outcome probabilities" in bulk["check"]


def test_a_passing_run_shows_the_smallest_ess_of_its_parameters():
    passing = FAILED_PARAM_ESS | {"ok": True, "problems": [], "failing": [], "min_param_ess": 1234.4}
    row = next(r for r in views.diagnostics_rows(passing) if r["check"].startswith("Smallest ESS of parameters"))
    assert (row["value"], row["status"]) == ("1234", "ok")
    older = {k: v for k, v in passing.items() if k != "min_param_ess"}  # a run recorded before the key existed
    row = next(r for r in views.diagnostics_rows(older) if r["check"].startswith("Smallest ESS of parameters"))
    assert (row["value"], row["status"]) == ("—", "ok")


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


def test_a_one_chain_run_has_no_r_hat_and_the_table_does_not_call_it_ok():
    """R-hat compares chains: with one chain it is NaN, shown as not computed, never as a pass."""
    diag = dict(FAILED_PARAM_ESS, max_rhat=float("nan"), problems=["bulk ESS 50 below 400"])
    row = next(r for r in views.diagnostics_rows(diag) if r["check"] == "Largest R-hat")
    assert row["value"] == "— (one chain)" and row["status"] == "not reported"


# ---------------------------------------------------------------------------- 2. progress


def _took(store, run_id, seconds):
    """Make the recorded run ``run_id`` look as if its fit took ``seconds``."""
    import sqlalchemy as sa

    from indicators.store import runs

    with store.engine.begin() as conn:
        row = conn.execute(sa.select(runs.c.finished_at).where(runs.c.id == run_id)).one()
        conn.execute(
            runs.update().where(runs.c.id == run_id).values(created_at=row.finished_at - timedelta(seconds=seconds))
        )


def _running(store, **settings):
    run_id = store.create_run(
        CASE,
        as_of=datetime(2026, 1, 1).date(),
        case_hash=store.get_case(CASE).hash,
        data_hash="x",
        n_observations=1,
        model_version="test",
        settings={"chains": 2, "tune": 100, "draws": 100, "attempt": 1} | settings,
    )
    return run_id


def test_stages_come_from_the_fits_messages():
    from dashboard.services.progress import stage_of

    settings = {"chains": 2, "tune": 100, "draws": 100}
    assert stage_of("building the model") == "building"
    assert stage_of("compiling the model") == "compiling"
    assert stage_of("sampling: 150 of 400 draws", settings) == "tuning"
    assert stage_of("sampling: 250 of 400 draws", settings) == "sampling"
    assert stage_of("sampling: 250 of 400 draws · attempt 2 of 2", settings) == "sampling"
    assert stage_of("sampling done") == stage_of("computing forecasts") == "summarising"


def test_the_fit_records_its_progress_where_every_page_reads_it(tmp_path):
    from dashboard.services import progress

    tmp_path = progress.progress_path(tmp_path, "r1")
    now = {"t": 0.0}
    heard = []
    say = progress.recorder(tmp_path, lambda f, m: heard.append(m), suffix=" · attempt 2 of 2", clock=lambda: now["t"])
    say(0.0, "building the model")
    say(0.3, "sampling: 10 of 400 draws")  # a new stage: written at once
    assert progress.read(tmp_path)["message"] == "sampling: 10 of 400 draws · attempt 2 of 2"
    say(0.4, "sampling: 20 of 400 draws")  # the same stage within a second: not rewritten
    assert progress.read(tmp_path)["fraction"] == 0.3
    now["t"] = 2.0
    say(0.5, "sampling: 30 of 400 draws")
    assert progress.read(tmp_path)["fraction"] == 0.5
    assert len(heard) == 4  # the caller hears every reading
    progress.clear(tmp_path)
    assert progress.read(tmp_path) is None


def test_a_running_fit_shows_its_stage_and_an_estimate_from_the_last_fit(pages):
    from dashboard.services import progress

    store = pages.store
    assert progress.fit_progress(store, CASE) is None
    _took(store, register_fake_run(store, CASE), 300)
    run_id = _running(store)
    try:
        info = progress.fit_progress(store, CASE)
        assert info["stage"] == "starting" and info["percent"] == 0
        progress.write(
            progress.progress_path(store.runs_dir, run_id), 0.3, "sampling: 120 of 400 draws · attempt 2 of 2"
        )
        info = progress.fit_progress(store, CASE)
        assert info["run_id"] == run_id and info["stage"] == "tuning" and info["percent"] == 30
        assert info["estimate_s"] == pytest.approx(300, abs=1)
        assert "Tuning the sampler" in info["text"] and "attempt 2 of 2" in info["text"]
        assert "left (the last fit took 5 min)" in info["text"]
        # the shell's bar on every page: shown, with the text, polling while the fit runs
        shown = pages.app.render_fit_progress(1, {"running": [run_id]}, None, CASE)
        assert shown == ("progress-box fit-progress", "30", info["text"], False)
    finally:
        store.fail_run(run_id, "test over")
    assert pages.app.render_fit_progress(2, {"running": []}, None, CASE)[0].endswith("hidden")


def test_a_fit_asked_for_here_shows_as_starting_until_its_run_is_recorded(pages):
    """Asked for, no run recorded yet: "Starting the fit…" on every re-render (a poll, the run
    state, several inputs at once); then the run's own progress; hidden once the run has ended. An
    old request, or one an earlier run answered, shows nothing."""
    store = pages.store
    render = pages.app.render_fit_progress
    asked = {"at": time.time(), "reason": "first fit"}
    for tick in (1, 2, 3):  # polls while the fit's process starts
        box, percent, text, stop_polling = render(tick, {"running": []}, asked, CASE)
        assert not box.endswith("hidden") and text == "Starting the fit…" and not stop_polling
    run_id = _running(store)  # the fit's process records its run
    try:
        box, _, text, _ = render(4, {"running": [run_id]}, asked, CASE)
        assert not box.endswith("hidden") and text != "Starting the fit…"
    finally:
        store.fail_run(run_id, "test over")
    assert render(5, {"running": []}, asked, CASE)[0].endswith("hidden")  # its run ended
    forgotten = {"at": time.time() - pages.app.PENDING_SECONDS - 1}
    assert render(6, {"running": []}, forgotten, CASE)[0].endswith("hidden")
    assert render(7, {"running": []}, None, CASE)[0].endswith("hidden")


def test_during_the_first_fit_the_overview_says_it_is_fitting_and_refit_is_disabled(pages):
    store = pages.store
    render = plain(pages.overview.render_overview)
    assert "Press Refit" in text_of(render(1, None, CASE))
    run_id = _running(store)
    try:
        text = text_of(render(1, {"running": [run_id]}, CASE))
        assert "Press Refit" not in text and "Fitting the first forecast" in text
    finally:
        store.fail_run(run_id, "test over")
    assert plain(pages.overview.refit_enabled)({"running": [run_id]}) is True
    assert plain(pages.overview.refit_enabled)({"running": []}) is False


# ---------------------------------------------------------------------------- 6. scenarios


def _scenario_doc(**extra):
    p = {"p_mean": 0.1, "p_05": 0.05, "p_95": 0.2}
    return {
        "scenario": {"name": "s", "origin": "ad hoc"},
        "run_id": "r1",
        "as_of": "2026-01-01",
        "method": "refit",
        "reweighting_khat": 0.9,
        "reliable": True,
        "at": 2.0,
        "refit_diagnostics": {
            "ok": True,
            "max_rhat": 1.003,
            "min_ess_bulk": 900,
            "min_ess_tail": 800,
            "divergences": 0,
            "min_bfmi": 0.8,
            "problems": [],
        },
        "results": [
            {
                "outcome": "territorial_transfer",
                "years": 5,
                "baseline": p,
                "scenario": p,
                "difference": {"pp": 1.5, "low_pp": 1.2, "high_pp": 1.8},
                "method": "refit",
                "khat": None,
            }
        ],
        **extra,
    }


def test_the_refit_notice_gives_way_to_the_refits_result_and_its_diagnostics(pages):
    page = pages.scenarios
    done = text_of(plain(page.refit_done)(_scenario_doc()))
    assert "Refit finished" in done and "refitting" not in done and "R-hat ≤ 1.003" in done
    failed = _scenario_doc(refit_diagnostics={"ok": False, "problems": ["R-hat 1.2 above 1.01"]})
    assert "diagnostics failed (R-hat 1.2 above 1.01)" in text_of(plain(page.refit_done)(failed))
    assert "The refit failed" in text_of(plain(page.refit_done)({"error": "The refit failed (X: y).", "at": 3}))
    summary, _, _ = plain(page.show)(None, _scenario_doc(), CASE)
    assert "Refit diagnostics OK · R-hat ≤ 1.003" in text_of(summary)


def test_scenario_tables_name_the_question_and_label_the_monte_carlo_interval(pages):
    page = pages.scenarios
    _, table, _ = plain(page.show)(None, _scenario_doc(), CASE)
    text = text_of(table)
    question = pages.store.get_case(CASE).case.outcome("territorial_transfer").question
    assert question in text and "territorial_transfer" in text
    assert "Change ± Monte Carlo error (90%)" in text and "not a credible interval of the change" in text
