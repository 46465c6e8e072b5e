"""Dashboard callbacks called directly against a temporary store (no browser, no sampler)."""

from __future__ import annotations

import base64
import sys
import time
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from dash import html, no_update
from dash.exceptions import PreventUpdate

from dashboard.services import views
from dashboard.web import app as shell
from dashboard.web import ids
from tests.conftest import MINI_HEADER
from tests.dashboard_support import plain, register_fake_run, sample_forecast, shifted, shipped_store, text_of

CASE = "northern_territories"


def find(component: Any, predicate) -> list[Any]:
    out = []
    if isinstance(component, (list, tuple)):
        for c in component:
            out += find(c, predicate)
        return out
    if component is None or isinstance(component, (str, int, float)):
        return out
    if predicate(component):
        out.append(component)
    return out + find(getattr(component, "children", None), predicate)


@pytest.fixture
def nt_store(harbinger_home):
    """The shipped case with its shipped observations (ids 1..174, as the sample run expects)."""
    store = shipped_store()
    yield store
    views.forget_stores()


@pytest.fixture
def pages(nt_store):
    """The page modules as the app runs them (Dash executes them when the app is created)."""
    shell.create_app(CASE)
    return SimpleNamespace(
        overview=sys.modules["dashboard.web.pages.overview"],
        ind=sys.modules["dashboard.web.pages.indicators"],
        model=sys.modules["dashboard.web.pages.model"],
    )


# ---------------------------------------------------------------------------- overview


def test_overview_without_a_run_says_so(pages, nt_store):
    content = plain(pages.overview.render_overview)(1, None, CASE)
    assert "No forecast yet: no fit has finished for this case" in text_of(content)
    assert "Refit" in text_of(content)


def test_overview_cards_show_every_probability_with_interval_and_change(pages, nt_store):
    register_fake_run(nt_store, CASE, shifted(sample_forecast(), -0.01))
    time.sleep(0.01)
    run_id = register_fake_run(nt_store, CASE)
    content = plain(pages.overview.render_overview)(5, {"latest": run_id}, CASE)
    cards = find(content, lambda c: "outcome-card" in (getattr(c, "className", "") or ""))
    assert [c.id for c in cards] == [f"outcome-{o['id']}" for o in sample_forecast()["outcomes"]]
    forecast = sample_forecast()
    for card, outcome in zip(cards, forecast["outcomes"], strict=True):
        text = text_of(card)
        if outcome["resolved"]:
            assert "Resolved" in text and "2022-02-23" in text
            continue
        h5 = next(h for h in outcome["horizons"] if h["years"] == 5)
        assert views.fmt_prob(h5["p_mean"]) in text
        assert f"90% interval {views.fmt_prob(h5['p_05'])} – {views.fmt_prob(h5['p_95'])}" in text
        assert "▲ +1.0 pts since the previous run" in text
    assert run_id in text_of(content)


def test_horizon_choices_follow_the_run(pages, nt_store):
    options, value = plain(pages.overview.horizon_choices)(None, 10, CASE)
    # the chosen horizon still exists: not written back, so a click during the request stands
    assert [o["value"] for o in options] == [1, 3, 5, 10] and value is no_update
    register_fake_run(nt_store, CASE)
    forecast = sample_forecast()
    for o in forecast["outcomes"]:
        o["horizons"] = [h for h in o["horizons"] if h["years"] in (1, 3)]
    time.sleep(0.01)
    register_fake_run(nt_store, CASE, forecast)
    options, value = plain(pages.overview.horizon_choices)(None, 10, CASE)
    assert [o["value"] for o in options] == [1, 3] and value == 1


def test_first_fit_is_requested_only_without_any_run(pages, nt_store):
    assert isinstance(plain(pages.overview.autofit_trigger)(CASE), float)
    register_fake_run(nt_store, CASE)
    with pytest.raises(PreventUpdate):
        plain(pages.overview.autofit_trigger)(CASE)


