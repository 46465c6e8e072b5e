"""A store holding dates that no reader can hold (stored before validation refused them, or by a
hand edit): every read still works, and ``harbinger observe repair`` retracts them for good.

The bad rows are inserted straight into the observations table, bypassing validation as an older
version did. The store is the shipped case with its shipped observations, so a fake run
(``tests.dashboard_support.register_fake_run``) gives the run bar and the report something to show.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from tests.dashboard_support import plain, register_fake_run, text_of

CASE = "northern_territories"
INDICATOR = "leader_summit"


@pytest.fixture
def nt(harbinger_home: Path) -> Any:
    """The shipped case and observations, the dashboard built on them, and bad rows stored by hand:
    ``unreadable`` (dated 0001-01-01, known in year 1, ending 9999-12-31) and ``early`` (readable
    but before the case starts)."""
    from dashboard.services import views
    from dashboard.web import app as shell
    from indicators.case import load_case, shipped_case_path
    from indicators.resources import data_path

    views.forget_stores()
    store = views.get_store()
    store.load_case(load_case(shipped_case_path()))
    store.import_csv(CASE, data_path("observations", f"{CASE}.csv"), actor="harbinger init")
    now = datetime(2024, 1, 2, 3, 4, 5)
    unreadable = [
        _insert(store, date=date(1, 1, 1), recorded_at=now, source="dated in year 1"),
        _insert(store, date=date(2020, 6, 1), recorded_at=datetime(1, 1, 1), source="known in year 1"),
        _insert(store, date=date(2020, 6, 1), end=date(9999, 12, 31), recorded_at=now, source="ends in 9999"),
    ]
    early = [_insert(store, date=date(1900, 1, 1), recorded_at=now, source="before the case")]
    app = shell.create_app(CASE, host="127.0.0.1")
    yield SimpleNamespace(
        store=store,
        app=app,
        unreadable=unreadable,
        early=early,
        ind=sys.modules["dashboard.web.pages.indicators"],
        shell=shell,
    )
    views.forget_stores()


def _insert(store: Any, **values: Any) -> int:
    from indicators.store import observations

    row = {
        "case_id": CASE,
        "indicator": INDICATOR,
        "value": 1.0,
        "reliability": "C",
        "credibility": 3,
        "note": "",
        "recorded_by": "an older version",
        "kind": "observation",
        **values,
    }
    with store._write() as conn:
        return int(conn.execute(observations.insert().returning(observations.c.id).values(**row)).scalar_one())


def _check_reads(nt: Any, cli: Any, tmp_path: Path, *, name: str) -> dict[str, Any]:
    """Every way the record is read: each must work. Returns what they said."""
    from dashboard.services import views

    views.forget_stores()
    frame = nt.store.observations(CASE)
    history = nt.store.history(CASE)
    listed = cli("observe", "list", "--format", "json")
    assert listed.exit_code == 0, listed.output
    for fmt in ("table", "csv"):
        assert cli("observe", "list", "--format", fmt).exit_code == 0
    shown = cli("observe", "history", "--format", "json")
    assert shown.exit_code == 0, shown.output
    assert cli("observe", "history").exit_code == 0
    api = nt.app.server.test_client().get("/api/observations", base_url="http://127.0.0.1:8050")
    assert api.status_code == 200, api.get_data(as_text=True)
    rows, *_ = plain(nt.ind.render_table)(None, 0, CASE)
    charts = plain(nt.ind.render_charts)([INDICATOR], None, 0, CASE)
    assert charts
    run_bar = text_of(nt.shell.render_run_bar(None, CASE))
    assert "observations" in run_bar, run_bar
    report = cli("report", "--format", "json", "--output", tmp_path / f"{name}.json")
    assert report.exit_code == 0, report.output
    assert json.loads((tmp_path / f"{name}.json").read_text())["case"] == CASE
    return {
        "frame": frame,
        "history": history,
        "listed": json.loads(listed.stdout),
        "stderr": listed.stderr,
        "history_json": json.loads(shown.stdout),
        "api": api.get_json(),
        "table_rows": rows,
    }


def test_every_read_works_while_unreadable_dates_are_stored(nt: Any, cli: Any, tmp_path: Path) -> None:
    register_fake_run(nt.store, CASE)
    got = _check_reads(nt, cli, tmp_path, name="before")
    # rows no reader can hold are left out of what is in effect (and so of every fit) ...
    for ids in (
        set(got["frame"]["id"]),
        {r["id"] for r in got["listed"]},
        {r["id"] for r in got["api"]},
        {r["id"] for r in got["table_rows"]},
    ):
        assert not ids & set(nt.unreadable) and set(nt.early) <= ids
    # ... shown as missing times in the history ...
    hist = got["history"].set_index("id")
    assert hist.loc[nt.unreadable[0], ["date", "end"]].isna().all()
    assert pd.isna(hist.loc[nt.unreadable[1], "recorded_at"]) and pd.isna(hist.loc[nt.unreadable[2], "end"])
    assert pd.notna(hist.loc[nt.unreadable[2], "date"])
    by_id = {r["id"]: r for r in got["history_json"]}
    assert by_id[nt.unreadable[0]]["date"] is None and by_id[nt.early[0]]["date"] == "1900-01-01"
    # ... and 'observe list' says so, naming every problem row and the way to repair it
    assert "observe repair" in got["stderr"]
    for oid in nt.unreadable + nt.early:
        assert str(oid) in got["stderr"]


def test_observe_repair_lists_then_retracts_and_every_read_works_after(nt: Any, cli: Any, tmp_path: Path) -> None:
    from dashboard.services import views

    register_fake_run(nt.store, CASE)
    before = nt.store.snapshot()
    listed = cli("observe", "repair", "--format", "json")
    assert listed.exit_code == 0, listed.output
    problems = json.loads(listed.stdout)
    assert [p["id"] for p in problems] == nt.unreadable + nt.early
    assert "0001-01-01 is before the case starts (2010-01-01)" in problems[0]["problem"]
    assert "recorded_at 0001-01-01T00:00:00" in problems[1]["problem"]
    assert "9999-12-31 is after 2262-04-10" in problems[2]["problem"]
    assert "1900-01-01 is before the case starts" in problems[3]["problem"]
    assert "--retract" in listed.stderr
    assert nt.store.snapshot() == before  # listing changes nothing

    done = cli("observe", "repair", "--retract", "--format", "json")
    assert done.exit_code == 0, done.output
    retracted = json.loads(done.stdout)
    assert [p["id"] for p in retracted] == nt.unreadable + nt.early
    views.forget_stores()
    history = nt.store.history(CASE).set_index("id")
    for p in retracted:
        record = history.loc[p["retraction"]]
        assert record["kind"] == "retraction" and record["supersedes"] == p["id"]
        assert record["reason"].startswith("date outside the range the case accepts (its ")
        assert record["recorded_by"] == "tester"
    assert nt.store.audit_log(limit=1)[0]["action"] == "observation.repair"

    got = _check_reads(nt, cli, tmp_path, name="after")
    assert "observe repair" not in got["stderr"] and "dates the case refuses" not in got["stderr"]  # nothing left
    assert not {r["id"] for r in got["listed"]} & set(nt.unreadable + nt.early)
    assert nt.store.date_problems(CASE) == []
    again = cli("observe", "repair", "--retract")
    assert again.exit_code == 0 and "nothing retracted" in again.stdout
    after = nt.store.snapshot()
    assert cli("observe", "repair").exit_code == 0 and nt.store.snapshot() == after


def test_repair_reason_follows_the_text_rules(nt: Any, cli: Any) -> None:
    before = nt.store.snapshot()
    res = cli("observe", "repair", "--retract", "--reason", "bad\x1b[2J")
    assert res.exit_code == 2 and "control character U+001B" in res.stderr and "\x1b" not in res.stderr
    assert nt.store.snapshot() == before
