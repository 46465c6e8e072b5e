"""The store: schema and migrations, cases, bitemporal observations, audit, runs."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from indicators.case import parse_case
from indicators.errors import BadInput, RowErrors
from indicators.store import OBSERVATION_COLUMNS, SCHEMA_HEAD, Store

EXPECTED_TABLES = {"cases", "observations", "audit", "runs", "users", "alerts", "scenarios", "alembic_version"}


class Clock:
    """Stands in for ``indicators.store.utcnow`` so records get chosen recording times."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.now = datetime(2020, 1, 1)
        monkeypatch.setattr("indicators.store.utcnow", lambda: self.now)

    def set(self, *args: int) -> None:
        self.now = datetime(*args)


def _row(**kw: Any) -> dict[str, Any]:
    base = {"indicator": "exercises", "date": "2021-01-05", "value": 1, "source": "TASS"}
    return {**base, **kw}


# ------------------------------------------------------------------------- schema


def test_migrations_create_all_tables_on_an_empty_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    db.touch()
    store = Store(f"sqlite:///{db}")
    assert store.schema_version() is None
    store.upgrade()
    inspector = sa.inspect(sa.create_engine(f"sqlite:///{db}"))
    assert set(inspector.get_table_names()) >= EXPECTED_TABLES
    obs_cols = {c["name"] for c in inspector.get_columns("observations")}
    assert obs_cols == {
        "id",
        "case_id",
        "indicator",
        "date",
        "end",
        "value",
        "source",
        "reliability",
        "credibility",
        "note",
        "recorded_at",
        "recorded_by",
        "kind",
        "supersedes",
        "reason",
    }
    run_cols = {c["name"] for c in inspector.get_columns("runs")}
    assert run_cols == {
        "id",
        "case_id",
        "created_at",
        "finished_at",
        "as_of",
        "status",
        "case_hash",
        "data_hash",
        "n_observations",
        "model_version",
        "settings",
        "diagnostics",
        "diagnostics_ok",
        "path",
        "error",
        "pid",
        "host",
    }
    assert {c["name"] for c in inspector.get_columns("audit")} == {"id", "at", "actor", "action", "detail"}
    assert store.schema_version() == SCHEMA_HEAD


def test_migrations_match_the_table_definitions(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from indicators.store import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_upgrade_is_idempotent(store: Store) -> None:
    before = store.snapshot()
    store.upgrade()
    store.upgrade()
    assert store.snapshot() == before


def test_default_location_is_harbinger_home(harbinger_home: Path) -> None:
    store = Store.from_env()
    store.upgrade()
    assert store.home == harbinger_home
    assert (harbinger_home / "harbinger.db").exists()
    assert store.runs_dir == harbinger_home / "runs" and store.runs_dir.is_dir()


def test_database_url_overrides_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, harbinger_home: Path) -> None:
    other = tmp_path / "elsewhere.db"
    monkeypatch.setenv("HARBINGER_DATABASE_URL", f"sqlite:///{other}")
    store = Store.from_env()
    store.upgrade()
    assert other.exists()
    assert not (harbinger_home / "harbinger.db").exists()


