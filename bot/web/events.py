"""What each handled webhook means: state to record and jobs to enqueue, by (event, action).

Each handler runs inside the delivery's transaction and returns an `Outcome`; `None` means the
action is not one the bot handles, and the intake then stores nothing. Handlers are plain
functions on a sync `Session`: `Database.run` runs them where the backend is cheapest.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, select
from sqlalchemy.orm import Session

from bot.db import Installation, InstallationRepository, PullRequest, dialect_insert, utcnow
from bot.queue import jobs
from bot.waivers.grammar import PREFIX as COMMAND_PREFIX
from bot.waivers.grammar import command_lines

REVIEW_ACTIONS = ("opened", "synchronize", "reopened", "ready_for_review", "edited")


@dataclass
class Outcome:
    """`queued` (jobs added), `recorded` (state only) or `ignored` (nothing to do), with a note."""

    outcome: str
    note: str | None = None
    jobs: list[int] = field(default_factory=list)


EventHandler = Callable[[Session, dict[str, Any], str], Outcome | None]
ROUTES: dict[str, EventHandler] = {}


def route(event: str) -> Callable[[EventHandler], EventHandler]:
    def register(handler: EventHandler) -> EventHandler:
        ROUTES[event] = handler
        return handler

    return register


def installation_id_of(payload: dict[str, Any]) -> int | None:
    installation = payload.get("installation") or {}
    return installation.get("id")


def repository_name(payload: dict[str, Any]) -> str | None:
    return (payload.get("repository") or {}).get("full_name")


def log_context(payload: dict[str, Any]) -> dict[str, Any]:
    """The repository and, where the event is about one, the pull request (`owner/name#N`)."""
    repository = repository_name(payload)
    number = (payload.get("pull_request") or {}).get("number")
    issue = payload.get("issue") or {}
    if number is None and issue.get("pull_request"):
        number = issue.get("number")
    return {
        "repository": repository,
        "pr": f"{repository}#{number}" if repository and number else None,
    }


@route("pull_request")
def pull_request(session: Session, payload: dict[str, Any], delivery: str) -> Outcome | None:
    action = payload.get("action")
    if action == "edited" and "base" not in (payload.get("changes") or {}):
        return None
    if action not in REVIEW_ACTIONS and action != "closed":
        return None
    pr = payload["pull_request"]
    current = remember_pull_request(session, payload)
    if action == "closed":
        return Outcome(
            "recorded", "pull request merged" if current.merged_at else "pull request closed"
        )
    if current.head_sha != pr["head"]["sha"]:
        return Outcome("ignored", f"out of order: the head is already {current.head_sha[:12]}")
    return _review(session, payload, delivery, [current], f"pull_request.{action}")


@route("check_run")
def check_run(session: Session, payload: dict[str, Any], delivery: str) -> Outcome | None:
    action = payload.get("action")
    if action not in ("rerequested", "requested_action"):
        return None
    run = payload["check_run"]
    reason = f"check_run.{action}"
    if action == "requested_action":
        reason += f":{(payload.get('requested_action') or {}).get('identifier', '')}"
    return _rerun(
        session, payload, delivery, run["head_sha"], run.get("pull_requests") or [], reason
    )


@route("check_suite")
def check_suite(session: Session, payload: dict[str, Any], delivery: str) -> Outcome | None:
    if payload.get("action") != "rerequested":
        return None
    suite = payload["check_suite"]
    return _rerun(
        session,
        payload,
        delivery,
        suite["head_sha"],
        suite.get("pull_requests") or [],
        "check_suite.rerequested",
    )


def _rerun(
    session: Session,
    payload: dict[str, Any],
    delivery: str,
    head_sha: str,
    listed: list[dict[str, Any]],
    reason: str,
) -> Outcome:
    """Review again the PRs of `head_sha`: those GitHub lists, else (fork PRs) those we mapped."""
    repository = repository_name(payload)
    repository_id = (payload.get("repository") or {}).get("id")
    numbers = [
        p["number"]
        for p in listed
        if (p.get("base") or {}).get("repo", {}).get("id") in (None, repository_id)
    ]
    query = select(PullRequest).where(PullRequest.repository == repository)
    if numbers:
        query = query.where(PullRequest.number.in_(numbers))
    else:
        query = query.where(PullRequest.head_sha == head_sha, PullRequest.state == "open")
    known = {p.number: p for p in session.scalars(query)}
    targets: list[PullRequest] = []
    for number in numbers or sorted(known):
        pr = known.get(number)
        if pr is None:
            base = next(p["base"] for p in listed if p["number"] == number)
            pr = PullRequest(
                repository=repository,
                number=number,
                head_sha=head_sha,
                base_ref=base["ref"],
                base_sha=base.get("sha"),
                state="open",
            )
        targets.append(pr)
    if not targets:
        return Outcome("ignored", f"no open pull request known for head {head_sha[:12]}")
    return _review(session, payload, delivery, targets, reason, head_sha=head_sha)


def _review(
    session: Session,
    payload: dict[str, Any],
    delivery: str,
    prs: list[PullRequest] | list[Row[Any]],
    reason: str,
    head_sha: str | None = None,
) -> Outcome:
    installation_id = installation_id_of(payload)
    if installation_id is None:
        return Outcome("ignored", "no installation in the payload")
    added: list[int] = []
    notes: list[str] = []
    for pr in prs:
        sha = head_sha or pr.head_sha
        job_id, created = jobs.add(
            session,
            "review",
            {
                "installation_id": installation_id,
                "repository": pr.repository,
                "pull_number": pr.number,
                "head_sha": sha,
                "base_sha": pr.base_sha,
                "reason": reason,
            },
            dedupe_key=jobs.review_key(pr.repository, pr.number, sha),
            delivery_id=delivery,
        )
        added.append(job_id)
        if not created:
            notes.append(f"#{pr.number} already queued as job {job_id}")
    return Outcome("queued", "; ".join(notes) or None, added)


_PULL_REQUESTS = PullRequest.__table__
_PR_KEY = ("repository", "number")
_PR_CURRENT = select(_PULL_REQUESTS).where(
    _PULL_REQUESTS.c.repository == bindparam("repository"),
    _PULL_REQUESTS.c.number == bindparam("number"),
)


@functools.cache
def _pr_upsert(dialect: str, columns: tuple[str, ...]) -> Any:
    """Insert or update a PR's `columns` unless the stored state is newer; built once per backend."""
    statement = dialect_insert(dialect)(_PULL_REQUESTS)
    newer = _PULL_REQUESTS.c.github_updated_at.is_(None) | (
        _PULL_REQUESTS.c.github_updated_at <= statement.excluded.github_updated_at
    )
    return statement.on_conflict_do_update(
        index_elements=list(_PR_KEY),
        set_={k: statement.excluded[k] for k in columns if k not in _PR_KEY},
        where=newer,
    ).returning(*_PULL_REQUESTS.c)


