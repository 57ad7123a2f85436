from rules import route_not_attached
from tests.helpers import findings_of, findings_with_unknown_namespaces

RULE = route_not_attached.ID


def gateway(*listeners: str, namespace: str = "ingress", cls: str = "istio") -> str:
    return (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
        f"metadata: {{name: public, namespace: {namespace}}}\n"
        f"spec:\n  gatewayClassName: {cls}\n  listeners:\n"
        + "".join(f"  - {listener}\n" for listener in listeners)
        + "---\n"
    )


def route(
    parent: str = "{name: public, namespace: ingress}",
    kind: str = "HTTPRoute",
    namespace: str = "shop",
) -> str:
    return (
        f"apiVersion: gateway.networking.k8s.io/v1\nkind: {kind}\n"
        f"metadata: {{name: shop, namespace: {namespace}}}\n"
        f"spec:\n  parentRefs:\n  - {parent}\n"
    )


def namespace(name: str, labels: str) -> str:
    return f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {labels}}}\n---\n"


HTTP = "{name: http, port: 80, protocol: HTTP}"
ALL = "{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}"
SELECTOR = (
    "{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Selector, "
    "selector: {matchLabels: {ingress: public}}}}}"
)


def test_listeners_admit_their_own_namespace_by_default():
    [finding] = findings_of(RULE, gateway(HTTP) + route())
    assert finding.severity == "error"
    assert (finding.line, finding.column) == (14, 5)
    assert finding.message == (
        "HTTPRoute shop/shop is not accepted by Gateway ingress/public: listener http admits "
        "routes only from its own namespace ingress (allowedRoutes.namespaces.from defaults to "
        "Same) (NotAllowedByListeners)"
    )
    assert not findings_of(RULE, gateway(HTTP) + route(namespace="ingress"))


def test_from_all_admits_every_namespace():
    assert not findings_of(RULE, gateway(ALL) + route())


def test_a_selector_is_judged_on_the_labels_of_the_namespace_in_the_repository():
    labelled = namespace("shop", "{ingress: public}")
    other = namespace("shop", "{ingress: private}")
    assert not findings_of(RULE, gateway(SELECTOR) + labelled + route())
    [finding] = findings_of(RULE, gateway(SELECTOR) + other + route())
    assert "admits routes only from namespaces labelled ingress=public" in finding.message
    # no Namespace object: its labels are unknown, nothing is said
    assert not findings_of(RULE, gateway(SELECTOR) + route())


def test_the_namespace_name_label_is_known_without_a_namespace_object():
    by_name = SELECTOR.replace("ingress: public", "kubernetes.io/metadata.name: shop")
    assert not findings_of(RULE, gateway(by_name) + route())
    assert findings_of(RULE, gateway(by_name) + route(namespace="cart"))
    expression = (
        "{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Selector, "
        "selector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, "
        "values: [shop, cart]}]}}}}"
    )
    assert not findings_of(RULE, gateway(expression) + route(namespace="cart"))
    assert findings_of(RULE, gateway(expression) + route(namespace="blog"))


def test_a_section_name_that_names_no_listener_is_no_matching_parent():
    parent = "{name: public, namespace: ingress, sectionName: https}"
    [finding] = findings_of(RULE, gateway(ALL) + route(parent))
    assert finding.message.endswith(
        "no listener matches sectionName 'https'; its listeners are http (port 80) "
        "(NoMatchingParent)"
    )
    assert not findings_of(RULE, gateway(ALL) + route(parent.replace("https", "http")))


def test_a_port_that_no_listener_listens_on():
    assert findings_of(RULE, gateway(ALL) + route("{name: public, namespace: ingress, port: 8080}"))
    assert not findings_of(
        RULE, gateway(ALL) + route("{name: public, namespace: ingress, port: 80}")
    )


def test_the_listener_protocol_decides_the_route_kinds():
    [finding] = findings_of(RULE, gateway(ALL) + route(kind="TCPRoute"))
    assert "listener http (HTTP) takes GRPCRoute, HTTPRoute" in finding.message
    assert not findings_of(RULE, gateway(ALL) + route(kind="GRPCRoute"))
    tls = "{name: tls, port: 443, protocol: TLS, tls: {mode: Passthrough}, allowedRoutes: {namespaces: {from: All}}}"
    assert not findings_of(RULE, gateway(tls) + route(kind="TLSRoute"))
    assert findings_of(RULE, gateway(tls) + route(kind="TCPRoute"))
    terminate = tls.replace("Passthrough", "Terminate")
    assert not findings_of(RULE, gateway(terminate) + route(kind="TCPRoute"))


def test_allowed_kinds_narrow_what_the_protocol_supports():
    grpc_only = (
        "{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}, "
        "kinds: [{kind: GRPCRoute}]}}"
    )
    [finding] = findings_of(RULE, gateway(grpc_only) + route())
    assert "takes GRPCRoute" in finding.message
    assert not findings_of(RULE, gateway(grpc_only) + route(kind="GRPCRoute"))


def test_one_listener_that_takes_the_route_is_enough():
    assert not findings_of(RULE, gateway(HTTP, ALL.replace("name: http", "name: public")) + route())


def test_waypoints_and_absent_gateways_are_not_judged():
    assert not findings_of(RULE, gateway(HTTP, cls="istio-waypoint") + route())
    assert not findings_of(RULE, route())


def test_unknown_namespaces_are_not_judged():
    gw = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: public}\nspec:\n  listeners: [%s]\n"
        % HTTP
    )
    rt = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: shop}\nspec:\n  parentRefs: [{name: public}]\n"
    assert findings_with_unknown_namespaces(RULE, {"a/gw.yaml": gw, "a/route.yaml": rt}) == []
    explicit = rt.replace("{name: public}", "{name: public, namespace: ingress}")
    known_gateway = gateway(HTTP)
    assert (
        findings_with_unknown_namespaces(RULE, {"gw.yaml": known_gateway, "b/r.yaml": explicit})
        == []
    )


def test_narrowing_allowed_routes_in_a_change_is_new_on_the_route():
    base = gateway(ALL) + route()
    head = gateway(HTTP) + route()
    [finding] = findings_of(RULE, head, base=base)
    assert finding.new and finding.resource.name == "shop"
