"""What waivers send to GitHub (and what the fake answers) checked against GitHub's OpenAPI description."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot import sweeper
from tests.test_fakegithub import DESCRIPTION, deref, operation
from tests.waiver_helpers import faulty_pull, people, run_review, say, today, waivers

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def openapi():
    if not DESCRIPTION.exists():
        pytest.skip("GitHub's OpenAPI description is not available")
    return json.loads(DESCRIPTION.read_text())


async def test_commands_and_sweeps_speak_githubs_api(world, database, openapi):
    import jsonschema

    people(world)
    pull = faulty_pull(world)
    await run_review(world, database, pull)
    [inline] = world.fake.comments_on(world.repo, pull.number)
    until = today() + dt.timedelta(days=4)
    await say(world, database, pull, "wes", f"/footgun waive until {until} because thread", reply_to=inline["id"])
    await say(world, database, pull, "maria", "/footgun waive fault-injection for 5d because conversation\n"
                                               "/footgun waive fault-injektion for 2d because typo")
    first, second = await waivers(database)
    await say(world, database, pull, "maria", f"/footgun unwaive {first.id}")
    await run_review(world, database, pull)
    world.fake.merge(pull)
    await sweeper.sweep(database.sessions, world.app, second.remind_at + dt.timedelta(minutes=1))
    await sweeper.sweep(database.sessions, world.app, second.expires_at + dt.timedelta(minutes=1))
    assert len(world.fake.issues_of(world.repo, label=sweeper.CLEANUP_LABEL)) == 1

    sent = answered = 0
    for logged in world.fake.log:
        template, op = operation(openapi, logged.method, logged.path)
        assert op is not None, f"{logged.method} {logged.path} is not in the description"
        if logged.body is not None:
            schema = deref(openapi, op["requestBody"]["content"]["application/json"]["schema"])
            jsonschema.validate(logged.body, schema)
            sent += 1
        response = logged.response
        if "json" not in response.headers.get("content-type", ""):
            continue
        spec = op["responses"].get(str(response.status_code))
        content = deref(openapi, spec or {}).get("content", {}).get("application/json")
        if not content:
            continue
        schema, body = content["schema"], response.json()
        if schema.get("type") == "array":
            schema, body = schema["items"], (body[0] if body else {})
        extra = set(body) - set(schema.get("properties", {}))
        assert not extra, f"{logged.method} {logged.path}: undeclared fields {sorted(extra)}"
        answered += 1
    posted = {(r.method, operation(openapi, r.method, r.path)[0]) for r in world.fake.log if r.body is not None}
    assert {("POST", "/repos/{owner}/{repo}/issues"),
            ("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"),
            ("POST", "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions"),
            ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies"),
            ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
            ("PATCH", "/repos/{owner}/{repo}/pulls/comments/{comment_id}")} <= posted
    assert sent >= 10 and answered >= 20
