"""Which findings matter most, for every output that can show only some of them.

GitHub caps annotations per step and code scanning keeps 5,000 results per run, so the order
decides what a reader sees: unwaived findings the change introduced first (errors, then
warnings), then those already there, then waived ones; by file and line within each group.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rules.core.model import Finding

_SEVERITY = {"error": 0, "warning": 1}


def introduced(finding: Finding, compared: bool) -> bool:
    """Whether the finding is the change's doing: new in a diff; every finding in a check."""
    return finding.new or not compared


def priority(finding: Finding, compared: bool) -> tuple[object, ...]:
    return (
        finding.waived,
        not introduced(finding, compared),
        _SEVERITY.get(finding.severity, 2),
        finding.path,
        finding.line,
        finding.column,
        finding.rule,
    )


def ranked(findings: Iterable[Finding], compared: bool) -> list[Finding]:
    return sorted(findings, key=lambda f: priority(f, compared))
