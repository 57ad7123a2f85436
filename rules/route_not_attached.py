"""A route names a Gateway of the repository, but no listener of that Gateway takes it.

Gateway API v1.6 (`AllowedRoutes`, `ParentReference` doc comments) and Istio 1.32
(`referenceAllowed`, `GenerateGatewaySupportedKinds`, `namespacesFromSelector` in
`pilot/pkg/config/kube/gateway`): a listener takes a route when

- `port` and `sectionName` of the parentRef, where set, are the listener's (else Istio reports
  `NoMatchingParent`: "port N not found", "sectionName X not found");
- the route's kind is one the listener's protocol supports (HTTP/HTTPS: HTTPRoute and GRPCRoute;
  TCP: TCPRoute; TLS: TLSRoute, plus TCPRoute when it terminates TLS), narrowed by
  `allowedRoutes.kinds` (else `NotAllowedByListeners`);
- the route's namespace is admitted by `allowedRoutes.namespaces.from`: `Same` by default
  (the Gateway's own namespace), `All`, or `Selector` on the labels of the route's Namespace
  (else `NotAllowedByListeners`).

A route attached to at least one listener is attached. Hostnames are route-hostname-mismatch's
business. Quiet where the repository cannot tell: unknown namespaces, a `Selector` on labels of
a Namespace object the repository does not hold (only `kubernetes.io/metadata.name`, which every
Namespace carries, is judged without one), parents absent from the repository
(route-parent-not-found), and waypoints (class `istio-waypoint`), to which Istio attaches no
routes through listeners.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, describe
from rules.mesh.gateway_api import (
    NO_MATCHING_PARENT,
    NOT_ALLOWED,
    ROUTE_KINDS,
    Found,
    Reference,
    Refusal,
    attached_listeners,
    is_waypoint,
    parent_refs,
)
from rules.route_parent_not_found import parent_identity

ID = "route-not-attached"
SEVERITY = "error"
KINDS = ROUTE_KINDS
SUMMARY = (
    "A route's parent Gateway is in the repository but none of its listeners accepts the route "
    "(`allowedRoutes` namespaces and kinds, `sectionName`, `port`, protocol)."
)
WHY = (
    "Listeners admit routes from their own namespace only unless `allowedRoutes` says otherwise, "
    "and only the route kinds their protocol carries. A route from an application namespace "
    "that points at a shared Gateway is accepted by the API server and silently left out of the "
    "ingress: its status says `NotAllowedByListeners` or `NoMatchingParent`, and the host "
    "answers 404."
)
FIX = (
    "On the Gateway, set `allowedRoutes.namespaces.from: All`, or `Selector` with a label the "
    "route's Namespace carries; or fix the parentRef's `sectionName`/`port`; or use a route kind "
    "the listener's protocol supports (an HTTPRoute for HTTP/HTTPS, a TLSRoute for TLS)."
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
        from: Selector
        selector:
          matchLabels:
            ingress: public
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    ingress: public
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
    sectionName: http
  rules:
  - backendRefs:
    - name: frontend
      port: 8080
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({"Gateway", "Namespace"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). The parent Gateway
(found by scope and name, its class and listeners) is read off Gateways, and a listener's
`allowedRoutes` Selector off the labels of the route's Namespace object."""

MAX_LISTED = 4


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    api = ctx.index.gateway_api
    for route in api.routes:
        for ref in parent_refs(route):
            found = api.parent(ref)
            if ref.kind != "Gateway" or found is None or found[0] is not Found.PRESENT:
                continue
            gateway = found[1]
            assert gateway is not None
            if is_waypoint(gateway) or not api.listeners_of(gateway):
                continue
            taken, refused = attached_listeners(api, ref, gateway)
            if taken:
                continue  # attached (or the repository cannot tell)
            reason = (
                NO_MATCHING_PARENT
                if all(r.reason == NO_MATCHING_PARENT for r in refused)
                else NOT_ALLOWED
            )
            yield Problem(
                route,
                ref.path,
                f"{describe(route)} is not accepted by {describe(gateway)}: "
                f"{_reasons(ref, refused)} ({reason})",
                identity=parent_identity(ref),
            )


def _reasons(ref: Reference, refused: list[Refusal]) -> str:
    """Why each listener refuses; the listeners the parentRef's sectionName/port selected say
    most, so the others are left out when there are some."""
    chosen = [r for r in refused if r.reason != NO_MATCHING_PARENT]
    if not chosen:
        wanted = " and ".join(
            part
            for part in (
                f"sectionName '{ref.section_name}'" if ref.section_name else "",
                f"port {ref.port}" if ref.port is not None else "",
            )
            if part
        )
        names = ", ".join(
            f"{r.listener.name or r.listener.index + 1} (port {r.listener.port})"
            for r in refused[:MAX_LISTED]
        )
        return f"no listener matches {wanted}; its listeners are {names}{_more(refused)}"
    listed = [f"{r.listener.label()} {r.why}" for r in chosen[:MAX_LISTED]]
    return "; ".join(listed) + _more(chosen)


def _more(listed: list[Refusal]) -> str:
    return f" and {len(listed) - MAX_LISTED} more" if len(listed) > MAX_LISTED else ""
