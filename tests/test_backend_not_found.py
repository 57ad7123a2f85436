from rules import backend_not_found
from tests.helpers import findings_of, findings_with_unknown_namespaces

RULE = backend_not_found.ID
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: frontend, namespace: shop}
spec: {ports: [{port: 8080}]}
---
"""


def route(*backends: str, kind: str = "HTTPRoute", namespace: str = "shop") -> str:
    refs = "".join(f"    - {b}\n" for b in backends)
    return (
        f"apiVersion: gateway.networking.k8s.io/v1\nkind: {kind}\n"
        f"metadata: {{name: shop, namespace: {namespace}}}\n"
        "spec:\n  parentRefs: [{name: public, namespace: ingress}]\n"
        f"  rules:\n  - backendRefs:\n{refs}"
    )


def test_a_backend_the_namespace_does_not_define_is_flagged_on_its_name():
    [finding] = findings_of(RULE, SERVICE + route("{name: fronted, port: 8080}"))
    assert (finding.line, finding.column, finding.severity) == (13, 8, "warning")
    assert finding.message == (
        "HTTPRoute shop/shop sends traffic to Service shop/fronted, which is not in this "
        "repository (BackendNotFound)"
    )
    assert not findings_of(RULE, SERVICE + route("{name: frontend, port: 8080}"))


def test_a_backend_in_another_namespace_is_looked_up_there():
    source = SERVICE + route("{name: frontend, namespace: shop, port: 8080}", namespace="web")
    assert not findings_of(RULE, source)
    [finding] = findings_of(
        RULE,
        SERVICE
        + route("{name: frontend, port: 8080}", namespace="web2")
        + "---\n"
        + SERVICE.replace("shop", "web2").replace("frontend", "api"),
    )
    assert "Service web2/frontend" in finding.message
    assert "a Service 'frontend' exists in namespace shop" in finding.message


def test_quiet_where_the_repository_defines_no_service_in_that_namespace():
    assert not findings_of(RULE, route("{name: frontend, port: 8080}"))
    assert not findings_of(
        RULE, SERVICE + route("{name: payments, namespace: payments, port: 8080}")
    )


def test_a_hostname_written_as_a_backend_name_is_flagged_even_without_services():
    [finding] = findings_of(RULE, route("{name: frontend.shop.svc.cluster.local, port: 8080}"))
    assert "is a hostname" in finding.message


def test_request_mirrors_and_other_route_kinds_count():
    mirror = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
        "metadata: {name: shop, namespace: shop}\nspec:\n  rules:\n"
        "  - filters:\n    - type: RequestMirror\n"
        "      requestMirror: {backendRef: {name: shadow, port: 8080}}\n"
        "    backendRefs: [{name: frontend, port: 8080}]\n"
    )
    [finding] = findings_of(RULE, SERVICE + mirror)
    assert "Service shop/shadow" in finding.message
    for kind in ("GRPCRoute", "TCPRoute", "TLSRoute"):
        assert findings_of(RULE, SERVICE + route("{name: fronted, port: 8080}", kind=kind))


def test_other_backend_kinds_are_left_alone():
    source = SERVICE + route(
        "{group: multicluster.x-k8s.io, kind: ServiceImport, name: store, port: 80}"
    )
    assert not findings_of(RULE, source)


def test_unknown_namespaces_are_not_judged():
    service = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: frontend}\nspec: {ports: [{port: 80}]}\n"
    )
    rt = route("{name: fronted, port: 8080}").replace(", namespace: shop}", "}")
    assert findings_with_unknown_namespaces(RULE, {"a/svc.yaml": service, "a/route.yaml": rt}) == []
