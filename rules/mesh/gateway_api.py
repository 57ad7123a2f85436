"""The Kubernetes Gateway API as Istio reads it: Gateways, listeners, routes, grants, waypoints.

Facts from the Gateway API specification (kubernetes-sigs/gateway-api v1.6, `apis/v1` doc
comments) and Istio 1.32's conversion (`pilot/pkg/config/kube/gateway`, `gatewaycommon`):

- A `parentRefs` entry defaults to group `gateway.networking.k8s.io`, kind `Gateway`, the
  route's namespace. Istio accepts parents of kind Gateway, Service (GAMMA: mesh routing for
  that Service) and ServiceEntry; any other parent (ServiceImport, ListenerSet...) is left to
  another controller. `sectionName` names a listener, `port` its port; both must match.
- A listener admits routes from its Gateway's namespace unless `allowedRoutes.namespaces.from`
  says `All` or `Selector` (labels of the route's Namespace; every Namespace carries
  `kubernetes.io/metadata.name`, which Istio adds when it is missing), and only the kinds its
  protocol supports: HTTP and HTTPS take HTTPRoute and GRPCRoute, TCP takes TCPRoute, TLS takes
  TLSRoute (and TCPRoute when it terminates TLS), intersected with `allowedRoutes.kinds`
  (Istio's `GenerateGatewaySupportedKinds`).
- Hostnames: a listener without `hostname` and a route without `hostnames` match everything;
  `*.example.com` covers every name below example.com but not example.com itself.
- A `backendRefs` entry defaults to group "" and kind Service in the route's namespace; a
  reference into another namespace needs a ReferenceGrant there whose `from` names the route's
  group, kind and namespace and whose `to` names the target's group and kind (and name, if set).
  The same holds for a Gateway's `tls.certificateRefs` (kind Secret) in another namespace.
- Waypoints: Gateways of class `istio-waypoint`. A Namespace, Service, ServiceEntry or pod
  opts in with the label `istio.io/use-waypoint: <name>` (`none` opts out), in its own
  namespace unless `istio.io/use-waypoint-namespace` names another; `istio.io/waypoint-for`
  on the waypoint says which traffic it takes (`service` by default).

Namespaces: a resource's namespace is what the repository determines, or None (unknown).
Resources of unknown namespace in one folder are taken to share one namespace; a lookup from
them into their own (unknown) namespace that finds nothing is `UNKNOWN`, never missing.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

from rules.core.document import KeyPath
from rules.core.loader import GATEWAY_API_GROUP
from rules.core.model import Resource

GROUP = GATEWAY_API_GROUP
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute")
WAYPOINT_CLASS = "istio-waypoint"
USE_WAYPOINT = "istio.io/use-waypoint"
USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace"
WAYPOINT_FOR = "istio.io/waypoint-for"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
HOSTNAME_KINDS = ("HTTPRoute", "GRPCRoute", "TLSRoute")
"""Route kinds with `spec.hostnames` (TCPRoute has none)."""


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[tuple[int, dict[str, Any]]]:
    return (
        [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]
        if isinstance(value, list)
        else []
    )


def text(value: Any) -> str | None:
    """A written string (or number) as text; None when absent or not a scalar."""
    if isinstance(value, bool) or value is None:
        return None
    return str(value) if isinstance(value, str | int) else None


# --- Namespaces ------------------------------------------------------------------------------


class Found(Enum):
    """The outcome of a lookup: the target is in the repository, absent, or cannot be known."""

    PRESENT = "present"
    MISSING = "missing"
    UNKNOWN = "unknown"
    AMBIGUOUS = "ambiguous"
    """Several definitions (copies for different clusters, examples side by side): one exists,
    but which one is deployed with the referrer cannot be told."""


Scope = tuple[str | None, str]
"""(namespace, "") for a known namespace; (None, folder) for resources of unknown namespace."""


def scope_of(resource: Resource) -> Scope:
    """Where names written in `resource` resolve. For an unknown namespace: the scope the loader
    shares among what is applied together (a target, or a folder of plain files), where it
    gives one, else the file's folder."""
    if resource.namespace is not None:
        return (resource.namespace, "")
    shared = getattr(resource, "scope", None)
    return (None, shared if isinstance(shared, str) else posixpath.dirname(resource.path))


def target_scope(resource: Resource, written_namespace: str | None) -> Scope:
    """Where a reference from `resource` points: the namespace it writes, else its own."""
    if written_namespace:
        return (written_namespace, "")
    return scope_of(resource)


