"""A PeerAuthentication accepts plaintext: mTLS mode PERMISSIVE or DISABLE.

PERMISSIVE is a migration tool: it accepts both mTLS and plaintext, so callers without a
sidecar (curl, old Jobs, external tools) keep working unencrypted and unauthenticated and
nothing ever shows an error. DISABLE turns mTLS off. Both are flagged on the policy level
(`spec.mtls.mode`) and per port (`spec.portLevelMtls`). UNSET, or no `mtls` at all, inherits
from the namespace or mesh policy and is not flagged; `portLevelMtls` on a policy without a
`selector` is left to schema-invalid (Istio refuses such a policy, see below).

In ambient mode DISABLE is not supported (PeerAuthentication reference, Istio 1.23 to 1.32):
traffic between ambient workloads is HBONE, always mTLS, so a DISABLE policy in an ambient
namespace (labelled `istio.io/dataplane-mode: ambient`) does not turn mTLS off; it is not
STRICT either, so ztunnel still accepts plaintext from callers outside the mesh. It is flagged
with that explanation: the author believed something else happens.
Istio facts (istio/istio 1.30.3, `pilot/pkg/security/authn/policy_applier.go`; PeerAuthentication
since 1.5, `security.istio.io/v1` since 1.22): PERMISSIVE accepts mTLS and plaintext, DISABLE
only plaintext, and with no policy at all a workload is PERMISSIVE. UNSET inherits, port from
workload, workload from namespace, namespace from the root namespace. A `portLevelMtls` without
a selector is not ignored but refused: the CRD's validation rule ("portLevelMtls requires
selector", since 1.23) and istiod's validation reject the whole policy, so it never applies
(schema-invalid reports it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, describe
from rules.mesh.peer_authentication import (
    describe_scope,
    policy_mode,
    port_modes,
    port_path,
    scope_of,
)

ID = "permissive-mtls"
SEVERITY = "error"
KINDS = ("PeerAuthentication",)
SUMMARY = "A PeerAuthentication accepts plaintext (mTLS mode PERMISSIVE or DISABLE)."
WHY = (
    "PERMISSIVE left in place after a migration becomes permanent: services keep being called "
    "over plaintext by curl, Jobs without sidecars and external tools, and none of it shows up "
    "as an error. You believe you have mTLS; you do not. DISABLE turns it off outright."
)
FIX = (
    "Set `mode: STRICT`. Find the remaining plaintext callers first in the sidecar access logs "
    "(`connection_security_policy: none`), migrate namespace by namespace, then set a mesh-wide "
    "STRICT policy in the root namespace."
)
FAIL = """\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: PERMISSIVE
"""
PASS = """\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: STRICT
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({"Namespace"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). Ambient mode is read
off Namespace objects (without one, a namespace is never taken to be ambient)."""

WEAK_MODES = ("PERMISSIVE", "DISABLE")


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    root = ctx.config.root_namespace
    for policy in ctx.of_kind("PeerAuthentication"):
        where = describe_scope(scope_of(policy), root)
        ambient = policy.namespace is not None and ctx.index.is_ambient(policy.namespace)
        mode = policy_mode(policy)
        if mode in WEAK_MODES:
            yield Problem(
                policy,
                ("spec", "mtls", "mode"),
                f"{describe(policy)} sets mTLS {where} to {mode}: {_consequence(mode, ambient)}",
                fix=("set", "STRICT"),
            )
        for port, port_mode in port_modes(policy).items():
            if port_mode in WEAK_MODES:
                yield Problem(
                    policy,
                    port_path(port),
                    f"{describe(policy)} sets mTLS on port {port} {where} to {port_mode}: "
                    f"{_consequence(port_mode, ambient)}",
                    fix=("set", "STRICT"),
                )


def _consequence(mode: str, ambient: bool) -> str:
    if mode == "DISABLE" and ambient:
        return (
            "ambient mode does not support DISABLE; ztunnel keeps mTLS between ambient "
            "workloads but, without STRICT, accepts plaintext callers from outside the mesh"
        )
    if mode == "DISABLE":
        return "traffic is plaintext, unencrypted and unauthenticated"
    return "plaintext callers are accepted, unencrypted and unauthenticated"
