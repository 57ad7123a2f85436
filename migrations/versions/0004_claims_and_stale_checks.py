"""Claims tied to a PostgreSQL session; check runs left to conclude; the readiness row.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("claim_session", sa.Integer))
    op.create_table(
        "unconcluded_checks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("installation_id", sa.BigInteger, nullable=False),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("head_sha", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TIME, nullable=False),
        sa.UniqueConstraint("repository", "head_sha"),
    )
    op.create_table(
        "readiness",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("checked_at", TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("readiness")
    op.drop_table("unconcluded_checks")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("claim_session")
