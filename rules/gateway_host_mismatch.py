"""A VirtualService host is not served by the Gateways it is bound to.

A Gateway only admits the hosts its servers list (filtered by namespace with `ns/host`); a
VirtualService host outside them is silently dropped. Judged per host and per bound gateway:
a host that no bound Gateway serves is a finding (unlike istioctl's IST0132, which is quiet as
soon as one host matches), and so is a bound Gateway that serves none of the hosts (the binding
does nothing). A VirtualService may split its hosts between gateways, an internal and a public
one: a host served by one of them is fine. In-cluster hosts are for the mesh when `mesh` is
bound too. Bound Gateways absent from the repository are gateway-not-found's business.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.context import Context
from rules.hosts import MESH_GATEWAY, GatewayHost, in_cluster, matches, names_a_gateway
from rules.model import Problem
from rules.references import describe

ID = "gateway-host-mismatch"
SEVERITY = "error"
KINDS = ("VirtualService",)
SUMMARY = (
    "A VirtualService host that none of its bound Gateways serves, or a bound Gateway that "
    "serves none of its hosts."
)
WHY = (
    "The ingress only programs VirtualService hosts that the Gateway's servers admit (by host, "
    "with wildcards, and by the VirtualService's namespace for `ns/host` entries). Any other host "
    "is dropped without an error: requests for it get 404 at the edge, usually discovered in "
    "production after a host was added to the VirtualService but not to the Gateway."
)
FIX = (
    "Add the host to a server of the Gateway (with a namespace filter that admits the "
    "VirtualService's namespace), or move the host to a VirtualService bound to a Gateway that "
    "serves it."
)
FAIL = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: public
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 443
      name: https
      protocol: HTTPS
    tls:
      mode: SIMPLE
      credentialName: shop-cert
    hosts:
    - shop/shop.example.com
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
  namespace: shop
spec:
  hosts:
  - shop.example.com
  - api.example.com
  gateways:
  - istio-system/public
  http:
  - route:
    - destination:
        host: frontend.shop.svc.cluster.local
"""
PASS = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: public
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 443
      name: https
      protocol: HTTPS
    tls:
      mode: SIMPLE
      credentialName: shop-cert
    hosts:
    - shop/shop.example.com
    - "*/*.example.com"
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
  namespace: shop
spec:
  hosts:
  - shop.example.com
  - api.example.com
  - frontend.shop.svc.cluster.local
  gateways:
  - istio-system/public
  - mesh
  http:
  - route:
    - destination:
        host: frontend.shop.svc.cluster.local
"""
OPTIONS: dict[str, Any] = {}


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    index = ctx.index
    if not index.gateways:
        return
    domain = ctx.config.cluster_domain
    for vs in ctx.of_kind("VirtualService"):
        gateways, hosts = vs.spec.get("gateways"), vs.spec.get("hosts")
        if not isinstance(gateways, list) or not isinstance(hosts, list):
            continue
        bound: dict[tuple[str | None, str], int] = {}
        for position, reference in enumerate(gateways):
            if names_a_gateway(reference):
                gateway = index.resolve_gateway(reference, vs.namespace)
                if index.gateway(*gateway) is not None:  # a missing one is gateway-not-found's
                    bound.setdefault(gateway, position)
        if not bound:
            continue
        mesh_bound = MESH_GATEWAY in gateways
        judged = [
            (position, host, index.canonical_host(host, vs.namespace))
            for position, host in enumerate(hosts)
            if isinstance(host, str) and host
        ]
        if mesh_bound:
            judged = [(p, h, e) for p, h, e in judged if not in_cluster(e, domain)]
        serves = {
            gateway: {p for p, host, expanded in judged if _serves(index, gateway, vs.namespace, host, expanded)}
            for gateway in bound
        }
        served = set().union(*serves.values())
        for position, host, expanded in judged:
            if position in served:
                continue
            yield Problem(
                vs,
                ("spec", "hosts", position),
                f"{describe(vs)} host '{host}' is not served by "
                + "; nor by ".join(
                    f"Gateway {namespace}/{name}"
                    + _explain(index.gateway_hosts(namespace, name), vs.namespace, host, expanded)
                    for namespace, name in bound
                ),
            )
        if not served:
            continue  # every host is already a finding that names every bound gateway
        for (namespace, name), position in bound.items():
            if not serves[(namespace, name)]:
                yield Problem(
                    vs,
                    ("spec", "gateways", position),
                    f"{describe(vs)} is bound to Gateway {namespace}/{name}, which serves none of "
                    f"its hosts ({', '.join(h for _, h, _ in judged)}): the binding has no effect"
                    + _listing(index.gateway_hosts(namespace, name)),
                )


def _serves(index: Any, gateway: tuple[str | None, str], namespace: str | None, host: str, expanded: str) -> bool:
    return any(
        server.admits(namespace, host) or server.admits(namespace, expanded)
        for server in index.gateway_hosts(*gateway)
    )


def _listing(servers: list[GatewayHost]) -> str:
    if not servers:
        return " (it lists no server hosts)"
    listed = [s.written for s in servers]
    return f" (it serves {', '.join(listed[:5])}{f' and {len(listed) - 5} more' if len(listed) > 5 else ''})"


def _explain(servers: list[GatewayHost], namespace: str | None, host: str, expanded: str) -> str:
    """Why no server admits the host: a namespace filter, or which hosts the Gateway serves."""
    if not servers:
        return ", which lists no server hosts"
    filtered = sorted({s.written for s in servers if matches(s.host, host) or matches(s.host, expanded)})
    if filtered:
        return (
            f", which admits it only for VirtualServices in other namespaces "
            f"({', '.join(filtered)}), not {namespace}"
        )
    listed = [s.written for s in servers]
    shown = ", ".join(listed[:5]) + (f" and {len(listed) - 5} more" if len(listed) > 5 else "")
    return f", which serves {shown}"
