"""The durable job queue: enqueue in the delivery's transaction, claim under a lease, finish.

At-least-once: a job is claimed by one worker at a time (PostgreSQL `FOR UPDATE SKIP LOCKED`;
SQLite's single writer makes one conditional UPDATE atomic) and holds a lease the worker renews.
On PostgreSQL the claim is also tied to the claiming worker's database session: it takes a
session-level advisory lock on the job, which PostgreSQL drops when that process dies, so
another replica resumes the job within a poll (about a second) instead of waiting out the
lease, and never while the owner's session lives. On SQLite (one process per file) a restart
releases what the previous run held. A worker whose lease was lost stops its handler (`LeaseLost`).
Handlers publish idempotently. Jobs that share a dedupe key (the reviews of one PR head) never run at the
same time: publishing is safe to repeat, not to interleave. Handlers are registered by job kind in
`HANDLERS`; a worker only claims the kinds it has a handler for, so a job of a kind this version
does not know waits in the queue.
"""

from __future__ import annotations

import contextvars
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    column,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, aliased

from bot.db import Database, Job, PullRequest, rows_affected, utcnow
from bot.settings import Settings

QUEUED, RUNNING, DONE, FAILED, SKIPPED = "queued", "running", "done", "failed", "skipped"
LEASE = timedelta(seconds=60)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 15 * 60.0
RETRY_AFTER_MAX_SECONDS = 60 * 60.0
ERROR_MAX_CHARS = 4000


ADVISORY_CLASS = 1181708148
"""First key of the jobs' advisory locks (`pg_advisory_lock(ADVISORY_CLASS, job id)`): "Foot"."""


class LeaseLost(Exception):
    """Another worker owns this job now: stop before publishing anything more."""


_OWNERSHIP: contextvars.ContextVar[Callable[[], Awaitable[None]] | None] = contextvars.ContextVar(
    "job_ownership", default=None
)


async def still_owned() -> None:
    """Raise `LeaseLost` when the running job was taken over; call it before publishing.

    The worker renews the lease here (a no-op outside a worker, as in handler tests).
    """
    check = _OWNERSHIP.get()
    if check is not None:
        await check()


