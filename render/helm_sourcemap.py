"""From a key of a rendered chart back to the line a person edits: the template, or the values.

Helm names the template each manifest came from (`chart/templates/vs.yaml`), but not the line.
We find it the way a reader would:

1. Walk the key path (`spec`, `http`, `fault`) down the template's YAML lines by indentation,
   ignoring lines that are only template actions. The deepest key found is the template line.
2. When the walk stops on a line whose value comes from the values (`fault: {{ toYaml
   .Values.fault | nindent 8 }}`, or such an action in the block below it, or `.` inside
   `{{ with .Values.fault }}`), the rest of the key path lives in the values: the finding points
   at the values line that sets it, in the layer that wins (the last values file or inline
   values that set it, else the chart's values.yaml).
3. Otherwise, when the line sits inside an `{{ if }}` / `{{ with }}` opened *within* the
   resource (`{{- if .Values.chaos.enabled }}` around a `fault:` block) and a values layer sets
   that value, the value decided the finding: it points at that values line. Guards around the
   whole resource (`{{ if .Values.istio.enabled }}` before `apiVersion:`) only decide that the
   resource exists, so they do not move findings.

Everything else points at the template line, and a key the walk cannot find at all points at
the first line of the template's document (never a made-up line).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rules.core.document import Document, KeyPath
from rules.core.model import Origin

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][\w-]*)+)")
_BLOCK_OPEN = re.compile(r"^(if|with|range|define|block)\b\s*(.*)$", re.S)
_ELSE = re.compile(r"^else\b\s*(?:(?:if|with)\b\s*)?(.*)$", re.S)
_CONTROL = re.compile(r"^(?:if|with|range|define|block|else|end|template)\b|^/\*")
_DOC_SEPARATOR = re.compile(r"^---\s*$")
_KIND = re.compile(r"""^kind\s*:\s*["']?([A-Za-z]+)""")


@dataclass(slots=True)
class ValuesLayer:
    """One source of values: a values file, or inline values in an Application / HelmRelease.

    `prefix` is where the values sit inside `document` (`spec.source.helm.valuesObject`), empty
    for a values file. `body` is the values mapping itself.
    """

    path: str
    body: dict[str, Any]
    document: Document | None
    prefix: KeyPath = ()

    def has(self, path: KeyPath) -> int:
        """How many leading keys of `path` this layer sets (0: none)."""
        node: Any = self.body
        for depth, key in enumerate(path):
            in_map = isinstance(key, str) and isinstance(node, dict) and key in node
            in_list = isinstance(key, int) and isinstance(node, list) and 0 <= key < len(node)
            if in_map or in_list:
                node = node[key]
            else:
                return depth
        return len(path)

    def locate(self, path: KeyPath) -> tuple[str, int, int]:
        if self.document is None:
            return (self.path, 1, 1)
        line, column = self.document.position(self.prefix + tuple(path))
        return (self.path, line, column)


