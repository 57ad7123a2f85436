from rules import waypoint_missing
from tests.helpers import findings_of, findings_with_unknown_namespaces

RULE = waypoint_missing.ID


def namespace(labels: str = "{istio.io/dataplane-mode: ambient}", name: str = "shop") -> str:
    return f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {labels}}}\n---\n"


def policy(
    rule: str, bind: str = "selector: {matchLabels: {app: frontend}}", action="ALLOW"
) -> str:
    return (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
        "metadata: {name: frontend, namespace: shop}\n"
        f"spec:\n  {bind}\n  action: {action}\n  rules:\n  - {rule}\n---\n"
    )


WAYPOINT = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop, labels: {istio.io/waypoint-for: service}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: frontend, namespace: shop%s}
spec: {ports: [{port: 8080}]}
---
"""
METHODS = "to: [{operation: {methods: [GET]}}]"
TO_SERVICE = "targetRefs: [{kind: Service, group: '', name: frontend}]"


def test_an_l7_allow_rule_bound_by_selector_in_an_ambient_namespace_is_dropped_by_ztunnel():
    [finding] = findings_of(RULE, namespace() + policy(METHODS))
    assert (finding.line, finding.severity) == (12, "error")
    assert (
        "(ALLOW) rule 1 matches HTTP attributes (methods) in ambient namespace shop"
        in finding.message
    )
    assert "the requests it should allow are denied" in finding.message


def test_every_http_attribute_ztunnel_ignores_is_named():
    rule = (
        "{from: [{source: {requestPrincipals: ['*']}}], to: [{operation: {paths: [/a], "
        "notHosts: [x]}}], when: [{key: 'request.headers[x-user]', values: [a]}]}"
    )
    [finding] = findings_of(RULE, namespace() + policy(rule))
    assert "(notHosts, paths, requestPrincipals, request.headers[x-user])" in finding.message


def test_a_deny_rule_with_http_attributes_denies_more_than_written():
    [finding] = findings_of(RULE, namespace() + policy(METHODS, action="DENY"))
    assert "denies more than written, or nothing" in finding.message


def test_l4_policies_sidecar_namespaces_and_waypoint_pods_are_left_alone():
    l4 = "{from: [{source: {principals: [a]}}], to: [{operation: {ports: ['8080']}}], when: [{key: source.ip, values: [10.0.0.1]}]}"
    assert not findings_of(RULE, namespace() + policy(l4))
    assert not findings_of(RULE, namespace("{istio-injection: enabled}") + policy(METHODS))
    assert not findings_of(RULE, policy(METHODS))  # no Namespace object: not known to be ambient
    on_waypoint = "selector: {matchLabels: {istio.io/gateway-name: waypoint}}"
    assert not findings_of(RULE, namespace() + policy(METHODS, bind=on_waypoint))


def test_a_target_service_bound_to_an_existing_waypoint_is_fine():
    ambient = namespace("{istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}")
    assert not findings_of(
        RULE, ambient + WAYPOINT + SERVICE % "" + policy(METHODS, bind=TO_SERVICE)
    )
    labelled = SERVICE % ", labels: {istio.io/use-waypoint: waypoint}"
    assert not findings_of(
        RULE, namespace() + WAYPOINT + labelled + policy(METHODS, bind=TO_SERVICE)
    )


def test_a_target_service_that_no_waypoint_serves_makes_the_policy_enforced_nowhere():
    [finding] = findings_of(RULE, namespace() + SERVICE % "" + policy(METHODS, bind=TO_SERVICE))
    assert finding.message == (
        "AuthorizationPolicy shop/frontend targets Service shop/frontend, which no waypoint "
        "serves (neither it nor Namespace shop is labelled istio.io/use-waypoint): ztunnel "
        "ignores `targetRefs` policies, so this policy is enforced nowhere"
    )
    opted_out = SERVICE % ", labels: {istio.io/use-waypoint: none}"
    ambient = namespace("{istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}")
    [finding] = findings_of(RULE, ambient + WAYPOINT + opted_out + policy(METHODS, bind=TO_SERVICE))
    assert "it is labelled istio.io/use-waypoint: none" in finding.message
    # without the Namespace object its labels are unknown
    assert not findings_of(RULE, SERVICE % "" + policy(METHODS, bind=TO_SERVICE))


def test_a_target_gateway_must_exist_where_the_repository_holds_gateways():
    to_gateway = "targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]"
    assert not findings_of(RULE, WAYPOINT + policy(METHODS, bind=to_gateway))
    missing = to_gateway.replace("name: waypoint", "name: waypont")
    [finding] = findings_of(RULE, WAYPOINT + policy(METHODS, bind=missing))
    assert "targets Gateway shop/waypont, which is not in this repository" in finding.message
    assert not findings_of(RULE, policy(METHODS, bind=missing))


def test_a_use_waypoint_label_must_name_a_waypoint_of_the_repository():
    labelled = namespace("{istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}")
    [finding] = findings_of(RULE, labelled)
    assert (finding.line, finding.column) == (3, 67)
    assert "no Gateway shop/waypoint in this repository" in finding.message
    assert not findings_of(RULE, labelled + WAYPOINT)
    assert not findings_of(RULE, namespace("{istio.io/use-waypoint: none}"))


def test_services_and_pods_and_other_namespaces():
    service = SERVICE % ", labels: {istio.io/use-waypoint: reviews-waypoint}"
    [finding] = findings_of(RULE, service)
    assert finding.resource.kind == "Service"
    deployment = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  template:
    metadata:
      labels: {app: frontend, istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: mesh}
    spec: {containers: [{name: app, image: app}]}
"""
    [finding] = findings_of(RULE, WAYPOINT + deployment)
    assert "no Gateway mesh/waypoint" in finding.message
    assert not findings_of(
        RULE,
        WAYPOINT.replace("namespace: shop", "namespace: mesh").replace("for: service", "for: all")
        + deployment,
    )


