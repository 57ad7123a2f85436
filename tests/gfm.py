"""How GitHub shows the bot's Markdown: rendered by cmark-gfm (GitHub's own fork of cmark, with
its extensions: tables, strikethrough, autolinks), then read as a reader would.

Raw HTML is kept in the rendering (GitHub's sanitiser lets much of it through, `<details>`,
`<img>`, `<a>`, comments hidden), so whatever raw HTML the bot lets pass shows up here. GitHub
finds mentions and issue references in the rendered text, outside code and links: `mentions`
and `references` look there the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

cmarkgfm = pytest.importorskip("cmarkgfm")
from cmarkgfm.cmark import Options  # noqa: E402

MENTION = re.compile(r"(?<![A-Za-z0-9_`])@([A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9][\w.-]*)?)")
REFERENCE = re.compile(r"(?<![A-Za-z0-9_])(?:[\w.-]+/[\w.-]+)?#[0-9]+\b|\bGH-[0-9]+\b", re.I)


def render(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


@dataclass
class Reading:
    """What a reader of the rendered HTML gets: the tags, the text outside code and links, the
    text inside code spans, and whether an HTML comment hides anything."""

    tags: list[str] = field(default_factory=list)
    prose: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.prose)

    @property
    def everything(self) -> str:
        return "".join(self.prose) + "".join(self.code)

    @property
    def seen(self) -> str:
        """All the text on one line as a reader sees it (zero-width spaces are invisible)."""
        return " ".join(self.everything.replace("\u200b", "").split())


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.reading = Reading()
        self._inside: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.reading.tags.append(tag)
        if tag not in ("br", "hr", "img", "input"):
            self._inside.append(tag)

    def handle_endtag(self, tag):
        if tag in self._inside:
            while self._inside and self._inside.pop() != tag:
                pass

    def handle_data(self, data):
        if {"code", "pre"} & set(self._inside):
            self.reading.code.append(data)
        elif "a" not in self._inside:
            self.reading.prose.append(data)

    def handle_comment(self, data):
        self.reading.comments.append(data)


def read(markdown: str) -> Reading:
    reader = _Reader()
    reader.feed(render(markdown))
    reader.close()
    return reader.reading


def mentions(markdown: str) -> list[str]:
    return MENTION.findall(read(markdown).text)


def references(markdown: str) -> list[str]:
    return REFERENCE.findall(read(markdown).text)
