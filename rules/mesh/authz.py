"""What an AuthorizationPolicy means for one kind of caller: the kubelet probing a health path.

The kubelet is not in the mesh: it speaks plaintext, so it has no peer identity (no principal,
no namespace) and no request identity (no JWT). The two authorization rules ask the same
questions of a policy - who it applies to, whether a rule lets such a caller in, which paths it
lets in - so the answers live here once.

Matching follows Istio: a string matches exactly, as a prefix (`/health*`), as a suffix
(`*z`), or as presence (`*`); paths also accept `{*}` (one segment) and `{**}` (the rest).
Where a policy depends on something a manifest cannot tell (the kubelet's IP address, the
port it probes), ALLOW rules are read generously and DENY rules strictly, so both rules only
report what is certain to break or open something.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, NamedTuple

from rules.core.document import KeyPath
from rules.core.model import Resource

PEER_IDENTITY = ("principals", "namespaces", "requestPrincipals")
NEGATED_IDENTITY = ("notPrincipals", "notNamespaces", "notRequestPrincipals")
IP_FIELDS = ("ipBlocks", "remoteIpBlocks", "notIpBlocks", "notRemoteIpBlocks")
IDENTITY_CONDITIONS = ("source.principal", "source.namespace", "request.auth.", "connection.sni")
CALLER_IPS = ("source.ip", "remote.ip")


def action(policy: Resource) -> str:
    """The policy's action; Istio's default is ALLOW."""
    value = policy.spec.get("action")
    return value.upper() if isinstance(value, str) else "ALLOW"


def has_target_ref(policy: Resource) -> bool:
    """Whether the policy attaches to a gateway or waypoint (`targetRef`/`targetRefs`)."""
    return bool(policy.spec.get("targetRef") or policy.spec.get("targetRefs"))


class TargetRef(NamedTuple):
    """One `targetRefs` entry (or the older single `targetRef`), with its key path."""

    path: KeyPath
    group: str
    kind: str
    name: str
    namespace: str | None


def target_refs(policy: Resource) -> list[TargetRef]:
    """What a policy attaches to: a Gateway (an ingress gateway or a waypoint), a GatewayClass
    (every waypoint of that class, from the root namespace), a Service or a ServiceEntry (at
    the waypoint that serves it). Istio 1.32 reads `targetRef` only when `targetRefs` is empty."""
    spec = policy.spec
    found: list[TargetRef] = []
    refs = spec.get("targetRefs")
    entries: list[tuple[KeyPath, Any]]
    if isinstance(refs, list) and refs:
        entries = [(("spec", "targetRefs", i), ref) for i, ref in enumerate(refs)]
    else:
        entries = [(("spec", "targetRef"), spec.get("targetRef"))]
    for path, ref in entries:
        if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
            continue
        namespace = ref.get("namespace")
        found.append(
            TargetRef(
                path,
                str(ref.get("group") or ""),
                str(ref.get("kind") or ""),
                ref["name"],
                namespace if isinstance(namespace, str) and namespace else None,
            )
        )
    return found


def selector_labels(policy: Resource) -> frozenset[tuple[str, str]] | None:
    """The `selector.matchLabels` of a security.istio.io policy (AuthorizationPolicy,
    PeerAuthentication); None when it applies namespace-wide (no or empty selector)."""
    selector = policy.spec.get("selector")
    labels = selector.get("matchLabels") if isinstance(selector, dict) else None
    if not isinstance(labels, dict) or not labels:
        return None
    return frozenset((str(k), str(v)) for k, v in labels.items())


def applies_to(policy: Resource, namespace: str | None, labels: dict[str, Any], root: str) -> bool:
    """Whether the policy applies to a workload of `namespace` (scope) with pod `labels`: its own
    namespace or the root namespace (mesh-wide), and a selector those labels satisfy."""
    return selects(policy, selector_labels(policy), namespace, labels, root)


def selects(
    policy: Resource,
    selector: frozenset[tuple[str, str]] | None,
    namespace: str | None,
    labels: dict[str, Any],
    root: str,
) -> bool:
    """`applies_to` with the policy's `selector_labels` already read (rules that judge many
    pods read each policy's selector once)."""
    if policy.scope != namespace and policy.namespace != root:
        return False
    return selector is None or all(k in labels and str(labels[k]) == v for k, v in selector)


