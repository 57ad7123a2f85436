"""The `/footgun` slash-command grammar: a pure, strict parser and its inverse.

Strict because a command changes what gates a merge: anything that does not parse exactly is
refused with the correct form, never guessed at. Pure (no clock, no I/O) so that it can be
tested exhaustively; deadline arithmetic and authorisation live in `bot/waiver_policy.py`.

    /footgun waive <rule> [<Kind>/<namespace>/<name> | <path>] until <YYYY-MM-DD> because <reason>
    /footgun waive <rule> [<target>] for <N>d because <reason>
    /footgun waive until <YYYY-MM-DD> because <reason>     (reply to an inline comment)
    /footgun unwaive <waiver-id>
    /footgun waivers
    /footgun recheck
    /footgun help
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

PREFIX = "/footgun"
MAX_REASON = 500
MAX_DAYS_SYNTAX = 3650

USAGE = """\
/footgun waive <rule> [<Kind>/<namespace>/<name> | <path>] until <YYYY-MM-DD> because <reason>
/footgun waive <rule> [<Kind>/<namespace>/<name> | <path>] for <N>d because <reason>
/footgun waive until <YYYY-MM-DD> because <reason>   (as a reply to one of the bot's comments)
/footgun unwaive <waiver-id>
/footgun waivers
/footgun recheck
/footgun help"""


@dataclass(frozen=True, slots=True)
class Waive:
    rule: str | None
    """None in a reply to an inline comment: the rule and target come from the thread."""
    target: str | None
    until: dt.date | None
    days: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Unwaive:
    waiver_id: int


@dataclass(frozen=True, slots=True)
class ListWaivers:
    pass


@dataclass(frozen=True, slots=True)
class Recheck:
    pass


@dataclass(frozen=True, slots=True)
class Help:
    pass


Command = Waive | Unwaive | ListWaivers | Recheck | Help


@dataclass(frozen=True, slots=True)
class CommandError:
    """A line that starts with `/footgun` but is not a valid command."""

    line: str
    problem: str

    def reply(self) -> str:
        return f"{self.problem}\n\nThe commands are:\n```\n{USAGE}\n```"


_RESOURCE_TARGET = re.compile(
    r"^[A-Z][A-Za-z0-9]*/[a-z0-9][-a-z0-9.]*(/[A-Za-z0-9][-A-Za-z0-9._]*)?$"
)
_PATH_TARGET = re.compile(r"^[^\s]+$")
_RULE_ID = re.compile(r"^[a-z][a-z0-9-]*$")
_DAYS = re.compile(r"^([1-9][0-9]{0,3})d$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_WAIVER_ID = re.compile(r"^#?[0-9]{1,12}$")
_DETAILS_OPEN = re.compile(r"<details(?=[\s>/])", re.IGNORECASE)
_DETAILS_CLOSE = re.compile(r"</details\s*>", re.IGNORECASE)
# markdown-it-py follows CommonMark; GitHub adds tables and strikethrough to it (GFM).
_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def find_commands(body: str | None, known_rules: Iterable[str]) -> Iterator[Command | CommandError]:
    """Each command line of a comment (see `command_lines`), parsed."""
    rules = frozenset(known_rules)
    for line in command_lines(body):
        yield parse(line, rules)


def command_lines(body: str | None) -> Iterator[str]:
    """The command lines of a comment, as GitHub renders it: each line of an ordinary top-level
    paragraph that starts with `/footgun`.

    Nothing else is a command, however it looks in the source: code (fenced or indented by four
    spaces), quotes (quoting a command must not run it again), lists, tables, headings, HTML
    blocks and comments, and whatever is inside `<details>` (collapsed on GitHub). The comment
    is parsed by a CommonMark parser with GitHub's tables, not by stripping lines, so what
    counts is what a reader sees.
    """
    tokens = _MARKDOWN.parse(body or "")
    hidden = 0  # <details> elements open at this point
    for index, token in enumerate(tokens):
        if token.type == "html_block":
            hidden = _details_depth(hidden, token.content)
        elif token.type == "inline":
            top = index > 0 and tokens[index - 1].type == "paragraph_open" and token.level == 1
            for line, hidden_before in _lines(token.children or [], hidden):
                if top and not hidden_before and _is_command(line):
                    yield line.strip()
            for child in token.children or []:
                if child.type == "html_inline":
                    hidden = _details_depth(hidden, child.content)


def _lines(children: list[Any], hidden: int) -> Iterator[tuple[str, int]]:
    """The visible text of each line of a paragraph whose start is visible (plain text), with
    the number of `<details>` open where it starts."""
    pieces: list[str] | None = []
    start = hidden
    for child in [*children, None]:
        if child is None or child.type in ("softbreak", "hardbreak"):
            if pieces:
                yield "".join(pieces), start
            pieces, start = [], hidden
            continue
        if child.type == "html_inline":
            hidden = _details_depth(hidden, child.content)
        if pieces is None:
            continue
        if not pieces and child.type != "text":
            pieces = None  # the line starts with markup (an HTML comment, a link...): not a command
            continue
        pieces.append(_source(child))


def _source(child: Any) -> str:
    """A token of a command line as the user typed it (near enough for the grammar's words)."""
    if child.type == "code_inline":
        return f"{child.markup}{child.content}{child.markup}"
    if child.type in ("em_open", "em_close", "strong_open", "strong_close", "s_open", "s_close"):
        return str(child.markup)
    if child.type in ("html_inline", "link_open", "link_close", "image"):
        return ""
    return str(child.content)


def _is_command(line: str) -> bool:
    line = line.strip()
    return line == PREFIX or line.startswith((PREFIX + " ", PREFIX + "\t"))


def _details_depth(depth: int, html: str) -> int:
    return max(0, depth + len(_DETAILS_OPEN.findall(html)) - len(_DETAILS_CLOSE.findall(html)))


def parse(line: str, known_rules: frozenset[str]) -> Command | CommandError:
    """Parse one `/footgun ...` line."""
    words = line.split()
    if not words or words[0] != PREFIX:
        return CommandError(line, "A command starts with `/footgun`.")
    if len(words) == 1:
        return CommandError(line, "`/footgun` needs a command.")
    verb, rest = words[1], words[2:]
    if verb == "waive":
        return _parse_waive(line, rest, known_rules)
    if verb == "unwaive":
        if len(rest) == 1 and _WAIVER_ID.match(rest[0]):
            return Unwaive(int(rest[0].lstrip("#")))
        return CommandError(line, "`unwaive` takes the waiver's number: `/footgun unwaive 12`.")
    simple: dict[str, type[ListWaivers | Recheck | Help]] = {
        "waivers": ListWaivers,
        "recheck": Recheck,
        "help": Help,
    }
    if verb in simple:
        if rest:
            return CommandError(line, f"`{verb}` takes no arguments.")
        return simple[verb]()
    close = difflib.get_close_matches(verb, ["waive", "unwaive", *simple], n=1)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return CommandError(line, f"Unknown command `{_clip(verb)}`.{hint}")


def _parse_waive(line: str, words: list[str], known_rules: frozenset[str]) -> Waive | CommandError:
    if "because" not in words:
        return CommandError(
            line, "A waiver needs a reason: end the command with `because <reason>`."
        )
    cut = words.index("because")
    head, reason = words[:cut], " ".join(words[cut + 1 :])
    if not reason:
        return CommandError(line, "A waiver needs a reason after `because`.")
    if len(reason) > MAX_REASON:
        return CommandError(line, f"Keep the reason under {MAX_REASON} characters.")
    if len(head) < 2 or head[-2] not in ("until", "for"):
        return CommandError(line, "A waiver needs a deadline: `until YYYY-MM-DD` or `for <N>d`.")
    keyword, value, selector = head[-2], head[-1], head[:-2]
    until = days = None
    if keyword == "until":
        until = _date(value)
        if until is None:
            return CommandError(line, f"`{_clip(value)}` is not a date: write `until YYYY-MM-DD`.")
    else:
        match = _DAYS.match(value)
        if not match:
            return CommandError(
                line, f"`{_clip(value)}` is not a duration: write `for <N>d`, e.g. `for 14d`."
            )
        days = int(match.group(1))
    if len(selector) > 2:
        return CommandError(line, "Name one rule and at most one target before the deadline.")
    rule = target = None
    if selector:
        rule = selector[0]
        if rule not in known_rules:
            close = difflib.get_close_matches(rule, sorted(known_rules), n=3, cutoff=0.4)
            hint = f" Closest: {', '.join(f'`{c}`' for c in close)}." if close else ""
            return CommandError(line, f"Unknown rule `{_clip(rule)}`.{hint}")
        if len(selector) == 2:
            target = selector[1]
            if not (_RESOURCE_TARGET.match(target) or _PATH_TARGET.match(target)):
                return CommandError(
                    line, f"`{_clip(target)}` is neither Kind/namespace/name nor a path."
                )
    return Waive(rule, target, until, days, reason)


def format_command(command: Command) -> str:
    """The canonical text of a command; `parse(format_command(c))` gives `c` back."""
    match command:
        case Waive(rule=rule, target=target, until=until, days=days, reason=reason):
            parts = [PREFIX, "waive"]
            parts += [p for p in (rule, target) if p]
            parts += ["until", until.isoformat()] if until else ["for", f"{days}d"]
            return " ".join([*parts, "because", reason])
        case Unwaive(waiver_id=waiver_id):
            return f"{PREFIX} unwaive {waiver_id}"
        case ListWaivers():
            return f"{PREFIX} waivers"
        case Recheck():
            return f"{PREFIX} recheck"
        case Help():
            return f"{PREFIX} help"
    raise TypeError(f"not a command: {command!r}")


def _date(text: str) -> dt.date | None:
    if not _DATE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _clip(text: str, limit: int = 60) -> str:
    text = text.replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"
