"""The whole App in one process: a signed webhook in, the review job run by a worker, the check
run and the inline comment out, with GitHub played by the fake."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.db import Job
from bot.github.client import open_client
from tests.fakegithub.world import make_world
from tests.fakegithub.world import virtual_service as vs
from tests.webhooks import deliver, payload

pytestmark = pytest.mark.anyio


async def test_a_pull_request_webhook_ends_in_a_failed_check_and_an_inline_comment(
    make_settings, serve, respx_mock
):
    world = make_world(respx_mock)
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": vs("a", fault=True)})
    settings = make_settings(
        app_id=world.fake.app_id,
        private_key=world.fake.private_key,
        github_api_url=world.fake.base_url,
        workers=1,
    )
    delivery = payload(
        "pull_request.opened",
        **{
            "installation.id": world.installation_id,
            "repository.full_name": world.repo,
            "pull_request.number": pull.number,
            "pull_request.head.sha": pull.head_sha,
            "pull_request.base.sha": pull.base_sha,
            "pull_request.base.repo.full_name": world.repo,
        },
    )
    async with serve(settings, github_factory=open_client, handlers=None) as (app, client):
        response = await deliver(client, "pull_request", delivery)
        assert response.status_code == 202

        async def finished():
            async with app.state.runtime.database.sessions() as session:
                return await session.scalar(select(Job.status)) in ("done", "failed")

        async with asyncio.timeout(20):
            while not await finished():
                await asyncio.sleep(0.05)
        async with app.state.runtime.database.sessions() as session:
            job = await session.scalar(select(Job))
        assert (job.status, job.last_error) == ("done", None)

    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert (check["name"], check["conclusion"]) == ("Istio footguns", "failure")
    [comment] = world.fake.comments_on(world.repo, pull.number)
    assert (comment["path"], comment["line"]) == ("mesh/a.yaml", 10)
