"""The Gateway API readers: the specification's defaults, as the rules rely on them."""

import pytest

from rules.core.config import Config
from rules.core.loader import load
from rules.mesh.gateway_api import (
    Found,
    backend_refs,
    listeners,
    parent_refs,
    selector_matches,
)
from rules.mesh.index import MeshIndex
from tests.helpers import files

ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: shop}
spec:
  parentRefs:
  - name: public
  - {group: "", kind: Service, name: reviews, port: 9080}
  - {name: public, namespace: ingress, sectionName: https}
  rules:
  - backendRefs:
    - {name: frontend, port: 8080}
    - {group: null, kind: Service, name: legacy, namespace: old, port: 80}
    filters:
    - {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 8080}}}
"""


def resources(text: str):
    loaded, skipped = load(files({"a.yaml": text}))
    assert skipped == []
    return loaded


def test_parent_refs_default_to_a_gateway_of_the_route_namespace():
    [route] = resources(ROUTE)
    refs = parent_refs(route)
    assert [(r.group, r.kind, r.scope, r.name, r.section_name, r.port) for r in refs] == [
        ("gateway.networking.k8s.io", "Gateway", ("shop", ""), "public", None, None),
        ("", "Service", ("shop", ""), "reviews", None, 9080),
        ("gateway.networking.k8s.io", "Gateway", ("ingress", ""), "public", "https", None),
    ]
    assert refs[0].path == ("spec", "parentRefs", 0)


def test_backend_refs_default_to_a_core_service_and_include_mirrors():
    [route] = resources(ROUTE)
    refs = list(backend_refs(route))
    assert [(r.group, r.kind, r.namespace, r.name, r.cross_namespace) for r in refs] == [
        ("", "Service", None, "frontend", False),
        ("", "Service", "old", "legacy", True),
        ("", "Service", None, "shadow", False),
    ]
    assert refs[2].path == ("spec", "rules", 0, "filters", 0, "requestMirror", "backendRef")


@pytest.mark.parametrize(
    ("listener", "kinds"),
    [
        ("{name: a, port: 80, protocol: HTTP}", {"HTTPRoute", "GRPCRoute"}),
        ("{name: a, port: 443, protocol: HTTPS, tls: {}}", {"HTTPRoute", "GRPCRoute"}),
        ("{name: a, port: 5432, protocol: TCP}", {"TCPRoute"}),
        ("{name: a, port: 443, protocol: TLS, tls: {mode: Passthrough}}", {"TLSRoute"}),
        # the CRD defaults tls.mode to Terminate, which also carries TCPRoutes
        ("{name: a, port: 443, protocol: TLS, tls: {}}", {"TLSRoute", "TCPRoute"}),
        ("{name: a, port: 53, protocol: UDP}", set()),
        ("{name: mesh, port: 15008, protocol: HBONE}", set()),
    ],
)
def test_listener_protocols_carry_the_route_kinds_istio_supports(listener, kinds):
    gateway = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
        f"metadata: {{name: g, namespace: n}}\nspec:\n  listeners: [{listener}]\n"
    )
    [only] = listeners(resources(gateway)[0])
    assert {kind for _, kind in only.supported_kinds()} == kinds
    assert only.allowed_from == "Same"


def test_label_selectors_as_kubernetes_reads_them():
    labels = {"team": "shop", "tier": "web"}
    assert selector_matches({"matchLabels": {"team": "shop"}}, labels)
    assert not selector_matches({"matchLabels": {"team": "cart"}}, labels)
    expressions = [
        ({"key": "tier", "operator": "In", "values": ["web", "api"]}, True),
        ({"key": "tier", "operator": "NotIn", "values": ["web"]}, False),
        ({"key": "team", "operator": "Exists"}, True),
        ({"key": "env", "operator": "DoesNotExist"}, True),
        ({"key": "env", "operator": "In", "values": ["prod"]}, False),
    ]
    for expression, expected in expressions:
        assert selector_matches({"matchExpressions": [expression]}, labels) is expected


def test_lookups_say_present_missing_unknown_or_ambiguous():
    gateway = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
        "metadata: {name: public, namespace: ingress}\nspec: {listeners: []}\n"
    )
    index = MeshIndex(resources(gateway + "---\n" + gateway), Config())
    api = index.gateway_api
    assert api.lookup("Gateway", ("ingress", ""), "public")[0] is Found.AMBIGUOUS
    single = MeshIndex(resources(gateway), Config()).gateway_api
    assert single.lookup("Gateway", ("ingress", ""), "public")[0] is Found.PRESENT
    assert single.lookup("Gateway", ("ingress", ""), "private")[0] is Found.MISSING
    assert single.lookup("Gateway", (None, "apps"), "public")[0] is Found.UNKNOWN
