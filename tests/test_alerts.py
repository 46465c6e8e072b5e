"""Alert thresholds and saved scenarios in the store; alerts fire exactly when crossed; the CLI
(`alert add|list|remove|check`, exit code 3 when any fired) and the Overview's alert callbacks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dashboard.services.analysis import evaluate_alert, parse_threshold
from indicators.alerts import (
    add_alert,
    get_scenario,
    list_alerts,
    list_scenarios,
    remove_alert,
    save_scenario,
)
from indicators.errors import BadInput
from tests.dashboard_support import register_fake_run


def mini_forecast(p: dict[int, float]) -> dict[str, Any]:
    """A forecast document of the mini case: outcome 'treaty' with p_mean per horizon."""
    return {
        "case": "mini",
        "run_id": "x",
        "as_of": "2021-06-30",
        "model_version": "test",
        "case_hash": "h",
        "data_hash": "d",
        "n_observations": 5,
        "settings": {"draws": 100, "tune": 100, "chains": 2, "seed": 1, "sampler": "pymc"},
        "diagnostics": {
            "ok": True,
            "problems": [],
            "max_rhat": 1.0,
            "min_ess_bulk": 500,
            "min_ess_tail": 500,
            "divergences": 0,
            "min_bfmi": 1.0,
        },
        "outcomes": [
            {
                "id": "treaty",
                "question": "Is a peace treaty signed?",
                "resolved": False,
                "resolution_date": None,
                "horizons": [
                    {
                        "years": h,
                        "p_mean": v,
                        "p_05": v / 2,
                        "p_25": v,
                        "p_50": v,
                        "p_75": v,
                        "p_95": min(1, v * 2),
                        "mcse": 0.001,
                        "ess": 500,
                    }
                    for h, v in p.items()
                ],
            }
        ],
        "factors": [],
        "indicators": [],
        "loadings": [],
        "hazard": [],
    }


# ---------------------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    "kind,threshold,previous,current,fired",
    [
        ("above", 0.20, 0.19, 0.20, True),  # reaching the level counts as crossing upward
        ("above", 0.20, 0.19, 0.1999, False),
        ("above", 0.20, 0.20, 0.25, False),  # already at or above: no new crossing
        ("above", 0.20, 0.25, 0.15, False),  # downward is not upward
        ("below", 0.20, 0.20, 0.1999, True),
        ("below", 0.20, 0.25, 0.20, False),  # at the level is not below it
        ("below", 0.20, 0.15, 0.10, False),
        ("change", 0.05, 0.10, 0.1501, True),
        ("change", 0.05, 0.10, 0.0499, True),
        ("change", 0.05, 0.10, 0.15, False),  # exactly 5 points is not more than 5
        ("above", 0.20, None, 0.50, False),  # no previous run: nothing can have been crossed
    ],
)
def test_alerts_fire_exactly_when_crossed(
    kind: str, threshold: float, previous: float | None, current: float, fired: bool
) -> None:
    alert = {"id": 1, "outcome": "treaty", "horizon_years": 5.0, "kind": kind, "threshold": threshold}
    assert evaluate_alert(alert, current, previous)["fired"] is fired


def test_threshold_is_read_in_percent() -> None:
    assert parse_threshold("20") == pytest.approx(0.2)
    assert parse_threshold(" 2.5% ") == pytest.approx(0.025)
    for bad in ("abc", "0", "100", "-3"):
        with pytest.raises(BadInput):
            parse_threshold(bad)


# ---------------------------------------------------------------------------- the store


def test_alerts_are_stored_audited_and_deactivated(store: Any) -> None:
    aid = add_alert(store, "mini", outcome="treaty", horizon=5, kind="above", threshold=0.2, actor="ann")
    assert [a["id"] for a in list_alerts(store, "mini")] == [aid]
    assert store.audit_log(1)[0]["action"] == "alert.add"
    remove_alert(store, aid, actor="ann", case_id="mini")
    assert list_alerts(store, "mini") == []
    kept = list_alerts(store, "mini", include_inactive=True)
    assert kept[0]["id"] == aid and kept[0]["active"] is False
    assert store.audit_log(1)[0]["action"] == "alert.remove"
    with pytest.raises(BadInput, match="already removed"):
        remove_alert(store, aid, actor="ann")


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"outcome": "nope"}, "not in case"),
        ({"horizon": 3}, "not a horizon"),
        ({"kind": "sideways"}, "not one of"),
        ({"threshold": 1.5}, "strictly between 0 and 1"),
        ({"threshold": float("nan")}, "strictly between 0 and 1"),
    ],
)
def test_bad_alerts_are_refused_and_change_nothing(store: Any, changes: dict[str, Any], message: str) -> None:
    before = store.snapshot()
    args = {"outcome": "treaty", "horizon": 5, "kind": "above", "threshold": 0.2} | changes
    with pytest.raises(BadInput, match=message):
        add_alert(store, "mini", actor="ann", **args)
    assert store.snapshot() == before


def test_scenarios_are_saved_validated_and_unique(store: Any) -> None:
    obs = [
        {"indicator": "summit_held", "months_ahead": 3, "value": 1},
        {"indicator": "exercises", "months_ahead": 1, "span_months": 12, "value": 0, "note": "<b>none</b>"},
    ]
    sid = save_scenario(store, "mini", name="Quiet year", description="no exercises", observations=obs, actor="ann")
    saved = get_scenario(store, "mini", "Quiet year")
    assert saved["id"] == sid and saved["observations"][1]["note"] == "<b>none</b>"
    assert saved["observations"][0]["reliability"] == "B"  # defaults filled in
    assert [s["name"] for s in list_scenarios(store, "mini")] == ["Quiet year"]
    assert store.audit_log(1)[0]["action"] == "scenario.save"
    before = store.snapshot()
    for bad_obs, message in (
        ([{"indicator": "missiles", "months_ahead": 1, "value": 1}], "not in case"),
        ([{"indicator": "summit_held", "months_ahead": 1, "value": 2}], "outside"),
        ([{"indicator": "exercises", "months_ahead": 1, "value": 1.5}], "whole numbers"),
        ([{"indicator": "exercises", "months_ahead": 200, "value": 1}], "months_ahead"),
        ([], "no hypothetical observations"),
    ):
        with pytest.raises(BadInput, match=message):
            save_scenario(store, "mini", name="Other", observations=bad_obs, actor="ann")
    with pytest.raises(BadInput, match="already exists"):
        save_scenario(store, "mini", name="Quiet year", observations=obs, actor="ann")
    assert store.snapshot() == before


# ---------------------------------------------------------------------------- command line


def test_alert_commands_and_check_exit_code(cli: Any, store: Any) -> None:
    register_fake_run(store, "mini", mini_forecast({1: 0.05, 5: 0.18}))
    assert cli("alert", "list").stdout.strip() == "no alerts"
    added = cli("alert", "add", "treaty", "--horizon", "5", "--above", "20")
    assert added.exit_code == 0, added.stderr
    cli("alert", "add", "treaty", "--horizon", "1", "--change", "2")
    listed = json.loads(cli("alert", "list", "--format", "json").stdout)
    assert [(a["kind"], a["threshold_pct"], a["years"]) for a in listed] == [("above", 20.0, 5.0), ("change", 2.0, 1.0)]

    quiet = cli("alert", "check")  # one run only: nothing crossed
    assert quiet.exit_code == 0, quiet.stdout
    register_fake_run(store, "mini", mini_forecast({1: 0.06, 5: 0.21}))  # 5 y crosses 20%; 1 y moves 1 pt
    fired = cli("alert", "check", "--format", "json")
    assert fired.exit_code == 3
    doc = json.loads(fired.stdout)
    assert [(a["kind"], a["fired"]) for a in doc["alerts"]] == [("above", True), ("change", False)]
    table = cli("alert", "check")
    assert table.exit_code == 3 and "FIRED" in table.stdout

    cli("alert", "remove", str(listed[0]["id"]))
    assert cli("alert", "check").exit_code == 0  # the fired alert is gone
    assert len(json.loads(cli("alert", "list", "--all", "--format", "json").stdout)) == 2

    bad = cli("alert", "add", "treaty", "--horizon", "5", "--above", "20", "--below", "10")
    assert bad.exit_code == 2 and "exactly one" in bad.stderr
    bad = cli("alert", "add", "treaty", "--horizon", "7", "--above", "20")
    assert bad.exit_code == 2 and "not a horizon" in bad.stderr
    assert cli("alert", "remove", "999").exit_code == 2


# ---------------------------------------------------------------------------- dashboard callbacks


def test_overview_alert_callbacks_add_show_and_remove(store: Any) -> None:
    from dashboard.web import panels as panels

    labels = str(panels.overview_sections())  # the layout builds, every control with its label
    for label in ("Alert outcome", "Alert horizon (years)", "Alert threshold"):
        assert label in labels
    assert "Alert id to remove" not in labels  # each alert's row has its own Remove button (issue 20, item 8)
    register_fake_run(store, "mini", mini_forecast({1: 0.05, 5: 0.18}))
    register_fake_run(store, "mini", mini_forecast({1: 0.05, 5: 0.30}))
    msg, version = panels.edit_alerts(1, 0, "treaty", "5", "above", "25", None, "mini", 0, action="add")
    assert "Added alert" in str(msg) and version == 1
    view, options = panels.render_alerts(None, version, "mini")
    assert options == [{"label": "treaty", "value": "treaty"}]
    text = str(view)
    assert "FIRED" in text and "alert-fired" in text
    msg, _ = panels.edit_alerts(2, 0, "treaty", "five", "above", "25", None, "mini", 1, action="add")
    assert "not a number of years" in str(msg)
    aid = list_alerts(store, "mini")[0]["id"]
    msg, version = panels.edit_alerts(2, 1, None, None, None, None, str(aid), "mini", 1, action="remove")
    assert "Removed alert" in str(msg)
    assert "No alerts set" in str(panels.render_alerts(None, version, "mini")[0])
