from rules import reference_not_permitted
from tests.helpers import findings_of, findings_with_unknown_namespaces

RULE = reference_not_permitted.ID
ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: shop}
spec:
  parentRefs: [{name: public, namespace: ingress}]
  rules:
  - backendRefs:
    - {name: payments, namespace: payments, port: 8080}
---
"""


def grant(
    from_kind="HTTPRoute",
    from_ns="shop",
    to_kind="Service",
    name=None,
    version="v1beta1",
    namespace="payments",
    from_group="gateway.networking.k8s.io",
):
    to_name = f", name: {name}" if name else ""
    return (
        f"apiVersion: gateway.networking.k8s.io/{version}\nkind: ReferenceGrant\n"
        f"metadata: {{name: grant, namespace: {namespace}}}\nspec:\n"
        f"  from: [{{group: {from_group}, kind: {from_kind}, namespace: {from_ns}}}]\n"
        f"  to: [{{group: '', kind: {to_kind}{to_name}}}]\n---\n"
    )


def test_a_cross_namespace_backend_without_a_grant_is_flagged():
    [finding] = findings_of(RULE, ROUTE)
    assert (finding.line, finding.severity) == (8, "error")
    assert finding.message == (
        "HTTPRoute shop/shop sends traffic to Service payments/payments in another namespace, "
        "and no ReferenceGrant in payments allows HTTPRoutes from shop: Istio drops the backend "
        "(RefNotPermitted)"
    )


def test_the_grant_present_permits_it_in_any_served_version():
    for version in ("v1", "v1beta1", "v1alpha2"):
        assert not findings_of(RULE, ROUTE + grant(version=version))
    assert not findings_of(RULE, ROUTE + grant(name="payments"))


def test_a_grant_that_does_not_cover_the_reference_is_named():
    for near_miss in (
        grant(from_kind="GRPCRoute"),
        grant(from_ns="web"),
        grant(to_kind="Secret"),
        grant(name="ledger"),
        grant(namespace="shop"),
        grant(from_group="networking.istio.io"),
    ):
        assert findings_of(RULE, ROUTE + near_miss), near_miss
    [finding] = findings_of(RULE, ROUTE + grant(from_ns="web"))
    assert finding.message.endswith(
        "; the ReferenceGrants there (grant) do not cover this HTTPRoute"
    )


def test_same_namespace_and_mesh_routes_need_no_grant():
    same = ROUTE.replace("namespace: payments, ", "")
    assert not findings_of(RULE, same)
    mesh = ROUTE.replace(
        "[{name: public, namespace: ingress}]", "[{group: '', kind: Service, name: shop}]"
    )
    assert not findings_of(RULE, mesh)


GATEWAY = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: ingress}
spec:
  gatewayClassName: istio
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    tls:
      certificateRefs:
      - {name: shop-cert, namespace: certs}
---
"""


def test_a_certificate_in_another_namespace_needs_a_grant_from_the_gateway():
    [finding] = findings_of(RULE, GATEWAY)
    assert finding.resource.kind == "Gateway" and finding.line == 12
    assert "Secret certs/shop-cert" in finding.message
    permitted = grant(from_kind="Gateway", from_ns="ingress", to_kind="Secret", namespace="certs")
    assert not findings_of(RULE, GATEWAY + permitted)
    assert not findings_of(RULE, GATEWAY.replace(", namespace: certs", ""))


def test_a_deleted_grant_makes_the_finding_new():
    [finding] = findings_of(RULE, ROUTE, base=ROUTE + grant())
    assert finding.new


def test_an_unknown_route_namespace_is_not_judged():
    route = ROUTE.replace("metadata: {name: shop, namespace: shop}", "metadata: {name: shop}")
    assert findings_with_unknown_namespaces(RULE, {"route.yaml": route}) == []


def test_istio_does_not_honour_a_grant_to_a_service_import():
    route = ROUTE.replace(
        "{name: payments, namespace: payments, port: 8080}",
        "{group: multicluster.x-k8s.io, kind: ServiceImport, name: payments, namespace: payments, port: 8080}",
    )
    imports = grant().replace(
        "to: [{group: '', kind: Service}]",
        "to: [{group: multicluster.x-k8s.io, kind: ServiceImport}]",
    )
    [finding] = findings_of(RULE, route + imports)
    assert (
        "ReferenceGrant payments/grant allows it, but Istio honours grants only to"
        in finding.message
    )
    [missing] = findings_of(RULE, route)
    assert "no ReferenceGrant in payments" in missing.message
