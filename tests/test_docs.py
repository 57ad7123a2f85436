"""docs/rules.md is generated from the rule modules; it must not drift from them."""

from pathlib import Path

from bot.output.rules_doc import REGENERATE, to_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs" / "rules.md"


def test_rules_reference_is_up_to_date():
    committed = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
    assert committed == to_markdown(), f"docs/rules.md is stale: regenerate it with `{REGENERATE}`"
