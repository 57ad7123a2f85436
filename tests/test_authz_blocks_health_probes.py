import pytest

from rules import authz_blocks_health_probes
from tests.helpers import FIXTURES, assert_findings, run

RULE = "authz-blocks-health-probes"
ALL_HEALTH = "/health, /healthz, /ready, /readyz, /livez, /metrics"


def ap(spec: str, name: str = "policy", namespace: str = "bookinfo") -> str:
    """An AuthorizationPolicy; its spec starts on line 7."""
    return (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{spec}"
    )


def docs(*texts: str) -> str:
    return "---\n".join(texts)


REVIEWS = "  selector:\n    matchLabels: {app: reviews}\n"
FROM_PRODUCTPAGE = (
    "  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/bookinfo/sa/productpage]}\n"
)
HEALTH_ONLY = "  rules:\n  - to:\n    - operation: {paths: [/healthz]}\n"


OFF = "probes_rewritten: false\n"
"""Most tests read policies for a mesh that does not rewrite probes, with no workloads in the
repository: the configured health paths then stand for the probes."""


def expect(head, *positions, cfg=OFF):
    assert_findings(RULE, head, *positions, cfg=cfg)


def messages(head, cfg=OFF):
    return [f.message for f in run(head, cfg=cfg).findings if f.rule == RULE]


def test_examples():
    """The examples hold with the default config: the pod turns rewriting off itself."""
    expect(authz_blocks_health_probes.FAIL, (31, 3), cfg="")
    expect(authz_blocks_health_probes.PASS, cfg="")


def test_allow_nothing_policies_deny_the_probes():
    expect(ap("  {}\n"), (6, 1))
    expect(ap("  action: ALLOW\n"), (7, 3))
    expect(ap("  rules: []\n"), (7, 3))
    [message] = messages(ap("  {}\n"))
    assert message == (
        "AuthorizationPolicy bookinfo/policy (ALLOW) allows nothing to every workload of namespace "
        f"bookinfo, and no ALLOW policy for them admits {ALL_HEALTH} to callers without identity. "
        "The kubelet's probes reach authorization because probe rewriting is off "
        "(probes_rewritten: false in .github/footgun.yml), so they fail; admit these paths in a "
        "rule without `from`, or leave probe rewriting on"
    )


def test_workload_scoped_policy_with_identity_only_rules():
    expect(ap(REVIEWS + FROM_PRODUCTPAGE), (9, 3))
    assert (
        "denies everything it does not allow to workloads app=reviews in bookinfo"
        in messages(ap(REVIEWS + FROM_PRODUCTPAGE))[0]
    )


@pytest.mark.parametrize(
    "rule",
    [
        "  - {}\n",
        "  - to:\n    - operation: {methods: [GET], paths: [/healthz]}\n",
        "  - from:\n    - source: {ipBlocks: [10.0.0.0/8]}\n"
        "    to:\n    - operation: {paths: [/ready]}\n",
        "  - from:\n    - source: {remoteIpBlocks: [10.0.0.0/8]}\n",
        "  - from:\n    - source: {principals: [a]}\n    - source: {notPrincipals: ['*']}\n",
        "  - to:\n    - operation: {paths: ['/health*']}\n",
        "  - to:\n    - operation: {paths: ['*z']}\n",
        "  - to:\n    - operation: {paths: ['*']}\n",
        "  - to:\n    - operation: {paths: ['/{*}']}\n",
        "  - to:\n    - operation: {notPaths: [/admin]}\n",
        "  - to:\n    - operation: {paths: [/api]}\n    - operation: {paths: [/livez]}\n",
        "  - when:\n    - key: request.headers[user-agent]\n      values: ['kube-probe/*']\n",
    ],
    ids=[
        "open",
        "exact",
        "ipblocks",
        "remote-ipblocks",
        "negated",
        "prefix",
        "suffix",
        "presence",
        "template",
        "not-paths-elsewhere",
        "second-operation",
        "header-condition",
    ],
)
def test_a_rule_admitting_the_kubelet_on_a_health_path(rule):
    expect(ap(REVIEWS + FROM_PRODUCTPAGE + rule))


