"""The namespace, labels and images transformers, in Kustomize's semantics (v5.5)."""

from __future__ import annotations

import re
from typing import Any

from render.native.resource import TOOL_KINDS, Resource, Unsupported

_IMAGE_NAME = re.compile(r"[A-Za-z0-9._/:-]+")
"""Image names matched here (Kustomize reads `name` as a regular expression: anything beyond a
plain name goes to the tool)."""


def set_namespace(resources: list[Resource], namespace: str) -> None:
    seen = set()
    for resource in resources:
        if resource.kind in TOOL_KINDS:
            raise Unsupported(f"a namespace over a {resource.kind}, which Kustomize rewrites")
        metadata = resource.body["metadata"]
        if resource.kind == "Namespace" and resource.body.get("apiVersion") == "v1":
            metadata["name"] = namespace
        if not resource.cluster_scoped:
            metadata["namespace"] = namespace
        resource.namespaces.append(resource.effective(resource.namespace))
        key = resource.id()
        if key in seen:
            raise Unsupported("the namespace makes two resources one")
        seen.add(key)


def add_labels(resources: list[Resource], entry: Any, path: str) -> None:
    if not isinstance(entry, dict) or set(entry) - {
        "pairs",
        "includeSelectors",
        "includeTemplates",
    }:
        raise Unsupported(f"{path}: labels entry {entry!r}")
    if entry.get("includeSelectors") or entry.get("includeTemplates"):
        raise Unsupported(f"{path}: labels on selectors or templates")
    pairs = entry.get("pairs") or {}
    if not isinstance(pairs, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in pairs.items()
    ):
        raise Unsupported(f"{path}: label pairs {pairs!r}")
    for resource in resources:
        metadata = resource.body["metadata"]
        metadata["labels"] = {**(metadata.get("labels") or {}), **pairs}


def set_images(resources: list[Resource], entry: Any, path: str) -> None:
    """Kustomize's image transformer (its legacy filter, v5.5): every `image` of a list named
    `containers` or `initContainers`, anywhere in a resource but a CRD, whose name matches
    `name` (a pattern, then an optional `:tag` and `@sha256:` digest) gets the new name, tag or
    digest; a new tag drops the digest and a digest drops the tag, unless both are given."""
    if (
        not isinstance(entry, dict)
        or set(entry) - {"name", "newName", "newTag", "digest"}
        or not all(isinstance(v, str) for v in entry.values())
        or not _IMAGE_NAME.fullmatch(entry.get("name", ""))
    ):
        raise Unsupported(f"{path}: images entry {entry!r}")
    matches = re.compile(
        f"{entry['name']}(?::[a-zA-Z0-9_.{{}}-]*)?(?:@sha256:[a-zA-Z0-9_.{{}}-]*)?"
    ).fullmatch

    def update(image: str) -> str:
        if not matches(image):
            return image
        name, tag, digest = _split_image(image)
        name = entry.get("newName") or name
        if entry.get("newTag") and entry.get("digest"):
            tag, digest = entry["newTag"], entry["digest"]
        elif entry.get("newTag"):
            tag, digest = entry["newTag"], ""
        elif entry.get("digest"):
            tag, digest = "", entry["digest"]
        return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value)
                if key in ("containers", "initContainers") and isinstance(value, list):
                    for container in value:
                        image = container.get("image") if isinstance(container, dict) else None
                        if image is None:
                            continue
                        if not isinstance(image, str):
                            raise Unsupported(f"an image that is not text: {image!r}")
                        container["image"] = update(image)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for resource in resources:
        if resource.kind != "CustomResourceDefinition":
            walk(resource.body)


def _split_image(image: str) -> tuple[str, str, str]:
    """An image reference's name, tag and digest, as Kustomize splits it (the tag's `:` is
    looked for after the first `/`, so a registry port stays in the name)."""
    slash = image.find("/")
    start = slash if slash > 0 else 0
    rest = image[start:]
    at, colon = rest.find("@"), rest.find(":")
    if at < 0 and colon < 0:
        return image, "", ""
    if at >= 0 and (colon < 0 or at < colon):
        return image[: start + at], "", image[start + at + 1 :]
    if at >= 0:
        return (
            image[: start + colon],
            image[start + colon + 1 : start + at],
            image[start + at + 1 :],
        )
    return image[: start + colon], image[start + colon + 1 :], ""
