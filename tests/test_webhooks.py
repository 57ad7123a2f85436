"""Webhook intake through the ASGI app: signatures, limits, each handled event, durability."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.db import Delivery, Installation, InstallationRepository, Job, PullRequest
from bot.web.webhooks import MAX_BODY_BYTES
from tests.webhooks import SECRET, deliver, payload, request

pytestmark = pytest.mark.anyio
REPO = "Codertocat/Hello-World"
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
BASE = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
NEW_HEAD = "1111111111111111111111111111111111111111"


async def rows(app, model, *where):
    async with app.state.runtime.database.sessions() as session:
        return list(await session.scalars(select(model).where(*where).order_by(model.id)))


async def finish_all(app):
    async with app.state.runtime.database.sessions.begin() as session:
        await session.execute(update(Job).values(status="done"))


async def test_signed_pull_request_opened_stores_delivery_job_and_head_map(app_client):
    app, client = app_client
    response = await deliver(
        client, "pull_request", payload("pull_request.opened"), delivery="d-opened"
    )
    assert response.status_code == 202
    [job] = await rows(app, Job)
    assert response.json() == {"outcome": "queued", "jobs": [job.id]}
    assert (job.kind, job.status, job.attempts, job.delivery_id) == (
        "review",
        "queued",
        0,
        "d-opened",
    )
    assert job.payload == {
        "installation_id": 1,
        "repository": REPO,
        "pull_number": 2,
        "head_sha": HEAD,
        "base_sha": BASE,
        "reason": "pull_request.opened",
    }
    [delivery] = await rows(app, Delivery)
    assert (
        delivery.delivery_id,
        delivery.event,
        delivery.action,
        delivery.installation_id,
        delivery.repository,
        delivery.outcome,
    ) == ("d-opened", "pull_request", "opened", 1, REPO, "queued")
    [pr] = await rows(app, PullRequest)
    assert (pr.repository, pr.number, pr.head_sha, pr.base_ref, pr.state) == (
        REPO,
        2,
        HEAD,
        "master",
        "open",
    )


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha1=0123", "garbage"])
async def test_missing_or_wrong_signature_is_401_and_stores_nothing(app_client, signature):
    app, client = app_client
    options = {"secret": None} if signature is None else {"signature": signature}
    response = await deliver(client, "pull_request", payload("pull_request.opened"), **options)
    assert response.status_code == 401
    assert await rows(app, Delivery) == [] and await rows(app, Job) == []


async def test_signature_made_with_another_secret_is_401(app_client):
    app, client = app_client
    response = await deliver(
        client, "pull_request", payload("pull_request.opened"), secret=SECRET + "x"
    )
    assert response.status_code == 401
    assert await rows(app, Delivery) == []


async def test_redelivery_answers_200_and_is_processed_once(app_client):
    app, client = app_client
    body = payload("pull_request.opened")
    first = await deliver(client, "pull_request", body, delivery="same-id")
    second = await deliver(client, "pull_request", body, delivery="same-id")
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["outcome"] == "duplicate"
    assert len(await rows(app, Delivery)) == 1 and len(await rows(app, Job)) == 1


async def test_ping_answers_200_and_stores_nothing(app_client):
    app, client = app_client
    response = await deliver(client, "ping", payload("ping"))
    assert response.status_code == 200
    assert await rows(app, Delivery) == []


@pytest.mark.parametrize(
    "event, name",
    [
        ("star", None),
        ("check_suite", "check_suite.requested"),
        ("check_run", "check_run.created"),
        ("issue_comment", "issue_comment.edited"),
        ("pull_request", "pull_request.edited"),
    ],
)
async def test_unhandled_events_and_actions_answer_200_and_store_nothing(app_client, event, name):
    app, client = app_client
    body = payload(name) if name else {"action": "created", "repository": {"full_name": REPO}}
    response = await deliver(client, event, body)
    assert response.status_code == 200
    assert response.json()["outcome"] == "unhandled"
    assert await rows(app, Delivery) == [] and await rows(app, Job) == []


@pytest.mark.parametrize("action", ["reopened", "ready_for_review"])
async def test_reopened_and_ready_for_review_queue_a_review(app_client, action):
    app, client = app_client
    response = await deliver(
        client, "pull_request", payload("pull_request.reopened", action=action)
    )
    assert response.status_code == 202
    [job] = await rows(app, Job)
    assert job.payload["reason"] == f"pull_request.{action}"


async def test_synchronize_moves_the_head_and_queues_the_new_sha(app_client):
    app, client = app_client
    await deliver(client, "pull_request", payload("pull_request.opened"))
    newer = payload(
        "pull_request.synchronize",
        **{"pull_request.head.sha": NEW_HEAD, "pull_request.updated_at": "2019-05-15T15:30:00Z"},
    )
    assert (await deliver(client, "pull_request", newer)).status_code == 202
    assert [j.payload["head_sha"] for j in await rows(app, Job)] == [HEAD, NEW_HEAD]
    [pr] = await rows(app, PullRequest)
    assert pr.head_sha == NEW_HEAD


async def test_an_older_delivery_arriving_late_does_not_move_the_head_back(app_client):
    app, client = app_client
    newer = payload(
        "pull_request.synchronize",
        **{"pull_request.head.sha": NEW_HEAD, "pull_request.updated_at": "2019-05-15T15:30:00Z"},
    )
    await deliver(client, "pull_request", newer)
    response = await deliver(client, "pull_request", payload("pull_request.opened"))
    assert response.json()["outcome"] == "ignored"
    [pr] = await rows(app, PullRequest)
    assert pr.head_sha == NEW_HEAD
    assert [j.payload["head_sha"] for j in await rows(app, Job)] == [NEW_HEAD]


async def test_a_second_delivery_for_a_queued_review_adds_no_job(app_client):
    app, client = app_client
    await deliver(client, "pull_request", payload("pull_request.opened"))
    response = await deliver(client, "pull_request", payload("pull_request.reopened"))
    assert response.status_code == 202
    assert "already queued" in response.json()["note"]
    assert len(await rows(app, Job)) == 1


async def test_edited_queues_a_review_only_when_the_base_changed(app_client):
    app, client = app_client
    title_only = payload("pull_request.edited")
    assert (await deliver(client, "pull_request", title_only)).json()["outcome"] == "unhandled"
    rebased = payload(
        "pull_request.edited", changes={"base": {"ref": {"from": "main"}, "sha": {"from": BASE}}}
    )
    response = await deliver(client, "pull_request", rebased)
    assert response.status_code == 202
    [job] = await rows(app, Job)
    assert job.payload["reason"] == "pull_request.edited"


async def test_closed_updates_the_map_without_a_job(app_client):
    app, client = app_client
    await deliver(client, "pull_request", payload("pull_request.opened"))
    response = await deliver(client, "pull_request", payload("pull_request.closed"))
    assert (response.status_code, response.json()["outcome"]) == (202, "recorded")
    [pr] = await rows(app, PullRequest)
    assert pr.state == "closed"
    assert len(await rows(app, Job)) == 1


async def test_check_run_rerequested_of_a_fork_pr_is_resolved_through_the_head_map(app_client):
    app, client = app_client
    rerun = payload("check_run.rerequested")
    assert rerun["check_run"]["pull_requests"] == []  # what GitHub sends for fork PRs
    fork_pr = payload(
        "pull_request.opened",
        **{
            "repository.full_name": rerun["repository"]["full_name"],
            "pull_request.head.sha": rerun["check_run"]["head_sha"],
            "pull_request.head.repo.full_name": "someone/hello-world-fork",
        },
    )
    await deliver(client, "pull_request", fork_pr)
    await finish_all(app)
    response = await deliver(client, "check_run", rerun)
    assert response.status_code == 202
    _first, review = await rows(app, Job)
    assert review.payload == {
        "installation_id": 1,
        "repository": "github/hello-world",
        "pull_number": 2,
        "head_sha": rerun["check_run"]["head_sha"],
        "base_sha": BASE,
        "reason": "check_run.rerequested",
    }


async def test_check_run_for_an_unknown_head_is_recorded_as_ignored(app_client):
    app, client = app_client
    response = await deliver(
        client, "check_run", payload("check_run.rerequested"), delivery="d-unknown"
    )
    assert (response.status_code, response.json()["outcome"]) == (202, "ignored")
    assert "no open pull request known for head d6fde92930d4" in response.json()["note"]
    [delivery] = await rows(app, Delivery)
    assert delivery.outcome == "ignored"
    assert await rows(app, Job) == []


async def test_check_run_requested_action_queues_the_listed_pull_request(app_client):
    app, client = app_client
    response = await deliver(client, "check_run", payload("check_run.requested_action"))
    assert response.status_code == 202
    [job] = await rows(app, Job)
    assert job.payload == {
        "installation_id": payload("check_run.requested_action")["installation"]["id"],
        "repository": "electron/electron",
        "pull_number": 26764,
        "head_sha": "5bd5f196a46b8222fb7484f05faba41a73cf34bd",
        "base_sha": "45eee468647309e9e6cdb2a88a3b460a59771fef",
        "reason": "check_run.requested_action:lgtm|26764",
    }


async def test_check_suite_rerequested_queues_a_review(app_client):
    app, client = app_client
    response = await deliver(client, "check_suite", payload("check_suite.rerequested"))
    assert response.status_code == 202
    [job] = await rows(app, Job)
    assert (job.payload["repository"], job.payload["pull_number"], job.payload["head_sha"]) == (
        REPO,
        2,
        HEAD,
    )
    assert job.payload["reason"] == "check_suite.rerequested"


async def test_installation_events_record_installations_and_repositories(app_client):
    app, client = app_client
    same = {"installation.id": 957387}
    assert (
        await deliver(client, "installation", payload("installation.created"))
    ).status_code == 202
    [installation] = await rows(app, Installation)
    assert (installation.id, installation.account, installation.suspended) == (
        957387,
        "Codertocat",
        False,
    )
    assert [r.full_name for r in await rows(app, InstallationRepository)] == [
        "Codertocat/Hello-World"
    ]

    await deliver(
        client, "installation_repositories", payload("installation_repositories.added", **same)
    )
    assert [r.full_name for r in await rows(app, InstallationRepository)] == [
        "Codertocat/Hello-World",
        "Codertocat/Space",
    ]
    removed = payload("installation_repositories.removed", **same)
    removed["repositories_removed"] = [{"id": 186853007, "full_name": "Codertocat/Space"}]
    await deliver(client, "installation_repositories", removed)
    assert [r.full_name for r in await rows(app, InstallationRepository)] == [
        "Codertocat/Hello-World"
    ]

    await deliver(client, "installation", payload("installation.suspend", **same))
    assert (await rows(app, Installation))[0].suspended is True
    await deliver(client, "installation", payload("installation.deleted", **same))
    [installation] = await rows(app, Installation)
    assert installation.deleted_at is not None
    assert await rows(app, InstallationRepository) == []
    assert {d.outcome for d in await rows(app, Delivery)} == {"recorded"}
    assert await rows(app, Job) == []


async def test_slash_command_in_a_pr_conversation_becomes_a_command_job(app_client):
    app, client = app_client
    body = "/footgun waive fault-injection until 2030-01-01 because chaos drill"
    comment = payload("issue_comment.created.on-pull-request", **{"comment.body": body})
    response = await deliver(client, "issue_comment", comment)
    assert response.status_code == 202
    [job] = await rows(app, Job)
    assert job.kind == "command"
    assert job.payload["body"] == body
    assert (job.payload["pull_number"], job.payload["comment_kind"], job.payload["author"]) == (
        comment["issue"]["number"],
        "issue",
        comment["comment"]["user"]["login"],
    )


async def test_reply_to_an_inline_comment_keeps_the_thread(app_client):
    app, client = app_client
    comment = payload(
        "pull_request_review_comment.created",
        **{
            "comment.body": "/footgun waive until 2030-01-01 because legacy",
            "comment.in_reply_to_id": 42,
        },
    )
    assert (await deliver(client, "pull_request_review_comment", comment)).status_code == 202
    [job] = await rows(app, Job)
    assert (
        job.kind,
        job.payload["comment_kind"],
        job.payload["in_reply_to_id"],
        job.payload["pull_number"],
    ) == ("command", "review", 42, 2)


@pytest.mark.parametrize(
    "name", ["issue_comment.created.on-pull-request", "issue_comment.created.with-installation"]
)
async def test_comments_without_a_command_or_outside_prs_store_nothing(app_client, name):
    app, client = app_client
    response = await deliver(client, "issue_comment", payload(name))
    assert (response.status_code, response.json()["outcome"]) == (200, "unhandled")
    assert await rows(app, Delivery) == [] and await rows(app, Job) == []


async def test_malformed_json_is_400_and_recorded(app_client):
    app, client = app_client
    response = await deliver(client, "pull_request", b'{"action": "opened",', delivery="d-bad")
    assert response.status_code == 400
    assert response.json()["note"].startswith("body is not JSON")
    [delivery] = await rows(app, Delivery)
    assert (delivery.delivery_id, delivery.outcome) == ("d-bad", "rejected")


@pytest.mark.parametrize("header", ["X-GitHub-Event", "X-GitHub-Delivery"])
async def test_missing_header_is_400_with_its_name_and_recorded(app_client, header):
    app, client = app_client
    headers, body = request("pull_request", payload("pull_request.opened"))
    del headers[header]
    response = await client.post("/webhooks", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["note"] == f"missing {header} header"
    [delivery] = await rows(app, Delivery)
    assert delivery.outcome == "rejected"


async def test_an_oversized_delivery_id_is_400_and_recorded(app_client):
    app, client = app_client
    response = await deliver(
        client, "pull_request", payload("pull_request.opened"), delivery="x" * 65
    )
    assert response.status_code == 400
    assert [(d.delivery_id, d.outcome) for d in await rows(app, Delivery)] == [(None, "rejected")]
    assert await rows(app, Job) == []


async def test_payload_without_what_its_event_promises_stores_no_partial_state(app_client):
    app, client = app_client
    broken = payload("pull_request.opened")
    del broken["pull_request"]["base"]
    response = await deliver(client, "pull_request", broken)
    assert response.status_code == 400
    assert "KeyError" in response.json()["note"]
    assert await rows(app, PullRequest) == [] and await rows(app, Job) == []
    assert [d.outcome for d in await rows(app, Delivery)] == ["rejected"]


async def test_declared_body_over_25_mb_is_413_before_reading(app_client):
    app, client = app_client
    headers, _ = request("pull_request", b"{}")
    headers["Content-Length"] = str(MAX_BODY_BYTES + 1)

    async def never_sent():
        raise AssertionError("the body was read")
        yield b""  # pragma: no cover

    response = await client.post("/webhooks", content=never_sent(), headers=headers)
    assert response.status_code == 413
    assert await rows(app, Delivery) == []


async def test_streamed_body_over_25_mb_is_413(app_client):
    app, client = app_client
    headers, _ = request("pull_request", b"{}")
    sent = 0

    async def chunks():
        nonlocal sent
        chunk = b" " * (1024 * 1024)
        for _ in range(40):
            sent += len(chunk)
            yield chunk

    response = await client.post("/webhooks", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert await rows(app, Delivery) == []


async def test_body_just_under_the_limit_is_accepted(app_client):
    _app, client = app_client
    body = payload("pull_request.opened")
    raw = __import__("json").dumps(body).encode()
    raw = raw[:-1] + b', "padding": "' + b"x" * (MAX_BODY_BYTES - len(raw) - 20) + b'"}'
    assert len(raw) <= MAX_BODY_BYTES
    response = await deliver(client, "pull_request", raw)
    assert response.status_code == 202


async def test_without_app_credentials_webhooks_are_refused_with_503(make_settings, serve, caplog):
    settings = make_settings(app_id=None, private_key=None, webhook_secret=None)
    async with serve(settings) as (app, client):
        assert (await client.get("/healthz")).status_code == 200
        response = await deliver(client, "pull_request", payload("pull_request.opened"))
        assert response.status_code == 503
        assert await rows(app, Delivery) == []
    assert "register the App" in caplog.text and "FOOTGUN_WEBHOOK_SECRET" in caplog.text


async def test_a_body_that_is_not_utf8_is_400_and_recorded(app_client):
    app, client = app_client
    response = await deliver(client, "pull_request", b'{"action": "\xff"}', delivery="d-latin1")
    assert response.status_code == 400
    assert response.json()["note"].startswith("body is not JSON: str is not valid UTF-8")
    assert [(d.delivery_id, d.outcome) for d in await rows(app, Delivery)] == [
        ("d-latin1", "rejected")
    ]


async def test_bodies_that_time_out_give_back_what_they_held_of_the_budget(monkeypatch):
    """A request that timed out waiting for room, or while its body stalled, must give back
    exactly what it held: the budget would otherwise drift until the intake refused everything
    (or held more than its bound)."""
    import asyncio

    from starlette.requests import Request

    from bot.web import webhooks

    monkeypatch.setattr(webhooks, "BODY_SECONDS", 0.3)
    budget = webhooks.BodyBudget(1000)

    def request(length: int, parts: list[bytes], complete: bool = False) -> Request:
        async def receive():
            if parts:
                body = parts.pop(0)
                return {"type": "http.request", "body": body, "more_body": not complete}
            await asyncio.sleep(60)  # the client stalls

        headers = [(b"content-length", str(length).encode())]
        return Request({"type": "http", "method": "POST", "headers": headers}, receive)

    await budget.reserve(800)  # a request that is reading a large body
    with pytest.raises(TimeoutError):  # waits for room that never comes
        await webhooks._read_body(request(500, []), budget)
    assert budget.reserved == 800
    await budget.release(800)
    with pytest.raises(TimeoutError):  # has room, then stalls
        await webhooks._read_body(request(800, [b"x" * 10]), budget)
    assert budget.reserved == 0
    assert await webhooks._read_body(request(1000, [b"y" * 1000], True), budget) == b"y" * 1000
    assert budget.reserved == 0
