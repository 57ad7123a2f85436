"""The common kustomization built in-process, as `kubectl kustomize` builds it, else by the tool.

Each `kubectl kustomize` costs about 0.27 s of CPU however small the root (the Go binary starts,
loads its schema, builds): 40 overlays cost 11 s where reading the same 2,000 resources as
plain files costs 0.5 s. Most roots platform teams write use a handful of fields (resources,
a namespace, labels, patches), so `NativeBuilder` builds those itself and hands every other
root, unchanged, to the tool it wraps. It never guesses: anything outside the subset below, or
anything the tool would reject, goes to the tool, which also words the error.

The subset, with the Kustomize semantics it follows (kustomize v5.5, the one in kubectl 1.32,
read in sigs.k8s.io/kustomize `api/internal/target`, `api/filters`, `kyaml/yaml/merge2`):

- `resources`: local files (inside the kustomization's folder: the load restrictor) and local
  folders holding a kustomization (built first, recursively); no cycles, no resource twice.
- `components`: folders holding a `Component`, applied in order after the resources: a
  component's resources join the parent's, then its transformers run on all of them.
- Transformers in Kustomize's order: `patches`, then `namespace`, `labels`, `images`.
- `patches` (path or inline): a strategic-merge patch is applied by its own id, or to every
  resource its `target` selects (group, version, kind, name, namespace: anchored regular
  expressions; a resource matches by its original or current name and namespace). The merge is
  kyaml's `merge2`: maps merge key by key, `null` deletes, scalars replace; lists replace for
  custom resources (no schema, so no merge keys), and patches carrying a list for a Kubernetes
  kind (which has merge keys) or a `$patch`-style directive go to the tool. After the merge the
  resource keeps its name, namespace and kind. A JSON 6902 patch (RFC 6902: add, remove,
  replace, move, copy, test) applies to the resources its `target` selects.
- Values: Kustomize reads YAML 1.2 and prints every resource through JSON (`yes` comes out as
  the text "yes", `1e3` as 1000, `1.0` as 1); this project reads YAML 1.1. A file or patch with a
  plain scalar the two read differently, or a value the JSON trip changes, goes to the tool.
- `namespace`: set on every resource that is not cluster-scoped (Kustomize's list of
  Kubernetes kinds; a custom resource counts as namespaced), the name of a `v1` Namespace, and
  the namespace of role binding subjects named `default`.
- `labels` without `includeSelectors` or `includeTemplates`: added to `metadata.labels`.
- `images` (name, newName, newTag, digest): the image of every container whose name matches.
- Output in Kustomize's legacy order, each resource annotated with its origin file (what
  `buildMetadata: [originAnnotations]` prints).

`tests/test_native_build.py` builds every kustomization it can find (the project's test
layouts, the benchmark's, `shared/fixtures/real-world`) both ways and requires the same
resources; each construct above has a case there.
"""

from __future__ import annotations

