"""Users (roles, hashed passwords), alert thresholds and saved scenarios.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

- ``users``: who may log in and with which role (``viewer`` reads, ``editor`` also writes). Only a
  password hash is stored, never the password.
- ``alerts``: per-outcome thresholds; ``kind`` is ``above`` (probability crosses the level
  upward), ``below`` (crosses it downward) or ``change`` (moves by more than ``threshold``
  probability points between consecutive runs). ``active`` is switched off on removal, so the
  record of what was watched stays.
- ``scenarios``: named sets of hypothetical observations saved from the dashboard (the case file's
  own scenarios live in the case file); ``observations`` is their JSON list.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.PrimaryKeyConstraint("name", name="pk_users"),
        sa.CheckConstraint("role IN ('viewer','editor')", name="ck_users_role"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("horizon_years", sa.Float, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_alerts_case_id_cases"),
        sa.CheckConstraint("kind IN ('above','below','change')", name="ck_alerts_kind"),
    )
    op.create_table(
        "scenarios",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("observations", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scenarios"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_scenarios_case_id_cases"),
        sa.UniqueConstraint("case_id", "name", name="uq_scenarios_case_id_name"),
    )


def downgrade() -> None:
    op.drop_table("scenarios")
    op.drop_table("alerts")
    op.drop_table("users")
