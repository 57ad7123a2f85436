"""Ambient mode: L7 policy where no waypoint enforces it, or a waypoint that does not exist.

Facts from Istio 1.32:

- ztunnel enforces AuthorizationPolicies bound by `selector` (or namespace-wide) in ambient
  namespaces, at L4 only (`pilot/pkg/serviceregistry/ambient/authorization.go`). It cannot read
  HTTP attributes: `to.operation` hosts, methods, paths (and their `not` forms), `from.source`
  requestPrincipals and remoteIpBlocks (and their `not` forms), and `when` keys other than
  source.ip, source.namespace, source.principal, destination.ip and destination.port. In an
  ALLOW policy a rule with any of them is dropped (it never matches), so the traffic it was
  meant to allow is denied; in a DENY policy the HTTP parts are dropped and the rule denies
  more than written, or nothing. The policy is accepted with only a status warning: condition
  `ZtunnelAccepted`, reason `UnsupportedValue`.
- A policy with `targetRefs` is for a waypoint (or a gateway), never for ztunnel: it is
  enforced only where a waypoint serves the target. A Service (or ServiceEntry) is served by a
  waypoint when it, or its Namespace, is labelled `istio.io/use-waypoint: <name>` (`none`
  opts out); the waypoint is a Gateway of class `istio-waypoint` in the same namespace unless
  `istio.io/use-waypoint-namespace` names another. Istio records the outcome on the policy
  (`serviceregistry/ambient/policies.go`): `WaypointAccepted: False` with reason
  `TargetNotFound` (no such waypoint Gateway), `AncestorNotBound` (a Service no waypoint
  serves) or `Invalid` (a GatewayClass target outside the root namespace, which only the root
  namespace may use).
- A route attached to a Service (GAMMA) is carried out by that Service's waypoint in ambient
  mode: without `istio.io/use-waypoint` on the Service or its Namespace the route "will not be
  respected" (`pilot/pkg/config/kube/gateway`, route condition `ResolvedWaypoints`, reason
  `MissingUseWaypointLabel`).
- The `istio.io/use-waypoint` label on a Namespace, Service, ServiceEntry or pod names a
  waypoint Gateway; if it does not exist, the traffic meant for it has no waypoint, and the
  Service's condition `istio.io/WaypointBound` is False. A waypoint takes the traffic its
  `istio.io/waypoint-for` label names (else its GatewayClass's, else `service`): a Service
  needs `service` or `all`, a pod labelled itself `workload` or `all`; otherwise Istio does not
  bind it (`serviceregistry/ambient/waypoints.go`, `UnsupportedTrafficType`).

Flagged: an L7 rule of a selector or namespace-wide policy in an ambient namespace (labelled
`istio.io/dataplane-mode: ambient`, not for sidecar injection), unless the policy selects
waypoint or gateway pods (`istio.io/gateway-name`, `gateway.networking.k8s.io/gateway-name`),
which are not ztunnel's to enforce; a route attached to a Service of an ambient namespace
that no waypoint serves; a `targetRefs` Service whose Namespace object is in the repository and neither
it nor the Service uses a waypoint; a `targetRefs` Gateway absent from a repository that holds
Gateway API Gateways; a `targetRefs` GatewayClass outside the root namespace; a
`use-waypoint` label naming a Gateway absent from the repository, or a waypoint that does not
take that kind of traffic.
Quiet where a namespace is unknown.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.document import KeyPath
from rules.core.loader import WORKLOAD_KINDS
from rules.core.model import Problem, Resource, describe
from rules.mesh import authz
from rules.mesh.gateway_api import (
    GROUP,
    ROUTE_KINDS,
    USE_WAYPOINT,
    WAYPOINT_FOR,
    Found,
    GatewayApiIndex,
    Scope,
    WaypointUse,
    mapping,
    namespace_scope,
    parent_refs,
    scope_of,
    waypoint_use,
)
from rules.mesh.index import MeshIndex
from rules.route_parent_not_found import parent_identity

ID = "waypoint-missing"
SEVERITY = "error"
KINDS = (
    "AuthorizationPolicy",
    *ROUTE_KINDS,
    "Namespace",
    "Service",
    "ServiceEntry",
    *sorted(WORKLOAD_KINDS),
)
SUMMARY = (
    "Ambient mode: L7 configuration that no waypoint enforces (an AuthorizationPolicy's HTTP "
    "attributes bound by `selector`, a policy or Service route whose target no waypoint "
    "serves), or an `istio.io/use-waypoint` label whose waypoint is absent or takes other "
    "traffic."
)
WHY = (
    "In ambient mode ztunnel enforces policies at L4 only. An ALLOW rule on paths, methods, "
    "headers or request principals bound by `selector` is dropped by ztunnel, so the requests "
    "it should allow are denied; a policy bound by `targetRefs` to a Service that no waypoint "
    "serves is enforced nowhere. Both apply cleanly and only show a status warning."
)
FIX = (
    "Deploy a waypoint (a Gateway of class `istio-waypoint`), label the Service or namespace "
    "`istio.io/use-waypoint: <waypoint>`, and bind L7 policies with `targetRefs` to the Service "
    "or the waypoint instead of `selector`. Keep `selector` policies to L4 attributes "
    "(principals, namespaces, ports)."
)
FAIL = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    istio.io/dataplane-mode: ambient
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: frontend-get
  namespace: shop
spec:
  selector:
    matchLabels:
      app: frontend
  action: ALLOW
  rules:
  - to:
    - operation:
        methods: ["GET"]
"""
PASS = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    istio.io/dataplane-mode: ambient
    istio.io/use-waypoint: waypoint
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: shop
  labels:
    istio.io/waypoint-for: service
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15008
    protocol: HBONE
