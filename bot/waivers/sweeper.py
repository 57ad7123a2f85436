"""The waiver sweeper: reminders before deadlines, and what a passed deadline means.

- N days before the deadline (`waivers.remind_days_before`): a reminder on the pull request,
  once: it ends with a hidden marker, and the bot's own comments are searched for it before
  posting, so a POST answered too late (or a sweeper that died before recording it) is not
  followed by a second one.
- At the deadline, for an open pull request: a note says the waiver expired (once, by the same
  marker search), then the waiver expires and the check runs again (and fails while the finding
  remains).
- For a merged pull request the waiver was a promise to clean up: the sweeper analyses the
  default branch at its head; if a waived finding is still there it opens ONE issue (labelled
  `footgun-cleanup`, assigned to the approver), else it records the waiver as cleaned up.
- A pull request closed without merging: the waiver simply expires.

It runs every `FOOTGUN_SWEEP_INTERVAL` seconds inside `footgun serve` (every replica) and as
`footgun sweep` from cron. Each transition is claimed with a conditional UPDATE (`bot.waivers.store.claim`), so replicas
racing on one waiver do the work once; the `cleanup_issues.waiver_id` unique constraint is
written before the issue is created, so even a replica that outlived its claim cannot open a
second one. Deadlines are judged at `now` (a flag of `footgun sweep` can move it); claims use
the wall clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import CleanupIssue, PullRequest, Waiver, rows_affected, utcnow
from bot.github import changeset, markdown, markers
from bot.github.client import GitHubError, Installation, since
from bot.queue import jobs
from bot.queue.worker import PERIODIC, Periodic, TaskContext
from bot.settings import Settings
from bot.waivers import store as waivers
from bot.waivers.store import ACTIVE, CLEANED_UP, EXPIRED, OVERDUE

log = logging.getLogger(__name__)
CLEANUP_LABEL = "footgun-cleanup"
ISSUE_MARKER = "<!-- footgun:cleanup-waiver={} -->"
REMINDER_MARKER = "<!-- footgun:reminder={} -->"
EXPIRED_MARKER = "<!-- footgun:expired={} -->"
REMINDER_SEARCH_MARGIN = dt.timedelta(hours=1)
"""How much earlier than the waiver's grant the search for its reminder starts (clock skew)."""
RESERVATION_ABANDONED = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ISSUE_RESOURCES = 20
ISSUE_FINDINGS = 50
"""Resources and findings named in a cleanup issue; the rest are counted."""
ISSUE_SEARCH_LIMIT = 1000
"""Issues with the cleanup label read when looking for one an interrupted run already opened."""


@dataclass(frozen=True)
class Outcome:
    waiver_id: int
    action: str
    """remind, expire, recheck, cleaned_up, issue, skipped (preview: the same words, not done yet)."""
    text: str

    def __str__(self) -> str:
        return f"waiver #{self.waiver_id}: {self.text}"


def owner_name() -> str:
    """Unique per sweep: two sweeps in one process must not share a claim."""
    return f"sweeper:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def sweep(
    sessions: async_sessionmaker[AsyncSession],
    github: Any,
    now: dt.datetime | None = None,
    owner: str | None = None,
) -> list[Outcome]:
    """Send due reminders and settle passed deadlines at `now`; what was done."""
    now = now or utcnow()
    owner = owner or owner_name()
    outcomes: list[Outcome] = []
    for waiver in await _reminders_due(sessions, now):
        if await waivers.claim(sessions, waiver.id, owner):
            outcomes.append(
                await _guarded(
                    sessions, waiver, owner, _remind(sessions, github, waiver, owner, now)
                )
            )
    for waiver in await _deadlines_passed(sessions, now):
        if await waivers.claim(sessions, waiver.id, owner):
            outcomes.append(
                await _guarded(
                    sessions, waiver, owner, _settle(sessions, github, waiver, owner, now)
                )
            )
    return outcomes


