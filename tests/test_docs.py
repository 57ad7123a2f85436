"""Docs generated from the rule modules must not drift from them."""

import re
from pathlib import Path

from bot.cli.output.rules_doc import REGENERATE, table, to_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_rules_reference_is_up_to_date():
    docs = ROOT / "docs" / "rules.md"
    committed = docs.read_text(encoding="utf-8") if docs.exists() else ""
    assert committed == to_markdown(), f"docs/rules.md is stale: regenerate it with `{REGENERATE}`"


def test_readme_rule_table_is_up_to_date():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"<!-- rules-table:start[^>]*-->\n(.*?)\n<!-- rules-table:end -->", readme, re.S
    )
    assert match, "README.md lost its rules-table markers"
    expected = "\n".join(table("docs/rules.md"))
    assert match.group(1) == expected, (
        "README.md's rule table is stale: replace it with the output of\n"
        "python -c \"from bot.cli.output.rules_doc import table; print(*table('docs/rules.md'), sep='\\n')\""
    )
