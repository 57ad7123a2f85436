"""Text from a pull request made inert in GitHub-flavoured Markdown.

Findings quote what a pull request wrote (resource names, hosts, paths, values), and everything
the bot or the Action posts is Markdown that GitHub renders: a name such as `@org/team`, `<img>`
or `[x](javascript:...)` must show as the characters it is, never notify a team, load an image
or become a link. `escape` is for running text, `code` for a code span, `link_target` for the
part of a link between the parentheses. Shared by the App's comments and the Action's job
summary, so both escape the same way.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_PUNCTUATION = re.compile(r"([\\`*_\[\]|~#!()])")
_MENTION = re.compile(r"@(?=[\w-])")
ZERO_WIDTH_SPACE = "\u200b"
"""After an `@`, it keeps `@name` from being a mention while reading the same on screen."""


def one_line(text: object) -> str:
    """Whitespace (newlines included) collapsed: a value cannot start a new Markdown block."""
    return " ".join(str(text).split())


def escape(text: object) -> str:
    """`text` as literal characters in running Markdown: no emphasis, links, HTML, tables,
    code spans or mentions, and on one line."""
    flat = one_line(text)
    flat = "".join(_HTML.get(c, c) for c in flat)
    flat = _PUNCTUATION.sub(r"\\\1", flat)
    return _MENTION.sub("@" + ZERO_WIDTH_SPACE, flat)


def code(text: object) -> str:
    """`text` as one code span, whatever backticks it holds (the fence is one longer than the
    longest run inside). Inside a code span GitHub renders no HTML, link or mention."""
    flat = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def link_target(path: str) -> str:
    """A repository path quoted for a link URL: parentheses, spaces and `#` cannot end or
    redirect the link."""
    return quote(path, safe="/")
