"""Alembic migrations upgrade an existing store, SQLite or PostgreSQL, without losing anything.

The old store is built the way an old release built it: ``alembic upgrade 0001`` (the first
schema), then rows written with plain SQL against the tables that revision created (so the test
does not depend on today's Store code matching yesterday's schema): a case, observations with a
correction and a retraction, runs in every status, and the audit trail. Then ``harbinger init``
(what the README tells a team to run after installing a new version) upgrades it to the newest
revision, and every row of every old table must be there, unchanged, and the store must work.
PostgreSQL cases need HARBINGER_TEST_POSTGRES_URL (see tests/conftest.py ``postgres_url``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from indicators.store import SCHEMA_HEAD, Store, alembic_config
from tests.conftest import MINI_CASE, MINI_OBSERVATIONS

OLD = "0001"
OLD_TABLES = ("cases", "observations", "audit", "runs")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_store_url(request: pytest.FixtureRequest, harbinger_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL of an empty database of each kind, which the ``harbinger`` CLI will also use."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("HARBINGER_DATABASE_URL", url)
        return url
    harbinger_home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{harbinger_home / 'harbinger.db'}"


def build_old_store(url: str, mini_case: Any) -> dict[str, Any]:
    """A store at revision 0001 holding data; returns the ids it wrote."""
    from alembic import command

    store = Store(url)
    cfg = alembic_config(url)
    with store._write() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, OLD)
    assert store.schema_version() == OLD

    t = sa.MetaData()
    with store._write() as conn:
        t.reflect(conn, only=list(OLD_TABLES))
        assert set(t.tables) == set(OLD_TABLES)
        cases, obs, audit, runs = (t.tables[n] for n in OLD_TABLES)
        conn.execute(
            cases.insert().values(
                id="mini",
                name="Mini test case",
                yaml=mini_case.text,
                hash=mini_case.hash,
                loaded_at=datetime(2020, 1, 1, 9),
            )
        )

        def add(**values: Any) -> int:
            base = {
                "case_id": "mini",
                "source": "TASS",
                "reliability": "C",
                "credibility": 3,
                "note": "",
                "recorded_by": "alice",
                "kind": "observation",
            }
            return conn.execute(obs.insert().returning(obs.c.id).values(**{**base, **values})).scalar_one()

        scr = add(
            indicator="scrambles",
            date=date(2019, 4, 1),
            end=date(2020, 3, 31),
            value=947,
            source="Japan MoD",
            reliability="A",
            credibility=1,
            note="FY2019",
            recorded_at=datetime(2020, 4, 9, 6),
        )
        ex = add(
            indicator="exercises",
            date=date(2021, 6, 10),
            value=1,
            note="Etorofu, ünïcödé “quotes”",
            recorded_at=datetime(2021, 6, 11),
        )
        tone = add(indicator="tone", date=date(2021, 9, 1), value=2, recorded_at=datetime(2021, 9, 2))
        hoax = add(
            indicator="exercises",
            date=date(2021, 7, 1),
            value=1,
            reliability="E",
            credibility=5,
            recorded_at=datetime(2021, 7, 2),
        )
        cor = add(
            indicator="exercises",
            date=date(2021, 6, 10),
            value=2,
            note="two exercises",
            recorded_at=datetime(2021, 8, 1),
            recorded_by="bob",
            kind="correction",
            supersedes=ex,
            reason="recount",
        )
        ret = add(
            indicator="exercises",
            date=date(2021, 7, 1),
            value=1,
            reliability="E",
            credibility=5,
            recorded_at=datetime(2021, 8, 2),
            recorded_by="bob",
            kind="retraction",
            supersedes=hoax,
            reason="hoax",
        )
        for at, actor, action, detail in [
            (datetime(2020, 1, 1, 9), "harbinger init", "case.load", {"case": "mini", "hash": mini_case.hash}),
            (datetime(2021, 7, 2), "alice", "observation.add", {"case": "mini", "n": 4, "ids": [scr, ex, tone, hoax]}),
            (
                datetime(2021, 8, 1),
                "bob",
                "observation.correct",
                {"case": "mini", "id": cor, "supersedes": ex, "reason": "recount", "changes": {"value": 2}},
            ),
            (
                datetime(2021, 8, 2),
                "bob",
                "observation.retract",
                {"case": "mini", "id": ret, "supersedes": hoax, "reason": "hoax"},
            ),
        ]:
            conn.execute(audit.insert().values(at=at, actor=actor, action=action, detail=detail))
        run_common = {
            "case_id": "mini",
            "case_hash": mini_case.hash,
            "data_hash": "d" * 16,
            "n_observations": 3,
            "model_version": "m1",
            "settings": {"draws": 60, "sampler": "pymc", "seed": 7},
        }
        for run in [
            {
                **run_common,
                "id": "r20210901T000000-aaaa",
                "created_at": datetime(2021, 9, 1),
                "finished_at": datetime(2021, 9, 1, 0, 5),
                "as_of": date(2021, 9, 1),
                "status": "ok",
                "diagnostics": {"ok": False, "max_rhat": 1.08, "problems": ["R-hat 1.08 > 1.01"]},
                "diagnostics_ok": False,
                "path": "/runs/r20210901T000000-aaaa",
                "pid": 4242,
                "host": "old-host",
            },
            {
                **run_common,
                "id": "r20210902T000000-bbbb",
                "created_at": datetime(2021, 9, 2),
                "finished_at": datetime(2021, 9, 2, 0, 1),
                "as_of": date(2021, 9, 2),
                "status": "failed",
                "error": "interrupted",
                "pid": 4243,
                "host": "old-host",
            },
            {
                **run_common,
                "id": "r20210903T000000-cccc",
                "created_at": datetime(2021, 9, 3),
                "as_of": date(2021, 9, 3),
                "status": "running",
                "pid": 4244,
                "host": "old-host",
            },
        ]:
            conn.execute(runs.insert().values(**run))
    store.close()
    return {"scrambles": scr, "exercises": ex, "tone": tone, "hoax": hoax, "correction": cor, "retraction": ret}


def _contents(url: str) -> dict[str, list[dict[str, Any]]]:
    store = Store(url)
    try:
        snap = store.snapshot()
    finally:
        store.close()
    return {name: rows for name, rows in snap.items() if name in OLD_TABLES}


def test_old_store_upgrades_to_head_without_loss(old_store_url: str, mini_case: Any, cli: Any) -> None:
    url = old_store_url
    ids = build_old_store(url, mini_case)
    before = _contents(url)
    assert [len(before[n]) for n in OLD_TABLES] == [1, 6, 4, 3]

    result = cli("init", "--case-file", str(MINI_CASE), "--observations", str(MINI_OBSERVATIONS))
    assert result.exit_code == 0, result.output
    assert f"schema upgraded (revision {SCHEMA_HEAD})" in result.output
    assert "case 'mini': unchanged" in result.output
    assert "already has 6 record(s)" in result.output  # the old records are seen, nothing re-imported

    store = Store(url)
    assert store.schema_version() == SCHEMA_HEAD
    after = {name: rows for name, rows in store.snapshot().items() if name in OLD_TABLES}
    for name in OLD_TABLES:
        assert len(after[name]) == len(before[name]), name
        for old, new in zip(before[name], after[name], strict=True):
            # every old column keeps its value (a later revision may add columns, never change these)
            assert {k: new[k] for k in old} == old, name
    # the tables added since 0001 exist (and start empty)
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"users", "alerts", "scenarios"} <= names

    # the old records read through today's code with their meaning intact
    now = store.observations("mini")
    assert sorted(now["id"].tolist()) == sorted([ids["scrambles"], ids["correction"], ids["tone"]])
    ex = now[now["indicator"] == "exercises"].iloc[0]
    assert (ex["value"], ex["original_id"], ex["note"]) == (2.0, ids["exercises"], "two exercises")
    past = store.observations("mini", as_of=date(2021, 7, 15))
    assert sorted(past["value"].tolist()) == [1.0, 1.0, 947.0]  # before the correction and the retraction
    hist = store.history("mini")
    assert hist["kind"].tolist() == ["observation"] * 4 + ["correction", "retraction"]
    assert hist.set_index("id").loc[ids["exercises"], "note"] == "Etorofu, ünïcödé “quotes”"
    runs = store.runs("mini")
    assert [(r["id"][-4:], r["status"]) for r in runs] == [("cccc", "running"), ("bbbb", "failed"), ("aaaa", "ok")]
    ok = store.latest_run("mini")
    assert ok is not None and ok["diagnostics"]["problems"] == ["R-hat 1.08 > 1.01"]
    assert ok["settings"] == {"draws": 60, "sampler": "pymc", "seed": 7}
    assert ok["created_at"] == datetime(2021, 9, 1, tzinfo=UTC)
    log = store.audit_log(limit=None)
    assert [a["action"] for a in log][-4:] == [
        "observation.retract",
        "observation.correct",
        "observation.add",
        "case.load",
    ]
    assert log[-2]["detail"]["ids"] == [ids["scrambles"], ids["exercises"], ids["tone"], ids["hoax"]]

    # and it keeps working: new records get new ids, history stays append-only
    (new,) = store.add_observations(
        "mini", [{"indicator": "exercises", "date": "2022-01-05", "value": 1, "source": "Kyodo"}], actor="carol"
    )
    assert new > max(ids.values())
    again = store.correct(ids["correction"], {"value": 3}, reason="second recount", actor="carol")
    assert store.history("mini").set_index("id").loc[again, "supersedes"] == ids["correction"]
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM observations WHERE id = :id"), {"id": ids["scrambles"]})
    assert len(store.history("mini")) == 8
    store.close()


def test_upgrade_of_an_up_to_date_store_changes_nothing(old_store_url: str, mini_case: Any, cli: Any) -> None:
    build_old_store(old_store_url, mini_case)
    assert cli("init", "--case-file", str(MINI_CASE)).exit_code == 0
    store = Store(old_store_url)
    before = store.snapshot()
    store.close()
    result = cli("init", "--case-file", str(MINI_CASE))
    assert result.exit_code == 0, result.output
    assert f"schema up to date (revision {SCHEMA_HEAD})" in result.output
    store = Store(old_store_url)
    assert store.snapshot() == before
    store.close()