@pytest.mark.parametrize(
    "rule",
    [
        "  - from:\n    - source: {namespaces: [bookinfo]}\n"
        "    to:\n    - operation: {paths: [/healthz]}\n",
        "  - from:\n    - source: {requestPrincipals: ['*']}\n",
        "  - to:\n    - operation: {paths: [/healthz], methods: [POST]}\n",
        "  - to:\n    - operation: {notPaths: ['*']}\n",
        "  - to:\n    - operation: {paths: ['/api/*', '*.json', /status]}\n",
        "  - to:\n    - operation: {paths: ['/health*'], notPaths: ['/health*']}\n",
        "  - to:\n    - operation: {notMethods: [GET]}\n",
        "  - when:\n    - key: request.auth.claims[iss]\n      values: [https://issuer]\n",
        "  - when:\n    - key: source.namespace\n      values: [bookinfo]\n",
    ],
    ids=[
        "namespaces",
        "jwt",
        "post-only",
        "no-path",
        "other-paths",
        "excluded",
        "not-get",
        "jwt-condition",
        "namespace-condition",
    ],
)
def test_a_rule_that_does_not_admit_the_kubelet(rule):
    expect(ap(REVIEWS + FROM_PRODUCTPAGE + rule), (9, 3))


def test_health_only_companion_in_the_same_namespace_makes_others_harmless():
    strict = ap(REVIEWS + FROM_PRODUCTPAGE, name="reviews")
    expect(docs(strict, ap(HEALTH_ONLY, name="health")))
    expect(docs(strict, ap(REVIEWS + HEALTH_ONLY, name="health")))
    broader = "  selector:\n    matchLabels: {app: reviews}\n"
    narrower = "  selector:\n    matchLabels: {app: reviews, version: v2}\n"
    companion = ap(broader + HEALTH_ONLY, name="h")
    expect(docs(ap(narrower + FROM_PRODUCTPAGE), companion))


def test_companion_that_does_not_cover_the_same_workloads_does_not_help():
    strict = ap(REVIEWS + FROM_PRODUCTPAGE, name="reviews")
    ratings = "  selector:\n    matchLabels: {app: ratings}\n"
    expect(docs(strict, ap(ratings + HEALTH_ONLY, name="health")), (9, 3))
    expect(docs(strict, ap(HEALTH_ONLY, name="health", namespace="other")), (9, 3))
    narrower = "  selector:\n    matchLabels: {app: reviews, version: v2}\n"
    expect(docs(strict, ap(narrower + HEALTH_ONLY, name="health")), (9, 3))


def test_root_namespace_mesh_wide_policies():
    deny_all = ap("  {}\n", name="deny-all", namespace="istio-system")
    expect(deny_all, (6, 1))
    assert "allows nothing to every workload of the mesh" in messages(deny_all)[0]
    # A namespace's health policy does not cover the rest of the mesh...
    expect(docs(deny_all, ap(HEALTH_ONLY, name="health")), (6, 1))
    # ...while a mesh-wide one covers every workload.
    mesh_health = ap(HEALTH_ONLY, name="health", namespace="istio-system")
    expect(docs(deny_all, mesh_health, ap(REVIEWS + FROM_PRODUCTPAGE)))


def test_root_namespace_selector_policy_applies_everywhere():
    source = ap(REVIEWS + FROM_PRODUCTPAGE, namespace="istio-system")
    assert "workloads app=reviews in any namespace" in messages(source)[0]


def test_target_refs_audit_and_custom_are_ignored():
    gateway = "  targetRefs:\n  - {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\n"
    expect(ap(gateway + FROM_PRODUCTPAGE))
    expect(ap("  action: AUDIT\n  rules:\n  - {}\n"))
    expect(ap("  action: CUSTOM\n  provider: {name: ext}\n  rules:\n  - {}\n"))


