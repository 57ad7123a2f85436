"""One YAML document of a file, with positions composed only when a finding needs one.

Parsing with positions costs far more than parsing without, so a document keeps its text and
composes nodes the first time a rule asks where a key is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

KeyPath = tuple[str | int, ...]


@dataclass(slots=True, eq=False)
class Document:
    """One YAML document of a file: its text, where it starts, and its parsed body."""

    path: str
    text: str
    start_line: int
    body: Any
    _nodes: Any = field(default=None, repr=False)
    editable: ClassVar[bool] = True
    """Whether `text` is what a person edits (a rendered document is not: no mechanical fix)."""

    def node_at(self, path: KeyPath) -> tuple[Any, Any, int]:
        """The (key node, value node) at the deepest present prefix of `path`, and its depth."""
        if self._nodes is None:
            self._nodes = yaml.compose(self.text, Loader=yaml.CSafeLoader)
        key_node, node, depth = None, self._nodes, 0
        for step in path:
            found = None
            if isinstance(node, yaml.MappingNode) and isinstance(step, str):
                found = next((kv for kv in node.value if kv[0].value == step), None)
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(step, int)
                and 0 <= step < len(node.value)
            ):
                found = (node.value[step], node.value[step])
            if found is None:
                break
            key_node, node = found
            depth += 1
        return key_node, node, depth

    def locate(self, path: KeyPath) -> tuple[str, int, int]:
        """The file, line and column a person edits for the key path `path`. Here this file; a
        rendered document (a Helm chart's) maps its keys back to templates and values files."""
        return (self.path, *self.position(path))

    def position(self, path: KeyPath) -> tuple[int, int]:
        key_node, node, _ = self.node_at(path)
        mark = (key_node or node).start_mark if (key_node or node) is not None else None
        if mark is None:
            return (self.start_line + 1, 1)
        return (self.start_line + mark.line + 1, mark.column + 1)
