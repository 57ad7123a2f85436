"""Deliveries, jobs, installations and their repositories, the head SHA -> pull request map.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("delivery_id", sa.String(64), unique=True),
        sa.Column("event", sa.String(64)),
        sa.Column("action", sa.String(64)),
        sa.Column("installation_id", sa.BigInteger),
        sa.Column("repository", sa.String(255)),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("run_after", TIME, nullable=False),
        sa.Column("locked_by", sa.String(128)),
        sa.Column("locked_until", TIME),
        sa.Column("last_error", sa.Text),
        sa.Column("dedupe_key", sa.String(400)),
        sa.Column("delivery_id", sa.String(64)),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("finished_at", TIME),
    )
    op.create_index("ix_jobs_claim", "jobs", ["status", "run_after"])
    op.create_index("ix_jobs_dedupe_key", "jobs", ["dedupe_key"])
    op.create_table(
        "installations",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("account", sa.String(255)),
        sa.Column("account_type", sa.String(32)),
        sa.Column("repository_selection", sa.String(16)),
        sa.Column("suspended", sa.Boolean, nullable=False),
        sa.Column("deleted_at", TIME),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "installation_repositories",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column(
            "installation_id",
            sa.BigInteger,
            sa.ForeignKey("installations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("full_name", sa.String(255), nullable=False),
        sa.Column("private", sa.Boolean),
    )
    op.create_index("ix_installation_repositories_installation_id", "installation_repositories", ["installation_id"])
    op.create_index("ix_installation_repositories_full_name", "installation_repositories", ["full_name"])
    op.create_table(
        "pull_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("installation_id", sa.BigInteger),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("head_sha", sa.String(64), nullable=False),
        sa.Column("head_repository", sa.String(255)),
        sa.Column("base_ref", sa.String(255), nullable=False),
        sa.Column("base_sha", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("github_updated_at", TIME),
        sa.Column("updated_at", TIME, nullable=False),
        sa.UniqueConstraint("repository", "number"),
    )
    op.create_index("ix_pull_requests_head", "pull_requests", ["head_sha"])


def downgrade() -> None:
    op.drop_table("pull_requests")
    op.drop_table("installation_repositories")
    op.drop_table("installations")
    op.drop_table("jobs")
    op.drop_table("deliveries")
