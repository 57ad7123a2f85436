"""An AuthorizationPolicy blocks the kubelet's health probes, where probes reach authorization.

An ALLOW policy makes the workloads it selects deny-by-default: a request passes only when an
ALLOW policy for that workload matches it. The kubelet is not in the mesh: it probes in
plaintext, without any identity, so a probe that reaches the sidecar's authorization fails
unless some rule admits it to a caller without identity.

Istio facts (checked against istio/istio 1.30.3, `pkg/kube/inject/app_probe.go` and the istiod
chart): the injector rewrites `httpGet`, `tcpSocket` (since 1.12) and `grpc` (since 1.13)
probes of injected pods to the agent's status port 15020, and pilot-agent probes the application
from inside the pod, so rewritten probes never cross Envoy's inbound listener nor any
AuthorizationPolicy. Rewriting is on by default (`sidecarInjectorWebhook.rewriteAppHTTPProbe:
true` in the istiod chart since 1.7). The rule therefore fires only where probes do reach
authorization: the mesh turns rewriting off (`rewriteAppHTTPProbe: false` in an IstioOperator's
`spec.values`, istiod Helm values or the rendered `istio-sidecar-injector` ConfigMap's values),
a pod turns it off (`sidecar.istio.io/rewriteAppHTTPProbers: "false"`, which also turns it back
on with "true"), or `.github/footgun.yml` says `probes_rewritten: false` (default `true`) for a
mesh installed elsewhere. Not rewritten, an `httpGet` probe is a GET of its path and a `grpc`
probe a POST of `/grpc.health.v1.Health/Check`; a `tcpSocket` probe only opens a connection,
which Envoy accepts before authorization, so it passes anyway.

Where the workloads a policy selects are in the repository, their probes are judged one by one
(path, method, port) against every ALLOW policy that applies to the workload (its namespace and
the root namespace), and only workloads with a probe that is denied are named; a policy over
pods without probes is fine. Where the repository holds none of the selected workloads, and the
mesh does not rewrite probes, the configured `health_paths` (default /health, /healthz, /ready,
/readyz, /livez, /metrics) stand for the probes: one admitted path is enough, and ALLOW policies
whose selector is the same or broader (namespace-wide, root namespace) are judged together.
A rule admits the kubelet when it has no `from` or a source that requires no identity (only IP
blocks or negated identities), and no `when` requiring one.

A DENY policy is flagged per rule that certainly matches the kubelet (no `from`, or a source
with only `notPrincipals`/`notNamespaces`/`notRequestPrincipals`, and no `when`) on a probe.
Left alone: AUDIT and CUSTOM policies; policies attached with `targetRef(s)`, which never reach
the kubelet's path (Istio 1.32 `ShouldAttachPolicy`: a pod with a sidecar ignores every policy
that has `targetRefs`; a Gateway target is an ingress gateway, whose probes go to its status
port, or a waypoint, and a Service or GatewayClass target is enforced by waypoints, which the
kubelet's probes, sent straight to the pod, never cross); policies selecting gateway pods
(labels of a Gateway's selector, `istio: ingressgateway`, `gateway.networking.k8s.io/gateway-name`),
which answer probes on their status port, outside authorization; and ambient namespaces
(labelled `istio.io/dataplane-mode: ambient`, or holding a pod so labelled or annotated
`ambient.istio.io/redirection: enabled`: ztunnel exempts kubelet probes, since 1.22's ambient GA).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rules.core.config import Config
from rules.core.context import Context
from rules.core.document import KeyPath
from rules.core.loader import WORKLOAD_KINDS
from rules.core.model import Problem, Resource, describe
from rules.mesh import authz
from rules.mesh.index import DATAPLANE_MODE
from rules.mesh.mesh_config import MESH_CONFIG_KINDS, is_injector_configmap
from rules.mesh.probes import Probe, Rewriting, http_probes, mesh_rewriting, pod_rewriting

ID = "authz-blocks-health-probes"
SEVERITY = "error"
KINDS = ("AuthorizationPolicy",)
SUMMARY = "An AuthorizationPolicy denies the kubelet's health probes."
WHY = (
    "Where probes are not rewritten to the sidecar agent (rewriting turned off for the mesh or "
    "the pod), the kubelet's probes cross the sidecar's authorization like any request. The "
    "kubelet is not part of the mesh and has no SPIFFE identity, so under a deny-by-default "
    "policy its probes are denied: readiness fails within seconds and the Deployment rolls into "
    "a crash loop. There is no 'allow kubelet' principal."
)
FIX = (
    "Allow the probe paths by path, not by source: add a rule without `from` whose `to` lists "
    "them (`paths: [/healthz, /ready]`), in the policy or in a separate health-only ALLOW "
    "policy for the same workloads; in a DENY policy, exclude them with `notPaths`. Or leave "
    "Istio's probe rewriting on (`sidecarInjectorWebhook.rewriteAppHTTPProbe`, the "
    "`sidecar.istio.io/rewriteAppHTTPProbers` annotation): rewritten probes never reach "
    "authorization. For a mesh installed elsewhere that does not rewrite probes, set "
    "`probes_rewritten: false` in .github/footgun.yml."
)
_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews
  namespace: bookinfo
spec:
  selector:
    matchLabels: {app: reviews}
  template:
    metadata:
      labels: {app: reviews}
      annotations:
        sidecar.istio.io/rewriteAppHTTPProbers: "false"
    spec:
      containers:
      - name: reviews
        image: example/reviews:1.2.0
        readinessProbe:
          httpGet: {path: /healthz, port: 9080}
---
"""
FAIL = (
    _DEPLOYMENT
    + """\
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
)
PASS = (
    _DEPLOYMENT
    + """\
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
        paths: ["/healthz"]
"""
)
OPTIONS: dict[str, Any] = {}
READS = frozenset(
    {"AuthorizationPolicy", "Namespace", "Gateway", *WORKLOAD_KINDS, *MESH_CONFIG_KINDS}
)
"""What problems depend on beyond their own resource (`rules.core.reuse`). A probe is admitted by
any ALLOW policy for its pod, so every AuthorizationPolicy; the pods, their probes and labels off
workloads; probe rewriting off mesh config sources and the injector's ConfigMap (an ambient-only
install counts when a Namespace is labelled for injection); ambient namespaces off Namespaces and
workloads; gateway pod labels off Gateways."""

Labels = frozenset[tuple[str, str]] | None
GATEWAY_NAME_LABELS = ("gateway.networking.k8s.io/gateway-name", "istio.io/gateway-name")
HOW_TO_FIX = "admit these paths in a rule without `from`, or leave probe rewriting on"
MAX_LISTED = 5
Selectors = dict[int, frozenset[tuple[str, str]] | None]
"""Each policy's selector labels, by `id()`, read once per run."""


