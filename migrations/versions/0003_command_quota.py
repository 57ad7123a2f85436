"""Slash-command quotas: the role looked up for a comment, and an index to count a user's comments.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("slash_commands") as batch:
        batch.add_column(sa.Column("role", sa.String(16)))
    op.create_index(
        "ix_slash_commands_quota", "slash_commands", ["repository", "author", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_slash_commands_quota", table_name="slash_commands")
    with op.batch_alter_table("slash_commands") as batch:
        batch.drop_column("role")
