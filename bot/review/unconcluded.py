"""Check runs a job could not conclude: a periodic sweep concludes them once GitHub answers.

When a review gives up because GitHub failed, its `give_up` concludes the check with the reason;
if GitHub fails that too, the check would stay `in_progress` for ever and a required check
would block the pull request. The head SHA and the reason are kept (`UnconcludedCheck`) and
every serving process sweeps them (`FOOTGUN_CHECK_SWEEP_INTERVAL`), with a backoff per row, until
the App's check run there is completed: by the sweep, or by a later review that succeeded.
Replicas claim a row by moving its `next_attempt_at` with a conditional UPDATE.

A review skipped because the pull request's head moved on (`superseded`) may have started its
check in an earlier attempt; that head is kept the same way, with the new head, and the sweep
concludes the check `skipped`, saying where the review went. The skip itself stays a database
write, and the sweep brings its retries; a check run that was never created is not created just
to be concluded.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import UnconcludedCheck, dialect_insert, rows_affected, utcnow
from bot.queue.worker import PERIODIC, Periodic, TaskContext
from bot.review import publish

log = logging.getLogger(__name__)
BATCH = 20
MAX_BACKOFF_SECONDS = 3600.0
TITLE = "The review could not run"
SUPERSEDED_TITLE = "Superseded by a newer push"


async def remember(
    sessions: async_sessionmaker[AsyncSession],
    installation_id: int,
    repository: str,
    head_sha: str,
    reason: str,
    superseded_by: str | None = None,
) -> None:
    """Keep a check to conclude later (one per head SHA: a newer reason replaces the older);
    `superseded_by` is the newer head of a review skipped as stale."""
    now = utcnow()
    async with sessions.begin() as session:
        insert = dialect_insert(session.get_bind().dialect.name)
        values = {
            "installation_id": installation_id,
            "repository": repository,
            "head_sha": head_sha,
            "reason": reason[:4000],
            "superseded_by": superseded_by,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        statement = insert(UnconcludedCheck.__table__).values(**values)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["repository", "head_sha"],
                set_={
                    "reason": statement.excluded.reason,
                    "superseded_by": statement.excluded.superseded_by,
                    "next_attempt_at": now,
                },
            )
        )
    log.warning("check run of %s@%s left to the sweep: %s", repository, head_sha[:12], reason)


def _backoff(interval: float, attempts: int) -> timedelta:
    return timedelta(seconds=min(interval * 2**attempts, MAX_BACKOFF_SECONDS))


async def sweep(ctx: TaskContext, now: datetime | None = None) -> int:
    """Conclude the due checks; how many were settled (concluded, or found completed)."""
    if ctx.github is None:
        return 0
    now = now or utcnow()
    interval = ctx.settings.check_sweep_interval
    async with ctx.sessions() as session:
        due = list(
            await session.scalars(
                select(UnconcludedCheck)
                .where(UnconcludedCheck.next_attempt_at <= now)
                .order_by(UnconcludedCheck.next_attempt_at)
                .limit(BATCH)
            )
        )
    settled = 0
    for row in due:
        async with ctx.sessions.begin() as session:
            claimed = await session.execute(
                update(UnconcludedCheck)
                .where(
                    UnconcludedCheck.id == row.id,
                    UnconcludedCheck.next_attempt_at == row.next_attempt_at,
                )
                .values(
                    attempts=UnconcludedCheck.attempts + 1,
                    next_attempt_at=now + _backoff(interval, row.attempts + 1),
                )
            )
        if rows_affected(claimed) != 1:
            continue  # another replica has it
        try:
            outcome = await conclude(ctx.github, row)
        except Exception as exc:
            error = " ".join(str(exc).split())[:1000] or exc.__class__.__name__
            log.warning(
                "cannot conclude the check run of %s@%s yet: %s",
                row.repository,
                row.head_sha[:12],
                error,
            )
            async with ctx.sessions.begin() as session:
                await session.execute(
                    update(UnconcludedCheck)
                    .where(UnconcludedCheck.id == row.id)
                    .values(last_error=error)
                )
            continue
        log.info("check run of %s@%s: %s", row.repository, row.head_sha[:12], outcome)
        async with ctx.sessions.begin() as session:
            await session.execute(delete(UnconcludedCheck).where(UnconcludedCheck.id == row.id))
        settled += 1
    return settled


async def superseded(
    sessions: async_sessionmaker[AsyncSession],
    installation_id: int,
    repository: str,
    head_sha: str,
    new_head: str,
) -> None:
    """A review of `head_sha` is skipped: the pull request's head moved to `new_head`."""
    await remember(
        sessions,
        installation_id,
        repository,
        head_sha,
        f"the pull request's head moved to {new_head[:12]} before this review finished",
        superseded_by=new_head,
    )


async def conclude(github: Any, row: UnconcludedCheck) -> str:
    """Complete the App's check run on the head with the reason, unless it is completed already."""
    gh = github.installation(row.installation_id)
    runs = await gh.paginate(
        f"repos/{row.repository}/commits/{row.head_sha}/check-runs",
        {"check_name": publish.CHECK_NAME, "filter": "all"},
        key="check_runs",
    )
    ours = [r for r in runs if str((r.get("app") or {}).get("id")) == str(github.app_id)]
    run = max(ours, key=lambda r: r["id"]) if ours else None
    if run is not None and run.get("status") == "completed":
        return "already completed"
    if row.superseded_by:
        if run is None:
            return "no check run to conclude"
        await publish.conclude_with_message(
            gh,
            row.repository,
            publish.CheckRun(run["id"]),
            SUPERSEDED_TITLE,
            f"The pull request's head moved to {row.superseded_by} before this review finished. "
            "A newer review runs there: its check run is on that commit.",
            conclusion="skipped",
        )
        return "concluded as skipped"
    summary = (
        f"istio-footgun-bot gave up on this review, and GitHub did not answer when it tried to say"
        f" so: {row.reason}\n\nComment `/footgun recheck` on the pull request to try again."
    )
    if run is not None:
        await publish.conclude_with_message(
            gh, row.repository, publish.CheckRun(run["id"]), TITLE, summary
        )
        return "concluded"
    await gh.json(  # never created: a completed one says why (a POST is not repeated in place)
        "POST",
        f"repos/{row.repository}/check-runs",
        json={
            "name": publish.CHECK_NAME,
            "head_sha": row.head_sha,
            "status": "completed",
            "conclusion": "failure",
            "output": {"title": TITLE, "summary": summary[:60_000]},
        },
    )
    return "created, concluded"


def _interval(settings: Any) -> float:
    return float(settings.check_sweep_interval)


async def _periodic(ctx: TaskContext) -> None:
    await sweep(ctx)


PERIODIC["unconcluded-checks"] = Periodic(_interval, _periodic)
