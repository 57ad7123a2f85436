"""SARIF 2.1.0, the format GitHub code scanning ingests.

Each rule becomes a `reportingDescriptor` whose help text is the rule's own SUMMARY/WHY/FIX, so
code scanning shows the same explanation as the docs. Results carry our fingerprint in
`partialFingerprints` (code scanning tracks an alert across pushes by it, not by line), a
`baselineState` when the report compared two revisions, and a suppression when waived.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import rules as registry

if TYPE_CHECKING:
    from types import ModuleType

    from rules.core.engine import Report
    from rules.core.model import Finding

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "footgunFingerprint/v1"
TOOL_NAME = "footgun"


def to_sarif(report: Report, compared: bool = False) -> str:
    return json.dumps(sarif_log(report, compared), indent=2) + "\n"


def sarif_log(report: Report, compared: bool = False) -> dict[str, Any]:
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
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "columnKind": "unicodeCodePoints",
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The repository root."}}},
        "results": [_result(f, index, compared) for f in report.findings],
    }
    if report.skipped:
        run["invocations"] = [_invocation(report)]
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


def _invocation(report: Report) -> dict[str, Any]:
    """Skipped files become notifications: visible in SARIF viewers, not alerts."""
    return {
        "executionSuccessful": True,
        "toolExecutionNotifications": [
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
        ],
    }


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("istio-footgun-bot")
    except PackageNotFoundError:
        return None
