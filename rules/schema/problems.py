"""Resources against their schemas: pick the schema set and root, walk, word the problems.

The implementation of rule schema-invalid (rules/schema_invalid.py says what it checks and why),
imported only when a run holds an Istio or Gateway API resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.document import KeyPath
from rules.core.model import Problem, Resource, describe, stable_path
from rules.schema import store as schema_store
from rules.schema.validator import MAX_COUNTED, Issue, Walker, dotted, key_text, suggest

MAX_REPORTED = 10
"""Problems reported per resource; one more finding counts the rest."""
OBJECT_META_FIELDS = (
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    "finalizers",
    "ownerReferences",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
)
_TOP_LEVEL = ("apiVersion", "kind", "metadata", "status")


def problems(ctx: Context, experimental: bool) -> Iterator[Problem]:
    channel = "experimental" if experimental else "standard"
    istio_set = schema_store.ISTIO_SETS.get(ctx.config.istio_version, "istio-1.30")
    gateway_set = schema_store.GATEWAY_API_SETS[channel]
    store: schema_store.Store | None = None
    routes: dict[str, tuple[str, list[str]] | None] = {}
    roots: dict[tuple[str, str, str], tuple[int | None, str | None, str, str | None]] = {}
    for resource in ctx.resources:
        group = resource.group
        if group not in routes:
            if group in schema_store.GATEWAY_API_GROUPS:
                set_name, others = gateway_set, list(schema_store.GATEWAY_API_SETS.values())
            elif group.endswith(".istio.io"):
                set_name, others = istio_set, list(schema_store.ISTIO_SETS.values())
            else:
                routes[group] = None
                continue
            store = store or schema_store.load()
            others = [o for o in others if o != set_name]
            known = any(group in store.groups(o) for o in [set_name, *others])
            # install.istio.io (IstioOperator) has no CRD: istioctl reads it.
            routes[group] = (set_name, others) if known else None
        route = routes[group]
        if route is None:
            continue
        store = store or schema_store.load()
        key = (group, resource.kind, resource.api_version)
        if key not in roots:
            roots[key] = _root(resource, store, *route)
        root, message, where, severity = roots[key]
        if message is not None:
            yield Problem(
                resource,
                (where,),
                f"{describe(resource)}: {message}",
                identity=(where,),
                severity=severity,  # type: ignore[arg-type]
            )
        if root is not None:
            yield from _check_resource(resource, store, root, *route)


def _check_resource(
    resource: Resource, store: schema_store.Store, root: int, set_name: str, others: list[str]
) -> Iterator[Problem]:
    walker = Walker(store, MAX_REPORTED)
    _walk_top(resource.body, root, walker)
    seen: dict[tuple[str, ...], int] = {}
    for issue in walker.issues:
        yield _to_problem(resource, issue, store, set_name, others, seen)
    hidden = walker.count - len(walker.issues)
    if hidden > 0:
        more = f"{hidden:,}" if walker.count < MAX_COUNTED else f"at least {hidden:,}"
        yield Problem(
            resource,
            walker.issues[-1].path,  # listed after the last one shown
            f"{describe(resource)}: {more} more schema problems not shown "
            f"(only the first {MAX_REPORTED} are reported per resource)",
            identity=("schema-more",),
        )


def _root(
    resource: Resource, store: schema_store.Store, set_name: str, others: list[str]
) -> tuple[int | None, str | None, str, str | None]:
    """The schema root for the resource's apiVersion and kind, or why there is none: (root,
    message, the key the message is about, severity). Only the experimental channel having it
    is a warning: the cluster may run those CRDs."""
    group, kind = resource.group, resource.kind
    version = resource.api_version.rpartition("/")[2]
    schema = store.kind(set_name, group, kind)
    if schema is None:
        label = store.label(set_name)
        elsewhere = [
            g for g, kinds in store.groups(set_name).items() if kind in kinds and g != group
        ]
        if elsewhere:
            message = f"{kind} is a kind of `{elsewhere[0]}`, not of `{group}`"
        else:
            newer = [o for o in others if store.kind(o, group, kind) is not None]
            if newer:
                message = f"{kind} needs {store.label(newer[0])}: {label} has no such kind"
                if _experimental(newer[0]):
                    return None, message + _EXPERIMENTAL_HINT, "kind", "warning"
            else:
                message = f"{label} has no kind {kind} in `{group}`"
        return None, message, "kind", None
    root = schema.versions.get(version)
    if root is not None:
        return root, None, "apiVersion", None
    served = sorted(v for v, r in schema.versions.items() if r is not None)
    state = "is not served" if version in schema.versions else "does not exist"
    message = (
        f"`{resource.api_version}` {state} for {kind} in {store.label(set_name)} "
        f"(served: {', '.join(served)}); the API server refuses the object"
    )
    for other in others:
        other_schema = store.kind(other, group, kind)
        if other_schema is not None and other_schema.versions.get(version) is not None:
            message += f"; {store.label(other)} serves it"
            if _experimental(other):
                return None, message + _EXPERIMENTAL_HINT, "apiVersion", "warning"
            break
    return None, message, "apiVersion", None


_EXPERIMENTAL_HINT = (
    " (if the cluster runs the experimental CRDs, set `gateway_api_experimental: true` for rule "
    "schema-invalid)"
)


def _experimental(set_name: str) -> bool:
    return set_name == schema_store.GATEWAY_API_SETS["experimental"]


def _walk_top(body: dict[str, Any], root: int, walker: Walker) -> None:
    node = walker.nodes[root]
    props: dict[str, int] = node.get("p", {})
    for key, value in body.items():
        name = key_text(key)
        if name in ("apiVersion", "kind", "status"):
            continue
        if name == "metadata":
            _metadata(value, walker)
        elif name in props:
            if value is not None:
                walker.walk(value, props[name], (name,))
        elif not node.get("x"):
            known = tuple(dict.fromkeys((*_TOP_LEVEL, *props)))
            close = suggest(name, known)
            hint = f" (did you mean `{close}`?)" if close else ""
            walker.add(
                (name,),
                "unknown",
                f"unknown top-level field `{name}`{hint}: the API server drops it "
                "(`kubectl apply` refuses it)",
                known,
            )
    for name in node.get("r", ()):
        if body.get(name) is None:
            walker.add((), "required", f"the resource needs the field `{name}`")


def _metadata(value: Any, walker: Walker) -> None:
    """ObjectMeta as the API server decodes it: known fields, labels and annotations of strings."""
    if value is None:
        return
    if not isinstance(value, dict):
        walker.add(("metadata",), "type", "`metadata` must be a mapping")
        return
    for key, sub in value.items():
        name = key_text(key)
        path: KeyPath = ("metadata", name)
        if name not in OBJECT_META_FIELDS:
            close = suggest(name, OBJECT_META_FIELDS)
            hint = f" (did you mean `{close}`?)" if close else ""
            walker.add(
                path,
                "unknown",
                f"unknown field `{name}` in `metadata`{hint}: the API server drops it "
                "(`kubectl apply` refuses it)",
            )
        elif name in ("labels", "annotations") and sub is not None:
            if not isinstance(sub, dict):
                walker.add(path, "type", f"`metadata.{name}` must be a mapping of strings")
                continue
            for label, text in sub.items():
                if not isinstance(text, str) and text is not None:
                    walker.add(
                        (*path, key_text(label)),
                        "type",
                        f"`{dotted((*path, key_text(label)))}` must be a string; quote the "
                        f"value (YAML reads `{text}` as {type(text).__name__})",
                    )
        elif name in ("name", "namespace", "generateName") and not isinstance(sub, str | None):
            walker.add(path, "type", f"`metadata.{name}` must be a string; quote it")


def _to_problem(
    resource: Resource,
    issue: Issue,
    store: schema_store.Store,
    set_name: str,
    others: list[str],
    seen: dict[tuple[str, ...], int],
) -> Problem:
    message = issue.message
    severity = None
    if issue.code == "unknown" and issue.path and issue.path[0] != "metadata":
        for other in others:
            if _declared(resource, store, other, issue.path):
                message, severity = _newer(issue, store, set_name, other)
                break
        else:
            hint = _other_api(resource, store, issue.path)
            if hint:
                message = message.replace(
                    ": the API server drops it", hint + ": the API server drops it", 1
                )
    # List items are named by their content: identical items (ten `- 42`) are told apart by
    # their rank among the identical ones, which inserting other items does not change.
    identity = (*stable_path(resource.body, issue.path), issue.code)
    rank = seen.get(identity, 0)
    seen[identity] = rank + 1
    return Problem(
        resource,
        issue.path,
        f"{describe(resource)}: {message}",
        identity=(*identity, str(rank)) if rank else identity,
        severity=severity,  # type: ignore[arg-type]
    )


def _other_api(resource: Resource, store: schema_store.Store, path: KeyPath) -> str:
    """A hint when the field belongs to the same kind of the other API: `servers` in a Gateway
    API Gateway is an Istio Gateway's field (the two kinds share the name `Gateway`)."""
    if len(path) != 2 or path[0] != "spec":
        return ""
    if resource.group in schema_store.GATEWAY_API_GROUPS:
        set_name = schema_store.ISTIO_SETS["1.30"]
    else:
        set_name = schema_store.GATEWAY_API_SETS["experimental"]
    for group, kinds in store.groups(set_name).items():
        if resource.kind in kinds and group != resource.group:
            schema = store.kind(set_name, group, resource.kind)
            roots = schema.versions.values() if schema else ()
            if any(r is not None and _resolves(store.nodes, r, path) for r in roots):
                return f", a field of the {resource.kind} of `{group}` (is the apiVersion right?)"
    return ""