def describe_labels(labels: Iterable[tuple[str, str]]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels))


def describe_selection(policy: Resource, root: str) -> str:
    """The workloads a policy applies to, in words: a selector in the root namespace selects
    in every namespace, no selector there means the whole mesh."""
    labels = selector_labels(policy)
    if labels is None:
        if policy.namespace == root:
            return "every workload of the mesh"
        if policy.namespace is None:
            return "every workload of the namespace it is applied to"
        return f"every workload of namespace {policy.namespace}"
    where = "any namespace" if policy.namespace == root else policy.namespace
    if policy.namespace is None:
        where = "the namespace it is applied to"
    return f"workloads {describe_labels(labels)} in {where}"


def rules_of(policy: Resource) -> list[tuple[int, dict[str, Any]]]:
    """(index, rule) for each well-formed rule of the policy."""
    rules = policy.spec.get("rules")
    if not isinstance(rules, list):
        return []
    return [(i, rule) for i, rule in enumerate(rules) if isinstance(rule, dict)]


def _items(rule: dict[str, Any], key: str, inner: str) -> list[dict[str, Any]] | None:
    """The `source`s of `from` or the `operation`s of `to`; None when the field is absent/empty."""
    entries = rule.get(key)
    if not isinstance(entries, list) or not entries:
        return None
    return [
        e[inner] if isinstance(e.get(inner), dict) else {} for e in entries if isinstance(e, dict)
    ]


def sources(rule: dict[str, Any]) -> list[dict[str, Any]] | None:
    return _items(rule, "from", "source")


def operations(rule: dict[str, Any]) -> list[dict[str, Any]] | None:
    return _items(rule, "to", "operation")


def values(field: dict[str, Any], key: str) -> list[str]:
    value = field.get(key)
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


# --- Callers ---------------------------------------------------------------------------------


def any_caller(rule: dict[str, Any]) -> bool:
    """The rule lets every caller in, plaintext ones included: no source constraint at all."""
    found = sources(rule)
    if found is not None and all(_constrained(source) for source in found):
        return False
    return not _conditions_restrict_callers(rule, CALLER_IPS)


def may_admit_anonymous(rule: dict[str, Any]) -> bool:
    """Read generously (ALLOW): the rule may let a caller without identity in.

    A source requiring a principal, namespace or request principal needs an identity the
    kubelet does not have; IP blocks and negated identities may still let it in.
    """
    found = sources(rule)
    if found is not None and all(
        any(values(source, key) for key in PEER_IDENTITY) for source in found
    ):
        return False
    return not _conditions_restrict_callers(rule)


def surely_matches_anonymous(rule: dict[str, Any]) -> bool:
    """Read strictly (DENY): the rule certainly matches a caller without identity.

    True with no `from`, or a source that is empty or constrained only by negated identities
    (`notPrincipals` and friends match a caller that has none). Conditions make it uncertain.
    """
    if rule.get("when"):
        return False
    found = sources(rule)
    if found is None:
        return True
    return any(
        not any(values(source, key) for key in PEER_IDENTITY + IP_FIELDS) for source in found
    )


def _constrained(source: dict[str, Any]) -> bool:
    return any(values(source, key) for key in PEER_IDENTITY + NEGATED_IDENTITY + IP_FIELDS)


def _conditions_restrict_callers(rule: dict[str, Any], also: tuple[str, ...] = ()) -> bool:
    """A `when` condition requiring a caller identity (or one of `also`) with positive values."""
    conditions = rule.get("when")
    if not isinstance(conditions, list):
        return False
    for condition in conditions:
        if not isinstance(condition, dict) or not values(condition, "values"):
            continue
        key = str(condition.get("key", ""))
        if key.startswith(IDENTITY_CONDITIONS + also):
            return True
    return False


# --- Paths -----------------------------------------------------------------------------------


