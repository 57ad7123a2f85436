"""What a PeerAuthentication sets, per scope and per port, as Istio reads it.

permissive-mtls judges one policy and mtls-weakened compares revisions; both must agree on
which workloads a policy covers, which mode it sets, and where a message points.
"""

from __future__ import annotations

from typing import Any

from rules.core.document import KeyPath
from rules.core.model import Resource, is_unknown_scope
from rules.core.placeholders import is_placeholder
from rules.mesh.authz import describe_labels, selector_labels

Scope = tuple[str | None, frozenset[tuple[str, str]] | None]
"""(namespace scope, selector labels or None): the workloads a PeerAuthentication applies to.
The scope is the namespace, or the unknown scope of a policy applied with `kubectl -n`."""


def policy_mode(policy: Resource) -> str | None:
    """`spec.mtls.mode` upper-cased; None when absent or UNSET (the policy inherits)."""
    mtls = policy.spec.get("mtls")
    return _mode(mtls.get("mode") if isinstance(mtls, dict) else None)


def port_modes(policy: Resource) -> dict[str, str | None]:
    """Port (as text) -> mode for `portLevelMtls`; empty without a selector (Istio ignores it)."""
    ports = policy.spec.get("portLevelMtls")
    if not isinstance(ports, dict) or scope_of(policy)[1] is None:
        return {}
    return {
        str(port): _mode(value.get("mode") if isinstance(value, dict) else None)
        for port, value in ports.items()
    }


def port_path(port: str) -> KeyPath:
    return ("spec", "portLevelMtls", port, "mode")


def scope_of(policy: Resource) -> Scope:
    return (policy.scope, selector_labels(policy))


def describe_scope(scope: Scope, root: str) -> str:
    namespace, labels = scope
    if is_unknown_scope(namespace):
        namespace = "the namespace it is applied to"
    if labels is not None:
        return f"for workloads {describe_labels(labels)} in {namespace}"
    if namespace == root:
        return "mesh-wide"
    return f"namespace-wide in {namespace}"


def _mode(value: Any) -> str | None:
    if not isinstance(value, str) or value.upper() in ("", "UNSET") or is_placeholder(value):
        return None
    return value.upper()