@dataclass(frozen=True, slots=True)
class Pod:
    """A workload of the repository as authorization sees it: its labels, and the probes that
    reach the sidecar (empty when they are rewritten or it has none)."""

    resource: Resource
    labels: dict[str, Any]
    rewriting: Rewriting
    probes: tuple[Probe, ...]
    """Empty without a sidecar (or for a gateway, probed on its status port)."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    config = ctx.config
    root = config.root_namespace
    mesh = mesh_rewriting(
        ctx.index.sidecar_mesh_configs(),
        [c for c in ctx.of_kind("ConfigMap") if is_injector_configmap(c, root)],
        config,
    )
    ambient = _ambient_namespaces(ctx)
    gateways = _gateway_selectors(ctx)
    policies = [
        p
        for p in ctx.of_kind("AuthorizationPolicy")
        if not authz.has_target_ref(p)
        and p.scope not in ambient
        and not _selects_gateway(authz.selector_labels(p), gateways)
    ]
    pods = _pods(ctx, mesh)
    if mesh.rewritten and not any(pod.probes for pod in pods):
        return  # Istio's default: no probe of the repository reaches authorization
    selectors: Selectors = {id(p): authz.selector_labels(p) for p in policies}
    allows = [p for p in policies if authz.action(p) == "ALLOW"]
    allows_by_namespace: dict[str | None, list[Resource]] = defaultdict(list)
    for policy in allows:
        allows_by_namespace[policy.scope].append(policy)
    admitting: dict[str | None, list[Labels]] = defaultdict(list)
    """Per namespace, the selectors of the ALLOW policies that admit a health path."""
    for policy in allows:
        if _admitted(policy, config.health_paths):
            admitting[policy.scope].append(authz.selector_labels(policy))
    for policy in allows:
        selected = _selected(policy, pods, root, selectors)
        if selected:
            blocked = [
                (pod, probe)
                for pod in selected
                for probe in pod.probes
                if not _allowed(probe, pod, allows_by_namespace, root, selectors)
            ]
            if blocked:
                yield _blocking_allow(policy, root, _listing(blocked), _reasons(blocked))
            continue
        if mesh.rewritten:
            continue
        labels = authz.selector_labels(policy)
        candidates = admitting.get(policy.scope, [])
        if policy.namespace != root:
            candidates = candidates + admitting.get(root, [])
        if not any(_covers(theirs, labels) for theirs in candidates):
            listing = ", ".join(config.health_paths)
            yield _blocking_allow(policy, root, listing, mesh.reason)
    for policy in policies:
        if authz.action(policy) == "DENY":
            yield from _blocking_deny(
                policy, _selected(policy, pods, root, selectors), config, mesh
            )


def _pods(ctx: Context, mesh: Rewriting) -> Pods:
    pods = Pods()
    for workload in ctx.index.workloads():
        judged = workload.has_proxy and not workload.is_gateway
        rewriting = pod_rewriting(workload.resource, workload.annotations, mesh)
        probes: tuple[Probe, ...] = ()
        if judged and not rewriting.rewritten:
            probes = tuple(
                http_probes(workload.resource, workload.template, workload.template_path)
            )
        pods.add(Pod(workload.resource, workload.labels, rewriting, probes))
    return pods


class Pods(list[Pod]):
    """The repository's workloads, also by namespace: a policy outside the root namespace only
    ever selects pods of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.by_namespace: dict[str | None, list[Pod]] = defaultdict(list)

    def add(self, pod: Pod) -> None:
        self.append(pod)
        self.by_namespace[pod.resource.scope].append(pod)