def test_sqlite_pragmas(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_observations_and_audit_are_append_only(store: Store) -> None:
    (oid,) = store.add_observations("mini", [_row()], actor="t")
    for sql in (
        f"UPDATE observations SET value = 5 WHERE id = {oid}",
        f"DELETE FROM observations WHERE id = {oid}",
        "DELETE FROM audit",
        "UPDATE audit SET actor = 'x'",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as conn:
            conn.exec_driver_sql(sql)
    assert store.observations("mini")["value"].tolist() == [1.0]


# ------------------------------------------------------------------------- cases


def test_load_case_insert_unchanged_update(store: Store, mini_case: Any) -> None:
    assert store.case_ids() == ["mini"]
    assert store.load_case(mini_case) == "unchanged"
    got = store.get_case("mini")
    assert got.hash == mini_case.hash and got.case == mini_case.case
    changed = parse_case(mini_case.text.replace("name: Mini test case", "name: Mini, renamed"))
    assert store.load_case(changed) == "updated"
    assert store.get_case("mini").case.name == "Mini, renamed"
    actions = [a["action"] for a in store.audit_log()]
    assert actions == ["case.update", "case.load"]


def test_get_unknown_case_is_bad_input(store: Store) -> None:
    with pytest.raises(BadInput, match="unknown case 'nope'; loaded cases: mini"):
        store.get_case("nope")


def test_case_update_that_drops_a_used_indicator_is_refused(store: Store, mini_case: Any) -> None:
    store.add_observations("mini", [_row(indicator="budget", value=2.5)], actor="t")
    text = mini_case.text
    start = text.index("  - id: budget")
    end = text.index("outcomes:")
    smaller = parse_case(text[:start] + text[end:])
    before = store.snapshot()
    with pytest.raises(BadInput, match="drops indicator\\(s\\) budget"):
        store.load_case(smaller)
    assert store.snapshot() == before


# ------------------------------------------------------------------------- observations


def test_add_observations_returns_ids_and_frame_has_the_documented_shape(store: Store) -> None:
    ids = store.add_observations(
        "mini",
        [
            _row(),
            _row(
                indicator="scrambles",
                date="2020-04-01",
                end="2021-03-31",
                value=725,
                reliability="a",
                credibility="1",
                note="FY2020",
            ),
        ],
        actor="alice",
    )
    assert len(ids) == 2 and ids[0] < ids[1]
    df = store.observations("mini")
    assert list(df.columns) == OBSERVATION_COLUMNS
    assert df["indicator"].tolist() == ["exercises", "scrambles"]  # sorted by indicator
    assert df["id"].tolist() == ids and df["original_id"].tolist() == ids
    assert str(df["date"].dtype).startswith("datetime64") and str(df["end"].dtype).startswith("datetime64")
    ex, sc = df.iloc[0], df.iloc[1]
    assert ex["end"] == ex["date"] == pd.Timestamp("2021-01-05")  # single day: end filled with date
    assert sc["end"] == pd.Timestamp("2021-03-31")
    assert (ex["reliability"], ex["credibility"]) == ("C", 3)  # documented defaults
    assert (sc["reliability"], sc["credibility"], sc["note"]) == ("A", 1, "FY2020")
    assert set(df["recorded_by"]) == {"alice"}
    assert df["recorded_at"].dt.tz is not None


def test_empty_result_has_the_same_columns(store: Store) -> None:
    df = store.observations("mini")
    assert df.empty and list(df.columns) == OBSERVATION_COLUMNS
    assert str(df["date"].dtype).startswith("datetime64")


def test_add_is_all_or_nothing_and_reports_every_bad_row(store: Store) -> None:
    before = store.snapshot()
    with pytest.raises(RowErrors) as info:
        store.add_observations("mini", [_row(), _row(value=-1), _row(date="2021-02-30", source="")], actor="t")
    lines = {(line, col) for line, col, _ in info.value.errors}
    assert lines == {(2, "value"), (3, "date"), (3, "source")}
    assert store.snapshot() == before


def test_identical_to_a_stored_observation_is_refused_naming_its_id(store: Store) -> None:
    (oid,) = store.add_observations("mini", [_row()], actor="t")
    before = store.snapshot()
    with pytest.raises(RowErrors, match=f"already stored as id {oid}"):
        store.add_observations("mini", [_row(note="again")], actor="t")
    assert store.snapshot() == before


def test_every_write_adds_an_audit_row(store: Store) -> None:
    n0 = len(store.audit_log(limit=None))
    (oid,) = store.add_observations("mini", [_row()], actor="alice")
    cid = store.correct(oid, {"value": 2}, reason="typo", actor="bob")
    store.retract(cid, reason="hoax", actor="carol")
    log = store.audit_log(limit=None)
    assert len(log) == n0 + 3
    assert [(a["action"], a["actor"]) for a in log[:3]] == [
        ("observation.retract", "carol"),
        ("observation.correct", "bob"),
        ("observation.add", "alice"),
    ]
    assert log[2]["detail"]["ids"] == [oid]
    assert log[0]["at"].tzinfo is not None


def test_history_keeps_every_record(store: Store) -> None:
    (oid,) = store.add_observations("mini", [_row()], actor="t")
    cid = store.correct(oid, {"value": 3}, reason="typo", actor="t")
    rid = store.retract(oid, reason="hoax", actor="t")
    hist = store.history("mini")
    assert hist["id"].tolist() == [oid, cid, rid]
    assert hist["kind"].tolist() == ["observation", "correction", "retraction"]
    assert hist["supersedes"].tolist()[1:] == [oid, cid]
    assert hist["original_id"].tolist() == [oid, oid, oid]
    assert hist["reason"].tolist()[1:] == ["typo", "hoax"]
    assert store.observations("mini").empty


# ------------------------------------------------------------------------- as-of semantics


def test_as_of_time_travel_through_correction_and_retraction(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    clock.set(2021, 1, 10, 12)
    (oid,) = store.add_observations("mini", [_row(date="2021-01-05", value=1)], actor="t")
    clock.set(2022, 3, 1, 23, 59)
    cid = store.correct(oid, {"value": 4, "note": "recounted"}, reason="recount", actor="t")
    clock.set(2023, 5, 1, 8)
    store.retract(oid, reason="hoax", actor="t")

    assert store.observations("mini", as_of=date(2021, 1, 9)).empty  # not yet recorded
    before = store.observations("mini", as_of=date(2021, 1, 10))  # recorded that day: known at its end
    assert before[["id", "original_id", "value", "note"]].values.tolist() == [[oid, oid, 1.0, ""]]
    assert store.observations("mini", as_of=date(2022, 2, 28))["value"].tolist() == [1.0]
    corrected = store.observations("mini", as_of=date(2022, 3, 1))
    assert corrected[["id", "original_id", "value", "note"]].values.tolist() == [[cid, oid, 4.0, "recounted"]]
    assert store.observations("mini", as_of=date(2023, 4, 30))["value"].tolist() == [4.0]
    assert store.observations("mini", as_of=date(2023, 5, 1)).empty
    assert store.observations("mini").empty


def test_as_of_excludes_later_records_and_later_periods(store: Store) -> None:
    store.add_observations(
        "mini",
        [
            _row(date="2019-06-01", recorded_at="2019-06-02T10:00:00Z"),
            _row(date="2020-06-01", recorded_at="2021-01-01T00:00:00+09:00"),  # = 2020-12-31T15:00Z
            _row(date="2018-06-01", recorded_at="2022-01-01"),  # learned late about an old event
        ],
        actor="t",
    )
    assert store.observations("mini", as_of=date(2019, 12, 31))["date"].dt.year.tolist() == [2019]
    assert store.observations("mini", as_of=date(2020, 12, 31))["date"].dt.year.tolist() == [2019, 2020]
    assert store.observations("mini", as_of=date(2022, 1, 1))["date"].dt.year.tolist() == [2018, 2019, 2020]
    # period filter: an observation recorded early about a date after as_of is still excluded
    store.add_observations("mini", [_row(date="2020-03-01", recorded_at="2020-03-01")], actor="t")
    assert 2020 not in store.observations("mini", as_of=date(2020, 2, 29))["date"].dt.year.tolist()


def test_correction_that_moves_the_date_is_filtered_by_the_new_date(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    clock.set(2021, 6, 1)
    (oid,) = store.add_observations("mini", [_row(date="2021-01-05")], actor="t")
    clock.set(2021, 7, 1)
    store.correct(oid, {"date": "2021-06-20"}, reason="wrong day", actor="t")
    assert store.observations("mini", as_of=date(2021, 6, 15))["date"].tolist() == [pd.Timestamp("2021-01-05")]
    clock.set(2021, 8, 1)
    assert store.observations("mini", as_of=date(2021, 7, 1))["date"].tolist() == [pd.Timestamp("2021-06-20")]
    assert store.observations("mini", as_of=date(2021, 7, 1))["end"].tolist() == [pd.Timestamp("2021-06-20")]


def test_chained_corrections_and_filter_by_indicator(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    clock.set(2021, 2, 1)
    oid, other = store.add_observations("mini", [_row(), _row(indicator="tone", value=1)], actor="t")
    clock.set(2021, 3, 1)
    c1 = store.correct(oid, {"value": 2}, reason="first", actor="t")
    clock.set(2021, 4, 1)
    c2 = store.correct(oid, {"value": 3}, reason="second", actor="t")  # by the original id
    hist = store.history("mini").set_index("id")
    assert hist.loc[c2, "supersedes"] == c1  # points at the record it replaces
    ex = store.observations("mini", indicator="exercises")
    assert ex[["id", "original_id", "value"]].values.tolist() == [[c2, oid, 3.0]]
    assert store.observations("mini", indicator="tone")["id"].tolist() == [other]
    assert store.observations("mini", as_of=date(2021, 3, 15), indicator="exercises")["value"].tolist() == [2.0]


def test_correct_and_retract_refusals(store: Store) -> None:
    oid, other = store.add_observations("mini", [_row(), _row(value=2)], actor="t")
    before = store.snapshot()
    with pytest.raises(BadInput, match="no observation with id 999"):
        store.retract(999, reason="x", actor="t")
    with pytest.raises(BadInput, match="needs a reason"):
        store.retract(oid, reason="  ", actor="t")
    with pytest.raises(BadInput, match="same as the ones in effect"):
        store.correct(oid, {"value": 1}, reason="x", actor="t")
    with pytest.raises(BadInput, match=f"same as observation {other}"):
        store.correct(oid, {"value": 2}, reason="x", actor="t")
    with pytest.raises(BadInput, match="column 'value'.*whole number"):
        store.correct(oid, {"value": 1.5}, reason="x", actor="t")
    with pytest.raises(BadInput, match="cannot change 'kind'"):
        store.correct(oid, {"kind": "retraction"}, reason="x", actor="t")
    assert store.snapshot() == before
    store.retract(oid, reason="hoax", actor="t")
    with pytest.raises(BadInput, match=f"observation {oid} was retracted"):
        store.retract(oid, reason="again", actor="t")
    with pytest.raises(BadInput, match="was retracted"):
        store.correct(oid, {"value": 5}, reason="x", actor="t")


def test_retracted_observation_may_be_entered_again(store: Store) -> None:
    (oid,) = store.add_observations("mini", [_row()], actor="t")
    store.retract(oid, reason="wrong case", actor="t")
    (new,) = store.add_observations("mini", [_row()], actor="t")
    assert store.observations("mini")["id"].tolist() == [new]


# ------------------------------------------------------------------------- dates and text the readers cannot take


def _insert_unchecked(store: Store, **values: Any) -> int:
    """Store a record as an older version did, without today's validation."""
    from indicators.store import observations

    row = {
        "case_id": "mini",
        "indicator": "exercises",
        "date": date(2021, 1, 5),
        "value": 1.0,
        "source": "old",
        "reliability": "C",
        "credibility": 3,
        "note": "",
        "recorded_at": datetime(2021, 2, 1),
        "recorded_by": "an older version",
        "kind": "observation",
        **values,
    }
    with store._write() as conn:
        return conn.execute(observations.insert().returning(observations.c.id).values(**row)).scalar_one()


def test_stored_dates_no_reader_can_hold_are_read_and_repaired(store: Store) -> None:
    good = store.add_observations("mini", [_row()], actor="t")
    year_1 = _insert_unchecked(store, date=date(1, 1, 1))
    known_in_year_1 = _insert_unchecked(store, recorded_at=datetime(1, 1, 1), source="known early")
    ends_9999 = _insert_unchecked(store, end=date(9999, 12, 31), source="never ends")
    bad = [year_1, known_in_year_1, ends_9999]
    assert store.observations("mini")["id"].tolist() == good  # the rest cannot be read, so is left out
    assert store.observations("mini", as_of=datetime.now(UTC).date())["id"].tolist() == good
    history = store.history("mini").set_index("id")
    assert history.loc[year_1, ["date", "end"]].isna().all() and pd.isna(history.loc[known_in_year_1, "recorded_at"])
    assert pd.isna(history.loc[ends_9999, "end"]) and history.loc[ends_9999, "date"] == pd.Timestamp("2021-01-05")
    assert [p["id"] for p in store.date_problems("mini")] == bad
    done = store.repair_dates("mini", reason="old import", actor="admin")
    assert [p["id"] for p in done] == bad
    history = store.history("mini").set_index("id")
    for p in done:
        assert history.loc[p["retraction"], "kind"] == "retraction"
        assert history.loc[p["retraction"], "reason"] == f"old import ({p['problem']})"
    assert store.date_problems("mini") == [] and store.repair_dates("mini", reason="x", actor="a") == []
    assert store.observations("mini")["id"].tolist() == good
    with pytest.raises(BadInput, match="repair's reason contains a NUL byte"):
        store.repair_dates("mini", reason="a\x00b", actor="admin")


def test_no_observation_before_1900_whatever_the_case_says(store: Store, mini_case: Any) -> None:
    early = parse_case(mini_case.text.replace("start: 2015-01-01", "start: 1850-01-01"), where="early case")
    assert store.load_case(early) == "updated"
    with pytest.raises(RowErrors, match="1899-12-31 is before 1900-01-01, the earliest date the store accepts"):
        store.add_observations("mini", [_row(date="1899-12-31")], actor="t")
    (oid,) = store.add_observations("mini", [_row(date="1900-01-01", recorded_at="1900-01-02")], actor="t")
    assert store.observations("mini")["date"].tolist() == [pd.Timestamp("1900-01-01")]
    assert store.date_problems("mini") == []


@pytest.mark.parametrize(
    "field,text,reason",
    [
        ("source", "Asahi\x00Shimbun", "contains a NUL byte"),
        ("note", "a\x00b", "contains a NUL byte"),
        ("source", "\udcff", "is not valid UTF-8 text"),
        ("note", "\ud800", "is not valid UTF-8 text"),
        ("source", "x" * 2001, "above the limit of 2,000"),
    ],
    ids=["nul_source", "nul_note", "surrogate_source", "surrogate_note", "long_source"],
)
def test_text_every_database_takes_the_same(store: Store, field: str, text: str, reason: str) -> None:
    """NUL bytes (which PostgreSQL refuses) and lone surrogates (which no database encodes) are bad
    input on every store, never a database error."""
    before = store.snapshot()
    with pytest.raises(RowErrors, match=reason):
        store.add_observations("mini", [_row(**{field: text})], actor="t")
    (oid,) = store.add_observations("mini", [_row()], actor="t")
    after = store.snapshot()
    for call in (
        lambda: store.retract(oid, reason=text, actor="t"),
        lambda: store.correct(oid, {"value": 2}, reason=text, actor="t"),
        lambda: store.correct(oid, {field: text}, reason="fix", actor="t"),
    ):
        with pytest.raises(BadInput, match=reason):
            call()
    assert store.snapshot() == after and len(after["observations"]) == len(before["observations"]) + 1


# ------------------------------------------------------------------------- runs


def _new_run(store: Store, **kw: Any) -> str:
    args = dict(
        as_of=date(2024, 1, 1),
        case_hash="c" * 16,
        data_hash="d" * 16,
        n_observations=5,
        model_version="m1",
        settings={"draws": 100, "seed": 1},
    )
    return store.create_run("mini", **{**args, **kw})


def test_run_lifecycle(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    clock.set(2024, 2, 1, 10, 0, 0)
    r1 = _new_run(store)
    assert re.fullmatch(r"r20240201T100000-[0-9a-f]{4}", r1)
    run = store.get_run(r1)
    assert run is not None
    assert (run["status"], run["pid"], run["host"]) == ("running", os.getpid(), socket.gethostname())
    assert run["settings"] == {"draws": 100, "seed": 1} and run["as_of"] == date(2024, 1, 1)
    assert run["created_at"] == datetime(2024, 2, 1, 10, tzinfo=UTC)
    clock.set(2024, 2, 1, 11)
    store.finish_run(r1, diagnostics={"rhat_max": 1.01}, diagnostics_ok=True, path="runs/x.nc")
    clock.set(2024, 2, 2)
    r2 = _new_run(store)
    store.fail_run(r2, "sampler exploded")
    clock.set(2024, 2, 3)
    r3 = _new_run(store)

    done = store.get_run(r1)
    assert done is not None and (done["status"], done["diagnostics_ok"], done["path"]) == ("ok", True, "runs/x.nc")
    assert done["diagnostics"] == {"rhat_max": 1.01}
    failed = store.get_run(r2)
    assert failed is not None and (failed["status"], failed["error"]) == ("failed", "sampler exploded")
    assert [r["id"] for r in store.runs("mini")] == [r3, r2, r1]
    assert [r["id"] for r in store.runs("mini", status="failed")] == [r2]
    assert [r["id"] for r in store.runs("mini", limit=2)] == [r3, r2]
    assert store.latest_run("mini")["id"] == r1  # type: ignore[index]
    assert store.latest_run("mini", status=None)["id"] == r3  # type: ignore[index]
    assert store.get_run("nope") is None
    assert [a["action"] for a in store.audit_log(limit=4)] == ["run.create", "run.fail", "run.create", "run.finish"]


def test_fail_stale_runs_marks_only_dead_processes(store: Store) -> None:
    alive = _new_run(store)
    dead = _new_run(store)
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead_pid = int(proc.stdout)
    with store.engine.begin() as conn:  # runs are not append-only: a run's row moves through states
        conn.execute(sa.text("UPDATE runs SET pid = :pid WHERE id = :id"), {"pid": dead_pid, "id": dead})
    assert store.fail_stale_runs() == [dead]
    assert store.get_run(dead)["status"] == "failed"  # type: ignore[index]
    assert store.get_run(dead)["error"] == "interrupted"  # type: ignore[index]
    assert store.get_run(alive)["status"] == "running"  # type: ignore[index]
    assert store.fail_stale_runs() == []


def test_a_zombie_fit_process_counts_as_gone(store: Store) -> None:
    """A fit's process that was killed but not yet reaped by its parent is a zombie: it still
    answers ``kill(pid, 0)``, yet the fit is over."""
    run = _new_run(store)
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # exits at once; not waited for
    try:
        stat = Path(f"/proc/{child.pid}/stat")
        deadline = time.monotonic() + 10
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.02)
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE runs SET pid = :pid WHERE id = :id"), {"pid": child.pid, "id": run})
        assert store.fail_stale_runs() == [run]
        assert store.get_run(run)["error"] == "interrupted"  # type: ignore[index]
    finally:
        child.wait()


def test_snapshot_covers_every_table(store: Store) -> None:
    store.add_observations("mini", [_row()], actor="t")
    _new_run(store)
    snap = store.snapshot()
    assert set(snap) == EXPECTED_TABLES
    assert [len(snap[t]) for t in ("cases", "observations", "runs")] == [1, 1, 1]
    assert len(snap["audit"]) == 3


# ------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_postgresql_round_trip(monkeypatch: pytest.MonkeyPatch, mini_case: Any) -> None:
    url = os.environ.get("HARBINGER_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("set HARBINGER_TEST_POSTGRES_URL to a scratch PostgreSQL database to run this test")
    store = Store(url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    store.upgrade()
    store.upgrade()
    store.load_case(mini_case)
    (oid,) = store.add_observations("mini", [_row()], actor="t")
    cid = store.correct(oid, {"value": 2}, reason="typo", actor="t")
    assert store.observations("mini")[["id", "original_id", "value"]].values.tolist() == [[cid, oid, 2.0]]
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM observations")
    run = _new_run(store)
    store.finish_run(run, diagnostics={"ok": True}, diagnostics_ok=True, path="p")
    assert store.latest_run("mini")["id"] == run  # type: ignore[index]
    store.close()


def test_concurrent_writers_queue_instead_of_failing(harbinger_home: Path, mini_case: Any) -> None:
    import threading

    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            s = Store.from_env()
            s.upgrade()
            s.load_case(mini_case)
            for i in range(10):
                s.add_observations(
                    "mini", [_row(date=f"2021-01-{i + 1:02d}", source=f"worker {worker}")], actor=f"w{worker}"
                )
            s.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = Store.from_env()
    assert len(store.observations("mini")) == 40
    assert store.case_ids() == ["mini"]
    assert len(store.audit_log(limit=None)) == 1 + 40
