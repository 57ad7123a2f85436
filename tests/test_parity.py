"""Parity with `istioctl analyze` (IST0101 for hosts, subsets and gateways; IST0132).

The comparison itself lives in `tests/parity.py`, which also renders docs/parity.md.
"""

import pytest

from rules.core.config import Config
from rules.core.loader import load
from rules.mesh.index import MeshIndex
from rules.mesh.references import gateway_references
from tests import parity
from tests.helpers import files, run

pytestmark = pytest.mark.skipif(not parity.available(), reason="istio-analyzers fixtures absent")


@pytest.fixture(scope="module")
def comparison():
    return parity.compare()


def test_every_resource_istioctl_flags_is_flagged_or_the_difference_is_explained(comparison):
    same = [r for r in comparison.results if r.istioctl == r.ours]
    summary = [
        f"parity with istioctl: {len(same)} of {len(comparison.results)} case/code pairs agree "
        f"exactly; {sum(len(r.agreed) for r in comparison.results)} of "
        f"{sum(len(r.istioctl) for r in comparison.results)} flagged resources agreed",
        *(f"agree: {r.file} {r.code} ({len(r.istioctl)} flagged)" for r in same),
    ]
    unexplained = []
    for key, direction in comparison.differences():
        listed = parity.DIFFERENCES.get(key)
        if listed is None or listed[0] != direction:
            unexplained.append((key, direction))
        else:
            summary.append(f"differ: {key[2]} in {key[0]} ({direction}): {listed[1]}")
    print("\n".join(summary))
    assert comparison.results, "no istioctl case was compared"
    assert not unexplained, f"differences without a reason in parity.DIFFERENCES: {unexplained}"


def test_every_listed_difference_still_occurs(comparison):
    occurring = dict(comparison.differences())
    stale = [
        key for key, (direction, _) in parity.DIFFERENCES.items() if occurring.get(key) != direction
    ]
    assert not stale, f"parity.DIFFERENCES lists differences that no longer occur: {stale}"


def test_every_compared_code_has_cases(comparison):
    compared = {(r.analyzer, r.code) for r in comparison.results if r.istioctl}
    assert compared == set(parity.COMPARED)


def _istioctl_ist0132(case):
    """What the port of istioctl's GatewayAnalyzer reports on a case: VirtualServices."""
    texts = {name: (parity.ANALYZERS / name).read_text() for name in case["input_files"]}
    istioctl = Config(default_namespace=parity.ISTIOCTL_NAMESPACE)
    resources, _ = load(files(texts), istioctl)
    index = MeshIndex(resources, istioctl)
    flagged = set()
    for vs in (r for r in resources if r.kind == "VirtualService"):
        for _, namespace, name in gateway_references(vs):
            written = [h.written for h in index.gateway_hosts(namespace, name)]
            if not parity.istioctl_vs_host_in_gateway(
                written, namespace, vs.spec.get("hosts") or [], vs.namespace
            ):
                flagged.add(f"VirtualService {vs.namespace}/{vs.name}")
    return flagged


def test_the_port_of_istioctl_reproduces_its_expected_ist0132():
    cases = [
        c
        for c in parity.load_cases()
        if c["analyzer"] == "virtualservice.GatewayAnalyzer" and "kubernetes" not in c["file"]
    ]
    assert cases
    for case in cases:
        expected = {
            parity.resource_of(m["origin"]) for m in case["expected"] if m["code"] == "IST0132"
        }
        assert _istioctl_ist0132(case) == expected, case["file"]


def test_a_partial_host_mismatch_is_caught_where_ist0132_is_silent():
    gateway_hosts, vs_hosts = ["testing-01.com"], ["testing-01.com", "wrong-01.com"]
    assert parity.istioctl_vs_host_in_gateway(gateway_hosts, "istio-system", vs_hosts, "default")
    source = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: testing-gateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {name: http, number: 80, protocol: HTTP}
    hosts: [testing-01.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: partial, namespace: default}
spec:
  gateways: [istio-system/testing-gateway]
  hosts:
  - testing-01.com
  - wrong-01.com
  http:
  - route:
    - destination: {host: ratings.default.svc.cluster.local}
"""
    [finding] = [f for f in run(source).findings if f.rule == "gateway-host-mismatch"]
    assert (finding.line, finding.column, finding.severity) == (17, 5, "error")
    assert (
        "host 'wrong-01.com' is not served by Gateway istio-system/testing-gateway"
        in finding.message
    )


def test_docs_parity_is_current(comparison):
    assert parity.DOC.is_file(), "docs/parity.md is missing: run `python -m tests.parity --write`"
    assert parity.DOC.read_text() == parity.render(comparison), (
        "docs/parity.md is stale: run `python -m tests.parity --write`"
    )


def test_the_summary_names_every_difference_with_its_reason(comparison):
    text = parity.render(comparison)
    assert "**unexplained**" not in text
    for (_file, _, resource), (direction, reason) in parity.DIFFERENCES.items():
        assert f"| {resource} | {direction} | {reason} |" in text


GATEWAY_API_RULES = {
    "route-parent-not-found",
    "route-not-attached",
    "route-hostname-mismatch",
    "backend-not-found",
    "reference-not-permitted",
    "waypoint-missing",
    "mixed-routing-apis",
}


def test_every_gateway_api_rule_says_which_runtime_condition_it_anticipates():
    assert set(parity.ANTICIPATED) == GATEWAY_API_RULES


def test_the_conditions_in_parity_are_the_ones_the_rules_document():
    import re

    import rules as registry

    for rule_id, (_, condition, _) in parity.ANTICIPATED.items():
        doc = registry.get(rule_id).__doc__
        for reason in re.findall(r"`([A-Za-z./]+)`", condition):
            if reason[0].isupper() or reason.startswith("istio.io/"):
                assert reason in doc, f"{rule_id}: its docstring does not name {reason}"
