"""Publishing a review to GitHub, idempotently: a job may run twice and a PR is pushed often.

- One check run `Istio footguns` per head SHA: an existing one is found and updated, never
  duplicated; annotations go 50 per request (GitHub appends them), skipping those a previous
  attempt already sent.
- One inline comment per fingerprint per pull request: each carries a hidden marker, and the
  markers already on the PR are never posted again. The same finding in several targets (one
  base file, several overlays) is one comment naming the targets, with a marker for each.
  Comments whose findings are all gone are marked fixed, once.
- One review per push (per head SHA, however often the job runs), and none when there is
  nothing new to say.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.github import markers
from bot.github.changeset import ChangeSet
from bot.github.client import GitHubError, Installation
from bot.review import comments as render
from bot.review.comments import Links
from rules.core.engine import Report
from rules.core.model import Finding, Skipped

log = logging.getLogger(__name__)

CHECK_NAME = "Istio footguns"
ANNOTATIONS_PER_REQUEST = 50
"""GitHub rejects more than 50 annotations in one create or update request (422)."""
MAX_INLINE_COMMENTS = 30
"""A review with more comments than this buries the PR; the rest are listed in its body."""
MAX_FILE_COMMENTS = 10
"""File-level comments are one request each, and content-creating requests are rate limited."""


@dataclass
class ReviewResult:
    inline: list[Finding] = field(default_factory=list)
    file_level: list[Finding] = field(default_factory=list)
    in_body: list[Finding] = field(default_factory=list)
    fixed: list[int] = field(default_factory=list)
    review_id: int | None = None


# -- check run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckRun:
    id: int
    annotations: int = 0
    """Annotations an earlier attempt already added (GitHub keeps appending them)."""


async def start_check(
    gh: Installation, repo: str, head_sha: str, app_id: Any = None, *, app_slug: str | None = None
) -> CheckRun:
    """The check run for this head SHA, found (and set back to `in_progress`) or created.

    Only a run of the same app can be updated (GitHub answers 403 otherwise), so a run is ours
    by the app's ID (the App knows it) or its slug (a workflow's token cannot ask for its ID:
    its app is `github-actions`, whose ID differs on GitHub Enterprise Server)."""
    runs = await gh.paginate(
        f"repos/{repo}/commits/{head_sha}/check-runs",
        {"check_name": CHECK_NAME, "filter": "all"},
        key="check_runs",
    )
    ours = [r for r in runs if _made_by(r, app_id, app_slug)]
    if ours:
        run = max(ours, key=lambda r: r["id"])
        if run.get("status") != "in_progress":
            await gh.json(
                "PATCH", f"repos/{repo}/check-runs/{run['id']}", json={"status": "in_progress"}
            )
        return CheckRun(run["id"], (run.get("output") or {}).get("annotations_count") or 0)
    run = await gh.json(
        "POST",
        f"repos/{repo}/check-runs",
        json={"name": CHECK_NAME, "head_sha": head_sha, "status": "in_progress"},
    )
    return CheckRun(run["id"])


def _made_by(run: dict[str, Any], app_id: Any, app_slug: str | None) -> bool:
    app = run.get("app") or {}
    if app_id is not None and str(app.get("id")) != str(app_id):
        return False
    return app_slug is None or app.get("slug") == app_slug


async def conclude_check(
    gh: Installation,
    repo: str,
    run: CheckRun,
    findings: list[Finding],
    change: ChangeSet,
    skipped: list[Skipped],
    links: Links,
) -> str:
    """Complete the check: `failure` when a new unwaived error exists, else `success`."""
    conclusion = "failure" if Report(findings).failing(new_only=True) else "success"
    output = {
        "title": render.title(findings),
        "summary": render.summary(findings, skipped, links, change.notes, change.changed_paths),
        "text": render.details(findings),
    }
    annotations = [
        _annotation(f) for f in findings if f.new and not f.waived and f.path in _head_paths(change)
    ]
    if run.annotations:
        annotations = await _unsent(gh, repo, run.id, annotations)
    batches = [
        annotations[i : i + ANNOTATIONS_PER_REQUEST]
        for i in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)
    ] or [[]]
    for index, batch in enumerate(batches):
        body: dict[str, Any] = {"output": {**output, "annotations": batch}}
        if index == len(batches) - 1:
            body.update(status="completed", conclusion=conclusion)
        await gh.json("PATCH", f"repos/{repo}/check-runs/{run.id}", json=body)
    return conclusion


async def conclude_with_message(
    gh: Installation,
    repo: str,
    run: CheckRun,
    title: str,
    summary: str,
    conclusion: str = "failure",
) -> None:
    """Complete the check with a plain explanation (bad config, gave up after retries)."""
    capped = render.Capped()
    for line in summary.splitlines():
        capped.add(line)
    await gh.json(
        "PATCH",
        f"repos/{repo}/check-runs/{run.id}",
        json={
            "status": "completed",
            "conclusion": conclusion,
            "output": {"title": title[:250], "summary": capped.text("…(truncated)")},
        },
    )


def _head_paths(change: ChangeSet) -> set[str]:
    return {f.path for f in change.head} | change.changed_paths


def _annotation(f: Finding) -> dict[str, Any]:
    return {
        "path": f.path,
        "start_line": f.line,
        "end_line": f.line,
        "start_column": f.column,
        "end_column": f.column,
        "annotation_level": "failure" if f.severity == "error" else "warning",
        "title": f.rule,
        "message": f.message[:60_000],
    }


async def _unsent(
    gh: Installation, repo: str, run_id: int, annotations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Drop annotations an interrupted earlier attempt already added (GitHub only appends)."""
    existing = await gh.paginate(f"repos/{repo}/check-runs/{run_id}/annotations")
    sent = {(a["path"], a["start_line"], a["message"]) for a in existing}
    return [a for a in annotations if (a["path"], a["start_line"], a["message"]) not in sent]


