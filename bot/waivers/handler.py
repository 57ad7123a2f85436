"""The `command` job: run the `/footgun` commands of one PR comment and answer in its thread.

Payload (from the webhook intake): `installation_id, repository, pull_number, comment_kind`
(`issue` for the PR conversation, `review` for an inline thread), `comment_id, in_reply_to_id,
body, author`. Each comment runs once: its id is recorded before anything happens, so an edited
comment or a second delivery does nothing, while a retry of the same job resumes (the waiver is
keyed by the comment and the reply carries a marker, so neither is made twice).

Authorisation uses GitHub's collaborator permission (`role_name`) against the `waivers` settings
of `.github/footgun.yml` at the PR's BASE commit, as the check itself does.
"""

from __future__ import annotations

import base64
import logging
import sys
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import rules as registry
from bot.db import SlashCommand, Waiver, rows_affected, utcnow
from bot.github import changeset, markers
from bot.github.client import GitHubError, Installation
from bot.queue import jobs
from bot.waivers import store as waivers
from bot.waivers.grammar import (
    USAGE,
    Command,
    CommandError,
    Help,
    ListWaivers,
    Recheck,
    Unwaive,
    Waive,
    find_commands,
)
from bot.waivers.policy import ROLE_ORDER, decide_waiver, role_allows
from rules.core.config import Config

log = logging.getLogger(__name__)
REPLY_MARKER = "<!-- footgun:reply-to={} -->"
RULES_IN_REPLY = 8


@dataclass
class Answer:
    ok: bool
    text: str


@dataclass
class Thread:
    """Where the command was written, and how to answer there."""

    gh: Installation
    repo: str
    number: int
    kind: str
    comment_id: int
    parent_id: int | None
    pull: dict[str, Any]
    author: str

    @classmethod
    async def of(cls, ctx: jobs.JobContext) -> Thread:
        """The thread of the job's comment, with the pull request as GitHub has it now."""
        payload = ctx.job.payload
        gh = ctx.github.installation(payload["installation_id"])
        repo, number = payload["repository"], payload["pull_number"]
        pull = await gh.get(f"repos/{repo}/pulls/{number}")
        return cls(
            gh,
            repo,
            number,
            payload["comment_kind"],
            payload["comment_id"],
            payload.get("in_reply_to_id"),
            pull,
            payload.get("author") or "",
        )

    @property
    def url(self) -> str:
        anchor = (
            f"discussion_r{self.comment_id}"
            if self.kind == "review"
            else f"issuecomment-{self.comment_id}"
        )
        return f"{self.pull['html_url']}#{anchor}"

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.comment_id}"

    async def react(self, content: str) -> None:
        where = "pulls" if self.kind == "review" else "issues"
        await self.gh.json(
            "POST",
            f"repos/{self.repo}/{where}/comments/{self.comment_id}/reactions",
            json={"content": content},
        )

    async def reply(self, text: str) -> None:
        """Answer once: a retried job finds its earlier reply by the marker."""
        marker = REPLY_MARKER.format(self.key)
        if self.kind == "review":
            existing = await self.gh.paginate(f"repos/{self.repo}/pulls/{self.number}/comments")
        else:
            existing = await self.gh.paginate(f"repos/{self.repo}/issues/{self.number}/comments")
        if any(marker in (c.get("body") or "") for c in existing):
            return
        body = f"{text}\n\n{marker}"
        if self.kind == "review":
            root = self.parent_id or self.comment_id
            await self.gh.json(
                "POST",
                f"repos/{self.repo}/pulls/{self.number}/comments/{root}/replies",
                json={"body": body},
            )
        else:
            await self.gh.json(
                "POST", f"repos/{self.repo}/issues/{self.number}/comments", json={"body": body}
            )


async def run(ctx: jobs.JobContext) -> None:
    payload = ctx.job.payload
    author = payload.get("author") or ""
    if not author or author.lower().endswith("[bot]"):
        ctx.log.info(
            "command by %s ignored: comments by bots are never commands",
            author or "an unknown user",
        )
        return
    commands = list(find_commands(payload.get("body"), registry.RULES))
    if not commands:
        return
    if not await _first_run(ctx, payload):
        ctx.log.info("comment %s already executed; not running it again", payload["comment_id"])
        return
    thread = await Thread.of(ctx)
    answers = [await execute(ctx, thread, command, index) for index, command in enumerate(commands)]
    await thread.react("+1" if all(a.ok for a in answers) else "confused")
    await thread.reply("\n\n---\n\n".join(a.text for a in answers))


