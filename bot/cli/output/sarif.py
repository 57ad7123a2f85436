"""SARIF 2.1.0, the format GitHub code scanning ingests.

Each rule becomes a `reportingDescriptor` whose help text is the rule's own SUMMARY/WHY/FIX, so
code scanning shows the same explanation as the docs. Results carry our fingerprint in
`partialFingerprints` (code scanning tracks an alert across pushes by it, not by line), a
`baselineState` when the report compared two revisions, and a suppression when waived.

Code scanning keeps at most 5,000 results of a run (it accepts 25,000 and drops the rest), so
results are ranked (unwaived findings the change introduced first, errors before warnings) and
cut at 5,000 here, with a notification saying how many were left out: the choice is ours, and
the reader is told. A `category` becomes `automationDetails.id` (a runAutomationDetails), which
code scanning uses to keep this analysis apart from others of the same tool (two workflows, two folders).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import rules as registry
from bot.cli.output.ranking import ranked

if TYPE_CHECKING:
    from types import ModuleType

    from rules.core.engine import Report
    from rules.core.model import Finding

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "footgunFingerprint/v1"
TOOL_NAME = "footgun"
MAX_RESULTS = 5000
"""Code scanning stores the first 5,000 results of a run (prioritised by severity)."""


def to_sarif(report: Report, compared: bool = False, category: str | None = None) -> str:
    return json.dumps(sarif_log(report, compared, category), indent=2) + "\n"


def sarif_log(
    report: Report,
    compared: bool = False,
    category: str | None = None,
    max_results: int = MAX_RESULTS,
) -> dict[str, Any]:
    modules = list(registry.RULES.values())
    index = {module.ID: position for position, module in enumerate(modules)}
    driver: dict[str, Any] = {
        "name": TOOL_NAME,
        "fullName": "istio-footgun-bot",
        "rules": [_descriptor(module) for module in modules],
    }
    version = _version()
    if version:
        driver["semanticVersion"] = version
    findings = ranked(report.findings, compared)
    kept = findings[:max_results]
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "columnKind": "unicodeCodePoints",
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The repository root."}}},
        "results": [_result(f, index, compared) for f in kept],
    }
    if category:
        # The category is everything up to the last slash of the id (GitHub's convention).
        run["automationDetails"] = {"id": category.rstrip("/") + "/"}
    notifications = _skipped(report) + _truncation(len(findings) - len(kept), max_results)
    if notifications:
        run["invocations"] = [
            {"executionSuccessful": True, "toolExecutionNotifications": notifications}
        ]
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def _descriptor(module: ModuleType) -> dict[str, Any]:
    kinds = ", ".join(module.KINDS)
    return {
        "id": module.ID,
        "name": "".join(part.capitalize() for part in module.ID.split("-")),
        "shortDescription": {"text": module.SUMMARY},
        "fullDescription": {"text": module.WHY},
        "help": {
            "text": f"{module.SUMMARY}\n\nWhy: {module.WHY}\n\nFix: {module.FIX}",
            "markdown": f"{module.SUMMARY}\n\n**Why.** {module.WHY}\n\n**Fix.** {module.FIX}\n\n"
            f"Kinds: {kinds}.",
        },
        "defaultConfiguration": {"level": module.SEVERITY},
        "properties": {"tags": ["istio", *module.KINDS]},
    }


def _result(finding: Finding, index: dict[str, int], compared: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": finding.severity,
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": quote(finding.path), "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": finding.line, "startColumn": finding.column},
                },
                "logicalLocations": [
                    {"fullyQualifiedName": str(finding.resource), "kind": "resource"}
                ],
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
    }
    if finding.rule in index:
        result["ruleIndex"] = index[finding.rule]
    if compared:
        result["baselineState"] = "new" if finding.new else "unchanged"
    if finding.waived:
        reason = getattr(finding.waiver, "reason", None)
        suppression: dict[str, Any] = {"kind": "external", "status": "accepted"}
        if reason:
            suppression["justification"] = reason
        result["suppressions"] = [suppression]
    return result


def _skipped(report: Report) -> list[dict[str, Any]]:
    """Skipped files become notifications: visible in SARIF viewers, not alerts."""
    return [
        {
            "level": "warning",
            "message": {"text": f"skipped: {s.reason}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": quote(s.path), "uriBaseId": "%SRCROOT%"}
                    }
                }
            ],
        }
        for s in report.skipped
    ]


def _truncation(omitted: int, kept: int) -> list[dict[str, Any]]:
    if omitted <= 0:
        return []
    return [
        {
            "level": "warning",
            "descriptor": {"id": "results-truncated"},
            "message": {
                "text": f"{omitted} more results were left out: code scanning keeps {kept:,} "
                "per run. The most important were kept (new errors first); the job summary "
                "or `footgun check --format json` lists every finding."
            },
        }
    ]


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("istio-footgun-bot")
    except PackageNotFoundError:
        return None