def test_a_refit_is_requested_when_records_were_made_since_the_run(pages, nt_store, monkeypatch):
    register_fake_run(nt_store, CASE)
    with pytest.raises(PreventUpdate):
        plain(pages.overview.autofit_trigger)(CASE)
    time.sleep(0.01)
    nt_store.add_observations(
        CASE, [{"indicator": "leader_summit", "date": "2025-06-01", "value": 1, "source": "test"}], actor="tester"
    )
    assert isinstance(plain(pages.overview.autofit_trigger)(CASE), float)
    # A review recorded after the run asks for a refit as well.
    time.sleep(0.01)
    register_fake_run(nt_store, CASE)
    with pytest.raises(PreventUpdate):
        plain(pages.overview.autofit_trigger)(CASE)
    time.sleep(0.01)
    nt_store.add_review(CASE, "leader_summit", date(2025, 12, 31), actor="tester")
    assert isinstance(plain(pages.overview.autofit_trigger)(CASE), float)
    monkeypatch.setenv("HARBINGER_AUTO_REFIT", "0")
    with pytest.raises(PreventUpdate):
        plain(pages.overview.autofit_trigger)(CASE)


def test_fast_update_panel_labels_the_reweighting_and_its_reliability(pages):
    panel = pages.overview.fast_update_panel
    assert panel(None, 1) is None
    assert "no saved posterior" in text_of(
        panel({"run_id": "r1", "records": 2, "error": "run r1 has no saved posterior"}, 1)
    )
    outcomes = [
        {
            "id": "a",
            "question": "Will A happen?",
            "resolved": False,
            "horizons": [{"years": 1, "p_mean": 0.1234, "p_05": 0.05, "p_95": 0.2}],
        },
        {"id": "b", "question": "Will B happen?", "resolved": True, "horizons": []},
    ]
    good = text_of(
        panel(
            {
                "run_id": "r1",
                "records": 2,
                "khat": 0.31,
                "reliable": True,
                "outcomes": outcomes,
                "ignored": [[7, "outside the indicator's coverage window"]],
            },
            1,
        )
    )
    assert "Fast update" in good and "12.3% (90% interval 5.0–20.0%)" in good and "Reliable (k-hat 0.31" in good
    assert "Observation 7: not used by the model (outside the indicator's coverage window)" in good
    bad = text_of(
        panel({"run_id": "r1", "records": 2, "khat": 1.2, "reliable": False, "outcomes": outcomes, "ignored": []}, 1)
    )
    assert "NOT RELIABLE (k-hat 1.20 > 0.7)" in bad


def test_first_fit_is_not_requested_while_a_fit_runs(pages, nt_store):
    nt_store.create_run(
        CASE,
        as_of=__import__("datetime").date(2025, 1, 1),
        case_hash="h",
        data_hash="d",
        n_observations=1,
        model_version="m",
        settings={},
    )
    with pytest.raises(PreventUpdate):
        plain(pages.overview.autofit_trigger)(CASE)
    content = plain(pages.overview.render_overview)(1, None, CASE)
    assert "a fit is running" in text_of(content)


def test_request_fit_only_on_a_press_or_the_first_fit_trigger(pages):
    request_fit = plain(pages.overview.request_fit)
    with pytest.raises(PreventUpdate):
        request_fit(0, None, trigger=ids.OV_REFIT)  # the page was shown; nothing pressed
    assert request_fit(1, None, trigger=ids.OV_REFIT)["reason"] == "refit"
    assert request_fit(0, 123.0, trigger=ids.OV_AUTOFIT)["reason"] == "first fit"


class FakeFit:
    """Stands in for dashboard.services.runs.fit_case: registers the sample run, reports progress."""

    def __init__(self, fail: str | None = None):
        self.fail = fail
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, store, case_id, *, progress=None, **settings):
        self.calls.append((case_id, settings))
        progress(0.5, "sampling")
        if self.fail:
            from dashboard.services.runs import FitFailed

            raise FitFailed("r-failed", self.fail)
        progress(1.0, "saved")
        return register_fake_run(store, case_id)


def test_run_fit_success_reports_progress_and_the_new_run(pages, nt_store):
    fit = FakeFit()
    progress: list[Any] = []
    result = pages.overview.run_fit(progress.append, CASE, fit=fit)
    assert result["status"] == "ok"
    assert result["run_id"] == views.get_store().latest_run(CASE)["id"]
    assert result["run_id"] in result["message"]
    assert progress[0] == ("0", "Starting the fit…")
    assert ("50", "sampling") in progress and progress[-1] == ("100", "saved")
    assert fit.calls == [(CASE, {})]


