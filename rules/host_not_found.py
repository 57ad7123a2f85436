"""A VirtualService or DestinationRule names an in-cluster host that no Service defines.

A typo in a host (`reviwes`), a Service renamed in one file but not in the rules that point at
it: Istio accepts the configuration and the traffic fails with 503s (no healthy upstream), or
the DestinationRule's TLS and subsets silently apply to nothing.

Istio facts (istio/istio 1.30.3): a destination host must name a service of the registry
(a Kubernetes Service or a ServiceEntry host visible through `exportTo`), or the route has no
cluster and fails with 503s; istioctl reports route and mirror destinations so
(`analyzers/virtualservice/destinationhosts.go`, IST0101 ReferencedResourceNotFound). This rule
also reads VirtualService and DestinationRule hosts, which istioctl does not, and only where
the repository shows the Services of the host's namespace. pilot expands only a name without a
dot (`ResolveShortnameToFQDN`): a partial name such as `reviews.bookinfo` or
`reviews.bookinfo.svc` in a destination or a DestinationRule's host is kept as written and
names no service, though cluster DNS would resolve it; it is reported with the full name as
the fix (unless a ServiceEntry lists it exactly).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, Resource, describe, is_unknown_scope, namespace_words
from rules.mesh.hosts import in_cluster, string_items
from rules.mesh.references import HostReference, host_references

ID = "host-not-found"
SEVERITY = "warning"
KINDS = ("VirtualService", "DestinationRule")
SUMMARY = "A host matches no Service or ServiceEntry in the repository."
WHY = (
    "Istio accepts a VirtualService or DestinationRule whose host does not exist: routes to it "
    "fail with 503 (no healthy upstream) and a DestinationRule for it silently applies to "
    "nothing, so its TLS settings, subsets and outlier detection are not in force."
)
FIX = (
    "Correct the host (look for a typo or a Service renamed elsewhere), or add the Service or "
    "ServiceEntry. Only in-cluster hosts (`name.namespace.svc.cluster.local`) in namespaces where "
    "the repository defines Services are judged, and a Service or ServiceEntry counts only where "
    "its `exportTo` makes it visible; if the Service lives in another repository, waive the "
    "finding."
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
  namespace: bookinfo
spec:
  hosts:
  - reviews.bookinfo.svc.cluster.local
  http:
  - route:
    - destination:
        host: reviwes.bookinfo.svc.cluster.local
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
  namespace: bookinfo
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
"""What problems depend on beyond their own resource (`rules.core.reuse`). Whether a host is
defined, and exported to the namespace naming it, is read off Services and ServiceEntries."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    index = ctx.index
    if not index.service_namespaces:
        return
    domain = ctx.config.cluster_domain
    for resource in ctx.of_kind("VirtualService", "DestinationRule"):
        for ref in host_references(resource):
            if ref.host.startswith("*"):
                continue
            fqdn = index.canonical_host(ref.host, resource.scope)
            service = in_cluster(fqdn, domain)
            if service is None or service[1] not in index.service_namespaces:
                continue
            found = index.services_for(ref.host, resource.scope)
            if found:
                if _partial(ref, resource.kind, fqdn) and not _literal_entry(ref.host, found):
                    yield Problem(
                        resource,
                        ref.path,
                        f"{describe(resource)} {ref.role} '{ref.host}' is a partial name: Istio "
                        f"expands only a name without a dot and keeps '{ref.host}' as written, so "
                        f"it matches no service (Service {fqdn} exists); write {fqdn}",
                        fix=("set", fqdn),
                    )
                continue
            if is_unknown_scope(service[1]) or index.maybe_anywhere(service[0]):
                # The host lands in a namespace the repository does not determine, or a
                # Service of that name has an unknown namespace: not known to be missing.
                continue
            shown = f"'{ref.host}'" + ("" if ref.host == fqdn else f" ({fqdn})")
            hidden = [
                r
                for r in index.service_hosts.get(fqdn, ())
                if not index.exported(r, resource.scope)
            ]
            if hidden:
                names = ", ".join(describe(r) for r in hidden)
                which = "which is not" if len(hidden) == 1 else "none of which is"
                yield Problem(
                    resource,
                    ref.path,
                    f"{describe(resource)} {ref.role} {shown} is defined in this repository by "
                    f"{names}, {which} exported to {namespace_words(resource)}",
                )
                continue
            yield Problem(
                resource,
                ref.path,
                f"{describe(resource)} {ref.role} {shown} matches no Service or ServiceEntry "
                f"in this repository, which defines other Services in namespace {service[1]}",
            )


def _partial(ref: HostReference, kind: str, fqdn: str) -> bool:
    """`name.namespace` or `name.namespace.svc` where Istio needs a service name: a
    DestinationRule's host or a route's destination (VirtualService hosts match Host headers,
    where such names are aliases)."""
    return (
        "." in ref.host and ref.host != fqdn and (kind == "DestinationRule" or ref.role != "host")
    )


def _literal_entry(host: str, found: list[Resource]) -> bool:
    """A ServiceEntry that lists the host exactly as written: Istio then finds it."""
    return any(
        r.kind == "ServiceEntry" and host in string_items(r.spec.get("hosts")) for r in found
    )
