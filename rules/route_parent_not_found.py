"""A Gateway API route names a parent Gateway (or Service) that the repository does not contain.

Gateway API (v1.6) `parentRefs` default to kind Gateway in the route's own namespace; Istio 1.32
(`pilot/pkg/config/kube/gateway`, `toInternalParentReference` and `referenceAllowed`) accepts
parents of kind Gateway, Service (GAMMA mesh routing) and ServiceEntry, and leaves any other
parent (ServiceImport, ListenerSet...) to other controllers. A parent it cannot find gets the
route status `Accepted: False` with reason `NoMatchingParent`, which nobody reads: the route
is simply not programmed. Istio's own `istioctl analyze` has no offline check for this.

Judged: Gateway parents where the repository holds some Gateway API Gateway; Service parents
where the repository defines Services in that namespace. Quiet where the namespace is unknown
(a reference out of resources applied with `kubectl -n` is never reported as missing), and for
parents of other kinds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, describe
from rules.mesh.gateway_api import ROUTE_KINDS, Found, Reference, parent_refs

ID = "route-parent-not-found"
SEVERITY = "warning"
KINDS = ROUTE_KINDS
SUMMARY = "A route's `parentRefs` names a Gateway or Service absent from the repository."
WHY = (
    "A route whose parent does not exist is accepted by the API server and ignored by Istio: "
    "its status says `NoMatchingParent`, which nobody reads, and the hostnames it was meant to "
    "serve answer 404. A short parentRef resolves in the route's namespace, so a Gateway in "
    "another namespace needs `namespace:`."
)
FIX = (
    "Name the parent with `namespace:` and check the spelling (and `kind`/`group` for a "
    'Service parent: `group: ""`, `kind: Service`). The check is based on what the repository '
    "contains; if the Gateway is managed elsewhere, waive the finding."
)
FAIL = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: public
  namespace: ingress
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: All
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
  namespace: shop
spec:
  parentRefs:
  - name: public
  rules:
  - backendRefs:
    - name: frontend
      port: 8080
"""
PASS = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: public
  namespace: ingress
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: All
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
  namespace: shop
spec:
  parentRefs:
  - name: public
    namespace: ingress
  rules:
  - backendRefs:
    - name: frontend
      port: 8080
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({"Gateway", "Service", "ServiceEntry"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). Whether a parent
exists (or one of its name has an unknown namespace), whether the repository holds Gateways or
Services in that namespace, and where a parent of that name does live, is read off Gateways,
Services and ServiceEntries."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    index = ctx.index
    api = index.gateway_api
    for route in api.routes:
        for ref in parent_refs(route):
            found = api.parent(ref)
            if found is None or found[0] is not Found.MISSING:
                continue
            if ref.kind == "Gateway" and not api.gateways:
                continue
            namespace = ref.scope[0]
            if ref.kind != "Gateway" and namespace not in index.service_namespaces:
                continue
            yield Problem(
                route,
                ref.path,
                f"{describe(route)} names parent {ref.kind} {namespace}/{ref.name}, which is not "
                f"in this repository: Istio ignores the route (NoMatchingParent)"
                f"{_elsewhere(ctx, ref)}",
                identity=parent_identity(ref),
            )


def parent_identity(ref: Reference) -> tuple[str, ...]:
    """A parentRef named by what it points at, so findings survive reordering the list."""
    return (
        "spec",
        "parentRefs",
        f"{ref.group}/{ref.kind}/{ref.namespace or ''}/{ref.name}",
        ref.section_name or "",
        str(ref.port or ""),
    )


def _elsewhere(ctx: Context, ref: Reference) -> str:
    """Where a parent of that kind and name does exist, to say what the reference meant."""
    namespaces = sorted(
        {
            r.namespace
            for r in ctx.of_kind(ref.kind)
            if r.name == ref.name and r.group == ref.group and r.namespace is not None
        }
    )
    if not namespaces:
        return ""
    return f"; a {ref.kind} '{ref.name}' exists in namespace {', '.join(namespaces)}"
