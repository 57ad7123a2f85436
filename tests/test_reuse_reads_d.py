"""What the Gateway API reference rules declare they read (`READS`, `rules.core.reuse`).

For each rule and each fact it reads: a change to resources of that kind alone that changes the
rule's finding about a route (or Gateway) left as it was, so the head's analysis with reuse
must find what a full analysis finds, and would not with that kind left out of `READS`; and a
change that leaves the facts alone, for which the rule is served from the base.
"""

from __future__ import annotations

import textwrap
from types import ModuleType

import pytest

from rules import (
    backend_not_found,
    reference_not_permitted,
    route_hostname_mismatch,
    route_not_attached,
    route_parent_not_found,
)
from rules.core.engine import context_of, run_rules
from rules.core.loader import SourceFile
from tests.helpers import config, files
from tests.test_reuse import _compare

GATEWAY = """\
    apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {{name: {name}, namespace: {namespace}}}
    spec:
      gatewayClassName: istio
      listeners:
      - {listener}
    """
HTTP = "{name: http, port: 80, protocol: HTTP}"
ALL = "{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}"
SELECTOR = (
    "{name: http, port: 80, protocol: HTTP, hostname: shop.example.com, allowedRoutes: "
    "{namespaces: {from: Selector, selector: {matchLabels: {ingress: public}}}}}"
)


def gateway(listener: str = ALL, name: str = "public", namespace: str = "ingress") -> str:
    return GATEWAY.format(name=name, namespace=namespace, listener=listener)


def route(
    name: str = "shop",
    parent: str = "{name: public, namespace: ingress}",
    hostnames: str = "[]",
    backend: str = "{name: frontend, port: 8080}",
) -> str:
    return f"""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {{name: {name}, namespace: shop}}
        spec:
          parentRefs:
          - {parent}
          hostnames: {hostnames}
          rules:
          - backendRefs:
            - {backend}
        """


def service(name: str, namespace: str = "shop") -> str:
    return f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {namespace}}}\n"


def namespace(labels: str) -> str:
    return f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop, labels: {labels}}}\n"


def service_entry(name: str) -> str:
    return f"""\
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {{name: {name}, namespace: shop}}
        spec:
          hosts: [{name}.example.com]
          resolution: DNS
          ports: [{{number: 443, name: https, protocol: TLS}}]
        """


def grant(to: str = "Service") -> str:
    return f"""\
        apiVersion: gateway.networking.k8s.io/v1beta1
        kind: ReferenceGrant
        metadata: {{name: shop, namespace: payments}}
        spec:
          from:
          - {{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}}
          - {{group: gateway.networking.k8s.io, kind: Gateway, namespace: ingress}}
          to:
          - {{group: "", kind: {to}}}
          - {{group: "", kind: Secret}}
        """


CERTIFIED = (
    "{name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: "
    "[{name: cert, namespace: payments}]}}"
)
UNRELATED = """\
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: other, namespace: other}
    spec:
      hosts: [other.example.com]
      http:
      - route:
        - destination: {host: other.other.svc.cluster.local}
    """


def revision(mapping: dict[str, str]) -> list[SourceFile]:
    return files({path: textwrap.dedent(text) for path, text in mapping.items()})


