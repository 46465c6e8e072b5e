"""The report's analysis sections: Scenarios, Why it moved, Track record.

A copy of the session's shared tiny fit of the shipped case (tests/fits.py) with a fake earlier
run registered in it (a forecast file only, passing its diagnostics, recorded on a fixed day before
the fit: the last passing run is what a change is measured against, and the explanation needs only
the newer run's posterior), and the sample saved backtest of :mod:`tests.backtest_support`. The
fit fails its diagnostics, so the fake run stays the current one: the HTML and PDF are made of the
fit (``--run``) once through the installed ``harbinger`` and compared with ``harbinger scenario
run NAME --run FIT --no-refit --format json`` and ``harbinger explain --from FAKE --to FIT
--format json``. The graceful sentences are checked on fake runs.
"""

from __future__ import annotations

import html
import os
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tests.backtest_support import sample_backtest, save_old_backtest, save_sample_backtest
from tests.clock import fixed_clock
from tests.dashboard_support import register_fake_run, sample_forecast
from tests.fits import CASE, copy_home, harbinger_json
from tests.fits import harbinger as run


def open_store(home: Path) -> Any:
    from indicators.store import Store

    with mock.patch.dict(os.environ, {"HARBINGER_HOME": str(home)}):
        os.environ.pop("HARBINGER_DATABASE_URL", None)
        return Store.from_env()


@pytest.fixture(scope="module")
def fitted(shared_run: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("sections")
    home = copy_home(shared_run.home, root / "home")
    current = shared_run.run_id
    store = open_store(home)
    with fixed_clock(datetime(2025, 12, 16, 12)):  # the day after the sample forecast's as-of date
        previous = register_fake_run(store, CASE, sample_forecast())
    scenario_ids = [s.id for s in store.get_case(CASE).case.scenarios]
    store.close()
    save_sample_backtest(home)
    t0 = time.monotonic()
    pdf = run(home, "report", "--run", current, "--format", "pdf", "--output", str(root / "report.pdf"))
    pdf_seconds = time.monotonic() - t0
    assert pdf.returncode == 0, pdf.stderr
    res = run(home, "report", "--run", current, "--format", "html", "--output", str(root / "report.html"))
    assert res.returncode == 0, res.stderr
    scenarios = {
        sid: harbinger_json(home, "scenario", "run", sid, "--run", current, "--no-refit") for sid in scenario_ids
    }
    explained = harbinger_json(home, "explain", "--from", previous, "--to", current)
    print(f"PDF report with the analysis sections: {pdf_seconds:.1f} s")
    return {
        "home": home,
        "html": (root / "report.html").read_text(encoding="utf-8"),
        "pdf": root / "report.pdf",
        "scenarios": scenarios,
        "explain": explained,
        "previous": previous,
        "current": current,
        "pdf_seconds": pdf_seconds,
    }


def section_html(html_text: str, sec: str) -> str:
    m = re.search(rf'<section id="sec-{sec}" class="section">(.*?)</section>', html_text, flags=re.DOTALL)
    assert m, f"no section {sec}"
    return m.group(1)


def cells(fragment: str, cls: str) -> list[dict[str, str]]:
    out = []
    for m in re.finditer(rf'<td class="[^"]*\b{cls}\b[^"]*"([^>]*)>(.*?)</td>', fragment, flags=re.DOTALL):
        attrs = dict(re.findall(r'data-([a-z0-9-]+)="([^"]*)"', m.group(1)))
        attrs["text"] = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(2))).strip())
        out.append(attrs)
    return out


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return re.sub(r"\s+", " ", " ".join(p.extract_text() or "" for p in PdfReader(str(path)).pages))


# ---------------------------------------------------------------------------- real fit


