"""Why the forecast moved: finding changed observations, undoing them, contributions that add up
to the observed change, `harbinger explain` and the Overview's panel."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from models.explain import observation_changes, undo
from tests.scenario_support import CASE_ID


def frame(rows: list[tuple[int, int, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": i,
                "original_id": o,
                "indicator": ind,
                "date": pd.Timestamp(d),
                "end": pd.Timestamp(d),
                "value": v,
                "reliability": "B",
                "credibility": 2,
            }
            for i, o, ind, d, v in rows
        ]
    )


def test_changes_are_found_by_lineage_and_undone_exactly() -> None:
    old = frame([(1, 1, "a", "2020-01-01", 1.0), (2, 2, "a", "2020-02-01", 2.0), (3, 3, "b", "2020-03-01", 0.0)])
    new = frame([(1, 1, "a", "2020-01-01", 1.0), (5, 2, "a", "2020-02-01", 4.0), (6, 6, "b", "2020-04-01", 1.0)])
    changes = observation_changes(old, new)
    assert [(c.kind, c.original_id, c.record_id) for c in changes] == [
        ("corrected", 2, 5),
        ("retracted", 3, 3),
        ("new", 6, 6),
    ]
    assert changes[0].previous_value == 2.0 and "2 → 4" in changes[0].label()
    back = undo(new, old, changes).sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(back, old.sort_values("id").reset_index(drop=True), check_dtype=False)
    only_new = undo(new, old, [changes[2]])
    assert sorted(only_new["id"]) == [1, 5]
    assert observation_changes(old, old) == []


def test_contributions_add_up_to_the_observed_change(synthetic_home: Any) -> None:
    """Stated tolerance, per outcome and horizon (in percentage points): the unexplained remainder
    ``total - sum of contributions`` is at most 3 combined Monte Carlo standard errors of the two
    runs' forecasts (two independent small fits) + 25% of the contributions' summed sizes (they
    are leave-one-out effects, additive only to first order) + 0.5. Reweighting run B back to run
    A's data all at once is reliable on these fits (k-hat <= 0.7: the store is built on a fixed
    day, so this does not change with the calendar) and must give run A's forecast within the
    Monte Carlo part of that tolerance."""
    from dashboard.services import analysis as sa

    f = synthetic_home
    store = f.store()
    doc = sa.explain_runs(store, CASE_ID, refit=False)
    assert (doc["from_run"], doc["to_run"]) == (f.run_a, f.run_b)
    kinds = sorted((c["kind"], c["original_id"]) for c in doc["changes"])
    assert [k for k, _ in kinds].count("new") == 2 and [k for k, _ in kinds].count("corrected") == 1
    assert ("retracted", f.retracted_id) in kinds and len(doc["items"]) == 4
    a = sa.run_context(store, CASE_ID, store.get_run(f.run_a)).conditioner.baseline()
    b = sa.run_context(store, CASE_ID, store.get_run(f.run_b)).conditioner.baseline()
    assert doc["all_changes_khat"] <= 0.7
    for o in doc["outcomes"]:
        ha, hb = a.horizon(o["outcome"], o["years"]), b.horizon(o["outcome"], o["years"])
        assert o["before"] == ha["p_mean"] and o["after"] == hb["p_mean"]
        assert o["total_pp"] == pytest.approx(100 * (hb["p_mean"] - ha["p_mean"]), abs=1e-6)
        assert o["explained_pp"] + o["unexplained_pp"] == pytest.approx(o["total_pp"], abs=0.01)
        mc = 100 * 3 * (ha["mcse"] ** 2 + hb["mcse"] ** 2) ** 0.5
        sizes = sum(
            abs(c["pp"])
            for it in doc["items"]
            for c in it["contributions"]
            if (c["outcome"], c["years"]) == (o["outcome"], o["years"])
        )
        assert abs(o["unexplained_pp"]) <= mc + 0.25 * sizes + 0.5, o
        assert abs(o["all_changes_pp"] - o["total_pp"]) <= mc + 0.5, o
    # the corrected continuous report (ind_2, on factor_0, +0.5 in the latest quarter) matters for
    # outcome_0 (its effect on outcome_1, a posteriori independent, is Monte Carlo noise only)
    corr = next(it for it in doc["items"] if it["kind"] == "corrected")
    c0 = next(c for c in corr["contributions"] if (c["outcome"], c["years"]) == ("outcome_0", 1))
    assert abs(c0["pp"]) > 0.05 and c0["log_odds"] * c0["pp"] > 0
    for it in doc["items"]:
        assert it["method"] == "reweighting" and it["reliable"] == (it["khat"] <= 0.7)
    store.close()


def test_explain_command_and_overview_panel(synthetic_home: Any) -> None:
    from dashboard.cli.main import main
    from dashboard.web.panels import render_explain

    f = synthetic_home
    runner = CliRunner()
    res = runner.invoke(main, ["explain", "--format", "json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["from_run"] == f.run_a and doc["to_run"] == f.run_b and len(doc["items"]) == 4
    table = runner.invoke(main, ["explain", "--from", f.run_a, "--to", f.run_b])
    assert table.exit_code == 0 and "total change" in table.stdout and "unexplained remainder" in table.stdout
    same = runner.invoke(main, ["explain", "--from", f.run_b])
    assert same.exit_code == 2 and "same run" in same.stderr
    nothing_before = runner.invoke(main, ["explain", "--to", f.run_a])
    assert nothing_before.exit_code == 2 and "no earlier run" in nothing_before.stderr
    panel = str(render_explain(None, 1, CASE_ID))
    assert "explain-table" in panel and "total change" in panel and "unexplained remainder" in panel
    assert "corrected observation" in panel


def test_explain_without_a_posterior_says_so(store: Any) -> None:
    from dashboard.services import analysis as sa
    from dashboard.web.panels import render_explain
    from tests.dashboard_support import register_fake_run
    from tests.test_alerts import mini_forecast

    register_fake_run(store, "mini", mini_forecast({1: 0.05, 5: 0.18}))
    assert "no earlier run" in str(render_explain(None, 1, "mini"))
    register_fake_run(store, "mini", mini_forecast({1: 0.05, 5: 0.20}))
    with pytest.raises(sa.AnalysisUnavailable, match="no saved posterior"):
        sa.explain_runs(store, "mini")
    assert "No explanation for this change" in str(render_explain(None, 1, "mini"))
    res = CliRunner().invoke(__import__("dashboard.cli.main", fromlist=["main"]).main, ["explain"])
    assert res.exit_code == 1 and "no saved posterior" in res.stderr
