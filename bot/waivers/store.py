"""Waivers in the database: granted, revoked, applied to reviews, and their audit log.

A waiver names the findings (fingerprints) its target resolved to at the PR head when it was
granted, so it never widens to findings added later. It applies to the pull request it was
granted in and, once that PR is merged, to every review of the repository (the finding now lives
on the default branch until the cleanup deadline). Nothing here deletes a row: state moves
forward by conditional UPDATEs and every step is written to `waiver_events`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import PullRequest, Waiver, WaiverEvent, dialect_insert, rows_affected, utcnow
from bot.github import markdown
from bot.waivers.policy import expires_at
from rules.core.model import Finding
from rules.core.waivers import target_matches

ACTIVE, REVOKED, EXPIRED, CLEANED_UP, OVERDUE = (
    "active",
    "revoked",
    "expired",
    "cleaned_up",
    "overdue",
)
CLAIM_LEASE = dt.timedelta(minutes=10)
"""How long a sweeper replica owns a waiver's transition before another may take it over."""


@dataclass(frozen=True, slots=True)
class StoredWaiver:
    """A database waiver as the engine sees it (`rules.core.waivers.Waiver`), and as summaries show it."""

    id: int
    rule: str
    fingerprints: frozenset[str]
    until: dt.date
    reason: str
    approver: str
    pull_number: int

    def covers(self, finding: Finding, today: dt.date) -> bool:
        return (
            finding.rule == self.rule
            and finding.fingerprint in self.fingerprints
            and today <= self.until
        )

    @classmethod
    def of(cls, row: Waiver) -> StoredWaiver:
        return cls(
            row.id,
            row.rule,
            frozenset(row.fingerprints),
            row.deadline,
            row.reason,
            row.approved_by,
            row.pull_number,
        )


async def for_review(
    sessions: async_sessionmaker[AsyncSession] | None, repository: str, pull_number: int
) -> list[StoredWaiver]:
    """The active waivers a review of this pull request applies: its own, and those of merged PRs.

    Another open PR's waiver does not apply: a waiver granted there must not let the same finding
    through here. `sessions` None (a review run without a database) means no stored waivers.
    """
    if sessions is None:
        return []
    merged = select(PullRequest.number).where(
        PullRequest.repository == repository, PullRequest.merged_at.is_not(None)
    )
    async with sessions() as session:
        rows = await session.scalars(
            select(Waiver)
            .where(
                Waiver.repository == repository,
                Waiver.status == ACTIVE,
                or_(Waiver.pull_number == pull_number, Waiver.pull_number.in_(merged)),
            )
            .order_by(Waiver.id)
        )
        return [StoredWaiver.of(row) for row in rows]


async def ever_waived(
    sessions: async_sessionmaker[AsyncSession] | None, repository: str, pull_number: int
) -> bool:
    """Whether the pull request has had a waiver, in any state."""
    if sessions is None:
        return False
    async with sessions() as session:
        return (
            await session.scalar(
                select(Waiver.id)
                .where(Waiver.repository == repository, Waiver.pull_number == pull_number)
                .limit(1)
            )
            is not None
        )


def resolve(
    findings: Iterable[Finding],
    rule: str | None,
    target: str | None,
    fingerprints: Collection[str] | None = None,
) -> list[Finding]:
    """The findings a waiver's target names: the fingerprints of the comment a thread reply
    answers, or rule + target."""
    if fingerprints is not None:
        return [f for f in findings if f.fingerprint in fingerprints]
    return [f for f in findings if f.rule == rule and target_matches(target, f)]


