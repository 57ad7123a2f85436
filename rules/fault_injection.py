"""A VirtualService still injects faults (delays or aborts) into live traffic.

Chaos tests add `fault.delay` or `fault.abort` to a route; forgetting to remove it ships a
permanent outage for a share of requests that never shows up in application logs.

Istio fact (istio/istio 1.30.3, `pilot/pkg/networking/core/route/route.go`, `TranslateFault`;
VirtualService `http[].fault` since 1.0): a route's `fault` becomes Envoy's HTTP fault filter
on the calling proxy (the sidecars for `mesh`, the gateways the VirtualService is bound to): a
`delay` (`fixedDelay`) or an `abort` (`httpStatus`, `grpcStatus`) on the share of requests its
`percentage` gives. A fault with neither is dropped, so `fault: {}` is not flagged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, describe

ID = "fault-injection"
SEVERITY = "error"
KINDS = ("VirtualService",)
SUMMARY = "A VirtualService route injects delays or aborts."
WHY = (
    "Fault injection left in after a chaos test fails or slows a share of production requests "
    "at the sidecar, before they reach the application: dashboards show errors that no "
    "application log explains."
)
FIX = (
    "Remove the `fault` block before merging to a shared branch; keep chaos experiments in a "
    "short-lived overlay or waive the finding with a cleanup deadline."
)
FAIL = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
  namespace: bookinfo
spec:
  hosts:
  - ratings.bookinfo.svc.cluster.local
  http:
  - fault:
      abort:
        percentage:
          value: 10
        httpStatus: 503
    route:
    - destination:
        host: ratings.bookinfo.svc.cluster.local
"""
PASS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
  namespace: bookinfo
spec:
  hosts:
  - ratings.bookinfo.svc.cluster.local
  http:
  - route:
    - destination:
        host: ratings.bookinfo.svc.cluster.local
"""
OPTIONS: dict[str, Any] = {}
READS: frozenset[str] = frozenset()
"""What problems depend on beyond their own resource (`rules.core.reuse`). A fault is read off the
VirtualService alone."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    for vs in ctx.of_kind("VirtualService"):
        routes = vs.spec.get("http")
        if not isinstance(routes, list):
            continue
        for index, route in enumerate(routes):
            fault = route.get("fault") if isinstance(route, dict) else None
            if not isinstance(fault, dict):
                continue
            kinds = [_describe(kind, fault[kind]) for kind in ("delay", "abort") if kind in fault]
            if not kinds:
                continue
            where = f"route '{route['name']}'" if route.get("name") else f"route {index + 1}"
            yield Problem(
                vs,
                ("spec", "http", index, "fault"),
                f"{describe(vs)} {where} injects {' and '.join(kinds)}",
                fix=("delete",),
            )


def _describe(kind: str, fault: Any) -> str:
    fault = fault if isinstance(fault, dict) else {}
    share = _percentage(fault)
    if kind == "delay":
        delay = fault.get("fixedDelay") or fault.get("exponentialDelay")
        return f"{'a ' + str(delay) if delay else 'a'} delay into {share} of requests"
    if fault.get("httpStatus"):
        what = f"HTTP {fault['httpStatus']} aborts"
    elif fault.get("grpcStatus"):
        what = f"gRPC {fault['grpcStatus']} aborts"
    else:
        what = "aborts"
    return f"{what} into {share} of requests"


def _percentage(fault: dict[str, Any]) -> str:
    percentage = fault.get("percentage")
    if isinstance(percentage, dict) and "value" in percentage:
        return f"{percentage['value']}%"
    if "percent" in fault:
        return f"{fault['percent']}%"
    return "100%"
