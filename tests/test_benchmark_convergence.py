"""`benchmarks/convergence.py`'s pass-rate summary (unit, no fit) and the retry rule it shares with
``harbinger fit`` (``FitSettings.retried``)."""

from __future__ import annotations

from models.settings import FitSettings
from tests.benchmarks import benchmark


def _module():
    return benchmark("convergence")


def _fit(seed: int, ok: bool, *, as_of: str = "today", failing: list[str] | None = None, retry=None) -> dict:
    record = {
        "as_of": as_of,
        "date": "2026-12-05",
        "seed": seed,
        "seconds": 10.0,
        "ok": ok,
        "failing": failing or ([] if ok else ["count_dispersion[a] (R-hat 1.018, ESS 372)"]),
    }
    if retry is not None:
        record["retry"] = {"ok": retry}
    return record


def test_the_retry_doubles_the_tuning_and_takes_the_next_seed() -> None:
    first = FitSettings(seed=7, tune=300)
    again = first.retried()
    assert (again.seed, again.tune, again.draws, again.chains) == (8, 600, first.draws, first.chains)


def test_pass_rates_count_first_attempts_and_retries_apart() -> None:
    mod = _module()
    records = [_fit(1, True), _fit(2, False, retry=True), _fit(3, False, retry=False), _fit(4, True)]
    figures = mod.summarise(records, ["today"], default_seed=1)
    assert (figures["passed"], figures["fits"], figures["pass_rate"]) == (2, 4, 0.5)
    assert figures["passed_with_retry"] == 3
    row = figures["per_as_of"]["today"]
    assert row["failed_seeds"] == [2, 3] and row["failing_quantities"] == {"count_dispersion[a]": 2}
    assert figures["default_seed_today_ok"] is True and figures["target_met"] is False


def test_without_retries_the_pass_rate_with_retry_is_unknown() -> None:
    mod = _module()
    figures = mod.summarise([_fit(1, True), _fit(2, False)], ["today"], default_seed=1)
    assert figures["passed_with_retry"] is None
    everything_passed = mod.summarise([_fit(1, True), _fit(2, True)], ["today"], default_seed=1)
    assert everything_passed["passed_with_retry"] == 2 and everything_passed["target_met"] is True
