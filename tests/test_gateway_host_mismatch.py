import pytest

from rules import gateway_host_mismatch
from tests.helpers import assert_findings, findings_of, run

GATEWAY = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: {name}, namespace: istio-system}}
spec:
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: [{hosts}]
---
"""
VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: {namespace}}}
spec:
  gateways: [{gateways}]
  hosts:
{hosts}"""


def gw(*hosts, name="public"):
    return GATEWAY.format(name=name, hosts=", ".join(f'"{h}"' for h in hosts))


def vs(*hosts, gateways="istio-system/public", namespace="shop"):
    return VS.format(
        namespace=namespace, gateways=gateways, hosts="".join(f'  - "{h}"\n' for h in hosts)
    )


def test_fail_example_is_flagged_and_pass_example_is_not():
    assert findings_of("gateway-host-mismatch", gateway_host_mismatch.FAIL)
    assert not findings_of("gateway-host-mismatch", gateway_host_mismatch.PASS)


def test_each_unserved_host_is_an_error_even_when_another_host_matches():
    source = gw("shop.example.com") + vs("shop.example.com", "api.example.com", "admin.example.com")
    assert_findings("gateway-host-mismatch", source, (16, 5), (17, 5))
    first = findings_of("gateway-host-mismatch", source)[0]
    assert first.severity == "error"
    assert first.message == (
        "VirtualService shop/shop host 'api.example.com' is not served by Gateway "
        "istio-system/public, which serves shop.example.com"
    )


@pytest.mark.parametrize(
    "gateway_host, vs_host, served",
    [
        ("*", "anything.example.com", True),
        ("*.example.com", "shop.example.com", True),
        ("*.example.com", "a.b.example.com", True),
        ("*.example.com", "example.com", False),
        ("shop.example.com", "*.example.com", True),
        ("shop.example.com", "*", True),
        ("*.example.org", "*.example.com", False),
        ("*/shop.example.com", "shop.example.com", True),
        ("*/*", "shop.example.com", True),
        ("shop/shop.example.com", "shop.example.com", True),
        ("other/shop.example.com", "shop.example.com", False),
        ("./shop.example.com", "shop.example.com", False),
        ("istio-system/*", "shop.example.com", False),
    ],
)
def test_gateway_host_forms(gateway_host, vs_host, served):
    source = gw(gateway_host) + vs(vs_host)
    assert_findings("gateway-host-mismatch", source, *([] if served else [(15, 5)]))


def test_dot_slash_admits_the_gateway_namespace():
    source = gw("./shop.example.com") + vs("shop.example.com", namespace="istio-system")
    assert_findings("gateway-host-mismatch", source)


def test_namespace_filter_is_explained():
    [finding] = findings_of(
        "gateway-host-mismatch",
        gw("other/shop.example.com", "./shop.example.com") + vs("shop.example.com"),
    )
    assert (
        "which admits it only for VirtualServices in other namespaces "
        "(./shop.example.com, other/shop.example.com), not shop"
    ) in finding.message


def test_hosts_split_between_two_bound_gateways_are_fine():
    # Regression: istioctl's testdata binds one VirtualService to two gateways, each serving
    # one of its hosts (internal and public gateways are set up this way); that works.
    source = (
        gw("shop.example.com")
        + gw("api.example.com", name="api")
        + vs(
            "shop.example.com", "api.example.com", gateways="istio-system/public, istio-system/api"
        )
    )
    assert_findings("gateway-host-mismatch", source)


def test_a_host_no_bound_gateway_serves_is_one_finding_naming_each_gateway():
    source = (
        gw("shop.example.com")
        + gw("*.api.example.com", name="api")
        + vs(
            "shop.example.com",
            "admin.example.com",
            gateways="istio-system/public, istio-system/api",
        )
    )
    assert_findings("gateway-host-mismatch", source, (21, 35), (24, 5))
    binding, host = findings_of("gateway-host-mismatch", source)
    assert host.message == (
        "VirtualService shop/shop host 'admin.example.com' is not served by Gateway "
        "istio-system/public, which serves shop.example.com; nor by Gateway istio-system/api, "
        "which serves *.api.example.com"
    )
    assert binding.message == (
        "VirtualService shop/shop is bound to Gateway istio-system/api, which serves none of its "
        "hosts (shop.example.com, admin.example.com): the binding has no effect "
        "(it serves *.api.example.com)"
    )


