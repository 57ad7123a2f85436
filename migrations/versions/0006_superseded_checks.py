"""Check runs of reviews skipped because the head moved on: concluded by the sweep, never made.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("unconcluded_checks", sa.Column("superseded_by", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("unconcluded_checks") as batch:
        batch.drop_column("superseded_by")
