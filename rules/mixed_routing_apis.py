"""A VirtualService and a Gateway API route both route the same Service or host.

Istio 1.32 converts every HTTPRoute and GRPCRoute into an internal VirtualService
(`pilot/pkg/config/kube/gateway`, `convertHTTPRoute`): for a route whose parent is a Service
(GAMMA, mesh traffic) its host is that Service's, for a route on a Gateway it is the route's
hostnames on that Gateway. A VirtualService of your own for the same host then competes with
it. For mesh traffic Istio does not merge VirtualServices of one host: it takes them by creation
time and the others lose, which istioctl reports as IST0109
(ConflictingMeshGatewayVirtualServiceHosts) only when both are VirtualServices; an HTTPRoute is
a VirtualService only inside istiod, so nothing reports it. At a gateway Istio merges them, in
creation-time order, so which rules win for overlapping matches depends on which object is
older and changes when one is re-created.

Flagged on the route's parentRef: a Service parent whose host a mesh-bound VirtualService
(no `gateways`, or `mesh` among them) also lists (wildcards as Istio matches them); a Gateway
API Gateway parent to which a VirtualService is also bound (`gateways: ns/name`) with a host
that intersects the route's hostnames (a route without hostnames takes every host).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, Resource, describe
from rules.mesh.gateway_api import (
    GROUP,
    Found,
    Reference,
    hostnames_intersect,
    parent_refs,
    route_hostnames,
)
from rules.mesh.hosts import MESH_GATEWAY, matches
from rules.mesh.index import MeshIndex
from rules.mesh.references import gateway_references
from rules.route_parent_not_found import parent_identity

ID = "mixed-routing-apis"
SEVERITY = "warning"
KINDS = ("HTTPRoute", "GRPCRoute", "VirtualService")
SUMMARY = "A VirtualService and an HTTPRoute (or GRPCRoute) route the same Service or host."
WHY = (
    "Istio turns each HTTPRoute into a VirtualService of its own. With a hand-written "
    "VirtualService for the same host, sidecars and waypoints keep one of the two and gateways "
    "merge them, both by creation time: routing rules, retries or fault injection silently "
    "apply or vanish when an object is re-created."
)
FIX = (
    "Route each host with one API: move the VirtualService's rules into the HTTPRoute (the "
    "Gateway API is Istio's recommended API, and the one waypoints use) or delete the route."
)
FAIL = """\
apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: shop
spec:
  ports:
  - name: http
    port: 9080
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reviews
  namespace: shop
spec:
  parentRefs:
  - group: ""
    kind: Service
    name: reviews
    port: 9080
  rules:
  - backendRefs:
    - name: reviews-v2
      port: 9080
"""
PASS = """\
apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: shop
spec:
  ports:
  - name: http
    port: 9080
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
  namespace: shop
spec:
  hosts:
  - ratings
  http:
  - route:
    - destination:
        host: ratings
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reviews
  namespace: shop
spec:
  parentRefs:
  - group: ""
    kind: Service
    name: reviews
    port: 9080
  rules:
  - backendRefs:
    - name: reviews-v2
      port: 9080
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({"VirtualService", "Service", "Gateway"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). A route's problem
names the VirtualServices of its hosts or Gateways; the route's Service and Gateway parents are
looked up among the repository's Services and Gateways (of any namespace, unknown included)."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    services = list(ctx.of_kind("VirtualService"))
    if not services or next(iter(ctx.of_kind("HTTPRoute", "GRPCRoute")), None) is None:
        return  # both APIs are needed for a conflict (and the mesh index is not built)
    index = ctx.index
    api = index.gateway_api
    for route in api.routes:
        if route.kind not in KINDS:
            continue
        for ref in parent_refs(route):
            if ref.group == "" and ref.kind == "Service":
                found = _mesh_conflicts(index, services, ref)
                what = f"Service {ref.scope[0]}/{ref.name}"
                outcome = "for mesh traffic Istio keeps only the older of the two"
            elif ref.group == GROUP and ref.kind == "Gateway":
                found = _gateway_conflicts(index, services, ref)
                what = f"hosts on Gateway {ref.scope[0]}/{ref.name}"
                outcome = (
                    "the gateway merges them by creation time, so the older one wins where "
                    "their matches overlap"
                )
            else:
                continue
            if found:
                names = ", ".join(describe(vs) for vs in found[:3])
                yield Problem(
                    route,
                    ref.path,
                    f"{describe(route)} routes {what}, which {names} also routes: {outcome}",
                    identity=parent_identity(ref),
                )


def _mesh_conflicts(index: MeshIndex, services: list[Resource], ref: Reference) -> list[Resource]:
    namespace = ref.scope[0]
    if namespace is None:
        return []
    found, _ = index.gateway_api.lookup("Service", ref.scope, ref.name)
    if found is Found.UNKNOWN:
        return []
    fqdn = f"{ref.name}.{namespace}.svc.{index.config.cluster_domain}"
    conflicts = []
    for vs in services:
        gateways = vs.spec.get("gateways")
        mesh_bound = not gateways or (isinstance(gateways, list) and MESH_GATEWAY in gateways)
        if mesh_bound and any(matches(host, fqdn) for host in _vs_hosts(index, vs)):
            conflicts.append(vs)
    return conflicts


def _gateway_conflicts(
    index: MeshIndex, services: list[Resource], ref: Reference
) -> list[Resource]:
    namespace = ref.scope[0]
    _, gateway = index.gateway_api.lookup("Gateway", ref.scope, ref.name, ref.owner)
    if namespace is None or gateway is None or index.gateway(namespace, ref.name) is not None:
        return []  # an Istio Gateway of that name is what VirtualServices bind to
    hostnames = [h for _, h in route_hostnames(ref.owner)]
    conflicts = []
    for vs in services:
        bound = any((ns, name) == (namespace, ref.name) for _, ns, name in gateway_references(vs))
        hosts = _written_hosts(vs)
        if bound and (not hostnames or any(_overlap(h, r) for h in hosts for r in hostnames)):
            conflicts.append(vs)
    return conflicts


def _overlap(vs_host: str, route_hostname: str) -> bool:
    if vs_host == "*":
        return True
    return hostnames_intersect(vs_host, route_hostname)


def _written_hosts(vs: Resource) -> list[str]:
    hosts = vs.spec.get("hosts")
    return [h for h in hosts if isinstance(h, str) and h] if isinstance(hosts, list) else []


def _vs_hosts(index: MeshIndex, vs: Resource) -> list[str]:
    return [index.canonical_host(h, vs.namespace) for h in _written_hosts(vs)]
