"""A change weakens mTLS: traffic that had to be mutual TLS at the base no longer has to be.

Compared with the base revision (without one, this rule says nothing). PeerAuthentication
modes are judged by what they mean for each scope - (namespace, selector labels), and a port of
a selector policy - following Istio's inheritance: port, then the workload policy, then the
namespace-wide policy, then the mesh-wide policy in the root namespace, then PERMISSIVE. A scope
that was effectively STRICT at base and is not at head is a weakening, reported on the change
that caused it:

- a policy (or a port) that now says PERMISSIVE or DISABLE, including a new policy under a
  STRICT namespace or mesh;
- a STRICT mode removed (UNSET, `mtls` dropped, the port dropped) when what it now inherits is
  not STRICT;
- a STRICT policy deleted (the finding points at its base file and line) when its scope is not
  STRICT at head. Renaming or moving a STRICT policy is not a weakening while its scope stays
  STRICT.

Already PERMISSIVE or DISABLE at base is nothing new. A DestinationRule that newly sets
`tls.mode: DISABLE` (top level, per port, per subset) makes its clients send plaintext; it is
compared with the base DestinationRule of the same name, or for the same host.

Istio facts (istio/istio 1.30.3, `pilot/pkg/security/authn/policy_applier.go`): the effective
mode is composed mesh, then namespace, then workload, then port, each UNSET level inheriting
its parent's, from a PERMISSIVE default; of several policies for one scope the oldest wins.
Clients send mTLS on their own to servers with a sidecar (`enableAutoMtls`, default true since
1.5) unless a DestinationRule's `tls.mode: DISABLE` turns it off for that host: plaintext where
the server accepts it, failing requests where it is STRICT.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.document import KeyPath
from rules.core.model import Problem, Resource, describe, is_unknown_scope
from rules.mesh.peer_authentication import (
    Scope,
    describe_scope,
    policy_mode,
    port_modes,
    port_path,
    scope_of,
)

ID = "mtls-weakened"
SEVERITY = "error"
KINDS = ("PeerAuthentication", "DestinationRule")
SUMMARY = "A change makes traffic that required mutual TLS accept or send plaintext."
WHY = (
    "STRICT mTLS is how a mesh knows who calls whom. A downgrade to PERMISSIVE or DISABLE, a "
    "deleted STRICT policy or a DestinationRule that disables TLS silently lets plaintext back "
    "in: nothing fails, so nobody notices that the mesh no longer authenticates its callers."
)
FIX = (
    "Keep the scope STRICT. If a plaintext caller really must be let in, narrow the exception "
    "to its workload and port, and waive the finding with a reason and a deadline."
)
FAIL = """\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: bookinfo
spec:
  mtls:
    mode: STRICT
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: details-migration
  namespace: bookinfo
spec:
  selector:
    matchLabels:
      app: details
  mtls:
    mode: PERMISSIVE
"""
PASS = """\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: bookinfo-strict
  namespace: bookinfo
spec:
  mtls:
    mode: STRICT
"""
BASE = """\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: bookinfo
spec:
  mtls:
    mode: STRICT
