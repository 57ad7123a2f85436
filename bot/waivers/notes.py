"""The bot's inline comments say when their finding is waived, and stop saying so when it is not.

Run after each review: the note is derived from the review's findings, so granting, revoking and
expiry all converge on the right text, and a repeated run edits nothing. The reason is escaped
(`bot.github.markdown`): a `<!--` or a `-->` in it must not hide or end anything.
"""

from __future__ import annotations

import re
from typing import Any

from bot.github import markdown, markers
from bot.github.client import Installation
from bot.waivers import store as waivers
from rules.core.model import Finding

NOTE_START, NOTE_END = "<!-- footgun:waived -->", "<!-- /footgun:waived -->"
_NOTE = re.compile(re.escape(NOTE_START) + r".*?" + re.escape(NOTE_END) + r"\n*", re.S)


def note(finding: Finding) -> str:
    waiver = finding.waiver
    who = f" by @{waiver.approver}" if getattr(waiver, "approver", None) else ""
    number = f" (waiver #{waiver.id})" if getattr(waiver, "id", None) else ""
    reason = markdown.text(getattr(waiver, "reason", ""), markdown.REASON_LIMIT)
    return (
        f"{NOTE_START}\n> [!NOTE]\n> **Waived** until {waiver.until} (end of day UTC){who}{number}: "
        f"{reason}\n{NOTE_END}\n\n"
    )


def with_note(body: str, finding: Finding | None) -> str:
    """`body` with the waiver note for `finding` (None: without any note)."""
    bare = _NOTE.sub("", body)
    return (note(finding) + bare) if finding is not None else bare


async def sync_if_needed(
    sessions: Any, gh: Installation, repo: str, number: int, findings: list[Finding]
) -> list[int]:
    """`sync`, skipped (no API call) for a PR that never had a waiver and has no waived finding."""
    if not any(f.waived for f in findings) and not await waivers.ever_waived(
        sessions, repo, number
    ):
        return []
    return await sync(gh, repo, number, findings)


async def sync(gh: Installation, repo: str, number: int, findings: list[Finding]) -> list[int]:
    """Edit the bot's inline comments whose waiver state changed; the ids edited."""
    waived = {f.fingerprint: f for f in findings if f.waived and f.waiver is not None}
    present = {f.fingerprint for f in findings}
    edited = []
    for comment in await gh.paginate(f"repos/{repo}/pulls/{number}/comments"):
        if not markers.posted_by_an_app(comment) or comment.get("in_reply_to_id"):
            continue
        body = comment.get("body") or ""
        marks = markers.fingerprints_in(body)
        if not marks or not marks & present:
            continue  # a finding that is gone is the publisher's business (marked fixed)
        finding = next((waived[m] for m in sorted(marks) if m in waived), None)
        new = with_note(body, finding)
        if new != body:
            await gh.json(
                "PATCH", f"repos/{repo}/pulls/comments/{comment['id']}", json={"body": new}
            )
            edited.append(comment["id"])
    return edited
