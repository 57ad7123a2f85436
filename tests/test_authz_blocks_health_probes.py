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


def messages(head, cfg=""):
    return [f.message for f in run(head, cfg=cfg).findings if f.rule == RULE]


def test_examples():
    assert_findings(RULE, authz_blocks_health_probes.FAIL, (11, 3))
    assert_findings(RULE, authz_blocks_health_probes.PASS)


def test_allow_nothing_policies_deny_the_probes():
    assert_findings(RULE, ap("  {}\n"), (6, 1))
    assert_findings(RULE, ap("  action: ALLOW\n"), (7, 3))
    assert_findings(RULE, ap("  rules: []\n"), (7, 3))
    [message] = messages(ap("  {}\n"))
    assert message == (
        "AuthorizationPolicy bookinfo/policy (ALLOW) allows nothing to every workload of namespace "
        f"bookinfo, and no ALLOW policy for them admits {ALL_HEALTH} to callers without identity, "
        "so the kubelet's probes fail; if injection rewrites probes, set `probes_rewritten: true` "
        "in .github/footgun.yml"
    )


def test_workload_scoped_policy_with_identity_only_rules():
    assert_findings(RULE, ap(REVIEWS + FROM_PRODUCTPAGE), (9, 3))
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
    assert_findings(RULE, ap(REVIEWS + FROM_PRODUCTPAGE + rule))


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
    assert_findings(RULE, ap(REVIEWS + FROM_PRODUCTPAGE + rule), (9, 3))


def test_health_only_companion_in_the_same_namespace_makes_others_harmless():
    strict = ap(REVIEWS + FROM_PRODUCTPAGE, name="reviews")
    assert_findings(RULE, docs(strict, ap(HEALTH_ONLY, name="health")))
    assert_findings(RULE, docs(strict, ap(REVIEWS + HEALTH_ONLY, name="health")))
    broader = "  selector:\n    matchLabels: {app: reviews}\n"
    narrower = "  selector:\n    matchLabels: {app: reviews, version: v2}\n"
    companion = ap(broader + HEALTH_ONLY, name="h")
    assert_findings(RULE, docs(ap(narrower + FROM_PRODUCTPAGE), companion))


def test_companion_that_does_not_cover_the_same_workloads_does_not_help():
    strict = ap(REVIEWS + FROM_PRODUCTPAGE, name="reviews")
    ratings = "  selector:\n    matchLabels: {app: ratings}\n"
    assert_findings(RULE, docs(strict, ap(ratings + HEALTH_ONLY, name="health")), (9, 3))
    assert_findings(RULE, docs(strict, ap(HEALTH_ONLY, name="health", namespace="other")), (9, 3))
    narrower = "  selector:\n    matchLabels: {app: reviews, version: v2}\n"
    assert_findings(RULE, docs(strict, ap(narrower + HEALTH_ONLY, name="health")), (9, 3))


def test_root_namespace_mesh_wide_policies():
    deny_all = ap("  {}\n", name="deny-all", namespace="istio-system")
    assert_findings(RULE, deny_all, (6, 1))
    assert "allows nothing to every workload of the mesh" in messages(deny_all)[0]
    # A namespace's health policy does not cover the rest of the mesh...
    assert_findings(RULE, docs(deny_all, ap(HEALTH_ONLY, name="health")), (6, 1))
    # ...while a mesh-wide one covers every workload.
    mesh_health = ap(HEALTH_ONLY, name="health", namespace="istio-system")
    assert_findings(RULE, docs(deny_all, mesh_health, ap(REVIEWS + FROM_PRODUCTPAGE)))


def test_root_namespace_selector_policy_applies_everywhere():
    source = ap(REVIEWS + FROM_PRODUCTPAGE, namespace="istio-system")
    assert "workloads app=reviews in any namespace" in messages(source)[0]


def test_target_refs_audit_and_custom_are_ignored():
    gateway = "  targetRefs:\n  - {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\n"
    assert_findings(RULE, ap(gateway + FROM_PRODUCTPAGE))
    assert_findings(RULE, ap("  action: AUDIT\n  rules:\n  - {}\n"))
    assert_findings(RULE, ap("  action: CUSTOM\n  provider: {name: ext}\n  rules:\n  - {}\n"))


