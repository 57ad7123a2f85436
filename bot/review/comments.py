"""The words the App posts: check-run title, summary and text, and inline comment bodies.

Pure functions of the report, so the publisher stays about API calls and the wording can be
tested without GitHub. Every text GitHub caps is built line by line under its limit and says how
much it left out, so truncation never cuts a link or a code block in half.

Whatever comes from the pull request (names, hosts, paths, values quoted in messages, skip
reasons, waiver reasons) is escaped by `bot.github.markdown` and clipped, so it reads as data:
it cannot break out of a code span, mention anyone, link, hide the rest in an HTML comment,
or make a comment longer than GitHub accepts.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import rules as registry
from bot.github import markdown as md
from bot.github.markers import MARKER
from rules.core.model import Finding, Skipped

MAX_OUTPUT_CHARS = 65_535
"""GitHub's limit for a check run's summary and text (422 above it)."""
FIXED_NOTE = "> [!NOTE]\n> **Fixed in {sha}**: this footgun is no longer in the pull request.\n\n"
FIXED_RE = re.compile(r"\*\*Fixed in [0-9a-f]{7,40}\*\*")
ICON = {"error": ":x:", "warning": ":warning:"}


@dataclass(frozen=True)
class Links:
    """Where a reader lands: the file at the head commit, or at the base for a deleted file."""

    repo_url: str
    head_sha: str
    base_sha: str | None = None
    deleted: frozenset[str] = frozenset()

    def file(self, path: str) -> str:
        sha = self.base_sha if path in self.deleted and self.base_sha else self.head_sha
        return f"{self.repo_url}/blob/{sha}/{md.link_path(path)}"

    def line(self, path: str, line: int) -> str:
        return f"{self.file(path)}#L{line}"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def title(findings: list[Finding]) -> str:
    new = [f for f in findings if f.new and not f.waived]
    errors = sum(f.severity == "error" for f in new)
    warnings = len(new) - errors
    if not new:
        head = "No new footguns"
    else:
        head = ", ".join(
            part
            for part in (
                plural(errors, "new error") if errors else "",
                plural(warnings, "new warning") if warnings else "",
            )
            if part
        )
    old = sum(1 for f in findings if not f.new and not f.waived)
    waived = sum(1 for f in findings if f.waived)
    extra = [f"{old} pre-existing" if old else "", f"{waived} waived" if waived else ""]
    extra = [e for e in extra if e]
    return head + (f" ({', '.join(extra)})" if extra else "")


class Capped:
    """Lines under a character budget. Once a line does not fit, nothing after it is added."""

    def __init__(self, limit: int = MAX_OUTPUT_CHARS, reserve: int = 200):
        self.lines: list[str] = []
        self.size = 0
        self.budget = limit - reserve
        self.full = False

    def add(self, line: str) -> bool:
        if self.full or self.size + len(line) + 1 > self.budget:
            self.full = True
            return False
        self.lines.append(line)
        self.size += len(line) + 1
        return True

    def text(self, tail: str = "") -> str:
        body = "\n".join(self.lines)
        return body + (f"\n\n{tail}" if self.full and tail else "")


LISTED = 50
"""Waived and skipped entries listed by name in the summary; the rest are counted."""
TARGETS_IN_COMMENT = 10
"""Targets named in a comment on a finding several targets share; the rest are counted."""
SUGGESTION_LIMIT = 20_000
"""A suggested fix longer than this is left out of the inline comment (it must fit in one)."""


def _list_skipped(out: Capped, skipped: list[Skipped]) -> None:
    for s in skipped[:LISTED]:
        out.add(f"- {md.code(s.path)}: {md.text(s.reason, md.MESSAGE_LIMIT)}")
    if len(skipped) > LISTED:
        out.add(f"- …and {len(skipped) - LISTED} more")
    out.add("")


def summary(
    findings: list[Finding],
    skipped: list[Skipped],
    links: Links,
    notes: Iterable[str] = (),
    changed: Collection[str] = (),
) -> str:
    """What a reviewer reads in ten seconds: counts and notes first, then new findings by file.

    Skipped files the pull request changed come first and by name (`changed`: its paths): they
    are what this review could not judge; other skipped files of the repository follow."""
    new = [f for f in findings if f.new and not f.waived]
    old = [f for f in findings if not f.new and not f.waived]
    waived = [f for f in findings if f.waived]
    out = Capped()
    if new:
        errors = sum(f.severity == "error" for f in new)
        out.add(
            f"**{plural(len(new), 'new finding')}** in this pull request "
            f"({plural(errors, 'error')}, {plural(len(new) - errors, 'warning')})."
        )
    else:
        out.add("No new footguns in this pull request. :tada:")
    out.add("")
    if old:
        by_rule = Counter(f.rule for f in old)
        counts = ", ".join(f"{md.code(rule)} {n}" for rule, n in sorted(by_rule.items()))
        out.add(
            f"**{plural(len(old), 'pre-existing finding')}** (already on the base branch, "
            f"not blocking): {counts}"
        )
        out.add("")
    if waived:
        out.add(f"**{len(waived)} waived:**")
        for f in waived[:LISTED]:
            until = getattr(f.waiver, "until", None)
            reason = getattr(f.waiver, "reason", "")
            deadline = f" until {until}" if until else ""
            approver = getattr(f.waiver, "approver", None)
            deadline += f", approved by @{approver} (waiver #{f.waiver.id})" if approver else ""
            out.add(
                f"- {md.code(f.rule)} {md.code(f.resource)}{deadline}"
                + (f": {md.text(reason, md.REASON_LIMIT)}" if reason else "")
            )
        if len(waived) > LISTED:
            out.add(f"- …and {len(waived) - LISTED} more")
        out.add("")
    changed_skipped = [s for s in skipped if s.path in changed]
    other_skipped = [s for s in skipped if s.path not in changed]
    if changed_skipped:
        out.add(
            f"**{plural(len(changed_skipped), 'changed file')} could not be analysed** "
            "(nothing in them was checked):"
        )
        _list_skipped(out, changed_skipped)
    if other_skipped:
        lead = "other file" if changed_skipped else "file"
        out.add(f"**{plural(len(other_skipped), lead)} skipped:**")
        _list_skipped(out, other_skipped)
    for note in notes:
        out.add(f"_Note: {md.text(note, md.MESSAGE_LIMIT)}._")
        out.add("")
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for finding in new:
        by_path[finding.path].append(finding)
    shown = 0
    for path, items in by_path.items():
        out.add(f"**[{md.text(path)}]({links.file(path)})**")
        for f in items:
            if out.add(
                f"- {ICON[f.severity]} [line {f.line}]({links.line(f.path, f.line)}) "
                f"{md.code(f.rule)} {_message(f)}"
            ):
                shown += 1
        out.add("")
    tail = f"…and {plural(len(new) - shown, 'more new finding')}: see the annotations."
    return out.text(tail).rstrip() + "\n"


def details(findings: list[Finding]) -> str:
    """The check's text: why each rule with a new finding matters and how to fix it."""
    out = Capped()
    rules_seen = sorted({f.rule for f in findings if f.new and not f.waived})
    for rule_id in rules_seen:
        rule = registry.RULES.get(rule_id)
        if rule is None:
            continue
        out.add(f"### `{rule_id}`: {rule.SUMMARY}")
        out.add("")
        out.add(f"**Why it hurts:** {_clean(rule.WHY)}")
        out.add("")
        out.add(f"**Fix:** {_clean(rule.FIX)}")
        out.add("")
    out.add(
        "Waive a finding with a reason and a deadline: comment "
        "`/footgun waive <rule> <Kind>/<namespace>/<name> for 14d because <reason>` "
        "(`/footgun help` lists the commands)."
    )
    return out.text("…more rules did not fit.")