def test_the_three_sections_are_in_the_html_and_its_contents(fitted: dict[str, Any]) -> None:
    text = fitted["html"]
    for sec, title in (("scenarios", "Scenarios"), ("why-it-moved", "Why it moved"), ("track-record", "Track record")):
        assert f'<a href="#sec-{sec}">{title}</a>' in text
        assert f"<h2>{title}</h2>" in section_html(text, sec)
    order = [
        text.index(f'id="sec-{s}"')
        for s in ("summary", "why-it-moved", "evidence", "scenarios", "track-record", "diagnostics")
    ]
    assert order == sorted(order)


def test_scenario_numbers_match_harbinger_scenario_run(fitted: dict[str, Any]) -> None:
    part = section_html(fitted["html"], "scenarios")
    shown = cells(part, "scenario-change")
    assert fitted["scenarios"], "the shipped case has scenarios"
    for sid, doc in fitted["scenarios"].items():
        assert doc["method"] == "reweighting"
        assert doc["scenario"]["name"] in html.unescape(part)
        mine = {(c["outcome"], float(c["years"])): c for c in shown if c["scenario"] == sid}
        assert len(mine) == len(doc["results"]) > 0
        for r in doc["results"]:
            c = mine[(r["outcome"], float(r["years"]))]
            assert float(c["pp"]) == r["difference"]["pp"]
            assert float(c["low-pp"]) == r["difference"]["low_pp"]
            assert float(c["high-pp"]) == r["difference"]["high_pp"]
            assert float(c["khat"]) == r["khat"] and c["method"] == r["method"]
            assert c["text"].startswith(f"{r['difference']['pp']:+.2f} pts")
            assert f"k-hat {r['khat']:.2f}" in c["text"]
            assert (c["reliable"] == "yes") == r["reliable"]
            if not r["reliable"]:
                assert "UNRELIABLE" in c["text"]
        if not doc["reliable"]:
            assert "not reliable by reweighting; run the refit from the Scenarios page" in part


def test_why_it_moved_matches_harbinger_explain(fitted: dict[str, Any]) -> None:
    doc = fitted["explain"]
    assert doc["from_run"] == fitted["previous"] and doc["to_run"] == fitted["current"]
    part = section_html(fitted["html"], "why-it-moved")
    assert f"From run {fitted['previous']}" in part and f"to this run ({fitted['current']}," in part
    totals = {(c["outcome"], float(c["years"])): c for c in cells(part, "explain-total")}
    assert len(totals) == len(doc["outcomes"]) > 0
    for o in doc["outcomes"]:
        c = totals[(o["outcome"], float(o["years"]))]
        assert float(c["total-pp"]) == o["total_pp"]
        assert float(c["explained-pp"]) == o["explained_pp"]
        assert float(c["unexplained-pp"]) == o["unexplained_pp"]
        assert c["text"] == f"{o['total_pp']:+.2f} pts"
    assert "Unexplained remainder" in part or "Not from observations: " in part
    if doc["items"]:
        assert all(f'id="explain-{o["outcome"]}"' in part for o in doc["outcomes"])


def test_saved_backtest_is_the_track_record_in_html_and_pdf(fitted: dict[str, Any]) -> None:
    doc = sample_backtest()
    part = section_html(fitted["html"], "track-record")
    crps = {c["indicator"]: c for c in cells(part, "backtest-crps")}
    scored = [i for i in doc["indicators"] if i["n"]]
    assert set(crps) == {i["id"] for i in scored}
    for ind in scored:
        assert float(crps[ind["id"]]["crps"]) == ind["crps"]
        assert float(crps[ind["id"]]["crps-persistence"]) == ind["crps_persistence"]
        assert float(crps[ind["id"]]["crps-climatology"]) == ind["crps_climatology"]
        assert float(crps[ind["id"]]["coverage-90"]) == ind["coverage_90"]
    brier = {c["outcome"]: c for c in cells(part, "backtest-brier")}
    for o in doc["outcomes"]:
        assert float(brier[o["id"]]["brier"]) == o["brier"]
        assert float(brier[o["id"]]["log-score"]) == o["log_score"]
    assert part.count("<svg ") == 2  # PIT histogram and probability over origins
    assert "Origins whose fit failed its diagnostics" in part and "2021" in part
    text = pdf_text(fitted["pdf"])
    assert "Track record" in text and "Why it moved" in text and "Scenarios" in text
    hardline = next(o for o in doc["outcomes"] if o["id"] == "japan_hardline_shift")
    assert "leader_summit" in text and "0.433 0.733 skill +0.41 0.533 skill +0.19 67% 67%" in text
    assert f"{hardline['brier']:.4f}" in text and f"{hardline['log_score']:.4f}" in text
    # each target with its verdict (the sample meets both), its value and nothing marked missed
    assert doc["targets"] and all(t["met"] is True for t in doc["targets"])
    for t in doc["targets"]:
        assert f"MET: {t['target']} — value {t['value']:.3f}" in text, t
    assert "MISSED" not in text


