"""The report for people: findings grouped by file, then skipped files, then one summary line.

Colour only when writing to a terminal (the caller decides); the words carry the meaning on
their own, so nothing is lost in a log file.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rules.core.engine import Report
    from rules.core.model import Finding

_RESET = "\033[0m"
_STYLE = {
    "error": "\033[1;31m",
    "warning": "\033[33m",
    "path": "\033[1m",
    "dim": "\033[2m",
    "new": "\033[36m",
}


def to_text(report: Report, color: bool = False, compared: bool = False) -> str:
    def paint(style: str, text: str) -> str:
        return f"{_STYLE[style]}{text}{_RESET}" if color else text

    by_path: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_path[finding.path].append(finding)
    lines: list[str] = []
    for path, findings in by_path.items():
        lines.append(paint("path", path))
        for f in findings:
            where = f"{f.line}:{f.column}".ljust(9)
            severity = paint(f.severity, f.severity.ljust(7))
            flags = []
            if compared and f.new:
                flags.append(paint("new", "new"))
            if f.waived:
                flags.append(paint("dim", f"waived{_until(f)}"))
            suffix = f"  ({', '.join(flags)})" if flags else ""
            target = f" (in {f.target})" if f.target else ""
            lines.append(f"  {where} {severity}  {f.message}  [{f.rule}]{target}{suffix}")
        lines.append("")
    if report.skipped:
        lines.append(paint("path", "Skipped files"))
        for skipped in report.skipped:
            lines.append(f"  {skipped.path}: {skipped.reason}")
        lines.append("")
    for note in report.notes:
        lines.append(paint("dim", f"Note: {note}"))
    if report.notes:
        lines.append("")
    lines.append(summary(report, compared))
    return "\n".join(lines) + "\n"


def _until(finding: Finding) -> str:
    until = getattr(finding.waiver, "until", None)
    return f" until {until}" if until else ""


def summary(report: Report, compared: bool = False) -> str:
    counts = report.counts
    waived = sum(f.waived for f in report.findings)
    parts = [_plural(counts["error"], "error"), _plural(counts["warning"], "warning")]
    if compared:
        parts.append(f"{counts['new']} new")
    if waived:
        parts.append(f"{waived} waived")
    if report.skipped:
        parts.append(_plural(len(report.skipped), "file") + " skipped")
    return ", ".join(parts)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