import copy
import json
import math
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from render.build import MAX_OUTPUT, Builder, BuildResult
from rules.core.loader import load_documents

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
_SELECTOR_FIELDS = {"group", "version", "kind", "name", "namespace"}
_SIMPLE_PATTERN = re.compile(r"^[A-Za-z0-9._-]*(?:\*[A-Za-z0-9._-]*){0,2}$")
"""Target patterns matched here: names, `.` and at most two `*`. Kustomize matches with Go's
RE2 (linear time); Python's `re` backtracks, so a pattern such as `(a+)+b` could take hours on a
long name: every other pattern goes to the tool."""
# Kinds Kustomize knows to be cluster-scoped (kyaml's precomputed openapi scopes, v5.5): no
# namespace is set on them. Every other kind is namespaced to Kustomize, custom ones included.
_CLUSTER_SCOPED = {
    "admissionregistration.k8s.io": {
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    },
    "apiextensions.k8s.io": {"CustomResourceDefinition"},
    "apiregistration.k8s.io": {"APIService"},
    "certificates.k8s.io": {"CertificateSigningRequest"},
    "flowcontrol.apiserver.k8s.io": {"FlowSchema", "PriorityLevelConfiguration"},
    "networking.k8s.io": {"IngressClass"},
    "node.k8s.io": {"RuntimeClass"},
    "policy": {"PodSecurityPolicy"},
    "rbac.authorization.k8s.io": {"ClusterRole", "ClusterRoleBinding"},
    "scheduling.k8s.io": {"PriorityClass"},
    "storage.k8s.io": {"CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"},
    "": {"ComponentStatus", "Namespace", "Node", "PersistentVolume"},
}
# Kinds whose namespace Kustomize also writes elsewhere: role binding subjects and webhook
# services follow the namespace of what they name (its name-reference pass), an APIService's
# service is rewritten. A root that sets a namespace over one goes to the tool, as does a CRD
# with a conversion webhook.
_TOOL_KINDS = {
    "APIService",
    "RoleBinding",
    "ClusterRoleBinding",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
}
# Kubernetes' own API groups: Kustomize has their schema (merge keys, scopes).
_KUBERNETES_GROUPS = re.compile(r"^(?:[a-z0-9]+|[a-z0-9.-]*\.k8s\.io)$")
_NOT_KUBERNETES = {"gateway.networking.k8s.io", "gateway.networking.x-k8s.io"}
_ORDER_FIRST = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
]
_ORDER_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_TYPE_ORDER = {
    **{kind: index - len(_ORDER_FIRST) for index, kind in enumerate(_ORDER_FIRST)},
    **{kind: index + 1 for index, kind in enumerate(_ORDER_LAST)},
}
# Kustomize prints every resource through JSON after reading it as YAML 1.2 (kyaml's yaml.v3):
# `enabled: yes` comes out as the text "yes", `1e3` as 1000, `1.0` as 1, a date as a timestamp,
# an integer key as text. This project's loader reads YAML 1.1 (yes is true, 1e3 is text), as
# the YAML it is given. A plain scalar read differently by the two, an integral or infinite
# float, or a key that is not text therefore sends the root to the tool (checked in kubectl 1.32).
_DIVERGENT_SCALAR = re.compile(
    r"yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF"  # booleans only in YAML 1.1
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"  # 1.1 sexagesimal
    r"|[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)[eE][-+]?[0-9]+"  # exponents
    r"|[-+]?0o[0-7]+"  # 1.2 octal
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?"  # timestamps
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_IMAGE_NAME = re.compile(r"[A-Za-z0-9._/:-]+")
"""Image names matched here (Kustomize reads `name` as a regular expression: anything beyond a
plain name goes to the tool)."""
_SCALARS_CHECKED: dict[str, str | None] = {}
"""Text -> the first divergent plain scalar in it (None: none), for texts read by many roots."""


class Unsupported(Exception):
    """The root needs something the in-process build does not do: the tool builds it."""


@dataclass(slots=True)
class _Resource:
    body: dict[str, Any]
    source: str
    """The repository path of the file it was read from."""
    namespaces: list[str] = field(default_factory=list)
    """Every effective namespace it has had, the original first (Kustomize's ids)."""

    @property
    def group_version(self) -> tuple[str, str]:
        api = self.body.get("apiVersion")
        group, _, version = api.rpartition("/") if isinstance(api, str) else ("", "", "")
        return group, version

    @property
    def kind(self) -> str:
        return str(self.body.get("kind"))

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str:
        value = self.body["metadata"].get("namespace")
        return value if isinstance(value, str) else ""

    @property
    def cluster_scoped(self) -> bool:
        return self.kind in _CLUSTER_SCOPED.get(self.group_version[0], ())

    def effective(self, namespace: str) -> str:
        """Kustomize's effective namespace: none for a cluster-scoped kind, `default` for none."""
        if self.cluster_scoped:
            return "~X"
        return namespace or "default"

    def id(self) -> tuple[str, str, str, str, str]:
        group, version = self.group_version
        return (group, version, self.kind, self.name, self.effective(self.namespace))


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
        self.folders = {posixpath.dirname(p) for p in files}
        self._stack: list[str] = []

    def render(self, root: str) -> str:
        resources = self.kustomization(root)
        resources.sort(key=_legacy_order)
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

    def kustomization(self, folder: str, into: list[_Resource] | None = None) -> list[_Resource]:
        """The resources the kustomization in `folder` builds; with `into`, the folder is a
        Component applied to the resources its parent has gathered so far (`into`, changed in
        place): its resources join them, and its transformers run on all of them."""
        if folder in self._stack:
            raise Unsupported(f"a cycle through {folder}")
        path = self._kustomization_file(folder)
        if path is None:
            raise Unsupported(f"{folder or '.'} holds no kustomization")
        data = _load_one(self._text(path))
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
                _set_namespace(resources, namespace)
            for labels in _list(data.get("labels"), path):
                _add_labels(resources, labels, path)
            for image in _list(data.get("images"), path):
                _set_images(resources, image, path)
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

    def _resources(self, folder: str, entries: list[Any], resources: list[_Resource]) -> None:
        """Add the resources `entries` name to `resources` (an id may be added only once)."""
        seen = {resource.id() for resource in resources}
        for entry in entries:
            if not isinstance(entry, str) or not entry or "://" in entry or entry.startswith("/"):
                raise Unsupported(f"resource entry {entry!r}")
            target = _join(folder, entry)
            if target in self.files and target not in self.folders:
                if not _inside(target, folder):
                    raise Unsupported(f"{entry} lies outside {folder or '.'}")
                found = self._file(target)
            elif target in self.folders or any(
                f.startswith(f"{target}/" if target else "") for f in self.folders
            ):
                found = self.kustomization(target)
            else:
                raise Unsupported(f"{entry} is missing")
            for resource in found:
                key = resource.id()
                if key in seen:
                    raise Unsupported(f"{'/'.join(key)} is added twice")
                seen.add(key)
                resources.append(resource)

    def _file(self, path: str) -> list[_Resource]:
        text = self._text(path)
        resources = []
        for body in _load_all(text):
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
            if _json_changes(body):
                raise Unsupported(f"{path}: a value Kustomize's JSON round trip changes")
            resource = _Resource(body, path)
            resource.namespaces.append(resource.effective(resource.namespace))
            resources.append(resource)
        return resources

    # -- patches -----------------------------------------------------------------------------

    def _patch(self, folder: str, path: str, entry: Any, resources: list[_Resource]) -> None:
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
            or set(target) - _SELECTOR_FIELDS
            or not all(isinstance(v, str) and _SIMPLE_PATTERN.match(v) for v in target.values())
        ):
            raise Unsupported(f"{path}: patch target {target!r}")
        # Kustomize reads a patch opening with `[` as JSON (RFC 6902), anything else as YAML
        opening = text.strip() if "patch" in entry else text
        documents = [_json(text)] if opening.startswith("[") else _load_all(text)
        if len(documents) == 1 and isinstance(documents[0], list):
            if target is None:
                raise Unsupported(f"{path}: a JSON patch needs a target")
            for resource in _select(resources, target):
                _json_patch(resource, documents[0])
            return
        if not documents or not all(isinstance(d, dict) for d in documents):
            raise Unsupported(f"{path}: a patch that is neither a map nor a JSON patch")
        if target is not None:
            if len(documents) != 1:
                raise Unsupported(f"{path}: several patches with one target")
            for resource in _select(resources, target):
                _merge_patch(resource, documents[0], text)
            return
        for document in documents:
            _merge_patch(_by_id(resources, document), document, text)


