"""A Sidecar that does not scope egress: `*/*` hosts, or no egress at all.

A Sidecar's point is to narrow what istiod sends a proxy. `*/*` (or leaving `egress` out, which
Istio treats as `*/*`) keeps the whole mesh in every proxy it applies to, while the resource's
presence suggests the namespace is already scoped.

Istio facts (istio/istio 1.30.3, `pilot/pkg/model/sidecar.go`; Sidecar since 1.1): a Sidecar
without `egress` gets one egress listener with hosts `*/*`, the whole mesh, as if it were
absent. Sidecar resources configure sidecar proxies only: workloads in ambient namespaces run
none, so their Sidecars are not judged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.document import KeyPath
from rules.core.model import Problem, Resource, describe

ID = "sidecar-egress-unscoped"
SEVERITY = "warning"
KINDS = ("Sidecar",)
SUMMARY = "A Sidecar's egress admits every host of the mesh (`*/*` or no egress)."
WHY = (
    "A Sidecar that lets its proxies see `*/*` gives them configuration for every service in "
    "the mesh, as if there were no Sidecar: proxy memory and istiod push times grow with the "
    "mesh, and the Sidecar hides that the namespace was never scoped."
)
FIX = (
    "List only what the workloads call: `./*` for the own namespace, `istio-system/*` for the "
    "control plane, and each namespace or host they depend on (`database/*`)."
)
FAIL = """\
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: payments
spec:
  egress:
  - hosts:
    - "*/*"
"""
PASS = """\
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
    - "database/*"
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({"Namespace"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). Ambient mode is read off
Namespace objects alone: a namespace without one is never taken to be ambient."""

EVERYTHING = "*/*"


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    index = ctx.index
    for sidecar in ctx.of_kind("Sidecar"):
        if index.is_ambient(sidecar.namespace or ""):
            continue
        egress = sidecar.spec.get("egress")
        if not egress:
            yield _no_egress(sidecar)
        elif isinstance(egress, list):
            yield from _everything_hosts(sidecar, egress)


def _no_egress(sidecar: Resource) -> Problem:
    """Pointed at `egress`, else `spec`, else the name: the deepest key the reviewer can see."""
    path: KeyPath = ("spec", "egress") if "egress" in sidecar.spec else ("spec",)
    if "spec" not in sidecar.body:
        path = ("metadata", "name")
    return Problem(
        sidecar,
        path,
        f"{describe(sidecar)} has no egress: Istio then gives its proxies every host of the mesh "
        f"({EVERYTHING})",
        identity=("spec", "egress"),
    )


def _everything_hosts(sidecar: Resource, egress: list[Any]) -> Iterator[Problem]:
    for listener_index, listener in enumerate(egress):
        hosts = listener.get("hosts") if isinstance(listener, dict) else None
        for host_index, host in enumerate(hosts if isinstance(hosts, list) else ()):
            if isinstance(host, str) and host.strip() == EVERYTHING:
                yield Problem(
                    sidecar,
                    ("spec", "egress", listener_index, "hosts", host_index),
                    f"{describe(sidecar)} egress host '{EVERYTHING}' admits every host of every "
                    "namespace: its proxies receive configuration for the whole mesh",
                    identity=("spec", "egress", _listener_identity(listener), "hosts", EVERYTHING),
                )


def _listener_identity(listener: dict[str, Any]) -> str:
    """Egress listeners are unique per port: name them by it, so editing hosts keeps identity."""
    port = listener.get("port")
    number = port.get("number") if isinstance(port, dict) else None
    return f"[port={number}]" if number is not None else "[port=any]"
