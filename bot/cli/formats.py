"""Report and rule-list renderers, chosen by name.

Reports: `text` (people), `json` (the documented schema, for scripts), `sarif` (GitHub code
scanning and other SARIF tools), `github` (workflow commands: annotations in a GitHub Actions
run). Rules: `text`, `markdown` (docs/rules.md is generated with it), `json`. Each format is its
own module in `bot/output/`, imported only when asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rules.core.engine import Report

REPORT_FORMATS = ("text", "json", "sarif", "github")
RULE_FORMATS = ("text", "markdown", "json")


def render_report(
    report: Report,
    fmt: str,
    color: bool = False,
    compared: bool = False,
    sarif_category: str | None = None,
) -> str:
    """Render a report. `compared`: the report judged a change against a base revision."""
    if fmt == "json":
        from bot.cli.output.json_report import to_json

        return to_json(report)
    if fmt == "sarif":
        from bot.cli.output.sarif import to_sarif

        return to_sarif(report, compared=compared, category=sarif_category)
    if fmt == "github":
        from bot.cli.output.github import to_github

        return to_github(report, compared=compared)
    if fmt == "text":
        from bot.cli.output.text import to_text

        return to_text(report, color=color, compared=compared)
    raise ValueError(f"unknown report format '{fmt}' (known: {', '.join(REPORT_FORMATS)})")


def render_rules(fmt: str) -> str:
    from bot.cli.output import rules_doc

    if fmt == "json":
        return rules_doc.to_json()
    if fmt == "markdown":
        return rules_doc.to_markdown()
    if fmt == "text":
        return rules_doc.to_text()
    raise ValueError(f"unknown rules format '{fmt}' (known: {', '.join(RULE_FORMATS)})")
