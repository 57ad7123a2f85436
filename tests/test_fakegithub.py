"""The fake GitHub checked against GitHub's OpenAPI description, and its limits checked directly.

The description is a fixture: these tests skip cleanly where it is absent.
"""

import asyncio
import time

import httpx
import jwt
import pytest

from tests.fakegithub import ROUTES, FakeGitHub
from tests.fakegithub.world import job_context
from tests.fakegithub.world import virtual_service as vs
from tests.openapi import check_request, check_response, load


@pytest.fixture(scope="module")
def openapi():
    return load()


def test_every_route_of_the_fake_exists_in_githubs_description(openapi):
    served = {(method, template) for method, template, _, _ in ROUTES}
    missing = [
        f"{m} {t}" for m, t in sorted(served) if m.lower() not in openapi["paths"].get(t, {})
    ]
    assert missing == []
    assert len(served) >= 25


def test_what_the_bot_sends_validates_against_the_request_schemas(world, openapi):

    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": vs("a", fault=True)})
    from bot.review import job as review

    world.run(review.run(job_context(world, pull)))
    world.fake.push(
        pull, {"mesh/a.yaml": vs("a").replace("hosts: [", "hosts: [b.mesh.svc.cluster.local, ")}
    )
    world.run(review.run(job_context(world, pull)))
    checked = sum(check_request(openapi, request) for request in world.fake.log)
    assert checked >= 5


def test_what_the_fake_answers_uses_only_fields_github_declares(world, openapi):
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": vs("a", fault=True)})
    from bot.review import job as review

    world.run(review.run(job_context(world, pull)))
    compared = sum(check_response(openapi, logged) for logged in world.fake.log)
    assert compared >= 6


def token_for(fake):
    installation = fake.install("acme", "acme/mesh")
    now = int(time.time())
    token = jwt.encode(
        {"iss": str(fake.app_id), "iat": now - 30, "exp": now + 500},
        fake.private_key,
        algorithm="RS256",
    )
    answer = fake.handle(
        httpx.Request(
            "POST",
            f"{fake.base_url}/app/installations/{installation}/access_tokens",
            headers={"authorization": f"Bearer {token}"},
        )
    )
    assert answer.status_code == 201
    return answer.json()["token"]


def call(fake, method, path, token, **kwargs):
    return fake.handle(
        httpx.Request(
            method, f"{fake.base_url}{path}", headers={"authorization": f"token {token}"}, **kwargs
        )
    )


@pytest.mark.parametrize(
    "claims, message",
    [
        ({"iat": -30, "exp": 700}, "too far in the future"),
        ({"iat": -700, "exp": -60}, "must be a numeric value representing the future"),
    ],
)
def test_app_jwts_must_be_current_and_short_lived(claims, message):
    fake = FakeGitHub()
    now = int(time.time())
    token = jwt.encode(
        {"iss": str(fake.app_id), "iat": now + claims["iat"], "exp": now + claims["exp"]},
        fake.private_key,
        algorithm="RS256",
    )
    answer = fake.handle(
        httpx.Request("GET", f"{fake.base_url}/app", headers={"authorization": f"Bearer {token}"})
    )
    assert answer.status_code == 401 and message in answer.json()["message"]


def test_installation_tokens_last_one_hour():
    clock = [time.time()]
    fake = FakeGitHub(now=lambda: clock[0])
    token = token_for(fake)
    fake.commit("acme/mesh", {"a.yaml": "a: 1\n"})
    assert call(fake, "GET", "/repos/acme/mesh/git/trees/missing", token).status_code == 404
    clock[0] += 3601
    assert call(fake, "GET", "/repos/acme/mesh/git/trees/missing", token).status_code == 401


def test_more_than_fifty_annotations_or_a_long_summary_is_422():
    fake = FakeGitHub()
    token = token_for(fake)
    sha = fake.commit("acme/mesh", {"a.yaml": "a: 1\n"})
    annotation = {
        "path": "a.yaml",
        "start_line": 1,
        "end_line": 1,
        "annotation_level": "warning",
        "message": "m",
    }
    too_many = {
        "name": "x",
        "head_sha": sha,
        "output": {"title": "t", "summary": "s", "annotations": [annotation] * 51},
    }
    assert (
        call(fake, "POST", "/repos/acme/mesh/check-runs", token, json=too_many).status_code == 422
    )
    too_long = {"name": "x", "head_sha": sha, "output": {"title": "t", "summary": "s" * 65536}}
    assert (
        call(fake, "POST", "/repos/acme/mesh/check-runs", token, json=too_long).status_code == 422
    )
    fine = {
        "name": "x",
        "head_sha": sha,
        "output": {"title": "t", "summary": "s" * 65535, "annotations": [annotation] * 50},
    }
    assert call(fake, "POST", "/repos/acme/mesh/check-runs", token, json=fine).status_code == 201


def test_a_review_with_one_bad_line_fails_whole():
    fake = FakeGitHub()
    token = token_for(fake)
    base = fake.commit("acme/mesh", {"a.yaml": "".join(f"l{i}\n" for i in range(40))})
    head = fake.commit(
        "acme/mesh", {"a.yaml": "".join(f"l{i}\n" for i in range(40)).replace("l20\n", "X\n")}, base
    )
    pull = fake.open_pull("acme/mesh", base, head)
    review = {
        "commit_id": head,
        "event": "COMMENT",
        "body": "b",
        "comments": [
            {"path": "a.yaml", "line": 21, "side": "RIGHT", "body": "in the hunk"},
            {"path": "a.yaml", "line": 2, "side": "RIGHT", "body": "outside"},
        ],
    }
    answer = call(fake, "POST", f"/repos/acme/mesh/pulls/{pull.number}/reviews", token, json=review)
    assert answer.status_code == 422 and answer.json()["errors"] == ["Line could not be resolved"]
    assert fake.reviews == {} and fake.review_comments == {}