def test_deny_with_not_principals_blocks_health_paths():
    spec = "  action: DENY\n  rules:\n  - from:\n    - source:\n        notPrincipals: ['*']\n"
    expect(ap(spec), (9, 5))
    assert messages(ap(spec))[0] == (
        f"AuthorizationPolicy bookinfo/policy (DENY) rule 1 denies {ALL_HEALTH} on every workload "
        "of namespace bookinfo to callers without identity. The kubelet's probes reach "
        "authorization because probe rewriting is off (probes_rewritten: false in "
        ".github/footgun.yml), so they fail; exclude these paths with `notPaths`, or leave probe "
        "rewriting on"
    )


@pytest.mark.parametrize("source", ["notNamespaces: [bookinfo]", "notRequestPrincipals: ['*']"])
def test_deny_with_negated_identities_on_some_health_paths(source):
    spec = (
        f"  action: DENY\n  rules:\n  - from:\n    - source: {{{source}}}\n"
        "    to:\n    - operation: {paths: [/metrics, '/ready*']}\n"
    )
    expect(ap(spec), (9, 5))
    assert "rule 1 denies /ready, /readyz, /metrics on" in messages(ap(spec))[0]


def test_deny_without_from_and_without_to_denies_everything():
    expect(ap("  action: DENY\n  rules:\n  - {}\n"), (9, 5))


@pytest.mark.parametrize(
    "rule",
    [
        "  - to:\n    - operation: {paths: ['/admin*']}\n",
        "  - from:\n    - source: {principals: [a]}\n",
        "  - from:\n    - source: {notPrincipals: ['*'], namespaces: [x]}\n",
        "  - from:\n    - source: {ipBlocks: [1.2.3.4]}\n",
        "  - to:\n    - operation: {notPaths: ['/health*', '/ready*', /livez, /metrics]}\n",
        "  - to:\n    - operation: {ports: ['8080']}\n",
        "  - to:\n    - operation: {methods: [POST]}\n",
        "  - when:\n    - key: request.headers[x-debug]\n      values: ['1']\n",
    ],
    ids=["other-paths", "principals", "mixed-source", "ip", "not-paths", "ports", "post", "when"],
)
def test_deny_rules_that_spare_the_probes(rule):
    expect(ap("  action: DENY\n  rules:\n" + rule))


def test_deny_is_reported_per_rule():
    spec = "  action: DENY\n  rules:\n  - to:\n    - operation: {paths: [/x]}\n  - {}\n  - {}\n"
    expect(ap(spec), (11, 5))


def test_probes_rewritten_switch():
    source = docs(ap("  {}\n"), ap("  action: DENY\n  rules:\n  - {}\n", name="deny"))
    expect(source, (6, 1), (17, 5))
    expect(source, cfg="probes_rewritten: true\n")
    expect(source, (6, 1), (17, 5), cfg="probes_rewritten: false\n")


def test_configured_health_paths():
    status = "  rules:\n  - to:\n    - operation: {paths: [/status]}\n"
    expect(ap(status), (7, 3))
    expect(ap(status), cfg=OFF + "health_paths: [/status]\n")
    expect(ap(HEALTH_ONLY), (7, 3), cfg=OFF + "health_paths: [/status, /ping]\n")
    message = messages(ap(HEALTH_ONLY), cfg=OFF + "health_paths: [/status, /ping]\n")[0]
    assert "admits /status, /ping to callers without identity" in message


def test_ambient_namespaces_are_left_alone():
    namespace = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bookinfo\n  labels:\n"
        "    istio.io/dataplane-mode: ambient\n"
    )
    expect(docs(namespace, ap("  {}\n")))
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: bookinfo\n"
        "  annotations:\n    ambient.istio.io/redirection: enabled\nspec: {}\n"
    )
    expect(docs(pod, ap("  {}\n")))
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: bookinfo\n"
        "spec:\n  template:\n    metadata:\n      labels:\n"
        "        istio.io/dataplane-mode: ambient\n"
    )
    expect(docs(deployment, ap("  {}\n")))
    expect(docs(deployment.replace("bookinfo", "other"), ap("  {}\n")), (17, 1))


def test_fingerprint_does_not_depend_on_where_the_finding_points():
    before = run(ap(REVIEWS + "  action: ALLOW\n"), cfg=OFF).findings
    allow = REVIEWS + "  action: ALLOW\n"
    after = run(ap(allow + FROM_PRODUCTPAGE), ap(allow), cfg=OFF)
    [old], [new] = [[f for f in r if f.rule == RULE] for r in (before, after.findings)]
    assert old.fingerprint == new.fingerprint and new.new is False


