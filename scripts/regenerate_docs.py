"""Rewrite every generated part of the docs from the code: `make docs` runs it.

- docs/rules.md, from the rule modules;
- the rule table in README.md, between its `rules-table` markers;
- the settings table in README.md and docs/deploy.md, between their `settings-table` markers,
  from the fields of `bot.settings.Settings`.

tests/test_docs.py fails when any of them is stale, naming this script.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli.output.rules_doc import table, to_markdown  # noqa: E402
from bot.settings import settings_table  # noqa: E402


def replace_block(text: str, marker: str, lines: list[str]) -> str:
    """`text` with the lines between `<!-- marker:start ... -->` and `<!-- marker:end -->`
    replaced by `lines`; the start marker keeps its note."""
    pattern = re.compile(rf"(<!-- {marker}:start[^>]*-->\n)(.*?)(\n<!-- {marker}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"missing <!-- {marker}:start --> ... <!-- {marker}:end --> markers")
    return pattern.sub(lambda m: m[1] + "\n".join(lines) + m[3], text, count=1)


def main() -> None:
    (ROOT / "docs" / "rules.md").write_text(to_markdown(), encoding="utf-8")
    readme = ROOT / "README.md"
    text = replace_block(readme.read_text(encoding="utf-8"), "rules-table", table("docs/rules.md"))
    readme.write_text(replace_block(text, "settings-table", settings_table()), encoding="utf-8")
    deploy = ROOT / "docs" / "deploy.md"
    deploy.write_text(
        replace_block(deploy.read_text(encoding="utf-8"), "settings-table", settings_table()),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
