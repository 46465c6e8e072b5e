"""The fast update: the current run's draws reweighted by what was recorded since.

Its own small fit of the shipped case on the production path (nutpie with the fused density),
not the shared run of tests/fits.py: as of a fixed day (2025-12-31), so the k-hat it judges does
not change with the calendar, and with 200 draws a chain, enough for that k-hat to mean something.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from dashboard.services.runs import fit_case, forecast_of
from dashboard.services.updates import fast_update

SETTINGS = {"draws": 200, "tune": 200, "chains": 2, "seed": 3}


def _p(outcomes: list[dict[str, Any]], outcome: str, years: int) -> float:
    o = next(o for o in outcomes if o["id"] == outcome)
    return next(h["p_mean"] for h in o["horizons"] if h["years"] == years)


@pytest.mark.fit
def test_fast_update_reweights_the_current_run_by_the_records_made_since(cli: Any) -> None:
    from indicators.store import Store

    assert cli("init").exit_code == 0
    store = Store.from_env()
    case_id = store.case_ids()[0]
    run_id = fit_case(store, case_id, as_of=date(2025, 12, 31), attempts=1, **SETTINGS)
    assert fast_update(store, case_id) is None  # nothing recorded since the run

    # A drill on the islands after that series' recorded coverage ends (2023) carries no
    # information for the model: the update says so instead of silently using it.
    [drill] = store.add_observations(
        case_id,
        [
            {
                "indicator": "island_exercise",
                "date": "2025-12-05",
                "value": 1,
                "source": "test report",
                "reliability": "A",
                "credibility": 1,
            }
        ],
        actor="tester",
    )
    update = fast_update(store, case_id)
    assert update is not None and update["records"] == 1
    assert [drill, "outside the indicator's coverage window"] in update["ignored"]

    # An airspace violation: military pressure, which raises the chance of escalation.
    store.add_observations(
        case_id,
        [
            {
                "indicator": "russian_airspace_violation",
                "date": "2025-12-10",
                "value": 1,
                "source": "test report",
                "reliability": "A",
                "credibility": 1,
            }
        ],
        actor="tester",
    )
    update = fast_update(store, case_id)
    assert update is not None and "error" not in update, update
    assert update["run_id"] == run_id and update["records"] == 2
    assert update["reliable"] == (update["khat"] <= 0.7)
    assert update["khat"] < 0.7, update["khat"]  # one report: a small change, reweighting holds
    # The reweighting changed the forecast (the direction and size of such changes are checked
    # on strongly diagnostic evidence in tests/test_scenarios.py, through the same Conditioner).
    run_forecast = forecast_of(store, case_id, run_id=run_id)
    changed = [
        abs(_p(update["outcomes"], o["id"], h["years"]) - h["p_mean"])
        for o in run_forecast["outcomes"]
        for h in o["horizons"]
    ]
    assert max(changed) > 0, changed
    for o in update["outcomes"]:
        for h in o["horizons"]:
            assert 0.0 <= h["p_05"] <= h["p_mean"] <= h["p_95"] <= 1.0
    assert fast_update(store, case_id) is update  # cached for this run and record count


def test_fast_update_says_why_when_the_run_has_no_posterior(store: Any) -> None:
    from tests.dashboard_support import register_fake_run, sample_forecast

    # a fake run of the mini case: a forecast file but no posterior
    forecast = sample_forecast()
    forecast["case"] = "mini"
    register_fake_run(store, "mini", forecast)
    store.add_observations(
        "mini", [{"indicator": "summit_held", "date": "2016-05-01", "value": 1, "source": "test"}], actor="tester"
    )
    update = fast_update(store, "mini")
    assert update is not None and "no saved posterior" in update["error"]