def qualified(resource: Resource) -> str:
    """`namespace/name`, or the name alone where the namespace is unknown."""
    if resource.namespace is None:
        return resource.name
    return f"{resource.namespace}/{resource.name}"


# --- Listeners -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listener:
    gateway: Resource
    index: int
    name: str | None
    port: int | None
    protocol: str
    hostname: str | None
    allowed_from: str
    """`Same` (the default), `All`, `Selector` or `None`."""
    selector: dict[str, Any] | None
    allowed_kinds: tuple[tuple[str, str], ...] | None
    """`allowedRoutes.kinds` as (group, kind); None when unset (the protocol decides)."""
    terminates_tls: bool

    @property
    def path(self) -> KeyPath:
        return ("spec", "listeners", self.index)

    def label(self) -> str:
        return f"listener {self.name}" if self.name else f"listener {self.index + 1}"

    def supported_kinds(self) -> frozenset[tuple[str, str]]:
        """The route kinds this listener takes (Istio's `GenerateGatewaySupportedKinds`)."""
        return _supported_kinds(self.protocol, self.terminates_tls, self.allowed_kinds)


@lru_cache(maxsize=256)
def _supported_kinds(
    protocol: str, terminates_tls: bool, allowed_kinds: tuple[tuple[str, str], ...] | None
) -> frozenset[tuple[str, str]]:
    by_protocol = {
        "HTTP": ("HTTPRoute", "GRPCRoute"),
        "HTTPS": ("HTTPRoute", "GRPCRoute"),
        "TCP": ("TCPRoute",),
        "TLS": ("TLSRoute", "TCPRoute") if terminates_tls else ("TLSRoute",),
    }
    supported = {(GROUP, kind) for kind in by_protocol.get(protocol, ())}
    if allowed_kinds is not None:
        supported &= set(allowed_kinds)
    return frozenset(supported)


def listeners(gateway: Resource) -> list[Listener]:
    found = []
    for index, listener in items(gateway.spec.get("listeners")):
        allowed = mapping(listener.get("allowedRoutes"))
        namespaces = mapping(allowed.get("namespaces"))
        kinds = allowed.get("kinds")
        allowed_kinds = None
        if isinstance(kinds, list) and kinds:
            allowed_kinds = tuple(
                ((text(k.get("group")) if "group" in k else GROUP) or "", str(k.get("kind")))
                for _, k in items(kinds)
            )
        tls = listener.get("tls")
        mode = mapping(tls).get("mode")
        port = listener.get("port")
        selector = namespaces.get("selector")
        found.append(
            Listener(
                gateway=gateway,
                index=index,
                name=text(listener.get("name")),
                port=port if isinstance(port, int) and not isinstance(port, bool) else None,
                protocol=str(listener.get("protocol") or "").upper(),
                hostname=text(listener.get("hostname")),
                allowed_from=text(namespaces.get("from")) or "Same",
                selector=selector if isinstance(selector, dict) else None,
                allowed_kinds=allowed_kinds,
                # The CRD defaults `tls.mode` to Terminate when `tls` is present.
                terminates_tls=isinstance(tls, dict) and (mode or "Terminate") == "Terminate",
            )
        )
    return found


# --- Hostnames -------------------------------------------------------------------------------


def hostnames_intersect(listener: str | None, route: str) -> bool:
    """Whether a route hostname and a listener hostname intersect (Gateway API rules: a
    wildcard `*.d` covers names below `d`, either side may be the wildcard; no listener
    hostname matches every route hostname). Compared case-insensitively, like DNS names."""
    if listener is None:
        return True
    a, b = listener.lower().rstrip("."), route.lower().rstrip(".")
    if a.startswith("*.") and b.startswith("*."):
        return a[1:].endswith(b[1:]) or b[1:].endswith(a[1:])
    if a.startswith("*."):
        return b.endswith(a[1:])
    if b.startswith("*."):
        return a.endswith(b[1:])
    return a == b


def route_hostnames(route: Resource) -> list[tuple[int, str]]:
    hostnames = route.spec.get("hostnames")
    if route.kind not in HOSTNAME_KINDS or not isinstance(hostnames, list):
        return []
    return [(i, h) for i, h in enumerate(hostnames) if isinstance(h, str) and h]


# --- References ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reference:
    """A parentRef, backendRef or certificateRef as written, with Gateway API defaults."""

    owner: Resource
    path: KeyPath
    group: str
    kind: str
    namespace: str | None
    """The namespace as written; None when the reference leaves it to the owner's."""
    name: str
    section_name: str | None = None
    port: int | None = None

    @property
    def scope(self) -> Scope:
        return target_scope(self.owner, self.namespace)

    @property
    def cross_namespace(self) -> bool | None:
        """Whether it leaves the owner's namespace; None when the owner's namespace is unknown."""
        if self.namespace is None or self.namespace == self.owner.namespace:
            return False
        return None if self.owner.namespace is None else True


