"""JSON 6902 patches (RFC 6902: add, remove, replace, move, copy, test) on a resource."""

from __future__ import annotations

import copy
from typing import Any

from render.native.resource import Resource, Unsupported
from render.native.values import json_changes, plain


def json_patch(resource: Resource, operations: list[Any]) -> None:
    """Apply `operations` to the resource in place: an operation Kustomize would refuse raises
    `Unsupported` and the whole root goes to the tool, so a half-patched body is never used."""
    body: Any = resource.body
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("path"), str):
            raise Unsupported(f"a JSON patch operation {operation!r}")
        op = operation.get("op")
        pointer = _pointer(operation["path"])
        if not pointer or pointer in (["metadata"], ["metadata", "annotations"]):
            # Kustomize keeps a resource's origin in its annotations while it builds: replacing
            # them all makes the tool name the kustomization as the origin.
            raise Unsupported("a JSON patch of the whole document, metadata or annotations")
        if op in ("add", "replace", "test"):
            if "value" not in operation:
                raise Unsupported(f"a JSON patch {op} without a value")
            value = copy.deepcopy(operation["value"])
            _check_json_value(value)
            if op == "test":
                if _get(body, pointer) != value:
                    raise Unsupported("a JSON patch test that fails")
            else:
                _put(body, pointer, value, insert=op == "add")
        elif op == "remove":
            _remove(body, pointer)
        elif op in ("move", "copy"):
            source = operation.get("from")
            origin = _pointer(source) if isinstance(source, str) else []
            if not origin:
                raise Unsupported(f"a JSON patch {op} without from")
            value = copy.deepcopy(_get(body, origin))
            if op == "move":
                if pointer[: len(origin)] == origin:
                    raise Unsupported("a JSON patch move into itself")
                _remove(body, origin)
            _put(body, pointer, value, insert=True)
        else:
            raise Unsupported(f"a JSON patch op {op!r}")
    if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
        raise Unsupported("a JSON patch that removes metadata")
    if not isinstance(body["metadata"].get("name"), str) or body.get("kind") != resource.kind:
        raise Unsupported("a JSON patch that renames the resource")
    resource.body = body


def _check_json_value(value: Any) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str):
                raise Unsupported(f"a JSON patch key {key!r}")
            _check_json_value(inner)
    elif isinstance(value, list):
        for inner in value:
            _check_json_value(inner)
    elif (value is not None and not plain(value)) or json_changes(value):
        raise Unsupported(f"a JSON patch value {value!r}")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise Unsupported(f"a JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(body: Any, pointer: list[str]) -> Any:
    node = body
    for part in pointer[:-1]:
        node = _child(node, part)
    return node


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        if part not in node:
            raise Unsupported(f"a JSON patch path through a missing {part}")
        return node[part]
    if isinstance(node, list):
        return node[_index(node, part, end=False)]
    raise Unsupported(f"a JSON patch path through a value at {part}")


def _index(node: list[Any], part: str, *, end: bool) -> int:
    if end and part == "-":
        return len(node)
    if not part.isdigit() or (part != "0" and part.startswith("0")):
        raise Unsupported(f"a JSON patch index {part!r}")
    index = int(part)
    if index > len(node) or (index == len(node) and not end):
        raise Unsupported(f"a JSON patch index {index} out of range")
    return index


def _get(body: Any, pointer: list[str]) -> Any:
    return _child(_parent(body, pointer), pointer[-1])


def _put(body: Any, pointer: list[str], value: Any, *, insert: bool) -> None:
    parent, last = _parent(body, pointer), pointer[-1]
    if isinstance(parent, dict):
        if not insert and last not in parent:
            raise Unsupported(f"a JSON patch replace of a missing {last}")
        parent[last] = value
    elif isinstance(parent, list):
        if insert:
            parent.insert(_index(parent, last, end=True), value)
        else:
            parent[_index(parent, last, end=False)] = value
    else:
        raise Unsupported(f"a JSON patch into a value at {last}")


def _remove(body: Any, pointer: list[str]) -> None:
    parent, last = _parent(body, pointer), pointer[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise Unsupported(f"a JSON patch remove of a missing {last}")
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(parent, last, end=False)]
    else:
        raise Unsupported(f"a JSON patch remove in a value at {last}")
