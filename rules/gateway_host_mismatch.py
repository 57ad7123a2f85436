"""A VirtualService host is not served by the Gateways it is bound to.

A Gateway only admits the hosts its servers list (filtered by namespace with `ns/host`); a
VirtualService host outside them is silently dropped. Unlike istioctl's IST0132, which is quiet
as soon as one host matches, every host is judged: a host is fine when one of the bound
Gateways serves it (a VirtualService may split its hosts between an internal and a public
gateway), or when it is an in-cluster host and `mesh` is bound too. Bound Gateways absent from
the repository are gateway-not-found's business and are not judged here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.context import Context
from rules.hosts import GatewayHost, in_cluster, matches, string_items
from rules.model import Problem
from rules.references import describe

ID = "gateway-host-mismatch"
SEVERITY = "error"
KINDS = ("VirtualService",)
SUMMARY = "A VirtualService host matches none of the server hosts of a Gateway it is bound to."
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
        references = string_items(vs.spec.get("gateways"))
        hosts = vs.spec.get("hosts")
        if not references or not isinstance(hosts, list):
            continue
        bound = [
            gateway for gateway in dict.fromkeys(
                index.resolve_gateway(reference, vs.namespace) for reference in references
                if reference != "mesh"
            )
            if index.gateway(*gateway) is not None  # a missing one is gateway-not-found's
        ]
        if not bound:
            continue
        mesh_bound = "mesh" in references
        for position, host in enumerate(hosts):
            if not isinstance(host, str) or not host:
                continue
            expanded = index.canonical_host(host, vs.namespace)
            if mesh_bound and in_cluster(expanded, domain):
                continue
            if any(
                server.admits(vs.namespace, host) or server.admits(vs.namespace, expanded)
                for gateway in bound
                for server in index.gateway_hosts(*gateway)
            ):
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
