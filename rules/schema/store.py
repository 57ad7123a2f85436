"""The generated schema data, loaded once and only when a resource needs it.

The file holds every schema set (Istio releases, Gateway API channels) over one shared table of
nodes; a node is a small dict with short keys (see scripts/generate_schemas.py). Loading it is
one `json.loads` of about 70 kB (about 1 ms), so it is not worth splitting per set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

Node = dict[str, Any]

ISTIO_SETS = {"1.30": "istio-1.30", "1.24": "istio-1.24"}
"""`istio_version` values and the schema set each picks; the first is the default (the newest)."""
GATEWAY_API_SETS = {
    "standard": "gateway-api-1.6-standard",
    "experimental": "gateway-api-1.6-experimental",
}
GATEWAY_API_GROUPS = ("gateway.networking.k8s.io", "gateway.networking.x-k8s.io")


@dataclass(frozen=True, slots=True)
class KindSchema:
    """One kind of one schema set: its scope and the root node of each version (None: not
    served)."""

    set_name: str
    group: str
    kind: str
    scope: str
    versions: dict[str, int | None]


@dataclass(frozen=True, slots=True)
class Store:
    nodes: list[Node]
    sets: dict[str, dict[str, dict[str, dict[str, Any]]]]
    sources: list[dict[str, Any]]
    fast: Fast

    def kind(self, set_name: str, group: str, kind: str) -> KindSchema | None:
        entry = self.sets.get(set_name, {}).get(group, {}).get(kind)
        if entry is None:
            return None
        return KindSchema(set_name, group, kind, entry["scope"], entry["versions"])

    def groups(self, set_name: str) -> dict[str, dict[str, dict[str, Any]]]:
        return self.sets.get(set_name, {})

    def label(self, set_name: str) -> str:
        """How messages name a set: `Istio 1.24`, `Gateway API v1.6.1 (standard channel)`."""
        for source in self.sources:
            if source["set"] == set_name:
                if source["project"] == "Istio":
                    return "Istio " + ".".join(source["version"].split(".")[:2])
                return f"Gateway API {source['version']} ({source['channel']} channel)"
        return set_name


_PYTHON_TYPES: dict[str | None, tuple[type, ...] | None] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),  # a whole float (YAML `2.0`) is accepted on the slow path
    "number": (int, float),
    "boolean": (bool,),
    None: None,
}
_LEAF_ONLY = {"t", "f", "n", "d", "e"}
"""A node with no other keys checks its type and enum alone (formats are not validated)."""


@dataclass(frozen=True, slots=True)
class Fast:
    """Per node, what the walker's hot loops need without reading the node's dict.

    `types`: the Python classes the node accepts (None: any). `leaf`: a scalar node whose only
    checks are its type and `enums` (None: no enum), so a valid value needs no call at all.
    `required`: the required fields that have no default (a default fills a missing field before
    validation).
    """

    types: list[tuple[type, ...] | None]
    leaf: list[bool]
    enums: list[frozenset[Any] | None]
    required: list[tuple[str, ...]]
    post: list[bool]
    """Whether the node has an enum or checks to run after the type."""


def _fast(nodes: list[Node]) -> Fast:
    types, leaf, enums, required, post = [], [], [], [], []
    for node in nodes:
        post.append("e" in node or "c" in node)
        enum = node.get("e")
        enums.append(frozenset(e for e in enum if isinstance(e, str)) if enum else None)
        types.append((int, str) if node.get("s") else _PYTHON_TYPES.get(node.get("t")))
        leaf.append(
            node.get("t") in ("string", "integer", "number", "boolean")
            and not node.get("s")
            and set(node) <= _LEAF_ONLY
        )
        props = node.get("p") or {}
        required.append(
            tuple(
                name
                for name in node.get("r", ())
                if name not in props or "d" not in nodes[props[name]]
            )
        )
    return Fast(types, leaf, enums, required, post)


@cache
def load() -> Store:
    # A plain file next to this module (package data); importlib.resources would cost imports.
    text = (Path(__file__).parent / "data.json").read_text(encoding="utf-8")
    data = json.loads(text)
    nodes = data["nodes"]
    return Store(nodes, data["sets"], data["sources"], _fast(nodes))
