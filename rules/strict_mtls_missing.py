"""The repository installs the control plane, and nothing makes mTLS STRICT mesh-wide.

Istio fact (since 1.5, when PeerAuthentication replaced the mesh policy; the same in 1.30): with
no PeerAuthentication, or one whose mode is UNSET, a workload's sidecar accepts both mTLS and
plaintext (PERMISSIVE), so any caller without a sidecar reaches every service unencrypted and
unauthenticated. Only a PeerAuthentication in the root namespace (`meshConfig.rootNamespace`,
default istio-system) without a selector sets the mode for the whole mesh; one in another
namespace covers only that namespace, so it does not count here.

An install is a mesh config source that installs istiod: an IstioOperator with pilot enabled, an
istiod Helm values file, and the GitOps installs the mesh index lists (Argo CD Application or
Flux HelmRelease of the istiod chart, Sail Operator `Istio`). The finding sits on the install and
names the root namespace where the policy goes. A repository that keeps its PeerAuthentications
elsewhere waives it, or turns the rule off.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem
from rules.mesh.authz import selector_labels
from rules.mesh.mesh_config import MESH_CONFIG_KINDS, file_scope
from rules.mesh.peer_authentication import policy_mode

INSTALL_KINDS = tuple(kind for kind in MESH_CONFIG_KINDS if kind != "ConfigMap")
"""The kinds of mesh config sources that install istiod (`MeshConfigSource.installs_control_plane`):
what a finding is about."""

ID = "strict-mtls-missing"
SEVERITY = "warning"
KINDS = (*INSTALL_KINDS, "PeerAuthentication")
SUMMARY = "The control plane is installed, but no mesh-wide PeerAuthentication sets STRICT mTLS."
WHY = (
    "Istio's default is PERMISSIVE: without a mesh-wide STRICT PeerAuthentication every "
    "sidecar also accepts plaintext, so a pod outside the mesh (or anything that reaches a pod "
    "IP) calls your services unencrypted and unauthenticated, and nothing shows an error. "
    "AuthorizationPolicies that rely on principals or namespaces cannot tell such callers apart."
)
FIX = (
    "Add a PeerAuthentication named `default` without `selector` in the root namespace "
    "(istio-system unless `meshConfig.rootNamespace` says otherwise) with `mtls.mode: STRICT`. "
    "Migrate first where plaintext callers remain (a namespace-wide PERMISSIVE policy for them, "
    "while you move them into the mesh)."
)
FAIL = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: control-plane
  namespace: istio-system
spec:
  profile: default
  revision: 1-24
"""
PASS = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: control-plane
  namespace: istio-system
spec:
  profile: default
  revision: 1-24
---
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
READS = frozenset({"PeerAuthentication", *INSTALL_KINDS})
"""What problems depend on beyond their own resource (`rules.core.reuse`). STRICT in the root
namespace is read off PeerAuthentications; which install of a configuration and folder is named off
the kinds that install istiod (a ConfigMap configures it and installs nothing)."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    installs = ctx.index.control_plane_installs()
    if not installs:
        return
    strict = {
        policy.namespace
        for policy in ctx.of_kind("PeerAuthentication")
        if policy.group == "security.istio.io"
        and selector_labels(policy) is None
        and policy_mode(policy) == "STRICT"
    }
    for source in installs:
        root = source.root_namespace(ctx.config.root_namespace)
        if root in strict:
            continue
        yield Problem(
            source.resource,
            source.mesh_path,
            f"{source.label} installs the control plane, but no PeerAuthentication without "
            f"selector in the root namespace {root} sets mtls.mode STRICT: the mesh runs "
            "Istio's default PERMISSIVE mode and accepts plaintext from any caller; add one "
            f"in {root}",
            identity=("strict-mtls", root, *file_scope(source.resource)),
        )