def remember_pull_request(session: Session, payload: dict[str, Any]) -> Row[Any]:
    """Upsert the PR into the head SHA map; an older delivery never overwrites a newer state.

    Returns the stored row (repository, number, head_sha, base_sha...) after the upsert.
    """
    pr = payload["pull_request"]
    values = {
        "installation_id": installation_id_of(payload),
        "repository": repository_name(payload) or pr["base"]["repo"]["full_name"],
        "number": pr["number"],
        "head_sha": pr["head"]["sha"],
        "head_repository": ((pr["head"].get("repo") or {}).get("full_name")),
        "base_ref": pr["base"]["ref"],
        "base_sha": pr["base"].get("sha"),
        "state": pr.get("state") or "open",
        "github_updated_at": _timestamp(pr.get("updated_at")),
        "updated_at": utcnow(),
        "merged_at": _timestamp(pr.get("merged_at")),
    }
    connection = session.connection()
    current = connection.execute(_pr_upsert(connection.dialect.name, tuple(values)), values).first()
    if current is None:  # an older delivery: the stored state stands
        current = connection.execute(_PR_CURRENT, {k: values[k] for k in _PR_KEY}).one()
    return current


@route("installation")
def installation(session: Session, payload: dict[str, Any], delivery: str) -> Outcome | None:
    action = payload.get("action")
    account = payload["installation"].get("account") or {}
    record = _installation(session, payload["installation"])
    record.account = account.get("login")
    record.account_type = account.get("type")
    if action == "deleted":
        record.deleted_at = utcnow()
        session.execute(
            delete(InstallationRepository).where(
                InstallationRepository.installation_id == record.id
            )
        )
    elif action in ("suspend", "unsuspend"):
        record.suspended = action == "suspend"
    elif action == "created":
        record.deleted_at = None
        _add_repositories(session, record.id, payload.get("repositories") or [])
    return Outcome("recorded", f"installation {action}")


