"""A VirtualService host is not served by the Gateways it is bound to.

A Gateway only admits the hosts its servers list (filtered by namespace with `ns/host`); a
VirtualService host outside them is silently dropped. Judged per host and per bound gateway:
a host that no bound Gateway serves is a finding (unlike istioctl's IST0132, which is quiet as
soon as one host matches), and so is a bound Gateway that serves none of the hosts (the binding
does nothing). A VirtualService may split its hosts between gateways, an internal and a public
one: a host served by one of them is fine. In-cluster hosts are for the mesh when `mesh` is
bound too; a two-label host is in-cluster (`name.namespace`) only when the repository holds
that namespace, else it is a domain such as `shop.io`, which the Gateway must serve. Bound
Gateways absent from the repository are gateway-not-found's business.

Istio facts (istio/istio 1.30.3): a Gateway server's hosts are `[namespace/]host`, where the
namespace part (`*`, `.`, a name) filters which VirtualServices may bind, and hosts match with
Istio's wildcard rules (`*.example.com` covers `a.example.com`, not `example.com`). istioctl's
IST0132 VirtualServiceHostNotFoundInGateway (since 1.13) is quiet as soon as one host matches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, Resource, describe, is_unknown_scope
from rules.core.reuse import NAMESPACES
from rules.mesh.hosts import MESH_GATEWAY, GatewayHost, in_cluster, matches
from rules.mesh.index import MeshIndex
from rules.mesh.references import gateway_references

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
READS = frozenset({"Gateway", "Namespace", NAMESPACES})
"""What problems depend on beyond their own resource (`rules.core.reuse`). The bound Gateways and
their server hosts are read off Gateways; whether a two-label host `a.b` names namespace b (and
is the mesh's, not the gateway's) is read off the repository's namespaces and Namespace objects."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    index = ctx.index
    if not index.gateways:
        return
    namespaces = {r.namespace for r in ctx.resources} | {n.name for n in ctx.of_kind("Namespace")}
    for vs in ctx.of_kind("VirtualService"):
        bound = _bound_gateways(index, vs)
        if not bound:
            continue
        judged = _judged_hosts(index, vs, ctx.config.cluster_domain, namespaces)
        serves = {
            gateway: {
                position
                for position, host, expanded in judged
                if _serves(index.gateway_hosts(*gateway), vs.scope, host, expanded)
            }
            for gateway in bound
        }
        served = set().union(*serves.values())
        for position, host, expanded in judged:
            if position not in served:
                reasons = "; nor by ".join(
                    _gateway_name(index, ns, name)
                    + _explain(index.gateway_hosts(ns, name), vs.namespace, host, expanded)
                    for ns, name in bound
                )
                yield Problem(
                    vs,
                    ("spec", "hosts", position),
                    f"{describe(vs)} host '{host}' is not served by {reasons}",
                )
        if not served:
            continue  # every host is already a finding that names every bound gateway
        for (namespace, name), position in bound.items():
            if not serves[(namespace, name)]:
                hosts = ", ".join(host for _, host, _ in judged)
                yield Problem(
                    vs,
                    ("spec", "gateways", position),
                    f"{describe(vs)} is bound to {_gateway_name(index, namespace, name)}, which "
                    "serves none of "
                    f"its hosts ({hosts}): the binding has no effect "
                    f"({_listing(index.gateway_hosts(namespace, name))})",
                )


def _bound_gateways(index: MeshIndex, vs: Resource) -> dict[tuple[str | None, str], int]:
    """The bound Gateways the repository holds -> the position of their `gateways` entry.

    A Gateway absent from the repository is gateway-not-found's finding, not judged here.
    """
    bound: dict[tuple[str | None, str], int] = {}
    for position, namespace, name in gateway_references(vs):
        if index.gateway(namespace, name) is not None:
            bound.setdefault((namespace, name), position)
    return bound


def _judged_hosts(
    index: MeshIndex, vs: Resource, domain: str, namespaces: set[str | None]
) -> list[tuple[int, str, str]]:
    """(position, host as written, host expanded) of the hosts a gateway must serve: with
    `mesh` bound too, in-cluster hosts are for the sidecars and not judged."""
    hosts = vs.spec.get("hosts")
    mesh_bound = MESH_GATEWAY in (vs.spec.get("gateways") or ())
    judged = []
    for position, host in enumerate(hosts if isinstance(hosts, list) else ()):
        if isinstance(host, str) and host:
            expanded = index.canonical_host(host, vs.scope)
            if not (mesh_bound and _in_cluster(host, expanded, domain, namespaces)):
                judged.append((position, host, expanded))
    return judged


def _in_cluster(host: str, expanded: str, domain: str, namespaces: set[str | None]) -> bool:
    """`expand` reads `a.b` as Service a of namespace b; that holds only for a namespace the
    repository knows, otherwise `shop.io` would pass for a Service and escape the check."""
    service = in_cluster(expanded, domain)
    return service is not None and (host.count(".") != 1 or service[1] in namespaces)


def _serves(servers: list[GatewayHost], scope: str | None, host: str, expanded: str) -> bool:
    """Whether a server admits the host. A namespace filter is judged only where both sides'
    namespaces are known: a VirtualService applied with `kubectl -n` may be in the filter's."""
    for server in servers:
        if is_unknown_scope(scope) or is_unknown_scope(server.namespace):
            if matches(server.host, host) or matches(server.host, expanded):
                return True
        elif server.admits(scope, host) or server.admits(scope, expanded):
            return True
    return False


def _gateway_name(index: MeshIndex, namespace: str | None, name: str) -> str:
    """`Gateway ns/name` as messages name it (no namespace where the repository sets none)."""
    gateway = index.gateway(namespace, name)
    return describe(gateway) if gateway is not None else f"Gateway {namespace}/{name}"


def _listing(servers: list[GatewayHost]) -> str:
    if not servers:
        return "it lists no server hosts"
    listed = [s.written for s in servers]
    more = f" and {len(listed) - 5} more" if len(listed) > 5 else ""
    return f"it serves {', '.join(listed[:5])}{more}"


def _explain(servers: list[GatewayHost], namespace: str | None, host: str, expanded: str) -> str:
    """Why no server admits the host: a namespace filter, or which hosts the Gateway serves."""
    filtered = sorted(
        {s.written for s in servers if matches(s.host, host) or matches(s.host, expanded)}
    )
    if filtered:
        return (
            f", which admits it only for VirtualServices in other namespaces "
            f"({', '.join(filtered)}), not {namespace}"
        )
    return f", which {_listing(servers).removeprefix('it ')}"
