"""The rule reference, rendered from the rule modules themselves so docs and code cannot drift.

`footgun rules --format markdown > docs/rules.md` regenerates the docs; a test fails when the
committed file is stale.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import rules as registry

REGENERATE = "footgun rules --format markdown > docs/rules.md"


def _modules() -> list[ModuleType]:
    return list(registry.RULES.values())


def to_text() -> str:
    modules = _modules()
    width = max((len(m.ID) for m in modules), default=0) + 2
    return "".join(f"{m.ID:<{width}}{m.SEVERITY:<9}{m.SUMMARY}\n" for m in modules)


def describe(module: ModuleType) -> dict[str, Any]:
    return {
        "id": module.ID,
        "severity": module.SEVERITY,
        "kinds": list(module.KINDS),
        "summary": module.SUMMARY,
        "why": module.WHY,
        "fix": module.FIX,
        "options": {key: _plain(value) for key, value in module.OPTIONS.items()},
        "fail": module.FAIL,
        "pass": module.PASS,
    }


def to_json() -> str:
    return json.dumps([describe(m) for m in _modules()], indent=2) + "\n"


def to_markdown() -> str:
    modules = _modules()
    out = [
        "# Rules",
        "",
        f"<!-- Generated from the rule modules by `{REGENERATE}`. Do not edit by hand. -->",
        "",
        "Severity is the default; `.github/footgun.yml` can change it or switch a rule off "
        "(`rules: {<id>: warning | error | off}`).",
        "",
        *table(),
    ]
    for m in modules:
        out += [
            "",
            f"## {m.ID}",
            "",
            m.SUMMARY,
            "",
            f"- **Severity:** {m.SEVERITY}",
            f"- **Kinds:** {', '.join(m.KINDS)}",
            "",
            f"**Why it hurts.** {m.WHY}",
            "",
            f"**Fix.** {m.FIX}",
        ]
        if m.OPTIONS:
            out += ["", "**Options** (under `rules: {" + m.ID + ": {...}}`):", ""]
            out += [
                f"- `{key}`: default `{json.dumps(_plain(value))}`"
                for key, value in m.OPTIONS.items()
            ]
        out += ["", "Fails:", "", "```yaml", m.FAIL.rstrip("\n"), "```", ""]
        out += ["Passes:", "", "```yaml", m.PASS.rstrip("\n"), "```"]
    return "\n".join(out) + "\n"


def table(link_prefix: str = "") -> list[str]:
    """The rule table (ID, severity, kinds, summary), each ID linking to its section."""
    out = ["| ID | severity | kinds | summary |", "|---|---|---|---|"]
    for m in _modules():
        link = f"{link_prefix}#{m.ID}"
        out.append(
            f"| [`{m.ID}`]({link}) | {m.SEVERITY} | {', '.join(m.KINDS)} | {_cell(m.SUMMARY)} |"
        )
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | frozenset | set) else value