def test_an_unknown_namespace_is_not_judged():
    service = "apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: {istio.io/use-waypoint: waypoint}}\n"
    assert findings_with_unknown_namespaces(RULE, {"a/svc.yaml": service}) == []


def test_a_gateway_class_target_counts_only_from_the_root_namespace():
    to_class = (
        "targetRefs: [{kind: GatewayClass, group: gateway.networking.k8s.io, name: istio-waypoint}]"
    )
    [finding] = findings_of(RULE, policy(METHODS, bind=to_class))
    assert "only from the root namespace istio-system" in finding.message
    root = policy(METHODS, bind=to_class).replace("namespace: shop", "namespace: istio-system")
    assert not findings_of(RULE, root)


def test_a_mesh_route_in_an_ambient_namespace_needs_the_services_waypoint():
    route = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
        "metadata: {name: frontend, namespace: shop}\n"
        "spec:\n  parentRefs: [{group: '', kind: Service, name: frontend}]\n"
    )
    [finding] = findings_of(RULE, namespace() + SERVICE % "" + route)
    assert finding.resource.kind == "HTTPRoute" and finding.line == 14
    assert "(MissingUseWaypointLabel)" in finding.message
    ambient = namespace("{istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}")
    assert not findings_of(RULE, ambient + WAYPOINT + SERVICE % "" + route)
    labelled = SERVICE % ", labels: {istio.io/use-waypoint: waypoint}"
    assert not findings_of(RULE, namespace() + WAYPOINT + labelled + route)
    sidecars = namespace("{istio-injection: enabled}")
    assert not findings_of(RULE, sidecars + SERVICE % "" + route)


def test_a_waypoint_must_take_the_kind_of_traffic_bound_to_it():
    service = SERVICE % ", labels: {istio.io/use-waypoint: waypoint}"
    for_workloads = WAYPOINT.replace(
        "istio.io/waypoint-for: service", "istio.io/waypoint-for: workload"
    )
    [finding] = findings_of(RULE, for_workloads + service)
    assert "takes workload traffic (istio.io/waypoint-for), not service traffic" in finding.message
    for_all = WAYPOINT.replace("istio.io/waypoint-for: service", "istio.io/waypoint-for: all")
    assert not findings_of(RULE, for_all + service)
    unlabelled = WAYPOINT.replace(", labels: {istio.io/waypoint-for: service}", "")
    assert not findings_of(RULE, unlabelled + service)  # `service` is the default
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: job, namespace: shop, "
        "labels: {istio.io/use-waypoint: waypoint}}\nspec: {containers: [{name: a, image: a}]}\n"
    )
    [finding] = findings_of(RULE, WAYPOINT + pod)
    assert "takes service traffic (istio.io/waypoint-for), not workload traffic" in finding.message
    # a namespace label binds services and workloads alike: not judged
    ambient = namespace("{istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}")
    assert not findings_of(RULE, ambient + for_workloads)


def test_the_gateway_class_label_decides_when_the_waypoint_has_none():
    service = SERVICE % ", labels: {istio.io/use-waypoint: waypoint}"
    unlabelled = WAYPOINT.replace(", labels: {istio.io/waypoint-for: service}", "")
    gateway_class = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n"
        "metadata: {name: istio-waypoint, labels: {istio.io/waypoint-for: workload}}\n"
        "spec: {controllerName: istio.io/mesh-controller}\n---\n"
    )
    [finding] = findings_of(RULE, gateway_class + unlabelled + service)
    assert "takes workload traffic" in finding.message
    assert not findings_of(RULE, gateway_class + WAYPOINT + service)  # the Gateway's label wins
