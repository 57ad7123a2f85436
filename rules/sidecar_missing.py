"""A namespace in the mesh has no Sidecar resource, so its proxies get the whole mesh's config.

Without a namespace-wide Sidecar (or a mesh-wide default in the root namespace) istiod sends
every proxy the configuration of every service in the mesh: proxy memory and push times grow
with the size of the mesh instead of with what the namespace calls.

Istio facts (istio/istio 1.30.3, `pilot/pkg/model/sidecar.go` and `push_context.go`; Sidecar
since 1.1): a proxy's scope is the Sidecar without `workloadSelector` of its namespace, else the
root namespace's Sidecar without `workloadSelector`, else every service exported to it. A pod
gets a sidecar where its namespace is labelled `istio-injection: enabled`, or `istio.io/rev`
without `istio-injection` (`mutatingwebhook.yaml`). A Namespace the repository declares in the
mesh is judged even when its workloads are deployed from elsewhere: its Sidecar belongs with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.loader import WORKLOAD_KINDS
from rules.core.model import Problem, Resource, is_unknown_scope
from rules.core.reuse import ISTIO_SCOPES

ID = "sidecar-missing"
SEVERITY = "warning"
KINDS = ("Namespace", "Sidecar", "Service", *sorted(WORKLOAD_KINDS))
SUMMARY = "A namespace in the mesh has no namespace-wide Sidecar and there is no mesh default."
WHY = (
    "Without a Sidecar resource every Envoy proxy receives configuration for every service in "
    "the mesh, including the ones it never calls: proxies use 200-500Mi instead of 50-100Mi, "
    "istiod pushes slow down and proxies go STALE under load."
)
FIX = (
    "Add a Sidecar without `workloadSelector` to the namespace whose `egress.hosts` list only "
    "what the namespace calls (`./*`, `istio-system/*`, the namespaces it depends on), or a "
    "default Sidecar in the root namespace that scopes every namespace. The check is based on "
    "what the repository contains; if the Sidecar is managed elsewhere, waive the finding."
)
FAIL = """\
apiVersion: v1
kind: Namespace
metadata:
  name: payments
  labels:
    istio.io/rev: stable
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ledger
  namespace: payments
spec:
  selector:
    matchLabels: {app: ledger}
  template:
    metadata:
      labels: {app: ledger}
    spec:
      containers:
      - name: ledger
        image: example/ledger:1.4.2
"""
PASS = """\
apiVersion: v1
kind: Namespace
metadata:
  name: payments
  labels:
    istio.io/rev: stable
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: payments
spec:
  egress:
  - hosts:
    - "./*"
    - "istio-system/*"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ledger
  namespace: payments
spec:
  selector:
    matchLabels: {app: ledger}
  template:
    metadata:
      labels: {app: ledger}
    spec:
      containers:
      - name: ledger
        image: example/ledger:1.4.2
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({"Namespace", "Sidecar", "Service", *WORKLOAD_KINDS, ISTIO_SCOPES})
"""What problems depend on beyond their own resource (`rules.core.reuse`). A namespace's Sidecars
and the mesh default are read off Sidecars, what it holds off workloads and Services, whether it
is in the mesh off Namespace objects; without one, a namespace holding Istio configuration is."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    index = ctx.index
    if index.root_default_sidecars():
        return
    root = ctx.config.root_namespace
    judged = set()
    scopes = index.application_namespaces()
    # Scopes of unknown namespace may all be one namespace: a namespace-wide Sidecar in any of
    # them may be the one that scopes the others.
    unknown_sidecar = any(is_unknown_scope(s) and index.namespace_sidecars(s) for s in scopes)
    for namespace in scopes:
        judged.add(namespace)
        if index.namespace_sidecars(namespace):
            continue
        if is_unknown_scope(namespace) and unknown_sidecar:
            continue
        membership = index.mesh_membership(namespace)
        if membership is None:
            continue
        workloads = index.workloads_in(namespace)
        with_sidecars = [w for w in workloads if w.has_proxy and not w.is_gateway]
        if workloads and not with_sidecars:
            continue  # the repository shows this namespace's pods, and none runs a sidecar
        services = index.application_services_in(namespace)
        if not with_sidecars and not services:
            continue
        anchor = membership.namespace_object or (
            with_sidecars[0].resource if with_sidecars else services[0]
        )
        holds = _holdings(len(with_sidecars), len(services))
        yield _problem(
            anchor, namespace, membership.reason, root, f" and this repository holds {holds} in it"
        )
    for namespace_object in ctx.of_kind("Namespace"):
        namespace = namespace_object.name
        if namespace in judged or namespace == root or index.namespace_sidecars(namespace):
            continue
        judged.add(namespace)
        membership = index.mesh_membership(namespace)
        if membership is None or membership.namespace_object is None:
            continue
        yield _problem(
            membership.namespace_object,
            namespace,
            membership.reason,
            root,
            " and holds no workloads in this repository (they are deployed from elsewhere; its "
            "Sidecar belongs here, beside the Namespace)",
        )


def _problem(anchor: Resource, namespace: str, reason: str, root: str, holdings: str) -> Problem:
    """The finding; a namespace the repository does not determine (resources applied with
    `kubectl -n`) is named by what it holds, never by a guess."""
    unknown = is_unknown_scope(namespace)
    named = "The namespace these resources are applied to" if unknown else f"Namespace {namespace}"
    return Problem(
        anchor,
        ("metadata", "name"),
        f"{named} is in the mesh ({reason}){holdings}, but no Sidecar without workloadSelector "
        f"in {'it' if unknown else namespace} and no default Sidecar in {root}: its proxies "
        "receive configuration for every service in the mesh",
        identity=("namespace", "" if unknown else namespace),
    )


def _holdings(workloads: int, services: int) -> str:
    parts = []
    if workloads:
        parts.append(f"{workloads} workload{'s' if workloads != 1 else ''}")
    if services:
        parts.append(f"{services} Service{'s' if services != 1 else ''}")
    return " and ".join(parts)
