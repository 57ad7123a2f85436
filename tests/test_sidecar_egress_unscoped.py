from rules import sidecar_egress_unscoped
from tests.helpers import assert_findings, run

RULE = "sidecar-egress-unscoped"

SIDECAR = """\
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: shop
spec:
{spec}"""


def sidecar(spec: str) -> str:
    return SIDECAR.format(spec=spec)


def test_fail_example_is_flagged_and_pass_example_is_not():
    assert_findings(RULE, sidecar_egress_unscoped.FAIL, (9, 7))
    assert_findings(RULE, sidecar_egress_unscoped.PASS)


def test_star_slash_star_is_flagged_on_the_host():
    source = sidecar('  egress:\n  - hosts:\n    - "./*"\n    - "*/*"\n')
    [finding] = run(source).findings
    assert (finding.line, finding.column) == (10, 7)
    assert "Sidecar shop/default egress host '*/*'" in finding.message


def test_each_listener_with_star_slash_star_is_flagged():
    source = sidecar(
        "  egress:\n"
        "  - port: {number: 9080, protocol: HTTP, name: http}\n"
        "    hosts: ['*/*']\n"
        "  - hosts: [./*, '*/*']\n"
    )
    assert_findings(RULE, source, (9, 13), (10, 18))


def test_no_egress_is_flagged():
    assert_findings(
        RULE,
        sidecar(
            "  ingress:\n  - port: {number: 9080, protocol: HTTP, name: http}\n"
            "    defaultEndpoint: 127.0.0.1:8080\n"
        ),
        (6, 1),
    )
    assert_findings(RULE, sidecar("  egress: []\n"), (7, 3))
    assert_findings(RULE, SIDECAR.replace("spec:\n{spec}", ""), (4, 3))
    [finding] = run(sidecar("  egress: []\n")).findings
    assert "has no egress" in finding.message and "(*/*)" in finding.message


def test_scoped_hosts_are_not_flagged():
    for hosts in (
        "['./*']",
        "['istio-system/*', 'db/*.db.svc.cluster.local']",
        "['*/api.example.com']",
        "['~/*']",
    ):
        assert_findings(RULE, sidecar(f"  egress:\n  - hosts: {hosts}\n"))


def test_sidecars_in_an_ambient_namespace_are_left_alone():
    namespace = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
        "  labels: {istio.io/dataplane-mode: ambient}\n---\n"
    )
    assert_findings(RULE, namespace + sidecar("  egress: []\n"))
    injected = namespace.replace(
        "{istio.io/dataplane-mode: ambient}",
        "{istio.io/dataplane-mode: ambient, istio.io/rev: stable}",
    )
    assert_findings(RULE, injected + sidecar("  egress: []\n"), (13, 3))


def test_sidecar_inside_a_list():
    source = """\
apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: Sidecar
  metadata: {name: a, namespace: one}
  spec:
    egress:
    - hosts: ["*/*"]
"""
    assert_findings(RULE, source, (9, 15))


def test_an_unchanged_host_stays_old_when_hosts_are_added_above_it():
    base = sidecar('  egress:\n  - hosts:\n    - "*/*"\n')
    head = sidecar('  egress:\n  - hosts:\n    - "./*"\n    - "*/*"\n')
    [finding] = run(head, base).findings
    assert finding.new is False
