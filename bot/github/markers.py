"""The bot's hidden markers in its own comments, and how to tell its comments from anyone else's.

Publishing, waiver notes and slash-command replies all find their earlier comments by these
markers, so the markers live here, below all three.

A marker counts only in its own position: at the end of a line, alone on it or after a space
(an inline comment ends with its marker line; each finding listed in a review body ends with
its marker). Echoed pull request content can never end a line that way (`bot.github.markdown`
escapes `<` and `>` in prose and closes code spans with a backtick), so a resource named after a
marker does not make the bot believe it already commented on a finding.
"""

from __future__ import annotations

import re
from typing import Any

MARKER = "<!-- footgun:fingerprint={} -->"
MARKER_RE = re.compile(r"(?:^|(?<= ))<!-- footgun:fingerprint=([0-9a-f]+) -->[ \t]*$", re.M)
REPLY_MARKER = "<!-- footgun:reply-to={} -->"


def fingerprints_in(text: str | None) -> set[str]:
    return set(MARKER_RE.findall(text or ""))


def ends_with(text: str | None, marker: str) -> bool:
    """Whether `text` ends with `marker` on a line of its own (where the bot puts it)."""
    lines = (text or "").rstrip().splitlines()
    return bool(lines) and lines[-1].strip() == marker


def posted_by_an_app(item: dict[str, Any]) -> bool:
    """Whether a comment was posted by a GitHub App (a `Bot` user named `...[bot]`): a person
    cannot forge that, so a fingerprint marker in such a comment is the bot's own."""
    user = item.get("user") or {}
    return user.get("type") == "Bot" and str(user.get("login", "")).endswith("[bot]")