# -- review -------------------------------------------------------------------------------------


async def publish_review(
    gh: Installation,
    repo: str,
    number: int,
    findings: list[Finding],
    change: ChangeSet,
    links: Links,
    skipped: Sequence[Skipped] = (),
) -> ReviewResult:
    """Comment on what is new in this push; mark comments whose finding went away as fixed."""
    result = ReviewResult()
    ours = markers.posted_by_an_app
    comments = [c for c in await gh.paginate(f"repos/{repo}/pulls/{number}/comments") if ours(c)]
    reviews = [r for r in await gh.paginate(f"repos/{repo}/pulls/{number}/reviews") if ours(r)]
    posted = set()
    for item in [*comments, *reviews]:
        posted |= markers.fingerprints_in(item.get("body"))

    await _mark_fixed(
        gh, repo, comments, findings, {s.path for s in skipped}, links.head_sha, result
    )

    todo = [f for f in findings if f.new and not f.waived and f.fingerprint not in posted]
    if not todo:
        return result
    if any(r.get("commit_id") == links.head_sha for r in reviews):
        # One review per push: a re-run on the same head (or one whose earlier review GitHub
        # took without every comment) adds none; the check run lists every finding.
        log.info(
            "a review of %s exists; %d new findings stay in the check run",
            links.head_sha[:7],
            len(todo),
        )
        return result
    inline: list[dict[str, Any]] = []
    file_level: list[list[Finding]] = []
    for group in same_place(todo):
        placed = _placement(group, change)
        if placed is not None and len(inline) < MAX_INLINE_COMMENTS:
            inline.append(placed)
            result.inline.extend(group)
        elif (
            placed is None
            and group[0].path in change.changed_paths
            and len(file_level) < MAX_FILE_COMMENTS
        ):
            file_level.append(group)
            result.file_level.extend(group)
        else:
            result.in_body.extend(group)

    body = render.review_body(len(todo), result.in_body, links)
    try:
        review = await gh.json(
            "POST",
            f"repos/{repo}/pulls/{number}/reviews",
            json={
                "commit_id": links.head_sha,
                "event": "COMMENT",
                "body": body,
                "comments": inline,
            },
        )
    except GitHubError as exc:
        if exc.status != 422 or not inline:
            raise
        # A line GitHub cannot resolve fails the whole review: say it all in the body instead.
        log.warning("review comments rejected (%s); posting them in the review body", exc.message)
        result.in_body = result.inline + result.in_body
        result.inline = []
        body = render.review_body(len(todo), result.in_body, links)
        review = await gh.json(
            "POST",
            f"repos/{repo}/pulls/{number}/reviews",
            json={
                "commit_id": links.head_sha,
                "event": "COMMENT",
                "body": body,
            },
        )
    result.review_id = review["id"]
    for group in file_level:
        try:
            await gh.json(
                "POST",
                f"repos/{repo}/pulls/{number}/comments",
                json={
                    "commit_id": links.head_sha,
                    "path": group[0].path,
                    "subject_type": "file",
                    "body": render.comment(group, suggestion=False),
                },
            )
        except GitHubError as exc:
            log.warning("file comment on %s rejected: %s", group[0].path, exc.message)
            result.file_level = [f for f in result.file_level if f not in group]
    return result


def same_place(findings: list[Finding]) -> list[list[Finding]]:
    """Findings grouped by what a comment on them says: the same rule and message on the same
    line, found in several targets (a base file that three overlays deploy), in order."""
    groups: dict[tuple[str, int, str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.path, f.line, f.rule, f.message), []).append(f)
    return list(groups.values())


def _placement(group: list[Finding], change: ChangeSet) -> dict[str, Any] | None:
    """The inline comment for findings on a head-side diff line, with a suggestion if it fits."""
    f = group[0]
    lines = change.diff_lines.get(f.path, set())
    if f.line not in lines:
        return None
    edit = f.edit
    comment: dict[str, Any] = {"path": f.path, "side": "RIGHT", "line": f.line}
    if edit is not None and all(n in lines for n in range(edit.start_line, edit.end_line + 1)):
        comment["line"] = edit.end_line
        if edit.start_line != edit.end_line:
            comment.update(start_line=edit.start_line, start_side="RIGHT")
        comment["body"] = render.comment(group, suggestion=True)
    else:
        comment["body"] = render.comment(group, suggestion=False)
    return comment


async def _mark_fixed(
    gh: Installation,
    repo: str,
    comments: list[dict[str, Any]],
    findings: list[Finding],
    unreadable: set[str],
    head_sha: str,
    result: ReviewResult,
) -> None:
    """A finding is fixed when it is gone, not when its file merely became unreadable."""
    present = {f.fingerprint for f in findings}
    for c in comments:
        marks = markers.fingerprints_in(c.get("body"))
        if not marks or marks & present or c.get("path") in unreadable or c.get("in_reply_to_id"):
            continue
        body = render.mark_fixed(c["body"], head_sha)
        if body is None:
            continue
        await gh.json("PATCH", f"repos/{repo}/pulls/comments/{c['id']}", json={"body": body})
        result.fixed.append(c["id"])
