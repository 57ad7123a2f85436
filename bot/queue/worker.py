"""In-process workers: claim a job, run its handler under a renewed lease, record the outcome.

Retryable failures come back with exponential backoff (or the server's Retry-After) until
`job_max_attempts`; then, as for any other failure, the job is marked failed and the handler's
`give_up` runs once, so the user sees why (the review handler concludes its check run).

A worker whose lease was taken over stops its handler at once (the heartbeat cancels it, and
`jobs.still_owned()` before publishing says so): it must not publish what the new owner will.
On PostgreSQL a job's claim holds an advisory lock on the connection the worker claimed it on,
kept out of the pool until the job ends (see `bot.queue.jobs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from bot import logs
from bot.db import Database, Job, utcnow
from bot.metrics import JOB_SECONDS, JOBS
from bot.queue import jobs, retention
from bot.queue.jobs import DONE, FAILED, QUEUED, SKIPPED, JobContext, JobInfo, RetryableError
from bot.settings import Settings

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
DB_ERROR_PAUSE_SECONDS = 5.0
HEARTBEAT_MAX_SECONDS = 5.0
"""At most this long between lease renewals: a taken-over job is noticed within it."""


class Wakeup:
    """Lets the webhook intake nudge idle workers in this process instead of waiting for a poll."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()


class Worker:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        github: Any = None,
        *,
        handlers: dict[str, jobs.Handler] | None = None,
        name: str | None = None,
        lease: timedelta = jobs.LEASE,
        poll: float = POLL_SECONDS,
        wakeup: Wakeup | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.github = github
        self.handlers = jobs.HANDLERS if handlers is None else handlers
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease = lease
        self.poll = poll
        self.wakeup = wakeup or Wakeup()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()
        self.wakeup.notify()

    async def run(self) -> None:
        """Work until `stop()`; a database outage pauses the loop instead of ending it."""
        while not self._stopping.is_set():
            try:
                worked = await self.run_once()
            except Exception:
                log.exception("worker %s: cannot reach the job queue; retrying", self.name)
                await self._pause(DB_ERROR_PAUSE_SECONDS)
                continue
            if not worked:
                await self.wakeup.wait(self.poll)

    async def run_once(self) -> bool:
        """Claim and process one job; False when none was due."""
        kinds = sorted(self.handlers)
        if self.database.engine.dialect.name != "postgresql":
            job = await jobs.claim(self.database, self.name, kinds, lease=self.lease)
            if job is None:
                return False
            await self.process(job)
            return True
        # The claim's advisory lock lives on this connection, held until the job ends.
        async with self.database.engine.connect() as session:
            job = await jobs.claim(
                self.database, self.name, kinds, lease=self.lease, connection=session
            )
            if job is None:
                return False
            try:
                await self.process(job)
            finally:
                await asyncio.shield(self._unlock(session, job.id))
        return True

    async def _unlock(self, session: AsyncConnection, job_id: int) -> None:
        try:
            await jobs.release(session, job_id)
        except Exception as exc:  # the lock goes with the connection: discard it
            log.warning(
                "job %s: cannot release its lock (%s); dropping the connection", job_id, exc
            )
            with contextlib.suppress(Exception):
                await session.invalidate()

    async def process(self, job: Job) -> None:
        info = JobInfo(job.id, job.kind, dict(job.payload), job.attempts)
        payload = info.payload
        pr = (
            f"{payload['repository']}#{payload['pull_number']}"
            if payload.get("pull_number")
            else None
        )
        with logs.bind(
            job=job.id, delivery=job.delivery_id, repository=payload.get("repository"), pr=pr
        ):
            handler = self.handlers[job.kind]
            job_log = logging.getLogger(f"bot.queue.jobs.{job.kind}")
            ctx = JobContext(self.settings, self.github, self.database.sessions, info, job_log)
            stale = await self.database.run(jobs.stale, payload)
            if stale:
                log.info("job %s skipped: %s", job.id, stale.reason)
                if job.attempts > 1:  # an earlier attempt ran, and may have left a check running
                    await self._superseded(handler, ctx, stale)
                await self._final(job, SKIPPED, stale.reason)
                return
            if job.attempts > self.settings.job_max_attempts:
                await self._fail(
                    job,
                    handler,
                    ctx,
                    f"gave up after {job.attempts - 1} attempts: the worker was lost",
                )
                return
            log.info("job %s (%s) attempt %d started", job.id, job.kind, job.attempts)
            try:
                await self._run_leased(handler, ctx)
            except jobs.LeaseLost:
                log.warning(
                    "job %s: another worker took it over; stopped before publishing more", job.id
                )
                JOBS.labels(job.kind, "lease_lost").inc()
            except RetryableError as exc:
                await self._retry(job, handler, ctx, exc)
            except asyncio.CancelledError:
                await asyncio.shield(self._release(job))
                raise
            except Exception as exc:
                log.error("job %s failed: %s", job.id, _describe(exc), exc_info=exc)
                await self._fail(job, handler, ctx, _describe(exc))
            else:
                log.info("job %s done", job.id)
                await self._final(job, DONE, None)

    async def _superseded(self, handler: jobs.Handler, ctx: JobContext, stale: jobs.Stale) -> None:
        """Let the handler settle what an earlier attempt of a now stale job left behind, before
        the job is marked skipped (a crash in between claims it again, and this runs again)."""
        settle = getattr(handler, "superseded", None)
        if settle is not None:
            await settle(ctx, stale.head_sha)

    async def _run_leased(self, handler: jobs.Handler, ctx: JobContext) -> None:
        """Run the handler while renewing the lease; stop it (`LeaseLost`) once it is lost."""
        lost = asyncio.Event()

        async def owned() -> None:
            if lost.is_set() or not await jobs.renew(
                self.database, ctx.job.id, self.name, self.lease
            ):
                lost.set()
                raise jobs.LeaseLost(f"job {ctx.job.id} was taken over by another worker")

        context = contextvars.copy_context()
        context.run(jobs._OWNERSHIP.set, owned)
        task = asyncio.create_task(handler.run(ctx), context=context)

        async def heartbeat() -> None:
            interval = min(self.lease.total_seconds() / 3, HEARTBEAT_MAX_SECONDS)
            while True:
                await asyncio.sleep(interval)
                try:
                    mine = await jobs.renew(self.database, ctx.job.id, self.name, self.lease)
                except Exception as exc:  # try again at the next beat; the lease has slack
                    log.warning("job %s: cannot renew its lease: %s", ctx.job.id, _describe(exc))
                    continue
                if not mine:
                    lost.set()
                    task.cancel()
                    return

        beat = asyncio.create_task(heartbeat())
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if lost.is_set() and not (current and current.cancelling()):
                raise jobs.LeaseLost(f"job {ctx.job.id} was taken over by another worker") from None
            raise
        finally:
            beat.cancel()
            pending = [beat] if task.done() else [beat, task]
            task.cancel()
            for unfinished in pending:  # a finished task is not awaited again: its traceback stays
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await unfinished

    async def _retry(
        self, job: Job, handler: jobs.Handler, ctx: JobContext, exc: RetryableError
    ) -> None:
        attempts = ctx.job.attempts
        if attempts >= self.settings.job_max_attempts:
            await self._fail(job, handler, ctx, f"gave up after {attempts} attempts: {exc}")
            return
        delay = jobs.backoff(attempts, exc.retry_after)
        log.warning(
            "job %s attempt %d failed (%s); retrying in %.1f s", ctx.job.id, attempts, exc, delay
        )
        JOBS.labels(ctx.job.kind, "retry").inc()
        await jobs.finish(
            self.database,
            ctx.job.id,
            self.name,
            QUEUED,
            note=str(exc),
            run_after=utcnow() + timedelta(seconds=delay),
        )

    async def _fail(self, job: Job, handler: jobs.Handler, ctx: JobContext, error: str) -> None:
        """Mark the job failed first (so it is never retried), then let the handler explain once."""
        if not await self._final(job, FAILED, error):
            return
        log.error("job %s failed for good: %s", job.id, error)
        try:
            await handler.give_up(ctx, error)
        except Exception as exc:
            log.error("job %s: give_up failed: %s", job.id, _describe(exc), exc_info=exc)

    async def _final(self, job: Job, status: str, note: str | None) -> bool:
        if not await jobs.finish(self.database, job.id, self.name, status, note=note):
            log.warning("job %s: lease lost before it could be marked %s", job.id, status)
            return False
        JOBS.labels(job.kind, status).inc()
        JOB_SECONDS.labels(job.kind).observe((utcnow() - job.created_at).total_seconds())
        return True

    async def _release(self, job: Job) -> None:
        """Shutting down mid-job: hand the job back now instead of waiting for the lease to expire."""
        with contextlib.suppress(Exception):
            await jobs.finish(
                self.database, job.id, self.name, QUEUED, note="interrupted by shutdown"
            )

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