async def give_up(ctx: jobs.JobContext, error: str) -> None:
    thread = await Thread.of(ctx)
    await thread.reply(
        f"@{thread.author} the command could not run: {error}. Post it again to retry."
    )


async def _first_run(ctx: jobs.JobContext, payload: dict[str, Any]) -> bool:
    """Record the comment as executed; False when another job already ran (or runs) it."""
    values = {
        "comment_kind": payload["comment_kind"],
        "comment_id": payload["comment_id"],
        "repository": payload["repository"],
        "pull_number": payload["pull_number"],
        "author": payload.get("author"),
        "job_id": ctx.job.id,
        "received_at": utcnow(),
    }
    try:
        async with ctx.sessions.begin() as session:
            result = await session.execute(
                waivers.insert_ignoring_duplicates(session, SlashCommand, values)
            )
            if rows_affected(result) == 1:
                return True
            owner = await session.scalar(
                select(SlashCommand.job_id).where(
                    SlashCommand.comment_kind == values["comment_kind"],
                    SlashCommand.comment_id == values["comment_id"],
                )
            )
    except IntegrityError:
        return False
    return owner == ctx.job.id


async def execute(
    ctx: jobs.JobContext, thread: Thread, command: Command | CommandError, index: int
) -> Answer:
    match command:
        case CommandError():
            return Answer(False, f"> {command.line}\n\n{command.reply()}")
        case Waive():
            return await _waive(ctx, thread, command, index)
        case Unwaive():
            return await _unwaive(ctx, thread, command)
        case ListWaivers():
            return await _list(ctx, thread)
        case Recheck():
            head = thread.pull["head"]["sha"]
            await _recheck(ctx, thread, "/footgun recheck")
            return Answer(True, f"Checking {head[:7]} again.")
        case Help():
            return await _help(thread)
    raise TypeError(command)


# -- waive --------------------------------------------------------------------------------------


async def _waive(ctx: jobs.JobContext, thread: Thread, command: Waive, index: int) -> Answer:
    repo, pull = thread.repo, thread.pull
    try:
        config = await base_config(thread.gh, repo, pull["base"]["sha"])
    except changeset.ConfigInvalid as exc:
        return await _refuse(ctx, thread, f"The base branch's configuration is invalid: {exc}")
    role = await permission(thread.gh, repo, thread.author)
    today = utcnow().date()
    decision = decide_waiver(
        command,
        today=today,
        commenter=thread.author,
        commenter_role=role,
        pr_author=(pull.get("user") or {}).get("login"),
        settings=config.waivers,
    )
    if not decision.allowed:
        return await _refuse(ctx, thread, decision.reason)
    fingerprint = None
    if command.rule is None:
        fingerprint = await _thread_fingerprint(thread)
        if fingerprint is None:
            return await _refuse(
                ctx,
                thread,
                "Name the rule (and the target) to waive, or reply to one of the "
                "bot's inline comments: `/footgun waive <rule> <Kind>/<namespace>/"
                "<name> until YYYY-MM-DD because <reason>`.",
            )
    change = await changeset.fetch(thread.gh, changeset.PullRequest.from_json(pull))
    report = await changeset.analyse(
        change.head, change.base, change.config, change.parsed, today=today
    )
    matched = waivers.resolve(report.findings, command.rule, command.target, fingerprint)
    if not matched:
        return await _refuse(
            ctx,
            thread,
            _nothing_matched(command, fingerprint, report.findings, pull["head"]["sha"]),
        )
    rule = matched[0].rule
    assert decision.until is not None  # an allowed waiver always has its deadline
    async with ctx.sessions.begin() as session:
        waiver, created = await waivers.grant(
            session,
            installation_id=ctx.job.payload["installation_id"],
            repository=repo,
            pull_number=thread.number,
            rule=rule,
            target=command.target,
            findings=matched,
            reason=command.reason,
            deadline=decision.until,
            remind_days_before=config.waivers.remind_days_before,
            approved_by=thread.author,
            command_url=thread.url,
            command_key=f"{thread.key}:{index}",
        )
        if created and pull.get("state") == "open":
            await _enqueue_review(session, ctx, thread, f"waiver #{waiver.id}")
    count = len(waiver.fingerprints)
    return Answer(
        True,
        (
            f"Waiver **#{waiver.id}**: {waivers.describe(waiver)} ({count} finding{'s' if count != 1 else ''}) is "
            f"waived until **{waiver.deadline}** (end of day UTC), approved by @{waiver.approved_by}, because "
            f"{waiver.reason}\n\nThe check runs again on {pull['head']['sha'][:7]}. After the deadline it fails "
            f"again; once merged, the finding must be gone from the default branch by then or a cleanup issue is "
            f"opened. Undo with `/footgun unwaive {waiver.id}`."
        ),
    )


