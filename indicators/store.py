"""The observation store: cases, bitemporal observations, runs and an audit trail.

SQLAlchemy 2 (Core) with Alembic migrations (``indicators/migrations``), driven from Python: no
``alembic.ini`` is needed. Only portable column types are used, so the same schema runs on
SQLite (the embedded default) and PostgreSQL (``HARBINGER_DATABASE_URL``).

Where things live
-----------------
``HARBINGER_HOME`` (default ``platformdirs.user_data_dir("harbinger")``) holds the SQLite file
``harbinger.db`` and the saved runs under ``runs/``. ``HARBINGER_DATABASE_URL`` replaces the
SQLite file by any SQLAlchemy URL; runs are still saved under ``HARBINGER_HOME/runs``.
SQLite connections use WAL, a 30 s busy timeout and foreign keys; write transactions start with
``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing. On PostgreSQL every write
transaction first takes one transaction-scoped advisory lock, so writers queue the same way and a
check-then-insert (duplicate detection, lineage heads) is never raced by another writer. A write
that still fails for contention (SQLite "database is locked" after the busy timeout, PostgreSQL
serialization failure or deadlock) is rolled back and retried whole, a few times with backoff
(:func:`retrying`).

Observations are bitemporal
---------------------------
Each record says what happened (indicator, ``date``..``end``, value), where it came from
(source, reliability A–F, credibility 1–6, note) and when we learned it (``recorded_at``, UTC,
``recorded_by``). Nothing is updated or deleted (the database refuses it with triggers): a
correction is a new record of kind ``correction`` carrying the full corrected values, a
retraction a new record of kind ``retraction`` (carrying a copy of the retracted values); both
point through ``supersedes`` at the record they replace and give a ``reason``. Records that
supersede one another form a *lineage* whose first record (kind ``observation``) is its
``original_id``.

"As of day D" (:meth:`Store.observations`) means: records recorded by the end of day D (UTC);
in each lineage the latest correction recorded by then is in effect; a lineage with a retraction
recorded by then is gone; and only observations whose (effective) ``date`` <= D are kept.

Dates the readers cannot hold
-----------------------------
Every reader (pandas, the model, the pages) holds times as nanosecond timestamps, which cover
1677-09-22..2262-04-10 only. Validation refuses dates before the case's start (and 1900) at every
way in, but a store written by an older version, or by hand, may hold any date. Reads never fail
on one: :meth:`Store.history` shows such a time as missing (``NaT``), and
:meth:`Store.observations` leaves out the observations in effect that have one, since no reader
could use them. :meth:`Store.date_problems` lists every observation in effect whose date or
``recorded_at`` the case would refuse today, and :meth:`Store.repair_dates` retracts them
(``harbinger observe repair``): a retraction, like any other, is a new record with a reason.

Times are stored as naive UTC datetimes and returned as timezone-aware UTC values.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import secrets
import socket
import time as _clock
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from indicators import text as texts
from indicators.case import LoadedCase, parse_case
from indicators.errors import BadInput
from indicators.observations import (
    MAX_REASON_CHARS,
    Observation,
    apply_changes,
    before_first_day,
    first_day,
    parse_date,
    read_csv_file,
    utcnow,
    validate_rows,
)

SCHEMA_HEAD = "0003"
SECRET_KEY_FILE = "secret_key"
"""The dashboard's session signing key in ``HARBINGER_HOME`` (``dashboard.web.auth.SECRET_FILE``)."""

KINDS = ("observation", "correction", "retraction")
RUN_STATUSES = ("running", "ok", "failed")

OBSERVATION_COLUMNS = [
    "id",
    "original_id",
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
]
READABLE_FIRST = date(1677, 9, 22)
READABLE_LAST = date(2262, 4, 10)
"""The days every reader can hold (pandas nanosecond timestamps end 1677-09-21 and 2262-04-11)."""

HISTORY_COLUMNS = ["id", "kind", "supersedes", *OBSERVATION_COLUMNS[1:], "reason"]
"""Every record: an observation's columns with what kind of record it is, the record it replaces
and the reason given for a correction or retraction."""

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("yaml", sa.Text, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("loaded_at", sa.DateTime, nullable=False),
)

