"""Driving waivers in tests: people with repository roles, their comments, the jobs they cause."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from typing import Any

from sqlalchemy import select, update

from bot.db import Job, Waiver, WaiverEvent
from bot.queue import jobs
from bot.review import job as review
from bot.waivers import handler as command_handler
from tests.fakegithub.world import virtual_service as vs

ROLES = {
    "ann": "admin",
    "maria": "maintain",
    "wes": "write",
    "tess": "triage",
    "rita": "read",
    "author": "write",
}
"""Who may do what on `acme/mesh`; `author` opens the pull requests. `nobody` is no collaborator."""
_job_ids = itertools.count(10_000)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def people(world: Any) -> None:
    world.fake.repos[world.repo].permissions.update(ROLES)


def faulty_pull(world: Any, config: str | None = None) -> Any:
    """A PR by `author` that adds an abort fault to VirtualService mesh/a (mesh/a.yaml line 9)."""
    base = {"mesh/a.yaml": vs("a"), "mesh/b.yaml": vs("b")}
    if config is not None:
        base[".github/footgun.yml"] = config
    return world.pull(base, {"mesh/a.yaml": vs("a", fault=True)}, user="author")


async def reviewed_pull(world: Any, database: Any, config: str | None = None) -> Any:
    """`faulty_pull`, reviewed once: its check has reported the finding a waiver names."""
    pull = faulty_pull(world, config)
    await run_review(world, database, pull)
    return pull


def context(
    world: Any,
    database: Any,
    kind: str,
    payload: dict[str, Any],
    job_id: int | None = None,
    attempts: int = 1,
) -> jobs.JobContext:
    """What the worker hands a handler; `attempts` counts claims (a retry is claimed again)."""
    info = jobs.JobInfo(job_id or next(_job_ids), kind, payload, attempts)
    return jobs.JobContext(
        None, world.app, database.sessions, info, logging.getLogger(f"test.{kind}")
    )


async def run_review(world: Any, database: Any, pull: Any) -> dict[str, Any]:
    """Run the review job for the PR's head; the check run it leaves."""
    payload = {
        "installation_id": world.installation_id,
        "repository": world.repo,
        "pull_number": pull.number,
        "head_sha": pull.head_sha,
        "base_sha": pull.base_sha,
        "reason": "test",
    }
    await review.run(context(world, database, "review", payload))
    async with database.sessions.begin() as session:  # as a worker would: the queued review is done
        await session.execute(
            update(Job).where(Job.kind == "review", Job.status == "queued").values(status="done")
        )
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    return check


async def say(
    world: Any,
    database: Any,
    pull: Any,
    user: str,
    body: str,
    *,
    reply_to: int | None = None,
    job_id: int | None = None,
) -> dict[str, Any]:
    """`user` writes `body` in the PR conversation (or in the thread of `reply_to`); the command job runs."""
    if reply_to is not None:
        comment = world.fake.reply_as(user, reply_to, body)
        kind, parent = "review", comment["in_reply_to_id"]
    else:
        comment = world.fake.comment_as(user, world.repo, pull.number, body)
        kind, parent = "issue", None
    await command_handler.run(
        context(world, database, "command", payload(world, pull, comment, kind, parent), job_id)
    )
    return comment


def payload(
    world: Any, pull: Any, comment: dict[str, Any], kind: str, parent: int | None
) -> dict[str, Any]:
    """What the webhook intake queues for a comment (see `bot.web.events._command`)."""
    return {
        "installation_id": world.installation_id,
        "repository": world.repo,
        "pull_number": pull.number,
        "comment_kind": kind,
        "comment_id": comment["id"],
        "in_reply_to_id": parent,
        "body": comment["body"],
        "author": comment["user"]["login"],
        "author_association": "MEMBER",
        "url": comment["html_url"],
        "created_at": comment["created_at"],
    }


def bot_replies(world: Any, pull: Any) -> list[str]:
    """The bot's answers in the conversation, oldest first."""
    return [
        c["body"]
        for c in world.fake.issue_comments.values()
        if c["_repo"] == world.repo
        and c["_issue"] == pull.number
        and c["user"]["login"] == world.fake.bot_login
    ]


def reactions(world: Any, comment: dict[str, Any]) -> list[str]:
    return [r["content"] for r in world.fake.reactions if r["_comment"] == comment["id"]]


async def waivers(database: Any) -> list[Waiver]:
    async with database.sessions() as session:
        return list(await session.scalars(select(Waiver).order_by(Waiver.id)))


async def events(database: Any) -> list[tuple[str, int | None, str | None]]:
    async with database.sessions() as session:
        rows = await session.scalars(select(WaiverEvent).order_by(WaiverEvent.id))
        return [(e.event, e.waiver_id, e.actor) for e in rows]


async def queued_reviews(database: Any) -> list[dict[str, Any]]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(Job).where(Job.kind == "review", Job.status == "queued").order_by(Job.id)
        )
        return [j.payload for j in rows]
