"""A route's hostnames intersect none of the hostnames of the listeners that take it.

Gateway API v1.6 (`HTTPRoute.spec.hostnames`, `Listener.hostname` doc comments): when both a
listener and a route name hostnames, at least one must intersect for the route to attach
(`*.example.com` covers `a.example.com` and `a.b.example.com`, not `example.com`; either side
may be the wildcard; no listener hostname, or no route hostnames, matches everything). If none
does, the route is refused with `Accepted: False`, reason `NoMatchingListenerHostname` (Istio
1.32 `referenceAllowed`: "no hostnames matched parent hostname"). Route hostnames that match no
listener are ignored while others match: a host added to the route but not to the Gateway is
silently not served.

This is footgun 8 (gateway-host-mismatch) for the Gateway API, judged the same way: per parent
(a parentRef whose listeners match none of the route's hostnames is a finding on it) and per
hostname (a hostname that no listener of any parent serves is a finding on it, when every
parent of the route is a Gateway in the repository, since an absent parent may serve it).
Listeners that refuse the route for another reason are route-not-attached's; HTTPRoute,
GRPCRoute and TLSRoute have hostnames, TCPRoute has none.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, Resource, describe
from rules.mesh.gateway_api import (
    HOSTNAME_KINDS,
    NO_HOSTNAME,
    Listener,
    attached_listeners,
    hostnames_intersect,
    is_waypoint,
    parent_refs,
    qualified,
    route_hostnames,
)
from rules.route_parent_not_found import parent_identity

ID = "route-hostname-mismatch"
SEVERITY = "error"
KINDS = HOSTNAME_KINDS
SUMMARY = (
    "A route hostname that none of the listeners it attaches to serves, or a parent Gateway "
    "whose listeners serve none of the route's hostnames."
)
WHY = (
    "A listener with a `hostname` only takes routes whose `hostnames` intersect it. A route "
    "whose hostnames all miss is refused (`NoMatchingListenerHostname`); a single hostname that "
    "misses is dropped without any error. Either way the host answers 404 at the edge, usually "
    "found in production after a hostname was added to the route but not to the Gateway."
)
FIX = (
    "Add a listener for the hostname (or a wildcard listener such as `*.example.com` that "
    "covers it) to the Gateway, or attach the route to a Gateway that serves it."
)
FAIL = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: public
  namespace: shop
spec:
  gatewayClassName: istio
  listeners:
  - name: https
    hostname: shop.example.com
    port: 443
    protocol: HTTPS
    tls:
      certificateRefs:
      - name: shop-cert
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
  namespace: shop
spec:
  parentRefs:
  - name: public
  hostnames:
  - shop.example.com
  - api.example.com
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
  namespace: shop
spec:
  gatewayClassName: istio
  listeners:
  - name: https
    hostname: "*.example.com"
    port: 443
    protocol: HTTPS
    tls:
      certificateRefs:
      - name: wildcard-cert
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
  namespace: shop
spec:
  parentRefs:
  - name: public
  hostnames:
  - shop.example.com
  - api.example.com
  rules:
  - backendRefs:
    - name: frontend
      port: 8080
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({"Gateway", "Namespace"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). The parent Gateways
(found by scope and name, their class and listeners) are read off Gateways, and a listener's
`allowedRoutes` Selector off the labels of the route's Namespace object; a Service or
ServiceEntry parent is never judged, so whether it exists does not matter."""

MAX_LISTED = 5


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    api = ctx.index.gateway_api
    for route in api.routes:
        hostnames = route_hostnames(route)
        if not hostnames:
            continue  # no hostnames: every listener hostname matches
        all_judged = True
        served: set[int] = set()
        attached: list[Listener] = []
        for ref in parent_refs(route):
            found = api.parent(ref)
            if found is None:
                continue  # another controller's parent: not Istio's business
            gateway = found[1]
            if ref.kind != "Gateway" or gateway is None or is_waypoint(gateway):
                all_judged = False
                continue
            taken, _ = attached_listeners(api, ref, gateway)
            if not taken:
                continue  # refused for other reasons: route-not-attached
            attached.extend(taken)
            matched = {
                position
                for position, hostname in hostnames
                if any(hostnames_intersect(listener.hostname, hostname) for listener in taken)
            }
            served |= matched
            if not matched:
                yield Problem(
                    route,
                    ref.path,
                    f"{describe(route)} is refused by {describe(gateway)}: none of its hostnames "
                    f"({_listing([h for _, h in hostnames])}) matches {_served_by(taken)} "
                    f"({NO_HOSTNAME})",
                    identity=parent_identity(ref),
                )
        if not all_judged or not served:
            continue  # a parent outside the repository may serve them; or refused above
        for position, hostname in hostnames:
            if position not in served:
                yield Problem(
                    route,
                    ("spec", "hostnames", position),
                    f"{describe(route)} hostname '{hostname}' is served by no listener it "
                    f"attaches to ({_served_by(attached)}): requests for it get 404",
                )


def _served_by(taken: list[Listener]) -> str:
    parts = []
    for listener in taken[:MAX_LISTED]:
        gateway: Resource = listener.gateway
        parts.append(
            f"{qualified(gateway)} {listener.label()} {listener.hostname or '(any hostname)'}"
        )
    more = f" and {len(taken) - MAX_LISTED} more" if len(taken) > MAX_LISTED else ""
    return ", ".join(parts) + more


def _listing(hostnames: list[str]) -> str:
    more = f" and {len(hostnames) - MAX_LISTED} more" if len(hostnames) > MAX_LISTED else ""
    return ", ".join(hostnames[:MAX_LISTED]) + more
