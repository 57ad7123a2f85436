"""The job summary of the GitHub Action: every finding, in Markdown, grouped by file.

Annotations show at most 10 of each level per step, so the summary is where the whole report
lives: counts first, then the notes (why the inline review did not run, what was left out),
then each file with its findings linked to their lines, the files with what blocks the change
first. GitHub refuses a step summary over 1 MiB (and then shows none of it), so the text is
built line by line under a byte budget and says how much did not fit.

Everything quoted from the repository (messages name resources, hosts and values; paths) is
escaped: a pull request must not be able to write Markdown, HTML or mentions into the summary.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from bot.cli.output.github import level_of
from bot.cli.output.ranking import introduced, ranked
from bot.github.markdown import MESSAGE_LIMIT, code, text

if TYPE_CHECKING:
    from rules.core.engine import Report
    from rules.core.model import Finding

MAX_BYTES = 1024 * 1024
"""GitHub's limit for one step's summary: over it, the upload is aborted."""
TITLE = "Istio footguns"
ICON = {"error": ":x:", "warning": ":warning:", "notice": ":information_source:"}

LineLink = Callable[[str, int | None], str | None]
"""A link to a file (line None) or one of its lines at the analysed commit; None for no link."""


class _Budget:
    """Lines under a byte budget; once one does not fit, none after it is added."""

    def __init__(self, limit: int):
        self.lines: list[str] = []
        self.left = limit
        self.full = False

    def add(self, line: str = "") -> bool:
        size = len(line.encode("utf-8")) + 1
        if self.full or size > self.left:
            self.full = True
            return False
        self.lines.append(line)
        self.left -= size
        return True


def to_summary(
    report: Report,
    compared: bool,
    link: LineLink | None = None,
    notes: Iterable[str] = (),
    limit: int = MAX_BYTES,
) -> str:
    """The Markdown summary. `notes` are the caller's own sentences (trusted Markdown)."""
    tail = "\n_…the summary is at GitHub's 1 MiB limit: {} more not listed here. The step's log and `footgun check --format json` have every finding._\n"
    budget = _Budget(limit - len(tail.encode("utf-8")) - 20)
    findings = ranked(report.findings, compared)
    budget.add(f"## {TITLE}")
    budget.add()
    budget.add(_headline(report, compared))
    budget.add()
    for note in notes:
        budget.add(f"> {note}")
        budget.add()
    listed = 0
    for path, items in _by_file(findings, compared):
        target = link(path, None) if link else None
        heading = f"### [{text(path)}]({target})" if target else f"### {code(path)}"
        if not (budget.add(heading) and budget.add()):
            break
        for f in items:
            if not budget.add(_line(f, compared, link)):
                break
            listed += 1
        budget.add()
    if report.skipped and not budget.full:
        budget.add("### Skipped files")
        budget.add()
        for skipped in report.skipped:
            if not budget.add(f"- {code(skipped.path)}: {text(skipped.reason, MESSAGE_LIMIT)}"):
                break
    body = "\n".join(budget.lines).rstrip() + "\n"
    if budget.full:
        body += tail.format(len(findings) - listed)
    return body


def _headline(report: Report, compared: bool) -> str:
    unwaived = [f for f in report.findings if not f.waived]
    blocking = [f for f in unwaived if introduced(f, compared)]
    errors = sum(f.severity == "error" for f in blocking)
    warnings = len(blocking) - errors
    if compared:
        head = (
            f"**{_plural(errors, 'new error')}, {_plural(warnings, 'new warning')}** in this change"
            if blocking
            else "**No new footguns** in this change :tada:"
        )
    else:
        head = (
            f"**{_plural(errors, 'error')}, {_plural(warnings, 'warning')}**"
            if blocking
            else "**No footguns** :tada:"
        )
    extra = []
    old = len(unwaived) - len(blocking)
    if old:
        extra.append(f"{old} already at base")
    waived = len(report.findings) - len(unwaived)
    if waived:
        extra.append(f"{waived} waived")
    if report.skipped:
        extra.append(_plural(len(report.skipped), "file") + " skipped")
    return head + (f" ({', '.join(extra)})." if extra else ".")


def _by_file(findings: list[Finding], compared: bool) -> list[tuple[str, list[Finding]]]:
    """Files in the order of their most important finding; findings by line within a file."""
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        groups[f.path].append(f)
    return [
        (path, sorted(items, key=lambda f: (f.line, f.column))) for path, items in groups.items()
    ]


def _line(f: Finding, compared: bool, link: LineLink | None) -> str:
    level, _ = level_of(f, compared)
    target = link(f.path, f.line) if link else None
    where = f"[line {f.line}]({target})" if target else f"line {f.line}"
    flags = []
    if compared and f.new and not f.waived:
        flags.append("new")
    if f.waived:
        until = getattr(f.waiver, "until", None)
        flags.append(f"waived until {until}" if until else "waived")
    elif compared and not f.new:
        flags.append("already at base")
    suffix = f" _({', '.join(flags)})_" if flags else ""
    return f"- {ICON[level]} {where} {code(f.rule)} {text(f.message, MESSAGE_LIMIT)}{suffix}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
