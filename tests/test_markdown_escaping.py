"""`bot.github.markdown` against GitHub's renderer (cmark-gfm), on any text at all: what comes
out is exactly the value, on one line, with no markup, no link, no mention and no reference."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.github import markdown as md
from tests import gfm

HOSTILE = st.lists(
    st.sampled_from(
        [
            *"`*_~[]()<>!&#@|$^\\-+=.:/ \t\r\n\u2028\u202e\x00aZ09",
            *["<!--", "-->", "http://", "www.", "GH-1", "<details>", "    ", "```", "&amp;"],
            "@team",
        ]
    ),
    max_size=40,
).map("".join)


def expected(value: str) -> str:
    return " ".join(md.one_line(value).split())


@settings(max_examples=400, deadline=None)
@given(HOSTILE)
def test_text_shows_the_value_and_nothing_else(value):
    line = f"before {md.text(value, limit=10_000)} after"
    reading = gfm.read(line)
    assert set(reading.tags) <= {"p"}, (value, gfm.render(line))
    assert reading.comments == []
    assert reading.seen == " ".join(f"before {expected(value)} after".split())
    assert gfm.mentions(line) == [] and gfm.references(line) == []


@settings(max_examples=400, deadline=None)
@given(HOSTILE)
@example("\u202e -")  # an invisible character between spaces once left `>  -`: a list
def test_a_value_at_the_start_of_a_quote_starts_no_block(value):
    line = f"> {md.text(value, limit=10_000)}"
    reading = gfm.read(line)
    assert set(reading.tags) <= {"blockquote", "p"}, (value, gfm.render(line))
    assert reading.seen == expected(value)


@settings(max_examples=400, deadline=None)
@given(HOSTILE)
def test_code_is_one_code_span_holding_the_value(value):
    line = f"see {md.code(value, limit=10_000)} here"
    reading = gfm.read(line)
    assert reading.tags == ["p", "code"], (value, gfm.render(line))
    shown = "".join(reading.code)
    assert " ".join(shown.split()) == " ".join((expected(value) or " ").split())


@settings(max_examples=200, deadline=None)
@given(HOSTILE, HOSTILE)
def test_table_cells_stay_cells(a, b):
    table = (
        "| a | b |\n|---|---|\n"
        f"| {md.code(a, limit=10_000, table=True)} | {md.cell(b, limit=10_000)} |\n"
    )
    html = gfm.render(table)
    assert html.count("<td>") == 2 and html.count("<tr>") == 2, (a, b, html)


def test_values_are_clipped():
    assert len(md.text("n" * 61_000)) == md.ECHO_LIMIT
    assert md.code("n" * 61_000).endswith("…`")
