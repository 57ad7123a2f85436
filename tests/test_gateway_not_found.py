from rules import gateway_not_found
from tests.helpers import assert_findings, run

GATEWAY = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: ["*"]
---
"""
VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: {namespace}}}
spec:
  hosts: ["*"]
  gateways:
{gateways}"""


def vs(*gateways, namespace="shop"):
    return VS.format(namespace=namespace, gateways="".join(f"  - {g}\n" for g in gateways))


def gw(name="public", namespace="istio-system"):
    return GATEWAY.format(name=name, namespace=namespace)


def findings(source):
    return [f for f in run(source).findings if f.rule == "gateway-not-found"]


def test_fail_example_is_flagged_and_pass_example_is_not():
    assert findings(gateway_not_found.FAIL)
    assert not findings(gateway_not_found.PASS)


def test_missing_gateway_is_flagged_on_its_entry():
    source = gw() + vs("mesh", "istio-system/public", "istio-system/privat")
    assert_findings("gateway-not-found", source, (17, 5))
    [finding] = findings(source)
    assert finding.severity == "warning"
    assert "bound to Gateway istio-system/privat, which is not in this repository" in finding.message
    assert "judged on the Gateways the repository contains" in finding.message
    assert finding.edit is None


def test_short_name_resolves_in_the_virtual_service_namespace():
    source = gw() + vs("public")
    assert_findings("gateway-not-found", source, (15, 5))
    [finding] = findings(source)
    assert "Gateway shop/public" in finding.message
    assert "a Gateway 'public' exists in namespace istio-system: write istio-system/public" in finding.message
    assert finding.edit.replacement == "  - istio-system/public"


def test_short_name_in_the_same_namespace_is_found():
    assert_findings("gateway-not-found", gw(namespace="shop") + vs("public", "./public", "shop/public"))


def test_legacy_fqdn_gateway_reference():
    assert_findings("gateway-not-found", gw() + vs("public.istio-system.svc.cluster.local"))
    assert_findings("gateway-not-found", gw() + vs("public.other.svc.cluster.local"), (15, 5))


def test_quiet_when_the_repo_holds_no_gateway():
    assert_findings("gateway-not-found", vs("istio-system/public", "nothing"))


def test_kubernetes_gateway_api_gateways_do_not_count():
    k8s = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec: {gatewayClassName: istio}
---
"""
    assert_findings("gateway-not-found", k8s + vs("istio-system/public"))
    assert_findings("gateway-not-found", gw("other") + k8s + vs("istio-system/public"), (20, 5))


def test_gateway_in_a_kind_list():
    source = """\
apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: Gateway
  metadata: {name: public, namespace: istio-system}
  spec: {servers: []}
---
""" + vs("istio-system/public", "istio-system/public2")
    assert_findings("gateway-not-found", source, (16, 5))