async def _thread_fingerprint(thread: Thread) -> str | None:
    """The finding an inline thread is about: the hidden marker of the bot's comment it replies to."""
    if thread.kind != "review" or not thread.parent_id:
        return None
    try:
        parent = await thread.gh.get(f"repos/{thread.repo}/pulls/comments/{thread.parent_id}")
    except GitHubError as exc:
        if exc.status == 404:
            return None
        raise
    if not markers.posted_by_an_app(parent):
        return None
    marks = sorted(markers.fingerprints_in(parent.get("body")))
    return marks[0] if len(marks) == 1 else None


def _nothing_matched(
    command: Waive, fingerprint: str | None, findings: list[Any], head: str
) -> str:
    if fingerprint is not None:
        return f"The finding this thread is about is no longer in the pull request at {head[:7]}: nothing to waive."
    same_rule = sorted({str(f.resource) for f in findings if f.rule == command.rule})
    where = f" on `{command.target}`" if command.target else ""
    if same_rule:
        listed = ", ".join(f"`{r}`" for r in same_rule[:RULES_IN_REPLY])
        return f"No `{command.rule}` finding{where} at {head[:7]}. Its findings are on: {listed}."
    return (
        f"No `{command.rule}` finding{where} in this pull request at {head[:7]}: nothing to waive."
    )


async def _refuse(ctx: jobs.JobContext, thread: Thread, reason: str) -> Answer:
    async with ctx.sessions.begin() as session:
        waivers.audit(
            session,
            "refused",
            repository=thread.repo,
            pull_number=thread.number,
            actor=thread.author,
            detail=reason,
            url=thread.url,
        )
    return Answer(False, f"@{thread.author} the waiver was refused: {reason}")


# -- unwaive, waivers, recheck, help ------------------------------------------------------------


async def _unwaive(ctx: jobs.JobContext, thread: Thread, command: Unwaive) -> Answer:
    async with ctx.sessions() as session:
        waiver = await session.get(Waiver, command.waiver_id)
    if waiver is None or waiver.repository != thread.repo:
        return await _refuse_unwaive(
            ctx, thread, f"There is no waiver #{command.waiver_id} in this repository."
        )
    if waiver.pull_number != thread.number:
        return await _refuse_unwaive(
            ctx, thread, f"Waiver #{waiver.id} belongs to #{waiver.pull_number}: unwaive it there."
        )
    if waiver.approved_by.lower() != thread.author.lower():
        try:
            config = await base_config(thread.gh, thread.repo, thread.pull["base"]["sha"])
        except changeset.ConfigInvalid as exc:
            return await _refuse_unwaive(
                ctx, thread, f"The base branch's configuration is invalid: {exc}"
            )
        role = await permission(thread.gh, thread.repo, thread.author)
        if not role_allows(role, config.waivers.permission):
            return await _refuse_unwaive(
                ctx,
                thread,
                (
                    f"@{thread.author} needs `{config.waivers.permission}` permission (has `{role or 'none'}`) "
                    f"to revoke a waiver approved by @{waiver.approved_by}."
                ),
            )
    async with ctx.sessions.begin() as session:
        revoked = await waivers.revoke(session, waiver.id, thread.author, thread.url)
        if revoked and thread.pull.get("state") == "open":
            await _enqueue_review(session, ctx, thread, f"waiver #{waiver.id} revoked")
    if not revoked:
        async with ctx.sessions() as session:
            current = await session.get(Waiver, waiver.id)
        status = current.status if current is not None else "gone"
        return await _refuse_unwaive(
            ctx, thread, f"Waiver #{waiver.id} is already {status.replace('_', ' ')}."
        )
    return Answer(
        True,
        f"Waiver **#{waiver.id}** ({waivers.describe(waiver)}) is revoked. The check runs again "
        f"on {thread.pull['head']['sha'][:7]}.",
    )