def fixture(*parts: str) -> str:
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip("fixtures absent")
    return path.read_text()


def test_fixture_kiali_policies_admit_probes_through_negated_sources():
    expect(fixture("istio-samples", "kiali", "authz_policy_requires_mtls.yaml"))


def test_fixture_istio_analyzers_policies():
    """Its pods have no probes: with rewriting off, only the policies whose workloads the
    repository does not hold are judged by the health paths (a bogus version mesh-wide, an empty
    namespace, a bogus label); with Istio's default rewriting, nothing."""
    source = fixture("istio-analyzers", "authorizationpolicies.yaml")
    expect(source, (104, 1), (115, 3), (165, 3))
    expect(source, cfg="")


@pytest.mark.parametrize(
    "labels",
    [
        "gateway.networking.k8s.io/gateway-name: bookinfo-gateway",
        "istio: ingressgateway",
        "app: istio-egressgateway",
        "team: edge",
        "app: api-gateway",
    ],
)
def test_policies_on_gateway_pods_are_left_alone(labels):
    gateway = (
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: edge\n"
        "spec:\n  selector:\n    team: edge\n  servers: []\n"
    )
    policy = ap(f"  selector:\n    matchLabels:\n      {labels}\n")
    gateway_pods = labels != "app: api-gateway"  # a user's app named like a gateway has a sidecar
    known_without_the_gateway = labels != "team: edge"
    expect(docs(gateway, policy), *([] if gateway_pods else [(15, 1)]))
    expected = [] if gateway_pods and known_without_the_gateway else [(6, 1)]
    expect(policy, *expected)


MALFORMED_SPECS = [
    "spec: x",
    "spec: []",
    "spec:\n  rules: x",
    "spec:\n  rules: [x, 1, null]",
    "spec:\n  rules:\n  - from: x\n    to: 3\n    when: x",
    "spec:\n  rules:\n  - from: [x, {source: x}, {source: {principals: x, notPrincipals: {a: 1}}}]",
    "spec:\n  rules:\n"
    "  - to: [{operation: x}, {operation: {paths: 5, methods: x, notPaths: [1, null]}}]",
    "spec:\n  rules:\n  - when: [x, {key: 5, values: x}, {values: [1]}]",
    "spec:\n  action: 5\n  selector: x",
    "spec:\n  action: DENY\n  selector: {matchLabels: [a]}\n  rules:\n"
    "  - to: [{operation: {paths: ['{*}', '{**}/x', '']}}]",
    "spec:\n  targetRefs: x\n  mtls: x\n  portLevelMtls: [1, 2]",
    "spec:\n  selector: {matchLabels: {a: [1]}}\n  mtls: {mode: 5}\n"
    "  portLevelMtls: {8080: x, 9090: {mode: []}}",
    "spec:\n  host: [a, b]\n  trafficPolicy: x\n"
    "  subsets: [x, {name: v1, trafficPolicy: {tls: x, portLevelSettings: x}}]",
    "spec:\n  host: {a: b}\n  trafficPolicy:\n    tls: {mode: DISABLE}\n"
    "    portLevelSettings: [x, {port: 9, tls: {mode: disable}}]",
]


@pytest.mark.parametrize("spec", MALFORMED_SPECS)
@pytest.mark.parametrize(
    "kind",
    [
        "security.istio.io/v1 AuthorizationPolicy",
        "security.istio.io/v1 PeerAuthentication",
        "networking.istio.io/v1 DestinationRule",
    ],
)
def test_malformed_specs_never_crash_the_mesh_security_rules(kind, spec):
    """Bad input: the rules report what they can and never raise, at head and against a base."""
    api_version, kind_name = kind.split()
    source = f"apiVersion: {api_version}\nkind: {kind_name}\nmetadata:\n  name: x\n{spec}\n"
    good = ap("  mtls: {mode: STRICT}\n").replace("AuthorizationPolicy", kind_name)
    good = good.replace("security.istio.io/v1", api_version)
    run(source)
    run(source, base=good)
    run(good, base=source)


