"""GitHub Actions workflow commands: each finding becomes an annotation on the run and the PR.

`::error file=F,line=L,col=C,title=T::message`. GitHub's escaping: in the message `%`, CR and
LF become `%25`, `%0D`, `%0A`; property values also escape `:` and `,` (`%3A`, `%2C`), which
would otherwise end the value. Waived findings become notices, so they stay visible without
alarming anyone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.cli.output.text import summary

if TYPE_CHECKING:
    from rules.core.engine import Report


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


def to_github(report: Report, compared: bool = False) -> str:
    """`compared`: a diff, where findings already present at base become notices too (the
    change did not cause them; an error annotation would blame it)."""
    lines = []
    for f in report.findings:
        name: str = f.severity
        title = f.rule
        if f.waived:
            name, title = "notice", f"{f.rule} (waived)"
        elif compared and not f.new:
            name, title = "notice", f"{f.rule} (already at base)"
        lines.append(command(name, f.message, file=f.path, line=f.line, col=f.column, title=title))
    for skipped in report.skipped:
        lines.append(
            command(
                "warning",
                f"skipped: {skipped.reason}",
                file=skipped.path,
                title="footgun: file skipped",
            )
        )
    lines.append(f"footgun: {summary(report, compared)}")
    return "\n".join(lines) + "\n"
