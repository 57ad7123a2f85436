"""A route sends traffic to a Service that the repository does not define.

Gateway API v1.6 (`BackendObjectReference`): a `backendRefs` entry defaults to group "" and
kind Service, in the route's namespace. Istio 1.32 (`buildDestination` in
`pilot/pkg/config/kube/gateway/conversion.go`) turns a Service it cannot find into the route
condition `ResolvedRefs: False`, reason `BackendNotFound`, and answers the requests meant for
it with 500; it also refuses a Service written as a hostname (`reviews.shop.svc.cluster.local`:
"the name of the Service must be used, not the hostname").

This is footgun 9 (host-not-found) for the Gateway API, judged the same way: only where the
repository defines Services in the backend's namespace (elsewhere the Service may well be
installed by another repository), and never where the namespace is unknown. Request mirrors
(`requestMirror.backendRef`) count. Other kinds (ServiceImport, Istio `Hostname`,
InferencePool) are left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, describe
from rules.mesh.gateway_api import ROUTE_KINDS, Found, Reference, backend_refs

ID = "backend-not-found"
SEVERITY = "warning"
KINDS = ROUTE_KINDS
SUMMARY = (
    "A route `backendRefs` Service absent from the repository, where it defines Services in "
    "that namespace."
)
WHY = (
    "A route to a Service that does not exist is accepted: Istio marks it `BackendNotFound` in "
    "a status nobody reads and answers the requests meant for it with 500. A typo in a backend "
    "name, or a short name that resolves in the route's namespace instead of the Service's, "
    "breaks the route without any error at apply time."
)
FIX = (
    "Name an existing Service (its name, not its hostname), with `namespace:` when it lives in "
    "another namespace (that also needs a ReferenceGrant there). If the Service is managed "
    "elsewhere, waive the finding."
)
FAIL = """\
apiVersion: v1
kind: Service
metadata:
  name: frontend
  namespace: shop
spec:
  ports:
  - port: 8080
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
    - name: fronted
      port: 8080
"""
PASS = """\
apiVersion: v1
kind: Service
metadata:
  name: frontend
  namespace: shop
spec:
  ports:
  - port: 8080
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
READS = frozenset({"Service"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). Whether the
repository defines Services in the backend's namespace, the backend among them (or one of that
name of unknown namespace), and where else a Service of that name lives, is read off Services."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    api = ctx.index.gateway_api
    for route in api.routes:
        for ref in backend_refs(route):
            if ref.group != "" or ref.kind != "Service":
                continue
            if "." in ref.name:
                yield Problem(
                    route,
                    (*ref.path, "name"),
                    f"{describe(route)} backendRef '{ref.name}' is a hostname: Istio needs the "
                    "Service's name (and `namespace:` for another namespace) and rejects the "
                    "backend",
                    identity=backend_identity(ref),
                )
                continue
            namespace = ref.scope[0]
            if namespace not in api.service_namespaces:
                continue
            found, _ = api.lookup("Service", ref.scope, ref.name)
            if found is Found.MISSING:
                yield Problem(
                    route,
                    (*ref.path, "name"),
                    f"{describe(route)} sends traffic to Service {namespace}/{ref.name}, which "
                    f"is not in this repository (BackendNotFound){_elsewhere(ctx, ref)}",
                    identity=backend_identity(ref),
                )


def backend_identity(ref: Reference) -> tuple[str, ...]:
    """A backendRef named by what it points at: rules have no names, and editing a match must
    not make an old finding new."""
    return ("backendRef", ref.group, ref.kind, ref.namespace or "", ref.name)


def _elsewhere(ctx: Context, ref: Reference) -> str:
    namespaces = sorted(
        {
            s.namespace
            for s in ctx.of_kind("Service")
            if s.name == ref.name and s.namespace is not None and s.group == ""
        }
    )
    if not namespaces:
        return ""
    return f"; a Service '{ref.name}' exists in namespace {', '.join(namespaces)}"
