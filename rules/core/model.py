"""The plain data that flows through the analysis: resources in, findings out.

Rules see `Resource` objects (the parsed document plus where it came from) and yield `Problem`s.
The engine turns each problem into a `Finding`: it stamps the rule ID and severity, resolves the
key path to a 1-based line and column, and computes the fingerprint. Keeping positions and
fingerprints out of the rules means every rule gets them right the same way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from rules.core.document import Document, KeyPath

Severity = Literal["error", "warning"]

SEVERITIES: tuple[Severity, ...] = ("error", "warning")
UNNAMED = "<unnamed>"
"""The name the loader gives a resource without `metadata.name` (istioctl needs none)."""


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """Identifies a resource the way people name it: `Kind/namespace/name`."""

    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        if self.namespace is None:
            return f"{self.kind}/{self.name}"
        return f"{self.kind}/{self.namespace}/{self.name}"

    def to_json(self) -> dict[str, str | None]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


UNKNOWN_NAMESPACE_MARK = "?"
"""Starts the scope of a namespace the repository does not determine. No namespace name can
start with it (namespaces are DNS labels), so an unknown scope never meets a real namespace."""


def unknown_scope(group: str) -> str:
    """The scope shared by the namespace-less resources of one folder or target: applied
    together (`kubectl apply -n X -f folder/`), they land in one namespace, whichever it is."""
    return UNKNOWN_NAMESPACE_MARK + hashlib.sha256(group.encode()).hexdigest()[:12]


def is_unknown_scope(scope: str | None) -> bool:
    return scope is not None and scope.startswith(UNKNOWN_NAMESPACE_MARK)


class Origin:
    """Where the parts of a rendered resource come from, in the files a person edits.

    A plain file's resource needs none (its document says where each key is). A resource built
    by a render stage (Kustomize) has one: `locate(path)` gives the file, line and column of the
    key path `path` of the rendered body, which may be a base file or the patch that set it.
    """

    __slots__ = ()

    def locate(self, path: KeyPath) -> tuple[str, int, int]:
        raise NotImplementedError


@dataclass(slots=True, eq=False)
class Resource:
    """One Kubernetes object from a manifest, with its namespace as the repository determines it.

    `body` is the document as loaded (plain dicts and lists). `prefix` is the key path of the
    object inside its document: empty for a top-level object, `("items", 3)` inside a `kind: List`.

    `namespace` is the namespace the repository determines (`metadata.namespace`, the target's,
    the config's): None for cluster-scoped kinds and where nothing determines one. `scope` is
    what names resolve in: the namespace when known, else the `unknown_scope` of the folder or
    target the resource is applied with (so resources applied together still find each other),
    None for cluster-scoped kinds. Messages name `namespace`, never `scope`.

    `target` is what deploys the resource (`overlays/prod`), None for plain files. `site` tells
    apart, in fingerprints, copies of one resource that the repository deploys more than once
    (two targets, or two folders of plain files); None when there is only one.
    """

    api_version: str
    kind: str
    name: str
    namespace: str | None
    body: dict[str, Any]
    path: str
    document: Document | None = None
    prefix: KeyPath = ()
    scope: str | None = None
    target: str | None = None
    site: str | None = None
    origin: Origin | None = None

    def __post_init__(self) -> None:
        if self.scope is None:
            self.scope = self.namespace

    @property
    def namespace_unknown(self) -> bool:
        """A namespaced resource whose namespace the repository does not determine."""
        return self.namespace is None and self.scope is not None

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef(self.kind, self.namespace, self.name)

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def labels(self) -> dict[str, Any]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def annotations(self) -> dict[str, Any]:
        annotations = self.metadata.get("annotations")
        return annotations if isinstance(annotations, dict) else {}

    def position(self, path: KeyPath) -> tuple[int, int]:
        """1-based (line, column) of the deepest key of `path` present in the source."""
        return self.locate(path)[1:]

    def locate(self, path: KeyPath) -> tuple[str, int, int]:
        """(file, line, column) a person edits for the key path `path` of this resource."""
        if self.origin is not None:
            return self.origin.locate(tuple(path))
        if self.document is None:
            return (self.path, 1, 1)
        return (self.path, *self.document.position(self.prefix + tuple(path)))

    def __repr__(self) -> str:
        return f"<Resource {self.ref} {self.path}>"


def describe(resource: Resource) -> str:
    """How every message names a resource, so a reviewer can search for it: `Kind ns/name`,
    `Kind name` when cluster-scoped or of unknown namespace (never a namespace the repository
    does not determine), `Kind in <file>` when unnamed (the file tells it apart)."""
    if resource.name == UNNAMED:
        return f"{resource.kind} in {resource.path}"
    if resource.namespace is None:
        return f"{resource.kind} {resource.name}"
    return f"{resource.kind} {resource.namespace}/{resource.name}"


def namespace_words(resource: Resource) -> str:
    """`namespace X`, or words for the namespace a resource of unknown namespace is applied to."""
    if resource.namespace is not None:
        return f"namespace {resource.namespace}"
    return "the namespace it is applied to"


@dataclass(frozen=True, slots=True)
class Edit:
    """A mechanical fix a reviewer can apply: replace lines `start..end` (1-based, inclusive)."""

    start_line: int
    end_line: int
    replacement: str


@dataclass(slots=True)
class Problem:
    """What a rule reports: where (resource and key path) and what, in words.

    `identity` overrides the key path used in the fingerprint when the location alone does not
    identify the finding (two findings on one key). `fix` asks the engine for an `Edit`:
    `("set", value)` replaces the scalar at `path`, `("delete",)` removes the key and its value.
    """

    resource: Resource
    path: KeyPath
    message: str
    identity: tuple[str, ...] | None = None
    fix: tuple[Any, ...] | None = None
    severity: Severity | None = None


@dataclass(slots=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    path: str
    line: int
    column: int
    resource: ResourceRef
    fingerprint: str
    target: str | None = None
    """What deploys the resource (`overlays/prod`); None for plain files."""
    key: str = ""
    """The fingerprint without the site (target or folder): how a finding is paired with its
    base counterpart when a target or folder was renamed (see `rules.core.engine.mark_new`)."""
    new: bool = True
    waived: bool = False
    in_diff: bool | None = None
    edit: Edit | None = None
    waiver: Any = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "resource": self.resource.to_json(),
            "fingerprint": self.fingerprint,
            "new": self.new,
            "waived": self.waived,
            "target": self.target,
        }


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file that could not be analysed, and why, in words a user can act on."""

    path: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


def item_identity(item: Any) -> str:
    """A stable name for a list item, so fingerprints survive inserting items above it.

    Items with a `name` are named by it. Routes are named by what they match and where they send
    traffic (their destinations), not by the rest of their content, so editing a fault's
    percentage does not make the fault look new. Anything else is named by its content.
    """
    if isinstance(item, dict):
        name = item.get("name")
        if isinstance(name, str | int) and not isinstance(name, bool):
            return f"name={name}"
        if "route" in item or "match" in item:
            destinations = [
                r.get("destination") for r in item.get("route") or [] if isinstance(r, dict)
            ]
            return "route=" + _digest({"match": item.get("match"), "to": destinations})
        return "item=" + _digest(item)
    if isinstance(item, str | int | float | bool) or item is None:
        return f"value={item}"
    return "item=" + _digest(item)


def stable_path(body: Any, path: KeyPath) -> tuple[str, ...]:
    """Replace list indices in `path` by the identity of the item they point at."""
    out: list[str] = []
    node = body
    for key in path:
        if isinstance(key, int):
            if isinstance(node, list) and 0 <= key < len(node):
                node = node[key]
                out.append(f"[{item_identity(node)}]")
            else:
                out.append(f"[{key}]")
                node = None
        else:
            out.append(key)
            node = node.get(key) if isinstance(node, dict) else None
    return tuple(out)


def fingerprint(rule: str, ref: ResourceRef, key: tuple[str, ...], site: str | None = None) -> str:
    """Rule + kind + namespace/name + stable key path, and the site (target, or folder of plain
    files) where the same resource is deployed more than once. Never a line number or file name:
    without a site, a finding survives moving its file anywhere."""
    parts = [rule, ref.kind, ref.namespace or "", ref.name, *key]
    if site is not None:
        parts.append("\x1e" + site)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
