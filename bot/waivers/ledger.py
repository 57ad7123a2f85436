"""`footgun waivers list`: the waiver ledger from the database, as a table, JSON or CSV.

Filters, judged at `now`:
- `active`: in force (not revoked, deadline not passed).
- `expired`: the deadline passed (whatever the sweeper made of it: expired, cleaned up, overdue).
- `overdue`: the deadline passed and nothing settled it yet, or a cleanup issue is open for it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import CleanupIssue, Waiver
from bot.waivers.store import ACTIVE, CLEANED_UP, EXPIRED, OVERDUE

FILTERS = ("all", "active", "expired", "overdue")
FORMATS = ("table", "json", "csv")
COLUMNS = (
    "id",
    "repository",
    "pull",
    "rule",
    "target",
    "resources",
    "deadline",
    "status",
    "approved_by",
    "reason",
    "created_at",
    "command_url",
    "cleanup_issue",
)


async def rows(
    sessions: async_sessionmaker[AsyncSession],
    *,
    repository: str | None = None,
    which: str = "all",
    now: dt.datetime,
) -> list[dict[str, Any]]:
    query = select(Waiver, CleanupIssue.issue_url).outerjoin(
        CleanupIssue, CleanupIssue.waiver_id == Waiver.id
    )
    if repository:
        query = query.where(Waiver.repository == repository)
    passed = Waiver.expires_at <= now
    if which == "active":
        query = query.where(Waiver.status == ACTIVE, Waiver.expires_at > now)
    elif which == "expired":
        settled = Waiver.status.in_((EXPIRED, CLEANED_UP, OVERDUE))
        query = query.where(or_(settled, and_(Waiver.status == ACTIVE, passed)))
    elif which == "overdue":
        query = query.where(or_(Waiver.status == OVERDUE, and_(Waiver.status == ACTIVE, passed)))
    async with sessions() as session:
        result = await session.execute(query.order_by(Waiver.id))
        return [_row(waiver, issue) for waiver, issue in result]


def _row(w: Waiver, issue: str | None) -> dict[str, Any]:
    return {
        "id": w.id,
        "repository": w.repository,
        "pull": w.pull_number,
        "rule": w.rule,
        "target": w.target,
        "resources": list(w.resources),
        "deadline": w.deadline.isoformat(),
        "status": w.status,
        "approved_by": w.approved_by,
        "reason": w.reason,
        "created_at": w.created_at.isoformat(),
        "command_url": w.command_url,
        "cleanup_issue": issue,
    }


def render(items: Sequence[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"version": 1, "waivers": list(items)}, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
        writer.writeheader()
        for item in items:
            writer.writerow({**item, "resources": " ".join(item["resources"])})
        return out.getvalue()
    return _table(items)


def _table(items: Sequence[dict[str, Any]]) -> str:
    if not items:
        return "no waivers\n"
    header = ("ID", "PR", "RULE", "WAIVED", "DEADLINE", "STATUS", "APPROVED BY", "REASON")
    lines = [header] + [
        (
            str(i["id"]),
            f"{i['repository']}#{i['pull']}",
            i["rule"],
            " ".join(i["resources"]) or (i["target"] or ""),
            i["deadline"],
            i["status"],
            i["approved_by"],
            _clip(" ".join(i["reason"].split()), 50),
        )
        for i in items
    ]
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)).rstrip() + "\n"
        for line in lines
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