@dataclass(slots=True)
class TemplateMap(Origin):
    """Where the keys of one rendered manifest are, given its template's source and the values
    layers of the render (lowest precedence first: the chart's values.yaml, then values files,
    then inline values)."""

    template_path: str
    template_text: str
    kind: str | None
    document_index: int
    layers: Sequence[ValuesLayer] = ()
    _lines: list[str] = field(default_factory=list, repr=False)
    _region: tuple[int, int, int] | None = field(default=None, repr=False)

    def locate(self, path: KeyPath) -> tuple[str, int, int]:
        """File, 1-based line and column of the key path `path` of the rendered manifest."""
        lines = self._source_lines()
        start, body_start, end = self._document_region()
        keys = [(i, k) for i, k in enumerate(path) if isinstance(k, str)]
        matched = _walk(lines, body_start, end, [k for _, k in keys])
        if matched is None:
            return (self.template_path, body_start + 1, 1)
        depth, line, column = matched
        rest = tuple(path[keys[depth][0] + 1 :])
        reference = self._values_reference(lines, line, start)
        if reference is not None:
            found = self._in_layers((*reference, *rest))
            if found is not None:
                return found
        for guard in self._guards(lines, start, body_start, line):
            found = self._in_layers(guard, full_only=True)
            if found is not None:
                return found
        return (self.template_path, line + 1, column)

    # --- the template's document ---------------------------------------------------------

    def _source_lines(self) -> list[str]:
        if not self._lines:
            self._lines = self.template_text.splitlines()
        return self._lines

    def _document_region(self) -> tuple[int, int, int]:
        """(first line, first YAML line, end) of the template document this manifest came from:
        by position when the template has as many documents as rendered, else by `kind:`."""
        if self._region is not None:
            return self._region
        lines = self._source_lines()
        bounds, start = [], 0
        for number, text in enumerate(lines):
            if _DOC_SEPARATOR.match(text):
                bounds.append((start, number))
                start = number + 1
        bounds.append((start, len(lines)))
        documents = [b for b in bounds if _first_yaml_line(lines, *b) is not None]
        chosen = documents[0] if documents else (0, len(lines))
        if self.kind is not None:
            kinds = [_kind_of(lines, *b) for b in documents]
            same = [b for b, kind in zip(documents, kinds, strict=True) if kind == self.kind]
            if 0 <= self.document_index < len(documents) and (
                kinds[self.document_index] in (self.kind, None)
            ):
                chosen = documents[self.document_index]
            elif same:
                chosen = same[0]
        elif 0 <= self.document_index < len(documents):
            chosen = documents[self.document_index]
        first = _first_yaml_line(lines, *chosen)
        self._region = (chosen[0], first if first is not None else chosen[0], chosen[1])
        return self._region

    # --- values ----------------------------------------------------------------------------

    def _values_reference(self, lines: list[str], line: int, start: int) -> KeyPath | None:
        """The values path a template line takes its value from: on the line itself, or in the
        actions of the block below it (`{{- toYaml .Values.x | nindent 6 }}`)."""
        candidates = [lines[line].partition(":")[2]]
        for below in lines[line + 1 :]:
            stripped = below.strip()
            if not stripped.startswith("{{"):
                if stripped:
                    break
                continue
            candidates.append(stripped)
        for candidate in candidates:
            for action in _ACTION.findall(candidate):
                if _CONTROL.match(action):
                    continue  # `{{- with .Values.x }}` opens a block: it prints nothing here
                ref = _VALUES_REF.search(action)
                if ref is not None:
                    return _split(ref[1])
                if re.search(r"(?:toYaml|toJson|tpl)\s+\.(?:\s|$|\|)|^\.\s*$", action):
                    with_path = self._enclosing_with(lines, start, line)
                    if with_path is not None:
                        return with_path
        return None

    def _enclosing_with(self, lines: list[str], start: int, line: int) -> KeyPath | None:
        for kind, condition, _ in reversed(_open_blocks(lines, start, line)):
            if kind == "with":
                ref = _VALUES_REF.search(condition)
                return _split(ref[1]) if ref else None
        return None

    def _guards(self, lines: list[str], start: int, body_start: int, line: int) -> list[KeyPath]:
        """Values paths of the `if`/`with` blocks around `line` opened inside the resource,
        innermost first."""
        guards: list[KeyPath] = []
        for kind, condition, opened in reversed(_open_blocks(lines, start, line)):
            if kind not in ("if", "with") or opened < body_start:
                continue
            guards.extend(_split(ref[1]) for ref in _VALUES_REF.finditer(condition))
        return guards

    def _in_layers(self, path: KeyPath, full_only: bool = False) -> tuple[str, int, int] | None:
        """The position of `path` in the winning layer that sets it; else (unless `full_only`)
        the deepest part of it that a layer sets."""
        best: tuple[int, ValuesLayer] | None = None
        for layer in reversed(self.layers):
            depth = layer.has(path)
            if depth == len(path):
                return layer.locate(path)
            if depth and not full_only and (best is None or depth > best[0]):
                best = (depth, layer)
        if best is not None:
            return best[1].locate(path[: best[0]])
        return None


def _walk(lines: list[str], start: int, end: int, keys: list[str]) -> tuple[int, int, int] | None:
    """Follow `keys` down the YAML lines of lines[start:end] by indentation. Returns (depth
    reached, 0-based line, 1-based column) of the deepest key found, None if not even the
    first was."""
    found: tuple[int, int, int] | None = None
    parent_indent, cursor = -1, start
    for depth, key in enumerate(keys):
        pattern = re.compile(rf"""^["']?{re.escape(key)}["']?\s*:(?:\s|$)""")
        hit = None
        for number in range(cursor, end):
            text = lines[number]
            content = text.strip()
            if not content or content.startswith(("#", "{{")):
                continue
            indent = _indent(text)
            while content.startswith("- "):
                stripped = content[2:].lstrip()
                indent += len(content) - len(stripped)
                content = stripped
            if depth and indent <= parent_indent:
                break
            if pattern.match(content):
                hit = (number, indent)
                break
        if hit is None:
            break
        found = (depth, hit[0], hit[1] + 1)
        parent_indent, cursor = hit[1], hit[0] + 1
    return found


def _open_blocks(lines: list[str], start: int, line: int) -> list[tuple[str, str, int]]:
    """The template blocks still open at `line` (from the document's first line): (kind,
    condition, line opened), outermost first. `else if` replaces the condition of its block."""
    stack: list[tuple[str, str, int]] = []
    text = "\n".join(lines[start : line + 1])
    offsets = [0]
    for piece in lines[start : line + 1]:
        offsets.append(offsets[-1] + len(piece) + 1)
    for match in _ACTION.finditer(text):
        action = match[1].strip()
        at = start + next(i for i, o in enumerate(offsets[1:]) if match.start() < o)
        opened = _BLOCK_OPEN.match(action)
        if opened is not None:
            stack.append((opened[1], opened[2], at))
        elif action == "end" or action.startswith("end "):
            if stack:
                stack.pop()
        else:
            other = _ELSE.match(action)
            if other is not None and stack:
                kind, condition, opened_at = stack[-1]
                stack[-1] = (kind, other[1] or condition, opened_at)
    return stack


def _first_yaml_line(lines: list[str], start: int, end: int) -> int | None:
    for number in range(start, end):
        content = lines[number].strip()
        if content and not content.startswith(("#", "{{")):
            return number
    return None


def _kind_of(lines: list[str], start: int, end: int) -> str | None:
    for number in range(start, end):
        match = _KIND.match(lines[number])
        if match is not None:
            return match[1]
    return None


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _split(dotted: str) -> KeyPath:
    return tuple(part for part in dotted.split(".") if part)
