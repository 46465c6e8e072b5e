"""`benchmarks/warm_start.py`: its summary of refits from given rows (no fit, no process)."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.benchmarks import benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return benchmark("warm_start")


def test_a_failed_refit_counts_as_no_timing_and_ratios_are_to_the_prior(bench: ModuleType) -> None:
    rows = [
        {"refit": "0", "s": 40.0, "draws": 3000, "ok": True},
        {"refit": "0", "s": 30.0, "draws": 2000, "ok": True},
        {"refit": "0", "s": 5.0, "draws": 4000, "ok": False},  # fast and failed: not a timing
        {"refit": "500", "s": 14.0, "draws": 2000, "ok": True},
        {"refit": "500", "s": 21.0, "draws": 2500, "ok": True},
        {"refit": "500", "s": 60.0, "draws": 4000, "ok": False},
    ]
    summary = bench._summary(rows, ["0", "500"])
    assert summary["0"] == {
        "fits": 3,
        "passed": 2,
        "median_s": 35.0,
        "min_s": 30.0,
        "max_s": 40.0,
        "median_draws": 3000,
        "ratio_to_prior": 1.0,
    }
    assert summary["500"]["passed"] == 2 and summary["500"]["median_s"] == 17.5
    assert summary["500"]["ratio_to_prior"] == 0.5


def test_without_a_passing_refit_from_the_prior_there_is_no_ratio(bench: ModuleType) -> None:
    rows = [
        {"refit": "0", "s": 9.0, "draws": 4000, "ok": False},
        {"refit": "500", "s": 14.0, "draws": 2000, "ok": True},
    ]
    summary = bench._summary(rows, ["0", "500"])
    assert summary["0"]["median_s"] is None and summary["500"]["ratio_to_prior"] is None


def test_kinds_of_refit_are_labelled_by_warm_up_and_by_estimate_when_both_are_compared(bench: ModuleType) -> None:
    assert bench._kinds([0, 500], ["gradient"]) == [("0", 0, False), ("500", 500, True)]
    assert bench._kinds([500, 0], ["gradient", "variance"]) == [
        ("500 gradient", 500, True),
        ("500 variance", 500, False),
        ("0", 0, False),
    ]