async def preview(sessions: async_sessionmaker[AsyncSession], now: dt.datetime) -> list[Outcome]:
    """What `sweep` would do at `now`, from the database alone (no GitHub call, nothing written)."""
    outcomes = [
        Outcome(
            w.id,
            "remind",
            f"would remind {w.repository}#{w.pull_number} that {_name(w)} expires on {w.deadline}",
        )
        for w in await _reminders_due(sessions, now)
    ]
    async with sessions() as session:
        merged = {
            (p.repository, p.number): p
            for p in await session.scalars(
                select(PullRequest).where(PullRequest.merged_at.is_not(None))
            )
        }
    for w in await _deadlines_passed(sessions, now):
        if (w.repository, w.pull_number) in merged:
            text = (
                f"deadline {w.deadline} passed and {w.repository}#{w.pull_number} is merged: would analyse the "
                f"default branch and open a cleanup issue for @{w.approved_by} if {_name(w)} remains"
            )
            outcomes.append(Outcome(w.id, "issue", text))
        else:
            text = (
                f"deadline {w.deadline} passed: would expire {_name(w)} and check {w.repository}#{w.pull_number} "
                "again if it is open"
            )
            outcomes.append(Outcome(w.id, "expire", text))
    return outcomes


async def _guarded(
    sessions: async_sessionmaker[AsyncSession], waiver: Waiver, owner: str, work: Any
) -> Outcome:
    """Run one claimed transition; on failure hand the claim back so the next sweep retries."""
    try:
        outcome: Outcome = await work
        return outcome
    except Exception as exc:
        await waivers.release(sessions, waiver.id, owner)
        log.warning("waiver #%s: sweep failed, retried on the next sweep: %s", waiver.id, exc)
        return Outcome(waiver.id, "skipped", f"failed, retried on the next sweep: {exc}")


async def _reminders_due(
    sessions: async_sessionmaker[AsyncSession], now: dt.datetime
) -> list[Waiver]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(Waiver)
                .where(
                    Waiver.status == ACTIVE,
                    Waiver.reminded_at.is_(None),
                    Waiver.remind_at <= now,
                    Waiver.expires_at > now,
                )
                .order_by(Waiver.expires_at, Waiver.id)
            )
        )


async def _deadlines_passed(
    sessions: async_sessionmaker[AsyncSession], now: dt.datetime
) -> list[Waiver]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(Waiver)
                .where(Waiver.status == ACTIVE, Waiver.expires_at <= now)
                .order_by(Waiver.expires_at, Waiver.id)
            )
        )


# -- transitions --------------------------------------------------------------------------------


async def _remind(
    sessions: async_sessionmaker[AsyncSession],
    github: Any,
    waiver: Waiver,
    owner: str,
    now: dt.datetime,
) -> Outcome:
    gh = github.installation(waiver.installation_id)
    days = max((waiver.deadline - now.date()).days, 0)
    when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
    marker = REMINDER_MARKER.format(waiver.id)
    text = (
        f"Reminder: waiver **#{waiver.id}** ({waivers.describe(waiver)}, approved by @{waiver.approved_by}) "
        f"expires {when}, at the end of {waiver.deadline} UTC. Fix the finding before then: on an open pull "
        "request the check fails again; once merged, a cleanup issue is opened if the finding is still on "
        f"the default branch.\n\n{marker}"
    )
    # A POST whose answer never came (a timeout, a process that died before recording it) may
    # have been carried out: look for it before posting, never post twice (the client does not
    # repeat a POST in place either).
    comment = await _find_comment(gh, waiver, marker)
    if comment is None:
        comment = await gh.json(
            "POST",
            f"repos/{waiver.repository}/issues/{waiver.pull_number}/comments",
            json={"body": text},
        )
    async with sessions.begin() as session:
        result = await session.execute(
            update(Waiver)
            .where(Waiver.id == waiver.id, Waiver.claimed_by == owner)
            .values(reminded_at=now, claimed_by=None, claimed_until=None)
        )
        if rows_affected(result) == 1:
            waivers.audit(
                session,
                "reminded",
                repository=waiver.repository,
                pull_number=waiver.pull_number,
                waiver_id=waiver.id,
                detail=f"expires {waiver.deadline}",
                url=comment.get("html_url"),
                at=now,
            )
    return Outcome(
        waiver.id, "remind", f"reminded {waiver.repository}#{waiver.pull_number} ({when})"
    )