def changed(base: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    """`base` with files replaced, added, or removed (None)."""
    head = {**base, **{p: t for p, t in changes.items() if t is not None}}
    return {p: t for p, t in head.items() if changes.get(p, "") is not None}


def messages(rule: ModuleType, sources: list[SourceFile]) -> list[tuple[str, str]]:
    context = context_of(sources, config())[0]
    return [(f.path, f.message) for f in run_rules(context) if f.rule == rule.ID]


# (rule, the fact a change reads, base files, changes; the routes' files are left as they are)
FACT_CASES = [
    (
        backend_not_found,
        "Service",
        {
            "route.yaml": route(backend="{name: fronted, port: 8080}"),
            "svc.yaml": service("frontend"),
        },
        {"typo.yaml": service("fronted")},
    ),
    (
        backend_not_found,
        "Service",
        # a Service of that name elsewhere is named in the message
        {
            "route.yaml": route(backend="{name: fronted, port: 8080}"),
            "svc.yaml": service("frontend"),
        },
        {"web.yaml": service("fronted", namespace="web")},
    ),
    (
        reference_not_permitted,
        "ReferenceGrant",
        {"route.yaml": route(backend="{name: payments, namespace: payments, port: 8080}")},
        {"grant.yaml": grant()},
    ),
    (
        reference_not_permitted,
        "ReferenceGrant",
        # the Gateway's certificate in another namespace loses its grant
        {"gateway.yaml": gateway(CERTIFIED), "grant.yaml": grant()},
        {"grant.yaml": None},
    ),
    (
        route_hostname_mismatch,
        "Gateway",
        {
            "gateway.yaml": gateway(
                "{name: http, port: 80, protocol: HTTP, hostname: shop.example.com, "
                "allowedRoutes: {namespaces: {from: All}}}"
            ),
            "route.yaml": route(hostnames="[shop.example.com, api.example.com]"),
        },
        {
            "gateway.yaml": gateway(
                '{name: http, port: 80, protocol: HTTP, hostname: "*.example.com", '
                "allowedRoutes: {namespaces: {from: All}}}"
            )
        },
    ),
    (
        route_hostname_mismatch,
        "Namespace",
        # the Selector admits the route only while its Namespace carries the label
        {
            "gateway.yaml": gateway(SELECTOR),
            "route.yaml": route(hostnames="[api.example.com]"),
            "ns.yaml": namespace("{ingress: public}"),
        },
        {"ns.yaml": namespace("{ingress: private}")},
    ),
    (
        route_not_attached,
        "Gateway",
        {"gateway.yaml": gateway(HTTP), "route.yaml": route()},
        {"gateway.yaml": gateway(ALL)},
    ),
    (
        route_not_attached,
        "Namespace",
        {
            "gateway.yaml": gateway(SELECTOR),
            "route.yaml": route(),
            "ns.yaml": namespace("{ingress: private}"),
        },
        {"ns.yaml": namespace("{ingress: public}")},
    ),
    (
        route_parent_not_found,
        "Gateway",
        {"gateway.yaml": gateway(), "route.yaml": route(parent="{name: edge, namespace: ingress}")},
        {"edge.yaml": gateway(name="edge")},
    ),
    (
        route_parent_not_found,
        "Gateway",
        # the only Gateway API Gateway removed: Gateway parents are no longer judged
        {"gateway.yaml": gateway(), "route.yaml": route(parent="{name: edge, namespace: ingress}")},
        {"gateway.yaml": None},
    ),
    (
        route_parent_not_found,
        "Service",
        {
            "route.yaml": route(parent='{group: "", kind: Service, name: web}'),
            "svc.yaml": service("api"),
        },
        {"web.yaml": service("web")},
    ),
    (
        route_parent_not_found,
        "ServiceEntry",
        {
            "route.yaml": route(
                parent="{group: networking.istio.io, kind: ServiceEntry, name: ext}"
            ),
            "svc.yaml": service("api"),
        },
        {"ext.yaml": service_entry("ext")},
    ),
]


def _ids(cases):
    return [f"{rule.ID}-{fact}-{i}" for i, (rule, fact, *_) in enumerate(cases)]


@pytest.mark.parametrize("rule, fact, base, changes", FACT_CASES, ids=_ids(FACT_CASES))
def test_a_change_to_a_fact_alone_changes_the_finding_about_an_unchanged_route(
    rule, fact, base, changes, monkeypatch
):
    head = changed(base, changes)
    assert not set(changes) & {"route.yaml"}
    base_sources, head_sources = revision(base), revision(head)
    assert messages(rule, base_sources) != messages(rule, head_sources)
    assert fact in rule.READS
    _compare(base_sources, head_sources)
    # Not vacuous: with the fact left out of READS, reuse keeps the base's stale finding.
    monkeypatch.setattr(rule, "READS", rule.READS - {fact})
    with pytest.raises(AssertionError):
        _compare(base_sources, head_sources)


# (rule, base files, changes that leave the rule's facts alone; "kept.yaml" keeps its finding)
SERVED_CASES = [
    (
        backend_not_found,
        {
            "kept.yaml": route(name="kept", backend="{name: fronted, port: 8080}"),
            "edited.yaml": route(name="edited"),
            "svc.yaml": service("frontend"),
        },
        {"edited.yaml": route(name="edited", backend="{name: frontnd, port: 8080}")},
    ),
    (
        reference_not_permitted,
        {
            "kept.yaml": route(name="kept", backend="{name: payments, namespace: payments}"),
            "edited.yaml": route(name="edited"),
        },
        {"edited.yaml": route(name="edited", backend="{name: payments, namespace: payments}")},
    ),
    (
        route_hostname_mismatch,
        {
            "gateway.yaml": gateway(
                "{name: http, port: 80, protocol: HTTP, hostname: shop.example.com, "
                "allowedRoutes: {namespaces: {from: All}}}"
            ),
            "kept.yaml": route(name="kept", hostnames="[api.example.com]"),
            "edited.yaml": route(name="edited", hostnames="[shop.example.com]"),
        },
        {"edited.yaml": route(name="edited", hostnames="[www.example.com]")},
    ),
    (
        route_not_attached,
        {
            "gateway.yaml": gateway(HTTP),
            "kept.yaml": route(name="kept"),
            "edited.yaml": route(name="edited", parent="{name: public, namespace: other}"),
        },
        {"edited.yaml": route(name="edited")},
    ),
    (
        route_parent_not_found,
        {
            "gateway.yaml": gateway(),
            "kept.yaml": route(name="kept", parent="{name: edge, namespace: ingress}"),
            "edited.yaml": route(name="edited"),
        },
        {"edited.yaml": route(name="edited", parent="{name: edge}")},
    ),
]


@pytest.mark.parametrize(
    "rule, base, changes", SERVED_CASES, ids=[rule.ID for rule, *_ in SERVED_CASES]
)
def test_a_change_that_leaves_the_facts_alone_is_served_from_the_base(rule, base, changes):
    base_sources = revision(base)
    for head in (changed(base, changes), changed(base, {"other.yaml": UNRELATED})):
        head_sources = revision(head)
        assert any(path == "kept.yaml" for path, _ in messages(rule, head_sources))
        reuse = _compare(base_sources, head_sources)
        assert rule.ID in reuse.served
