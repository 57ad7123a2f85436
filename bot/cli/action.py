"""`footgun action`: what the GitHub Action's analysis step runs, from the runner's environment.

The runner describes the job in environment variables (GitHub's documented defaults:
`GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`, `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`,
`GITHUB_STEP_SUMMARY`, `GITHUB_OUTPUT`, `RUNNER_TEMP`), and `action.yml` passes the inputs as
`FOOTGUN_*` variables, never inside a script. On a `pull_request` event the change is judged
against the base commit the event names (`footgun diff`); on anything else the checkout is
checked (`footgun check`). The step then writes, from one analysis:

- annotations (workflow commands on stdout, ranked and capped as GitHub shows them),
- the job summary (every finding, grouped by file, linked to the lines),
- SARIF for code scanning (when asked), with its category,
- step outputs (counts, whether the job should fail, where the SARIF is).

Exit 0 or 1 as `fail-on` decides; 2 for bad input, with a one-line message.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from rules.core.engine import Report

FAIL_ON = ("error", "warning", "never")
PULL_REQUEST_EVENTS = ("pull_request",)
"""Events whose payload names the change's base commit. (`pull_request_target` checks out the
base branch, not the change: analysing it would judge the wrong code.)"""


class ActionError(Exception):
    """The job is set up in a way the step cannot work with; the message says what to change."""


@dataclass(frozen=True)
class Runner:
    """What the runner and `action.yml` tell the step, read once."""

    event_name: str
    event: dict[str, Any]
    server_url: str
    repository: str
    sha: str
    summary_file: str | None
    output_file: str | None
    temp: str
    config: str | None
    paths: list[str]
    fail_on: str
    sarif: bool
    sarif_category: str

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> Runner:
        env = dict(os.environ if env is None else env)
        fail_on = env.get("FOOTGUN_FAIL_ON", "error").strip().lower() or "error"
        if fail_on not in FAIL_ON:
            raise ActionError(f"fail-on: '{fail_on}' is not one of {', '.join(FAIL_ON)}")
        sarif = env.get("FOOTGUN_SARIF", "false").strip().lower()
        if sarif not in ("true", "false", ""):
            raise ActionError(f"sarif: '{sarif}' is not true or false")
        return cls(
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            event=read_event(env.get("GITHUB_EVENT_PATH")),
            server_url=env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/"),
            repository=env.get("GITHUB_REPOSITORY", ""),
            sha=env.get("GITHUB_SHA", ""),
            summary_file=env.get("GITHUB_STEP_SUMMARY") or None,
            output_file=env.get("GITHUB_OUTPUT") or None,
            temp=env.get("RUNNER_TEMP") or "/tmp",  # noqa: S108 (the runner always sets it)
            config=env.get("FOOTGUN_CONFIG", "").strip() or None,
            paths=env.get("FOOTGUN_PATHS", "").split() or ["."],
            fail_on=fail_on,
            sarif=sarif == "true",
            sarif_category=env.get("FOOTGUN_SARIF_CATEGORY", "").strip() or "istio-footguns",
        )

    @property
    def pull_request(self) -> dict[str, Any] | None:
        pull = self.event.get("pull_request")
        if self.event_name in PULL_REQUEST_EVENTS and isinstance(pull, dict):
            return pull
        return None

    def link(self, sha: str, path: str, line: int | None) -> str | None:
        if not self.repository or not sha:
            return None
        url = f"{self.server_url}/{self.repository}/blob/{sha}/{quote(path, safe='/')}"
        return url if line is None else f"{url}#L{line}"


def read_event(path: str | None) -> dict[str, Any]:
    """The event payload the runner wrote; {} when there is none (a local run)."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ActionError(f"cannot read the event payload {path}: {exc}") from None
    return data if isinstance(data, dict) else {}


def base_of(pull: dict[str, Any]) -> str:
    """The base commit a pull request event names, checked to be in the checkout."""
    from bot.cli import sources

    sha = str((pull.get("base") or {}).get("sha") or "")
    if not sha:
        raise ActionError("the pull_request event names no base commit")
    try:
        sources.resolve(sha)
    except sources.SourceError:
        shallow = sources.is_shallow()
        raise ActionError(
            f"the base commit {sha[:12]} of the pull request is not in this checkout"
            + (" (a shallow clone)" if shallow else "")
            + ": check out with `fetch-depth: 0` (actions/checkout fetches one commit by "
            "default) so that footgun diff can read it"
        ) from None
    return sha


def config_at_base(path: str | None, base: str, temp: str) -> tuple[str | None, list[str]]:
    """The `config` input as the pull request's base commit holds it (a file in RUNNER_TEMP),
    and what to tell the reader. A pull request must not choose the config that judges it, so
    the file is never read from the checkout; where the base has none, the base's
    `.github/footgun.yml` (or the defaults) applies, as without the input."""
    from bot.cli import sources

    if not path:
        return None, []
    name = os.path.normpath(path).replace(os.sep, "/")
    if name.startswith("../") or name.startswith("/"):
        raise ActionError(f"config: '{path}' is outside the repository")
    try:
        data = sources.git_output(["show", f"{base}:{name}"])
    except sources.SourceError:
        return None, [
            f"The config file `{name}` is not in the base commit {base[:7]}, so the base's "
            "`.github/footgun.yml` (or the defaults) judged the change: a pull request cannot "
            "choose its own config."
        ]
    copy = os.path.join(temp, "footgun-base-config.yml")
    Path(copy).write_bytes(data)
    return copy, []


