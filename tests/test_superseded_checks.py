"""A review skipped because the head moved on leaves no check run `in_progress` (issue "Hardening
the App", items 2 and 7): an earlier attempt that started the old head's check has it concluded
`skipped` by the check sweep, through the same write path, and no check run is ever created
just to be concluded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.db import Job, PullRequest, UnconcludedCheck, utcnow
from bot.queue import jobs
from bot.queue.worker import TaskContext, Worker
from bot.review import job as review
from bot.review import unconcluded
from tests.fakegithub.world import virtual_service as vs

pytestmark = pytest.mark.anyio


async def track(database, world, pull) -> None:
    """What the intake records of the pull request: its head, for the staleness check."""
    async with database.sessions.begin() as session:
        row = await session.scalar(
            select(PullRequest).where(
                PullRequest.repository == world.repo, PullRequest.number == pull.number
            )
        )
        if row is None:
            session.add(
                PullRequest(
                    installation_id=world.installation_id,
                    repository=world.repo,
                    number=pull.number,
                    head_sha=pull.head_sha,
                    base_ref="main",
                    state="open",
                )
            )
        else:
            row.head_sha = pull.head_sha


async def queue_review(database, world, pull) -> int:
    payload = {
        "installation_id": world.installation_id,
        "repository": world.repo,
        "pull_number": pull.number,
        "head_sha": pull.head_sha,
        "base_sha": pull.base_sha,
        "reason": "pull_request.synchronize",
    }
    job, _ = await database.run(
        jobs.enqueue,
        "review",
        payload,
        dedupe_key=jobs.review_key(world.repo, pull.number, pull.head_sha),
    )
    return job.id


async def make_due(database) -> None:
    async with database.sessions.begin() as session:
        await session.execute(
            update(Job)
            .where(Job.status == jobs.QUEUED)
            .values(run_after=utcnow() - timedelta(seconds=1))
        )


async def drain(worker: Worker) -> None:
    while await worker.run_once():
        pass


async def status(database, job_id) -> str:
    async with database.sessions() as session:
        return (await session.get(Job, job_id)).status


@pytest.fixture
def setup(world, database, make_settings):
    """A pull request adding a fault, a worker running the real review handler."""
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": vs("a", fault=True)})
    settings = make_settings()
    worker = Worker(settings, database, world.app, handlers={"review": review})
    return pull, worker, TaskContext(settings, world.app, database.sessions)


def created_runs(world, head_sha: str) -> list:
    return [
        r
        for r in world.fake.requests("POST", r"/check-runs$")
        if r.body and r.body.get("head_sha") == head_sha
    ]


async def test_a_stale_job_whose_first_attempt_started_the_check_has_it_concluded(
    world, database, setup
):
    pull, worker, sweep_ctx = setup
    old = pull.head_sha
    await track(database, world, pull)
    first = await queue_review(database, world, pull)
    world.fake.fail("GET", rf"/repos/{world.repo}/pulls/{pull.number}/files", 502, times=100)
    assert await worker.run_once()  # attempt 1: the check is started, then GitHub fails
    [run] = world.fake.runs_for(world.repo, old)
    assert (run["status"], await status(database, first)) == ("in_progress", "queued")

    world.fake.faults.clear()
    new = world.fake.push(pull, {"mesh/b.yaml": vs("b")})
    await track(database, world, pull)
    second = await queue_review(database, world, pull)
    await make_due(database)
    await drain(worker)
    assert (await status(database, first), await status(database, second)) == ("skipped", "done")

    assert await unconcluded.sweep(sweep_ctx) == 1
    [run] = world.fake.runs_for(world.repo, old)
    assert (run["status"], run["conclusion"]) == ("completed", "skipped")
    assert run["output"]["title"] == "Superseded by a newer push"
    assert f"moved to {new}" in run["output"]["summary"]
    assert "A newer review runs there" in run["output"]["summary"]
    assert len(created_runs(world, old)) == 1  # the one attempt 1 made; none to conclude it
    [newer] = world.fake.runs_for(world.repo, new)
    assert newer["conclusion"] == "failure"  # the review of the new head ran as usual
    async with database.sessions() as session:
        assert (await session.scalars(select(UnconcludedCheck))).all() == []


async def test_a_stale_job_that_never_started_the_check_creates_none(world, database, setup):
    pull, worker, sweep_ctx = setup
    old = pull.head_sha
    await track(database, world, pull)
    first = await queue_review(database, world, pull)
    world.fake.fail("GET", rf"/repos/{world.repo}/pulls/{pull.number}", 502, times=100)
    assert await worker.run_once()  # attempt 1 fails before reaching the check
    assert world.fake.runs_for(world.repo, old) == []

    world.fake.faults.clear()
    world.fake.push(pull, {"mesh/b.yaml": vs("b")})
    await track(database, world, pull)
    await queue_review(database, world, pull)
    await make_due(database)
    await drain(worker)
    assert await status(database, first) == "skipped"
    assert await unconcluded.sweep(sweep_ctx) == 1
    assert world.fake.runs_for(world.repo, old) == [] and created_runs(world, old) == []


async def test_a_job_that_finds_the_head_moved_on_github_has_its_check_concluded(
    world, database, setup
):
    """The push's delivery has not arrived (no newer job yet): the review itself sees the new
    head when it reads the pull request, and skips, leaving the same for the sweep."""
    pull, worker, sweep_ctx = setup
    old = pull.head_sha
    await track(database, world, pull)
    first = await queue_review(database, world, pull)
    world.fake.fail("GET", rf"/repos/{world.repo}/pulls/{pull.number}/files", 502, times=100)
    assert await worker.run_once()
    world.fake.faults.clear()
    new = world.fake.push(pull, {"mesh/b.yaml": vs("b")})
    await make_due(database)
    await drain(worker)
    assert await status(database, first) == "done"
    assert await unconcluded.sweep(sweep_ctx) == 1
    [run] = world.fake.runs_for(world.repo, old)
    assert (run["conclusion"], f"moved to {new}" in run["output"]["summary"]) == ("skipped", True)
    assert len(created_runs(world, old)) == 1


async def test_a_first_attempt_skipped_as_stale_costs_no_sweep(world, database, setup):
    """A job claimed for the first time has started nothing: nothing is left to conclude."""
    pull, worker, _ = setup
    await track(database, world, pull)
    first = await queue_review(database, world, pull)
    world.fake.push(pull, {"mesh/b.yaml": vs("b")})
    await track(database, world, pull)
    await queue_review(database, world, pull)
    await drain(worker)
    assert await status(database, first) == "skipped"
    async with database.sessions() as session:
        assert (await session.scalars(select(UnconcludedCheck))).all() == []