class RetryableError(Exception):
    """A transient failure (GitHub 5xx, timeout, rate limit): the job runs again later.

    `retry_after` (seconds), when the server said how long to wait, replaces the backoff.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class JobInfo:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class JobContext:
    """What a handler gets: settings, the GitHub client (owned by bot.github.client), sessions, the job."""

    settings: Settings
    github: Any
    sessions: async_sessionmaker[AsyncSession]
    job: JobInfo
    log: logging.Logger


class Handler(Protocol):
    """A job kind's module. It may also define `async superseded(ctx, head_sha)`: the job is
    skipped as stale (the pull request's head moved to `head_sha`) after an earlier attempt
    ran, and this settles what that attempt may have left behind (a check run in progress)."""

    async def run(self, ctx: JobContext) -> None:
        """Do the job; raise RetryableError for a transient failure."""

    async def give_up(self, ctx: JobContext, error: str) -> None:
        """The job failed for good (attempts exhausted or a permanent error): tell the user why."""


HANDLERS: dict[str, Handler] = {}


def review_key(repository: str, pull_number: int, head_sha: str) -> str:
    """Dedupe key of a review: one per pull request and head SHA."""
    return f"{repository}#{pull_number}@{head_sha}"


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    delivery_id: str | None = None,
    run_after: datetime | None = None,
) -> tuple[Job, bool]:
    """Add a job in the caller's transaction; (job, False) when the same one is already queued.

    A sync function, like the intake that calls it; from async code:
    `await session.run_sync(jobs.enqueue, kind, payload, dedupe_key=...)`.
    """
    job_id, created = add(
        session, kind, payload, dedupe_key=dedupe_key, delivery_id=delivery_id, run_after=run_after
    )
    return session.get_one(Job, job_id), created


_JOBS = cast(Table, Job.__table__)
_SAME_KEY = select(_JOBS.c.id, _JOBS.c.kind, _JOBS.c.status).where(
    _JOBS.c.dedupe_key == bindparam("dedupe_key")
)
"""Filtered on the key alone, so that SQLite searches `ix_jobs_dedupe_key`: given `status` too, it
picks `ix_jobs_claim` and reads every queued job (the intake slowed down as the queue grew)."""
_INSERT = insert(_JOBS).returning(_JOBS.c.id)


def add(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    delivery_id: str | None = None,
    run_after: datetime | None = None,
) -> tuple[int, bool]:
    """`enqueue` for the webhook path: the job's id, in two prepared Core statements, no ORM object."""
    connection = session.connection()
    if dedupe_key is not None:
        for job_id, job_kind, status in connection.execute(_SAME_KEY, {"dedupe_key": dedupe_key}):
            if job_kind == kind and status == QUEUED:
                return job_id, False
    now = utcnow()
    row = {
        "kind": kind,
        "payload": payload,
        "status": QUEUED,
        "attempts": 0,
        "run_after": run_after or now,
        "locked_by": None,
        "locked_until": None,
        "claim_session": None,
        "last_error": None,
        "dedupe_key": dedupe_key,
        "delivery_id": delivery_id,
        "created_at": now,
        "updated_at": now,
        "finished_at": None,
    }
    return connection.execute(_INSERT, row).scalar_one(), True


async def claim(
    database: Database,
    worker: str,
    kinds: list[str],
    *,
    lease: timedelta = LEASE,
    now: datetime | None = None,
    connection: AsyncConnection | None = None,
) -> Job | None:
    """Take the next due job (or one whose owner is gone) for `worker`, counting an attempt.

    With `connection` (PostgreSQL: the worker's own session, held while it works) the claim
    takes the job's advisory lock on it; `release(connection, job)` gives it back.
    """
    if not kinds:
        return None
    if connection is None:
        return await database.run(_claim, worker, kinds, lease, now or utcnow())
    try:
        async with connection.begin():
            return await connection.run_sync(_claim_on, worker, kinds, lease, now or utcnow())
    except _Contended:
        return None


class _Contended(Exception):
    """The job's advisory lock is held by another session: the claim is rolled back."""


def _claim_on(
    connection: Any, worker: str, kinds: list[str], lease: timedelta, now: datetime
) -> Job | None:
    with Session(bind=connection, expire_on_commit=False) as session:
        return _claim(session, worker, kinds, lease, now, locking=True)


_PG_LOCKS = table(
    "pg_locks",
    column("locktype"),
    column("database"),
    column("classid"),
    column("objid"),
    column("objsubid"),
    column("pid"),
    column("granted"),
)


def _alive(job: Any, now: datetime, dialect: str) -> ColumnElement[bool]:
    """Whether the worker that claimed a running `job` still owns it.

    A claim made with an advisory lock lives while the claiming session holds that lock
    (PostgreSQL drops it when the process dies, or its connection does); any other claim
    lives until its lease runs out.
    """
    leased: ColumnElement[bool] = job.locked_until >= now
    if dialect != "postgresql":
        return leased
    lock_held = exists().where(
        _PG_LOCKS.c.locktype == "advisory",
        _PG_LOCKS.c.database
        == select(literal_column("oid"))
        .select_from(table("pg_database"))
        .where(literal_column("datname") == func.current_database())
        .scalar_subquery(),
        _PG_LOCKS.c.classid == literal_column(str(ADVISORY_CLASS)),
        _PG_LOCKS.c.objid == job.id,
        _PG_LOCKS.c.objsubid == literal_column("2"),
        _PG_LOCKS.c.pid == job.claim_session,
        _PG_LOCKS.c.granted == true(),
    )
    return or_(and_(job.claim_session.is_(None), leased), lock_held)


def _claim(
    session: Session,
    worker: str,
    kinds: list[str],
    lease: timedelta,
    now: datetime,
    *,
    locking: bool = False,
) -> Job | None:
    dialect = session.get_bind().dialect.name
    due = or_(
        and_(Job.status == QUEUED, Job.run_after <= now),
        and_(Job.status == RUNNING, ~_alive(Job, now, dialect)),
    )
    # A job whose twin (same dedupe key) is still owned waits for it: two reviews of one head
    # publishing at once would both create the check run, or both post the same comment.
    other = aliased(Job)
    twin_running = (
        select(other.id)
        .where(
            other.dedupe_key == Job.dedupe_key,
            other.id != Job.id,
            other.status == RUNNING,
            _alive(other, now, dialect),
        )
        .exists()
    )
    candidate = (
        select(Job.id)
        .where(Job.kind.in_(kinds), due, ~twin_running)
        .order_by(Job.run_after, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    locking = locking and dialect == "postgresql"
    statement = (
        update(Job)
        .where(Job.id == candidate, due)
        .values(
            status=RUNNING,
            locked_by=worker,
            locked_until=now + lease,
            claim_session=func.pg_backend_pid() if locking else None,
            attempts=Job.attempts + 1,
            updated_at=now,
        )
        .returning(Job)
        .execution_options(synchronize_session=False)
    )
    job = session.scalars(statement).first()
    if job is not None and locking:
        # Session-level: it outlives this transaction and dies with the connection.
        taken = session.scalar(
            text("SELECT pg_try_advisory_lock(:class, :job)"),
            {"class": ADVISORY_CLASS, "job": job.id},
        )
        if not taken:  # its owner's session still holds it: never run one job twice at once
            raise _Contended
    return job


async def release(connection: AsyncConnection, job_id: int) -> None:
    """Give back the advisory lock `claim` took on the worker's session (after `finish`)."""
    async with connection.begin():
        await connection.execute(
            text("SELECT pg_advisory_unlock(:class, :job)"),
            {"class": ADVISORY_CLASS, "job": job_id},
        )


async def release_abandoned(database: Database, now: datetime | None = None) -> int:
    """End the leases of jobs marked running, so they are claimed at once; how many there were.

    Only for the embedded SQLite database, which one process serves: at its start, a job still
    marked running was abandoned by a crash, and waiting out its lease would delay the pull
    request by a minute for nothing. (With PostgreSQL other replicas may hold those leases.)
    """
    now = now or utcnow()

    def release(session: Session) -> int:
        expired = now - timedelta(seconds=1)
        result = session.execute(
            update(Job)
            .where(Job.status == RUNNING, Job.locked_until >= now)
            .values(locked_until=expired)
        )
        return rows_affected(result) or 0

    return await database.run(release)


async def renew(database: Database, job_id: int, worker: str, lease: timedelta = LEASE) -> bool:
    """Extend the lease of a running job; False when another worker has taken it over."""
    now = utcnow()
    return await database.run(
        _update_owned, job_id, worker, {"locked_until": now + lease, "updated_at": now}
    )


async def finish(
    database: Database,
    job_id: int,
    worker: str,
    status: str,
    *,
    note: str | None = None,
    run_after: datetime | None = None,
) -> bool:
    """Record the outcome of an attempt; False when the lease was lost (another worker owns it)."""
    now = utcnow()
    values: dict[str, Any] = {
        "status": status,
        "locked_by": None,
        "locked_until": None,
        "claim_session": None,
        "updated_at": now,
    }
    if note is not None:
        values["last_error"] = note[:ERROR_MAX_CHARS]
    if status == QUEUED:
        values["run_after"] = run_after or now
    else:
        values["finished_at"] = now
    return await database.run(_update_owned, job_id, worker, values)


def _update_owned(session: Session, job_id: int, worker: str, values: dict[str, Any]) -> bool:
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker, Job.status == RUNNING)
        .values(**values)
    )
    return rows_affected(result) == 1


@dataclass(frozen=True)
class Stale:
    """A pull-request job overtaken by a newer head, which has its own job."""

    head_sha: str
    """The pull request's head now."""
    job_id: int
    """The newer head's job."""
    reason: str


def stale(session: Session, payload: dict[str, Any]) -> Stale | None:
    """Whether a pull-request job is stale: the PR moved to a newer head SHA that has its own job."""
    repository, number, head = (
        payload.get("repository"),
        payload.get("pull_number"),
        payload.get("head_sha"),
    )
    if not (repository and number and head):
        return None
    current = session.scalar(
        select(PullRequest.head_sha).where(
            PullRequest.repository == repository, PullRequest.number == number
        )
    )
    if current is None or current == head:
        return None
    newer = session.scalar(
        select(Job.id).where(Job.dedupe_key == review_key(repository, number, current)).limit(1)
    )
    if newer is None:
        return None
    reason = f"stale: the pull request head moved from {head[:12]} to {current[:12]} (job {newer})"
    return Stale(current, newer, reason)


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt: the server's Retry-After, else exponential with jitter."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), RETRY_AFTER_MAX_SECONDS) + random.uniform(0, 1)
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


def queue_depth(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Job.kind, func.count()).where(Job.status == QUEUED).group_by(Job.kind)
    )
    return dict(rows.all())  # Result has keys(): dict() would take it for a mapping
