"""The job queue and its workers, on SQLite and PostgreSQL: retries, give-up, leases, staleness."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.db import Job, PullRequest, open_database, utcnow
from bot.queue import jobs
from bot.queue.jobs import RetryableError
from bot.queue.worker import Worker

pytestmark = pytest.mark.anyio
OLD, NEW = "a" * 40, "b" * 40


class FakeHandler:
    """Runs the scripted outcomes in order (an exception to raise, or None), then succeeds."""

    def __init__(self, *script, delay: float = 0.0) -> None:
        self.script = list(script)
        self.delay = delay
        self.runs: list[jobs.JobContext] = []
        self.gave_up: list[tuple[int, str]] = []

    async def run(self, ctx: jobs.JobContext) -> None:
        self.runs.append(ctx)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            outcome = self.script.pop(0)
            if outcome is not None:
                raise outcome

    async def give_up(self, ctx: jobs.JobContext, error: str) -> None:
        self.gave_up.append((ctx.job.id, error))


async def add(database, kind="fake", payload=None, dedupe_key=None) -> int:
    job, _ = await database.run(jobs.enqueue, kind, payload or {"n": 1}, dedupe_key=dedupe_key)
    return job.id


async def job(database, job_id) -> Job:
    async with database.sessions() as session:
        return await session.get(Job, job_id)


async def make_due(database, job_id) -> None:
    async with database.sessions.begin() as session:
        await session.execute(
            update(Job).where(Job.id == job_id).values(run_after=utcnow() - timedelta(seconds=1))
        )


def worker(database, settings, handler, **options) -> Worker:
    return Worker(settings, database, github="the-client", handlers={"fake": handler}, **options)


async def test_a_job_runs_once_with_its_context_and_is_done(database, make_settings):
    settings = make_settings()
    handler = FakeHandler()
    job_id = await add(database, payload={"repository": "o/r", "pull_number": 3})
    assert await worker(database, settings, handler).run_once() is True
    [ctx] = handler.runs
    assert (ctx.job.id, ctx.job.kind, ctx.job.payload, ctx.job.attempts) == (
        job_id,
        "fake",
        {"repository": "o/r", "pull_number": 3},
        1,
    )
    assert (ctx.settings, ctx.github, ctx.sessions) == (settings, "the-client", database.sessions)
    assert isinstance(ctx.log, logging.Logger)
    done = await job(database, job_id)
    assert (done.status, done.locked_by, done.locked_until, done.attempts) == (
        "done",
        None,
        None,
        1,
    )
    assert done.finished_at is not None
    assert await worker(database, settings, handler).run_once() is False


async def test_retryable_error_honours_retry_after(database, make_settings):
    handler = FakeHandler(RetryableError("GitHub answered 503", retry_after=120))
    job_id = await add(database)
    before = utcnow()
    w = worker(database, make_settings(), handler)
    await w.run_once()
    waiting = await job(database, job_id)
    assert (waiting.status, waiting.attempts, waiting.last_error) == (
        "queued",
        1,
        "GitHub answered 503",
    )
    assert timedelta(seconds=120) <= waiting.run_after - before <= timedelta(seconds=122)
    assert await w.run_once() is False, "not due before Retry-After"
    await make_due(database, job_id)
    assert await w.run_once() is True
    assert (await job(database, job_id)).status == "done"
    assert [ctx.job.attempts for ctx in handler.runs] == [1, 2]
    assert handler.gave_up == []


async def test_retryable_error_without_retry_after_backs_off_exponentially(database, make_settings):
    job_id = await add(database)
    w = worker(
        database, make_settings(), FakeHandler(RetryableError("timeout"), RetryableError("timeout"))
    )
    delays = []
    for _ in range(2):
        started = utcnow()
        await w.run_once()
        delays.append(((await job(database, job_id)).run_after - started).total_seconds())
        await make_due(database, job_id)
    assert 1.0 <= delays[0] <= 2.5 and 2.0 <= delays[1] <= 4.5


def test_backoff_grows_and_is_capped():
    for attempts in range(1, 20):
        ceiling = min(jobs.BACKOFF_MAX_SECONDS, jobs.BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))
        assert ceiling / 2 <= jobs.backoff(attempts) <= ceiling
    assert jobs.backoff(9, retry_after=10**9) <= jobs.RETRY_AFTER_MAX_SECONDS + 1


async def test_gives_up_after_max_attempts_and_calls_give_up_once(database, make_settings):
    handler = FakeHandler(*[RetryableError("rate limited", retry_after=0)] * 5)
    job_id = await add(database)
    w = worker(database, make_settings(job_max_attempts=3), handler)
    for _ in range(3):
        await make_due(database, job_id)
        assert await w.run_once() is True
    failed = await job(database, job_id)
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert failed.last_error == "gave up after 3 attempts: rate limited"
    assert handler.gave_up == [(job_id, "gave up after 3 attempts: rate limited")]
    await make_due(database, job_id)
    assert await w.run_once() is False


async def test_other_errors_fail_at_once_with_the_error_recorded_and_logged(
    database, make_settings, caplog
):
    handler = FakeHandler(ValueError("no such ref: feature/x"))
    job_id = await add(database)
    await worker(database, make_settings(), handler).run_once()
    failed = await job(database, job_id)
    assert (failed.status, failed.attempts, failed.last_error) == (
        "failed",
        1,
        "ValueError: no such ref: feature/x",
    )
    assert handler.gave_up == [(job_id, "ValueError: no such ref: feature/x")]
    [record] = [r for r in caplog.records if r.exc_info]
    assert "Traceback" in caplog.text and "raise outcome" in caplog.text
    assert record.exc_info[0] is ValueError


async def test_expired_lease_of_a_crashed_worker_is_resumed(database, make_settings):
    handler = FakeHandler()
    job_id = await add(database)
    crashed = await jobs.claim(database, "crashed-worker", ["fake"], lease=timedelta(seconds=1))
    assert crashed.id == job_id
    survivor = worker(database, make_settings(), handler)
    assert await survivor.run_once() is False, "the lease still holds"
    await asyncio.sleep(1.1)
    assert await survivor.run_once() is True
    assert [ctx.job.attempts for ctx in handler.runs] == [2]
    assert (await job(database, job_id)).status == "done"
    assert await jobs.finish(database, job_id, "crashed-worker", "done") is False


async def test_a_job_whose_worker_died_on_the_last_attempt_gives_up(database, make_settings):
    handler = FakeHandler()
    job_id = await add(database)
    for _ in range(2):
        await jobs.claim(database, "crashed", ["fake"], lease=timedelta(0), now=utcnow())
    await worker(database, make_settings(job_max_attempts=2), handler).run_once()
    assert handler.runs == []
    assert handler.gave_up == [(job_id, "gave up after 2 attempts: the worker was lost")]
    assert (await job(database, job_id)).status == "failed"


async def test_the_lease_is_renewed_while_a_long_job_runs(database, make_settings):
    handler = FakeHandler(delay=2.0)
    await add(database)
    settings = make_settings()
    first = worker(database, settings, handler, lease=timedelta(seconds=0.9))
    running = asyncio.create_task(first.run_once())
    await asyncio.sleep(1.5)  # past the first lease: only renewals keep the job
    assert await worker(database, settings, FakeHandler()).run_once() is False
    await running
    assert len(handler.runs) == 1


async def test_job_for_an_old_head_is_skipped_when_the_new_head_has_a_job(database, make_settings):
    async with database.sessions.begin() as session:
        session.add(
            PullRequest(repository="o/r", number=7, head_sha=NEW, base_ref="main", state="open")
        )
    payload = {
        "installation_id": 1,
        "repository": "o/r",
        "pull_number": 7,
        "base_sha": None,
        "reason": "t",
    }
    old = await add(database, "fake", {**payload, "head_sha": OLD}, jobs.review_key("o/r", 7, OLD))
    new = await add(database, "fake", {**payload, "head_sha": NEW}, jobs.review_key("o/r", 7, NEW))
    handler = FakeHandler()
    w = worker(database, make_settings(), handler)
    assert await w.run_once() and await w.run_once()
    assert [ctx.job.id for ctx in handler.runs] == [new]
    skipped = await job(database, old)
    assert skipped.status == "skipped"
    assert (
        skipped.last_error
        == f"stale: the pull request head moved from {OLD[:12]} to {NEW[:12]} (job {new})"
    )


async def test_job_for_an_old_head_runs_when_the_new_head_has_no_job(database, make_settings):
    async with database.sessions.begin() as session:
        session.add(
            PullRequest(repository="o/r", number=7, head_sha=NEW, base_ref="main", state="open")
        )
    old = await add(database, "fake", {"repository": "o/r", "pull_number": 7, "head_sha": OLD})
    handler = FakeHandler()
    await worker(database, make_settings(), handler).run_once()
    assert [ctx.job.id for ctx in handler.runs] == [old]


async def test_jobs_of_a_kind_without_handler_wait_in_the_queue(database, make_settings):
    job_id = await add(database, kind="command")
    assert await worker(database, make_settings(), FakeHandler()).run_once() is False
    assert (await job(database, job_id)).status == "queued"


async def test_shutdown_mid_job_hands_the_job_back(database, make_settings):
    handler = FakeHandler(delay=30)
    job_id = await add(database)
    running = asyncio.create_task(worker(database, make_settings(), handler).run_once())
    while not handler.runs:
        await asyncio.sleep(0.01)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    released = await job(database, job_id)
    assert (released.status, released.locked_by, released.last_error) == (
        "queued",
        None,
        "interrupted by shutdown",
    )


async def test_two_workers_on_one_queue_never_process_a_job_twice(
    database_url, database, make_settings
):
    settings = make_settings()
    ids = {await add(database, payload={"n": n}) for n in range(30)}
    replica = open_database(database_url)  # a second process's engine, as a replica would have
    processed: list[int] = []

    class Recording(FakeHandler):
        async def run(self, ctx):
            processed.append(ctx.job.id)
            await asyncio.sleep(0.005)

    workers = [
        Worker(settings, db, handlers={"fake": Recording()}, poll=0.05, name=f"w{i}")
        for i, db in enumerate((database, replica))
    ]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        async with asyncio.timeout(30):
            while len(processed) < len(ids):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*tasks)
        await replica.dispose()
    assert sorted(processed) == sorted(ids)
    async with database.sessions() as session:
        statuses = set(await session.scalars(select(Job.status)))
        lockers = set(await session.scalars(select(Job.attempts)))
    assert statuses == {"done"} and lockers == {1}


async def test_a_job_waits_while_a_job_with_its_dedupe_key_runs(database):
    """A re-run requested while the review of that head runs must not publish alongside it."""
    key = jobs.review_key("o/r", 1, NEW)
    first = await add(database, "review", {"n": 1}, key)
    elsewhere = await add(database, "review", {"n": 9}, jobs.review_key("o/r", 2, NEW))
    assert (await jobs.claim(database, "w1", ["review"])).id == first
    second = await add(database, "review", {"n": 2}, key)
    assert second != first  # the first is no longer queued: the re-run is a job of its own
    assert (await jobs.claim(database, "w2", ["review"])).id == elsewhere
    assert await jobs.claim(database, "w2", ["review"]) is None
    assert await jobs.finish(database, first, "w1", "done")
    assert (await jobs.claim(database, "w2", ["review"])).id == second


async def test_enqueue_dedupes_only_while_queued(database):
    key = jobs.review_key("o/r", 1, OLD)
    first = await add(database, "review", {"n": 1}, key)
    assert await add(database, "review", {"n": 2}, key) == first
    async with database.sessions.begin() as session:
        await session.execute(update(Job).values(status="done"))
    assert await add(database, "review", {"n": 3}, key) != first


class CallsGitHub(FakeHandler):
    async def run(self, ctx: jobs.JobContext) -> None:
        self.runs.append(ctx)
        await ctx.github.installation(1).get("repos/acme/mesh")


async def test_an_unusable_app_key_fails_the_job_at_once_instead_of_retrying(
    database, make_settings, respx_mock
):
    from bot.github.client import GitHubApp

    broken = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n"
    github = GitHubApp(1, broken, "http://github.test")
    handler = CallsGitHub()
    job_id = await add(database)
    try:
        await Worker(
            make_settings(), database, github=github, handlers={"fake": handler}
        ).run_once()
    finally:
        await github.aclose()
    failed = await job(database, job_id)
    assert (failed.status, failed.attempts, failed.run_after <= failed.finished_at) == (
        "failed",
        1,
        True,
    )
    assert (
        "InvalidAppKey: the App's private key (FOOTGUN_PRIVATE_KEY, FOOTGUN_PRIVATE_KEY_FILE"
        in failed.last_error
    )
    assert "MIIBOg" not in failed.last_error
    assert handler.gave_up == [(job_id, failed.last_error)]
    assert not respx_mock.calls


async def test_the_embedded_database_resumes_abandoned_jobs_at_once(database, make_settings):
    """On SQLite one process serves the queue: at its start a running job is an orphan."""
    handler = FakeHandler()
    job_id = await add(database)
    await jobs.claim(database, "killed-process", ["fake"], lease=timedelta(minutes=5))
    survivor = worker(database, make_settings(), handler)
    assert await survivor.run_once() is False, "the lease still holds"
    assert await jobs.release_abandoned(database) == 1
    assert await survivor.run_once() is True
    assert [ctx.job.attempts for ctx in handler.runs] == [2]
    assert (await job(database, job_id)).status == "done"
    assert await jobs.release_abandoned(database) == 0