def string_matches(pattern: str, value: str) -> bool:
    """Istio string matching: exact, `prefix*`, `*suffix`, or `*` (presence)."""
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return pattern == value


def path_matches(pattern: str, path: str) -> bool:
    """Istio path matching: string matching plus the `{*}` and `{**}` path templates."""
    if "{*" in pattern:
        return _template(pattern).fullmatch(path) is not None
    return string_matches(pattern, path)


@lru_cache(maxsize=256)
def _template(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\{\*\*\}|\{\*\})", pattern)
    regex = "".join(
        "[^/]+" if part == "{*}" else ".*" if part == "{**}" else re.escape(part) for part in parts
    )
    return re.compile(regex)


def _operation_admits(
    operation: dict[str, Any], path: str, strict: bool, method: str = "GET", port: int | None = None
) -> bool:
    """Whether a request (`method` of `path`, to container `port` when known) matches the
    operation. `strict`: fields we cannot judge fail; otherwise they pass."""
    if strict and any(values(operation, key) for key in ("hosts", "notHosts")):
        return False
    ports, not_ports = values(operation, "ports"), values(operation, "notPorts")
    if port is None:
        if strict and (ports or not_ports):
            return False
    elif (ports and str(port) not in ports) or str(port) in not_ports:
        return False
    paths, not_paths = values(operation, "paths"), values(operation, "notPaths")
    if paths and not any(path_matches(p, path) for p in paths):
        return False
    if any(path_matches(p, path) for p in not_paths):
        return False
    methods, not_methods = values(operation, "methods"), values(operation, "notMethods")
    if methods and not any(string_matches(m, method) for m in methods):
        return False
    return not any(string_matches(m, method) for m in not_methods)


def admitted_paths(
    rule: dict[str, Any], health_paths: Iterable[str], strict: bool = False
) -> list[str]:
    """The health paths a GET request can reach through this rule's `to` (all when absent)."""
    found = operations(rule)
    return [
        path
        for path in health_paths
        if found is None or any(_operation_admits(op, path, strict) for op in found)
    ]


def admits_request(
    rule: dict[str, Any], path: str, method: str, port: int | None, strict: bool = False
) -> bool:
    """Whether the rule's `to` matches one request (absent `to` matches every request)."""
    found = operations(rule)
    return found is None or any(_operation_admits(op, path, strict, method, port) for op in found)


def only_health_paths(rule: dict[str, Any], health_paths: Iterable[str]) -> bool:
    """The rule's `to` lists only health paths, exactly: the documented probe allowance."""
    found = operations(rule)
    wanted = set(health_paths)
    return found is not None and all(
        values(op, "paths") and set(values(op, "paths")) <= wanted for op in found
    )


# --- Ambient: what ztunnel cannot enforce ----------------------------------------------------

ZTUNNEL_UNSUPPORTED_OPERATION = ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths")
ZTUNNEL_UNSUPPORTED_SOURCE = (
    "requestPrincipals",
    "notRequestPrincipals",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
)
ZTUNNEL_CONDITIONS = frozenset(
    {"source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port"}
)
"""The `when` keys ztunnel evaluates; every other key needs HTTP."""


def ztunnel_unsupported(rule: dict[str, Any]) -> list[str]:
    """The attributes of a rule that ztunnel cannot enforce, named as Istio 1.32 names them in
    the policy's status (`serviceregistry/ambient/authorization.go`, `handleRule`)."""
    found: list[str] = []
    for operation in operations(rule) or []:
        found.extend(key for key in ZTUNNEL_UNSUPPORTED_OPERATION if values(operation, key))
    for source in sources(rule) or []:
        found.extend(key for key in ZTUNNEL_UNSUPPORTED_SOURCE if values(source, key))
    conditions = rule.get("when")
    for condition in conditions if isinstance(conditions, list) else []:
        key = condition.get("key") if isinstance(condition, dict) else None
        if isinstance(key, str) and key and key not in ZTUNNEL_CONDITIONS:
            found.append(key)
    return list(dict.fromkeys(found))
