"""Report and rule-list renderers: text, json, sarif, github; rules as text, markdown, json."""

from __future__ import annotations

import json
from collections import defaultdict

import rules as registry
from rules.engine import Report

REPORT_FORMATS = ("text", "json", "sarif", "github")


def render_report(report: Report, fmt: str, color: bool = False) -> str:
    if fmt == "json":
        return to_json(report)
    return to_text(report, color)


def to_json(report: Report) -> str:
    document = {
        "version": 1,
        "findings": [f.to_json() for f in report.findings],
        "skipped": [s.to_json() for s in report.skipped],
        "counts": report.counts,
    }
    return json.dumps(document, indent=2) + "\n"


def to_text(report: Report, color: bool = False) -> str:
    by_path = defaultdict(list)
    for finding in report.findings:
        by_path[finding.path].append(finding)
    lines = []
    for path, findings in by_path.items():
        lines.append(path)
        for f in findings:
            flags = " (waived)" if f.waived else ""
            lines.append(f"  {f.line}:{f.column}  {f.severity:<7}  {f.message}  [{f.rule}]{flags}")
        lines.append("")
    for skipped in report.skipped:
        lines.append(f"{skipped.path}: skipped: {skipped.reason}")
    counts = report.counts
    lines.append(f"{counts['error']} errors, {counts['warning']} warnings ({counts['new']} new)")
    return "\n".join(lines) + "\n"


def render_rules(fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            [
                {"id": m.ID, "severity": m.SEVERITY, "kinds": list(m.KINDS), "summary": m.SUMMARY}
                for m in registry.RULES.values()
            ],
            indent=2,
        ) + "\n"
    return "".join(f"{m.ID:<36} {m.SEVERITY:<8} {m.SUMMARY}\n" for m in registry.RULES.values())
