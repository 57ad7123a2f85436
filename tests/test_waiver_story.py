"""The waiver story in one process, through the App's public surfaces (signed webhooks, the sweeper):
a PR with a fault injection -> red check -> a maintainer's `/footgun waive ... because ...` ->
green check -> merge -> the clock past the deadline -> one cleanup issue, however often the
sweepers run."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from bot.db import Job, PullRequest, Waiver
from bot.github.client import open_client
from bot.queue import jobs
from bot.queue.worker import Worker
from bot.waivers import sweeper
from tests.fakegithub.world import make_world
from tests.waiver_helpers import faulty_pull, people, reactions
from tests.webhooks import deliver, payload

pytestmark = pytest.mark.anyio


def pull_request_event(world, pull, name, updated):
    changes = {
        "installation.id": world.installation_id,
        "repository.full_name": world.repo,
        "pull_request.number": pull.number,
        "pull_request.head.sha": pull.head_sha,
        "pull_request.base.sha": pull.base_sha,
        "pull_request.base.ref": pull.base_ref,
        "pull_request.base.repo.full_name": world.repo,
        "pull_request.updated_at": updated,
    }
    if name == "pull_request.closed.merged":
        changes["pull_request.merged_at"] = updated
    return payload(name, **changes)


def comment_event(world, pull, comment):
    return payload(
        "issue_comment.created.on-pull-request",
        **{
            "installation.id": world.installation_id,
            "repository.full_name": world.repo,
            "issue.number": pull.number,
            "comment.id": comment["id"],
            "comment.body": comment["body"],
            "comment.user.login": comment["user"]["login"],
            "comment.user.type": "User",
            "sender.login": comment["user"]["login"],
        },
    )


async def test_waive_merge_and_a_passed_deadline_open_one_cleanup_issue(
    make_settings, serve, respx_mock
):
    world = make_world(respx_mock)
    people(world)
    pull = faulty_pull(world)
    settings = make_settings(
        app_id=world.fake.app_id,
        private_key=world.fake.private_key,
        github_api_url=world.fake.base_url,
        workers=0,
    )
    async with serve(settings, github_factory=open_client, handlers=None) as (app, client):
        runtime = app.state.runtime
        worker = Worker(settings, runtime.database, runtime.github, handlers=jobs.HANDLERS)

        async def drain():
            while await worker.run_once():
                pass
            async with runtime.database.sessions() as session:
                failed = list(await session.scalars(select(Job).where(Job.status != "done")))
            assert [(j.kind, j.status, j.last_error) for j in failed] == []

        def check():
            [run] = world.fake.runs_for(world.repo, pull.head_sha)
            return run

        opened = pull_request_event(world, pull, "pull_request.opened", "2026-01-01T00:00:00Z")
        assert (await deliver(client, "pull_request", opened)).status_code == 202
        await drain()
        assert check()["conclusion"] == "failure"

        comment = world.fake.comment_as(
            "maria",
            world.repo,
            pull.number,
            "Fine for the game day.\n/footgun waive fault-injection VirtualService/mesh/a "
            "for 7d because chaos drill on the staging mesh",
        )
        assert (
            await deliver(client, "issue_comment", comment_event(world, pull, comment))
        ).status_code == 202
        await drain()
        async with runtime.database.sessions() as session:
            [waiver] = list(await session.scalars(select(Waiver)))
        assert check()["conclusion"] == "success"
        listed = f"approved by @maria (waiver #{waiver.id}): chaos drill on the staging mesh"
        assert listed in check()["output"]["summary"]
        assert reactions(world, comment) == ["+1"]

        world.fake.merge(pull)
        response = await deliver(
            client,
            "pull_request",
            pull_request_event(world, pull, "pull_request.closed.merged", "2026-01-02T00:00:00Z"),
        )
        assert (
            response.json()["outcome"] == "recorded"
            and response.json()["note"] == "pull request merged"
        )
        async with runtime.database.sessions() as session:
            merged = await session.scalar(
                select(PullRequest.merged_at).where(PullRequest.number == pull.number)
            )
        assert merged == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)

        past_deadline = waiver.expires_at + dt.timedelta(hours=1)
        sweeps = await asyncio.gather(
            *(
                sweeper.sweep(runtime.database.sessions, runtime.github, past_deadline)
                for _ in range(2)
            )
        )
        assert sorted(o.action for outcomes in sweeps for o in outcomes) == ["issue"]
        next_day = past_deadline + dt.timedelta(days=1)
        assert await sweeper.sweep(runtime.database.sessions, runtime.github, next_day) == []

    [issue] = world.fake.issues_of(world.repo, label="footgun-cleanup")
    assert [a["login"] for a in issue["assignees"]] == ["maria"]
    assert (
        "> chaos drill on the staging mesh" in issue["body"]
        and f"/pull/{pull.number}" in issue["body"]
    )