# --- Probe rewriting and the repository's own probes ------------------------------------------


def deployment(
    name="reviews",
    probes="",
    annotations="",
    labels="{app: reviews}",
    ports="",
    namespace="bookinfo",
):
    """A Deployment whose container `app` has the given probe lines (6-space indented keys)."""
    notes = f"      annotations:\n{annotations}" if annotations else ""
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n"
        f"  namespace: {namespace}\nspec:\n  template:\n    metadata:\n"
        f"      labels: {labels}\n{notes}    spec:\n      containers:\n      - name: app\n"
        f"        image: example/app:1\n{ports}{probes}"
    )


READY_HEALTHZ = "        readinessProbe:\n          httpGet: {path: /healthz, port: 9080}\n"
LIVE_READY = "        livenessProbe:\n          httpGet: {path: /ready, port: http}\n"
NAMED_PORT = "        ports:\n        - {name: http, containerPort: 9080}\n"
NO_REWRITE = '        sidecar.istio.io/rewriteAppHTTPProbers: "false"\n'
OPERATOR_NO_REWRITE = (
    "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata:\n  name: cp\n"
    "  namespace: istio-system\nspec:\n  values:\n    sidecarInjectorWebhook:\n"
    "      rewriteAppHTTPProbe: false\n"
)
STRICT_REVIEWS = ap(REVIEWS + FROM_PRODUCTPAGE, name="reviews")


def test_default_istio_rewrites_probes_so_policies_alone_are_fine():
    expect(docs(ap("  {}\n"), ap("  action: DENY\n  rules:\n  - {}\n", name="d")), cfg="")
    expect(docs(deployment(probes=READY_HEALTHZ), STRICT_REVIEWS), cfg="")


def test_mesh_values_turning_rewriting_off_make_probes_reach_authorization():
    source = docs(OPERATOR_NO_REWRITE, deployment(probes=READY_HEALTHZ), STRICT_REVIEWS)
    [finding] = [f for f in run(source).findings if f.rule == RULE]
    assert finding.resource.name == "reviews" and finding.resource.kind == "AuthorizationPolicy"
    assert (
        "admits Deployment bookinfo/reviews container app readinessProbe httpGet /healthz "
        "port 9080 to callers without identity" in finding.message
    )
    assert (
        "probe rewriting is off (IstioOperator istio-system/cp sets "
        "spec.values.sidecarInjectorWebhook.rewriteAppHTTPProbe: false)" in finding.message
    )
    # Without workloads in the repository, the health paths stand for the probes.
    assert "admits /health, /healthz" in messages(docs(OPERATOR_NO_REWRITE, ap("  {}\n")), "")[0]


def test_helm_values_and_the_rendered_injector_configmap_turn_rewriting_off():
    values = "meshConfig: {}\nsidecarInjectorWebhook:\n  rewriteAppHTTPProbe: false\n"
    found_messages = messages({"istiod-values.yaml": values, "mesh.yaml": ap("  {}\n")}, "")
    assert "(Helm values file istiod-values.yaml sets sidecarInjectorWebhook." in found_messages[0]
    injector = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio-sidecar-injector\n"
        "  namespace: istio-system\ndata:\n"
        '  values: \'{"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": false}}\'\n'
    )
    expect(docs(injector, ap("  {}\n")), (14, 1), cfg="")
    expect(docs(injector.replace("false", "true"), ap("  {}\n")), cfg="")
    # Another namespace's ConfigMap of that name is not the injector's.
    expect(docs(injector.replace("istio-system", "apps"), ap("  {}\n")), cfg="")


