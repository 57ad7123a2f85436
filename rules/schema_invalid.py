"""An Istio or Gateway API resource that its own CRD schema rejects or silently prunes.

A typo is valid YAML: `timout: 5s`, `mode: STRICTT`, `hosts: reviews` (a string, not a list).
The API server either refuses the object (wrong type, enum, duration, a CEL rule) or, for a field
the schema does not declare, drops it: with `kubectl apply` (strict field validation, the default
since kubectl 1.25) the apply fails, with other clients the field is pruned and the route simply
has no timeout. `istioctl analyze` does not report unknown fields of files (istio/istio#28445).

The schemas are Istio's published CRDs (`manifests/charts/base/files/crd-all.gen.yaml`, Istio
1.30.3 and 1.24.6) and the Gateway API's (v1.6.1, standard and experimental channels), compiled
by scripts/generate_schemas.py into rules/schema/data.json; rules/schema/validator.py says what
the walk does and why (pruning, nullable, int-or-string, Istio's one-ofs, the CEL rules that are
evaluated). `istio_version` in the config picks the Istio set (default: the newest); the option
`gateway_api_experimental` (default false: the standard channel) says the cluster runs the Gateway
API's experimental-channel CRDs. A field only a newer Istio (or only the experimental channel) declares says so.

Istio's validating webhook (pkg/config/validation) rejects more than the CRD schema does (for
example route weights that do not add up); this rule checks only what the CRD schema says, so
what it reports the API server itself refuses or prunes, whatever webhook is installed.
`metadata` is checked against Kubernetes' ObjectMeta fields (labels and annotations are maps of
strings). `status` is ignored: the API server ignores it on create. IstioOperator has no CRD in
these releases (istioctl reads it) and is not checked.

At most MAX_REPORTED problems are reported per resource, then one finding counts the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.document import KeyPath
from rules.core.model import Problem, Resource, describe, stable_path
from rules.schema import store as schema_store
from rules.schema.validator import MAX_COUNTED, Issue, Walker, dotted, key_text, suggest

ID = "schema-invalid"
SEVERITY = "error"
KINDS = (
    "VirtualService",
    "DestinationRule",
    "Gateway",
    "ServiceEntry",
    "Sidecar",
    "WorkloadEntry",
    "WorkloadGroup",
    "EnvoyFilter",
    "ProxyConfig",
    "PeerAuthentication",
    "AuthorizationPolicy",
    "RequestAuthentication",
    "Telemetry",
    "WasmPlugin",
    "TrafficExtension",
    "GatewayClass",
    "HTTPRoute",
    "GRPCRoute",
    "TCPRoute",
    "TLSRoute",
    "UDPRoute",
    "ReferenceGrant",
    "BackendTLSPolicy",
    "ListenerSet",
)
SUMMARY = (
    "An Istio or Gateway API resource that its CRD schema rejects or silently prunes: unknown "
    "field, wrong type, value outside an enum, invalid duration or port, fields that exclude "
    "each other, an apiVersion that is not served."
)
WHY = (
    "A misspelt field is valid YAML. The API server drops fields its schema does not declare "
    "(or `kubectl apply` refuses the whole object), so `timout: 5s` leaves the route with no "
    "timeout and `subsett: v2` sends traffic to every version; a wrong type or enum value fails "
    "the apply late, at sync time, far from the pull request that caused it."
)
FIX = (
    "Use the field name, type and value the CRD declares (the message names the closest known "
    "field or value). If the field is newer than the configured `istio_version`, upgrade Istio "
    "first or set `istio_version` to what the cluster runs."
)
FAIL = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: bookinfo
spec:
  hosts: reviews
  http:
  - route:
    - destination:
        host: reviews.bookinfo.svc.cluster.local
    timout: 5s
"""
PASS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: bookinfo
spec:
  hosts:
  - reviews.bookinfo.svc.cluster.local
  http:
  - route:
    - destination:
        host: reviews.bookinfo.svc.cluster.local
    timeout: 5s
"""
OPTIONS: dict[str, Any] = {"gateway_api_experimental": False}

MAX_REPORTED = 10
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


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    channel = "experimental" if options.get("gateway_api_experimental") else "standard"
    istio_set = schema_store.ISTIO_SETS.get(ctx.config.istio_version, "istio-1.30")
    gateway_set = schema_store.GATEWAY_API_SETS[channel]
    store: schema_store.Store | None = None
    for resource in ctx.resources:
        group = resource.group
        if group in schema_store.GATEWAY_API_GROUPS:
            set_name, others = gateway_set, schema_store.GATEWAY_API_SETS.values()
        elif group.endswith(".istio.io"):
            set_name, others = istio_set, schema_store.ISTIO_SETS.values()
        else:
            continue
        if store is None:
            store = schema_store.load()
        if group not in store.groups(set_name) and not any(
            group in store.groups(o) for o in others
        ):
            continue  # install.istio.io (IstioOperator): no CRD, istioctl reads it
        yield from _check_resource(resource, store, set_name, [o for o in others if o != set_name])


def _check_resource(
    resource: Resource, store: schema_store.Store, set_name: str, others: list[str]
) -> Iterator[Problem]:
    root, problem = _root(resource, store, set_name, others)
    if problem is not None:
        yield problem
    if root is None:
        return
    walker = Walker(store.nodes, MAX_REPORTED)
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
) -> tuple[int | None, Problem | None]:
    """The schema root for the resource's apiVersion and kind, or a problem saying why none."""
    group, kind = resource.group, resource.kind
    version = resource.api_version.rpartition("/")[2]
    label = store.label(set_name)
    schema = store.kind(set_name, group, kind)
    if schema is None:
        elsewhere = [
            g for g, kinds in store.groups(set_name).items() if kind in kinds and g != group
        ]
        if elsewhere:
            message = f"{kind} is a kind of `{elsewhere[0]}`, not of `{group}`"
        else:
            newer = [store.label(o) for o in others if store.kind(o, group, kind) is not None]
            if newer:
                message = f"{kind} needs {newer[0]}: {label} has no such kind"
            else:
                message = f"{label} has no kind {kind} in `{group}`"
        return None, Problem(
            resource, ("kind",), f"{describe(resource)}: {message}", identity=("kind",)
        )
    root = schema.versions.get(version)
    if root is not None:
        return root, None
    served = sorted(v for v, r in schema.versions.items() if r is not None)
    state = "is not served" if version in schema.versions else "does not exist"
    message = (
        f"`{resource.api_version}` {state} for {kind} in {label} "
        f"(served: {', '.join(served)}); the API server refuses the object"
    )
    for other in others:
        other_schema = store.kind(other, group, kind)
        if other_schema is not None and other_schema.versions.get(version) is not None:
            message += f"; {store.label(other)} serves it"
            break
    problem = Problem(
        resource, ("apiVersion",), f"{describe(resource)}: {message}", identity=("apiVersion",)
    )
    return None, problem


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
