"""The generated schema data, loaded once and only when a resource needs it.

The file holds every schema set (Istio releases, Gateway API channels) over one shared table of
nodes; a node is a small dict with short keys (see scripts/generate_schemas.py). Loading it is
one `json.loads` of about 70 kB (about 1 ms), so it is not worth splitting per set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
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


@cache
def load() -> Store:
    text = resources.files("rules.schema").joinpath("data.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return Store(data["nodes"], data["sets"], data["sources"])