# -- strategic merge ---------------------------------------------------------------------------


def _by_id(resources: list[_Resource], patch: dict[str, Any]) -> _Resource:
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


def _select(resources: list[_Resource], target: Mapping[str, str]) -> list[_Resource]:
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


def _merge_patch(resource: _Resource, patch: dict[str, Any], text: str) -> None:
    group = resource.group_version[0]
    has_schema = _KUBERNETES_GROUPS.match(group) is not None and group not in _NOT_KUBERNETES
    _check_patch(patch, has_schema)
    if _json_changes(patch):
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
    elif value is not None and not _plain(value):
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


# -- JSON 6902 ---------------------------------------------------------------------------------


def _json_patch(resource: _Resource, operations: list[Any]) -> None:
    body: Any = copy.deepcopy(resource.body)
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
            if not isinstance(source, str) or not _pointer(source):
                raise Unsupported(f"a JSON patch {op} without from")
            value = copy.deepcopy(_get(body, _pointer(source)))
            if op == "move":
                if pointer[: len(_pointer(source))] == _pointer(source):
                    raise Unsupported("a JSON patch move into itself")
                _remove(body, _pointer(source))
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
    elif (value is not None and not _plain(value)) or _json_changes(value):
        raise Unsupported(f"a JSON patch value {value!r}")


