"""An Istio or Gateway API resource that its own CRD schema rejects or silently prunes.

A typo is valid YAML: `timout: 5s`, `mode: STRICTT`, `hosts: reviews` (a string, not a list).
The API server either refuses the object (wrong type, enum, duration, a CEL rule) or, for a field
the schema does not declare, drops it: with `kubectl apply` (strict field validation, the default
since kubectl 1.25) the apply fails, with other clients the field is pruned and the route simply
has no timeout. `istioctl analyze` does not report unknown fields of files (istio/istio#28445).

The schemas are Istio's published CRDs (`manifests/charts/base/files/crd-all.gen.yaml`, Istio
1.30.3 and 1.24.6) and the Gateway API's (v1.6.1, standard and experimental channels), compiled
by scripts/generate_schemas.py into rules/schema/data.json; rules/schema/validator.py says what
the walk does and why (pruning, nullable, int-or-string, Istio's one-ofs, the CEL rules that are
evaluated). `istio_version` in the config picks the Istio set (default: the newest); the option
`gateway_api_experimental` (default false: the standard channel) says the cluster runs the Gateway
API's experimental-channel CRDs. A field only a newer Istio (or only the experimental channel)
declares says so.

Istio's validating webhook (pkg/config/validation) rejects more than the CRD schema does (for
example an HTTP route with neither `route`, `redirect` nor `directResponse`: "HTTP route,
redirect or direct_response is required", which the 1.30 CRD allows); this rule checks only what
the CRD schema says, so what it reports the API server itself refuses or prunes, whatever
webhook is installed.
`metadata` is checked against Kubernetes' ObjectMeta fields (labels and annotations are maps of
strings). `status` is ignored: the API server ignores it on create. IstioOperator has no CRD in
these releases (istioctl reads it) and is not checked.

At most 10 problems are reported per resource, then one finding counts the rest. The work is
done in rules/schema/problems.py, imported only when a run holds such resources.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.loader import GATEWAY_API_GROUPS
from rules.core.model import Problem

ID = "schema-invalid"
SEVERITY = "error"
KINDS = (
    "VirtualService",
    "DestinationRule",
    "Gateway",
    "ServiceEntry",
    "Sidecar",
    "WorkloadEntry",
    "WorkloadGroup",
    "EnvoyFilter",
    "ProxyConfig",
    "PeerAuthentication",
    "AuthorizationPolicy",
    "RequestAuthentication",
    "Telemetry",
    "WasmPlugin",
    "TrafficExtension",
    "GatewayClass",
    "HTTPRoute",
    "GRPCRoute",
    "TCPRoute",
    "TLSRoute",
    "UDPRoute",
    "ReferenceGrant",
    "BackendTLSPolicy",
    "ListenerSet",
)
SUMMARY = (
    "An Istio or Gateway API resource that its CRD schema rejects or silently prunes: unknown "
    "field, wrong type, value outside an enum, invalid duration or port, fields that exclude "
    "each other, an apiVersion that is not served."
)
WHY = (
    "A misspelt field is valid YAML. The API server drops fields its schema does not declare "
    "(or `kubectl apply` refuses the whole object), so `timout: 5s` leaves the route with no "
    "timeout and `subsett: v2` sends traffic to every version; a wrong type or enum value fails "
    "the apply late, at sync time, far from the pull request that caused it."
)
FIX = (
    "Use the field name, type and value the CRD declares (the message names the closest known "
    "field or value). If the field is newer than the configured `istio_version`, upgrade Istio "
    "first or set `istio_version` to what the cluster runs."
)
FAIL = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: bookinfo
spec:
  hosts: reviews
  http:
  - route:
    - destination:
        host: reviews.bookinfo.svc.cluster.local
    timout: 5s
"""
PASS = """\
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
    timeout: 5s
"""
OPTIONS: dict[str, Any] = {"gateway_api_experimental": False}
READS: frozenset[str] = frozenset()
"""What problems depend on beyond their own resource (`rules.core.reuse`). Each resource is checked
against its own schema alone."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    if not any(
        r.group.endswith(".istio.io") or r.group in GATEWAY_API_GROUPS for r in ctx.resources
    ):
        return
    from rules.schema.problems import problems

    yield from problems(ctx, bool(options.get("gateway_api_experimental")))
