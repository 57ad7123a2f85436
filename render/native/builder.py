"""`NativeBuilder`: a kustomization root built in-process, or handed to the tool it wraps."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

import yaml

from render.build import MAX_OUTPUT, Builder, BuildResult
from render.native.json_patch import json_patch
from render.native.merge import SELECTOR_FIELDS, SIMPLE_PATTERN, by_id, merge_patch, select
from render.native.resource import Resource, Unsupported, legacy_order
from render.native.transformers import add_labels, set_images, set_namespace
from render.native.values import json_changes, load_all, load_one, read_json

VERSION = "native-1"
"""Part of the build cache key: raise it whenever what this module prints changes."""
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ORIGIN = "config.kubernetes.io/origin"
_FIELDS = {
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "components",
    "namespace",
    "patches",
    "labels",
    "images",
}
_BUILD_FIELDS = {"buildMetadata"}


class NativeBuilder:
    """Builds the kustomizations it can in-process; `fallback` (the tool) builds the rest."""

    def __init__(self, fallback: Builder) -> None:
        self.fallback = fallback
        self.native = 0
        self.delegated = 0
        self.reasons: dict[str, str] = {}
        """Root -> why the tool built it (for tests and benchmarks)."""

    @property
    def version(self) -> str | None:
        tool = self.fallback.version
        return None if tool is None else f"{VERSION}+{tool}"

    def build(self, root: str, files: Mapping[str, bytes | str]) -> BuildResult:
        try:
            output = _Build(files).render(root)
        except Exception as exc:
            # Unsupported is the rule; anything else (a nesting too deep, an index of 5,000
            # digits) is input this module does not judge: the tool builds it or words the error.
            self.delegated += 1
            self.reasons[root] = (
                str(exc) if isinstance(exc, Unsupported) else f"{type(exc).__name__}: {exc}"
            )
            return self.fallback.build(root, files)
        self.native += 1
        if len(output) > MAX_OUTPUT:
            mib = MAX_OUTPUT // (1024 * 1024)
            return BuildResult(None, f"the build printed more than {mib} MiB and was stopped")
        return BuildResult(output)


class _Build:
    def __init__(self, files: Mapping[str, bytes | str]) -> None:
        self.files = files
        self._stack: list[str] = []

    def render(self, root: str) -> str:
        resources = self.kustomization(root)
        resources.sort(key=legacy_order)
        documents = []
        for resource in resources:
            body = resource.body
            metadata = body["metadata"]
            annotations = dict(metadata.get("annotations") or {})
            annotations[ORIGIN] = f"path: {posixpath.relpath(resource.source, root or '.')}\n"
            metadata["annotations"] = annotations
            documents.append(body)
        return yaml.dump_all(documents, Dumper=yaml.CSafeDumper, sort_keys=False)

    # -- a kustomization folder --------------------------------------------------------------

    def kustomization(self, folder: str, into: list[Resource] | None = None) -> list[Resource]:
        """The resources the kustomization in `folder` builds; with `into`, the folder is a
        Component applied to the resources its parent has gathered so far (`into`, changed in
        place): its resources join them, and its transformers run on all of them."""
        if folder in self._stack:
            raise Unsupported(f"a cycle through {folder}")
        path = self._kustomization_file(folder)
        if path is None:
            raise Unsupported(f"{folder or '.'} holds no kustomization")
        data = load_one(self._text(path))
        if not isinstance(data, dict):
            raise Unsupported(f"{path} is not a mapping")
        unknown = set(data) - _FIELDS - _BUILD_FIELDS
        if unknown:
            raise Unsupported(f"{path} uses {', '.join(sorted(unknown))}")
        expected = "Kustomization" if into is None else "Component"
        if data.get("kind", "Kustomization") != expected:
            raise Unsupported(f"{path} is a {data.get('kind')}, not a {expected}")
        metadata = data.get("buildMetadata")
        if metadata is not None and metadata != ["originAnnotations"]:
            raise Unsupported(f"{path} asks for build metadata {metadata!r}")
        self._stack.append(folder)
        try:
            resources = into if into is not None else []
            self._resources(folder, _list(data.get("resources"), path), resources)
            for component in _list(data.get("components"), path):
                if not isinstance(component, str) or "://" in component:
                    raise Unsupported(f"{path}: component {component!r}")
                self.kustomization(_join(folder, component), into=resources)
            for patch in _list(data.get("patches"), path):
                self._patch(folder, path, patch, resources)
            namespace = data.get("namespace")
            if namespace is not None:
                if not isinstance(namespace, str) or not namespace:
                    raise Unsupported(f"{path}: namespace {namespace!r}")
                set_namespace(resources, namespace)
            for labels in _list(data.get("labels"), path):
                add_labels(resources, labels, path)
            for image in _list(data.get("images"), path):
                set_images(resources, image, path)
        finally:
            self._stack.pop()
        return resources

    def _kustomization_file(self, folder: str) -> str | None:
        for name in KUSTOMIZATION_FILES:
            path = posixpath.join(folder, name) if folder else name
            if path in self.files:
                return path
        return None

    def _text(self, path: str) -> str:
        data = self.files.get(path)
        if data is None:
            raise Unsupported(f"{path} is not in the snapshot")
        if isinstance(data, bytes):
            try:
                return data.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise Unsupported(f"{path} is not UTF-8") from None
        return data

    def _resources(self, folder: str, entries: list[Any], resources: list[Resource]) -> None:
        """Add the resources `entries` name to `resources` (an id may be added only once)."""
        seen = {resource.id() for resource in resources}
        for entry in entries:
            if not isinstance(entry, str) or not entry or "://" in entry or entry.startswith("/"):
                raise Unsupported(f"resource entry {entry!r}")
            target = _join(folder, entry)
            if target in self.files:
                if not _inside(target, folder):
                    raise Unsupported(f"{entry} lies outside {folder or '.'}")
                found = self._file(target)
            else:  # a folder, which must hold a kustomization
                found = self.kustomization(target)
            for resource in found:
                key = resource.id()
                if key in seen:
                    raise Unsupported(f"{'/'.join(key)} is added twice")
                seen.add(key)
                resources.append(resource)

    def _file(self, path: str) -> list[Resource]:
        text = self._text(path)
        resources = []
        for body in load_all(text):
            metadata = body.get("metadata") if isinstance(body, dict) else None
            kind = body.get("kind") if isinstance(body, dict) else None
            if (
                not isinstance(kind, str)
                or not kind
                or kind.endswith("List")
                or not isinstance(body.get("apiVersion"), str)
                or not isinstance(metadata, dict)
                or not isinstance(metadata.get("name"), str)
                or not metadata["name"]
                or not isinstance(metadata.get("namespace", ""), str)
                or not isinstance(metadata.get("labels") or {}, dict)
                or not isinstance(metadata.get("annotations") or {}, dict)
            ):
                raise Unsupported(f"{path}: a document Kustomize reads differently")
            if kind == "CustomResourceDefinition" and "conversion" in (body.get("spec") or {}):
                raise Unsupported(f"{path}: a CRD with a conversion webhook")
            if json_changes(body):
                raise Unsupported(f"{path}: a value Kustomize's JSON round trip changes")
            resource = Resource(body, path)
            resource.namespaces.append(resource.effective(resource.namespace))
            resources.append(resource)
        return resources

    # -- patches -----------------------------------------------------------------------------

    def _patch(self, folder: str, path: str, entry: Any, resources: list[Resource]) -> None:
        if not isinstance(entry, dict) or set(entry) - {"path", "patch", "target"}:
            raise Unsupported(f"{path}: patch entry {entry!r}")
        if ("path" in entry) == ("patch" in entry):
            raise Unsupported(f"{path}: a patch needs one of path and patch")
        if "path" in entry:
            file = entry["path"]
            if not isinstance(file, str):
                raise Unsupported(f"{path}: patch path {file!r}")
            patch_path = _join(folder, file)
            if not _inside(patch_path, folder) or patch_path not in self.files:
                raise Unsupported(f"{path}: patch {file}")
            text = self._text(patch_path)
        else:
            text = entry["patch"]
            if not isinstance(text, str):
                raise Unsupported(f"{path}: inline patch {text!r}")
        target = entry.get("target")
        if target is not None and (
            not isinstance(target, dict)
            or set(target) - SELECTOR_FIELDS
            or not all(isinstance(v, str) and SIMPLE_PATTERN.match(v) for v in target.values())
        ):
            raise Unsupported(f"{path}: patch target {target!r}")
        # Kustomize reads a patch opening with `[` as JSON (RFC 6902), anything else as YAML
        opening = text.strip() if "patch" in entry else text
        documents = [read_json(text)] if opening.startswith("[") else load_all(text)
        if len(documents) == 1 and isinstance(documents[0], list):
            if target is None:
                raise Unsupported(f"{path}: a JSON patch needs a target")
            for resource in select(resources, target):
                json_patch(resource, documents[0])
            return
        if not documents or not all(isinstance(d, dict) for d in documents):
            raise Unsupported(f"{path}: a patch that is neither a map nor a JSON patch")
        if target is not None:
            if len(documents) != 1:
                raise Unsupported(f"{path}: several patches with one target")
            for resource in select(resources, target):
                merge_patch(resource, documents[0])
            return
        for document in documents:
            merge_patch(by_id(resources, document), document)


def _join(folder: str, entry: str) -> str:
    return posixpath.normpath(posixpath.join(folder, entry) if folder else entry).removeprefix("./")


def _inside(path: str, folder: str) -> bool:
    return not folder or path.startswith(folder + "/")


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unsupported(f"{path}: {value!r} is not a list")
    return value
