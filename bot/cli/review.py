"""`footgun review`: the App's inline review and check run, posted from a workflow.

A team that cannot host the App still gets its review: the workflow's own token
(`GITHUB_TOKEN`, with `pull-requests: write` and `checks: write`) posts the same check run
`Istio footguns` and the same inline comments, through the App's publishing code
(`bot.review.publish`), so both stay idempotent the same way: one check run per head SHA found
and updated again, one comment per finding fingerprint, never reposted when the workflow runs
again. The change set comes from the checkout instead of the API: the files the pull request
changes and the lines of its diff (`git diff BASE...HEAD`, the merge base, as GitHub shows a
pull request), the revisions read through git as `footgun diff` reads them.

Waivers come from the repository's config file only (there is no database of slash-command
waivers here). On a fork's pull request GitHub hands the workflow a read-only token: the step
says so, posts nothing, and the annotations and the job summary of the analysis step carry the
findings. A 403 on the first write (permissions not granted) falls back the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.cli import action

if TYPE_CHECKING:
    from bot.github.changeset import ChangeSet, PullRequest
    from rules.core.engine import Report

ACTIONS_APP = "github-actions"
"""The app that owns check runs created with a workflow's GITHUB_TOKEN (on GHES too)."""
STATUS = {"A": "added", "M": "modified", "D": "removed", "R": "renamed", "C": "copied"}
PERMISSIONS_HINT = (
    "give the job `permissions: {pull-requests: write, checks: write}` (and allow workflows to "
    "write in the repository's Actions settings)"
)

DiffReport = Callable[[str, str, str | None, Callable[[str], bool] | None], "Report"]
"""`footgun diff`'s analysis of (base, head, config file, which paths), passed in by the CLI."""


@dataclass(frozen=True)
class Outcome:
    posted: bool
    message: str


def pull_from_event(event: dict[str, Any]) -> PullRequest:
    from bot.github.changeset import PullRequest

    data = event.get("pull_request")
    if not isinstance(data, dict):
        raise action.ActionError(
            "footgun review needs a pull_request event (GITHUB_EVENT_PATH holds none)"
        )
    try:
        return PullRequest.from_json(data)
    except (KeyError, TypeError):
        raise action.ActionError("the pull_request event lacks its base or head") from None


def in_checkout(sha: str, what: str) -> str:
    from bot.cli import sources

    try:
        return sources.resolve(sha)
    except sources.SourceError:
        raise action.ActionError(
            f"the {what} commit {sha[:12]} of the pull request is not in this checkout: check "
            "out with `fetch-depth: 0` so that footgun review can read it"
        ) from None


def local_change(pull: PullRequest) -> ChangeSet:
    """The change set the publisher needs, from git: changed files, diff lines, head files."""
    from bot.cli import sources
    from bot.github.changeset import ChangedFile, ChangeSet
    from bot.github.diffs import right_side_lines
    from rules.core.config import Config

    quiet = ["-c", "core.quotepath=off"]
    listing = sources.git_output(
        [*quiet, "diff", "--name-status", "-z", "-M", f"{pull.base_sha}...{pull.head_sha}"]
    ).split(b"\0")
    files, i = [], 0
    while i < len(listing) and listing[i]:
        status = listing[i].decode()
        if status[0] in "RC":
            old, new = listing[i + 1].decode(), listing[i + 2].decode()
            files.append(ChangedFile(new, STATUS[status[0]], None, old))
            i += 3
        else:
            path = listing[i + 1].decode()
            files.append(ChangedFile(path, STATUS.get(status[0], "modified"), None))
            i += 2
    diff = sources.git_output(
        [*quiet, "diff", "-M", "--no-color", "--no-ext-diff", f"{pull.base_sha}...{pull.head_sha}"]
    ).decode("utf-8", "replace")
    head = sources.from_git(pull.head_sha)
    return ChangeSet(pull, files, right_side_lines(diff), Config(), head=head)