def audit(
    session: AsyncSession,
    event: str,
    *,
    repository: str,
    pull_number: int | None,
    waiver_id: int | None = None,
    actor: str | None = None,
    detail: str | None = None,
    url: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Append one event to the audit log, in the caller's transaction."""
    session.add(
        WaiverEvent(
            waiver_id=waiver_id,
            repository=repository,
            pull_number=pull_number,
            event=event,
            actor=actor,
            detail=detail,
            url=url,
            at=at or utcnow(),
        )
    )


async def grant(
    session: AsyncSession,
    *,
    installation_id: int,
    repository: str,
    pull_number: int,
    rule: str,
    target: str | None,
    findings: Sequence[Finding],
    reason: str,
    deadline: dt.date,
    remind_days_before: int,
    approved_by: str,
    command_url: str,
    command_key: str,
) -> tuple[Waiver, bool]:
    """Record a waiver (and its `created` event); a retried command finds the one it made before."""
    existing = await session.scalar(select(Waiver).where(Waiver.command_key == command_key))
    if existing is not None:
        return existing, False
    now = utcnow()
    end = expires_at(deadline)
    # One reminder when the time left first drops under `remind_days_before`; none for a waiver
    # granted inside that window (its grant reply has just said when it ends).
    remind = end - dt.timedelta(days=remind_days_before) if remind_days_before > 0 else None
    waiver = Waiver(
        installation_id=installation_id,
        repository=repository,
        pull_number=pull_number,
        rule=rule,
        target=target,
        resources=sorted({str(f.resource) for f in findings}),
        fingerprints=sorted({f.fingerprint for f in findings}),
        reason=reason,
        deadline=deadline,
        expires_at=end,
        remind_at=remind if remind and remind > now else None,
        approved_by=approved_by,
        created_at=now,
        command_url=command_url,
        command_key=command_key,
        status=ACTIVE,
    )
    session.add(waiver)
    await session.flush()
    audit(
        session,
        "created",
        repository=repository,
        pull_number=pull_number,
        waiver_id=waiver.id,
        actor=approved_by,
        detail=f"{rule} {target or ', '.join(waiver.resources)} until {deadline}: {reason}",
        url=command_url,
        at=now,
    )
    return waiver, True


async def revoke(session: AsyncSession, waiver_id: int, actor: str, url: str | None) -> bool:
    """active -> revoked, once (a conditional UPDATE: two `unwaive`s cannot both succeed)."""
    now = utcnow()
    result = await session.execute(
        update(Waiver)
        .where(Waiver.id == waiver_id, Waiver.status == ACTIVE)
        .values(status=REVOKED, revoked_at=now, revoked_by=actor, closed_at=now)
    )
    if rows_affected(result) != 1:
        return False
    waiver = await session.get(Waiver, waiver_id, populate_existing=True)
    assert waiver is not None  # the UPDATE above just matched it
    audit(
        session,
        "revoked",
        repository=waiver.repository,
        pull_number=waiver.pull_number,
        waiver_id=waiver_id,
        actor=actor,
        url=url,
        at=now,
    )
    return True


async def claim(sessions: async_sessionmaker[AsyncSession], waiver_id: int, owner: str) -> bool:
    """Own this active waiver's next transition for CLAIM_LEASE; False when another replica does."""
    now = utcnow()
    async with sessions.begin() as session:
        result = await session.execute(
            update(Waiver)
            .where(
                Waiver.id == waiver_id,
                Waiver.status == ACTIVE,
                or_(Waiver.claimed_until.is_(None), Waiver.claimed_until < now),
            )
            .values(claimed_by=owner, claimed_until=now + CLAIM_LEASE)
        )
    return rows_affected(result) == 1


async def release(
    sessions: async_sessionmaker[AsyncSession], waiver_id: int, owner: str, **values: Any
) -> bool:
    """End a claim, applying `values` (e.g. `reminded_at`); False when the claim was lost."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(Waiver)
            .where(Waiver.id == waiver_id, Waiver.claimed_by == owner)
            .values(claimed_by=None, claimed_until=None, **values)
        )
    return rows_affected(result) == 1


async def settle(
    session: AsyncSession,
    waiver: Waiver,
    owner: str,
    status: str,
    event: str,
    detail: str | None,
    url: str | None = None,
    at: dt.datetime | None = None,
) -> bool:
    """Move a claimed active waiver to its final `status` and log `event`, in one transaction."""
    now = at or utcnow()
    result = await session.execute(
        update(Waiver)
        .where(Waiver.id == waiver.id, Waiver.status == ACTIVE, Waiver.claimed_by == owner)
        .values(status=status, closed_at=now, claimed_by=None, claimed_until=None)
    )
    if rows_affected(result) != 1:
        return False
    audit(
        session,
        event,
        repository=waiver.repository,
        pull_number=waiver.pull_number,
        waiver_id=waiver.id,
        detail=detail,
        url=url,
        at=now,
    )
    return True


def insert_ignoring_duplicates(session: AsyncSession, model: type, values: dict[str, Any]) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` for SQLite and PostgreSQL (rowcount 0 on a duplicate)."""
    return (
        dialect_insert(session.get_bind().dialect.name)(model)
        .values(**values)
        .on_conflict_do_nothing()
    )


def describe(waiver: Waiver, *, table: bool = False, listed: int = 5) -> str:
    """`fault-injection` on `VirtualService/bookinfo/reviews`: how replies and issues name a
    waiver (the names come from manifests: code spans that nothing in them can break)."""
    resources = list(waiver.resources or [])
    names = [markdown.code(r, table=table) for r in resources[:listed]]
    if len(resources) > listed:
        names.append(f"{len(resources) - listed} more")
    what = ", ".join(names) or markdown.code(waiver.target, table=table)
    return f"{markdown.code(waiver.rule, table=table)} on {what}"
