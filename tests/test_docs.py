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


def generated_block(text: str, marker: str) -> str | None:
    match = re.search(rf"<!-- {marker}:start[^>]*-->\n(.*?)\n<!-- {marker}:end -->", text, re.S)
    return match.group(1) if match else None


def test_the_settings_tables_are_generated_from_the_settings_class():
    from bot.settings import Settings, settings_table

    expected = "\n".join(settings_table())
    for doc in ("README.md", "docs/deploy.md"):
        block = generated_block((ROOT / doc).read_text(encoding="utf-8"), "settings-table")
        assert block is not None, f"{doc} lost its settings-table markers"
        assert block == expected, f"{doc}'s settings table is stale: run `make docs`"
    for name in Settings.model_fields:  # every setting is documented, with words
        assert f"`FOOTGUN_{name.upper()}` |" in expected
        assert Settings.model_fields[name].description, f"{name} has no description"