def test_pdf_build_time_is_reasonable(fitted: dict[str, Any]) -> None:
    # a subprocess with imports, two scenarios by reweighting, an explanation and every chart
    assert fitted["pdf_seconds"] < 240


# ---------------------------------------------------------------------------- fake runs


def _shipped(cli: Any) -> Any:
    from indicators.store import Store

    assert cli("init").exit_code == 0
    return Store.from_env()


def test_a_run_without_posterior_gets_a_sentence_in_each_section(cli: Any, harbinger_home: Path) -> None:
    from dashboard import report
    from dashboard.report.analysis import NO_BACKTEST

    store = _shipped(cli)
    run_id = register_fake_run(store, CASE)
    content = report.build(store, CASE)
    by_id = {s["id"]: s for s in content["sections"]}
    scen = by_id["sec-scenarios"]["blocks"]
    assert [b["kind"] for b in scen] == ["paragraph", "paragraph"]
    assert scen[1]["text"].startswith(f"Scenarios cannot be computed for this run: run {run_id} has no saved posterior")
    assert by_id["sec-why-it-moved"]["blocks"][0]["text"].startswith("There is no earlier good run")
    assert by_id["sec-track-record"]["blocks"] == [{"kind": "paragraph", "text": NO_BACKTEST}]
    html_text = report.render(content, "html").decode()
    assert (
        "Scenarios cannot be computed for this run" in html_text and "run <code>harbinger backtest</code>" in html_text
    )
    # a second fake run: there is a previous run, but no posterior to explain the move with
    second = register_fake_run(store, CASE, sample_forecast())
    content = report.build(store, CASE, run_id=second)
    moved = {s["id"]: s for s in content["sections"]}["sec-why-it-moved"]["blocks"]
    assert len(moved) == 1 and moved[0]["text"].startswith(f"The change since run {run_id} cannot be explained")
    assert "has no saved posterior" in moved[0]["text"]
    store.close()


def test_a_saved_backtest_appears_for_a_fake_run(cli: Any, harbinger_home: Path) -> None:
    from dashboard import report

    store = _shipped(cli)
    register_fake_run(store, CASE)
    save_sample_backtest(harbinger_home)
    html_text = report.render(report.build(store, CASE), "html").decode()
    part = section_html(html_text, "track-record")
    assert "leader_summit" in part and 'data-crps="0.4333"' in part and 'data-brier="0.32125"' in part
    assert "MET: count indicators: lower CRPS than persistence" in part
    store.close()


def test_the_track_record_shows_the_skill_three_ways(cli: Any, harbinger_home: Path) -> None:
    from dashboard import report

    store = _shipped(cli)
    register_fake_run(store, CASE)
    save_sample_backtest(harbinger_home)
    part = section_html(report.render(report.build(store, CASE), "html").decode(), "track-record")
    skill = {(c["group"], c["summary"]): c for c in cells(part, "backtest-skill")}
    assert float(skill["count indicators", "mean of ratios"]["persistence"]) == 0.1923
    assert float(skill["count indicators", "pooled"]["persistence"]) == -0.7459
    assert float(skill["all indicators", "median"]["climatology"]) == 0.5
    assert skill["count indicators", "pooled"]["text"] == "-0.746"
    assert "Skill against baselines: mean of ratios / pooled / median" in part
    assert "one outlier indicator cannot move it" in part and "Computed from the saved per-row" not in part
    outcome = {c["outcome"]: c for c in cells(part, "backtest-outcome-skill")}
    assert float(outcome["japan_hardline_shift"]["skill-brier"]) == 0.2901
    assert "Skill vs elicited base rate" in part and "Pooled over all 4 outcome forecasts" in part
    store.close()


