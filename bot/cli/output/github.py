"""GitHub Actions workflow commands: the findings that matter most become annotations.

`::error file=F,line=L,col=C,title=T::message`. GitHub's escaping: in the message `%`, CR and
LF become `%25`, `%0D`, `%0A`; property values also escape `:` and `,` (`%3A`, `%2C`), which
would otherwise end the value. Waived findings, and in a diff the findings the base already
had, become notices: visible without blaming the change.

GitHub shows at most 10 annotations of each level (error, warning, notice) per step and 50
per job, and drops the rest without a word. So findings are ranked (new errors, then new
warnings, then the rest: `ranking`), each level gets its 10, and what does not fit is printed
as plain log lines under a group, with one notice saying how many were left out and where the
whole list is (the job summary).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bot.cli.output.ranking import introduced, ranked
from bot.cli.output.text import summary

if TYPE_CHECKING:
    from rules.core.engine import Report
    from rules.core.model import Finding

ANNOTATIONS_PER_LEVEL = 10
"""GitHub shows 10 error, 10 warning and 10 notice annotations per step; more are dropped."""
ANNOTATIONS_PER_JOB = 50
"""And 50 per job: this step's 30 leave room for the other steps of the job."""
LEVELS = ("error", "warning", "notice")
Entry = tuple[str, str, dict[str, object], str]
"""(level, title, location properties, message) of one annotation."""


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: object) -> str:
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    return (
        f"::{name} {props}::{escape_data(message)}"
        if props
        else f"::{name}::{escape_data(message)}"
    )


def level_of(finding: Finding, compared: bool) -> tuple[str, str]:
    """The annotation level and title of a finding."""
    if finding.waived:
        return "notice", f"{finding.rule} (waived)"
    if not introduced(finding, compared):
        return "notice", f"{finding.rule} (already at base)"
    return finding.severity, finding.rule


def to_github(
    report: Report, compared: bool = False, per_level: int = ANNOTATIONS_PER_LEVEL
) -> str:
    """`compared`: a diff, where findings already present at base become notices."""
    shown: dict[str, list[Entry]] = {level: [] for level in LEVELS}
    left_out: list[Entry] = []
    for entry in _entries(report, compared):
        (shown[entry[0]] if len(shown[entry[0]]) < per_level else left_out).append(entry)
    if left_out and len(shown["notice"]) >= per_level:
        left_out.insert(0, shown["notice"].pop())  # room for the note saying what is left out
    lines = [
        command(level, message, **where, title=title)
        for name in LEVELS
        for level, title, where, message in shown[name]
    ]
    if left_out:
        lines.append(
            command(
                "notice",
                f"{len(left_out)} more not shown as annotations (GitHub shows "
                f"{per_level} of each level per step): see the job summary or this step's log",
                title="footgun: more findings",
            )
        )
        lines.append(f"::group::footgun: {len(left_out)} more")
        lines.extend(_log_line(entry) for entry in left_out)
        lines.append("::endgroup::")
    lines.append(f"footgun: {summary(report, compared)}")
    return "\n".join(lines) + "\n"


def _log_line(entry: Entry) -> str:
    level, title, where, message = entry
    place = ":".join(str(where[k]) for k in ("file", "line", "col") if k in where)
    return f"{place}: {level}: {' '.join(message.split())} [{title}]"


def _entries(report: Report, compared: bool) -> Iterator[Entry]:
    """(level, title, location properties, message), most important first."""
    findings = ranked(report.findings, compared)
    blocking = [f for f in findings if not f.waived and introduced(f, compared)]
    for f in blocking:
        level, title = level_of(f, compared)
        yield level, title, {"file": f.path, "line": f.line, "col": f.column}, f.message
    for skipped in report.skipped:
        yield (
            "warning",
            "footgun: file skipped",
            {"file": skipped.path},
            f"skipped: {skipped.reason}",
        )
    for f in findings[len(blocking) :]:
        level, title = level_of(f, compared)
        yield level, title, {"file": f.path, "line": f.line, "col": f.column}, f.message