"""
"""The base revision FAIL and PASS are compared with: this rule judges changes, not files."""
OPTIONS: dict[str, Any] = {}
COMPARES = frozenset({"PeerAuthentication", "DestinationRule"})
"""What findings compare between base and head (`rules.core.reuse`). A weakening is a
PeerAuthentication or DestinationRule whose mode at head is weaker than at base: with the same
ones at both, there is none."""

STRICT = "STRICT"
Slot = tuple[Scope, str | None]
"""A scope and a port (None: the policy level)."""


class _Revision:
    """PeerAuthentications of one revision, with Istio's mode inheritance."""

    def __init__(self, ctx: Context) -> None:
        self.root = ctx.config.root_namespace
        self.by_scope: dict[Scope, list[Resource]] = defaultdict(list)
        self.by_name: dict[tuple[str | None, str], Resource] = {}
        for policy in ctx.of_kind("PeerAuthentication"):
            self.by_scope[scope_of(policy)].append(policy)
            self.by_name.setdefault((policy.namespace, policy.name), policy)

    def own(self, slot: Slot) -> str | None:
        """The mode set at exactly this slot. Several policies on one scope: STRICT wins."""
        modes = [m for m in (_slot_mode(p, slot[1]) for p in self.by_scope.get(slot[0], ())) if m]
        return STRICT if STRICT in modes else (modes[0] if modes else None)

    def effective(self, slot: Slot) -> tuple[str, Slot | None]:
        """The mode in force at this slot and the slot that sets it (None: Istio's default)."""
        (namespace, labels), port = slot
        chain: list[Slot] = [slot]
        if port is not None:
            chain.append(((namespace, labels), None))
        if labels is not None:
            chain.append(((namespace, None), None))
        chain.append(((self.root, None), None))
        for link in chain:
            mode = self.own(link)
            if mode:
                return mode, link
        return "PERMISSIVE", None


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    if ctx.base is None:
        return
    yield from _peer_authentications(ctx)
    yield from _destination_rules(ctx)


def _peer_authentications(ctx: Context) -> Iterator[Problem]:
    assert ctx.base is not None
    base, head = _Revision(ctx.base), _Revision(ctx)
    slots: dict[Slot, None] = {}
    for revision in (base, head):
        for scope, policies in revision.by_scope.items():
            slots[(scope, None)] = None
            for policy in policies:
                slots.update(((scope, port), None) for port in port_modes(policy))
    weakened_policies: set[tuple[str | None, str]] = set()
    """Policies reported for their policy-level mode: their ports' removal is the same change."""
    for slot in sorted(slots, key=lambda s: s[1] is not None):
        base_mode, base_source = base.effective(slot)
        head_mode, head_source = head.effective(slot)
        if base_mode != STRICT or head_mode == STRICT:
            continue
        if head.own(slot):
            for policy in head.by_scope[slot[0]]:
                mode = _slot_mode(policy, slot[1])
                if mode:
                    if slot[1] is None:
                        weakened_policies.add((policy.namespace, policy.name))
                    yield _now_weak(policy, slot, mode, base, base_source)
        elif base.own(slot) == STRICT:
            for old in base.by_scope[slot[0]]:
                if _slot_mode(old, slot[1]) != STRICT:
                    continue
                key = (old.namespace, old.name)
                if slot[1] is None:
                    weakened_policies.add(key)
                elif key in weakened_policies:
                    continue
                now = head.by_name.get(key)
                yield _strict_removed(old, now, slot, head_mode, head_source, head)


def _now_weak(
    policy: Resource, slot: Slot, mode: str, base: _Revision, source: Slot | None
) -> Problem:
    where = _where(slot, base.root)
    old = base.by_name.get((policy.namespace, policy.name))
    name = describe(policy)
    if old is not None and scope_of(old) == slot[0] and _slot_mode(old, slot[1]) == STRICT:
        what = f"{name} weakens mTLS {where} from STRICT to {mode}"
    else:
        by = _by(source, slot, base.root)
        what = f"{'New ' if old is None else ''}{name} sets mTLS {where} to {mode}, where the base "
        what += f"was STRICT{by}"
    return Problem(
        policy,
        _mode_path(slot[1]),
        f"{what}: plaintext callers are accepted again"
        + (" and mTLS is off" if mode == "DISABLE" else ""),
        fix=("set", STRICT),
    )


def _strict_removed(
    old: Resource, now: Resource | None, slot: Slot, mode: str, source: Slot | None, head: _Revision
) -> Problem:
    where = _where(slot, head.root)
    inherits = (
        f"{mode} from {_describe_source(source, head.root)}"
        if source
        else (f"{mode}, Istio's default")
    )
    name = describe(old)
    if now is None:
        return Problem(
            old,
            _mode_path(slot[1]),
            f"{name} (STRICT {where}) is deleted and nothing keeps that scope "
            f"STRICT: it falls back to {inherits}",
        )
    if scope_of(now) != slot[0]:
        return Problem(
            now,
            ("spec", "selector"),
            f"{name} no longer applies {where}, which it kept STRICT: "
            f"those workloads now inherit {inherits}",
        )
    return Problem(
        now,
        _mode_path(slot[1]),
        f"{name} no longer sets mTLS {where} to STRICT: it now inherits {inherits}",
        fix=("set", STRICT),
    )


