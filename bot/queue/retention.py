"""Retention of the deliveries table: GitHub's delivery log, kept for a while, not for ever.

Every webhook adds a row; the rows serve redelivery de-duplication and investigation, and both
only look back days. A delivery whose job is still queued or running is kept whatever its age,
so that the job can still be traced to it. Deletes go in small batches, each its own short
transaction, so the webhook intake never waits long for SQLite's write lock.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from bot.db import Delivery, Job, rows_affected, utcnow
from bot.queue.jobs import QUEUED, RUNNING

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 3600.0
BATCH = 1000


def prune_batch(session: Session, before: datetime, batch: int = BATCH) -> int:
    """Delete up to `batch` deliveries received before `before` whose job is finished (or absent)."""
    unfinished = select(Job.delivery_id).where(
        Job.status.in_((QUEUED, RUNNING)), Job.delivery_id.is_not(None)
    )
    doomed = (
        select(Delivery.id)
        .where(
            Delivery.received_at < before,
            or_(Delivery.delivery_id.is_(None), Delivery.delivery_id.not_in(unfinished)),
        )
        .limit(batch)
        .scalar_subquery()
        .correlate(None)
    )
    return rows_affected(session.execute(delete(Delivery).where(Delivery.id.in_(doomed))))


async def prune_deliveries(
    sessions: async_sessionmaker[AsyncSession],
    older_than: timedelta,
    now: datetime | None = None,
    batch: int = BATCH,
) -> int:
    """Prune in batches until none is left; returns how many deliveries were deleted."""
    before = (now or utcnow()) - older_than
    deleted = 0
    while True:
        async with sessions.begin() as session:
            count = await session.run_sync(prune_batch, before, batch)
        deleted += count
        if count < batch:
            return deleted


async def run(ctx: Any) -> None:
    """The periodic task (`bot.queue.worker.PERIODIC`): prune past `delivery_retention_days`."""
    days = ctx.settings.delivery_retention_days
    deleted = await prune_deliveries(ctx.sessions, timedelta(days=days))
    if deleted:
        log.info("pruned %d webhook deliveries older than %d days", deleted, days)
