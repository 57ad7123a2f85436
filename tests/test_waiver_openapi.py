"""What waivers send to GitHub (and what the fake answers) checked against GitHub's OpenAPI description."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.waivers import sweeper
from tests.openapi import check_request, check_response, load, operation
from tests.waiver_helpers import faulty_pull, people, run_review, say, today, waivers

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def openapi():
    return load()


async def test_commands_and_sweeps_speak_githubs_api(world, database, openapi):
    people(world)
    pull = faulty_pull(world)
    await run_review(world, database, pull)
    [inline] = world.fake.comments_on(world.repo, pull.number)
    until = today() + dt.timedelta(days=4)
    await say(
        world,
        database,
        pull,
        "wes",
        f"/footgun waive until {until} because thread",
        reply_to=inline["id"],
    )
    await say(
        world,
        database,
        pull,
        "maria",
        "/footgun waive fault-injection for 5d because conversation\n"
        "/footgun waive fault-injektion for 2d because typo",
    )
    first, second = await waivers(database)
    await say(world, database, pull, "maria", f"/footgun unwaive {first.id}")
    await run_review(world, database, pull)
    world.fake.merge(pull)
    await sweeper.sweep(database.sessions, world.app, second.remind_at + dt.timedelta(minutes=1))
    await sweeper.sweep(database.sessions, world.app, second.expires_at + dt.timedelta(minutes=1))
    assert len(world.fake.issues_of(world.repo, label=sweeper.CLEANUP_LABEL)) == 1

    sent = sum(check_request(openapi, logged) for logged in world.fake.log)
    answered = sum(check_response(openapi, logged) for logged in world.fake.log)
    posted = {
        (r.method, operation(openapi, r.method, r.path)[0])
        for r in world.fake.log
        if r.body is not None
    }
    assert {
        ("POST", "/repos/{owner}/{repo}/issues"),
        ("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"),
        ("POST", "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions"),
        ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies"),
        ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
        ("PATCH", "/repos/{owner}/{repo}/pulls/comments/{comment_id}"),
    } <= posted
    assert sent >= 10 and answered >= 20