def test_deny_with_not_principals_blocks_health_paths():
    spec = "  action: DENY\n  rules:\n  - from:\n    - source:\n        notPrincipals: ['*']\n"
    assert_findings(RULE, ap(spec), (9, 5))
    assert messages(ap(spec))[0] == (
        f"AuthorizationPolicy bookinfo/policy (DENY) rule 1 denies {ALL_HEALTH} on every workload "
        "of namespace bookinfo to callers without identity, so the kubelet's probes fail; if "
        "injection rewrites probes, set `probes_rewritten: true` in .github/footgun.yml"
    )


@pytest.mark.parametrize("source", ["notNamespaces: [bookinfo]", "notRequestPrincipals: ['*']"])
def test_deny_with_negated_identities_on_some_health_paths(source):
    spec = (
        f"  action: DENY\n  rules:\n  - from:\n    - source: {{{source}}}\n"
        "    to:\n    - operation: {paths: [/metrics, '/ready*']}\n"
    )
    assert_findings(RULE, ap(spec), (9, 5))
    assert "rule 1 denies /ready, /readyz, /metrics on" in messages(ap(spec))[0]


def test_deny_without_from_and_without_to_denies_everything():
    assert_findings(RULE, ap("  action: DENY\n  rules:\n  - {}\n"), (9, 5))


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
    assert_findings(RULE, ap("  action: DENY\n  rules:\n" + rule))


def test_deny_is_reported_per_rule():
    spec = "  action: DENY\n  rules:\n  - to:\n    - operation: {paths: [/x]}\n  - {}\n  - {}\n"
    assert_findings(RULE, ap(spec), (11, 5))


def test_probes_rewritten_switch():
    source = docs(ap("  {}\n"), ap("  action: DENY\n  rules:\n  - {}\n", name="deny"))
    assert_findings(RULE, source, (6, 1), (17, 5))
    assert_findings(RULE, source, cfg="probes_rewritten: true\n")
    assert_findings(RULE, source, (6, 1), (17, 5), cfg="probes_rewritten: false\n")


def test_configured_health_paths():
    status = "  rules:\n  - to:\n    - operation: {paths: [/status]}\n"
    assert_findings(RULE, ap(status), (7, 3))
    assert_findings(RULE, ap(status), cfg="health_paths: [/status]\n")
    assert_findings(RULE, ap(HEALTH_ONLY), (7, 3), cfg="health_paths: [/status, /ping]\n")
    message = messages(ap(HEALTH_ONLY), cfg="health_paths: [/status, /ping]\n")[0]
    assert "admits /status, /ping to callers without identity" in message


def test_ambient_namespaces_are_left_alone():
    namespace = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bookinfo\n  labels:\n"
        "    istio.io/dataplane-mode: ambient\n"
    )
    assert_findings(RULE, docs(namespace, ap("  {}\n")))
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: bookinfo\n"
        "  annotations:\n    ambient.istio.io/redirection: enabled\nspec: {}\n"
    )
    assert_findings(RULE, docs(pod, ap("  {}\n")))
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: bookinfo\n"
        "spec:\n  template:\n    metadata:\n      labels:\n"
        "        istio.io/dataplane-mode: ambient\n"
    )
    assert_findings(RULE, docs(deployment, ap("  {}\n")))
    assert_findings(RULE, docs(deployment.replace("bookinfo", "other"), ap("  {}\n")), (17, 1))


def test_fingerprint_does_not_depend_on_where_the_finding_points():
    before = run(ap(REVIEWS + "  action: ALLOW\n")).findings
    allow = REVIEWS + "  action: ALLOW\n"
    after = run(ap(allow + FROM_PRODUCTPAGE), ap(allow))
    [old], [new] = [[f for f in r if f.rule == RULE] for r in (before, after.findings)]
    assert old.fingerprint == new.fingerprint and new.new is False


def fixture(*parts: str) -> str:
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip("fixtures absent")
    return path.read_text()


def test_fixture_kiali_policies_admit_probes_through_negated_sources():
    assert_findings(RULE, fixture("istio-samples", "kiali", "authz_policy_requires_mtls.yaml"))


def test_fixture_istio_analyzers_policies():
    source = fixture("istio-analyzers", "authorizationpolicies.yaml")
    assert_findings(
        RULE, source, (74, 3), (96, 1), (104, 1), (115, 3), (138, 3), (165, 3), (208, 3), (241, 3)
    )


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
    assert_findings(RULE, docs(gateway, policy), *([] if gateway_pods else [(15, 1)]))
    expected = [] if gateway_pods and known_without_the_gateway else [(6, 1)]
    assert_findings(RULE, policy, *expected)


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