@pytest.mark.parametrize("rows", [True, False])
def test_an_old_backtest_still_shows_in_the_track_record(cli: Any, harbinger_home: Path, rows: bool) -> None:
    from dashboard import report

    store = _shipped(cli)
    register_fake_run(store, CASE)
    save_old_backtest(harbinger_home, rows=rows)
    part = section_html(report.render(report.build(store, CASE), "html").decode(), "track-record")
    assert "leader_summit" in part and 'data-brier="0.32125"' in part
    skill = {(c["group"], c["summary"]): c for c in cells(part, "backtest-skill")}
    if rows:
        assert float(skill["count indicators", "pooled"]["persistence"]) == -0.7459
        assert "Computed from the saved per-row scores" in part
    else:
        assert not skill and "Mean of ratios, pooled and median skill: — (this backtest holds no per-row" in part
    store.close()


def test_scenarios_never_refit_and_an_unreliable_one_is_marked(
    cli: Any, harbinger_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import report
    from dashboard.services import analysis as sa

    store = _shipped(cli)
    register_fake_run(store, CASE)
    calls = []

    def fake_run_scenario(
        store: Any, case_id: str, spec: Any, *, run_id: str | None = None, refit: bool = True, progress: Any = None
    ) -> dict[str, Any]:
        calls.append(refit)
        row = {
            "outcome": "peace_treaty",
            "years": 1,
            "baseline": {"p_mean": 0.01, "p_05": 0.0, "p_95": 0.03},
            "scenario": {"p_mean": 0.02, "p_05": 0.0, "p_95": 0.05, "mcse": 0.001},
            "difference": {"pp": 1.0, "low_pp": 0.5, "high_pp": 1.5},
            "method": "reweighting",
            "khat": 0.93,
            "reliable": False,
        }
        return {
            "case": case_id,
            "run_id": run_id,
            "scenario": spec.as_dict(),
            "method": "reweighting",
            "khat": 0.93,
            "khat_max": 0.7,
            "reliable": False,
            "reweighting_khat": 0.93,
            "hypothetical_observations": [],
            "ignored": [],
            "refit_diagnostics": None,
            "results": [row],
            "resolved": [],
        }

    monkeypatch.setattr(sa, "run_scenario", fake_run_scenario)
    html_text = report.render(report.build(store, CASE), "html").decode()
    part = section_html(html_text, "scenarios")
    assert calls and not any(calls)
    assert "not reliable by reweighting; run the refit from the Scenarios page" in part
    assert 'data-reliable="no"' in part and "UNRELIABLE" in part and "k-hat 0.93" in part
    store.close()


def test_a_failing_analysis_is_a_sentence_not_a_failed_report(
    cli: Any, harbinger_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import report
    from dashboard.services import analysis as sa

    store = _shipped(cli)
    register_fake_run(store, CASE)
    (harbinger_home / "backtests").mkdir(parents=True, exist_ok=True)
    (harbinger_home / "backtests" / f"backtest-{CASE}-20260101T000000Z.json").write_text(
        '{"schema": 1, "indicators": [1]}'
    )

    def boom(*_a: Any, **_k: Any) -> None:
        raise ZeroDivisionError("broken")

    monkeypatch.setattr(sa, "run_scenario", boom)
    content = report.build(store, CASE)
    by_id = {s["id"]: s for s in content["sections"]}
    assert (
        "could not be computed for this report (ZeroDivisionError: broken.)"
        in by_id["sec-scenarios"]["blocks"][1]["text"]
    )
    assert "could not be shown" in by_id["sec-track-record"]["blocks"][0]["text"]
    store.close()