async def _find_comment(gh: Installation, waiver: Waiver, marker: str) -> dict[str, Any] | None:
    """The note (reminder, expiry) an earlier attempt posted: a comment of the bot's ending with
    the marker.

    Only comments updated since the waiver was granted are listed (less a margin for clocks
    apart), so a long conversation costs no more pages; a marker in anyone else's comment, or
    anywhere but at the end, does not count."""
    comments = await gh.paginate(
        f"repos/{waiver.repository}/issues/{waiver.pull_number}/comments",
        since(waiver.created_at - REMINDER_SEARCH_MARGIN),
    )
    return next(
        (
            c
            for c in comments
            if markers.posted_by_an_app(c) and markers.ends_with(c.get("body"), marker)
        ),
        None,
    )


async def _settle(
    sessions: async_sessionmaker[AsyncSession],
    github: Any,
    waiver: Waiver,
    owner: str,
    now: dt.datetime,
) -> Outcome:
    gh = github.installation(waiver.installation_id)
    pull = await gh.get(f"repos/{waiver.repository}/pulls/{waiver.pull_number}")
    where = f"{waiver.repository}#{waiver.pull_number}"
    if pull.get("merged") or pull.get("merged_at"):
        return await _cleanup(sessions, gh, waiver, owner, now)
    if pull.get("state") != "open":
        async with sessions.begin() as session:
            await waivers.settle(
                session,
                waiver,
                owner,
                EXPIRED,
                "expired",
                f"deadline {waiver.deadline} passed; the pull request was closed without merging",
                at=now,
            )
        return Outcome(waiver.id, "expire", f"expired ({where} was closed without merging)")
    head = pull["head"]["sha"]
    # Said first, then recorded: a sweep that fails in between finds its note by the marker and
    # settles without saying it twice; one whose note fails settles nothing and tries again.
    marker = EXPIRED_MARKER.format(waiver.id)
    if await _find_comment(gh, waiver, marker) is None:
        await gh.json(
            "POST",
            f"repos/{waiver.repository}/issues/{waiver.pull_number}/comments",
            json={
                "body": (
                    f"Waiver **#{waiver.id}** ({waivers.describe(waiver)}) expired at the end of {waiver.deadline} UTC. "
                    f"The check runs again on {head[:7]} and fails while the finding remains.\n\n{marker}"
                )
            },
        )
    async with sessions.begin() as session:
        if await waivers.settle(
            session,
            waiver,
            owner,
            EXPIRED,
            "expired",
            f"deadline {waiver.deadline} passed; {where} is checked again at {head[:7]}",
            at=now,
        ):
            await session.run_sync(
                jobs.enqueue,
                "review",
                {
                    "installation_id": waiver.installation_id,
                    "repository": waiver.repository,
                    "pull_number": waiver.pull_number,
                    "head_sha": head,
                    "base_sha": pull["base"]["sha"],
                    "reason": f"waiver #{waiver.id} expired",
                },
                dedupe_key=jobs.review_key(waiver.repository, waiver.pull_number, head),
            )
    return Outcome(waiver.id, "recheck", f"expired; {where} is checked again at {head[:7]}")


