from rules import in_place_upgrade
from tests.helpers import assert_findings, findings_of, run

RULE = "in-place-upgrade"

OPERATOR = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: {name}
  namespace: istio-system
spec:
{spec}"""


def operator(spec: str, name: str = "control-plane") -> str:
    return OPERATOR.format(name=name, spec=spec)


def test_fail_example_is_flagged_and_pass_example_is_not_against_the_base_example():
    assert_findings(RULE, in_place_upgrade.FAIL, (7, 3), base=in_place_upgrade.BASE)
    assert_findings(RULE, in_place_upgrade.PASS, base=in_place_upgrade.BASE)


def test_tag_bump_without_revision_is_flagged():
    [finding] = findings_of(RULE, operator("  tag: 1.25.0\n"), operator("  tag: 1.24.2\n"))
    assert (finding.line, finding.column, finding.severity) == (7, 3, "error")
    assert finding.message == (
        "IstioOperator istio-system/control-plane changes the Istio version in place (revision "
        "empty): the running istiod is replaced under live sidecars and cannot be rolled back "
        "(spec.tag 1.24.2 -> 1.25.0)"
    )
    assert finding.new is True


def test_tag_bump_with_a_new_revision_is_a_canary():
    head = operator("  revision: 1-25\n  tag: 1.25.0\n")
    assert_findings(RULE, head, base=operator("  tag: 1.24.2\n"))
    assert_findings(RULE, head, base=operator("  revision: 1-24\n  tag: 1.24.2\n"))


def test_tag_bump_with_the_same_revision_is_flagged():
    head = operator("  revision: canary\n  tag: 1.25.0\n")
    [finding] = findings_of(RULE, head, operator("  revision: canary\n  tag: 1.24.2\n"))
    assert (finding.line, finding.column) == (8, 3)
    assert "revision unchanged: canary" in finding.message


def test_revision_removed_is_flagged():
    base = operator("  revision: 1-24\n  tag: 1.24.2\n")
    [finding] = findings_of(RULE, operator("  tag: 1.25.0\n"), base)
    assert (finding.line, finding.column) == (7, 3)
    assert (
        "removes revision 1-24" in finding.message
        and "spec.tag 1.24.2 -> 1.25.0" in finding.message
    )
    [same_version] = findings_of(RULE, operator("  tag: 1.24.2\n"), base)
    assert (same_version.line, same_version.column) == (6, 1)
    assert "removes revision 1-24" in same_version.message


def test_hub_changes_are_version_changes():
    base = operator("  hub: docker.io/istio\n  tag: 1.24.2\n")
    assert_findings(
        RULE, operator("  hub: registry.example.com/istio\n  tag: 1.24.2\n"), (7, 3), base=base
    )
    values = "  values:\n    global:\n      hub: {hub}\n      tag: {tag}\n"
    assert_findings(
        RULE,
        operator(values.format(hub="mirror/istio", tag="1.24.2")),
        (9, 7),
        base=operator(values.format(hub="docker.io/istio", tag="1.24.2")),
    )
    assert_findings(
        RULE,
        operator(values.format(hub="docker.io/istio", tag="1.25.0")),
        (10, 7),
        base=operator(values.format(hub="docker.io/istio", tag="1.24.2")),
    )


def test_removing_a_pinned_tag_is_a_version_change():
    [finding] = findings_of(
        RULE, operator("  profile: default\n"), operator("  profile: default\n  tag: 1.24.2\n")
    )
    assert (finding.line, finding.column) == (6, 1)
    assert "spec.tag 1.24.2 -> (unset)" in finding.message


def test_unchanged_version_is_not_flagged():
    spec = "  revision: 1-24\n  tag: 1.24.2\n  meshConfig: {accessLogFile: /dev/stdout}\n"
    assert_findings(RULE, operator(spec), base=operator(spec.replace("/dev/stdout", "''")))
    assert_findings(RULE, operator("  tag: 1.24.2\n"), base=operator("  tag: 1.24.2\n"))


def test_without_a_base_there_is_nothing_to_compare():
    assert_findings(RULE, operator("  tag: 1.25.0\n"))


def test_operators_are_matched_by_namespace_and_name():
    base = operator("  tag: 1.24.2\n")
    assert_findings(RULE, operator("  tag: 1.25.0\n", name="control-plane-1-25"), base=base)
    moved = operator("  tag: 1.25.0\n").replace("namespace: istio-system", "namespace: mesh")
    assert_findings(RULE, moved, base=base)
    head = {
        "b.yaml": operator("  tag: 1.25.0\n"),
        "a.yaml": operator("  tag: 1.24.2\n", name="other"),
    }
    base_files = {"a.yaml": base, "b.yaml": operator("  tag: 1.24.2\n", name="other")}
    assert [
        (f.path, f.resource.name) for f in run(head, base_files).findings if f.rule == RULE
    ] == [("b.yaml", "control-plane")]


def test_gateway_only_operators_may_be_upgraded_in_place():
    gateways = "  profile: empty\n  components:\n    ingressGateways: [{name: gw, enabled: true}]\n"
    assert_findings(
        RULE, operator(gateways + "  tag: 1.25.0\n"), base=operator(gateways + "  tag: 1.24.2\n")
    )


def test_operators_inside_a_list():
    listed = """\
apiVersion: v1
kind: List
items:
- apiVersion: install.istio.io/v1alpha1
  kind: IstioOperator
  metadata: {name: control-plane, namespace: istio-system}
  spec:
    tag: 1.25.0
"""
    assert_findings(RULE, listed, (8, 5), base=operator("  tag: 1.24.2\n"))


def test_unnamed_operators_in_several_files_are_told_apart_by_file():
    unnamed = "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  tag: {tag}\n"
    base = {
        "prod/iop.yaml": unnamed.format(tag="1.24.2"),
        "dev/iop.yaml": unnamed.format(tag="1.24.2"),
    }
    head = {
        "prod/iop.yaml": unnamed.format(tag="1.24.2"),
        "dev/iop.yaml": unnamed.format(tag="1.25.0"),
    }
    assert [(f.path, f.line) for f in run(head, base).findings if f.rule == RULE] == [
        ("dev/iop.yaml", 4)
    ]


def test_an_unnamed_operator_is_named_by_its_file():
    unnamed = "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  tag: {tag}\n"
    [finding] = findings_of(
        RULE,
        {"istio/iop.yaml": unnamed.format(tag="1.25.0")},
        {"istio/iop.yaml": unnamed.format(tag="1.24.2")},
    )
    assert finding.message.startswith("IstioOperator in istio/iop.yaml changes the Istio version")


def test_quoting_a_tag_is_no_version_change():
    assert_findings(RULE, operator('  tag: "1.24"\n'), base=operator("  tag: 1.24\n"))


def sail(version: str) -> str:
    return (
        "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata: {name: default}\n"
        f"spec: {{version: {version}, namespace: istio-system}}\n"
    )


def test_sail_istios_of_two_clusters_are_each_compared_with_their_own_base():
    """One `Istio` named `default` per cluster folder: unchanged, neither is an upgrade (each
    was compared with the other cluster's before); a bump in one is reported there."""
    base = {"clusters/a/istio.yaml": sail("v1.26.4"), "clusters/b/istio.yaml": sail("v1.26.3")}
    assert findings_of("in-place-upgrade", base, base) == []
    head = {**base, "clusters/b/istio.yaml": sail("v1.27.0")}
    [finding] = findings_of("in-place-upgrade", head, base)
    assert finding.path == "clusters/b/istio.yaml"
    assert "v1.26.3 -> v1.27.0" in finding.message
