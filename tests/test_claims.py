"""Who owns a running job (issue "Hardening the App", items 6 and 13): a worker whose lease was
taken over stops before it publishes; on PostgreSQL a claim lives exactly as long as the claiming
worker's database session, so a dead replica's job resumes at once and a live one's never."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.db import Job, utcnow
from bot.queue import jobs
from bot.queue.worker import Worker

pytestmark = pytest.mark.anyio


class Publisher:
    """A handler that works for a while, checks it still owns the job, then "publishes"."""

    def __init__(self, work_seconds: float) -> None:
        self.work_seconds = work_seconds
        self.started = asyncio.Event()
        self.published: list[int] = []

    async def run(self, ctx: jobs.JobContext) -> None:
        self.started.set()
        await asyncio.sleep(self.work_seconds)
        await jobs.still_owned()
        self.published.append(ctx.job.id)

    async def give_up(self, ctx: jobs.JobContext, error: str) -> None:
        pass


async def add(database) -> int:
    job, _ = await database.run(jobs.enqueue, "publish", {"n": 1}, dedupe_key="o/r#1@abc")
    return job.id


async def read(database, job_id) -> Job:
    async with database.sessions() as session:
        return await session.get(Job, job_id)


async def take_over(database, job_id, by: str) -> None:
    """Another worker resumes the job, as after this one's lease ran out (a frozen process)."""
    async with database.sessions.begin() as session:
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(locked_by=by, locked_until=utcnow() + timedelta(minutes=1), claim_session=None)
        )


async def test_a_worker_whose_lease_was_taken_over_stops_before_publishing(database, make_settings):
    handler = Publisher(work_seconds=60)
    worker = Worker(
        make_settings(), database, handlers={"publish": handler}, lease=timedelta(seconds=0.6)
    )
    job_id = await add(database)
    running = asyncio.create_task(worker.run_once())
    await asyncio.wait_for(handler.started.wait(), 10)
    await take_over(database, job_id, by="another-replica")
    assert await asyncio.wait_for(running, 10) is True  # stopped by the heartbeat, not after 60 s
    assert handler.published == []
    taken = await read(database, job_id)
    assert (taken.status, taken.locked_by) == ("running", "another-replica")


async def test_the_ownership_check_before_publishing_stops_a_worker_between_heartbeats(
    database, make_settings
):
    handler = Publisher(work_seconds=0.5)
    worker = Worker(
        make_settings(), database, handlers={"publish": handler}, lease=timedelta(minutes=1)
    )
    job_id = await add(database)
    running = asyncio.create_task(worker.run_once())
    await asyncio.wait_for(handler.started.wait(), 10)
    await take_over(database, job_id, by="another-replica")
    await asyncio.wait_for(running, 10)
    assert handler.published == []
    assert (await read(database, job_id)).locked_by == "another-replica"


@pytest.fixture
def postgresql(database):
    if database.engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    return database


async def test_a_claim_whose_session_died_is_resumed_before_its_lease_runs_out(
    postgresql, make_settings
):
    database = postgresql
    job_id = await add(database)
    doomed = await database.engine.connect()
    claimed = await jobs.claim(
        database, "killed-replica", ["publish"], lease=timedelta(minutes=10), connection=doomed
    )
    assert claimed.id == job_id and claimed.claim_session is not None
    handler = Publisher(work_seconds=0)
    survivor = Worker(make_settings(), database, handlers={"publish": handler})
    assert await survivor.run_once() is False, "the claiming session holds the job"

    await doomed.invalidate()  # the replica's process died: PostgreSQL ends its session
    await doomed.close()
    for _ in range(50):  # the server notices the closed socket at once; give it a moment
        if await survivor.run_once():
            break
        await asyncio.sleep(0.1)
    assert handler.published == [job_id]
    done = await read(database, job_id)
    assert (done.status, done.attempts, done.claim_session) == ("done", 2, None)


async def test_a_live_claim_is_never_taken_even_after_its_lease_ran_out(postgresql, make_settings):
    """A frozen owner (its lease expired, its session alive) still holds the job: running it
    elsewhere at the same time would publish one head's review twice at once."""
    database = postgresql
    job_id = await add(database)
    async with database.engine.connect() as owner:
        claimed = await jobs.claim(
            database, "frozen-replica", ["publish"], lease=timedelta(seconds=1), connection=owner
        )
        assert claimed.id == job_id
        await asyncio.sleep(1.2)
        handler = Publisher(work_seconds=0)
        other = Worker(make_settings(), database, handlers={"publish": handler})
        assert await other.run_once() is False
        assert handler.published == []
        assert (await read(database, job_id)).locked_by == "frozen-replica"
        await jobs.finish(database, job_id, "frozen-replica", jobs.DONE)
        await jobs.release(owner, job_id)
    assert (await read(database, job_id)).status == "done"


async def test_a_finished_job_releases_its_lock(postgresql, make_settings):
    from sqlalchemy import text

    database = postgresql
    job_id = await add(database)
    handler = Publisher(work_seconds=0)
    assert await Worker(make_settings(), database, handlers={"publish": handler}).run_once()
    async with database.engine.connect() as connection:
        held = await connection.scalar(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :job"),
            {"job": job_id},
        )
    assert held == 0