def test_pod_annotation_turns_rewriting_off_or_back_on():
    off = deployment(probes=READY_HEALTHZ, annotations=NO_REWRITE)
    [message] = messages(docs(off, STRICT_REVIEWS), "")
    assert (
        "Deployment bookinfo/reviews sets the pod annotation "
        'sidecar.istio.io/rewriteAppHTTPProbers: "false"' in message
    )
    back_on = deployment(
        probes=READY_HEALTHZ, annotations='        sidecar.istio.io/rewriteAppHTTPProbers: "true"\n'
    )
    expect(docs(OPERATOR_NO_REWRITE, back_on, STRICT_REVIEWS))
    # Go's ParseBool reads "0" as false; an unparsable value leaves the mesh setting.
    zero = deployment(probes=READY_HEALTHZ, annotations=NO_REWRITE.replace('"false"', '"0"'))
    assert len(messages(docs(zero, STRICT_REVIEWS), "")) == 1
    junk = deployment(probes=READY_HEALTHZ, annotations=NO_REWRITE.replace('"false"', '"no"'))
    expect(docs(junk, STRICT_REVIEWS), cfg="")
    assert len(messages(docs(junk, STRICT_REVIEWS))) == 1


def test_policy_over_pods_without_probes_is_fine():
    """Near-miss: rewriting off, a deny-by-default policy, but its pods are not probed."""
    expect(docs(OPERATOR_NO_REWRITE, deployment(), STRICT_REVIEWS))
    exec_probe = "        readinessProbe:\n          exec: {command: [cat, /tmp/ready]}\n"
    expect(docs(OPERATOR_NO_REWRITE, deployment(probes=exec_probe), STRICT_REVIEWS))


def test_tcp_probes_pass_grpc_probes_are_requests():
    tcp = "        readinessProbe:\n          tcpSocket: {port: 9080}\n"
    expect(docs(deployment(probes=tcp), STRICT_REVIEWS))
    grpc = "        livenessProbe:\n          grpc: {port: 9090}\n"
    [message] = messages(docs(deployment(probes=grpc), STRICT_REVIEWS))
    assert "container app livenessProbe grpc /grpc.health.v1.Health/Check port 9090" in message
    health_rule = "  - to:\n    - operation: {paths: [/grpc.health.v1.Health/Check]}\n"
    expect(docs(deployment(probes=grpc), ap(REVIEWS + FROM_PRODUCTPAGE + health_rule)))
    get_only = health_rule.replace("{paths", "{methods: [GET], paths")
    assert messages(docs(deployment(probes=grpc), ap(REVIEWS + FROM_PRODUCTPAGE + get_only)))


def test_only_workloads_with_blocked_probes_are_named():
    healthz_only = ap("  rules:\n  - to:\n    - operation: {paths: [/healthz]}\n", name="ns")
    fine = deployment(name="good", probes=READY_HEALTHZ, labels="{app: good}")
    blocked = deployment(name="bad", probes=NAMED_PORT + LIVE_READY, labels="{app: bad}")
    [message] = messages(docs(fine, blocked, healthz_only))
    assert (
        "Deployment bookinfo/bad container app livenessProbe httpGet /ready port http (9080)"
        in (message)
    )
    assert "bookinfo/good" not in message


def test_a_health_rule_for_another_port_does_not_admit_the_probe():
    other_port = "  - to:\n    - operation: {paths: [/healthz], ports: ['8080']}\n"
    policy = ap(REVIEWS + FROM_PRODUCTPAGE + other_port)
    expect(docs(deployment(probes=READY_HEALTHZ), policy), (25, 3))
    same_port = other_port.replace("8080", "9080")
    expect(docs(deployment(probes=READY_HEALTHZ), ap(REVIEWS + FROM_PRODUCTPAGE + same_port)))


def test_selected_workloads_without_sidecars_are_not_judged():
    no_sidecar = deployment(
        probes=READY_HEALTHZ, annotations='        sidecar.istio.io/inject: "false"\n'
    )
    expect(docs(no_sidecar, STRICT_REVIEWS))


def test_deny_rules_judge_the_repository_probes():
    deny = ap("  action: DENY\n  rules:\n  - to:\n    - operation: {paths: ['/health*']}\n")
    expect(docs(deployment(probes=READY_HEALTHZ), deny), (25, 5))
    assert (
        "denies Deployment bookinfo/reviews container app readinessProbe httpGet /healthz"
        in (messages(docs(deployment(probes=READY_HEALTHZ), deny))[0])
    )
    expect(docs(deployment(probes=NAMED_PORT + LIVE_READY), deny))