async def _cleanup(
    sessions: async_sessionmaker[AsyncSession],
    gh: Installation,
    waiver: Waiver,
    owner: str,
    now: dt.datetime,
) -> Outcome:
    """The PR was merged: is a waived finding still on the default branch at its head?"""
    repo = await gh.get(f"repos/{waiver.repository}")
    branch = repo["default_branch"]
    head = (await gh.get(f"repos/{waiver.repository}/branches/{branch}"))["commit"]["sha"]
    revision = await changeset.fetch_revision(gh, waiver.repository, head)
    report = await changeset.analyse(
        revision.files, None, revision.config, revision.parsed, today=now.date()
    )
    remaining = [f for f in report.findings if f.fingerprint in set(waiver.fingerprints)]
    if not remaining:
        async with sessions.begin() as session:
            await waivers.settle(
                session,
                waiver,
                owner,
                CLEANED_UP,
                "cleaned_up",
                f"the waived finding is gone from {branch} at {head[:7]}",
                at=now,
            )
        return Outcome(
            waiver.id, "cleaned_up", f"cleaned up: the finding is gone from {branch} at {head[:7]}"
        )
    issue = await open_cleanup_issue(sessions, gh, waiver, repo, branch, head, remaining)
    if issue is None:
        await waivers.release(sessions, waiver.id, owner)
        return Outcome(waiver.id, "skipped", "another sweeper is opening its cleanup issue")
    async with sessions.begin() as session:
        await waivers.settle(
            session,
            waiver,
            owner,
            OVERDUE,
            "issue_opened",
            f"still on {branch} at {head[:7]}: issue #{issue['number']}",
            url=issue["html_url"],
            at=now,
        )
    return Outcome(waiver.id, "issue", f"still on {branch}: cleanup issue #{issue['number']}")


async def open_cleanup_issue(
    sessions: async_sessionmaker[AsyncSession],
    gh: Installation,
    waiver: Waiver,
    repo: dict[str, Any],
    branch: str,
    head: str,
    remaining: list[Any],
) -> dict[str, Any] | None:
    """The waiver's one cleanup issue: reserved in the database first, then created on GitHub.

    None when another sweeper holds the reservation. A reservation left by a crashed sweeper is
    taken over after the claim lease, and the issue it may have opened is found by its marker.
    """
    values = {
        "waiver_id": waiver.id,
        "repository": waiver.repository,
        "fingerprints": sorted({f.fingerprint for f in remaining}),
        "reserved_at": utcnow(),
    }
    async with sessions.begin() as session:
        inserted = (
            rows_affected(
                await session.execute(
                    waivers.insert_ignoring_duplicates(session, CleanupIssue, values)
                )
            )
            == 1
        )
        row = await session.scalar(select(CleanupIssue).where(CleanupIssue.waiver_id == waiver.id))
    assert row is not None  # inserted above, or there already
    if row.issue_number is not None:
        return {"number": row.issue_number, "html_url": row.issue_url}
    if not inserted:
        if not await _take_over(sessions, row):
            return None
        found = await _find_issue(gh, waiver)
        if found is not None:
            return await _record(sessions, row, found)
    try:
        issue = await _create_issue(gh, waiver, repo, branch, head, remaining)
    except BaseException:
        await _abandon(sessions, row)
        raise
    return await _record(sessions, row, issue)


async def _take_over(sessions: async_sessionmaker[AsyncSession], row: CleanupIssue) -> bool:
    """Take a reservation older than the claim lease (its sweeper died or gave up); False if fresh."""
    if row.reserved_at > utcnow() - waivers.CLAIM_LEASE:
        return False
    async with sessions.begin() as session:
        result = await session.execute(
            update(CleanupIssue)
            .where(
                CleanupIssue.id == row.id,
                CleanupIssue.issue_number.is_(None),
                CleanupIssue.reserved_at == row.reserved_at,
            )
            .values(reserved_at=utcnow())
        )
    return rows_affected(result) == 1


async def _abandon(sessions: async_sessionmaker[AsyncSession], row: CleanupIssue) -> None:
    """Creating the issue failed: age the reservation so the next sweep takes it over at once."""
    async with sessions.begin() as session:
        await session.execute(
            update(CleanupIssue)
            .where(CleanupIssue.id == row.id, CleanupIssue.issue_number.is_(None))
            .values(reserved_at=RESERVATION_ABANDONED)
        )


async def _record(
    sessions: async_sessionmaker[AsyncSession], row: CleanupIssue, issue: dict[str, Any]
) -> dict[str, Any]:
    async with sessions.begin() as session:
        await session.execute(
            update(CleanupIssue)
            .where(CleanupIssue.id == row.id)
            .values(issue_number=issue["number"], issue_url=issue["html_url"])
        )
    return issue


