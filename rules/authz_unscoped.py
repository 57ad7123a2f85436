"""A namespace-wide ALLOW AuthorizationPolicy lets any caller in.

An AuthorizationPolicy without `selector`, `targetRef` or `targetRefs` applies to every
workload of its namespace, and to every workload of the mesh in the root namespace. In ambient
mode (Istio 1.32) a policy whose `targetRefs` names a waypoint (a Gateway of class
`istio-waypoint`) applies to every Service that waypoint serves, often a whole namespace, and
one naming the GatewayClass `istio-waypoint` from the root namespace applies to every waypoint
of the mesh (`pilot/pkg/model/policyattachment.go`): both are as wide as a namespace-wide
policy. `targetRefs` to a Service or to an ingress Gateway scope the policy like a selector.
A rule without `from` (or whose sources constrain nothing) matches every caller, plaintext
ones without any identity included, so such a policy opens whatever its `to` lists to
everybody.

Not flagged: allow-nothing policies (`spec: {}`, `spec: {action: ALLOW}`, `rules: []`), DENY,
AUDIT and CUSTOM policies, rules whose `when` requires a caller identity or source IP, and the
documented probe allowance: a rule whose `to` lists only the configured health paths
(`health_paths`, exact paths).

Istio facts (istio/istio 1.30.3; AuthorizationPolicy since 1.4, `security.istio.io/v1` since
1.22): the action defaults to ALLOW; a policy without `selector`/`targetRef(s)` applies to every
workload of its namespace, and of the mesh in the root namespace; a rule without `from` matches
every source, plaintext callers without identity included; a rule `{}` matches every request,
while an ALLOW policy without rules matches none (allow-nothing: it denies everything to what
it selects).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, Resource, describe
from rules.mesh import authz
from rules.mesh.gateway_api import GROUP, WAYPOINT_CLASS, is_waypoint, qualified, scope_of

ID = "authz-unscoped"
SEVERITY = "error"
KINDS = ("AuthorizationPolicy",)
SUMMARY = "A namespace-wide (or mesh-wide) ALLOW policy has a rule that admits any caller."
WHY = (
    "A policy without a selector covers every workload of its namespace, or of the whole mesh "
    "in the root namespace. A rule without `from` matches every caller, including plaintext "
    "ones with no identity: the policy meant to lock something down opens it to everybody, and "
    "because it is an ALLOW policy it also switches every workload it covers to "
    "deny-by-default for everything else."
)
FIX = (
    "Add a `selector` (or `targetRefs`) for the workloads the policy is about, and a `from` "
    "naming the callers (`principals`, `namespaces`). A namespace-wide rule that admits only "
    "the health paths (`to: [{operation: {paths: [/healthz, ...]}}]`) is fine."
)
FAIL = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-get
  namespace: bookinfo
spec:
  action: ALLOW
  rules:
  - to:
    - operation:
        methods: ["GET"]
"""
PASS = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-get
  namespace: bookinfo
spec:
  action: ALLOW
  selector:
    matchLabels:
      app: productpage
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/istio-ingress/sa/istio-ingressgateway"]
    to:
    - operation:
        methods: ["GET"]
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({"Gateway"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). Whether the Gateway a
policy's `targetRefs` names is a waypoint is read off Gateways."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    root = ctx.config.root_namespace
    health = ctx.config.health_paths
    for policy in ctx.of_kind("AuthorizationPolicy"):
        if authz.action(policy) != "ALLOW":
            continue
        if authz.has_target_ref(policy):
            scope = _waypoint_wide(ctx, policy)
            if scope is None:
                continue  # a Service or an ingress Gateway: scoped to it
            how, where = scope
        elif authz.selector_labels(policy) is not None:
            continue
        else:
            how, where = "has no selector", authz.describe_selection(policy, root)
        for index, rule in authz.rules_of(policy):
            if not authz.any_caller(rule) or authz.only_health_paths(rule, health):
                continue
            yield Problem(
                policy,
                ("spec", "rules", index),
                f"{describe(policy)} {how} and its "
                f"rule {index + 1} has no `from`: it opens {_what(rule)}{where} to any "
                "caller, plaintext ones without identity included",
            )


def _waypoint_wide(ctx: Context, policy: Resource) -> tuple[str, str] | None:
    """(how it is bound, what it covers) when `targetRefs` names a waypoint: every Service
    the waypoint serves (often a whole namespace), or, for the GatewayClass `istio-waypoint`
    from the root namespace, every waypoint of the mesh. None for Services and ingress
    Gateways, which scope the policy like a selector."""
    api = ctx.index.gateway_api
    for target in authz.target_refs(policy):
        if target.group != GROUP:
            continue
        if target.kind == "GatewayClass" and target.name == WAYPOINT_CLASS:
            if policy.namespace == ctx.config.root_namespace:
                return (f"targets GatewayClass {WAYPOINT_CLASS}", "every waypoint of the mesh")
        elif target.kind == "Gateway":
            scope = (target.namespace, "") if target.namespace else scope_of(policy)
            _, gateway = api.lookup("Gateway", scope, target.name)
            if gateway is not None and is_waypoint(gateway):
                return (
                    f"targets waypoint {qualified(gateway)}",
                    f"every Service that waypoint {qualified(gateway)} serves",
                )
    return None


def _what(rule: dict[str, Any]) -> str:
    operations = authz.operations(rule)
    if operations is None:
        return ""
    paths = [path for op in operations for path in authz.values(op, "paths")]
    methods = [method for op in operations for method in authz.values(op, "methods")]
    if paths:
        return "paths " + ", ".join(dict.fromkeys(paths)) + " on "
    if methods:
        return "methods " + ", ".join(dict.fromkeys(methods)) + " on "
    return "what its `to` lists on "
