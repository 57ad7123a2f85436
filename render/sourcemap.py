"""Where a key of a built resource comes from: the patch that set it, else its base file.

Kustomize's `originAnnotations` name the file a resource came from, not the line, and nothing
names the patch that changed a value. So a key path of the built resource is looked up:

1. in the base document (the resource as written in the file the annotation names): when the
   value there is the one that was built, the base line is where a person edits it;
2. otherwise in the patches that target the resource, the root's last (they apply last): a
   strategic-merge patch that holds the key path, or a JSON 6902 operation whose `path` is the
   key path or a parent of it (`/spec/http/0/fault`);
3. otherwise the deepest part of the key path the base document has.

List items are followed by `name` where they have one (patches may reorder or insert items),
else by position.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from render.kustomize import PatchSource
from rules.core.document import Document, KeyPath
from rules.core.model import Origin


@dataclass(slots=True)
class ParsedPatch:
    """A patch as text with positions: its documents (strategic merge) or its operations."""

    source: PatchSource
    documents: list[Document] = field(default_factory=list)
    operations: list[tuple[KeyPath, Document, KeyPath]] = field(default_factory=list)
    """(target key path, the patch document, the operation's key path in it)."""

    @classmethod
    def of(cls, source: PatchSource) -> ParsedPatch:
        patch = cls(source)
        start = source.first_line - 1
        text = source.text
        try:
            bodies = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
        except yaml.YAMLError:
            return patch
        if source.json6902:
            ops = bodies[0] if bodies else None
            document = Document(source.path, text, start, ops)
            for index, op in enumerate(ops if isinstance(ops, list) else ()):
                if isinstance(op, dict) and isinstance(op.get("path"), str):
                    where: KeyPath = (index, "value") if "value" in op else (index, "path")
                    patch.operations.append((_pointer(op["path"]), document, where))
            return patch
        offset = 0
        for chunk in re.split(r"(?m)^---[ \t]*$", text):
            body = yaml.load(chunk, Loader=yaml.CSafeLoader) if chunk.strip() else None
            if isinstance(body, dict):
                patch.documents.append(Document(source.path, chunk, start + offset, body))
            offset += chunk.count("\n") + 1
        return patch

    def targets(self, kind: str, name: str, original: str | None) -> bool:
        """Whether this patch applies to a resource of `kind` named `name` (built) or
        `original` (as written in its base)."""
        target = self.source.target
        if target is not None:
            wanted_kind = target.get("kind")
            wanted_name = target.get("name")
            if isinstance(wanted_kind, str) and not _glob(wanted_kind, kind):
                return False
            return not isinstance(wanted_name, str) or any(
                _glob(wanted_name, n) for n in (name, original) if n
            )
        for document in self.documents:
            meta = document.body.get("metadata") if isinstance(document.body, dict) else None
            patched = meta.get("name") if isinstance(meta, dict) else None
            if document.body.get("kind") in (kind, None) and patched in (name, original):
                return True
        return False


def _glob(pattern: str, value: str) -> bool:
    """Kustomize target names are regular expressions; plain names match themselves."""
    if pattern == value:
        return True
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return fnmatch.fnmatchcase(value, pattern)


def _pointer(pointer: str) -> KeyPath:
    steps: list[str | int] = []
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        steps.append(int(part) if part.isdigit() else part)
    return tuple(steps)


@dataclass(slots=True)
class KustomizeOrigin(Origin):
    """The origin of one built resource (see the module docstring)."""

    body: dict[str, Any]
    """The built resource."""
    base: Document | None
    """The base document the resource was built from (None: not found in its file)."""
    base_path: str
    patches: Sequence[ParsedPatch]
    """Patches that target the resource, the last applied first."""

    def locate(self, path: KeyPath) -> tuple[str, int, int]:
        path = tuple(path)
        built = _walk(self.body, path)
        if self.base is not None:
            base_path, depth = _follow(self.base.body, self.body, path)
            if depth == len(path) and _walk(self.base.body, base_path) == built:
                return (self.base_path, *self.base.position(base_path))
        for patch in self.patches:
            found = _in_patch(patch, self.body, path)
            if found is not None:
                return found
        if self.base is None:
            return (self.base_path, 1, 1)
        base_path, _ = _follow(self.base.body, self.body, path)
        return (self.base_path, *self.base.position(base_path))


_MISSING = object()


def _walk(node: Any, path: KeyPath) -> Any:
    for step in path:
        if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
            continue
        if isinstance(node, dict) and isinstance(step, str) and step in node:
            node = node[step]
            continue
        return _MISSING
    return node


def _follow(source: Any, built: Any, path: KeyPath) -> tuple[KeyPath, int]:
    """`path` of the built resource as a key path of `source` (list items matched by `name`),
    and how many of its steps `source` has."""
    out: list[str | int] = []
    for depth, step in enumerate(path):
        if isinstance(step, int):
            if not isinstance(source, list) or not isinstance(built, list) or step >= len(built):
                return tuple(out), depth
            item = built[step]
            found = _matching_item(source, item, step)
            if found is None:
                return tuple(out), depth
            out.append(found)
            source, built = source[found], item
        else:
            if not isinstance(source, dict) or step not in source or not isinstance(built, dict):
                return tuple(out), depth
            out.append(step)
            source, built = source[step], built.get(step)
    return tuple(out), len(path)


def _matching_item(items: list[Any], item: Any, index: int) -> int | None:
    name = item.get("name") if isinstance(item, dict) else None
    if name is not None:
        for position, candidate in enumerate(items):
            if isinstance(candidate, dict) and candidate.get("name") == name:
                return position
        return None
    return index if index < len(items) else None


def _in_patch(
    patch: ParsedPatch, built: dict[str, Any], path: KeyPath
) -> tuple[str, int, int] | None:
    for target, document, where in reversed(patch.operations):  # the last operation wins
        if path[: len(target)] == target or target[: len(path)] == path:
            return (patch.source.path, *document.position(where))
    for document in patch.documents:
        patch_path, depth = _follow(document.body, built, path)
        if depth == len(path):
            return (patch.source.path, *document.position(patch_path))
    return None
