"""Review records: "this indicator's record is complete through DATE".

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

- ``reviews``: one row per review of an open-coverage ``events`` indicator (``harbinger observe
  reviewed INDICATOR --through DATE``). Bitemporal like observations: ``through`` is the valid
  time (the last day the analyst confirmed the record complete), ``recorded_at`` the transaction
  time; rows are only ever added, so "as of D" reads the reviews recorded by D. A review moves
  the day after which the model reads the indicator's quarters as missing, not zero.

A table of its own rather than a new ``kind`` in ``observations``: that table's check constraints
tie every non-observation kind to a record it supersedes, and every reader of observations would
have had to learn to skip reviews.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("indicator", sa.String(64), nullable=False),
        sa.Column("through", sa.Date, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_reviews_case_id_cases"),
    )
    op.create_index("ix_reviews_case_indicator", "reviews", ["case_id", "indicator"])


def downgrade() -> None:
    op.drop_index("ix_reviews_case_indicator", table_name="reviews")
    op.drop_table("reviews")
