"""The Gateway API rules on the real-world Gateway API layouts, finding by finding.

The upstream gateway-api examples are plain files applied with `kubectl apply -n`: most have no
`metadata.namespace`, so their namespace is unknown and references out of them are never
missing. kagenti/mcp-gateway is Kustomize directories plus samples; the samples that name
namespaces hold the only findings, each checked against the repository below.
"""

from pathlib import Path

import pytest

from rules.core.config import Config
from rules.core.context import Context
from rules.core.engine import run_rules
from rules.core.loader import CLUSTER_SCOPED_KINDS, SourceFile, load
from rules.mesh.gateway_api import Found, attached_listeners, certificate_refs, parent_refs
from tests.helpers import FIXTURES

REAL_WORLD = FIXTURES / "real-world"
GATEWAY_API_RULES = {
    "route-parent-not-found",
    "route-not-attached",
    "route-hostname-mismatch",
    "backend-not-found",
    "reference-not-permitted",
    "waypoint-missing",
    "mixed-routing-apis",
}


def analyse(folder: str) -> tuple[Context, list]:
    root = REAL_WORLD / folder
    if not root.is_dir():
        pytest.skip("real-world fixtures are not available")
    files = [
        SourceFile(str(p.relative_to(REAL_WORLD)), p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.suffix in (".yaml", ".yml") and p.is_file()
    ]
    resources, _ = load(files)
    for resource in resources:
        if resource.kind not in CLUSTER_SCOPED_KINDS and not resource.metadata.get("namespace"):
            resource.namespace = None  # applied with `kubectl -n`: unknown
    context = Context(resources, Config())
    return context, [f for f in run_rules(context) if f.rule in GATEWAY_API_RULES]


def route(context: Context, namespace: str, name: str):
    [found] = [
        r for r in context.index.gateway_api.routes if (r.namespace, r.name) == (namespace, name)
    ]
    return found


def test_the_gateway_api_examples_hold_no_finding_once_namespaces_are_unknown():
    context, findings = analyse("kubernetes-sigs__gateway-api")
    assert findings == []
    api = context.index.gateway_api
    assert len(api.routes) == 66 and len(api.gateways) > 10


def test_the_examples_are_judged_where_they_name_namespaces():
    context, _ = analyse("kubernetes-sigs__gateway-api")
    api = context.index.gateway_api
    # http-route-attachment: a Selector on kubernetes.io/metadata.name admits my-route
    my_route = route(context, "gateway-api-example-ns2", "my-route")
    [parent] = parent_refs(my_route)
    found, gateway = api.parent(parent)
    assert found is Found.PRESENT
    taken, refused = attached_listeners(api, parent, gateway)
    assert [listener.name for listener in taken] == ["prod-web"] and refused == []
    # tls-cert-cross-namespace: the certificate in ns2 is granted to Gateways of ns1
    [gateway] = [g for g in context.of_kind("Gateway") if g.name == "cross-namespace-tls-gateway"]
    [certificate] = certificate_refs(gateway)
    assert certificate.cross_namespace and api.grant_allows(certificate) is not None


def test_mcp_gateway_samples_name_a_gateway_and_a_service_the_repository_lacks():
    _, findings = analyse("kagenti__mcp-gateway")
    got = sorted((f.rule, f.path.split("/", 1)[1], f.resource.name) for f in findings)
    assert got == [
        ("backend-not-found", "config/samples/weather-route.yaml", "weather-route"),
        ("route-parent-not-found", "config/samples/httproute-calendar.yaml", "calendar-route"),
        ("route-parent-not-found", "config/samples/weather-route.yaml", "weather-route"),
    ]
    texts = {Path(f.path).name: (REAL_WORLD / f.path).read_text() for f in findings}
    # the samples name istio-system/istio-gateway; the repository's only Gateway API Gateway
    # is mcp-gateway, and weather-service exists only as an MCPServer, not as a Service
    assert "name: istio-gateway" in texts["weather-route.yaml"]
    assert "kind: Service\n" not in texts["weather-route.yaml"]