def _json_changes(value: Any) -> bool:
    """Whether Kustomize's JSON round trip changes a value as read here: an integral or
    infinite float (1.0 prints as 1), an integer past 64 bits, a key that is not text."""
    if isinstance(value, dict):
        return any(not isinstance(k, str) or _json_changes(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_json_changes(v) for v in value)
    if isinstance(value, float):
        return not math.isfinite(value) or value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63


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


# -- namespace and labels ----------------------------------------------------------------------


def _set_namespace(resources: list[_Resource], namespace: str) -> None:
    seen = set()
    for resource in resources:
        if resource.kind in _TOOL_KINDS:
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


def _add_labels(resources: list[_Resource], entry: Any, path: str) -> None:
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


def _set_images(resources: list[_Resource], entry: Any, path: str) -> None:
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


# -- helpers -----------------------------------------------------------------------------------


def _legacy_order(resource: _Resource) -> tuple[int, str, str, str]:
    group, version = resource.group_version
    kind = resource.kind
    gvk = f"{group or '~G'}_{version or '~V'}_{kind or '~K'}"
    if kind == "Namespace" and not group:
        # Kustomize orders Namespaces of the core group after those of other groups
        gvk = "\uffff" + gvk
    return (_TYPE_ORDER.get(kind, 0), gvk, resource.namespace or "~X", resource.name)


def _plain(value: Any) -> bool:
    """A scalar that reads back the same from `yaml.dump`: Kustomize keeps its text."""
    return isinstance(value, str | int | bool | float)


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


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise Unsupported("a JSON patch the tool should report on") from None


def _load_one(text: str) -> Any:
    documents = _load_all(text)
    if len(documents) != 1:
        raise Unsupported("a kustomization of several documents")
    return documents[0]


def _load_all(text: str) -> list[Any]:
    if "<<" in text:
        raise Unsupported("a YAML merge key")
    try:
        documents = load_documents(text)
        divergent = _divergent_scalar(text)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        raise Unsupported("YAML the tool should report on") from None
    if divergent is not None:
        raise Unsupported(f"a plain {divergent!r}, which YAML 1.1 and 1.2 read differently")
    return documents


def _divergent_scalar(text: str) -> str | None:
    """The first plain scalar of `text` that YAML 1.1 and 1.2 read differently, if any."""
    if text in _SCALARS_CHECKED:
        return _SCALARS_CHECKED[text]
    found = None
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if (
            isinstance(event, yaml.ScalarEvent)
            and not event.style  # plain: libyaml says "", PyYAML None
            and _DIVERGENT_SCALAR.fullmatch(event.value)
        ):
            found = event.value
            break
    if len(_SCALARS_CHECKED) > 4096:
        _SCALARS_CHECKED.clear()
    _SCALARS_CHECKED[text] = found
    return found