def _reference(
    owner: Resource, path: KeyPath, ref: dict[str, Any], group: str, kind: str
) -> Reference | None:
    name = text(ref.get("name"))
    if not name:
        return None
    port = ref.get("port")
    if "group" in ref:
        group = text(ref.get("group")) or ""  # group "" (or null) is the core API group
    return Reference(
        owner=owner,
        path=path,
        group=group,
        kind=text(ref.get("kind")) or kind,
        namespace=text(ref.get("namespace")) or None,
        name=name,
        section_name=text(ref.get("sectionName")) or None,
        port=port if isinstance(port, int) and not isinstance(port, bool) else None,
    )


def parent_refs(route: Resource) -> list[Reference]:
    found = []
    for index, ref in items(route.spec.get("parentRefs")):
        reference = _reference(route, ("spec", "parentRefs", index), ref, GROUP, "Gateway")
        if reference is not None:
            found.append(reference)
    return found


def backend_refs(route: Resource) -> Iterator[Reference]:
    """Every backendRef of a route's rules, request mirrors included."""
    for r, rule in items(route.spec.get("rules")):
        for b, ref in items(rule.get("backendRefs")):
            path = ("spec", "rules", r, "backendRefs", b)
            reference = _reference(route, path, ref, "", "Service")
            if reference is not None:
                yield reference
            for f, mirror in _mirrors(ref):
                yield from _mirror_ref(route, (*path, "filters", f), mirror)
        for f, mirror in _mirrors(rule):
            yield from _mirror_ref(route, ("spec", "rules", r, "filters", f), mirror)