async def _refuse_unwaive(ctx: jobs.JobContext, thread: Thread, reason: str) -> Answer:
    async with ctx.sessions.begin() as session:
        waivers.audit(
            session,
            "refused",
            repository=thread.repo,
            pull_number=thread.number,
            actor=thread.author,
            detail=f"unwaive: {reason}",
            url=thread.url,
        )
    return Answer(False, reason)


async def _list(ctx: jobs.JobContext, thread: Thread) -> Answer:
    async with ctx.sessions() as session:
        rows = list(
            await session.scalars(
                select(Waiver)
                .where(Waiver.repository == thread.repo, Waiver.pull_number == thread.number)
                .order_by(Waiver.id)
            )
        )
    if not rows:
        return Answer(True, "This pull request has no waivers.")
    lines = ["| # | waived | until | status | approved by | reason |", "|---|---|---|---|---|---|"]
    for w in rows:
        reason = " ".join(w.reason.split()).replace("|", "\\|")
        lines.append(
            f"| {w.id} | {waivers.describe(w)} | {w.deadline} | {w.status.replace('_', ' ')} | "
            f"@{w.approved_by} | {reason} |"
        )
    return Answer(True, "\n".join(lines))


async def _help(thread: Thread) -> Answer:
    try:
        settings = (await base_config(thread.gh, thread.repo, thread.pull["base"]["sha"])).waivers
    except changeset.ConfigInvalid:
        settings = Config().waivers
    self_waive = "allowed" if settings.allow_self_waive else "not allowed"
    return Answer(
        True,
        (
            f"```\n{USAGE}\n```\n\nHere a waiver needs `{settings.permission}` permission, a reason and a deadline at "
            f"most {settings.max_days} days away (the end of that day, UTC); waiving in your own pull request is "
            f"{self_waive}. A reminder comes {settings.remind_days_before} days before the deadline; a waiver granted "
            "closer to its deadline than that gets none."
        ),
    )


async def _recheck(ctx: jobs.JobContext, thread: Thread, reason: str) -> None:
    async with ctx.sessions.begin() as session:
        await _enqueue_review(session, ctx, thread, reason)


async def _enqueue_review(session: Any, ctx: jobs.JobContext, thread: Thread, reason: str) -> None:
    head = thread.pull["head"]["sha"]
    await session.run_sync(
        jobs.enqueue,
        "review",
        {
            "installation_id": ctx.job.payload["installation_id"],
            "repository": thread.repo,
            "pull_number": thread.number,
            "head_sha": head,
            "base_sha": thread.pull["base"]["sha"],
            "reason": reason,
        },
        dedupe_key=jobs.review_key(thread.repo, thread.number, head),
    )


# -- GitHub look-ups ----------------------------------------------------------------------------


async def permission(gh: Installation, repo: str, user: str) -> str:
    """The user's repository role (`role_name`; a custom role counts as its base permission)."""
    try:
        data = await gh.get(f"repos/{repo}/collaborators/{user}/permission")
    except GitHubError as exc:
        if exc.status == 404:
            return "none"
        raise
    role = data.get("role_name")
    return role if role in ROLE_ORDER else str(data.get("permission") or "none")


async def base_config(gh: Installation, repo: str, base_sha: str) -> Config:
    """`.github/footgun.yml` at the base commit (defaults when absent), parsed once per blob."""
    try:
        data = await gh.get(f"repos/{repo}/contents/{changeset.CONFIG_PATH}", {"ref": base_sha})
    except GitHubError as exc:
        if exc.status == 404:
            return Config()
        raise
    config = changeset.cached_config(changeset.CACHE, data["sha"])
    if config is None:
        config = changeset.remember_config(
            changeset.CACHE, data["sha"], base64.b64decode(data.get("content") or "")
        )
    return config


jobs.HANDLERS["command"] = sys.modules[__name__]