def wanted_paths(paths: list[str]) -> Callable[[str], bool] | None:
    """A filter for repository paths under the `paths` input; None when it is the whole tree."""
    prefixes = []
    for raw in paths:
        cleaned = os.path.normpath(raw).replace(os.sep, "/")
        if cleaned in (".", ""):
            return None
        if cleaned.startswith("../") or cleaned.startswith("/"):
            raise ActionError(f"paths: '{raw}' is outside the repository")
        prefixes.append(cleaned)

    def wanted(path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in prefixes)

    return wanted


def failing(report: Report, compared: bool, fail_on: str) -> list[Any]:
    """The findings that fail the job under `fail-on`."""
    if fail_on == "never":
        return []
    levels = ("error",) if fail_on == "error" else ("error", "warning")
    return [
        f
        for f in report.findings
        if not f.waived and f.severity in levels and (f.new or not compared)
    ]


def outputs(report: Report, compared: bool, failed: bool, sarif_file: str | None) -> dict[str, str]:
    unwaived = [f for f in report.findings if not f.waived]
    new = [f for f in unwaived if f.new or not compared]
    values = {
        "findings": len(unwaived),
        "errors": sum(f.severity == "error" for f in unwaived),
        "warnings": sum(f.severity == "warning" for f in unwaived),
        "new-errors": sum(f.severity == "error" for f in new),
        "new-warnings": sum(f.severity == "warning" for f in new),
        "waived": len(report.findings) - len(unwaived),
        "skipped": len(report.skipped),
        "failed": "true" if failed else "false",
        "mode": "diff" if compared else "check",
        "sarif-file": sarif_file or "",
    }
    return {key: str(value) for key, value in values.items()}


def write_outputs(path: str | None, values: dict[str, str]) -> None:
    """Append step outputs in the runner's `name<<DELIMITER` form (safe for any value)."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in values.items():
            delimiter = f"footgun_{secrets.token_hex(8)}"
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def append_summary(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def summary_budget(path: str | None) -> int:
    """What is left of the step summary's 1 MiB once what the step already wrote is counted."""
    from bot.cli.output.summary import MAX_BYTES

    try:
        used = os.path.getsize(path) if path else 0
    except OSError:
        used = 0
    return max(MAX_BYTES - used, 0)


CheckReport = Callable[[list[str], str | None], "Report"]
"""`footgun check`'s analysis: (paths, config file) -> report."""
DiffReport = Callable[[str, str, str | None, Callable[[str], bool] | None], "Report"]
"""`footgun diff`'s analysis: (base, head, config file, which paths) -> report."""


def run(runner: Runner, check: CheckReport, diff: DiffReport, write: Callable[[str], Any]) -> int:
    """Analyse, report every way the Action reports, and say whether the job should fail.

    `check` and `diff` are the CLI's own analyses (passed in: the CLI imports this module)."""
    from bot.cli.output.github import to_github
    from bot.cli.output.sarif import to_sarif
    from bot.cli.output.summary import to_summary

    pull = runner.pull_request
    compared = pull is not None
    if pull is not None:
        from bot.cli import sources

        base = base_of(pull)
        head = sources.resolve("HEAD")
        config, notes = config_at_base(runner.config, base, runner.temp)
        report = diff(base, head, config, wanted_paths(runner.paths))
        head_paths = {f.path for f in sources.from_git(head)}

        def link(path: str, line: int | None) -> str | None:
            return runner.link(head if path in head_paths else base, path, line)

        notes.insert(0, f"Findings of this change against its base {base[:7]} (`footgun diff`).")
    else:
        report = check(runner.paths, runner.config)
        sha = runner.sha

        def link(path: str, line: int | None) -> str | None:
            return runner.link(sha, path, line)

        notes = []

    blocking = failing(report, compared, runner.fail_on)
    sarif_file = None
    if runner.sarif:
        sarif_file = os.path.join(runner.temp, "footgun.sarif")
        Path(sarif_file).write_text(
            to_sarif(report, compared=compared, category=runner.sarif_category), encoding="utf-8"
        )
    write(to_github(report, compared=compared))
    if blocking:
        notes.append(
            f"The job fails: {len(blocking)} finding(s) at or above `fail-on: {runner.fail_on}`."
        )
    append_summary(
        runner.summary_file,
        to_summary(
            report,
            compared,
            link,
            notes=notes,
            limit=summary_budget(runner.summary_file),
        ),
    )
    write_outputs(runner.output_file, outputs(report, compared, bool(blocking), sarif_file))
    return 1 if blocking else 0
