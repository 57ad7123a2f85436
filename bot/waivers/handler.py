"""The `command` job: run the `/footgun` commands of one PR comment and answer in its thread.

Payload (from the webhook intake): `installation_id, repository, pull_number, comment_kind`
(`issue` for the PR conversation, `review` for an inline thread), `comment_id, in_reply_to_id,
body, author, author_association, url, created_at`. Each comment runs once: its id is recorded
before anything happens, so an edited comment or a second delivery does nothing, while a retry
of the same job resumes (the waiver is keyed by the comment and the reply carries a marker, so
neither is made twice).

A comment costs at most 10 GitHub calls (the installation token included) however many lines
it has and however large the repository: at most `MAX_COMMANDS` commands run (the rest are
answered in one line); the pull request, the base config and the commenter's role are each
looked up at most once per comment, and only when a command needs them; the findings a waiver
names come from the review of the head (`bot.waivers.reported`), never from reading the
repository again; what the webhook already tells (the author, `author_association`) and what the
database remembers (a role found to be `none` within the hour) is used first; and each user has
a quota of comments per repository and hour, kept in the database. A comment over the quota is
answered once ("try again at"), then ignored.

Authorisation uses GitHub's collaborator permission (`role_name`) against the `waivers` settings
of `.github/footgun.yml` at the PR's BASE commit, as the check itself does.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import sys
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

import rules as registry
from bot.db import Job, SlashCommand, Waiver, utcnow
from bot.github import changeset, markers
from bot.github import markdown as md
from bot.github.client import GitHubError, Installation, since
from bot.queue import jobs
from bot.waivers import policy, reported
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
from rules.core.model import Finding

log = logging.getLogger(__name__)
REPLY_MARKER = markers.REPLY_MARKER
RULES_IN_REPLY = 8
MAX_COMMANDS = 10
"""Commands run per comment; the rest are answered with one line."""
REVIEW_WAITS = 2
"""A waive on a head whose review is queued or running waits for it once (`REVIEW_WAIT_SECONDS`,
longer than a review usually takes), then is refused, asking to post it again. One wait keeps
the comment within its 10 calls: 4 before the wait (token, pull request, config, permission),
3 after it (the same but the token, unless another replica runs it) and the reply and
reaction."""
REVIEW_WAIT_SECONDS = 30.0
QUOTA_WINDOW = dt.timedelta(hours=1)
SINCE_MARGIN = dt.timedelta(minutes=1)
WAIVERS_LISTED = 50
"""Rows of `/footgun waivers`; the rest are counted (the CLI's ledger lists them all)."""
REPLY_LIMIT = md.BODY_LIMIT - 500
"""A reply stays this far under GitHub's body limit (the marker and a summary line fit)."""


@dataclass
class Answer:
    ok: bool
    text: str


@dataclass
class Thread:
    """Where the command was written, how to answer there, and what the comment's commands
    needed to know, each looked up once."""

    gh: Installation
    repo: str
    number: int
    kind: str
    comment_id: int
    parent_id: int | None
    author: str
    association: str | None = None
    comment_url: str | None = None
    attempts: int = 1
    created_at: str | None = None
    """When the comment was written (GitHub's clock): an earlier reply to it is not older."""
    known_role: str | None = None
    """A role known without asking GitHub (the webhook, or the database within the hour)."""
    looked_up_role: str | None = None
    _pull: dict[str, Any] | None = None
    _config: Config | changeset.ConfigInvalid | None = None
    _parent: tuple[frozenset[str] | None] | None = None
    """The parent comment's fingerprints, once looked up (a 1-tuple: None is an answer too)."""

    @classmethod
    def of(cls, ctx: jobs.JobContext) -> Thread:
        """The thread of the job's comment (no call to GitHub yet)."""
        payload = ctx.job.payload
        association = payload.get("author_association")
        return cls(
            ctx.github.installation(payload["installation_id"]),
            payload["repository"],
            payload["pull_number"],
            payload["comment_kind"],
            payload["comment_id"],
            payload.get("in_reply_to_id"),
            payload.get("author") or "",
            association,
            payload.get("url"),
            getattr(ctx.job, "attempts", 1) or 1,
            payload.get("created_at"),
            policy.role_from_association(association),
        )

    async def pull(self) -> dict[str, Any]:
        """The pull request as GitHub has it now (one call per comment)."""
        if self._pull is None:
            self._pull = await self.gh.get(f"repos/{self.repo}/pulls/{self.number}")
        return self._pull

    async def config(self) -> Config:
        """The base branch's config (one call per comment); raises ConfigInvalid."""
        if self._config is None:
            try:
                self._config = await base_config(
                    self.gh, self.repo, (await self.pull())["base"]["sha"]
                )
            except changeset.ConfigInvalid as exc:
                self._config = exc
        if isinstance(self._config, changeset.ConfigInvalid):
            raise self._config
        return self._config

    async def role(self) -> str:
        """The commenter's repository role: known already, or looked up once per comment."""
        if self.known_role is None:
            self.known_role = self.looked_up_role = await permission(
                self.gh, self.repo, self.author
            )
        return self.known_role

    async def reported(self, sessions: Any) -> list[Finding] | None:
        """The findings the review reported at the pull request's head, or None before one has.

        No call to GitHub: the review that analysed the head kept them (`bot.waivers.reported`).
        Analysing the head here instead would read the repository again, a cost that grows with
        the repository and the pull request, and could find what the check never showed."""
        head = (await self.pull())["head"]["sha"]
        return await reported.at_head(sessions, self.repo, self.number, head)

    async def fingerprints(self) -> frozenset[str] | None:
        """The findings an inline thread is about: the hidden markers of the bot's comment it
        replies to (one, or one per target sharing the finding), looked up once per comment
        however many waives it holds."""
        if self.kind != "review" or not self.parent_id:
            return None
        if self._parent is None:
            self._parent = (await self._parent_fingerprint(self.parent_id),)
        return self._parent[0]

    async def _parent_fingerprint(self, parent_id: int) -> frozenset[str] | None:
        try:
            parent = await self.gh.get(f"repos/{self.repo}/pulls/comments/{parent_id}")
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        if not markers.posted_by_an_app(parent):
            return None
        # one finding, or the same finding in several targets (`bot.review.publish.same_place`)
        marks = frozenset(markers.fingerprints_in(parent.get("body")))
        return marks or None

    async def url(self) -> str:
        if self.comment_url:
            return self.comment_url
        anchor = (
            f"discussion_r{self.comment_id}"
            if self.kind == "review"
            else f"issuecomment-{self.comment_id}"
        )
        return f"{(await self.pull())['html_url']}#{anchor}"

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
        """Answer once: a retried job finds its earlier reply by the marker, which only counts at
        the end of one of the bot's own comments (a first attempt has no earlier reply). Only
        comments since the command's are listed: a long conversation costs no more pages."""
        marker = REPLY_MARKER.format(self.key)
        if self.attempts > 1:
            if self.kind == "review":
                path = f"repos/{self.repo}/pulls/{self.number}/comments"
            else:
                path = f"repos/{self.repo}/issues/{self.number}/comments"
            existing = await self.gh.paginate(path, _since(self.created_at))
            if any(
                markers.posted_by_an_app(c) and markers.ends_with(c.get("body"), marker)
                for c in existing
            ):
                return
        body = f"{fit(text, REPLY_LIMIT)}\n\n{marker}"
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
    row = await _first_run(ctx, payload)
    if row is None:
        ctx.log.info("comment %s already executed; not running it again", payload["comment_id"])
        return
    thread = Thread.of(ctx)
    earlier, known_none = await _quota(ctx, thread, row)
    limit = policy.comments_per_hour(thread.association)
    if earlier >= limit:
        ctx.log.warning(
            "comment %s by %s not run: %d comments with commands in %s within the hour (quota %d)",
            payload["comment_id"],
            author,
            earlier + 1,
            thread.repo,
            limit,
        )
        if earlier == limit:  # answered once; the rest of the hour costs no call at all
            await thread.reply(
                f"@{author} that is more than {limit} comments with `/footgun` commands in this "
                "repository within an hour: this one and the next are not run. Try again in an hour."
            )
        return
    if known_none and thread.known_role is None:
        thread.known_role = "none"
    distinct = list(dict.fromkeys(commands))  # the same command twice in a comment runs once
    run_now, extra = distinct[:MAX_COMMANDS], len(distinct) - MAX_COMMANDS
    answers = [await execute(ctx, thread, command, index) for index, command in enumerate(run_now)]
    repeated = len(commands) - len(distinct)
    if repeated:
        answers.append(
            Answer(True, f"{repeated:,} repeated command{'s' if repeated != 1 else ''} ran once.")
        )
    if extra > 0:
        answers.append(
            Answer(
                False,
                f"{extra:,} more command{'s' if extra != 1 else ''} not run: at most "
                f"{MAX_COMMANDS} commands run per comment.",
            )
        )
    if thread.looked_up_role is not None:
        async with ctx.sessions.begin() as session:
            await session.execute(
                update(SlashCommand)
                .where(SlashCommand.id == row)
                .values(role=thread.looked_up_role)
            )
    await thread.react("+1" if all(a.ok for a in answers) else "confused")
    await thread.reply(combine(answers))


def _since(created_at: str | None) -> dict[str, str] | None:
    """`since` for listing the comments written after one made at `created_at`, a minute early:
    GitHub's timestamps are to the second, and it lists what was updated *after* the time."""
    try:
        when = dt.datetime.fromisoformat(str(created_at))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return since(when - SINCE_MARGIN)


def combine(answers: list[Answer], limit: int = REPLY_LIMIT) -> str:
    """The answers in one reply under `limit` characters: whole answers while they fit, then
    one line for those that did not (GitHub refuses a longer comment)."""
    parts: list[str] = []
    size = 0
    separator = "\n\n---\n\n"
    for index, answer in enumerate(answers):
        if size + len(separator) + len(answer.text) > limit - 200:
            left = len(answers) - index
            parts.append(
                f"{left} more answer{'s' if left != 1 else ''} did not fit in one comment "
                f"({sum(not a.ok for a in answers[index:])} of them refusals)."
            )
            break
        parts.append(answer.text)
        size += len(separator) + len(answer.text)
    return separator.join(parts)


def fit(text: str, limit: int) -> str:
    """`text` cut at a line boundary under `limit`, saying so (a last guard; answers are capped)."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - 100)
    return text[: cut if cut > 0 else limit - 100] + "\n\n…(the rest did not fit in one comment)"


async def give_up(ctx: jobs.JobContext, error: str) -> None:
    thread = Thread.of(ctx)
    await thread.reply(
        f"@{thread.author} the command could not run: {md.text(error, 300)}. Post it again to retry."
    )


async def _first_run(ctx: jobs.JobContext, payload: dict[str, Any]) -> int | None:
    """Record the comment as executed: its row, or None when another job already ran (or runs) it."""
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
            await session.execute(waivers.insert_ignoring_duplicates(session, SlashCommand, values))
            row = (
                await session.execute(
                    select(SlashCommand.id, SlashCommand.job_id).where(
                        SlashCommand.comment_kind == values["comment_kind"],
                        SlashCommand.comment_id == values["comment_id"],
                    )
                )
            ).one()
    except IntegrityError:
        return None
    return row.id if row.job_id == ctx.job.id else None


async def _quota(ctx: jobs.JobContext, thread: Thread, row: int) -> tuple[int, bool]:
    """How many comments with commands the author wrote in this repository within the hour
    before this one, and whether GitHub said within the hour that they have no role here."""
    since = utcnow() - QUOTA_WINDOW
    mine = (
        SlashCommand.repository == thread.repo,
        SlashCommand.author == thread.author,
        SlashCommand.received_at > since,
    )
    async with ctx.sessions() as session:
        earlier = await session.scalar(
            select(func.count()).select_from(SlashCommand).where(*mine, SlashCommand.id < row)
        )
        none = await session.scalar(
            select(func.count()).select_from(SlashCommand).where(*mine, SlashCommand.role == "none")
        )
    return int(earlier or 0), bool(none)


async def execute(
    ctx: jobs.JobContext, thread: Thread, command: Command | CommandError, index: int
) -> Answer:
    match command:
        case CommandError():
            return Answer(False, f"> {md.text(command.line, 300)}\n\n{command.reply()}")
        case Waive():
            return await _waive(ctx, thread, command, index)
        case Unwaive():
            return await _unwaive(ctx, thread, command)
        case ListWaivers():
            return await _list(ctx, thread)
        case Recheck():
            return await _recheck_command(ctx, thread)
        case Help():
            return await _help(thread)
    raise TypeError(command)


# -- waive --------------------------------------------------------------------------------------


async def _waive(ctx: jobs.JobContext, thread: Thread, command: Waive, index: int) -> Answer:
    repo = thread.repo
    if thread.known_role == "none" and thread._config is None:
        # No configurable permission is reached without a role: refused before any look-up.
        return await _refuse(
            ctx,
            thread,
            f"@{thread.author} has no role on this repository: only its collaborators may waive findings.",
        )
    try:
        config = await thread.config()
    except changeset.ConfigInvalid as exc:
        return await _refuse(
            ctx, thread, f"The base branch's configuration is invalid: {md.text(exc, 300)}"
        )
    role = await thread.role()
    pull = await thread.pull()
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
    fingerprints = None
    if command.rule is None:
        fingerprints = await thread.fingerprints()
        if fingerprints is None:
            return await _refuse(
                ctx,
                thread,
                "Name the rule (and the target) to waive, or reply to one of the "
                "bot's inline comments: `/footgun waive <rule> <Kind>/<namespace>/"
                "<name> until YYYY-MM-DD because <reason>`.",
            )
    findings = await thread.reported(ctx.sessions)
    if findings is None:
        head = pull["head"]["sha"]
        if ctx.job.attempts < REVIEW_WAITS and await _review_pending(
            ctx, repo, thread.number, head
        ):
            # A push the review is still on: wait for it rather than send the user away.
            raise jobs.RetryableError(
                f"waiting for the review of {head[:7]} to report", retry_after=REVIEW_WAIT_SECONDS
            )
        return await _refuse(ctx, thread, _not_reviewed(head))
    matched = waivers.resolve(findings, command.rule, command.target, fingerprints)
    if not matched:
        return await _refuse(
            ctx, thread, _nothing_matched(command, fingerprints, findings, pull["head"]["sha"])
        )
    rule = matched[0].rule
    assert decision.until is not None  # an allowed waiver always has its deadline
    url = await thread.url()
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
            command_url=url,
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
            f"{md.text(waiver.reason, md.REASON_LIMIT)}\n\nThe check runs again on {pull['head']['sha'][:7]}. After the "
            "deadline it fails again; once merged, the finding must be gone from the default branch by then or a "
            f"cleanup issue is opened. Undo with `/footgun unwaive {waiver.id}`."
        ),
    )


async def _review_pending(ctx: jobs.JobContext, repo: str, number: int, head: str) -> bool:
    """Whether a review of `head` is queued or running (it will report what a waive names)."""
    async with ctx.sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(Job)
            .where(
                Job.dedupe_key == jobs.review_key(repo, number, head),
                Job.status.in_((jobs.QUEUED, jobs.RUNNING)),
            )
        )
    return bool(found)


def _not_reviewed(head: str) -> str:
    return (
        f"The check has not reported on {head[:7]} yet, so the findings to waive are not known: "
        "post the command again once the `Istio footguns` check has completed there (comment "
        "`/footgun recheck` if it does not start)."
    )


def _nothing_matched(
    command: Waive, fingerprints: frozenset[str] | None, findings: list[Any], head: str
) -> str:
    if fingerprints is not None:
        return f"The finding this thread is about is no longer in the pull request at {head[:7]}: nothing to waive."
    same_rule = sorted({str(f.resource) for f in findings if f.rule == command.rule})
    rule = md.code(command.rule)
    where = f" on {md.code(command.target)}" if command.target else ""
    if same_rule:
        listed = ", ".join(md.code(r) for r in same_rule[:RULES_IN_REPLY])
        more = (
            f" and {len(same_rule) - RULES_IN_REPLY} more"
            if len(same_rule) > RULES_IN_REPLY
            else ""
        )
        return f"No {rule} finding{where} at {head[:7]}. Its findings are on: {listed}{more}."
    return f"No {rule} finding{where} in this pull request at {head[:7]}: nothing to waive."


async def _refuse(ctx: jobs.JobContext, thread: Thread, reason: str) -> Answer:
    url = await thread.url()
    async with ctx.sessions.begin() as session:
        waivers.audit(
            session,
            "refused",
            repository=thread.repo,
            pull_number=thread.number,
            actor=thread.author,
            detail=reason,
            url=url,
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
        if thread.known_role == "none" and thread._config is None:
            return await _refuse_unwaive(
                ctx,
                thread,
                f"@{thread.author} has no role on this repository: only the approver or a collaborator "
                f"with the waiver permission may revoke waiver #{waiver.id}.",
            )
        try:
            config = await thread.config()
        except changeset.ConfigInvalid as exc:
            return await _refuse_unwaive(
                ctx, thread, f"The base branch's configuration is invalid: {md.text(exc, 300)}"
            )
        role = await thread.role()
        if not role_allows(role, config.waivers.permission):
            return await _refuse_unwaive(
                ctx,
                thread,
                (
                    f"@{thread.author} needs `{config.waivers.permission}` permission (has `{role or 'none'}`) "
                    f"to revoke a waiver approved by @{waiver.approved_by}."
                ),
            )
    pull = await thread.pull()
    url = await thread.url()
    async with ctx.sessions.begin() as session:
        revoked = await waivers.revoke(session, waiver.id, thread.author, url)
        if revoked and pull.get("state") == "open":
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
        f"on {pull['head']['sha'][:7]}.",
    )


async def _refuse_unwaive(ctx: jobs.JobContext, thread: Thread, reason: str) -> Answer:
    url = await thread.url()
    async with ctx.sessions.begin() as session:
        waivers.audit(
            session,
            "refused",
            repository=thread.repo,
            pull_number=thread.number,
            actor=thread.author,
            detail=f"unwaive: {reason}",
            url=url,
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
    for w in rows[:WAIVERS_LISTED]:
        lines.append(
            f"| {w.id} | {waivers.describe(w, table=True)} | {w.deadline} | {w.status.replace('_', ' ')} | "
            f"@{w.approved_by} | {md.cell(w.reason, md.REASON_LIMIT)} |"
        )
    if len(rows) > WAIVERS_LISTED:
        lines.append("")
        lines.append(
            f"…and {len(rows) - WAIVERS_LISTED} more: `footgun waivers list --repo {thread.repo}` "
            "lists them all."
        )
    return Answer(True, "\n".join(lines))


async def _help(thread: Thread) -> Answer:
    try:
        settings = (await thread.config()).waivers
    except changeset.ConfigInvalid:
        settings = Config().waivers
    self_waive = "allowed" if settings.allow_self_waive else "not allowed"
    return Answer(
        True,
        (
            f"```\n{USAGE}\n```\n\n{COMMAND_LINES}\n\nHere a waiver needs `{settings.permission}` permission, a "
            f"reason and a deadline at most {settings.max_days} days away (the end of that day, UTC); waiving in "
            f"your own pull request is {self_waive}. A reminder comes {settings.remind_days_before} days before the "
            "deadline; a waiver granted closer to its deadline than that gets none. `recheck` is for the pull "
            f"request's author and those who may waive. At most {MAX_COMMANDS} commands run per comment, and "
            f"{policy.COMMENTS_PER_HOUR} comments with commands per person, repository and hour."
        ),
    )


COMMAND_LINES = (
    "A command is a line of an ordinary paragraph that starts with `/footgun`. Lines in code "
    "(fenced or indented), quotes, lists, tables, headings, HTML comments and blocks, or inside "
    "`<details>` are never run."
)


async def _recheck_command(ctx: jobs.JobContext, thread: Thread) -> Answer:
    pull = await thread.pull()
    pr_author = (pull.get("user") or {}).get("login")
    if thread.author.lower() != str(pr_author or "").lower():
        try:
            settings = (await thread.config()).waivers
        except changeset.ConfigInvalid:
            settings = Config().waivers
        role = await thread.role()
    else:
        settings, role = Config().waivers, None
    decision = policy.may_recheck(thread.author, role, pr_author, settings)
    if not decision.allowed:
        return Answer(False, decision.reason)
    await _recheck(ctx, thread, "/footgun recheck")
    return Answer(True, f"Checking {pull['head']['sha'][:7]} again.")


async def _recheck(ctx: jobs.JobContext, thread: Thread, reason: str) -> None:
    async with ctx.sessions.begin() as session:
        await _enqueue_review(session, ctx, thread, reason)


async def _enqueue_review(session: Any, ctx: jobs.JobContext, thread: Thread, reason: str) -> None:
    pull = thread._pull or {}
    head = pull["head"]["sha"]
    await session.run_sync(
        jobs.enqueue,
        "review",
        {
            "installation_id": ctx.job.payload["installation_id"],
            "repository": thread.repo,
            "pull_number": thread.number,
            "head_sha": head,
            "base_sha": pull["base"]["sha"],
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
