import pytest

from rules import authz_unscoped
from tests.helpers import assert_findings, run

RULE = "authz-unscoped"


def ap(spec: str, name: str = "policy", namespace: str = "bookinfo") -> str:
    """An AuthorizationPolicy; its spec starts on line 7."""
    return (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{spec}"
    )


OPEN_GET = "  rules:\n  - to:\n    - operation:\n        methods: [GET]\n"
HEALTH_ONLY = "  rules:\n  - to:\n    - operation:\n        paths: [/healthz, /ready]\n"


def messages(head, cfg=""):
    return [f.message for f in run(head, cfg=cfg).findings if f.rule == RULE]


def test_examples():
    assert_findings(RULE, authz_unscoped.FAIL, (9, 5))
    assert_findings(RULE, authz_unscoped.PASS)


@pytest.mark.parametrize("action", ["", "  action: ALLOW\n"])
def test_namespace_wide_rule_without_from(action):
    assert_findings(RULE, ap(action + OPEN_GET), (8 + bool(action), 5))
    [message] = messages(ap(action + OPEN_GET))
    assert message == (
        "AuthorizationPolicy bookinfo/policy has no selector and its rule 1 has no `from`: it "
        "opens methods GET on every workload of namespace bookinfo to any caller, plaintext ones "
        "without identity included"
    )


def test_root_namespace_opens_the_whole_mesh():
    source = ap("  rules:\n  - {}\n", name="allow-all", namespace="istio-system")
    assert_findings(RULE, source, (8, 5))
    [message] = messages(source)
    assert "it opens every workload of the mesh to any caller" in message
    custom = ap("  rules:\n  - {}\n", namespace="mesh-root")
    assert "of the mesh" in messages(custom, cfg="root_namespace: mesh-root\n")[0]


@pytest.mark.parametrize(
    "spec",
    [
        "  {}\n",
        "  action: ALLOW\n",
        "  rules: []\n",
        "  action: DENY\n  rules:\n  - {}\n",
        "  action: AUDIT\n  rules:\n  - {}\n",
        "  action: CUSTOM\n  provider: {name: ext-authz}\n  rules:\n  - {}\n",
    ],
    ids=["allow-nothing", "action-only", "no-rules", "deny-all", "audit", "custom"],
)
def test_allow_nothing_and_other_actions_are_not_flagged(spec):
    assert_findings(RULE, ap(spec))


@pytest.mark.parametrize(
    "scope",
    [
        "  selector:\n    matchLabels: {app: reviews}\n",
        "  targetRefs:\n  - {kind: Gateway, group: gateway.networking.k8s.io, name: ingress}\n",
        "  targetRef: {kind: Service, group: '', name: reviews}\n",
    ],
    ids=["selector", "targetRefs", "targetRef"],
)
def test_scoped_policies_are_not_flagged(scope):
    assert_findings(RULE, ap(scope + OPEN_GET))
    assert_findings(RULE, ap(scope + OPEN_GET, namespace="istio-system"))


def test_empty_selector_is_namespace_wide():
    assert_findings(RULE, ap("  selector: {matchLabels: {}}\n" + OPEN_GET), (9, 5))


def test_rules_with_callers_are_not_flagged():
    spec = (
        "  rules:\n  - from:\n    - source:\n        namespaces: [bookinfo]\n"
        "  - from:\n    - source:\n        ipBlocks: [10.0.0.0/8]\n"
        "  - when:\n    - key: source.principal\n      values: [cluster.local/ns/a/sa/b]\n"
        "  - when:\n    - key: request.auth.claims[iss]\n      values: [https://issuer]\n"
    )
    assert_findings(RULE, ap(spec))


def test_each_open_rule_is_its_own_finding():
    spec = (
        "  rules:\n  - from:\n    - source: {principals: [a]}\n"
        "  - to:\n    - operation: {paths: [/api/*]}\n"
        "  - from:\n    - source: {}\n"
        "  - from: []\n    when:\n    - key: request.headers[x-debug]\n      values: ['1']\n"
    )
    assert_findings(RULE, ap(spec), (10, 5), (12, 5), (14, 5))
    first, second, third = messages(ap(spec))
    assert "rule 2 has no `from`: it opens paths /api/* on every workload" in first
    assert "rule 3" in second and "rule 4" in third


def test_health_only_rule_is_the_documented_fix():
    assert_findings(RULE, ap(HEALTH_ONLY))
    assert_findings(RULE, ap(HEALTH_ONLY, namespace="istio-system"))


def test_health_rule_must_list_exact_health_paths_only():
    mixed = HEALTH_ONLY.replace("/ready]", "/ready, /admin]")
    prefix = HEALTH_ONLY.replace("[/healthz, /ready]", "[/health*]")
    methods_only = HEALTH_ONLY.replace("paths: [/healthz, /ready]", "methods: [GET]")
    second_op = HEALTH_ONLY + "    - operation: {methods: [POST]}\n"
    for spec in (mixed, prefix, methods_only, second_op):
        assert_findings(RULE, ap(spec), (8, 5))


def test_configured_health_paths_decide_the_exemption():
    custom = HEALTH_ONLY.replace("[/healthz, /ready]", "[/status]")
    assert_findings(RULE, ap(custom), (8, 5))
    assert_findings(RULE, ap(custom), cfg="health_paths: [/status]\n")
    assert_findings(RULE, ap(HEALTH_ONLY), (8, 5), cfg="health_paths: [/status]\n")


def test_fingerprint_follows_the_rule_not_its_index():
    open_rule = "  - to:\n    - operation: {methods: [GET]}\n"
    [before] = [f for f in run(ap("  rules:\n" + open_rule)).findings if f.rule == RULE]
    head = ap("  rules:\n  - from:\n    - source: {namespaces: [x]}\n" + open_rule)
    [after] = [f for f in run(head, ap("  rules:\n" + open_rule)).findings if f.rule == RULE]
    assert before.fingerprint == after.fingerprint and after.new is False
