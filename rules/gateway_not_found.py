"""A VirtualService is bound to a Gateway that the repository does not contain.

A misspelt gateway name, or a short name that resolves in the wrong namespace (`my-gateway` in a
VirtualService of namespace `shop` means `shop/my-gateway`, not `istio-system/my-gateway`), and
the routes never reach the ingress: Istio accepts the VirtualService and serves 404s.

Istio facts (istio/istio 1.30.3, `pilot/pkg/model/config.go`, `resolveGatewayName`): a short
`name` in `gateways` is `<VirtualService namespace>/name`; `ns/name` is taken as written and
`./name` in the VirtualService's namespace; the legacy `name.ns[.svc...]` form means `ns/name`;
`mesh` stands for the sidecars. istioctl reports a missing one as IST0101
(`analyzers/virtualservice/gateways.go`).
A Kubernetes Gateway API Gateway of that namespace and name counts: Istio binds VirtualServices
to it, and istioctl 1.32's GatewayAnalyzer accepts it (`virtualservice/gateways.go`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, describe, is_unknown_scope
from rules.mesh.gateway_api import Found
from rules.mesh.references import gateway_references

ID = "gateway-not-found"
SEVERITY = "warning"
KINDS = ("VirtualService",)
SUMMARY = "A VirtualService `gateways` entry names a Gateway absent from the repository."
WHY = (
    "Istio accepts a VirtualService bound to a Gateway that does not exist; its routes are "
    "simply never programmed into the ingress, which answers 404 for the host. A short gateway "
    "name resolves in the VirtualService's namespace, so a Gateway in `istio-system` needs "
    "`istio-system/name`."
)
FIX = (
    "Name the Gateway as `namespace/name` and check the spelling. The check is based on what the "
    "repository contains and stays quiet when it holds no Gateway at all; if the Gateway is "
    "managed elsewhere, waive the finding."
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
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - shop.example.com
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
  namespace: shop
spec:
  hosts:
  - shop.example.com
  gateways:
  - public
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
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - shop.example.com
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
  namespace: shop
spec:
  hosts:
  - shop.example.com
  gateways:
  - istio-system/public
  - mesh
  http:
  - route:
    - destination:
        host: frontend.shop.svc.cluster.local
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({"Gateway"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). Whether a bound
Gateway exists, and in which namespaces one of that name does, is read off Gateways: Istio's and
the Gateway API's (a VirtualService binds to either), those of unknown namespace included."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    index = ctx.index
    if not index.gateways:
        return
    for vs in ctx.of_kind("VirtualService"):
        for position, namespace, name in gateway_references(vs):
            if index.gateway(namespace, name) is not None:
                continue
            scopes = index.gateway_namespaces(name)
            if is_unknown_scope(namespace) or any(is_unknown_scope(ns) for ns in scopes):
                # A short name in a namespace the repository does not determine, or a Gateway
                # of that name whose namespace is unknown: not known to be missing.
                continue
            if namespace is not None:
                found, _ = index.gateway_api.lookup("Gateway", (namespace, ""), name)
                if found is not Found.MISSING:
                    continue  # a Gateway API Gateway: Istio binds VirtualServices to it too
            elsewhere = sorted(ns or "" for ns in scopes)
            hint = (
                f"; a Gateway '{name}' exists in namespace {', '.join(elsewhere)}: write "
                f"{elsewhere[0]}/{name}"
                if elsewhere
                else ""
            )
            yield Problem(
                vs,
                ("spec", "gateways", position),
                f"{describe(vs)} is bound to Gateway {namespace}/{name}, which is not in this "
                f"repository{hint}",
                fix=("set", f"{elsewhere[0]}/{name}") if len(elsewhere) == 1 else None,
            )
