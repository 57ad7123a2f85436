"""Waivers, their audit log, executed slash commands, cleanup issues; merged pull requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("pull_requests", sa.Column("merged_at", TIME))
    op.create_table(
        "waivers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("installation_id", sa.BigInteger, nullable=False),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("pull_number", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("target", sa.String(500)),
        sa.Column("resources", sa.JSON, nullable=False),
        sa.Column("fingerprints", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("remind_at", TIME),
        sa.Column("approved_by", sa.String(255), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("command_url", sa.String(500), nullable=False),
        sa.Column("command_key", sa.String(100), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reminded_at", TIME),
        sa.Column("revoked_at", TIME),
        sa.Column("revoked_by", sa.String(255)),
        sa.Column("closed_at", TIME),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_until", TIME),
    )
    op.create_index("ix_waivers_due", "waivers", ["status", "expires_at"])
    op.create_index("ix_waivers_pull", "waivers", ["repository", "pull_number"])
    op.create_table(
        "waiver_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("waiver_id", sa.Integer, sa.ForeignKey("waivers.id")),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("pull_number", sa.Integer),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(255)),
        sa.Column("detail", sa.Text),
        sa.Column("url", sa.String(500)),
        sa.Column("at", TIME, nullable=False),
    )
    op.create_index("ix_waiver_events_waiver", "waiver_events", ["waiver_id"])
    op.create_table(
        "slash_commands",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("comment_kind", sa.String(16), nullable=False),
        sa.Column("comment_id", sa.BigInteger, nullable=False),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("pull_number", sa.Integer, nullable=False),
        sa.Column("author", sa.String(255)),
        sa.Column("job_id", sa.Integer),
        sa.Column("received_at", TIME, nullable=False),
        sa.UniqueConstraint("comment_kind", "comment_id"),
    )
    op.create_table(
        "cleanup_issues",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("waiver_id", sa.Integer, sa.ForeignKey("waivers.id"), nullable=False, unique=True),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("fingerprints", sa.JSON, nullable=False),
        sa.Column("issue_number", sa.Integer),
        sa.Column("issue_url", sa.String(500)),
        sa.Column("reserved_at", TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cleanup_issues")
    op.drop_table("slash_commands")
    op.drop_table("waiver_events")
    op.drop_table("waivers")
    with op.batch_alter_table("pull_requests") as batch:
        batch.drop_column("merged_at")
