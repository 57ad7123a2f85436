"""An AuthorizationPolicy blocks the kubelet's health probes.

An ALLOW policy makes the workloads it selects deny-by-default: a request passes only when an
ALLOW policy for that workload matches it. The kubelet probes through the sidecar, in
plaintext, without any mesh identity, so unless some rule admits a health path to a caller
without identity, readiness probes fail and the Deployment never becomes ready.

ALLOW policies that apply to the same workloads are judged together: the policy itself, those
in its namespace whose selector is the same or broader (namespace-wide included) and those in
the root namespace likewise. A separate health-only policy therefore makes the others harmless.
A rule admits the kubelet when it has no `from` or a source that requires no identity (only IP
blocks or negated identities), and no `when` requiring one; it admits a health path when its
`to` is absent or an operation matches a GET of it (`paths` with Istio matching, `notPaths`,
`methods`). Admitting one configured health path is enough.

A DENY policy is flagged per rule that certainly matches the kubelet - no `from`, or a source
with only `notPrincipals`/`notNamespaces`/`notRequestPrincipals`, and no `when` - on a health
path. Left alone: AUDIT and CUSTOM policies; policies attached with `targetRef(s)` (gateways,
waypoints: not on the kubelet's path); policies selecting gateway pods (labels of a Gateway's
selector, `istio: ingressgateway`, `gateway.networking.k8s.io/gateway-name`...), which answer
probes on their status port, outside authorization; and ambient namespaces (labelled
`istio.io/dataplane-mode: ambient`, or holding a pod so labelled or annotated
`ambient.istio.io/redirection: enabled`: ambient exempts kubelet probes).

Configuration (top level of `.github/footgun.yml`): `health_paths` (default /health, /healthz,
/ready, /readyz, /livez, /metrics) and `probes_rewritten: true` for meshes whose sidecar
injection rewrites HTTP probes to pilot-agent, which then never cross the authorization filter;
the rule is quiet then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.document import KeyPath
from rules.core.model import Problem, Resource, describe
from rules.mesh import authz
from rules.mesh.index import DATAPLANE_MODE

ID = "authz-blocks-health-probes"
SEVERITY = "error"
KINDS = ("AuthorizationPolicy",)
SUMMARY = "An AuthorizationPolicy denies the kubelet's health probes."
WHY = (
    "You add an AuthorizationPolicy to lock down a service and readiness probes start failing "
    "within seconds; the Deployment rolls into a crash loop. The kubelet is not part of the mesh "
    "and has no SPIFFE identity, so under a deny-by-default policy its probes are blocked like "
    "any other unauthorized request. There is no 'allow kubelet' principal."
)
FIX = (
    "Allow the health paths by path, not by source: add a rule without `from` whose `to` lists "
    "them (`paths: [/health, /healthz, /ready, /readyz, /livez, /metrics]`), in the policy or "
    "in a separate health-only ALLOW policy for the same workloads. In a DENY policy, exclude "
    "them with `notPaths`. If sidecar injection rewrites HTTP probes to pilot-agent (Istio's "
    "`rewriteAppHTTPProbers`), they never reach authorization: set `probes_rewritten: true` in "
    ".github/footgun.yml."
)
FAIL = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reviews
  namespace: bookinfo
spec:
  selector:
    matchLabels:
      app: reviews
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/bookinfo/sa/bookinfo-productpage"]
"""
PASS = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reviews
  namespace: bookinfo
spec:
  selector:
    matchLabels:
      app: reviews
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/bookinfo/sa/bookinfo-productpage"]
  - to:
    - operation:
        paths: ["/health", "/healthz", "/ready", "/readyz", "/livez", "/metrics"]