---
apiVersion: v1
kind: Service
metadata:
  name: frontend
  namespace: shop
spec:
  ports:
  - port: 8080
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: frontend-get
  namespace: shop
spec:
  targetRefs:
  - kind: Service
    group: ""
    name: frontend
  action: ALLOW
  rules:
  - to:
    - operation:
        methods: ["GET"]
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({"Gateway", "GatewayClass", "Namespace", "Service", "ServiceEntry"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). Ambient mode and
namespace-wide `use-waypoint` labels are read off Namespace objects, a target's or a route
parent's labels off Services and ServiceEntries, a waypoint's existence and traffic type off
Gateways (of either API: a Gateway of unknown namespace makes a lookup unknown) and
GatewayClasses."""

WAYPOINT_POD_LABELS = ("istio.io/gateway-name", "gateway.networking.k8s.io/gateway-name")


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    index = ctx.index
    api = index.gateway_api
    for policy in ctx.of_kind("AuthorizationPolicy"):
        if authz.has_target_ref(policy):
            yield from _unserved_targets(index, policy)
        else:
            yield from _l7_at_ztunnel(index, policy)
    for route in api.routes:
        yield from _mesh_route_without_waypoint(index, route)
    for use in _waypoint_uses(ctx):
        found, waypoint = api.lookup("Gateway", use.scope, use.name, use.resource)
        if found is Found.MISSING:
            yield Problem(
                use.resource,
                use.path,
                f"{describe(use.resource)} is labelled {USE_WAYPOINT}: {use.name}, but there "
                f"is no Gateway {use.scope[0]}/{use.name} in this repository: the traffic meant "
                "for the waypoint has none",
            )
        elif waypoint is not None:
            problem = _wrong_traffic_type(ctx, use, waypoint)
            if problem is not None:
                yield problem


def _wrong_traffic_type(ctx: Context, use: WaypointUse, waypoint: Resource) -> Problem | None:
    """A Service (or ServiceEntry) needs a waypoint for `service` (or `all`) traffic, a pod
    labelled itself one for `workload` (or `all`); a Namespace label binds both kinds, each to
    the waypoint when it takes that kind, so it is not judged."""
    kind = use.resource.kind
    if kind in ("Service", "ServiceEntry"):
        needed = "service"
    elif kind in WORKLOAD_KINDS:
        needed = "workload"
    else:
        return None
    takes = ctx.index.gateway_api.traffic_type(waypoint)
    if takes in (needed, "all"):
        return None
    return Problem(
        use.resource,
        use.path,
        f"{describe(use.resource)} is labelled {USE_WAYPOINT}: {use.name}, but "
        f"{describe(waypoint)} takes {takes} traffic ({WAYPOINT_FOR}), not {needed} traffic: "
        f"Istio does not bind it (UnsupportedTrafficType)",
    )


# --- L7 rules that ztunnel would enforce -----------------------------------------------------


def _mesh_route_without_waypoint(index: MeshIndex, route: Resource) -> Iterator[Problem]:
    """A route attached to a Service (GAMMA) in an ambient namespace is done by the Service's
    waypoint; without one, ztunnel carries the traffic and the route is not respected."""
    api = index.gateway_api
    for ref in parent_refs(route):
        if (ref.group, ref.kind) != ("", "Service"):
            continue
        found, service = api.lookup("Service", ref.scope, ref.name, route)
        namespace = service.namespace if service is not None else None
        if found is not Found.PRESENT or service is None or namespace is None:
            continue
        if not index.is_ambient(namespace):
            continue  # sidecars route it themselves
        labels = api.namespace_labels(namespace) or {}
        if waypoint_use(service, service.labels, (), scope_of(service)) or waypoint_use(
            service, labels, (), (namespace, "")
        ):
            continue
        yield Problem(
            route,
            ref.path,
            f"{describe(route)} routes Service {namespace}/{ref.name} in ambient namespace "
            f"{namespace}, but neither the Service nor its Namespace is labelled {USE_WAYPOINT}: "
            "without a waypoint Istio does not respect the route (MissingUseWaypointLabel)",
            identity=("mesh-route", *parent_identity(ref)),
        )


def _l7_at_ztunnel(index: MeshIndex, policy: Resource) -> Iterator[Problem]:
    action = authz.action(policy)
    namespace = policy.namespace
    if action not in ("ALLOW", "DENY") or namespace is None or not index.is_ambient(namespace):
        return
    labels = authz.selector_labels(policy) or frozenset()
    if any(key in WAYPOINT_POD_LABELS for key, _ in labels):
        return  # a policy on the waypoint's (or gateway's) own Envoy pods
    for position, rule in authz.rules_of(policy):
        attributes = authz.ztunnel_unsupported(rule)
        if not attributes:
            continue
        if action == "ALLOW":
            effect = "ztunnel drops the rule, so the requests it should allow are denied"
        else:
            effect = "ztunnel enforces it without them, so it denies more than written, or nothing"
        yield Problem(
            policy,
            ("spec", "rules", position),
            f"{describe(policy)} ({action}) rule {position + 1} matches HTTP attributes "
            f"({', '.join(attributes)}) in ambient namespace {namespace}, and a `selector` "
            f"policy is enforced by ztunnel, which only sees L4: {effect}; bind it to a "
            "waypoint with `targetRefs`",
        )


# --- targetRefs without a waypoint -----------------------------------------------------------


def _unserved_targets(index: MeshIndex, policy: Resource) -> Iterator[Problem]:
    api = index.gateway_api
    for path, group, kind, name, written in authz.target_refs(policy):
        scope: Scope = (written, "") if written else scope_of(policy)
        if group == GROUP and kind == "GatewayClass" and policy.namespace is not None:
            root = index.config.root_namespace
            if policy.namespace != root:
                yield Problem(
                    policy,
                    path,
                    f"{describe(policy)} targets GatewayClass {name} from namespace "
                    f"{policy.namespace}: Istio attaches GatewayClass targets only from the root "
                    f"namespace {root}, so no waypoint enforces the policy (Invalid)",
                )
        elif group == GROUP and kind == "Gateway":
            found, _ = api.lookup("Gateway", scope, name)
            if found is Found.MISSING and api.gateways:
                yield Problem(
                    policy,
                    path,
                    f"{describe(policy)} targets Gateway {scope[0]}/{name}, which is not in "
                    "this repository: no waypoint or gateway enforces the policy",
                )
        elif (group, kind) in (("", "Service"), ("networking.istio.io", "ServiceEntry")):
            found, target = api.lookup(kind, scope, name)
            if found is Found.PRESENT and target is not None:
                problem = _without_waypoint(api, policy, path, target)
                if problem is not None:
                    yield problem


def _without_waypoint(
    api: GatewayApiIndex, policy: Resource, path: KeyPath, target: Resource
) -> Problem | None:
    if waypoint_use(target, target.labels, (), scope_of(target)) is not None:
        return None
    if USE_WAYPOINT in target.labels:
        reason = f"it is labelled {USE_WAYPOINT}: {target.labels[USE_WAYPOINT]}"
    else:
        namespace = target.namespace
        labels = api.namespace_labels(namespace) if namespace is not None else None
        if labels is None:
            return None  # the Namespace is not in the repository: it may name a waypoint
        if waypoint_use(target, labels, (), (namespace, "")) is not None:
            return None
        reason = f"neither it nor Namespace {namespace} is labelled {USE_WAYPOINT}"
    return Problem(
        policy,
        path,
        f"{describe(policy)} targets {describe(target)}, which no waypoint serves ({reason}): "
        "ztunnel ignores `targetRefs` policies, so this policy is enforced nowhere",
    )


# --- use-waypoint labels ---------------------------------------------------------------------


def _waypoint_uses(ctx: Context) -> Iterator[WaypointUse]:
    labels_path = ("metadata", "labels")
    for namespace in ctx.of_kind("Namespace"):
        use = waypoint_use(namespace, namespace.labels, labels_path, namespace_scope(namespace))
        if use is not None:
            yield use
    for resource in ctx.of_kind("Service", "ServiceEntry"):
        use = waypoint_use(resource, resource.labels, labels_path, scope_of(resource))
        if use is not None:
            yield use
    for workload in ctx.index.workloads():
        resource = workload.resource
        path = (*workload.template_path, "metadata", "labels")
        use = waypoint_use(resource, mapping(workload.labels), path, scope_of(resource))
        if use is not None:
            yield use