def _newer(
    issue: Issue, store: schema_store.Store, set_name: str, other: str
) -> tuple[str, str | None]:
    field, where = issue.path[-1], dotted(issue.path[:-1])
    if other.startswith("gateway-api") and other.endswith("experimental"):
        return (
            f"`{field}` in `{where}` is only in Gateway API's experimental channel: the "
            f"standard channel's CRDs ({store.label(set_name)}) drop it (if the cluster runs the "
            "experimental CRDs, set `gateway_api_experimental: true` for rule schema-invalid)",
            "warning",
        )
    if other.startswith("gateway-api"):
        return (
            f"`{field}` in `{where}` is only in Gateway API's standard channel",
            None,
        )
    return (
        f"`{field}` in `{where}` needs {store.label(other)}: it is not in "
        f"{store.label(set_name)}'s schema (the API server drops it); upgrade Istio first, or "
        "set `istio_version` to what the cluster runs",
        None,
    )


def _declared(resource: Resource, store: schema_store.Store, set_name: str, path: KeyPath) -> bool:
    """Whether the schema set declares `path` for this resource's kind (any served version)."""
    schema = store.kind(set_name, resource.group, resource.kind)
    if schema is None:
        return False
    version = resource.api_version.rpartition("/")[2]
    roots = [schema.versions.get(version), *list(schema.versions.values())]
    return any(root is not None and _resolves(store.nodes, root, path) for root in roots)


def _resolves(nodes: list[dict[str, Any]], root: int, path: KeyPath) -> bool:
    node_id: int | None = root
    for step in path:
        if node_id is None:
            return False
        node = nodes[node_id]
        if isinstance(step, int):
            node_id = node.get("i")
            continue
        props = node.get("p")
        if props and step in props:
            node_id = props[step]
        elif "a" in node:
            node_id = node["a"]
        else:
            return bool(node.get("x"))
    return node_id is not None