def test_a_bound_gateway_serving_none_of_the_hosts_is_flagged_on_its_entry():
    # istioctl testdata testing-service-02-test-03: the host is served by the first gateway only.
    source = (
        gw("*.api.example.com")
        + gw("*.homepage.example.com", name="homepage")
        + vs("user.api.example.com", gateways="istio-system/public, istio-system/homepage")
    )
    assert_findings("gateway-host-mismatch", source, (21, 35))


def test_no_host_served_at_all_is_reported_on_the_hosts_only():
    source = (
        gw("a.example.com")
        + gw("b.example.com", name="b")
        + vs("c.example.com", "d.example.com", gateways="istio-system/public, istio-system/b")
    )
    assert_findings("gateway-host-mismatch", source, (23, 5), (24, 5))


def test_bound_gateways_outside_the_repository_are_left_to_gateway_not_found():
    source = gw("shop.example.com") + vs(
        "api.example.com", gateways="istio-system/public, istio-system/edge"
    )
    assert [(f.rule, f.line) for f in run(source).findings if f.rule.startswith("gateway-")] == [
        ("gateway-not-found", 13),
        ("gateway-host-mismatch", 15),
    ]
    assert (
        "Gateway istio-system/edge" not in findings_of("gateway-host-mismatch", source)[0].message
    )


def test_in_cluster_hosts_are_for_the_mesh_when_mesh_is_bound():
    hosts = ("shop.example.com", "frontend", "frontend.shop.svc.cluster.local", "api.example.com")
    assert_findings(
        "gateway-host-mismatch",
        gw("shop.example.com") + vs(*hosts, gateways="mesh, istio-system/public"),
        (18, 5),
    )
    assert_findings(
        "gateway-host-mismatch", gw("shop.example.com") + vs(*hosts), (16, 5), (17, 5), (18, 5)
    )


def test_a_two_label_domain_is_in_cluster_only_when_its_second_label_is_a_known_namespace():
    # `frontend.shop` is Service frontend of namespace shop (the repository holds that
    # namespace); `shop.io` is an external domain the gateway must serve, mesh bound or not.
    hosts = ("shop.example.com", "frontend.shop", "shop.io")
    source = gw("shop.example.com") + vs(*hosts, gateways="mesh, istio-system/public")
    assert_findings("gateway-host-mismatch", source, (17, 5))
    assert findings_of("gateway-host-mismatch", source)[0].message == (
        "VirtualService shop/shop host 'shop.io' is not served by Gateway istio-system/public, "
        "which serves shop.example.com"
    )


def test_missing_gateways_and_mesh_only_are_not_judged():
    assert_findings(
        "gateway-host-mismatch",
        gw("x.example.com") + vs("shop.example.com", gateways="istio-system/gone"),
    )
    assert_findings(
        "gateway-host-mismatch", gw("x.example.com") + vs("shop.example.com", gateways="mesh")
    )
    assert_findings("gateway-host-mismatch", vs("shop.example.com"))


def test_gateway_without_server_hosts():
    source = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
---
""" + vs("*")
    assert_findings("gateway-host-mismatch", source, (13, 5))
    assert "which lists no server hosts" in findings_of("gateway-host-mismatch", source)[0].message


def test_short_gateway_reference_and_kind_list():
    source = """\
apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: Gateway
  metadata: {name: public, namespace: shop}
  spec:
    servers:
    - hosts: ["shop/*.example.com"]
- apiVersion: networking.istio.io/v1
  kind: VirtualService
  metadata: {name: shop, namespace: shop}
  spec:
    gateways: [public]
    hosts: [shop.example.com, shop.example.org]
"""
    assert_findings("gateway-host-mismatch", source, (15, 31))
