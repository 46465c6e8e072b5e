"""Initial schema: cases, bitemporal observations, audit trail, runs.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Observations and audit rows are append-only: triggers refuse UPDATE and DELETE on them (SQLite and
PostgreSQL), so "no hard deletes" holds even for someone working on the database directly.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_APPEND_ONLY = ("observations", "audit")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("yaml", sa.Text, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("loaded_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
    )
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
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
        sa.Column("supersedes", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_observations"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_observations_case_id_cases"),
        sa.ForeignKeyConstraint(["supersedes"], ["observations.id"], name="fk_observations_supersedes_observations"),
        sa.CheckConstraint("reliability IN ('A','B','C','D','E','F')", name="ck_observations_reliability"),
        sa.CheckConstraint("credibility BETWEEN 1 AND 6", name="ck_observations_credibility"),
        sa.CheckConstraint("kind IN ('observation','correction','retraction')", name="ck_observations_kind"),
        sa.CheckConstraint(
            "(kind = 'observation' AND supersedes IS NULL) OR "
            "(kind <> 'observation' AND supersedes IS NOT NULL AND reason IS NOT NULL)",
            name="ck_observations_supersedes",
        ),
    )
    op.create_index("ix_observations_case_indicator", "observations", ["case_id", "indicator"])
    op.create_index("ix_observations_supersedes", "observations", ["supersedes"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_runs_case_id_cases"),
        sa.CheckConstraint("status IN ('running','ok','failed')", name="ck_runs_status"),
    )
    op.create_index("ix_runs_case_created", "runs", ["case_id", "created_at"])

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in _APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: no {verb}'); END"
                )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION harbinger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: no %', TG_TABLE_NAME, TG_OP; END $$"
        )
        for table in _APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION harbinger_append_only()"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS harbinger_append_only()")
    elif dialect == "sqlite":
        for table in _APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    op.drop_table("runs")
    op.drop_table("audit")
    op.drop_table("observations")
    op.drop_table("cases")
