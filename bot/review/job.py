"""The `review` job: analyse a pull request at one head SHA and publish the outcome.

The job queue runs `run(ctx)` (at least once: every step below is safe to repeat) and, when it
stops retrying, `give_up(ctx, error)`, which concludes the check so the PR is not left waiting.
Payload: `{"installation_id", "repository": "owner/name", "pull_number", "head_sha",
"base_sha", "reason"}`.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from bot import metrics
from bot.github import changeset
from bot.queue import jobs
from bot.review import publish, unconcluded
from bot.review.comments import Links
from bot.waivers import notes as waiver_notes
from bot.waivers import reported
from bot.waivers import store as stored_waivers

CONFIG_HELP = (
    "The configuration is read from the pull request's base branch, so that a pull request "
    "cannot switch off its own check. Fix `.github/footgun.yml` there, then comment "
    "`/footgun recheck`."
)


async def run(ctx: Any) -> None:
    payload = ctx.job.payload
    repo, number, head_sha = payload["repository"], payload["pull_number"], payload["head_sha"]
    gh = ctx.github.installation(payload["installation_id"])
    data = await gh.get(f"repos/{repo}/pulls/{number}")
    pull = changeset.PullRequest.from_json(data)
    if pull.head_sha != head_sha:
        ctx.log.info(
            f"review {repo}#{number} skipped: head {head_sha[:7]} is stale "
            f"(now {pull.head_sha[:7]})"
        )
        if ctx.job.attempts > 1:  # an earlier attempt may have started the check
            await superseded(ctx, pull.head_sha)
        return
    check = await publish.start_check(gh, repo, head_sha, ctx.github.app_id)
    links = Links(data["base"]["repo"]["html_url"], head_sha)
    try:
        change = await changeset.fetch(gh, pull)
    except changeset.ConfigInvalid as exc:
        await publish.conclude_with_message(
            gh, repo, check, "Invalid .github/footgun.yml", f"{exc}\n\n{CONFIG_HELP}"
        )
        return

    if not change.relevant:
        await reported.record(ctx.sessions, repo, number, head_sha, [])
        await publish.conclude_with_message(
            gh,
            repo,
            check,
            "No Istio manifests changed",
            "This pull request changes no Kubernetes or Istio manifest the rules read.",
            conclusion="success",
        )
        await publish.publish_review(gh, repo, number, [], change, links)
        return

    deleted = frozenset(f.path for f in change.files if f.status == "removed")
    links = Links(links.repo_url, head_sha, pull.base_sha, deleted)
    granted = await stored_waivers.for_review(ctx.sessions, repo, number)
    report = await changeset.analyse(
        change.head,
        change.base,
        change.config,
        change.parsed,
        waivers=granted,
        today=dt.datetime.now(dt.UTC).date(),
    )
    change.notes.extend(n for n in report.notes if n not in change.notes)
    for finding in report.findings:
        finding.in_diff = finding.line in change.diff_lines.get(finding.path, ())
    # What waive commands resolve against, kept before publishing: the findings do not depend
    # on whether GitHub takes the check run or the review.
    await reported.record(ctx.sessions, repo, number, head_sha, report.findings)
    await jobs.still_owned()  # a worker whose job was taken over publishes nothing
    conclusion = await publish.conclude_check(
        gh, repo, check, report.findings, change, report.skipped, links
    )
    for finding in report.findings:
        if finding.new and not finding.waived:
            metrics.FINDINGS.labels(finding.rule).inc()
    await jobs.still_owned()
    result = await publish.publish_review(
        gh, repo, number, report.findings, change, links, report.skipped
    )
    await waiver_notes.sync_if_needed(ctx.sessions, gh, repo, number, report.findings)
    ctx.log.info(
        f"review {repo}#{number} at {head_sha[:7]}: {conclusion}; {len(result.inline)} inline, "
        f"{len(result.file_level)} file, {len(result.in_body)} in body, "
        f"{len(result.fixed)} marked fixed"
    )


async def superseded(ctx: Any, head_sha: str) -> None:
    """The review is skipped after an earlier attempt ran: the head moved on to `head_sha`. That
    attempt may have started the check run of the old head; the check sweep concludes it
    `skipped` (and creates none if there is none)."""
    if ctx.sessions is None:
        return
    payload = ctx.job.payload
    await unconcluded.superseded(
        ctx.sessions,
        payload["installation_id"],
        payload["repository"],
        payload["head_sha"],
        head_sha,
    )


async def give_up(ctx: Any, error: str | BaseException) -> None:
    """Conclude the check with what went wrong, so the pull request does not wait forever."""
    payload = ctx.job.payload
    repo = payload["repository"]
    gh = ctx.github.installation(payload["installation_id"])
    reason = " ".join(str(error).split()) or type(error).__name__
    try:
        check = await publish.start_check(gh, repo, payload["head_sha"], ctx.github.app_id)
        await publish.conclude_with_message(
            gh,
            repo,
            check,
            "The review could not run",
            f"istio-footgun-bot gave up after {ctx.job.attempts} attempts: {reason}\n\n"
            "Comment `/footgun recheck` on the pull request to try again.",
        )
    except Exception:
        if ctx.sessions is not None:  # GitHub failed this too: a sweep concludes it later
            await unconcluded.remember(
                ctx.sessions, payload["installation_id"], repo, payload["head_sha"], reason
            )
        raise


jobs.HANDLERS["review"] = sys.modules[__name__]
