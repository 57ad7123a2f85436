"""The JSON report, exactly the schema of DESIGN.md (`version` 1): scripts depend on it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rules.core.engine import Report


def to_json(report: Report) -> str:
    document = {
        "version": 1,
        "findings": [f.to_json() for f in report.findings],
        "skipped": [s.to_json() for s in report.skipped],
        "notes": list(report.notes),
        "counts": report.counts,
    }
    return json.dumps(document, indent=2) + "\n"