def _slot_mode(policy: Resource, port: str | None) -> str | None:
    return policy_mode(policy) if port is None else port_modes(policy).get(port)


def _mode_path(port: str | None) -> KeyPath:
    return ("spec", "mtls", "mode") if port is None else port_path(port)


def _where(slot: Slot, root: str) -> str:
    scope, port = slot
    where = describe_scope(scope, root)
    return where if port is None else f"on port {port} {where}"


def _by(source: Slot | None, slot: Slot, root: str) -> str:
    if source is None or source == slot:
        return ""
    return f" (set by {_describe_source(source, root)})"


def _describe_source(source: Slot | None, root: str) -> str:
    if source is None:
        return "Istio's default"
    (namespace, labels), port = source
    if labels is not None:
        workloads = describe_scope((namespace, labels), root)
        return f"port {port} of the policy {workloads}" if port else f"the policy {workloads}"
    if namespace == root:
        return "the mesh-wide policy"
    if is_unknown_scope(namespace):
        return "the namespace-wide policy of the namespace it is applied to"
    return f"the namespace-wide policy in {namespace}"


# --- DestinationRules -------------------------------------------------------------------------


def _destination_rules(ctx: Context) -> Iterator[Problem]:
    assert ctx.base is not None
    disabled_at_base: dict[Any, set[tuple[str | None, str | None]]] = defaultdict(set)
    for rule in ctx.base.of_kind("DestinationRule"):
        slots = {slot for slot, _ in _disabled_slots(rule)}
        disabled_at_base[("name", rule.namespace, rule.name)] |= slots
        disabled_at_base[("host", rule.namespace, str(rule.spec.get("host")))] |= slots
    for rule in ctx.of_kind("DestinationRule"):
        before = disabled_at_base.get(("name", rule.namespace, rule.name), set()) | (
            disabled_at_base.get(("host", rule.namespace, str(rule.spec.get("host"))), set())
        )
        for slot, path in _disabled_slots(rule):
            if slot in before:
                continue
            subset, port = slot
            what = (f" subset {subset}" if subset else "") + (f" port {port}" if port else "")
            yield Problem(
                rule,
                path,
                f"{describe(rule)} newly sets tls.mode DISABLE for "
                f"{rule.spec.get('host')}{what}: its clients send plaintext, which STRICT servers "
                "reject and PERMISSIVE ones accept unencrypted",
            )


def _disabled_slots(rule: Resource) -> Iterator[tuple[tuple[str | None, str | None], KeyPath]]:
    """((subset, port), key path of the mode) for each traffic policy that disables TLS."""
    policies: list[tuple[str | None, KeyPath, Any]] = [
        (None, ("spec", "trafficPolicy"), rule.spec.get("trafficPolicy"))
    ]
    subsets = rule.spec.get("subsets")
    for index, subset in enumerate(subsets if isinstance(subsets, list) else []):
        if isinstance(subset, dict):
            name = str(subset.get("name", index))
            path = ("spec", "subsets", index, "trafficPolicy")
            policies.append((name, path, subset.get("trafficPolicy")))
    for subset_name, base_path, policy in policies:
        if not isinstance(policy, dict):
            continue
        if _disables(policy):
            yield (subset_name, None), (*base_path, "tls", "mode")
        ports = policy.get("portLevelSettings")
        for index, setting in enumerate(ports if isinstance(ports, list) else []):
            if isinstance(setting, dict) and _disables(setting):
                port = setting.get("port")
                number = str(port.get("number")) if isinstance(port, dict) else str(index)
                yield (subset_name, number), (*base_path, "portLevelSettings", index, "tls", "mode")


def _disables(settings: dict[str, Any]) -> bool:
    tls = settings.get("tls")
    return isinstance(tls, dict) and str(tls.get("mode", "")).upper() == "DISABLE"