def test_run_fit_failure_keeps_the_previous_run_and_explains(pages, nt_store):
    before = register_fake_run(nt_store, CASE)
    result = pages.overview.run_fit(lambda *_: None, CASE, fit=FakeFit(fail="R-hat 1.3 on factor paths"))
    assert result["status"] == "failed"
    assert "R-hat 1.3 on factor paths" in result["message"]
    assert "previous forecast is still shown" in result["message"]
    assert views.get_store().latest_run(CASE)["id"] == before
    message = plain(pages.overview.fit_message)(result)
    assert message.className == "notice notice-alert" and "R-hat 1.3" in text_of(message)


def test_run_fit_unexpected_error_is_explained(pages, nt_store):
    def broken(store, case_id, *, progress=None):
        raise ZeroDivisionError("boom")

    result = pages.overview.run_fit(lambda *_: None, CASE, fit=broken)
    assert result["status"] == "failed" and "ZeroDivisionError: boom" in result["message"]
    assert "previous forecast is still shown" in result["message"]


def test_run_fit_refuses_a_second_concurrent_fit(pages, nt_store):
    import datetime as dt

    running = nt_store.create_run(
        CASE, as_of=dt.date(2025, 1, 1), case_hash="h", data_hash="d", n_observations=1, model_version="m", settings={}
    )
    fit = FakeFit()
    result = pages.overview.run_fit(lambda *_: None, CASE, fit=fit)
    assert result["status"] == "busy" and running in result["message"] and fit.calls == []


def test_refit_uses_the_injectable_fit_function(pages, nt_store, monkeypatch):
    fit = FakeFit()
    monkeypatch.setattr(pages.overview, "FIT_FUNCTION", fit)
    result = plain(pages.overview.refit)({"at": 1.0, "reason": "refit"}, CASE)
    assert result["status"] == "ok" and len(fit.calls) == 1
    with pytest.raises(PreventUpdate):
        plain(pages.overview.refit)(None, CASE)


# ---------------------------------------------------------------------------- shell


def test_run_bar_names_the_run_and_flags_failed_diagnostics_and_staleness(nt_store):
    bad = sample_forecast()
    bad["diagnostics"].update(ok=False, problems=["12 divergent transitions"])
    run_id = register_fake_run(nt_store, CASE, bad)
    state = shell.poll_run_state(0, 0, CASE, None)
    assert state["latest"] == run_id
    bar = text_of(shell.render_run_bar(state, CASE))
    assert run_id in bar and "2025-12-15" in bar
    assert "Diagnostics failed: 12 divergent transitions — do not treat as a clean forecast" in bar
    assert "Stale" not in bar
    nt_store.add_observations(
        CASE, [{"indicator": "leader_summit", "date": "2025-12-01", "value": 1, "source": "test"}], actor="tester"
    )
    bar = text_of(shell.render_run_bar(shell.poll_run_state(1, 0, CASE, state), CASE))
    assert "Stale: 1 record made since this run" in bar
    # A review changes which quarters the fit reads as observed, so it makes the run stale too.
    time.sleep(0.01)
    nt_store.add_review(CASE, "leader_summit", date(2025, 12, 31), actor="tester")
    state = shell.poll_run_state(2, 0, CASE, state)
    assert state["n_reviews"] == 1
    assert "Stale: 2 records made since this run" in text_of(shell.render_run_bar(state, CASE))


def test_poll_run_state_updates_only_on_change(nt_store):
    state = shell.poll_run_state(0, 0, CASE, None)
    assert state == {"case": CASE, "latest": None, "running": [], "n_records": 174, "n_reviews": 0}
    assert shell.poll_run_state(1, 0, CASE, state) is no_update
    register_fake_run(nt_store, CASE)
    assert shell.poll_run_state(2, 0, CASE, state)["latest"] is not None