def _mirrors(holder: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [
        (f, mapping(flt.get("requestMirror")))
        for f, flt in items(holder.get("filters"))
        if isinstance(flt.get("requestMirror"), dict)
    ]


def _mirror_ref(route: Resource, path: KeyPath, mirror: dict[str, Any]) -> Iterator[Reference]:
    ref = mirror.get("backendRef")
    if isinstance(ref, dict):
        reference = _reference(route, (*path, "requestMirror", "backendRef"), ref, "", "Service")
        if reference is not None:
            yield reference


def certificate_refs(gateway: Resource) -> Iterator[Reference]:
    for listener in listeners(gateway):
        tls = mapping(mapping(gateway.spec.get("listeners", [])[listener.index]).get("tls"))
        for c, ref in items(tls.get("certificateRefs")):
            path = (*listener.path, "tls", "certificateRefs", c)
            reference = _reference(gateway, path, ref, "", "Secret")
            if reference is not None:
                yield reference


# --- The index -------------------------------------------------------------------------------


class GatewayApiIndex:
    """Gateway API Gateways, routes, grants, Namespaces and waypoint labels of one revision."""

    def __init__(self, resources: list[Resource]) -> None:
        self.gateways: dict[tuple[Scope, str], list[Resource]] = defaultdict(list)
        self.routes: list[Resource] = []
        self._grants: dict[str | None, list[Resource]] = defaultdict(list)
        self._services: dict[tuple[Scope, str], list[Resource]] = defaultdict(list)
        self._service_entries: dict[tuple[Scope, str], list[Resource]] = defaultdict(list)
        self._unknown_names: dict[str, set[str]] = defaultdict(set)
        """Kind -> names of resources of that kind whose namespace is unknown."""
        self._namespace_labels: dict[str, dict[str, str]] = {}
        self._listeners: dict[int, list[Listener]] = {}
        self._classes: dict[str, Resource] = {}
        self.service_namespaces: set[str] = set()
        for resource in resources:
            kind, group = resource.kind, resource.group
            key = (scope_of(resource), resource.name)
            if resource.namespace is None and kind != "Namespace":
                self._unknown_names[kind].add(resource.name)
            if group == GROUP:
                if kind == "Gateway":
                    self.gateways[key].append(resource)
                elif kind in ROUTE_KINDS:
                    self.routes.append(resource)
                elif kind == "ReferenceGrant":
                    self._grants[resource.namespace].append(resource)
                elif kind == "GatewayClass":
                    self._classes.setdefault(resource.name, resource)
            elif kind == "Service" and group == "":
                self._services[key].append(resource)
                if resource.namespace is not None:
                    self.service_namespaces.add(resource.namespace)
            elif kind == "ServiceEntry" and group == "networking.istio.io":
                self._service_entries[key].append(resource)
            elif kind == "Namespace" and group == "":
                labels = self._namespace_labels.setdefault(resource.name, {})
                labels.update({str(k): str(v) for k, v in resource.labels.items()})

    # --- lookups

    def lookup(
        self, kind: str, scope: Scope, name: str, near: Resource | None = None
    ) -> tuple[Found, Resource | None]:
        """Find a Gateway, Service or ServiceEntry by scope and name.

        Missing only when the namespace is known and no resource of that kind and name has an
        unknown namespace (it might be the one meant). With several definitions, the one in
        the file of `near` (the referrer) is the one meant; without one there, it is
        ambiguous."""
        table = {
            "Gateway": self.gateways,
            "Service": self._services,
            "ServiceEntry": self._service_entries,
        }[kind]
        found = table.get((scope, name), [])
        if len(found) == 1:
            return Found.PRESENT, found[0]
        if found:
            beside = [r for r in found if near is not None and r.path == near.path]
            if len(beside) == 1:
                return Found.PRESENT, beside[0]
            return Found.AMBIGUOUS, None
        if scope[0] is None or name in self._unknown_names.get(kind, ()):
            return Found.UNKNOWN, None
        return Found.MISSING, None

    def parent(self, ref: Reference) -> tuple[Found, Resource | None] | None:
        """The parent a parentRef names; None for parents Istio leaves to other controllers."""
        if ref.group == GROUP and ref.kind == "Gateway":
            return self.lookup("Gateway", ref.scope, ref.name, ref.owner)
        if ref.group == "" and ref.kind == "Service":
            return self.lookup("Service", ref.scope, ref.name, ref.owner)
        if ref.group == "networking.istio.io" and ref.kind == "ServiceEntry":
            return self.lookup("ServiceEntry", ref.scope, ref.name, ref.owner)
        return None

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        """The labels of the repository's Namespace object (with the name label Kubernetes
        adds); None when the repository holds no Namespace object for it."""
        labels = self._namespace_labels.get(namespace)
        if labels is None:
            return None
        return {NAMESPACE_NAME_LABEL: namespace, **labels}

    def traffic_type(self, waypoint: Resource) -> str:
        """The traffic a waypoint takes: its `istio.io/waypoint-for` label, else its
        GatewayClass's, else `service` (Istio 1.32 `serviceregistry/ambient/waypoints.go`)."""
        written = text(waypoint.labels.get(WAYPOINT_FOR))
        if written:
            return written
        gateway_class = self._classes.get(str(waypoint.spec.get("gatewayClassName")))
        written = text(gateway_class.labels.get(WAYPOINT_FOR)) if gateway_class else None
        return written or "service"

    def listeners_of(self, gateway: Resource) -> list[Listener]:
        """The gateway's listeners, read once per revision (every route attached to a Gateway
        asks for them)."""
        found = self._listeners.get(id(gateway))
        if found is None:
            found = self._listeners[id(gateway)] = listeners(gateway)
        return found

    def grants_in(self, namespace: str) -> list[Resource]:
        return self._grants.get(namespace, [])

    def grant_allows(self, ref: Reference) -> Resource | None:
        """The ReferenceGrant in the target namespace that permits this cross-namespace
        reference, or None."""
        owner = ref.owner
        for grant in self.grants_in(ref.namespace or ""):
            froms = items(grant.spec.get("from"))
            tos = items(grant.spec.get("to"))
            if not any(
                (text(f.get("group")) or "") == owner.group
                and text(f.get("kind")) == owner.kind
                and text(f.get("namespace")) == owner.namespace
                for _, f in froms
            ):
                continue
            for _, to in tos:
                if (text(to.get("group")) or "") != ref.group or text(to.get("kind")) != ref.kind:
                    continue
                if text(to.get("name")) in (None, "", ref.name):
                    return grant
        return None


# --- Namespaces and listeners together -------------------------------------------------------


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes LabelSelector (`matchLabels` and `matchExpressions`) against labels."""
    for key, value in mapping(selector.get("matchLabels")).items():
        if labels.get(str(key)) != str(value):
            return False
    for _, expression in items(selector.get("matchExpressions")):
        key = str(expression.get("key"))
        operator = str(expression.get("operator"))
        values = [str(v) for v in expression.get("values") or [] if v is not None]
        present = key in labels
        if operator == "In" and (not present or labels[key] not in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def selector_keys(selector: dict[str, Any]) -> set[str]:
    keys = {str(k) for k in mapping(selector.get("matchLabels"))}
    keys.update(str(e.get("key")) for _, e in items(selector.get("matchExpressions")))
    return keys


def admits_namespace(index: GatewayApiIndex, listener: Listener, route: Resource) -> bool | None:
    """Whether the listener's `allowedRoutes.namespaces` admits the route's namespace; None
    when the repository cannot tell (unknown namespaces, a selector on labels of a Namespace
    object the repository does not hold)."""
    mode = listener.allowed_from
    if mode == "All":
        return True
    if mode == "None":
        return False
    if mode == "Selector":
        if listener.selector is None or route.namespace is None:
            return None
        labels = index.namespace_labels(route.namespace)
        if labels is None:
            if not selector_keys(listener.selector) <= {NAMESPACE_NAME_LABEL}:
                return None
            labels = {NAMESPACE_NAME_LABEL: route.namespace}
        return selector_matches(listener.selector, labels)
    # Same (the default; Istio reads any other value as Same too)
    gateway = listener.gateway
    if gateway.namespace is None or route.namespace is None:
        if gateway.namespace is None and route.namespace is None:
            return scope_of(gateway) == scope_of(route)
        return None
    return gateway.namespace == route.namespace


def is_waypoint(gateway: Resource) -> bool:
    return gateway.spec.get("gatewayClassName") == WAYPOINT_CLASS


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a listener does not take a route, and the route status reason Istio would set."""

    listener: Listener
    why: str
    reason: str


NO_MATCHING_PARENT = "NoMatchingParent"
NOT_ALLOWED = "NotAllowedByListeners"
NO_HOSTNAME = "NoMatchingListenerHostname"


def refusal(index: GatewayApiIndex, listener: Listener, ref: Reference) -> Refusal | None:
    """Why this listener does not take the route named by `ref` (hostnames aside), in Istio's
    order (port, sectionName, kind, namespace); None when it does or the repository cannot tell."""
    route = ref.owner
    if ref.port is not None and listener.port != ref.port:
        return Refusal(listener, f"listens on port {listener.port}", NO_MATCHING_PARENT)
    if ref.section_name is not None and listener.name != ref.section_name:
        return Refusal(listener, "is not the sectionName", NO_MATCHING_PARENT)
    if (route.group, route.kind) not in listener.supported_kinds():
        kinds = sorted(kind for _, kind in listener.supported_kinds())
        takes = ", ".join(kinds) if kinds else "no route kind"
        return Refusal(
            listener, f"({listener.protocol or 'no protocol'}) takes {takes}", NOT_ALLOWED
        )
    admitted = admits_namespace(index, listener, route)
    if admitted is False:
        return Refusal(listener, _namespace_rule(listener), NOT_ALLOWED)
    return None


def _namespace_rule(listener: Listener) -> str:
    mode = listener.allowed_from
    if mode == "Selector" and listener.selector is not None:
        wanted = [f"{k}={v}" for k, v in mapping(listener.selector.get("matchLabels")).items()]
        wanted += [
            f"{e.get('key')} {e.get('operator')} {e.get('values') or ''}".strip()
            for _, e in items(listener.selector.get("matchExpressions"))
        ]
        return f"admits routes only from namespaces labelled {', '.join(wanted)}"
    if mode == "None":
        return "admits no routes (allowedRoutes.namespaces.from: None)"
    return (
        f"admits routes only from its own namespace {listener.gateway.namespace} "
        "(allowedRoutes.namespaces.from defaults to Same)"
    )


def attached_listeners(
    index: GatewayApiIndex, ref: Reference, gateway: Resource
) -> tuple[list[Listener], list[Refusal]]:
    """The listeners of `gateway` that take the route (hostnames aside), and the refusals."""
    taken, refused = [], []
    for listener in index.listeners_of(gateway):
        why = refusal(index, listener, ref)
        if why is None:
            taken.append(listener)
        else:
            refused.append(why)
    return taken, refused


# --- Waypoints -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaypointUse:
    """An `istio.io/use-waypoint` label: who carries it, where it sits, what it names."""

    resource: Resource
    path: KeyPath
    name: str
    scope: Scope


def waypoint_use(
    resource: Resource, labels: dict[str, Any], labels_path: KeyPath, own: Scope
) -> WaypointUse | None:
    name = text(labels.get(USE_WAYPOINT))
    if not name or name.lower() == "none":
        return None
    namespace = text(labels.get(USE_WAYPOINT_NAMESPACE))
    scope: Scope = (namespace, "") if namespace else own
    return WaypointUse(resource, (*labels_path, USE_WAYPOINT), name, scope)


def namespace_scope(namespace: Resource) -> Scope:
    return (namespace.name, "")
