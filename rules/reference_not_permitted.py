"""A cross-namespace reference that no ReferenceGrant permits.

Gateway API v1.6 (`ReferenceGrant`): every cross-namespace reference except a route attaching
to a Gateway needs a ReferenceGrant in the target's namespace whose `from` names the
referrer's group, kind and namespace and whose `to` names the target's group and kind (and its
name, when `to.name` is set). Istio 1.32 enforces it:

- for route `backendRefs` (and request mirrors) of routes attached to Gateways: the backend is
  dropped with `ResolvedRefs: False`, reason `RefNotPermitted` ("missing a ReferenceGrant?")
  and the requests get 500 (`buildDestination`; mesh routes attached to a Service are not
  checked: `enforceRefGrant` is off for them);
- for a Gateway listener's `tls.certificateRefs`: the listener is not programmed
  (`InvalidCertificateRef` / `RefNotPermitted`, `buildTLS`).

Istio 1.32 honours grants only to the kinds it resolves through them
(`ReferenceGrantsCollection`: Service, Secret, ConfigMap, XBackend, InferencePool): a
cross-namespace ServiceImport backend is refused even with a grant that the specification
accepts, and is flagged with that reason.

Judged only where the referrer's namespace is known (a resource applied with `kubectl -n` may
well be in the target namespace). A ReferenceGrant of any served version (v1, v1beta1,
v1alpha2) counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.backend_not_found import backend_identity
from rules.core.context import Context
from rules.core.model import Problem, describe
from rules.mesh.gateway_api import (
    GROUP,
    ROUTE_KINDS,
    GatewayApiIndex,
    Reference,
    backend_refs,
    certificate_refs,
    parent_refs,
)

ID = "reference-not-permitted"
SEVERITY = "error"
KINDS = (*ROUTE_KINDS, "Gateway", "ReferenceGrant")
SUMMARY = (
    "A cross-namespace `backendRefs` or Gateway `certificateRefs` without a ReferenceGrant "
    "that allows it."
)
WHY = (
    "The Gateway API refuses cross-namespace references unless the target namespace grants "
    "them. Without the ReferenceGrant the route's backend is dropped (requests get 500, status "
    "`RefNotPermitted`) or the HTTPS listener has no certificate; the manifest applies cleanly "
    "and nothing says why traffic fails. Deleting a grant breaks every reference it allowed."
)
FIX = (
    "Add a ReferenceGrant in the target's namespace: `from` the referrer (group "
    '`gateway.networking.k8s.io`, its kind and namespace), `to` the target (group `""`, kind '
    "`Service` or `Secret`, optionally its name). Or move the route or certificate into the "
    "same namespace."
)
FAIL = """\
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
    - name: payments
      namespace: payments
      port: 8080
"""
PASS = """\
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
    - name: payments
      namespace: payments
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: shop-routes
  namespace: payments
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    namespace: shop
  to:
  - group: ""
    kind: Service
    name: payments
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({"ReferenceGrant"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). Whether a
cross-namespace backendRef or certificateRef is permitted, and which grants the target
namespace holds, is read off ReferenceGrants."""

ISTIO_GRANTABLE = frozenset({"Service", "Secret", "ConfigMap", "XBackend", "InferencePool"})
"""The target kinds Istio 1.32 resolves through ReferenceGrants (`ReferenceGrantsCollection`)."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    api = ctx.index.gateway_api
    for route in api.routes:
        if not any(p.group == GROUP and p.kind == "Gateway" for p in parent_refs(route)):
            continue  # Istio checks grants for Gateway routes only, not for mesh routes
        for ref in backend_refs(route):
            if not ref.cross_namespace:
                continue
            grant = api.grant_allows(ref)
            if grant is not None and ref.kind not in ISTIO_GRANTABLE:
                yield Problem(
                    route,
                    ref.path,
                    f"{describe(route)} sends traffic to {ref.kind} {ref.namespace}/{ref.name} "
                    f"in another namespace; ReferenceGrant {grant.namespace}/{grant.name} allows "
                    f"it, but Istio honours grants only to {', '.join(sorted(ISTIO_GRANTABLE))} "
                    "and drops the backend (RefNotPermitted)",
                    identity=backend_identity(ref),
                )
            elif grant is None:
                yield Problem(
                    route,
                    ref.path,
                    f"{describe(route)} sends traffic to {ref.kind} {ref.namespace}/{ref.name} "
                    f"in another namespace, and no ReferenceGrant in {ref.namespace} allows "
                    f"{route.kind}s from {route.namespace}: Istio drops the backend "
                    f"(RefNotPermitted){_near_miss(api, ref)}",
                    identity=backend_identity(ref),
                )
    for gateway in ctx.of_kind("Gateway"):
        if gateway.group != GROUP:
            continue
        for ref in certificate_refs(gateway):
            if ref.cross_namespace and api.grant_allows(ref) is None:
                yield Problem(
                    gateway,
                    ref.path,
                    f"{describe(gateway)} uses {ref.kind} {ref.namespace}/{ref.name} from "
                    f"another namespace, and no ReferenceGrant in {ref.namespace} allows "
                    f"Gateways from {gateway.namespace}: the listener gets no certificate "
                    f"(RefNotPermitted){_near_miss(api, ref)}",
                    identity=("certificateRef", ref.namespace or "", ref.name),
                )


def _near_miss(api: GatewayApiIndex, ref: Reference) -> str:
    """Name the grants of the target namespace, which the reader will suspect first."""
    grants = api.grants_in(ref.namespace or "")
    if not grants:
        return ""
    names = ", ".join(g.name for g in grants[:3])
    return f"; the ReferenceGrants there ({names}) do not cover this {ref.owner.kind}"