async def _find_issue(gh: Installation, waiver: Waiver) -> dict[str, Any] | None:
    marker = ISSUE_MARKER.format(waiver.id)
    issues = await gh.paginate(
        f"repos/{waiver.repository}/issues",
        {"labels": CLEANUP_LABEL, "state": "all"},
        limit=ISSUE_SEARCH_LIMIT,
    )
    return next(
        (
            i
            for i in issues
            if markers.posted_by_an_app(i) and markers.ends_with(i.get("body"), marker)
        ),
        None,
    )


async def _create_issue(
    gh: Installation,
    waiver: Waiver,
    repo: dict[str, Any],
    branch: str,
    head: str,
    remaining: list[Any],
) -> dict[str, Any]:
    web = repo.get("html_url") or f"https://github.com/{waiver.repository}"
    names = sorted({str(f.resource) for f in remaining})
    resources = ", ".join(markdown.code(r) for r in names[:ISSUE_RESOURCES])
    if len(names) > ISSUE_RESOURCES:
        resources += f" and {len(names) - ISSUE_RESOURCES} more"
    lines = [
        f"Waiver #{waiver.id} let {markdown.code(waiver.rule)} on {resources} through in "
        f"{web}/pull/{waiver.pull_number} until **{waiver.deadline}** (end of day UTC), approved by "
        f"@{waiver.approved_by} ([command]({waiver.command_url})) because:",
        "",
        f"> {markdown.text(waiver.reason, markdown.REASON_LIMIT)}",
        "",
        f"The deadline has passed and the finding is still on {markdown.code(branch)} at {head[:7]}:",
        "",
    ]
    for f in remaining[:ISSUE_FINDINGS]:
        lines.append(
            f"- [{markdown.text(f.path)} line {f.line}]"
            f"({web}/blob/{head}/{markdown.link_path(f.path)}#L{f.line}) {markdown.code(f.rule)}: "
            f"{markdown.text(f.message, markdown.MESSAGE_LIMIT)}"
        )
    if len(remaining) > ISSUE_FINDINGS:
        lines.append(f"- …and {len(remaining) - ISSUE_FINDINGS} more")
    lines += [
        "",
        "Fix it on the default branch, then close this issue.",
        "",
        ISSUE_MARKER.format(waiver.id),
    ]
    first = markdown.clip(markdown.one_line(names[0]), 100) if names else waiver.target or ""
    more = f" and {len(names) - 1} more" if len(names) > 1 else ""
    body = {
        # A title is plain text (GitHub renders no link or mention there) of at most 256.
        "title": markdown.clip(
            f"Clean up waived {waiver.rule} on {first}{more} (waiver #{waiver.id})", 256
        ),
        "body": "\n".join(lines),
        "labels": [CLEANUP_LABEL],
        "assignees": [waiver.approved_by],
    }
    try:
        created: dict[str, Any] = await gh.json(
            "POST", f"repos/{waiver.repository}/issues", json=body
        )
        return created
    except GitHubError as exc:
        if exc.status != 422:
            raise
        # The approver can no longer be assigned (left the repository): open it unassigned.
        log.warning(
            "waiver #%s: cannot assign @%s (%s); opening the issue unassigned",
            waiver.id,
            waiver.approved_by,
            exc.message,
        )
        unassigned: dict[str, Any] = await gh.json(
            "POST", f"repos/{waiver.repository}/issues", json={**body, "assignees": []}
        )
        return unassigned


def _name(waiver: Waiver) -> str:
    return f"{waiver.rule} on {', '.join(waiver.resources) or waiver.target}"


async def _periodic(ctx: TaskContext) -> None:
    if ctx.github is None:
        return
    for outcome in await sweep(ctx.sessions, ctx.github):
        log.info("sweep: %s", outcome)


def _interval(settings: Settings) -> float:
    return settings.sweep_interval


PERIODIC["waiver-sweeper"] = Periodic(_interval, _periodic)
