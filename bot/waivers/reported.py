"""The findings a review reported at a pull request's head, kept for the commands that name them.

`/footgun waive <rule> <target>` resolves its target to findings of the pull request's head.
Analysing the head again for that would read the whole repository from GitHub (a tree per
revision, a tarball, a blob per changed file: tens of calls on a cold cache, more for a larger
pull request), so one comment could cost any number of calls. The review that analysed the head
keeps what it found here instead, and a command resolves against it with no call at all. It is
also what the user saw: the check run of that head lists these findings.

One row per pull request and head SHA. Rows of a pull request's other heads are dropped a day
after they were written (a review of an older head still running may write after a newer one),
and rows of closed pull requests after the deliveries' retention (`prune`, hourly).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import PullRequest, ReviewedHead, dialect_insert, rows_affected, utcnow
from bot.queue.retention import INTERVAL_SECONDS
from bot.queue.worker import PERIODIC, Periodic, TaskContext
from rules.core.model import Finding, ResourceRef

log = logging.getLogger(__name__)
OTHER_HEADS_KEPT = dt.timedelta(days=1)


def _row(f: Finding) -> list[Any]:
    r = f.resource
    return [f.rule, f.severity, f.path, f.line, f.column, r.kind, r.namespace, r.name]


async def record(
    sessions: async_sessionmaker[AsyncSession] | None,
    repository: str,
    pull_number: int,
    head_sha: str,
    findings: Iterable[Finding],
) -> None:
    """Keep the findings of `head_sha` (all of them: new, pre-existing and waived alike)."""
    if sessions is None:
        return
    rows = [[*_row(f), f.fingerprint, f.target] for f in findings]
    now = utcnow()
    async with sessions.begin() as session:
        insert = dialect_insert(session.get_bind().dialect.name)
        statement = insert(ReviewedHead.__table__).values(
            repository=repository,
            pull_number=pull_number,
            head_sha=head_sha,
            findings=rows,
            reviewed_at=now,
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["repository", "pull_number", "head_sha"],
                set_={"findings": statement.excluded.findings, "reviewed_at": now},
            )
        )
        await session.execute(
            delete(ReviewedHead).where(
                ReviewedHead.repository == repository,
                ReviewedHead.pull_number == pull_number,
                ReviewedHead.head_sha != head_sha,
                ReviewedHead.reviewed_at < now - OTHER_HEADS_KEPT,
            )
        )


async def at_head(
    sessions: async_sessionmaker[AsyncSession], repository: str, pull_number: int, head_sha: str
) -> list[Finding] | None:
    """The findings a review reported at `head_sha`, or None when no review has reported there."""
    async with sessions() as session:
        rows = await session.scalar(
            select(ReviewedHead.findings).where(
                ReviewedHead.repository == repository,
                ReviewedHead.pull_number == pull_number,
                ReviewedHead.head_sha == head_sha,
            )
        )
    if rows is None:
        return None
    return [
        Finding(
            rule,
            severity,
            "",
            path,
            line,
            column,
            ResourceRef(kind, namespace, name),
            fingerprint,
            target=target,
        )
        for rule, severity, path, line, column, kind, namespace, name, fingerprint, target in rows
    ]


async def prune(sessions: async_sessionmaker[AsyncSession], before: dt.datetime) -> int:
    """Drop what reviews reported before `before` on pull requests now closed; how many rows."""
    closed = exists().where(
        PullRequest.repository == ReviewedHead.repository,
        PullRequest.number == ReviewedHead.pull_number,
        PullRequest.state == "closed",
    )
    async with sessions.begin() as session:
        result = await session.execute(
            delete(ReviewedHead).where(ReviewedHead.reviewed_at < before, closed)
        )
    return rows_affected(result)


async def _periodic(ctx: TaskContext) -> None:
    days = ctx.settings.delivery_retention_days
    deleted = await prune(ctx.sessions, utcnow() - dt.timedelta(days=days))
    if deleted:
        log.info(
            "pruned the findings of %d heads of pull requests closed %d days ago", deleted, days
        )


PERIODIC["reviewed-heads-retention"] = Periodic(INTERVAL_SECONDS, _periodic)