def comment(group: list[Finding], suggestion: bool) -> str:
    """An inline comment on one finding, or on the same finding in several targets (`group`,
    see `publish.same_place`): what is wrong, where it is deployed, why it hurts, the fix, how
    to waive, and a marker per finding."""
    finding = group[0]
    rule = registry.RULES.get(finding.rule)
    parts = [
        f"{ICON[finding.severity]} **{md.code(finding.rule)}** ({finding.severity}): "
        f"{_message(finding)}"
    ]
    targets = [f.target for f in group if f.target]
    if targets:
        parts.append(_targets_line(targets))
    if rule is not None:
        parts.append(f"**Why it hurts:** {_clean(rule.WHY)}")
        parts.append(f"**Fix:** {_clean(rule.FIX)}")
    if suggestion and finding.edit is not None:
        replacement = finding.edit.replacement
        if len(replacement) <= SUGGESTION_LIMIT:
            fence = md.fence(replacement)
            parts.append(f"{fence}suggestion\n{replacement}{chr(10) if replacement else ''}{fence}")
    parts.append(
        "<sub>Intended? Reply `/footgun waive until YYYY-MM-DD because <reason>` to waive it "
        f"(or in the conversation: "
        f"{md.code(f'/footgun waive {finding.rule} {finding.resource} for 14d because <reason>')}"
        ").</sub>"
    )
    parts.append("\n".join(MARKER.format(f.fingerprint) for f in group))
    return "\n\n".join(parts)


def _targets_line(targets: list[str]) -> str:
    shown = ", ".join(md.code(t) for t in targets[:TARGETS_IN_COMMENT])
    more = len(targets) - TARGETS_IN_COMMENT
    if len(targets) == 1:
        return f"In target {shown}."
    return f"In {len(targets)} targets: {shown}{f' and {more} more' if more > 0 else ''}."


def review_body(count: int, listed: list[Finding], links: Links, limit: int = 60_000) -> str:
    """The review's own text: a headline, and the findings that could not go inline."""
    out = Capped(limit)
    out.add(f"istio-footgun-bot found {plural(count, 'new footgun')} in this push.")
    if listed:
        out.add("")
        out.add("Not on a changed line (or over the inline-comment limit):")
        for f in listed:
            out.add(
                f"- {ICON[f.severity]} [{md.text(f.path)} line {f.line}]"
                f"({links.line(f.path, f.line)}) {md.code(f.rule)} {_message(f)} "
                f"{MARKER.format(f.fingerprint)}"
            )
    return out.text("…more findings did not fit; see the check run.")


def mark_fixed(body: str, sha: str) -> str | None:
    """The body with a "Fixed in" note prepended, or None when it already has one."""
    if FIXED_RE.search(body):
        return None
    return FIXED_NOTE.format(sha=sha[:7]) + body


def _message(finding: Finding) -> str:
    """A finding's message: the rule's words around names from the pull request, as data."""
    return md.text(finding.message, md.MESSAGE_LIMIT)


def _clean(text: str) -> str:
    return " ".join(str(text).split())
