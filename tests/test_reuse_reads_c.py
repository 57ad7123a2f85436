"""Reuse for gateway-not-found and gateway-host-mismatch (`READS`): a change to what they read
alters their finding about an unchanged VirtualService, and a change to nothing they read is
served from the base. Each case also checks that the finding did change (or did not), so the
comparison with a full analysis is not vacuous."""

from __future__ import annotations

from rules.core.engine import context_of, run_rules
from rules.core.loader import SourceFile
from tests.helpers import config, files
from tests.test_reuse import _compare

GATEWAY_NOT_FOUND = "gateway-not-found"
HOST_MISMATCH = "gateway-host-mismatch"


def _messages(rule: str, sources: list[SourceFile]) -> list[str]:
    context = context_of(sources, config())[0]
    return [f.message for f in run_rules(context) if f.rule == rule]


def _replaced(sources: list[SourceFile], path: str, old: str, new: str) -> list[SourceFile]:
    found = [f for f in sources if f.path == path]
    assert found and old in found[0].data
    return [SourceFile(f.path, f.data.replace(old, new)) if f.path == path else f for f in sources]


def _gateway(name: str, hosts: str, api: str = "networking.istio.io/v1") -> str:
    return f"""\
        apiVersion: {api}
        kind: Gateway
        metadata: {{name: {name}, namespace: istio-system}}
        spec:
          servers:
          - port: {{number: 80, name: http, protocol: HTTP}}
            hosts: [{hosts}]
        """


SHOP_VS = """\
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: shop, namespace: shop}
    spec:
      hosts: [shop.example.com]
      gateways: [istio-system/public]
      http:
      - route:
        - destination: {host: frontend.shop.svc.cluster.local}
    """

OTHER_VS = """\
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: other, namespace: shop}
    spec:
      hosts: [other.example.com]
      gateways: [istio-system/edge]
      http:
      - route:
        - destination: {host: other.shop.svc.cluster.local}
    """