observations = sa.Table(
    "observations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("indicator", sa.String(64), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("end", sa.Date, nullable=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("reliability", sa.String(1), nullable=False),
    sa.Column("credibility", sa.Integer, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False, server_default="observation"),
    sa.Column("supersedes", sa.Integer, sa.ForeignKey("observations.id"), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.CheckConstraint("reliability IN ('A','B','C','D','E','F')", name="reliability"),
    sa.CheckConstraint("credibility BETWEEN 1 AND 6", name="credibility"),
    sa.CheckConstraint("kind IN ('observation','correction','retraction')", name="kind"),
    sa.CheckConstraint(
        "(kind = 'observation' AND supersedes IS NULL) OR "
        "(kind <> 'observation' AND supersedes IS NOT NULL AND reason IS NOT NULL)",
        name="supersedes",
    ),
    sa.Index("ix_observations_case_indicator", "case_id", "indicator"),
    sa.Index("ix_observations_supersedes", "supersedes"),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("case_hash", sa.String(64), nullable=False),
    sa.Column("data_hash", sa.String(64), nullable=False),
    sa.Column("n_observations", sa.Integer, nullable=False),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("diagnostics", sa.JSON, nullable=True),
    sa.Column("diagnostics_ok", sa.Boolean, nullable=True),
    sa.Column("path", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("host", sa.Text, nullable=True),
    sa.CheckConstraint("status IN ('running','ok','failed')", name="status"),
    sa.Index("ix_runs_case_created", "case_id", "created_at"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.CheckConstraint("role IN ('viewer','editor')", name="role"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("horizon_years", sa.Float, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.CheckConstraint("kind IN ('above','below','change')", name="kind"),
)

scenarios = sa.Table(
    "scenarios",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("observations", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.UniqueConstraint("case_id", "name"),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("indicator", sa.String(64), nullable=False),
    sa.Column("through", sa.Date, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Index("ix_reviews_case_indicator", "case_id", "indicator"),
)
"""Review records (migration 0003): an open-coverage events indicator's record confirmed complete
through a date, recorded bitemporally (``through`` is valid time, ``recorded_at`` transaction
time) and never changed."""


def default_home() -> Path:
    """``HARBINGER_HOME`` or the platform's user data directory for harbinger."""
    env = os.environ.get("HARBINGER_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("harbinger"))


def _aware(dt: datetime | None) -> datetime | None:
    return None if dt is None else dt.replace(tzinfo=UTC)


def _jsonable(value: Any) -> Any:
    """Make ``value`` storable in a JSON column (dates to ISO text, numpy scalars to Python)."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy scalar
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` on this host still runs. A zombie (exited, not yet reaped by its
    parent, as a killed fit's process can be) counts as gone."""
    if pid == os.getpid():
        return True
    if os.name != "posix":  # no cheap, safe probe: assume alive rather than fail a live run
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: the state letter follows the parenthesised command name
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


WRITERS_LOCK = 7274200
"""PostgreSQL advisory lock key every write transaction holds (the writers' queue)."""
#: ``stored_hash`` of :meth:`Store.load_case`: apply over whatever version is stored.
ANY_VERSION = object()

RETRY_ATTEMPTS = 6


def _contention(exc: BaseException) -> bool:
    """Whether a database error means "another writer was in the way; try again"."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in ("40001", "40P01", "55P03"):  # serialization failure, deadlock, lock not available
        return True
    text = str(orig if orig is not None else exc).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def retrying(fn: Any) -> Any:
    """Run a write method again (up to ``RETRY_ATTEMPTS`` times, with jittered backoff) when its
    transaction failed for contention; its transaction was rolled back, so nothing is doubled."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(RETRY_ATTEMPTS):
            try:
                return fn(*args, **kwargs)
            except sa.exc.DBAPIError as exc:
                if attempt == RETRY_ATTEMPTS - 1 or not _contention(exc):
                    raise
                _clock.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


class Store:
    """The observation store.

    Parameters
    ----------
    url
        SQLAlchemy database URL; default ``HARBINGER_DATABASE_URL`` or the SQLite file
        ``HARBINGER_HOME/harbinger.db``.

    Call :meth:`upgrade` once (it is idempotent) before use on a new database.
    """

    def __init__(self, url: str | None = None):
        self.home = default_home()
        url = url or os.environ.get("HARBINGER_DATABASE_URL")
        if not url:
            self.home.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{self.home / 'harbinger.db'}"
        self.url = url
        self.engine: Engine = sa.create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine)

    @classmethod
    def from_env(cls) -> Store:
        """The store named by ``HARBINGER_DATABASE_URL`` / ``HARBINGER_HOME``."""
        return cls(None)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    def own_paths(self) -> list[Path]:
        """The files and directories the store and its server keep, which nothing else may write:
        the SQLite database with its ``-wal``, ``-shm`` and ``-journal`` files, ``runs/`` and the
        dashboard's signing key ``secret_key`` (both under ``HARBINGER_HOME``)."""
        paths = [self.home / "runs", self.home / SECRET_KEY_FILE]
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if database and database != ":memory:":
            paths += [Path(database + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
        return paths

    @property
    def runs_dir(self) -> Path:
        """``HARBINGER_HOME/runs`` (created on first use)."""
        path = self.home / "runs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    # ------------------------------------------------------------------ transactions

    def _write(self) -> Any:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite, the writers' advisory lock on PostgreSQL).

        Public methods that write are wrapped in :func:`retrying`; new ones should be too.
        """
        return _Tx(self.engine, immediate=True)

    def _read(self) -> Any:
        return _Tx(self.engine, immediate=False)

    @staticmethod
    def _audit(conn: Connection, actor: str, action: str, detail: Mapping[str, Any]) -> None:
        conn.execute(audit.insert().values(at=utcnow(), actor=actor, action=action, detail=_jsonable(dict(detail))))

    # ------------------------------------------------------------------ schema

    @retrying
    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent, safe with concurrent callers)."""
        from alembic import command

        cfg = alembic_config(self.url)
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7274201)")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def schema_version(self) -> str | None:
        """The current Alembic revision, or ``None`` for an empty database."""
        from alembic.runtime.migration import MigrationContext

        with self._read() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # ------------------------------------------------------------------ cases

    def load_case(
        self, loaded: LoadedCase, *, actor: str = "harbinger", stored_hash: str | None | object = ANY_VERSION
    ) -> str:
        """Insert the case, or replace its text if the hash changed (audited).

        Returns ``"inserted"``, ``"updated"`` or ``"unchanged"``. Refuses (BadInput) a new
        version of a case that drops an indicator that still has observations in effect, and,
        when ``stored_hash`` is given, a store whose version of the case is no longer that one
        (``None``: no version) — so a change confirmed against what was shown is applied only to it.
        """
        return self.load_case_with_observations(loaded, None, actor=actor, stored_hash=stored_hash)[0]

    @retrying
    def load_case_with_observations(
        self,
        loaded: LoadedCase,
        numbered: list[tuple[int, Mapping[str, Any]]] | None,
        *,
        actor: str,
        where: str = "observations",
        stored_hash: str | None | object = ANY_VERSION,
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[str, list[int] | None]:
        """:meth:`load_case`, and in the same transaction, while the case has no records at all,
        the observation rows ``numbered`` ((line, row) pairs, as :meth:`import_csv` reads them);
        all or nothing. Returns the case's status and the new observation ids (None when the case
        already had records, or no rows were given)."""
        case = loaded.case
        with self._write() as conn:
            row = conn.execute(sa.select(cases.c.hash).where(cases.c.id == case.id)).first()
            current = row.hash if row is not None else None
            if stored_hash is not ANY_VERSION and stored_hash != current:
                raise BadInput(
                    f"case '{case.id}' changed in the store while this change waited for confirmation "
                    "(another process loaded a version); nothing was changed, run the command again."
                )
            status = self._put_case(conn, loaded, current, actor=actor)
            if numbered is None or self._n_records(conn, case.id):
                return status, None
            if not numbered:
                raise BadInput(f"{where}: there are no observations to add.")
            ids = self._insert_observations(
                conn, case.id, numbered, actor=actor, where=where, action="observation.import", extra=extra
            )
            return status, ids

    def _put_case(self, conn: Connection, loaded: LoadedCase, current: str | None, *, actor: str) -> str:
        case = loaded.case
        if current == loaded.hash:
            return "unchanged"
        now = utcnow()
        if current is None:
            conn.execute(
                cases.insert().values(id=case.id, name=case.name, yaml=loaded.text, hash=loaded.hash, loaded_at=now)
            )
            self._audit(conn, actor, "case.load", {"case": case.id, "hash": loaded.hash})
            return "inserted"
        effective = _effective(self._records(conn, case.id), cutoff=None)
        used = {r["indicator"] for r in effective}
        dropped = sorted(used - set(case.indicator_ids))
        if dropped:
            raise BadInput(
                f"case '{case.id}': the new case file drops indicator(s) "
                f"{', '.join(dropped)}, which still have observations; retract them "
                "first or keep the indicators."
            )
        conn.execute(
            cases.update()
            .where(cases.c.id == case.id)
            .values(name=case.name, yaml=loaded.text, hash=loaded.hash, loaded_at=now)
        )
        self._audit(conn, actor, "case.update", {"case": case.id, "hash": loaded.hash, "previous_hash": current})
        return "updated"

    def case_ids(self) -> list[str]:
        with self._read() as conn:
            return list(conn.execute(sa.select(cases.c.id).order_by(cases.c.id)).scalars())

    def get_case(self, case_id: str) -> LoadedCase:
        """The stored case, re-parsed from its stored text."""
        with self._read() as conn:
            return self._get_case(conn, case_id)

    def _get_case(self, conn: Connection, case_id: str) -> LoadedCase:
        text = conn.execute(sa.select(cases.c.yaml).where(cases.c.id == case_id)).scalar()
        if text is None:
            known = list(conn.execute(sa.select(cases.c.id).order_by(cases.c.id)).scalars())
            hint = f"loaded cases: {', '.join(known)}" if known else "no case is loaded yet (run 'harbinger init')"
            raise BadInput(f"unknown case '{case_id}'; {hint}.")
        return _parse_stored_case(text, f"stored case '{case_id}'")

    # ------------------------------------------------------------------ observations: writes

    def add_observations(
        self, case_id: str, rows: list[dict[str, Any]], *, actor: str, where: str = "observations"
    ) -> list[int]:
        """Validate and store new observations, all or nothing; return their ids.

        Each row is a mapping with keys among ``indicator, date, end, value, source,
        reliability, credibility, note, recorded_at`` (text or typed values). Errors name the
        row by its position (1-based). Raises :class:`~indicators.errors.RowErrors`.
        """
        numbered = [(i, row) for i, row in enumerate(rows, start=1)]
        return self._add(case_id, numbered, actor=actor, where=where, action="observation.add")

    def import_csv(self, case_id: str, path: str | Path, *, actor: str) -> list[int]:
        """Import an observation CSV file (see :mod:`indicators.observations`), all or nothing."""
        numbered = read_csv_file(path)
        return self._add(
            case_id, numbered, actor=actor, where=str(path), action="observation.import", extra={"file": str(path)}
        )

    @retrying
    def _add(
        self,
        case_id: str,
        numbered: list[tuple[int, Mapping[str, Any]]],
        *,
        actor: str,
        where: str,
        action: str,
        extra: Mapping[str, Any] | None = None,
    ) -> list[int]:
        if not numbered:
            raise BadInput(f"{where}: there are no observations to add.")
        with self._write() as conn:
            return self._insert_observations(
                conn, case_id, numbered, actor=actor, where=where, action=action, extra=extra
            )

    def _insert_observations(
        self,
        conn: Connection,
        case_id: str,
        numbered: list[tuple[int, Mapping[str, Any]]],
        *,
        actor: str,
        where: str,
        action: str,
        extra: Mapping[str, Any] | None,
    ) -> list[int]:
        case = self._get_case(conn, case_id).case
        now = utcnow()
        existing = {_identity(r): r["id"] for r in _effective(self._records(conn, case_id), cutoff=None)}
        valid = validate_rows(case, numbered, where=where, existing=existing, now=now)
        values = [
            {
                **o.values(),
                "end": None if o.end == o.date else o.end,
                "case_id": case_id,
                "recorded_at": o.recorded_at or now,
                "recorded_by": actor,
                "kind": "observation",
            }
            for o in valid
        ]
        ids = list(
            conn.execute(
                observations.insert().returning(observations.c.id, sort_by_parameter_order=True), values
            ).scalars()
        )
        self._audit(conn, actor, action, {"case": case_id, "n": len(ids), "ids": ids, **(extra or {})})
        return ids

    def _lineage_head(self, conn: Connection, obs_id: int) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        """For any record id: its case, the record in effect now in its lineage, the lineage."""
        row = conn.execute(sa.select(observations.c.case_id).where(observations.c.id == obs_id)).first()
        if row is None:
            raise BadInput(f"there is no observation with id {obs_id}.")
        records = self._records(conn, row.case_id)
        by_id = {r["id"]: r for r in records}
        root = _root(by_id, obs_id)
        lineage = [r for r in records if _root(by_id, r["id"]) == root]
        retraction = next((r for r in lineage if r["kind"] == "retraction"), None)
        if retraction is not None:
            raise BadInput(
                f"observation {obs_id} was retracted (record {retraction['id']}, "
                f"reason: {retraction['reason']}); it cannot be changed."
            )
        head = dict(max(lineage, key=lambda r: (r["recorded_at"], r["id"])))
        head["original_id"] = root
        return row.case_id, head, lineage

    @retrying
    def retract(self, obs_id: int, *, reason: str, actor: str) -> int:
        """Retract an observation (any record of its lineage); return the retraction's id."""
        reason = _reason(reason, "retraction")
        with self._write() as conn:
            case_id, head, _ = self._lineage_head(conn, obs_id)
            new_id = self._insert_successor(
                conn, case_id, head, _record_values(head), kind="retraction", reason=reason, actor=actor
            )
            self._audit(
                conn,
                actor,
                "observation.retract",
                {"case": case_id, "id": new_id, "supersedes": head["id"], "reason": reason},
            )
            return new_id

    @retrying
    def correct(self, obs_id: int, changes: Mapping[str, Any], *, reason: str, actor: str) -> int:
        """Correct an observation: a new record with the full corrected values; return its id.

        ``changes`` maps fields (``indicator, date, end, value, source, reliability,
        credibility, note``) to new values; the rest is carried over from the record in effect.
        """
        reason = _reason(reason, "correction")
        if not changes:
            raise BadInput(f"correction of observation {obs_id}: nothing to change; give at least one new value.")
        with self._write() as conn:
            case_id, head, _ = self._lineage_head(conn, obs_id)
            case = self._get_case(conn, case_id).case
            current = _as_observation(head)
            new = apply_changes(current, changes, case)
            if new.values() == current.values():
                raise BadInput(
                    f"correction of observation {obs_id}: the new values are the same as the "
                    f"ones in effect (record {head['id']})."
                )
            effective = _effective(self._records(conn, case_id), cutoff=None)
            for r in effective:
                if r["original_id"] != head["original_id"] and _identity(r) == new.identity:
                    raise BadInput(
                        f"correction of observation {obs_id}: the corrected observation would be "
                        f"the same as observation {r['id']}."
                    )
            new_id = self._insert_successor(
                conn, case_id, head, new.values(), kind="correction", reason=reason, actor=actor
            )
            self._audit(
                conn,
                actor,
                "observation.correct",
                {
                    "case": case_id,
                    "id": new_id,
                    "supersedes": head["id"],
                    "reason": reason,
                    "changes": {k: changes[k] for k in changes},
                },
            )
            return new_id

    @staticmethod
    def _insert_successor(
        conn: Connection,
        case_id: str,
        head: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        kind: str,
        reason: str,
        actor: str,
    ) -> int:
        vals = dict(values)
        if vals.get("end") == vals["date"]:
            vals["end"] = None
        return conn.execute(
            observations.insert()
            .returning(observations.c.id)
            .values(
                **vals,
                case_id=case_id,
                recorded_at=utcnow(),
                recorded_by=actor,
                kind=kind,
                supersedes=head["id"],
                reason=reason,
            )
        ).scalar_one()

    # ------------------------------------------------------------------ observations: reads

    @staticmethod
    def _records(conn: Connection, case_id: str) -> list[dict[str, Any]]:
        rows = conn.execute(
            sa.select(observations).where(observations.c.case_id == case_id).order_by(observations.c.id)
        ).mappings()
        return [dict(r) for r in rows]

    def observations(
        self, case_id: str, *, as_of: date | None = None, indicator: str | None = None, known_at: datetime | None = None
    ) -> pd.DataFrame:
        """The observations in effect as known at the end of day ``as_of`` (UTC; default: now).

        Columns: ``id`` (the record in effect: the latest correction, or the original),
        ``original_id`` (the lineage's first record), ``indicator``, ``date``, ``end`` (both
        ``datetime64``; ``end`` equals ``date`` for a single day), ``value``, ``source``,
        ``reliability``, ``credibility``, ``note``, ``recorded_at`` (UTC, of the record in effect),
        ``recorded_by``. Sorted by indicator, date, id.

        ``known_at`` (an aware or naive-UTC time), when earlier, replaces the end of day ``as_of``
        as the cut-off for what was recorded, e.g. to rebuild exactly the data a run read.
        """
        if isinstance(as_of, str):
            as_of = parse_date(as_of)
        elif isinstance(as_of, datetime):
            as_of = as_of.date()
        with self._read() as conn:
            self._get_case(conn, case_id)
            records = self._records(conn, case_id)
        if as_of is None:
            cutoff = utcnow() + timedelta(microseconds=1)
            last_day = None
        else:
            cutoff = datetime.combine(as_of + timedelta(days=1), time())
            last_day = as_of
        if known_at is not None:
            known = known_at.astimezone(UTC).replace(tzinfo=None) if known_at.tzinfo else known_at
            cutoff = min(cutoff, known + timedelta(microseconds=1))
        rows = _effective(records, cutoff=cutoff)
        rows = [
            r
            for r in rows
            if (last_day is None or r["date"] <= last_day)
            and (indicator is None or r["indicator"] == indicator)
            and _readable_record(r)
        ]
        return _frame(rows, OBSERVATION_COLUMNS)

    # ------------------------------------------------------------------ reviews

    @retrying
    def add_review(self, case_id: str, indicator: str, through: date, *, actor: str, note: str = "") -> int:
        """Record that ``indicator``'s record is complete through ``through`` (an ``events``
        indicator with open coverage; BadInput otherwise, or for a date in the future)."""
        if isinstance(through, str):
            through = parse_date(through)
        with self._write() as conn:
            case = self._get_case(conn, case_id).case
            try:
                ind = case.indicator(indicator)
            except KeyError:
                raise BadInput(f"indicator: '{indicator}' is not an indicator of case '{case_id}'.") from None
            if ind.aggregation != "events" or ind.coverage_end is not None:
                raise BadInput(
                    f"indicator: '{indicator}' has no open coverage (only an 'events' indicator "
                    "without coverage_end is read through a reviewed-through date)."
                )
            if through > utcnow().date():
                raise BadInput(f"--through {through} is in the future.")
            if through < (ind.coverage_start or through):
                raise BadInput(f"--through {through} is before {indicator}'s coverage starts ({ind.coverage_start}).")
            new_id = conn.execute(
                reviews.insert().values(
                    case_id=case_id,
                    indicator=indicator,
                    through=through,
                    note=note,
                    recorded_at=utcnow(),
                    recorded_by=actor,
                )
            ).inserted_primary_key[0]
            self._audit(
                conn,
                actor,
                "review.add",
                {"case": case_id, "indicator": indicator, "through": through.isoformat(), "id": new_id},
            )
        return int(new_id)

    @retrying
    def add_reviews(self, case_id: str, rows: list[Mapping[str, Any]], *, actor: str) -> int:
        """Insert review records as given (``indicator``, ``through``, ``recorded_at`` or now,
        ``note``) in one transaction, e.g. a case's shipped reviews; how many."""
        with self._write() as conn:
            case = self._get_case(conn, case_id).case
            for r in rows:
                if r["indicator"] not in case.indicator_ids:
                    raise BadInput(f"reviews: '{r['indicator']}' is not an indicator of case '{case_id}'.")
                conn.execute(
                    reviews.insert().values(
                        case_id=case_id,
                        indicator=r["indicator"],
                        through=r["through"],
                        note=r.get("note") or "",
                        recorded_at=r.get("recorded_at") or utcnow(),
                        recorded_by=actor,
                    )
                )
            self._audit(conn, actor, "review.import", {"case": case_id, "n": len(rows)})
        return len(rows)

    def reviews(self, case_id: str, *, as_of: date | None = None, known_at: datetime | None = None) -> dict[str, date]:
        """Per indicator, the latest ``through`` of the reviews recorded by the end of day
        ``as_of`` (or by ``known_at`` when earlier; default: now), as :meth:`observations` reads."""
        cutoff = (
            utcnow() + timedelta(microseconds=1)
            if as_of is None
            else datetime.combine(as_of + timedelta(days=1), time())
        )
        if known_at is not None:
            known = known_at.astimezone(UTC).replace(tzinfo=None) if known_at.tzinfo else known_at
            cutoff = min(cutoff, known + timedelta(microseconds=1))
        with self._read() as conn:
            self._get_case(conn, case_id)
            rows = conn.execute(
                sa.select(reviews.c.indicator, sa.func.max(reviews.c.through))
                .where(reviews.c.case_id == case_id, reviews.c.recorded_at < cutoff)
                .group_by(reviews.c.indicator)
            ).all()
        return {r[0]: r[1] for r in rows}

    def history(self, case_id: str) -> pd.DataFrame:
        """Every record of the case (observations, corrections, retractions), by id (a date or time
        no reader can hold is ``NaT``)."""
        with self._read() as conn:
            self._get_case(conn, case_id)
            records = self._records(conn, case_id)
        by_id = {r["id"]: r for r in records}
        for r in records:
            r["original_id"] = _root(by_id, r["id"])
        frame = _frame(records, HISTORY_COLUMNS)
        frame["supersedes"] = frame["supersedes"].astype("Int64")
        return frame

    def date_problems(self, case_id: str) -> list[dict[str, Any]]:
        """The observations in effect now whose date, end or ``recorded_at`` the case would refuse
        today (see the module's notes), by id: ``id`` (the record in effect), ``original_id``,
        ``indicator``, ``date``, ``end``, ``recorded_at`` (as stored) and ``problem`` (a sentence)."""
        with self._read() as conn:
            case = self._get_case(conn, case_id).case
            records = self._records(conn, case_id)
        return _date_problems(case, _effective(records, cutoff=None))

    @retrying
    def repair_dates(self, case_id: str, *, reason: str, actor: str) -> list[dict[str, Any]]:
        """Retract every observation :meth:`date_problems` lists, in one transaction, each with
        ``reason`` and its problem as the retraction's reason. Returns the problems, each with the
        ``retraction`` record's id."""
        reason = _reason(reason, "repair")
        with self._write() as conn:
            case = self._get_case(conn, case_id).case
            effective = _effective(self._records(conn, case_id), cutoff=None)
            problems = _date_problems(case, effective)
            heads = {r["id"]: r for r in effective}
            for p in problems:
                head = heads[p["id"]]
                p["retraction"] = self._insert_successor(
                    conn,
                    case_id,
                    head,
                    _record_values(head),
                    kind="retraction",
                    reason=f"{reason} ({p['problem']})",
                    actor=actor,
                )
            if problems:
                self._audit(
                    conn,
                    actor,
                    "observation.repair",
                    {"case": case_id, "reason": reason, "retracted": [[p["id"], p["retraction"]] for p in problems]},
                )
            return problems

    def n_records(self, case_id: str) -> int:
        """How many records (of every kind) the case has."""
        with self._read() as conn:
            return self._n_records(conn, case_id)

    def n_reviews(self, case_id: str) -> int:
        """How many review records the case has."""
        with self._read() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(reviews).where(reviews.c.case_id == case_id)
            ).scalar_one()

    def reviews_since(self, case_id: str, when: datetime) -> int:
        """How many review records were recorded after ``when`` (aware, or naive UTC)."""
        after = when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when
        with self._read() as conn:
            return conn.execute(
                sa.select(sa.func.count())
                .select_from(reviews)
                .where(reviews.c.case_id == case_id, reviews.c.recorded_at > after)
            ).scalar_one()

    @staticmethod
    def _n_records(conn: Connection, case_id: str) -> int:
        return conn.execute(
            sa.select(sa.func.count()).select_from(observations).where(observations.c.case_id == case_id)
        ).scalar_one()

    def audit_log(self, limit: int | None = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` audit entries, newest first (``at`` as aware UTC datetime)."""
        q = sa.select(audit).order_by(audit.c.id.desc())
        if limit is not None:
            q = q.limit(limit)
        with self._read() as conn:
            out = [dict(r) for r in conn.execute(q).mappings()]
        for r in out:
            r["at"] = _aware(r["at"])
        return out

    # ------------------------------------------------------------------ runs

    @retrying
    def create_run(
        self,
        case_id: str,
        *,
        as_of: date,
        case_hash: str,
        data_hash: str,
        n_observations: int,
        model_version: str,
        settings: Mapping[str, Any],
        actor: str | None = None,
    ) -> str:
        """Record a fit that is starting (status ``running``, this process's pid and host)."""
        if isinstance(as_of, datetime):
            as_of = as_of.date()
        with self._write() as conn:
            self._get_case(conn, case_id)
            now = utcnow()
            while True:
                run_id = f"r{now:%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"
                if conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                    break
            conn.execute(
                runs.insert().values(
                    id=run_id,
                    case_id=case_id,
                    created_at=now,
                    as_of=as_of,
                    status="running",
                    case_hash=case_hash,
                    data_hash=data_hash,
                    n_observations=int(n_observations),
                    model_version=model_version,
                    settings=_jsonable(dict(settings)),
                    pid=os.getpid(),
                    host=socket.gethostname(),
                )
            )
            self._audit(conn, actor or _default_actor(), "run.create", {"case": case_id, "run": run_id, "as_of": as_of})
            return run_id

    @retrying
    def finish_run(
        self, run_id: str, *, diagnostics: Mapping[str, Any], diagnostics_ok: bool, path: str, actor: str | None = None
    ) -> None:
        with self._write() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    status="ok",
                    finished_at=utcnow(),
                    diagnostics=_jsonable(dict(diagnostics)),
                    diagnostics_ok=bool(diagnostics_ok),
                    path=str(path),
                )
            )
            self._audit(
                conn,
                actor or _default_actor(),
                "run.finish",
                {"run": run_id, "diagnostics_ok": bool(diagnostics_ok), "path": str(path)},
            )

    @retrying
    def fail_run(self, run_id: str, error: str, *, actor: str | None = None) -> None:
        with self._write() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                runs.update().where(runs.c.id == run_id).values(status="failed", finished_at=utcnow(), error=str(error))
            )
            self._audit(conn, actor or _default_actor(), "run.fail", {"run": run_id, "error": str(error)})

    @staticmethod
    def _require_run(conn: Connection, run_id: str) -> None:
        if conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first() is None:
            raise BadInput(f"there is no run '{run_id}'.")

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
        return None if row is None else _run_dict(row)

    def runs(self, case_id: str, *, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The case's runs, newest first."""
        if status is not None and status not in RUN_STATUSES:
            raise BadInput(f"unknown run status '{status}'; use one of {', '.join(RUN_STATUSES)}.")
        q = sa.select(runs).where(runs.c.case_id == case_id)
        if status is not None:
            q = q.where(runs.c.status == status)
        q = q.order_by(runs.c.created_at.desc(), runs.c.id.desc())
        if limit is not None:
            q = q.limit(limit)
        with self._read() as conn:
            return [_run_dict(r) for r in conn.execute(q).mappings()]

    def latest_run(self, case_id: str, *, status: str | None = "ok") -> dict[str, Any] | None:
        found = self.runs(case_id, status=status, limit=1)
        return found[0] if found else None

    @retrying
    def fail_stale_runs(self) -> list[str]:
        """Mark ``running`` runs of this host whose process is gone as failed ('interrupted')."""
        host = socket.gethostname()
        with self._write() as conn:
            rows = conn.execute(
                sa.select(runs.c.id, runs.c.pid).where(runs.c.status == "running", runs.c.host == host)
            ).all()
            stale = [r.id for r in rows if r.pid is None or not _pid_alive(r.pid)]
            if stale:
                conn.execute(
                    runs.update()
                    .where(runs.c.id.in_(stale))
                    .values(status="failed", finished_at=utcnow(), error="interrupted")
                )
                self._audit(conn, _default_actor(), "run.interrupted", {"runs": stale, "host": host})
            return stale

    # ------------------------------------------------------------------ whole store

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every table's full contents (rows ordered by primary key), for comparisons in tests."""
        out: dict[str, list[dict[str, Any]]] = {}
        with self._read() as conn:
            names = sa.inspect(conn).get_table_names()
            for table in (cases, observations, audit, runs, users, alerts, scenarios):
                if table.name in names:
                    pk = list(table.primary_key.columns)
                    out[table.name] = [dict(r) for r in conn.execute(sa.select(table).order_by(*pk)).mappings()]
            if "alembic_version" in names:
                out["alembic_version"] = [
                    dict(r) for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version").mappings()
                ]
        return out


# ---------------------------------------------------------------------- helpers


class _Tx:
    """Context manager: a connection in a transaction, committed on success."""

    def __init__(self, engine: Engine, *, immediate: bool):
        self.engine, self.immediate = engine, immediate

    def __enter__(self) -> Connection:
        conn = self.engine.connect()
        try:
            if self.immediate:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            self.conn = conn
            self.tx = conn.begin()
            if self.immediate and conn.dialect.name == "postgresql":
                # wait for the writers' queue as long as SQLite's busy timeout, then fail (and retry)
                conn.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITERS_LOCK})")
        except BaseException:
            conn.close()
            raise
        return conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self.tx.commit()
            else:
                self.tx.rollback()
        finally:
            self.conn.close()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def alembic_config(url: str) -> Any:
    """An Alembic ``Config`` built in code: ``script_location`` is ``indicators/migrations``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _default_actor() -> str:
    user = os.environ.get("HARBINGER_USER")
    if user:
        return user
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "unknown"


@functools.lru_cache(maxsize=16)
def _parse_stored_case(text: str, where: str) -> LoadedCase:
    """A stored case, parsed once per text (parsing the YAML dominated every read; cases are frozen)."""
    return parse_case(text, where=where)


def _root(by_id: Mapping[int, Mapping[str, Any]], rid: int) -> int:
    seen = set()
    while by_id[rid]["supersedes"] is not None and rid not in seen:
        seen.add(rid)
        rid = by_id[rid]["supersedes"]
    return rid


def _effective(records: list[dict[str, Any]], *, cutoff: datetime | None) -> list[dict[str, Any]]:
    """The records in effect among those recorded before ``cutoff`` (None: all)."""
    known = [r for r in records if cutoff is None or r["recorded_at"] < cutoff]
    by_id = {r["id"]: r for r in records}
    lineages: dict[int, list[dict[str, Any]]] = {}
    for r in known:
        lineages.setdefault(_root(by_id, r["id"]), []).append(r)
    out = []
    for root, members in lineages.items():
        if by_id[root]["kind"] != "observation" or root not in {m["id"] for m in members}:
            continue
        if any(m["kind"] == "retraction" for m in members):
            continue
        head = dict(max(members, key=lambda m: (m["recorded_at"], m["id"])))
        head["original_id"] = root
        out.append(head)
    return out


def _reason(reason: Any, what: str) -> str:
    """A correction's, retraction's or repair's reason, checked by the text rules."""
    try:
        text = texts.clean(reason, multiline=True, limit=MAX_REASON_CHARS)
    except ValueError as exc:
        raise BadInput(f"the {what}'s reason {exc}.") from None
    if not text:
        raise BadInput(f"a {what} needs a reason.")
    return text


def _day_of(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _readable(value: date | datetime | None) -> bool:
    """Whether every reader can hold ``value`` (``None`` is a missing value, which they can)."""
    return value is None or READABLE_FIRST <= _day_of(value) <= READABLE_LAST


def _readable_record(r: Mapping[str, Any]) -> bool:
    return _readable(r["date"]) and _readable(r["end"]) and _readable(r["recorded_at"])


def _date_problems(case: Any, records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """For :meth:`Store.date_problems`: the records among ``records`` with a date the case refuses."""
    first = first_day(case)
    out = []
    for r in sorted(records, key=lambda r: r["id"]):
        end = r["end"] or r["date"]
        times = {"date": r["date"], "end": end, "recorded_at": r["recorded_at"]}
        early = [k for k, v in times.items() if _day_of(v) < first]
        late = [k for k, v in times.items() if not _readable(v) and k not in early]
        if early:
            problem = f"its {early[0]} {times[early[0]].isoformat()} is {before_first_day(case)}"
        elif late:
            problem = (
                f"its {late[0]} {times[late[0]].isoformat()} is after {READABLE_LAST.isoformat()}, "
                "the last day the store can read"
            )
        else:
            continue
        out.append(
            {
                "id": r["id"],
                "original_id": r["original_id"],
                "indicator": r["indicator"],
                "date": r["date"],
                "end": end,
                "recorded_at": _aware(r["recorded_at"]),
                "problem": problem,
            }
        )
    return out


def _identity(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return (r["indicator"], r["date"], r["end"] or r["date"], float(r["value"]), r["source"])


def _record_values(r: Mapping[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in ("indicator", "date", "end", "value", "source", "reliability", "credibility", "note")}


def _as_observation(r: Mapping[str, Any]) -> Observation:
    return Observation(
        indicator=r["indicator"],
        date=r["date"],
        end=r["end"] or r["date"],
        value=r["value"],
        source=r["source"],
        reliability=r["reliability"],
        credibility=r["credibility"],
        note=r["note"] or "",
    )


def _frame(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> pd.DataFrame:
    rows = list(rows)
    data = {c: [r.get(c) for r in rows] for c in columns}
    if "end" in data:
        data["end"] = [r.get("end") or r.get("date") for r in rows]
    for col in ("date", "end", "recorded_at"):  # a time no reader can hold is missing (NaT)
        data[col] = [v if _readable(v) else None for v in data[col]]
    frame = pd.DataFrame(data, columns=columns)
    frame["id"] = frame["id"].astype("int64")
    if "original_id" in frame:
        frame["original_id"] = frame["original_id"].astype("int64")
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    frame["end"] = pd.to_datetime(frame["end"]).astype("datetime64[ns]")
    frame["value"] = frame["value"].astype("float64")
    frame["credibility"] = frame["credibility"].astype("int64")
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"]).astype("datetime64[ns]").dt.tz_localize("UTC")
    for col in ("indicator", "source", "reliability", "note", "recorded_by"):
        frame[col] = frame[col].fillna("").astype(object)
    if "reason" in frame:
        frame["reason"] = frame["reason"].astype(object)
    order = ["id"] if "kind" in columns else ["indicator", "date", "id"]
    return frame.sort_values(order, kind="stable").reset_index(drop=True)


def _run_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["created_at"] = _aware(out["created_at"])
    out["finished_at"] = _aware(out["finished_at"])
    return out


def data_hash(frame: pd.DataFrame) -> str:
    """A short, stable hash of an observations frame (ids, values and provenance)."""
    cols = [c for c in OBSERVATION_COLUMNS if c in frame.columns]
    text = frame[cols].to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S.%f")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


__all__ = [
    "Store",
    "default_home",
    "alembic_config",
    "data_hash",
    "metadata",
    "retrying",
    "OBSERVATION_COLUMNS",
    "HISTORY_COLUMNS",
    "SCHEMA_HEAD",
]
