"""The findings a review reported at a pull request's head, for waive commands to resolve.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reviewed_heads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("pull_number", sa.Integer, nullable=False),
        sa.Column("head_sha", sa.String(64), nullable=False),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("reviewed_at", TIME, nullable=False),
        sa.UniqueConstraint("repository", "pull_number", "head_sha"),
    )


def downgrade() -> None:
    op.drop_table("reviewed_heads")