DEPLOYMENT = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: frontend, namespace: shop}
    spec:
      template:
        metadata: {labels: {app: frontend}}
        spec:
          containers:
          - {name: app, image: "frontend:1"}
    """

# --- gateway-not-found: READS Gateway ----------------------------------------------------------

NOT_FOUND_BASE = {
    "gateways/edge.yaml": _gateway("edge", '"other.example.com"'),
    "shop/vs.yaml": SHOP_VS,
    "shop/other.yaml": OTHER_VS,
    "shop/deployment.yaml": DEPLOYMENT,
}


def test_gateway_not_found_an_added_istio_gateway_clears_an_unchanged_virtualservice():
    base = files(NOT_FOUND_BASE)
    head = [*base, *files({"gateways/public.yaml": _gateway("public", '"shop.example.com"')})]
    assert _messages(GATEWAY_NOT_FOUND, base) and not _messages(GATEWAY_NOT_FOUND, head)
    _compare(base, head)


def test_gateway_not_found_an_added_gateway_api_gateway_clears_an_unchanged_virtualservice():
    """Istio binds VirtualServices to a Gateway API Gateway too: its kind is Gateway as well."""
    gateway_api = """\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: public, namespace: istio-system}
        spec:
          gatewayClassName: istio
          listeners:
          - {name: http, port: 80, protocol: HTTP}
        """
    base = files(NOT_FOUND_BASE)
    head = [*base, *files({"gateways/public.yaml": gateway_api})]
    assert _messages(GATEWAY_NOT_FOUND, base) and not _messages(GATEWAY_NOT_FOUND, head)
    _compare(base, head)


def test_gateway_not_found_a_moved_gateway_changes_the_hint_about_an_unchanged_virtualservice():
    base = [*files(NOT_FOUND_BASE), *files({"gateways/public.yaml": _gateway("public", "'*'")})]
    head = _replaced(base, "gateways/public.yaml", "namespace: istio-system", "namespace: edge")
    before, after = _messages(GATEWAY_NOT_FOUND, base), _messages(GATEWAY_NOT_FOUND, head)
    assert not before and after and "exists in namespace edge" in after[0]
    _compare(base, head)


def test_gateway_not_found_is_served_when_what_it_reads_is_unchanged():
    base = files(NOT_FOUND_BASE)
    # A workload only: nothing the rule is about or reads, so it does not run.
    head = _replaced(base, "shop/deployment.yaml", "frontend:1", "frontend:2")
    assert GATEWAY_NOT_FOUND in _compare(base, head).served
    # A VirtualService now bound to a missing Gateway: run over what changed, with the Gateways.
    head = _replaced(base, "shop/other.yaml", "istio-system/edge", "istio-system/edgy")
    assert len(_messages(GATEWAY_NOT_FOUND, head)) == 2
    assert GATEWAY_NOT_FOUND in _compare(base, head).served


# --- gateway-host-mismatch: READS Gateway, Namespace, NAMESPACES -------------------------------

MESH_VS = """\
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: web, namespace: shop}
    spec:
      hosts: [shop.example.com, web.io]
      gateways: [istio-system/public, mesh]
      http:
      - route:
        - destination: {host: frontend.shop.svc.cluster.local}
    """

NAMESPACE = """\
    apiVersion: v1
    kind: Namespace
    metadata: {{name: {name}}}
    """

SERVICE = """\
    apiVersion: v1
    kind: Service
    metadata: {{name: web, namespace: {namespace}}}
    spec:
      ports:
      - {{name: http, port: 80}}
    """

MISMATCH_BASE = {
    "gateways/public.yaml": _gateway("public", '"shop.example.com"'),
    "namespaces/shop.yaml": NAMESPACE.format(name="shop"),
    "shop/vs.yaml": MESH_VS,
    "shop/other.yaml": OTHER_VS.replace("istio-system/edge", "istio-system/public"),
    "shop/service.yaml": SERVICE.format(namespace="shop"),
    "shop/deployment.yaml": DEPLOYMENT,
}


def _web_io(messages: list[str]) -> list[str]:
    return [m for m in messages if "'web.io'" in m]


def test_gateway_host_mismatch_a_gateway_serving_the_host_clears_an_unchanged_virtualservice():
    base = files(MISMATCH_BASE)
    head = _replaced(base, "gateways/public.yaml", '"shop.example.com"', '"*.example.com", "*.io"')
    before, after = _messages(HOST_MISMATCH, base), _messages(HOST_MISMATCH, head)
    assert _web_io(before) and "other.example.com" in " ".join(before) and not after
    _compare(base, head)


def test_gateway_host_mismatch_a_namespace_object_makes_a_two_label_host_the_meshs():
    """`web.io` with `mesh` bound is Service web of namespace io once the repository holds that
    namespace: a Namespace object added (among others, so the namespaces of resources stay the
    same) takes the host off the gateway."""
    base = files(MISMATCH_BASE)
    head = [*base, *files({"namespaces/io.yaml": NAMESPACE.format(name="io")})]
    assert _web_io(_messages(HOST_MISMATCH, base)) and not _web_io(_messages(HOST_MISMATCH, head))
    _compare(base, head)


def test_gateway_host_mismatch_a_resource_in_a_new_namespace_makes_a_two_label_host_the_meshs():
    """The same with no Namespace object: a Service of namespace io is enough."""
    base = files(MISMATCH_BASE)
    head = [*base, *files({"io/service.yaml": SERVICE.format(namespace="io")})]
    assert _web_io(_messages(HOST_MISMATCH, base)) and not _web_io(_messages(HOST_MISMATCH, head))
    _compare(base, head)


def test_gateway_host_mismatch_is_served_when_what_it_reads_is_unchanged():
    base = files(MISMATCH_BASE)
    # A Service of a namespace the repository already holds, a workload: the rule does not run.
    head = _replaced(base, "shop/service.yaml", "port: 80", "port: 8080")
    head = _replaced(head, "shop/deployment.yaml", "frontend:1", "frontend:2")
    assert HOST_MISMATCH in _compare(base, head).served
    # A VirtualService now names a host the Gateway serves: run over what changed.
    head = _replaced(base, "shop/other.yaml", "other.example.com]", "shop.example.com]")
    assert len(_messages(HOST_MISMATCH, head)) == len(_messages(HOST_MISMATCH, base)) - 1
    assert HOST_MISMATCH in _compare(base, head).served


def test_mixed_routing_apis_follows_a_virtual_service_that_takes_the_routes_host():
    """The HTTPRoute stays; only the VirtualService beside it changes its host (from ratings to
    reviews, the route's Service): the finding about the unchanged route appears."""
    from rules import mixed_routing_apis as rule

    documents = rule.PASS.split("---\n")
    base = [
        SourceFile("shop/svc.yaml", documents[0]),
        SourceFile("shop/vs.yaml", documents[1]),
        SourceFile("shop/route.yaml", documents[2]),
    ]
    head = _replaced(base, "shop/vs.yaml", "ratings", "reviews")
    assert _messages(rule.ID, base) == []
    assert len(_messages(rule.ID, head)) == 1
    _compare(base, head)
    reuse = _compare(base, _replaced(base, "shop/svc.yaml", "9080", "9081"))
    assert rule.ID not in reuse.served  # a Service it reads changed: run in full
