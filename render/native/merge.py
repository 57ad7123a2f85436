"""Strategic-merge patches: which resources a patch names or selects, and kyaml's merge2."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from render.native.resource import Resource, Unsupported
from render.native.values import json_changes, plain

SELECTOR_FIELDS = {"group", "version", "kind", "name", "namespace"}
SIMPLE_PATTERN = re.compile(r"^[A-Za-z0-9._-]*(?:\*[A-Za-z0-9._-]*){0,2}$")
"""Target patterns matched here: names, `.` and at most two `*`. Kustomize matches with Go's
RE2 (linear time); Python's `re` backtracks, so a pattern such as `(a+)+b` could take hours on a
long name: every other pattern goes to the tool."""
# Kubernetes' own API groups: Kustomize has their schema (merge keys, scopes).
_KUBERNETES_GROUPS = re.compile(r"^(?:[a-z0-9]+|[a-z0-9.-]*\.k8s\.io)$")
_NOT_KUBERNETES = {"gateway.networking.k8s.io", "gateway.networking.x-k8s.io"}


def by_id(resources: list[Resource], patch: dict[str, Any]) -> Resource:
    """The one resource the patch names by apiVersion, kind, name and namespace (any id it has
    had, as Kustomize's GetById)."""
    metadata = patch.get("metadata")
    api = patch.get("apiVersion")
    if not isinstance(metadata, dict) or not isinstance(api, str):
        raise Unsupported("a patch without apiVersion or metadata")
    name, namespace = metadata.get("name"), metadata.get("namespace") or ""
    group, _, version = api.rpartition("/")
    found = [
        r
        for r in resources
        if r.group_version == (group, version)
        and r.kind == patch.get("kind")
        and r.name == name
        and r.effective(namespace) in r.namespaces
    ]
    if len(found) != 1:
        raise Unsupported(f"{len(found)} resources match the patch of {name}")
    return found[0]


def select(resources: list[Resource], target: Mapping[str, str]) -> list[Resource]:
    """The resources a patch target selects (Kustomize's resWrangler.Select: the original or
    the current namespace, then name, group, version and kind; an empty field selects all)."""

    def matches(key: str, value: str) -> bool:
        pattern = target.get(key)
        return not pattern or re.fullmatch(pattern, value) is not None

    found = []
    for resource in resources:
        group, version = resource.group_version
        original, current = resource.namespaces[0], resource.effective(resource.namespace)
        if (
            (matches("namespace", original) or matches("namespace", current))
            and matches("name", resource.name)
            and matches("group", group)
            and matches("version", version)
            and matches("kind", resource.kind)
        ):
            found.append(resource)
    return found


def merge_patch(resource: Resource, patch: dict[str, Any]) -> None:
    group = resource.group_version[0]
    has_schema = _KUBERNETES_GROUPS.match(group) is not None and group not in _NOT_KUBERNETES
    _check_patch(patch, has_schema)
    if json_changes(patch):
        raise Unsupported("a patch value Kustomize's JSON round trip changes")
    metadata = patch.get("metadata", {})
    if not isinstance(metadata, dict) or metadata.get("annotations", {}) is None:
        # Kustomize keeps a resource's origin in its annotations while it builds
        raise Unsupported("a patch that removes metadata or every annotation")
    name, namespace, kind = resource.name, resource.namespace, resource.kind
    merged = _merge(resource.body, patch)
    if not isinstance(merged.get("metadata"), dict):
        raise Unsupported("a patch that removes metadata")
    merged["kind"] = kind
    merged["metadata"]["name"] = name
    if namespace:
        merged["metadata"]["namespace"] = namespace
    else:
        merged["metadata"].pop("namespace", None)
    resource.body = merged


def _check_patch(value: Any, has_schema: bool) -> None:
    """Go to the tool for directives, and for lists where Kustomize would merge by key."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str) or key.startswith("$"):
                raise Unsupported(f"a patch directive {key!r}")
            _check_patch(inner, has_schema)
    elif isinstance(value, list):
        if has_schema:
            raise Unsupported("a list in a patch of a Kubernetes kind (merge keys)")
    elif value is not None and not plain(value):
        raise Unsupported(f"a patch value {value!r}")


def _merge(dest: Any, patch: Any) -> Any:
    """kyaml's merge2 of `patch` into `dest`: maps key by key, None deletes, anything else
    replaces (lists too: no merge keys without a schema); a map, list or scalar over another
    of these is an error in Kustomize."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(dest) if isinstance(dest, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
            continue
        old = result.get(key)
        if old is not None and _node_kind(old) != _node_kind(value):
            raise Unsupported(f"a patch that changes the kind of value of {key}")
        result[key] = _merge(old, value)
    return result


def _node_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    return "list" if isinstance(value, list) else "scalar"