@route("installation_repositories")
def installation_repositories(
    session: Session, payload: dict[str, Any], delivery: str
) -> Outcome | None:
    record = _installation(session, payload["installation"])
    _add_repositories(session, record.id, payload.get("repositories_added") or [])
    removed = [r["id"] for r in payload.get("repositories_removed") or []]
    if removed:
        session.execute(
            delete(InstallationRepository).where(InstallationRepository.id.in_(removed))
        )
    return Outcome(
        "recorded", f"{len(payload.get('repositories_added') or [])} added, {len(removed)} removed"
    )


def _installation(session: Session, data: dict[str, Any]) -> Installation:
    record = session.get(Installation, data["id"])
    if record is None:
        record = Installation(id=data["id"], suspended=False, created_at=utcnow())
        session.add(record)
    record.repository_selection = data.get("repository_selection") or record.repository_selection
    record.updated_at = utcnow()
    session.flush()
    return record


def _add_repositories(
    session: Session, installation_id: int, repositories: list[dict[str, Any]]
) -> None:
    for repo in repositories:
        session.merge(
            InstallationRepository(
                id=repo["id"],
                installation_id=installation_id,
                full_name=repo["full_name"],
                private=repo.get("private"),
            )
        )


@route("issue_comment")
def issue_comment(session: Session, payload: dict[str, Any], delivery: str) -> Outcome | None:
    if payload.get("action") != "created" or not (payload.get("issue") or {}).get("pull_request"):
        return None
    return _command(session, payload, delivery, payload["issue"]["number"], "issue")


@route("pull_request_review_comment")
def pull_request_review_comment(
    session: Session, payload: dict[str, Any], delivery: str
) -> Outcome | None:
    if payload.get("action") != "created":
        return None
    return _command(session, payload, delivery, payload["pull_request"]["number"], "review")


def _command(
    session: Session, payload: dict[str, Any], delivery: str, pull_number: int, comment_kind: str
) -> Outcome | None:
    """A slash command becomes a `command` job; other comments (and bots' own) are not ours.

    Only a comment with a command line as GitHub renders it (see `command_lines`: not in code,
    quotes, HTML comments or `<details>`) costs a job; the author and `author_association` go
    with it, so the job can refuse without asking GitHub who wrote it."""
    comment = payload["comment"]
    body = comment.get("body") or ""
    if COMMAND_PREFIX not in body or next(command_lines(body), None) is None:
        return None
    user = comment.get("user") or payload.get("sender") or {}
    if user.get("type") == "Bot":
        return Outcome("ignored", "comment by a bot")
    installation_id = installation_id_of(payload)
    if installation_id is None:
        return Outcome("ignored", "no installation in the payload")
    job_id, _ = jobs.add(
        session,
        "command",
        {
            "installation_id": installation_id,
            "repository": repository_name(payload),
            "pull_number": pull_number,
            "comment_kind": comment_kind,
            "comment_id": comment["id"],
            "in_reply_to_id": comment.get("in_reply_to_id"),
            "body": body,
            "author": user.get("login"),
            "author_association": comment.get("author_association"),
            "url": comment.get("html_url"),
            "created_at": comment.get("created_at"),
        },
        delivery_id=delivery,
    )
    return Outcome("queued", None, [job_id])


def _timestamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