def test_poll_run_state_fails_a_fit_whose_process_died(nt_store):
    """A fit killed outside Harbinger's control (out of memory, SIGKILL) stops showing as running
    at the next poll and is recorded as interrupted."""
    import subprocess
    from datetime import date

    import sqlalchemy as sa

    run_id = nt_store.create_run(
        CASE,
        as_of=date(2025, 12, 15),
        case_hash="c" * 16,
        data_hash="d" * 16,
        n_observations=174,
        model_version="m1",
        settings={"draws": 100, "seed": 1},
    )
    assert shell.poll_run_state(0, 0, CASE, None)["running"] == [run_id]  # this process: alive
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    with nt_store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE runs SET pid = :pid WHERE id = :id"), {"pid": int(gone.stdout), "id": run_id})
    state = shell.poll_run_state(1, 0, CASE, None)
    assert state["running"] == []
    run = nt_store.get_run(run_id)
    assert (run["status"], run["error"]) == ("failed", "interrupted")
    assert "Fit running" not in text_of(shell.render_run_bar(state, CASE))


def test_run_bar_without_a_run(nt_store):
    assert "No forecast yet" in text_of(shell.render_run_bar(None, CASE))


def test_app_builds_with_pages_and_one_registration_per_output(pages, nt_store):
    app = shell.create_app()
    import dash

    assert {p["path"] for p in dash.page_registry.values()} >= {"/", "/indicators", "/model"}
    from dash import _callback

    outputs = [c["output"] for c in _callback.GLOBAL_CALLBACK_LIST]
    assert len(outputs) == len(set(outputs))
    assert (nt_store.home / "cache").is_dir()
    with app.server.test_request_context("/"):  # the shell is built per page load, for the case its URL names
        layout = app.layout()
    assert find(layout, lambda c: getattr(c, "id", None) == ids.CASE)[0].data == CASE
    for page in (pages.overview, pages.ind, pages.model):
        assert page.layout() is not None
    assert "Overview" in text_of(shell.render_nav("/"))


# ---------------------------------------------------------------------------- indicators


def add(pages, n, fields: dict[str, Any], version: int = 0):
    keys = ["indicator", "date", "end", "value", "source", "reliability", "credibility", "note"]
    return plain(pages.ind.add_observation)(n, *[fields.get(k) for k in keys], CASE, version)


def test_add_observation_stores_it_with_the_acting_user(pages, nt_store):
    message, version = add(
        pages,
        1,
        {
            "indicator": "leader_summit",
            "date": "2025-11-20",
            "value": "1",
            "source": "Kyodo 2025-11-20",
            "reliability": "B",
            "note": "<b>not html</b>",
        },
    )
    assert version == 1
    frame = nt_store.observations(CASE, indicator="leader_summit")
    row = frame[frame["date"] == "2025-11-20"].iloc[0]
    assert row["recorded_by"] == "tester" and row["reliability"] == "B" and row["credibility"] == 3
    assert row["note"] == "<b>not html</b>"
    assert f"Added observation {int(row['id'])}." in text_of(message)
    table, _, _, _ = plain(pages.ind.render_table)(None, version, CASE)
    shown = next(r for r in table if r["id"] == int(row["id"]))
    assert shown["note"] == "<b>not html</b>" and shown["date"] == "2025-11-20" and shown["end"] == ""


def test_add_observation_errors_name_the_fields_and_store_nothing(pages, nt_store):
    before = nt_store.snapshot()
    message, version = add(pages, 1, {"indicator": "leader_summit", "date": "2025-02-30", "value": "1.5", "source": ""})
    assert version is no_update
    text = text_of(message)
    assert "Observation not added" in text
    assert "Date: '2025-02-30' is not a real calendar date." in text
    assert "Source: the source is missing" in text
    assert nt_store.snapshot() == before
    with pytest.raises(PreventUpdate):
        add(pages, 0, {})


def upload(pages, content: bytes, name: str = "new.csv", version: int = 0):
    contents = "data:text/csv;base64," + base64.b64encode(content).decode()
    return plain(pages.ind.upload_csv)(contents, name, CASE, version)


def test_upload_imports_all_rows(pages, nt_store):
    csv = (
        MINI_HEADER + "\nleader_summit,2025-10-01,,1,Kyodo,B,2,\nisland_exercise,2025-10-02,,1,TASS,C,3,drill\n"
    ).encode()
    message, version, contents = upload(pages, csv)
    assert version == 1 and contents is None
    assert "Imported 2 observation(s) from new.csv" in text_of(message)
    assert nt_store.n_records(CASE) == 176


