from rules import mixed_routing_apis
from tests.helpers import findings_of

RULE = mixed_routing_apis.ID
SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: shop}\nspec: {ports: [{port: 9080}]}\n---\n"


def vs(hosts: str, gateways: str | None = None, namespace: str = "shop") -> str:
    bound = f"  gateways: {gateways}\n" if gateways is not None else ""
    return (
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
        f"metadata: {{name: reviews, namespace: {namespace}}}\n"
        f"spec:\n  hosts: {hosts}\n{bound}"
        "  http: [{route: [{destination: {host: reviews.shop.svc.cluster.local}}]}]\n---\n"
    )


def route(parent: str, hostnames: str | None = None, kind: str = "HTTPRoute") -> str:
    names = f"  hostnames: {hostnames}\n" if hostnames else ""
    return (
        f"apiVersion: gateway.networking.k8s.io/v1\nkind: {kind}\n"
        "metadata: {name: reviews, namespace: shop}\n"
        f"spec:\n  parentRefs: [{parent}]\n{names}"
        "  rules: [{backendRefs: [{name: reviews, port: 9080}]}]\n"
    )


MESH_PARENT = "{group: '', kind: Service, name: reviews}"


def test_a_mesh_route_and_a_virtual_service_for_the_same_service():
    [finding] = findings_of(RULE, SERVICE + vs("[reviews]") + route(MESH_PARENT))
    assert finding.severity == "warning" and finding.resource.kind == "HTTPRoute"
    assert finding.message == (
        "HTTPRoute shop/reviews routes Service shop/reviews, which VirtualService shop/reviews "
        "also routes: for mesh traffic Istio keeps only the older of the two"
    )
    for host in ("[reviews.shop.svc.cluster.local]", "['*.shop.svc.cluster.local']"):
        assert findings_of(RULE, SERVICE + vs(host, "[mesh, ingress/public]") + route(MESH_PARENT))
    grpc = route(MESH_PARENT, kind="GRPCRoute")
    assert findings_of(RULE, SERVICE + vs("[reviews]") + grpc)


def test_different_hosts_and_gateway_only_virtual_services_do_not_mix():
    assert not findings_of(RULE, SERVICE + vs("[ratings]") + route(MESH_PARENT))
    assert not findings_of(RULE, SERVICE + vs("[reviews]", "[ingress/public]") + route(MESH_PARENT))
    other_namespace = vs("[reviews]", namespace="web")  # web's reviews, not shop's
    assert not findings_of(RULE, SERVICE + other_namespace + route(MESH_PARENT))


K8S_GATEWAY = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: ingress}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]
---
"""
GATEWAY_PARENT = "{name: public, namespace: ingress}"


def test_a_virtual_service_bound_to_a_gateway_api_gateway_that_a_route_also_uses():
    source = (
        K8S_GATEWAY
        + vs("[shop.example.com]", "[ingress/public]")
        + route(GATEWAY_PARENT, "[shop.example.com]")
    )
    [finding] = findings_of(RULE, source)
    assert "routes hosts on Gateway ingress/public" in finding.message
    assert "the gateway merges them by creation time" in finding.message
    disjoint = (
        K8S_GATEWAY
        + vs("[shop.example.com]", "[ingress/public]")
        + route(GATEWAY_PARENT, "[api.example.com]")
    )
    assert not findings_of(RULE, disjoint)
    # a route without hostnames takes every host of its listener
    assert findings_of(
        RULE, K8S_GATEWAY + vs("[shop.example.com]", "[ingress/public]") + route(GATEWAY_PARENT)
    )


def test_an_istio_gateway_of_the_same_name_is_what_the_virtual_service_binds():
    istio = (
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: ingress}\n"
        "spec: {servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]}\n---\n"
    )
    source = (
        istio
        + K8S_GATEWAY
        + vs("[shop.example.com]", "[ingress/public]")
        + route(GATEWAY_PARENT, "[shop.example.com]")
    )
    assert not findings_of(RULE, source)


def test_adding_the_route_in_a_change_is_new():
    base = SERVICE + vs("[reviews]")
    [finding] = findings_of(RULE, base + route(MESH_PARENT), base=base)
    assert finding.new
