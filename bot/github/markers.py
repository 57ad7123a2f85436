"""The bot's hidden markers in its own comments, and how to tell its comments from anyone else's.

Publishing, waiver notes and slash-command replies all find their earlier comments by these
markers, so the markers live here, below all three.
"""

from __future__ import annotations

import re
from typing import Any

MARKER = "<!-- footgun:fingerprint={} -->"
MARKER_RE = re.compile(r"<!-- footgun:fingerprint=([0-9a-f]+) -->")


def fingerprints_in(text: str | None) -> set[str]:
    return set(MARKER_RE.findall(text or ""))


def posted_by_an_app(item: dict[str, Any]) -> bool:
    """Whether a comment was posted by a GitHub App (a `Bot` user named `...[bot]`): a person
    cannot forge that, so a fingerprint marker in such a comment is the bot's own."""
    user = item.get("user") or {}
    return user.get("type") == "Bot" and str(user.get("login", "")).endswith("[bot]")
