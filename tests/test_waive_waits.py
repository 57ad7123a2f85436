"""A waive answering a comment on a finding several targets share, and a waive written while
the review of a new push is still running."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.db import Job
from bot.github import markers
from bot.github.client import GitHubApp
from bot.queue import jobs
from bot.waivers import handler as command_handler
from tests.fakegithub.world import virtual_service as vs
from tests.waiver_helpers import (
    bot_replies,
    context,
    payload,
    people,
    run_review,
    say,
    today,
    waivers,
)

pytestmark = pytest.mark.anyio


def until(days: int = 5) -> str:
    return (today() + dt.timedelta(days=days)).isoformat()


async def test_a_thread_waive_on_a_comment_shared_by_three_targets_waives_all_three(
    world, database
):
    people(world)
    layout = {
        "base/kustomization.yaml": "resources: [vs.yaml]\n",
        "base/vs.yaml": vs("a"),
        **{
            f"overlays/{env}/kustomization.yaml": "namespace: mesh\nresources: [../../base]\n"
            for env in "xyz"
        },
    }
    pull = world.pull(layout, {"base/vs.yaml": vs("a", fault=True)}, user="author")
    assert (await run_review(world, database, pull))["conclusion"] == "failure"
    [inline] = world.fake.comments_on(world.repo, pull.number)
    shared = markers.fingerprints_in(inline["body"])
    assert len(shared) == 3

    await say(
        world,
        database,
        pull,
        "maria",
        f"/footgun waive until {until()} because chaos drill",
        reply_to=inline["id"],
    )
    [waiver] = await waivers(database)
    assert set(waiver.fingerprints) == shared
    [reply] = [
        c
        for c in world.fake.comments_on(world.repo, pull.number)
        if c.get("in_reply_to_id") == inline["id"] and c["user"]["type"] == "Bot"
    ]
    assert "(3 findings) is waived" in reply["body"]
    assert (await run_review(world, database, pull))["conclusion"] == "success"


async def queue_review(database, pull, world) -> None:
    async with database.sessions.begin() as session:
        await session.run_sync(
            jobs.enqueue,
            "review",
            {
                "installation_id": world.installation_id,
                "repository": world.repo,
                "pull_number": pull.number,
                "head_sha": pull.head_sha,
                "base_sha": pull.base_sha,
            },
            dedupe_key=jobs.review_key(world.repo, pull.number, pull.head_sha),
        )


async def waive_during_a_review(world, database):
    """A reviewed pull request, a push whose review is queued but not run, and the payload of a
    waive written then, naming a finding of the push."""
    people(world)
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": vs("a", fault=True)}, user="author")
    await run_review(world, database, pull)
    world.fake.push(pull, {"mesh/b.yaml": vs("b", fault=True)})
    await queue_review(database, pull, world)
    comment = world.fake.comment_as(
        "maria",
        world.repo,
        pull.number,
        f"/footgun waive fault-injection VirtualService/mesh/b until {until()} because drill",
    )
    return pull, payload(world, pull, comment, "issue", None)


async def test_a_waive_waits_for_the_review_still_running_on_the_head(world, database):
    pull, job = await waive_during_a_review(world, database)
    world.app = GitHubApp(
        world.fake.app_id, world.fake.private_key, world.fake.base_url, timeout=5, retry_delay=0
    )  # a cold process: the token counts
    world.fake.log.clear()
    with pytest.raises(jobs.RetryableError) as raised:
        await command_handler.run(context(world, database, "command", job, job_id=900))
    assert raised.value.retry_after == command_handler.REVIEW_WAIT_SECONDS
    assert await waivers(database) == [] and bot_replies(world, pull) == []
    first = len(world.fake.log)

    await run_review(world, database, pull)  # the review reports the new head
    async with database.sessions.begin() as session:
        for row in (await session.execute(select(Job).where(Job.kind == "review"))).scalars():
            row.status = jobs.DONE
    world.fake.log.clear()
    await command_handler.run(context(world, database, "command", job, job_id=900, attempts=2))
    [waiver] = await waivers(database)
    assert waiver.resources == ["VirtualService/mesh/b"]
    [reply] = bot_replies(world, pull)
    assert f"Waiver **#{waiver.id}**" in reply
    # the comment's calls over both attempts, the token's included: within its budget of 10
    assert first + len(world.fake.log) <= 10, (first, world.fake.log)


async def test_a_waive_waits_once_then_is_refused(world, database):
    pull, job = await waive_during_a_review(world, database)
    with pytest.raises(jobs.RetryableError):
        await command_handler.run(context(world, database, "command", job, job_id=901))
    await command_handler.run(context(world, database, "command", job, job_id=901, attempts=2))
    assert await waivers(database) == []
    assert f"The check has not reported on {pull.head_sha[:7]} yet" in bot_replies(world, pull)[0]


async def test_without_a_review_on_its_way_the_waive_is_refused_at_once(world, database):
    people(world)
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": vs("a", fault=True)}, user="author")
    await run_review(world, database, pull)
    world.fake.push(pull, {"mesh/b.yaml": vs("b", fault=True)})
    body = f"/footgun waive fault-injection VirtualService/mesh/b until {until()} because drill"
    await say(world, database, pull, "maria", body)
    assert await waivers(database) == []
    assert f"The check has not reported on {pull.head_sha[:7]} yet" in bot_replies(world, pull)[0]