async def publish(
    gh: Any, pull: PullRequest, report: Report, change: ChangeSet, repo_url: str
) -> Outcome:
    """Post the check run and the review with the App's own code; fall back on a 403."""
    from bot.github.client import GitHubError
    from bot.review import publish as app
    from bot.review.comments import Links

    deleted = frozenset(f.path for f in change.files if f.status == "removed")
    links = Links(repo_url, pull.head_sha, pull.base_sha, deleted)
    for finding in report.findings:
        finding.in_diff = finding.line in change.diff_lines.get(finding.path, ())
    repo = pull.repository
    try:
        check = await app.start_check(gh, repo, pull.head_sha, app_slug=ACTIONS_APP)
        conclusion = await app.conclude_check(
            gh, repo, check, report.findings, change, report.skipped, links
        )
    except GitHubError as exc:
        if exc.status != 403:
            raise
        return Outcome(
            False,
            f"GitHub refused the token ({exc.message}): no check run or inline review was "
            f"posted; {PERMISSIONS_HINT}",
        )
    try:
        result = await app.publish_review(
            gh, repo, pull.number, report.findings, change, links, report.skipped
        )
    except GitHubError as exc:
        if exc.status != 403:
            raise
        return Outcome(
            False,
            f"the check run is posted ({conclusion}), but GitHub refused the review "
            f"({exc.message}): {PERMISSIONS_HINT}",
        )
    return Outcome(
        True,
        f"check run `Istio footguns`: {conclusion}; review: {len(result.inline)} inline, "
        f"{len(result.file_level)} file-level, {len(result.in_body)} in the review body, "
        f"{len(result.fixed)} marked fixed",
    )


def run(env: dict[str, str], diff: DiffReport, write: Callable[[str], Any]) -> int:
    """The whole step: analyse the pull request, publish or fall back, report how it went."""
    from bot import logs
    from bot.cli.output.github import command
    from bot.github.client import DEFAULT_API_URL, GitHubError, token_client
    from bot.queue.jobs import RetryableError

    event = action.read_event(env.get("GITHUB_EVENT_PATH"))
    pull = pull_from_event(event)
    base = in_checkout(pull.base_sha, "base")
    head = in_checkout(pull.head_sha, "head")
    # The action's `config` and `paths` inputs judge the review as they judge the analysis.
    config, _ = action.config_at_base(
        env.get("FOOTGUN_CONFIG", "").strip() or None,
        base,
        env.get("RUNNER_TEMP") or "/tmp",  # noqa: S108
    )
    wanted = action.wanted_paths(env.get("FOOTGUN_PATHS", "").split() or ["."])
    report = diff(base, head, config, wanted)
    failing = 1 if report.failing(new_only=True) else 0
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repo_url = (((event.get("pull_request") or {}).get("base") or {}).get("repo") or {}).get(
        "html_url"
    ) or f"{server}/{pull.repository}"

    token = env.get("GITHUB_TOKEN", "")
    if pull.is_fork:
        outcome = Outcome(
            False,
            f"the pull request comes from a fork ({pull.head_repository}), and GitHub gives "
            "workflows on a fork's pull request a read-only token",
        )
    elif not token:
        outcome = Outcome(False, "no token: set the `token` input or GITHUB_TOKEN")
    else:
        logs.register_secret(token)
        gh = token_client(token, env.get("GITHUB_API_URL") or DEFAULT_API_URL)
        try:
            outcome = asyncio.run(
                _publish_and_close(gh, pull, report, local_change(pull), repo_url)
            )
        except (GitHubError, RetryableError) as exc:
            raise action.ActionError(f"the review could not be posted: {exc}") from None

    if outcome.posted:
        write(f"footgun: {outcome.message}\n")
        summary = f"\n> **Inline review posted** with the workflow's token: {outcome.message}.\n"
        state = f"posted: {outcome.message}"
    else:
        reason = (
            f"No inline review: {outcome.message}. The findings are in the annotations and the "
            "job summary."
        )
        write(command("notice", reason, title="footgun review") + "\n")
        summary = f"\n> **{reason}**\n"
        state = f"skipped: {outcome.message}"
    action.append_summary(env.get("GITHUB_STEP_SUMMARY"), summary)
    action.write_outputs(env.get("GITHUB_OUTPUT"), {"review": state})
    return failing


async def _publish_and_close(
    gh: Any, pull: PullRequest, report: Report, change: ChangeSet, repo_url: str
) -> Outcome:
    try:
        return await publish(gh, pull, report, change, repo_url)
    finally:
        await gh.client.aclose()
