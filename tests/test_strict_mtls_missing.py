import pytest

from rules import strict_mtls_missing
from tests.helpers import assert_findings, findings_of

RULE = "strict-mtls-missing"

OPERATOR = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: control-plane
  namespace: istio-system
spec:
  meshConfig:
    accessLogFile: /dev/stdout
"""


def peer_authentication(namespace="istio-system", mode="STRICT", selector="", name="default"):
    return (
        f"apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n"
        f"  name: {name}\n  namespace: {namespace}\nspec:\n{selector}  mtls:\n    mode: {mode}\n"
    )


def test_examples():
    assert_findings(RULE, strict_mtls_missing.FAIL, (6, 1))
    assert_findings(RULE, strict_mtls_missing.PASS)


def test_an_install_without_a_mesh_wide_strict_policy():
    [finding] = findings_of(RULE, OPERATOR)
    assert (finding.line, finding.column) == (7, 3)
    assert finding.message == (
        "IstioOperator istio-system/control-plane installs the control plane, but no "
        "PeerAuthentication without selector in the root namespace istio-system sets mtls.mode "
        "STRICT: the mesh runs Istio's default PERMISSIVE mode and accepts plaintext from any "
        "caller; add one in istio-system"
    )


def test_a_mesh_wide_strict_policy_anywhere_in_the_repository():
    assert_findings(RULE, {"iop.yaml": OPERATOR, "security/pa.yaml": peer_authentication()})


@pytest.mark.parametrize(
    "policy",
    [
        peer_authentication(namespace="payments"),
        peer_authentication(selector="  selector:\n    matchLabels: {app: web}\n"),
        peer_authentication(mode="PERMISSIVE"),
        peer_authentication(mode="UNSET"),
        peer_authentication().replace("security.istio.io/v1", "example.com/v1"),
    ],
    ids=["namespace-wide", "workload", "permissive", "unset", "other-group"],
)
def test_policies_that_do_not_make_the_mesh_strict(policy):
    """Near-misses: a namespace-wide STRICT is not mesh-wide; nor is a selector's."""
    assert_findings(RULE, {"iop.yaml": OPERATOR, "pa.yaml": policy}, (7, 3))


def test_the_root_namespace_comes_from_the_install():
    custom = OPERATOR + "    rootNamespace: mesh-root\n"
    [finding] = findings_of(RULE, {"iop.yaml": custom, "pa.yaml": peer_authentication()})
    assert finding.message.endswith("add one in mesh-root")
    assert_findings(
        RULE, {"iop.yaml": custom, "pa.yaml": peer_authentication(namespace="mesh-root")}
    )
    cfg = "root_namespace: mesh-root\n"
    assert_findings(
        RULE, {"iop.yaml": OPERATOR, "pa.yaml": peer_authentication("mesh-root")}, cfg=cfg
    )


def test_helm_values_install_counts_once_per_folder():
    values = "meshConfig:\n  accessLogFile: /dev/stdout\n"
    layered = {"istiod/values.yaml": values, "istiod/values-prod.yaml": values}
    assert [f.path for f in findings_of(RULE, layered)] == ["istiod/values.yaml"]
    two_clusters = {"a/values.yaml": values, "b/values.yaml": values}
    assert [f.path for f in findings_of(RULE, two_clusters)] == ["a/values.yaml", "b/values.yaml"]


def test_no_install_no_finding():
    gateway_only = OPERATOR.replace(
        "  meshConfig:", "  components:\n    pilot: {enabled: false}\n  meshConfig:"
    )
    assert_findings(RULE, gateway_only)
    mesh_configmap = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\n"
        "data:\n  mesh: '{}'\n"
    )
    assert_findings(RULE, mesh_configmap)
    assert_findings(RULE, peer_authentication(mode="PERMISSIVE"))


def test_root_namespace_of_each_kind_of_install():
    from rules.core.model import Resource
    from rules.mesh.mesh_config import MeshConfigSource

    sail = Resource(
        "sailoperator.io/v1",
        "Istio",
        "default",
        None,
        {"spec": {"namespace": "istio-control"}},
        "i.yaml",
    )
    source = MeshConfigSource(sail, {}, ("spec", "values", "meshConfig"), {}, ("spec", "values"))
    assert (
        source.installs_control_plane and source.root_namespace("istio-system") == "istio-control"
    )
    values = {"global": {"istioNamespace": "mesh-ns"}}
    helm = Resource("", "HelmValues", "v.yaml", None, values, "v.yaml")
    assert MeshConfigSource(helm, {}, ("meshConfig",), values, ()).root_namespace("x") == "mesh-ns"
    explicit = MeshConfigSource(helm, {"rootNamespace": "cfg"}, ("meshConfig",), values, ())
    assert explicit.root_namespace("x") == "cfg"
