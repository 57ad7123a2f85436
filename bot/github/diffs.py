"""Unified diffs: which head-side lines a review comment may target, and rebuilding a file
from its base text and the patch GitHub lists, so a changed file need not be fetched."""

from __future__ import annotations

import hashlib
import re

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet


def right_side_lines(diff: str) -> dict[str, set[int]]:
    """Parse a unified diff into {path: head-side line numbers of added and context lines}."""
    try:
        patch = PatchSet(diff)
    except UnidiffParseError:
        return {}
    lines: dict[str, set[int]] = {}
    for patched in patch:
        if patched.is_removed_file:
            continue
        path = patched.target_file[2:] if patched.target_file.startswith("b/") else patched.path
        numbers = lines.setdefault(path, set())
        for hunk in patched:
            for line in hunk:
                if (line.is_added or line.is_context) and line.target_line_no is not None:
                    numbers.add(line.target_line_no)
    return lines


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def apply_patch(old: str, patch: str) -> str | None:
    """Apply a unified-diff patch (hunks only, as GitHub lists them); None when it does not fit."""
    source = old.splitlines(keepends=True)
    out: list[str] = []
    position = 0
    last = ""
    for line in patch.split("\n"):
        if line.startswith("@@"):
            match = _HUNK.match(line)
            if match is None:
                return None
            start, count = int(match[1]), int(match[2] or 1)
            begin = start - 1 if count else start
            if begin < position or begin > len(source):
                return None
            out.extend(source[position:begin])
            position = begin
        elif line.startswith((" ", "-")):
            if position >= len(source) or source[position].rstrip("\r\n") != line[1:]:
                return None
            if line[0] == " ":
                out.append(source[position])
            position += 1
        elif line.startswith("+"):
            out.append(line[1:] + "\n")
        elif line.startswith("\\"):
            if last.startswith("+") and out:
                out[-1] = out[-1][:-1]
        elif line:
            return None
        last = line
    out.extend(source[position:])
    return "".join(out)


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@")
