"""Who may waive what, and until when: the decisions behind `/footgun waive`, without I/O.

The caller supplies today's date, the commenter's permission (from GitHub's collaborator
permission endpoint) and the repository's waiver settings (from the base branch config), so
every refusal is reproducible in a test and explained to the user in one sentence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.waivers.grammar import Waive
from rules.core.config import WaiverSettings

# GitHub's repository roles, weakest first. `role_name` of the permission endpoint uses these.
ROLE_ORDER = ("none", "read", "triage", "write", "maintain", "admin")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    until: dt.date | None = None

    @property
    def expires_at(self) -> dt.datetime | None:
        """The end of the deadline day, UTC: the first instant the waiver no longer holds."""
        if self.until is None:
            return None
        return expires_at(self.until)


def expires_at(until: dt.date) -> dt.datetime:
    return dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def role_allows(role: str | None, required: str) -> bool:
    """Whether a repository role reaches the required one (unknown roles reach nothing)."""
    if role not in ROLE_ORDER or required not in ROLE_ORDER:
        return False
    return ROLE_ORDER.index(role) >= ROLE_ORDER.index(required)


def decide_waiver(
    command: Waive,
    *,
    today: dt.date,
    commenter: str,
    commenter_role: str | None,
    pr_author: str | None,
    settings: WaiverSettings,
) -> Decision:
    """Allow or refuse a waiver, with the reason a maintainer can act on."""
    if not role_allows(commenter_role, settings.permission):
        return Decision(
            False,
            f"@{commenter} needs `{settings.permission}` permission on this repository to waive "
            f"findings (has `{commenter_role or 'none'}`).",
        )
    if pr_author and commenter.lower() == pr_author.lower() and not settings.allow_self_waive:
        return Decision(
            False,
            "Waiving a finding in your own pull request is not allowed here: ask another "
            "maintainer (or set `waivers.allow_self_waive: true` in `.github/footgun.yml`).",
        )
    until = command.until or today + dt.timedelta(days=command.days or 0)
    if until == dt.date.max:
        return Decision(
            False,
            f"The deadline {until.isoformat()} has no end of day to expire at: pick an earlier one.",
        )
    if until < today:
        return Decision(False, f"The deadline {until.isoformat()} is in the past.")
    if (until - today).days > settings.max_days:
        latest = today + dt.timedelta(days=settings.max_days)
        return Decision(
            False,
            f"The deadline {until.isoformat()} is more than {settings.max_days} days away; "
            f"the latest allowed is {latest.isoformat()}.",
        )
    return Decision(True, "ok", until)


# -- who may ask at all: free information first --------------------------------------------------

ASSOCIATED = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
"""`author_association` values of people who may hold a repository role. The others (CONTRIBUTOR,
FIRST_TIME_CONTRIBUTOR, FIRST_TIMER, NONE) usually mean no role, but not always: GitHub computes
the field without a viewer, so a member whose organisation membership is private shows as
CONTRIBUTOR or NONE. They are looked up too, under the smaller quota below."""
COMMENTS_PER_HOUR = 20
"""Comments with commands answered per user, repository and hour, for associated commenters."""
OUTSIDER_COMMENTS_PER_HOUR = 5
"""The same for everyone else (each costs at most one permission look-up)."""


def role_from_association(association: str | None) -> str | None:
    """The repository role the webhook already tells, or None when it must be looked up.

    OWNER is the account that owns the repository (admin); MANNEQUIN is a placeholder for an
    imported, unclaimed account, which holds no role."""
    if association == "OWNER":
        return "admin"
    if association == "MANNEQUIN":
        return "none"
    return None


def comments_per_hour(association: str | None) -> int:
    return COMMENTS_PER_HOUR if association in ASSOCIATED else OUTSIDER_COMMENTS_PER_HOUR


def may_recheck(
    commenter: str, commenter_role: str | None, pr_author: str | None, settings: WaiverSettings
) -> Decision:
    """`/footgun recheck` re-runs a whole review: for the pull request's author and for those
    who may waive (everyone is rate limited besides)."""
    if pr_author and commenter.lower() == pr_author.lower():
        return Decision(True, "ok")
    if role_allows(commenter_role, settings.permission):
        return Decision(True, "ok")
    return Decision(
        False,
        f"@{commenter} needs `{settings.permission}` permission on this repository (has "
        f"`{commenter_role or 'none'}`), or to be the pull request's author, to run the check again.",
    )