@dataclass(frozen=True)
class TaskContext:
    """What a periodic task gets: like a job's context, without a job."""

    settings: Settings
    github: Any
    sessions: async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Periodic:
    """A task run every `interval` seconds in each serving process (the waiver sweeper, say).

    With several replicas it runs in each of them: make it idempotent, or have it enqueue a job
    with a dedupe key so that one worker does the work.
    """

    interval: float | Callable[[Settings], float]
    """Seconds, or a function of the settings for a task whose interval is configurable."""
    run: Callable[[TaskContext], Awaitable[None]]

    def seconds(self, settings: Settings) -> float:
        return self.interval(settings) if callable(self.interval) else self.interval

    async def loop(self, ctx: TaskContext, name: str) -> None:
        while True:
            try:
                await self.run(ctx)
            except Exception as exc:
                log.error("periodic task %s failed: %s", name, _describe(exc), exc_info=exc)
            await asyncio.sleep(self.seconds(ctx.settings))


PERIODIC: dict[str, Periodic] = {
    "delivery-retention": Periodic(retention.INTERVAL_SECONDS, retention.run)
}


def _describe(exc: BaseException) -> str:
    """`Type: message` on one line, secrets scrubbed, for the job record and the user.

    The traceback goes to the log (`exc_info`), where the formatter scrubs it too.
    """
    text = logs.scrub("".join(traceback.format_exception_only(exc)))
    return " ".join(text.split())[:1000] or exc.__class__.__name__
