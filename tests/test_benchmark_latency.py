"""`benchmarks/latency.py`: its table and JSON summary from given rows (no fit, no process)."""

from __future__ import annotations

import json
from types import ModuleType

import pytest

from tests.benchmarks import benchmark

#: The latency table's rows, one JSON key each (the issue's list), and the ESS/s ratio.
KEYS = {
    "cold_process_fit_s",
    "fresh_install_fit_s",
    "warm_refit_s",
    "scenario_refit_s",
    "fast_update_s",
    "backtest_default_s",
    "pdf_report_s",
    "html_report_s",
    "pymc_ess_ratio",
}


@pytest.fixture(scope="module")
def latency() -> ModuleType:
    return benchmark("latency")


def test_every_row_has_its_key_and_a_failed_fit_counts_as_no_timing(latency: ModuleType) -> None:
    rows = {
        "warm_refit_s": {"value": 12.5, "ok": True, "note": "min ESS 3000"},
        "cold_process_fit_s": {"value": 20.0, "ok": False, "note": "diagnostics FAILED: R-hat 1.02 above 1.01"},
        "pdf_report_s": {"value": 14.0, "unprepared_s": 18.0, "ok": True, "note": ""},
        "pymc_ess_ratio": {"value": 16.9, "ok": True, "note": ""},
    }
    summary = latency.summarise(rows)
    assert set(summary) >= KEYS
    assert summary["warm_refit_s"] == 12.5 and summary["pymc_ess_ratio"] == 16.9
    assert summary["cold_process_fit_s"] is None  # the fit failed its diagnostics: no timing
    assert summary["fresh_install_fit_s"] is None and summary["backtest_default_s"] is None  # not measured
    assert summary["targets_met"] == {"warm_refit_s": True, "pdf_report_s": False}
    assert summary["rows"]["cold_process_fit_s"]["value"] == 20.0  # the seconds are kept
    json.dumps(summary)

    lines = latency.table(rows)
    by_key = {line.split()[0]: line for line in lines[1:]}
    assert set(by_key) == KEYS
    assert "FAILED" in by_key["cold_process_fit_s"] and "R-hat 1.02" in by_key["cold_process_fit_s"]
    assert "met" in by_key["warm_refit_s"] and "12.5 s" in by_key["warm_refit_s"]
    assert "missed" in by_key["pdf_report_s"] and "≤ 10 s" in by_key["pdf_report_s"]
    assert "not measured" in by_key["backtest_default_s"]
    assert "16.9x" in by_key["pymc_ess_ratio"]


def test_the_default_measures_every_row_and_skip_or_only_choose(latency: ModuleType) -> None:
    assert latency.selected(latency._args([])) == list(latency.ROWS)
    assert set(latency.ROWS) == KEYS
    skipped = latency.selected(latency._args(["--skip", "backtest_default_s", "--skip", "pymc_ess_ratio"]))
    assert skipped == [k for k in latency.ROWS if k not in ("backtest_default_s", "pymc_ess_ratio")]
    assert latency.selected(latency._args(["--only", "html_report_s", "--only", "pdf_report_s"])) == [
        "pdf_report_s",
        "html_report_s",
    ]
    with pytest.raises(SystemExit):
        latency._args(["--skip", "no_such_row"])