def _selected(policy: Resource, pods: Pods, root: str, selectors: Selectors) -> list[Pod]:
    """The repository's workloads the policy applies to (those without sidecars included: they
    show that the repository holds what the policy selects)."""
    candidates = pods if policy.namespace == root else pods.by_namespace.get(policy.scope, [])
    return [
        p
        for p in candidates
        if authz.selects(policy, selectors[id(policy)], p.resource.scope, p.labels, root)
    ]


def _allowed(
    probe: Probe,
    pod: Pod,
    allows: dict[str | None, list[Resource]],
    root: str,
    selectors: Selectors,
) -> bool:
    """Some ALLOW policy for the pod (its namespace's, the root namespace's) has a rule
    admitting this probe's request to the kubelet."""
    namespace = pod.resource.scope
    candidates = allows.get(namespace, []) + (allows.get(root, []) if namespace != root else [])
    return any(
        authz.may_admit_anonymous(rule)
        and authz.admits_request(rule, probe.path, probe.method, probe.port)
        for policy in candidates
        if authz.selects(policy, selectors[id(policy)], namespace, pod.labels, root)
        for _, rule in authz.rules_of(policy)
    )


def _listing(blocked: list[tuple[Pod, Probe]]) -> str:
    described = [probe.describe() for _, probe in blocked]
    shown = "; ".join(described[:MAX_LISTED])
    more = len(described) - MAX_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def _reasons(blocked: list[tuple[Pod, Probe]]) -> str:
    return "; ".join(dict.fromkeys(pod.rewriting.reason for pod, _ in blocked))


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
    found.update(w.resource.scope for w in ctx.index.workloads() if w.in_ambient)
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


def _blocking_allow(policy: Resource, root: str, listing: str, reason: str) -> Problem:
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
        f"{describe(policy)} (ALLOW) {lead} to {authz.describe_selection(policy, root)}, and no "
        f"ALLOW policy for them admits {listing} to callers without identity. The kubelet's "
        f"probes reach authorization because probe rewriting is off ({reason}), so they fail; "
        f"{HOW_TO_FIX}",
        identity=("allow-policy",),
    )


def _blocking_deny(
    policy: Resource, selected: list[Pod], config: Config, mesh: Rewriting
) -> Iterator[Problem]:
    root = config.root_namespace
    for index, rule in authz.rules_of(policy):
        if not authz.surely_matches_anonymous(rule):
            continue
        if selected:
            blocked = [
                (pod, probe)
                for pod in selected
                for probe in pod.probes
                if authz.admits_request(rule, probe.path, probe.method, probe.port, strict=True)
            ]
            if not blocked:
                continue
            listing, reason = _listing(blocked), _reasons(blocked)
        else:
            paths = authz.admitted_paths(rule, config.health_paths, strict=True)
            if mesh.rewritten or not paths:
                continue
            listing, reason = ", ".join(paths), mesh.reason
        yield Problem(
            policy,
            ("spec", "rules", index),
            f"{describe(policy)} (DENY) rule {index + 1} denies {listing} on "
            f"{authz.describe_selection(policy, root)} to callers without identity. The "
            f"kubelet's probes reach authorization because probe rewriting is off ({reason}), "
            f"so they fail; exclude these paths with `notPaths`, or leave probe rewriting on",
        )
