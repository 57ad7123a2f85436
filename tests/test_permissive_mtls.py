import pytest

from rules import permissive_mtls
from tests.helpers import FIXTURES, assert_findings, run

RULE = "permissive-mtls"


def pa(spec: str, name: str = "default", namespace: str = "bookinfo") -> str:
    return (
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{spec}"
    )


def test_examples():
    assert_findings(RULE, permissive_mtls.FAIL, (8, 5))
    assert_findings(RULE, permissive_mtls.PASS)


@pytest.mark.parametrize("mode", ["PERMISSIVE", "DISABLE"])
def test_weak_policy_mode_points_at_mode(mode):
    assert_findings(RULE, pa(f"  mtls:\n    mode: {mode}\n"), (8, 5))


@pytest.mark.parametrize(
    "spec",
    [
        "  mtls:\n    mode: STRICT\n",
        "  mtls:\n    mode: UNSET\n",
        "  mtls: {}\n",
        "  selector:\n    matchLabels: {app: details}\n",
        "  {}\n",
    ],
)
def test_strict_unset_and_inherited_are_not_flagged(spec):
    assert_findings(RULE, pa(spec))


def test_scope_is_named_in_the_message():
    mesh = run(pa("  mtls: {mode: PERMISSIVE}\n", namespace="istio-system")).findings[0].message
    namespace = run(pa("  mtls: {mode: PERMISSIVE}\n")).findings[0].message
    workload = run(pa("  selector:\n    matchLabels: {app: details}\n  mtls: {mode: DISABLE}\n"))
    assert "PeerAuthentication istio-system/default sets mTLS mesh-wide to PERMISSIVE" in mesh
    assert "namespace-wide in bookinfo to PERMISSIVE" in namespace
    assert "for workloads app=details in bookinfo to DISABLE" in workload.findings[0].message


def test_custom_root_namespace_is_mesh_wide():
    source = pa("  mtls: {mode: PERMISSIVE}\n", namespace="mesh-root")
    [finding] = run(source, cfg="root_namespace: mesh-root\n").findings
    assert "mesh-wide" in finding.message


def test_port_level_modes_are_flagged_per_port():
    source = pa(
        "  selector:\n    matchLabels:\n      app: details\n"
        "  mtls:\n    mode: STRICT\n"
        "  portLevelMtls:\n"
        "    8080:\n      mode: PERMISSIVE\n"
        "    9090:\n      mode: STRICT\n"
        "    '9443':\n      mode: DISABLE\n"
    )
    assert_findings(RULE, source, (14, 7), (18, 7))
    first, second = run(source).findings
    assert "on port 8080 for workloads app=details in bookinfo to PERMISSIVE" in first.message
    assert "on port 9443" in second.message and "DISABLE" in second.message
    assert first.fingerprint != second.fingerprint


def test_port_level_without_selector_is_ignored_as_istio_does():
    source = pa("  mtls:\n    mode: STRICT\n  portLevelMtls:\n    8080:\n      mode: DISABLE\n")
    assert_findings(RULE, source)


def test_policy_and_port_both_weak():
    source = pa(
        "  selector:\n    matchLabels: {app: details}\n"
        "  mtls: {mode: PERMISSIVE}\n"
        "  portLevelMtls:\n    8080: {mode: DISABLE}\n"
    )
    assert_findings(RULE, source, (9, 10), (11, 12))


def test_suggests_strict():
    [finding] = run(pa("  mtls:\n    mode: PERMISSIVE  # migration\n")).findings
    edit = (finding.edit.start_line, finding.edit.replacement)
    assert edit == (8, "    mode: STRICT  # migration")


def test_fingerprint_survives_reformatting():
    one = run(pa("  mtls:\n    mode: PERMISSIVE\n")).findings[0]
    moved = pa("  mtls: {mode: PERMISSIVE}\n").replace("metadata:", "# moved\nmetadata:")
    two = run(moved).findings[0]
    assert one.fingerprint == two.fingerprint


def test_fixture_peer_auth_drs():
    path = FIXTURES / "istio-samples" / "kiali" / "peer-auth-drs.yaml"
    if not path.exists():
        pytest.skip("fixtures absent")
    assert_findings(RULE, path.read_text(), (8, 5), (68, 5), (91, 5), (103, 5))
