from rules import revision_label
from tests.helpers import assert_findings, run

RULE = "revision-label"


def namespace(labels: str, name: str = "bookinfo") -> str:
    return f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n{labels}"


def test_fail_example_is_flagged_and_pass_example_is_not():
    assert_findings(RULE, revision_label.FAIL, (6, 5))
    assert_findings(RULE, revision_label.PASS)


def test_istio_injection_enabled_is_flagged_on_the_label():
    [finding] = revision_findings(namespace("    team: books\n    istio-injection: enabled\n"))
    assert (finding.line, finding.column) == (7, 5)
    assert finding.resource.namespace is None and finding.resource.name == "bookinfo"
    assert finding.message == (
        "Namespace bookinfo is labelled istio-injection: enabled: it follows the default control "
        "plane and cannot move to a canary revision on its own"
    )


def test_both_labels_are_flagged_and_the_message_says_the_revision_is_ignored():
    [finding] = revision_findings(
        namespace("    istio.io/rev: canary\n    istio-injection: enabled\n")
    )
    assert (finding.line, finding.column) == (7, 5)
    assert "revision canary is ignored" in finding.message


def test_revision_label_and_disabled_injection_are_not_flagged():
    assert_findings(RULE, namespace("    istio.io/rev: 1-24\n"))
    assert_findings(RULE, namespace("    istio-injection: disabled\n"))
    assert_findings(RULE, namespace("    istio-injection: disabled\n    istio.io/rev: 1-24\n"))


def test_only_namespaces_are_judged():
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels: {istio-injection: enabled}\n"
        "spec: {containers: []}\n"
    )
    assert_findings(RULE, pod)


def test_namespaces_inside_a_list_and_across_files():
    listed = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: one
    labels: {istio-injection: enabled}
- apiVersion: v1
  kind: Namespace
  metadata:
    name: two
    labels: {istio.io/rev: stable}
"""
    head = {"a.yaml": listed, "b.yaml": namespace("    istio-injection: enabled\n", "three")}
    assert [(f.path, f.line, f.column, f.resource.name) for f in revision_findings(head)] == [
        ("a.yaml", 8, 14, "one"),
        ("b.yaml", 6, 5, "three"),
    ]


def revision_findings(head):
    """This rule's findings (a Namespace in the mesh without a Sidecar is sidecar-missing's)."""
    return [f for f in run(head).findings if f.rule == "revision-label"]