def test_pages_carry_link_headers():
    fake = FakeGitHub()
    token = token_for(fake)
    base = fake.commit("acme/mesh", {"x": "x"})
    head = fake.commit("acme/mesh", {f"f{i}": "y" for i in range(5)}, base)
    pull = fake.open_pull("acme/mesh", base, head)
    answer = call(
        fake, "GET", f"/repos/acme/mesh/pulls/{pull.number}/files?per_page=2&page=2", token
    )
    links = answer.headers["link"]
    assert 'page=3>; rel="next"' in links and 'page=3>; rel="last"' in links
    assert 'page=1>; rel="prev"' in links and 'page=1>; rel="first"' in links
    assert [f["filename"] for f in answer.json()] == ["f2", "f3"]


@pytest.mark.e2e
def test_the_fake_serves_the_review_over_http_on_loopback():
    from bot.github.client import GitHubApp
    from bot.review import job as review
    from tests.fakegithub.world import World
    from tests.loopback import FakeServer

    with FakeServer() as server:
        fake = server.fake
        installation = fake.install("acme", "acme/mesh")
        world = World(
            fake, GitHubApp(fake.app_id, fake.private_key, server.url, timeout=5), installation
        )
        pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": vs("a", fault=True)})

        async def review_and_close():
            await review.run(job_context(world, pull))
            await world.app.aclose()

        asyncio.run(review_and_close())
        [check] = fake.runs_for("acme/mesh", pull.head_sha)
        assert check["conclusion"] == "failure"
        assert len(fake.comments_on("acme/mesh", pull.number)) == 1
        assert fake.log[0].path == "/app/installations/%d/access_tokens" % installation


def test_conversation_routes_for_slash_commands():
    fake = FakeGitHub()
    token = token_for(fake)
    base = fake.commit("acme/mesh", {"a.yaml": "a: 1\n"})
    head = fake.commit("acme/mesh", {"a.yaml": "a: 2\n"}, base)
    pull = fake.open_pull("acme/mesh", base, head)
    fake.repos["acme/mesh"].permissions["maintainer"] = "maintain"
    number = pull.number

    comment = call(
        fake, "POST", f"/repos/acme/mesh/issues/{number}/comments", token, json={"body": "hello"}
    )
    assert comment.status_code == 201
    listed = call(fake, "GET", f"/repos/acme/mesh/issues/{number}/comments", token).json()
    assert [c["body"] for c in listed] == ["hello"]
    reaction = call(
        fake,
        "POST",
        f"/repos/acme/mesh/issues/comments/{comment.json()['id']}/reactions",
        token,
        json={"content": "+1"},
    )
    assert reaction.status_code == 201 and fake.reactions[0]["content"] == "+1"
    assert (
        call(
            fake,
            "POST",
            f"/repos/acme/mesh/issues/comments/{comment.json()['id']}/reactions",
            token,
            json={"content": "thumbsup"},
        ).status_code
        == 422
    )

    permission = call(
        fake, "GET", "/repos/acme/mesh/collaborators/maintainer/permission", token
    ).json()
    assert (permission["permission"], permission["role_name"]) == ("write", "maintain")
    assert (
        call(fake, "GET", "/repos/acme/mesh/collaborators/stranger/permission", token).status_code
        == 404
    )

    labels = call(
        fake,
        "POST",
        f"/repos/acme/mesh/issues/{number}/labels",
        token,
        json={"labels": ["footgun-waived"]},
    )
    assert [label["name"] for label in labels.json()] == ["footgun-waived"]
    assert (
        call(
            fake, "DELETE", f"/repos/acme/mesh/issues/{number}/labels/footgun-waived", token
        ).json()
        == []
    )

    issue = call(
        fake,
        "POST",
        "/repos/acme/mesh/issues",
        token,
        json={"title": "Waiver expired", "labels": ["footgun"]},
    )
    assert issue.status_code == 201 and issue.json()["number"] == number + 1
    assert (
        call(fake, "GET", f"/repos/acme/mesh/issues/{number + 1}", token).json()["title"]
        == "Waiver expired"
    )

    review_comment = call(
        fake,
        "POST",
        f"/repos/acme/mesh/pulls/{number}/comments",
        token,
        json={"commit_id": head, "path": "a.yaml", "line": 1, "side": "RIGHT", "body": "inline"},
    )
    assert review_comment.status_code == 201
    reply = call(
        fake,
        "POST",
        f"/repos/acme/mesh/pulls/{number}/comments/{review_comment.json()['id']}/replies",
        token,
        json={"body": "/footgun waive until 2030-01-01 because drill"},
    )
    assert (
        reply.status_code == 201 and reply.json()["in_reply_to_id"] == review_comment.json()["id"]
    )


def test_a_token_only_reaches_its_installations_repositories():
    fake = FakeGitHub()
    token = token_for(fake)
    fake.install("other", "other/private")
    fake.commit("other/private", {"a.yaml": "a: 1\n"})
    assert call(fake, "GET", "/repos/other/private/contents/a.yaml", token).status_code == 404
