"""Pull request content in the bot's Markdown: shown as data, never rendered as markup.

Names, hosts, paths and values come from manifests anyone can push, and waiver reasons from
anyone who can comment. Everything the bot posts (inline comments, reviews, check run summaries,
slash-command replies, waiver notes, cleanup issues) goes through these functions wherever such
text is echoed, so no value can do what GitHub Flavored Markdown would do with it:

- open or close a code span (backticks), emphasise, strike through, link, embed an image, start
  raw HTML or an HTML comment (which would hide the rest of the text), split a table cell;
- start a block (a heading, a list, a quote, a fence) after a line break: line breaks, and every
  other control or invisible formatting character (bidirectional overrides included), become
  one space;
- notify: `@name` and `@org/team` mentions, `#12`, `owner/repo#12` and `GH-12` references, and
  autolinked URLs, `www.` hosts and e-mail addresses are broken with a zero-width space (GitHub
  finds those in the rendered text, where a backslash no longer is);
- grow without bound: each echoed value is clipped (a 61,000-character name must not make a
  comment longer than GitHub accepts).

`text` is for prose (a backslash, as CommonMark allows, before each ASCII punctuation character
that Markdown reads there), `code` for an inline code span (a fence longer than any backtick run
inside; inside code GitHub renders no mention, reference, link or HTML).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

BODY_LIMIT = 65_536
"""GitHub's limit for the body of a comment, review, review comment or issue (422 above it)."""
ECHO_LIMIT = 200
"""Characters of one echoed value (a name, host, path, target) before it is clipped."""
MESSAGE_LIMIT = 1_000
"""Characters of a finding's message (it quotes names and hosts) before it is clipped."""
REASON_LIMIT = 500
"""Characters of a waiver reason (the command grammar refuses longer ones)."""

ZWSP = "\u200b"
_ESCAPED = frozenset("\\`*_~[]<>&|$")
"""What Markdown reads anywhere in a line: escapes, code, emphasis and strikethrough, links and
images (`!` and `(` mean nothing without `[`), HTML and autolinks, entities, table cells, and
GitHub's `$` math. The rest of ASCII punctuation only means something at the start of a block,
which only the first character of a value can be (see `_BLOCK_START`)."""
_BLOCK_START = re.compile(r"^(?:[!-/:-@\[-`{-~]|[0-9]+[.)])")
_NOTIFIES = re.compile(r"([@#])|(?<![A-Za-z0-9])(GH-)(?=[0-9])", re.IGNORECASE)
_BREAKS = re.compile(r"(?<=[A-Za-z]:)(?=//)|(?<=www)(?=\.)", re.IGNORECASE)


def one_line(value: object) -> str:
    """The value on one line: each run of whitespace (line breaks included) becomes one space,
    and control and invisible formatting characters go."""
    text = str(value)
    if not (text.isascii() and text.isprintable()):
        # Invisible characters go first: one between spaces would otherwise leave two spaces
        # (or a leading one, and `>  -` is a list inside a quote).
        text = "".join(
            c
            for c in text
            if c.isspace() or unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs")
        )
    return " ".join(text.split())


def clip(value: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis where it was cut."""
    return value if len(value) <= limit else value[: max(limit - 1, 0)] + "…"


def text(value: object, limit: int = ECHO_LIMIT) -> str:
    """`value` as literal prose inside a Markdown line."""
    plain = clip(one_line(value), limit)
    plain = _NOTIFIES.sub(lambda m: (m.group(1) or m.group(2)) + ZWSP, plain)
    plain = _BREAKS.sub(ZWSP, plain)
    escaped = "".join("\\" + c if c in _ESCAPED else c for c in plain)
    start = _BLOCK_START.match(escaped)
    if start and not escaped.startswith("\\"):  # a heading, list, quote or break if it began a line
        cut = start.end()
        escaped = escaped[: cut - 1] + "\\" + escaped[cut - 1 :]
    return escaped


def code(value: object, limit: int = ECHO_LIMIT, *, table: bool = False) -> str:
    """`value` as an inline code span; `table=True` inside a GFM table cell (pipes escaped)."""
    plain = clip(one_line(value), limit) or " "
    if table:
        plain = plain.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", plain)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if plain.startswith("`") or plain.endswith("`") else ""
    return f"{fence}{pad}{plain}{pad}{fence}"


def cell(value: object, limit: int = ECHO_LIMIT) -> str:
    """`value` as literal prose inside a GFM table cell."""
    # `text` already escapes `|`; GFM unescapes `\|` for the cell and keeps the rest literal.
    return text(value, limit)


def fence(content: str, minimum: int = 3) -> str:
    """A backtick fence that no line of `content` can close: longer than any run inside."""
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    return "`" * max(minimum, longest + 1)


def link_path(path: str) -> str:
    """A repository path as it may appear in a link destination (percent-encoded)."""
    return quote(path, safe="/")
