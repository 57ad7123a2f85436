from rules import route_parent_not_found
from tests.helpers import assert_findings, findings_of, findings_with_unknown_namespaces

RULE = route_parent_not_found.ID
GATEWAY = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: ingress}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
---
"""
ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: {kind}
metadata: {{name: shop, namespace: shop}}
spec:
  parentRefs:
{parents}
"""


def route(*parents: str, kind: str = "HTTPRoute") -> str:
    return ROUTE.format(kind=kind, parents="".join(f"  - {p}\n" for p in parents))


def test_a_parent_in_the_route_namespace_by_default_is_not_the_gateway_elsewhere():
    source = GATEWAY + route("{name: public}")
    assert_findings(RULE, source, (14, 5))
    [finding] = findings_of(RULE, source)
    assert finding.severity == "warning"
    assert finding.message == (
        "HTTPRoute shop/shop names parent Gateway shop/public, which is not in this repository: "
        "Istio ignores the route (NoMatchingParent); a Gateway 'public' exists in namespace ingress"
    )


def test_a_parent_named_with_its_namespace_is_found():
    assert not findings_of(RULE, GATEWAY + route("{name: public, namespace: ingress}"))


def test_every_route_kind_is_judged():
    for kind in ("GRPCRoute", "TCPRoute", "TLSRoute"):
        assert findings_of(RULE, GATEWAY + route("{name: privat, namespace: ingress}", kind=kind))


def test_v1beta1_and_v1alpha2_routes_are_read_too():
    for version in ("v1beta1", "v1alpha2"):
        source = (GATEWAY + route("{name: privat, namespace: ingress}")).replace(
            "v1\nkind: HTTPRoute", f"{version}\nkind: HTTPRoute"
        )
        assert findings_of(RULE, source)


def test_quiet_when_the_repository_holds_no_gateway_api_gateway():
    assert not findings_of(RULE, route("{name: public, namespace: ingress}"))


def test_parents_of_other_controllers_are_left_alone():
    parent = "{group: multicluster.x-k8s.io, kind: ServiceImport, name: store}"
    assert not findings_of(RULE, GATEWAY + route(parent))


SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {ports: [{port: 9080}]}
---
"""


def test_a_mesh_route_to_a_missing_service_is_flagged_where_the_namespace_has_services():
    source = SERVICE + route('{group: "", kind: Service, name: reviws}')
    [finding] = findings_of(RULE, source)
    assert "names parent Service shop/reviws" in finding.message
    assert not findings_of(RULE, SERVICE + route('{group: "", kind: Service, name: reviews}'))
    assert not findings_of(RULE, route('{group: "", kind: Service, name: reviews}'))


def test_a_deleted_gateway_makes_the_finding_new_on_the_route():
    head = GATEWAY.replace("public", "public-v2") + route("{name: public, namespace: ingress}")
    base = GATEWAY + route("{name: public, namespace: ingress}")
    [finding] = findings_of(RULE, head, base=base)
    assert finding.new and finding.resource.kind == "HTTPRoute"
    [again] = findings_of(RULE, head, base=head)
    assert not again.new


def test_reordering_parent_refs_keeps_the_finding_old():
    base = GATEWAY + route(
        "{name: missing, namespace: ingress}", "{name: public, namespace: ingress}"
    )
    head = GATEWAY + route(
        "{name: public, namespace: ingress}", "{name: missing, namespace: ingress}"
    )
    [finding] = findings_of(RULE, head, base=base)
    assert not finding.new


UNKNOWN = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP}]
"""
UNKNOWN_ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop}
spec:
  parentRefs: [{name: %s}]
"""


def test_a_reference_out_of_an_unknown_namespace_is_never_missing():
    head = {"gw/gateway.yaml": UNKNOWN, "app/route.yaml": UNKNOWN_ROUTE % "public"}
    assert findings_with_unknown_namespaces(RULE, head) == []
    # the same folder is taken to be one namespace: the reference resolves
    head = {"app/gateway.yaml": UNKNOWN, "app/route.yaml": UNKNOWN_ROUTE % "public"}
    assert findings_with_unknown_namespaces(RULE, head) == []


def test_a_known_namespace_is_not_judged_missing_when_an_unknown_one_may_hold_the_gateway():
    head = {
        "gw/gateway.yaml": UNKNOWN,
        "app/route.yaml": route("{name: public, namespace: ingress}"),
    }
    assert findings_with_unknown_namespaces(RULE, head) == []