"""
OPTIONS: dict[str, Any] = {}

Labels = frozenset[tuple[str, str]] | None
GATEWAY_NAME_LABELS = ("gateway.networking.k8s.io/gateway-name", "istio.io/gateway-name")
HOW_TO_QUIET = "if injection rewrites probes, set `probes_rewritten: true` in .github/footgun.yml"


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    config = ctx.config
    if config.probes_rewritten:
        return
    ambient = _ambient_namespaces(ctx)
    gateways = _gateway_selectors(ctx)
    policies = [
        p
        for p in ctx.of_kind("AuthorizationPolicy")
        if not authz.has_target_ref(p)
        and p.namespace not in ambient
        and not _selects_gateway(authz.selector_labels(p), gateways)
    ]
    allows = [p for p in policies if authz.action(p) == "ALLOW"]
    admitting: dict[str | None, list[Labels]] = defaultdict(list)
    """Per namespace, the selectors of the ALLOW policies that admit a health path."""
    for policy in allows:
        if _admitted(policy, config.health_paths):
            admitting[policy.namespace].append(authz.selector_labels(policy))
    root = config.root_namespace
    for policy in allows:
        labels = authz.selector_labels(policy)
        candidates = admitting.get(policy.namespace, [])
        if policy.namespace != root:
            candidates = candidates + admitting.get(root, [])
        if not any(_covers(theirs, labels) for theirs in candidates):
            yield _blocking_allow(policy, config.health_paths, root)
    for policy in policies:
        if authz.action(policy) == "DENY":
            yield from _blocking_deny(policy, config.health_paths, config.root_namespace)


def _gateway_selectors(ctx: Context) -> list[frozenset[tuple[str, str]]]:
    """The pod labels of the Istio Gateways in the repository."""
    found = []
    for gateway in ctx.of_kind("Gateway"):
        selector = gateway.spec.get("selector")
        if gateway.group == "networking.istio.io" and isinstance(selector, dict) and selector:
            found.append(frozenset((str(k), str(v)) for k, v in selector.items()))
    return found


def _selects_gateway(
    labels: frozenset[tuple[str, str]] | None, gateways: list[frozenset[tuple[str, str]]]
) -> bool:
    """Gateway pods answer probes on their status port, which authorization never sees."""
    if labels is None:
        return False
    if any(key in GATEWAY_NAME_LABELS for key, _ in labels):
        return True
    for key, value in labels:
        istio_label = key == "istio" or (key == "app" and value.startswith("istio-"))
        if istio_label and value.endswith("gateway"):
            return True
    return any(gateway <= labels for gateway in gateways)


def _ambient_namespaces(ctx: Context) -> set[str | None]:
    """Namespaces in ambient mode: labelled so, or holding a pod redirected to ztunnel."""
    found: set[str | None] = {
        ns.name for ns in ctx.of_kind("Namespace") if ns.labels.get(DATAPLANE_MODE) == "ambient"
    }
    found.update(w.resource.namespace for w in ctx.index.workloads() if w.in_ambient)
    return found


def _admitted(policy: Resource, health_paths: tuple[str, ...]) -> set[str]:
    """Health paths some rule of this ALLOW policy may let a caller without identity reach."""
    return {
        path
        for _, rule in authz.rules_of(policy)
        if authz.may_admit_anonymous(rule)
        for path in authz.admitted_paths(rule, health_paths)
    }


def _covers(theirs: Labels, mine: Labels) -> bool:
    """A policy selecting `theirs` (same or root namespace) applies to every workload of `mine`."""
    return theirs is None or (mine is not None and theirs <= mine)


def _blocking_allow(policy: Resource, health_paths: tuple[str, ...], root: str) -> Problem:
    spec = policy.spec
    path: KeyPath = (
        ("spec", "rules")
        if "rules" in spec
        else (("spec", "action") if "action" in spec else ("spec",))
    )
    lead = "allows nothing" if not authz.rules_of(policy) else "denies everything it does not allow"
    return Problem(
        policy,
        path,
        f"{describe(policy)} (ALLOW) {lead} to "
        f"{authz.describe_selection(policy, root)}, and no ALLOW policy for them admits "
        f"{', '.join(health_paths)} to callers without identity, so the kubelet's probes fail; "
        f"{HOW_TO_QUIET}",
        identity=("allow-policy",),
    )


def _blocking_deny(policy: Resource, health_paths: tuple[str, ...], root: str) -> Iterator[Problem]:
    for index, rule in authz.rules_of(policy):
        if not authz.surely_matches_anonymous(rule):
            continue
        blocked = authz.admitted_paths(rule, health_paths, strict=True)
        if not blocked:
            continue
        yield Problem(
            policy,
            ("spec", "rules", index),
            f"{describe(policy)} (DENY) rule {index + 1} denies {', '.join(blocked)} on "
            f"{authz.describe_selection(policy, root)} to callers without identity, so the "
            f"kubelet's probes fail; {HOW_TO_QUIET}",
        )
