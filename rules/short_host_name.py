"""A VirtualService or DestinationRule names a host by its short name (`reviews`).

Istio expands a short host in the namespace of the resource that names it, not of the Service:
`reviews` in a VirtualService of namespace `frontend` means `reviews.frontend.svc.cluster.local`.
Moving the resource, or copying it to another namespace, silently points it somewhere else.

Istio fact (istio/istio 1.30.3, `pilot/pkg/model/config.go`, `ResolveShortnameToFQDN`, the same
since 1.0): a host without a dot becomes `<host>.<namespace of the resource>.svc.<domain>`; `*`,
IP addresses and anything with a dot are kept as written. istioctl's analyzers expand alike
(`ConvertHostToFQDN`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, describe, is_unknown_scope
from rules.mesh.references import host_references

ID = "short-host-name"
SEVERITY = "warning"
KINDS = ("VirtualService", "DestinationRule")
SUMMARY = "A VirtualService or DestinationRule host is a short name such as `reviews`."
WHY = (
    "Istio expands a short host in the namespace of the VirtualService or DestinationRule, not "
    "in the namespace of the Service. A rule written next to its Service works until someone "
    "moves it or copies it to another namespace; then it routes to a host that does not exist "
    "and requests fail with 503s (or a DestinationRule silently stops applying)."
)
FIX = (
    "Write the fully qualified name, `reviews.bookinfo.svc.cluster.local`. The finding is an "
    "error when the repository defines that Service only in another namespace: the short name "
    "already points at the wrong place."
)
FAIL = """\
apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: bookinfo
spec:
  ports:
  - port: 9080
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: frontend
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
"""
PASS = """\
apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: bookinfo
spec:
  ports:
  - port: 9080
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: frontend
spec:
  hosts:
  - reviews.bookinfo.svc.cluster.local
  http:
  - route:
    - destination:
        host: reviews.bookinfo.svc.cluster.local
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({"Service", "ServiceEntry"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). Where a short name's
Service lives is read off Services and ServiceEntries."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    index = ctx.index
    for resource in ctx.of_kind("VirtualService", "DestinationRule"):
        for ref in host_references(resource):
            host = ref.host
            if "." in host or host.startswith("*"):
                continue
            expanded = index.canonical_host(host, resource.scope)
            defined = index.namespaces_defining_service(host)
            where = f"{describe(resource)} {ref.role} '{host}'"
            if resource.namespace is None:
                # The namespace is set when applied (`kubectl -n`): the expansion is unknown,
                # and so is whether the Service is elsewhere.
                yield Problem(
                    resource,
                    ref.path,
                    f"{where} is a short name: Istio expands it in the namespace the "
                    f"{resource.kind} is applied to, not in the namespace of the Service; write "
                    "it in full",
                )
                continue
            if (
                defined
                and resource.scope not in defined
                and not any(is_unknown_scope(ns) for ns in defined)
            ):
                others = sorted(defined)
                target = f"{host}.{others[0]}.svc.{ctx.config.cluster_domain}"
                yield Problem(
                    resource,
                    ref.path,
                    f"{where} expands to {expanded}, but this repository defines Service "
                    f"'{host}' only in namespace {', '.join(others)}: write "
                    + (f"{target}" if len(others) == 1 else "the fully qualified name"),
                    fix=("set", target) if len(others) == 1 else None,
                    severity="error",
                )
            else:
                yield Problem(
                    resource,
                    ref.path,
                    f"{where} is a short name: Istio expands it in the namespace of the "
                    f"{resource.kind} ({expanded}), not of the Service; write it in full",
                    fix=("set", expanded),
                )