def test_upload_with_bad_rows_lists_each_line_and_stores_nothing(pages, nt_store):
    before = nt_store.snapshot()
    csv = (
        MINI_HEADER + "\nleader_summit,2025-10-01,,1,Kyodo,B,2,\n"
        "no_such_indicator,2025-10-02,,1,TASS,C,3,\n"
        "leader_summit,2025-10-03,,1,,Z,3,\n"
    ).encode()
    message, version, _ = upload(pages, csv, "bad.csv")
    assert version is no_update
    text = text_of(message)
    assert "bad.csv: 3 bad row(s); nothing was imported." in text
    assert "line 3, column 'indicator': 'no_such_indicator' is not an indicator" in text
    assert "line 4, column 'source': the source is missing" in text
    assert "line 4, column 'reliability'" in text
    assert nt_store.snapshot() == before


def test_upload_line_numbers_are_file_lines(pages, nt_store):
    csv = (
        MINI_HEADER + "\n\nleader_summit,2025-10-01,,1,Kyodo,B,2,\nleader_summit,2025-10-01,,1,Kyodo,B,2,\n"
    ).encode()
    text = text_of(upload(pages, csv, "dup.csv")[0])
    assert (
        "line 4, column 'value': the same observation (indicator, date, end, value, source) is already "
        "on line 3" in text
    )


def test_upload_of_a_non_csv_file_is_refused(pages, nt_store):
    before = nt_store.snapshot()
    text = text_of(upload(pages, b"\x00\x01binary", "x.png")[0])
    assert "x.png: the file is not" in text and "Nothing was imported." in text
    assert nt_store.snapshot() == before


def test_correct_and_retract_the_selected_observation(pages, nt_store):
    edit = plain(pages.ind.edit_observation)
    target = int(nt_store.observations(CASE, indicator="leader_summit")["id"].iloc[0])
    assert f"Observation {target}: leader_summit" in plain(pages.ind.show_selected)([target], CASE)
    message, version = edit(1, 0, [target], "source", "MOFA", "better source", CASE, 4, action="correct")
    assert version == 5 and "Corrected observation" in text_of(message)
    current = nt_store.observations(CASE, indicator="leader_summit")
    assert "MOFA" in set(current["source"])
    message, version = edit(1, 0, [target], "value", "1", "", CASE, 5, action="retract")
    assert version is no_update and "needs a reason" in text_of(message)
    message, version = edit(1, 1, [target], None, None, "duplicate report", CASE, 5, action="retract")
    assert version == 6 and "Retracted observation" in text_of(message)
    assert target not in set(nt_store.observations(CASE)["original_id"])
    history = nt_store.history(CASE)
    assert list(history["kind"].tail(2)) == ["correction", "retraction"]
    assert set(history["recorded_by"].tail(2)) == {"tester"}


def test_edit_needs_a_selection_and_a_press(pages, nt_store):
    edit = plain(pages.ind.edit_observation)
    message, version = edit(1, 0, [], "value", "2", "r", CASE, 0, action="correct")
    assert "Select an observation" in text_of(message) and version is no_update


def test_charts_and_table_use_the_run_flags(pages, nt_store):
    register_fake_run(nt_store, CASE)
    options, value, suggestions = plain(pages.ind.indicator_choices)(CASE, None)
    assert len(options) == 17 and value == ["asdf_scrambles_russia", "russian_statement_tone"]
    assert len(suggestions) == 17
    charts = plain(pages.ind.render_charts)(["asdf_scrambles_russia", "leader_summit"], None, 0, CASE)
    assert [c.id for c in charts] == ["chart-asdf_scrambles_russia", "chart-leader_summit"]
    rows, tips, selected, note = plain(pages.ind.render_table)(None, 0, CASE)
    assert len(rows) == 174 and selected == [] and len(tips) == 174
    flagged = [r for r in rows if r["surprise"] == "yes"]
    assert {r["indicator"] for r in flagged} == {"asdf_scrambles_russia", "russian_statement_tone"}
    assert all(tip["source"]["type"] == "text" for tip in tips if "source" in tip)


def test_charts_without_a_run_show_observations(pages, nt_store):
    charts = plain(pages.ind.render_charts)(["leader_summit"], None, 0, CASE)
    fig = charts[0].children[0].figure
    assert [t.name for t in fig.data] == ["Observed"]
    assert len(fig.data[0].y) == 26


