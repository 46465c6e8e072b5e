"""The store's tests again, on a real PostgreSQL server (HARBINGER_TEST_POSTGRES_URL).

Every test of tests/test_store.py that works through the ``store`` fixture or ``Store.from_env()``
is collected here a second time, with ``HARBINGER_DATABASE_URL`` pointing at the scratch
database (emptied before each test by the ``postgres_url`` fixture), so the same assertions hold
on both kinds of store. So are the store-level import tests of tests/test_import.py. Tests that
are about SQLite itself (pragmas, the file in HARBINGER_HOME) are left out; PostgreSQL's own
equivalents are below. Without HARBINGER_TEST_POSTGRES_URL every test here is skipped with the
reason; ``bash .ci/run`` starts a server and sets it.
"""

from __future__ import annotations

import inspect
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from indicators.store import SCHEMA_HEAD, Store
from tests import test_import, test_store

pytestmark = pytest.mark.postgres

#: Tests of tests/test_store.py that are about SQLite, not about the store's behaviour.
SQLITE_ONLY = {
    "test_migrations_create_all_tables_on_an_empty_sqlite_file",
    "test_default_location_is_harbinger_home",
    "test_database_url_overrides_home",
    "test_sqlite_pragmas",
}
#: Tests of tests/test_store.py that build their store from the environment without the fixture.
FROM_ENV = {"test_concurrent_writers_queue_instead_of_failing", "test_postgresql_round_trip"}
#: Store-level tests of tests/test_import.py (the CLI writes through Store.from_env()).
IMPORT_TESTS = (
    "test_identical_to_stored_observation_is_refused_naming_the_id",
    "test_every_bad_row_is_reported",
    "test_good_import_adds_rows",
    "test_recorded_at_back_fills_knowledge",
)


def _store_tests() -> dict[str, Any]:
    found = {}
    for name, fn in vars(test_store).items():
        if not name.startswith("test_") or not callable(fn) or name in SQLITE_ONLY:
            continue
        if "store" in inspect.signature(fn).parameters or name in FROM_ENV:
            found[name] = fn
    return found


STORE_TESTS = _store_tests()
globals().update(STORE_TESTS)
globals().update({name: getattr(test_import, name) for name in IMPORT_TESTS if hasattr(test_import, name)})


@pytest.fixture(autouse=True)
def on_postgres(harbinger_home: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every store of this module (the ``store`` fixture, the CLI, ``Store.from_env()``) is the
    scratch PostgreSQL database."""
    monkeypatch.setenv("HARBINGER_DATABASE_URL", postgres_url)
    return postgres_url


def test_the_store_tests_are_really_collected_here() -> None:
    # a guard against this module silently running nothing if test_store.py is reorganised
    assert len(STORE_TESTS) >= 20
    for name in (
        "test_as_of_time_travel_through_correction_and_retraction",
        "test_run_lifecycle",
        "test_observations_and_audit_are_append_only",
        "test_migrations_match_the_table_definitions",
        "test_concurrent_writers_queue_instead_of_failing",
        "test_postgresql_round_trip",
    ):
        assert name in STORE_TESTS


def test_the_fixture_store_is_postgresql(store: Store) -> None:
    assert store.engine.dialect.name == "postgresql"
    assert store.engine.dialect.driver == "psycopg"
    assert store.schema_version() == SCHEMA_HEAD


def test_migrations_create_all_tables_on_an_empty_database(postgres_url: str) -> None:
    store = Store(postgres_url)
    assert store.schema_version() is None
    store.upgrade()
    inspector = sa.inspect(store.engine)
    assert set(inspector.get_table_names()) >= test_store.EXPECTED_TABLES
    assert store.schema_version() == SCHEMA_HEAD
    # the append-only triggers are PostgreSQL triggers here
    with store.engine.connect() as conn:
        triggers = set(
            conn.exec_driver_sql("SELECT DISTINCT event_object_table FROM information_schema.triggers").scalars()
        )
    assert {"observations", "audit"} <= triggers
    store.close()


def test_concurrent_first_upgrades_create_the_schema_once(postgres_url: str, mini_case: Any) -> None:
    """Four processes' worth of stores starting at once on an empty database: the advisory lock
    makes one of them create the schema and the others find it done."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        try:
            s = Store(postgres_url)
            barrier.wait(timeout=30)
            s.upgrade()
            s.load_case(mini_case)
            s.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    store = Store(postgres_url)
    assert store.schema_version() == SCHEMA_HEAD
    assert store.case_ids() == ["mini"]
    assert [a["action"] for a in store.audit_log(limit=None)] == ["case.load"]
    store.close()


def test_writes_fail_whole_on_postgresql(store: Store) -> None:
    """A failing statement inside a write transaction leaves nothing behind (no partial import)."""
    before = store.snapshot()
    with pytest.raises(sa.exc.IntegrityError), store._write() as conn:
        conn.execute(sa.text("INSERT INTO audit (at, actor, action, detail) VALUES (now(), 't', 'x', '{}')"))
        conn.execute(
            sa.text("INSERT INTO cases (id, name, yaml, hash, loaded_at) VALUES ('mini', 'dup', '', '', now())")
        )
    assert store.snapshot() == before
