import pytest

from rules import route_hostname_mismatch
from rules.mesh.gateway_api import hostnames_intersect
from tests.helpers import findings_of, findings_with_unknown_namespaces

RULE = route_hostname_mismatch.ID


def gateway(*hostnames: str | None, name: str = "public") -> str:
    listeners = "".join(
        f"  - {{name: l{i}, port: 443, protocol: HTTPS"
        + (f", hostname: '{h}'" if h else "")
        + ", allowedRoutes: {namespaces: {from: All}}}\n"
        for i, h in enumerate(hostnames)
    )
    return (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
        f"metadata: {{name: {name}, namespace: ingress}}\n"
        f"spec:\n  gatewayClassName: istio\n  listeners:\n{listeners}---\n"
    )


def route(*hostnames: str, parents: tuple[str, ...] = ("public",), kind: str = "HTTPRoute") -> str:
    listed = "".join(f"  - '{h}'\n" for h in hostnames)
    refs = "".join(f"  - {{name: {p}, namespace: ingress}}\n" for p in parents)
    return (
        f"apiVersion: gateway.networking.k8s.io/v1\nkind: {kind}\n"
        "metadata: {name: shop, namespace: shop}\n"
        f"spec:\n  parentRefs:\n{refs}" + (f"  hostnames:\n{listed}" if hostnames else "")
    )


@pytest.mark.parametrize(
    ("listener", "route_host", "intersect"),
    [
        ("shop.example.com", "shop.example.com", True),
        ("shop.example.com", "SHOP.example.com", True),
        ("*.example.com", "shop.example.com", True),
        ("*.example.com", "a.b.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "shop.example.net", False),
        ("shop.example.com", "*.example.com", True),
        ("*.example.com", "*.shop.example.com", True),
        ("*.shop.example.com", "*.example.com", True),
        ("*.example.com", "*.example.net", False),
        (None, "anything.example.org", True),
    ],
)
def test_gateway_api_hostname_intersection(listener, route_host, intersect):
    assert hostnames_intersect(listener, route_host) is intersect


def test_a_hostname_no_listener_serves_is_flagged_on_the_hostname():
    [finding] = findings_of(
        RULE, gateway("shop.example.com") + route("shop.example.com", "api.example.com")
    )
    assert finding.severity == "error"
    assert finding.line == 17
    assert finding.message == (
        "HTTPRoute shop/shop hostname 'api.example.com' is served by no listener it attaches to "
        "(ingress/public listener l0 shop.example.com): requests for it get 404"
    )


def test_a_wildcard_listener_covers_the_hostnames_below_it_not_the_domain_itself():
    assert not findings_of(
        RULE, gateway("*.example.com") + route("shop.example.com", "api.example.com")
    )
    [finding] = findings_of(
        RULE, gateway("*.example.com") + route("shop.example.com", "example.com")
    )
    assert "hostname 'example.com'" in finding.message


def test_a_parent_whose_listeners_match_no_hostname_refuses_the_route():
    [finding] = findings_of(RULE, gateway("shop.example.com") + route("api.example.com"))
    assert finding.line == 14  # the parentRef
    assert finding.message.endswith(
        "none of its hostnames (api.example.com) matches ingress/public listener l0 "
        "shop.example.com (NoMatchingListenerHostname)"
    )


def test_no_listener_hostname_and_no_route_hostnames_match_everything():
    assert not findings_of(RULE, gateway(None) + route("api.example.com"))
    assert not findings_of(RULE, gateway("shop.example.com") + route())


def test_a_hostname_served_by_another_parent_is_fine():
    source = (
        gateway("shop.example.com")
        + gateway("api.example.com", name="api")
        + route("shop.example.com", "api.example.com", parents=("public", "api"))
    )
    assert not findings_of(RULE, source)


def test_a_parent_outside_the_repository_may_serve_the_hostname():
    source = gateway("shop.example.com") + route(
        "shop.example.com", "api.example.com", parents=("public", "elsewhere")
    )
    assert not findings_of(RULE, source)


def test_tls_and_grpc_routes_have_hostnames_tcp_routes_do_not():
    grpc = gateway("shop.example.com") + route("api.example.com", kind="GRPCRoute")
    assert findings_of(RULE, grpc)
    tls = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
        "metadata: {name: public, namespace: ingress}\nspec:\n  listeners:\n"
        "  - {name: tls, port: 443, protocol: TLS, hostname: db.example.com, tls: {mode: Passthrough},"
        " allowedRoutes: {namespaces: {from: All}}}\n---\n"
    )
    assert findings_of(RULE, tls + route("api.example.com", kind="TLSRoute"))
    assert not findings_of(RULE, tls + route("db.example.com", kind="TLSRoute"))


def test_a_listener_hostname_changed_in_the_change_is_new_on_the_route():
    base = gateway("*.example.com") + route("shop.example.com", "api.example.com")
    head = gateway("shop.example.com") + route("shop.example.com", "api.example.com")
    [finding] = findings_of(RULE, head, base=base)
    assert finding.new and finding.resource.kind == "HTTPRoute"
    [unchanged] = findings_of(RULE, head, base=head)
    assert not unchanged.new


def test_resources_of_one_unknown_namespace_are_judged_together_and_named_without_it():
    gw = gateway("shop.example.com").replace(", namespace: ingress}", "}")
    rt = (
        route("shop.example.com", "api.example.com")
        .replace("{name: public, namespace: ingress}", "{name: public}")
        .replace(", namespace: shop}", "}")
    )
    [finding] = findings_with_unknown_namespaces(RULE, {"app/gw.yaml": gw, "app/route.yaml": rt})
    assert finding.message == (
        "HTTPRoute shop hostname 'api.example.com' is served by no listener it attaches to "
        "(public listener l0 shop.example.com): requests for it get 404"
    )
    # in another folder the Gateway may be another namespace's: nothing is said
    assert findings_with_unknown_namespaces(RULE, {"gw/gw.yaml": gw, "app/route.yaml": rt}) == []