# ---------------------------------------------------------------------------- model


def test_model_page_shows_diagnostics_and_figures(pages, nt_store):
    assert "No run yet" in text_of(plain(pages.model.render_model)(None, CASE))
    register_fake_run(nt_store, CASE)
    content = plain(pages.model.render_model)(None, CASE)
    graphs = find(content, lambda c: type(c).__name__ == "Graph")
    assert [g.id for g in graphs] == ["model-factors", "model-loadings", "model-hazard"]
    assert "Diagnostics passed" in text_of(content)
    assert "Largest R-hat" in text_of(content)


def test_model_page_shows_the_runs_structural_priors(pages, nt_store):
    from models.priors import DEFAULT_PRIORS, record

    forecast = sample_forecast()
    forecast["priors"] = record(DEFAULT_PRIORS.replace(persistence_alpha=8.0, loading_scale=0.5))
    register_fake_run(nt_store, CASE, forecast)
    content = plain(pages.model.render_model)(None, CASE)
    (table,) = find(content, lambda c: getattr(c, "id", None) == "priors-table")
    rows = {text_of(r.children[0]).split(" ")[0]: r for r in find(table, lambda c: type(c).__name__ == "Tr")[1:]}
    assert set(rows) == set(DEFAULT_PRIORS.as_dict())
    assert "Beta(8, 2)" in text_of(rows["persistence_alpha"]) and "set by the case" in text_of(rows["loading_scale"])
    assert "set by the case" not in text_of(rows["count_overdispersion_scale"])
    assert "HalfNormal(0.3)" in text_of(rows["count_overdispersion_scale"])
    section_text = text_of(find(content, lambda c: getattr(c, "id", None) == "model-priors"))
    assert "Structural priors" in section_text and "persistence_alpha, loading_scale" in section_text


def test_a_run_without_recorded_priors_shows_its_versions_defaults_or_says_not_recorded(pages, nt_store):
    register_fake_run(nt_store, CASE)  # the sample records no priors; the run is of this model version
    content = plain(pages.model.render_model)(None, CASE)
    section_text = text_of(find(content, lambda c: getattr(c, "id", None) == "model-priors"))
    assert "records no priors" in section_text and "Beta(18, 2)" in section_text
    old = views.prior_rows(sample_forecast())  # model "harbinger-model 0.1.0"
    assert old["rows"] == [] and old["note"].startswith("Not recorded")


def test_model_page_flags_failed_diagnostics(pages, nt_store):
    bad = sample_forecast()
    bad["diagnostics"].update(ok=False, max_rhat=1.2, problems=[])
    register_fake_run(nt_store, CASE, bad)
    content = plain(pages.model.render_model)(None, CASE)
    alert = find(content, lambda c: getattr(c, "className", "") == "notice notice-alert")
    assert alert and "Diagnostics failed: Largest R-hat 1.2 (want ≤ 1.01) — do not treat" in text_of(alert)


def test_user_text_is_rendered_as_text(pages):
    # Dash renders strings as text; make sure nothing in the pages opts into raw HTML
    import inspect

    for module in (pages.overview, pages.ind, pages.model, shell):
        source = inspect.getsource(module)
        assert "dangerously" not in source and "DangerouslySetInnerHTML" not in source
        assert 'presentation": "markdown' not in source
    assert isinstance(html.Div("<script>"), html.Div)


def test_model_page_shows_the_declared_cross_effects(pages):
    """The case's cross effects with their posteriors (tests/test_cross_effects.py writes them)."""
    from models.document import CrossEffect

    cross_effects_section = pages.model.cross_effects_section

    assert cross_effects_section(None) is None and cross_effects_section(()) is None
    effect = CrossEffect(
        from_factor="diplomatic_engagement",
        to_factor="military_pressure",
        effect="lowers",
        rationale="securitisation",
        prior_low=-0.5,
        prior_high=-0.05,
        post_mean=-0.31,
        post_p05=-0.52,
        post_p95=-0.1,
    )
    section = cross_effects_section((effect,))
    text = str(section.to_plotly_json())
    assert "model-cross-effects" in text and "-0.31" in text and "-0.52 to -0.10" in text and "securitisation" in text
