from rules import mtls_weakened
from tests.helpers import assert_findings, run

RULE = "mtls-weakened"


def pa(spec: str, name: str = "default", namespace: str = "bookinfo") -> str:
    """A PeerAuthentication; its spec starts on line 7."""
    return (
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{spec}"
    )


def dr(traffic_policy: str, name: str = "reviews", host: str = "reviews") -> str:
    """A DestinationRule; its trafficPolicy starts on line 8."""
    return (
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
        f"metadata:\n  name: {name}\n  namespace: bookinfo\nspec:\n  host: {host}\n{traffic_policy}"
    )


STRICT = "  mtls:\n    mode: STRICT\n"
PERMISSIVE = "  mtls:\n    mode: PERMISSIVE\n"
DETAILS = "  selector:\n    matchLabels:\n      app: details\n"


def messages(head, base):
    return [f.message for f in run(head, base).findings if f.rule == RULE]


def test_examples():
    assert_findings(RULE, mtls_weakened.FAIL, (20, 5), base=mtls_weakened.BASE)
    assert_findings(RULE, mtls_weakened.PASS, base=mtls_weakened.BASE)


def test_without_base_nothing_is_compared():
    assert_findings(RULE, pa(PERMISSIVE))


def test_strict_to_permissive():
    assert_findings(RULE, pa(PERMISSIVE), (8, 5), base=pa(STRICT))
    [message] = messages(pa(PERMISSIVE), pa(STRICT))
    assert message.startswith(
        "PeerAuthentication bookinfo/default weakens mTLS namespace-wide in bookinfo from STRICT "
        "to PERMISSIVE"
    )
    [finding] = [f for f in run(pa(PERMISSIVE), pa(STRICT)).findings if f.rule == RULE]
    assert finding.new and finding.edit.replacement == "    mode: STRICT"


def test_strict_to_disable_mesh_wide():
    head = pa("  mtls: {mode: DISABLE}\n", namespace="istio-system")
    assert_findings(RULE, head, (7, 10), base=pa(STRICT, namespace="istio-system"))
    [message] = messages(head, pa(STRICT, namespace="istio-system"))
    assert "mesh-wide from STRICT to DISABLE" in message


def test_strict_to_unset_and_removed():
    assert_findings(RULE, pa("  mtls:\n    mode: UNSET\n"), (8, 5), base=pa(STRICT))
    assert_findings(RULE, pa("  mtls: {}\n"), (7, 3), base=pa(STRICT))
    assert_findings(RULE, pa("  {}\n"), (6, 1), base=pa(STRICT))
    [message] = messages(pa("  mtls:\n    mode: UNSET\n"), pa(STRICT))
    assert (
        "no longer sets mTLS namespace-wide in bookinfo to STRICT: it now inherits "
        "PERMISSIVE, Istio's default" in message
    )


def test_unset_under_a_strict_namespace_still_inherits_strict():
    namespace = pa(STRICT, name="ns-strict")
    base = namespace + "---\n" + pa(DETAILS + STRICT, name="details")
    head = namespace + "---\n" + pa(DETAILS, name="details")
    assert_findings(RULE, head, base=base)


def test_strict_policy_deleted_points_at_base_file_and_line():
    base = {
        "mesh/other.yaml": pa(STRICT, name="other", namespace="reviews"),
        "mesh/mtls.yaml": "# strict everywhere\n" + pa(STRICT),
    }
    head = {"mesh/other.yaml": pa(STRICT, name="other", namespace="reviews")}
    report = run(head, base)
    [finding] = [f for f in report.findings if f.rule == RULE]
    assert (finding.path, finding.line, finding.column) == ("mesh/mtls.yaml", 9, 5)
    assert finding.message == (
        "PeerAuthentication bookinfo/default (STRICT namespace-wide in bookinfo) is deleted and "
        "nothing keeps that scope STRICT: it falls back to PERMISSIVE, Istio's default"
    )


def test_deleted_strict_namespace_policy_under_a_strict_mesh_is_not_a_weakening():
    mesh = pa(STRICT, namespace="istio-system")
    assert_findings(RULE, mesh, base=mesh + "---\n" + pa(STRICT))
    details = pa(DETAILS + STRICT, name="details")
    assert_findings(RULE, pa(STRICT), base=pa(STRICT) + "---\n" + details)


def test_deleted_strict_policy_under_a_permissive_namespace_names_what_it_inherits():
    namespace = pa(PERMISSIVE)
    base = namespace + "---\n" + pa(DETAILS + STRICT, name="details")
    assert_findings(RULE, namespace, (20, 5), base=base)
    assert (
        "it falls back to PERMISSIVE from the namespace-wide policy in bookinfo"
        in (messages(namespace, base)[0])
    )


def test_renamed_strict_policy_with_same_scope_is_not_a_weakening():
    assert_findings(RULE, pa(STRICT, name="strict-bookinfo"), base=pa(STRICT))


def test_moved_to_another_file_is_not_a_weakening():
    assert_findings(RULE, {"b.yaml": pa(STRICT)}, base={"a.yaml": pa(STRICT)})


def test_renamed_and_downgraded_is_reported_once_on_the_head_policy():
    head = pa(PERMISSIVE, name="bookinfo-migration")
    assert_findings(RULE, head, (8, 5), base=pa(STRICT))
    [message] = messages(head, pa(STRICT))
    assert message.startswith(
        "New PeerAuthentication bookinfo/bookinfo-migration sets mTLS namespace-wide in bookinfo "
        "to PERMISSIVE, where the base was STRICT:"
    )


def test_namespace_strict_and_new_workload_permissive_policy():
    base = pa(STRICT)
    head = base + "---\n" + pa(DETAILS + PERMISSIVE, name="details")
    assert_findings(RULE, head, (20, 5), base=base)
    [message] = messages(head, base)
    assert message == (
        "New PeerAuthentication bookinfo/details sets mTLS for workloads app=details in "
        "bookinfo to PERMISSIVE, where the base was STRICT (set by the namespace-wide policy "
        "in bookinfo): plaintext callers are accepted again"
    )


def test_mesh_strict_and_new_namespace_permissive_policy():
    base = pa(STRICT, namespace="istio-system")
    head = base + "---\n" + pa(PERMISSIVE)
    assert_findings(RULE, head, (17, 5), base=base)
    assert "(set by the mesh-wide policy)" in messages(head, base)[0]


def test_new_permissive_policy_without_strict_base_is_left_to_permissive_mtls():
    reviews = pa(STRICT, namespace="reviews")
    assert_findings(RULE, reviews + "---\n" + pa(PERMISSIVE), base=reviews)


def test_strict_policy_deleted_in_another_namespace_is_found():
    assert_findings(RULE, pa(PERMISSIVE), (8, 5), base=pa(STRICT, namespace="reviews"))


def test_already_disable_at_base_is_nothing_new():
    disable = pa("  mtls:\n    mode: DISABLE\n")
    assert_findings(RULE, disable, base=disable)
    assert_findings(RULE, pa(PERMISSIVE), base=disable)


def test_port_level_downgrade():
    base = pa(DETAILS + STRICT + "  portLevelMtls:\n    8080:\n      mode: STRICT\n")
    head = pa(DETAILS + STRICT + "  portLevelMtls:\n    8080:\n      mode: PERMISSIVE\n")
    assert_findings(RULE, head, (14, 7), base=base)
    assert (
        "weakens mTLS on port 8080 for workloads app=details in bookinfo from STRICT to "
        "PERMISSIVE" in messages(head, base)[0]
    )


def test_new_weak_port_under_a_strict_policy():
    base = pa(DETAILS + STRICT)
    head = pa(DETAILS + STRICT + "  portLevelMtls:\n    9000: {mode: DISABLE}\n")
    assert_findings(RULE, head, (13, 12), base=base)


def test_port_removed_inherits_policy_level():
    base = pa(DETAILS + PERMISSIVE + "  portLevelMtls:\n    8080: {mode: STRICT}\n")
    head = pa(DETAILS + PERMISSIVE + "  portLevelMtls: {}\n")
    assert_findings(RULE, head, (12, 3), base=base)
    assert "no longer sets mTLS on port 8080" in messages(head, base)[0]
    assert_findings(RULE, base.replace("STRICT", "STRICT}\n    9090: {mode: STRICT"), base=base)


def test_policy_and_port_downgraded_together_is_one_finding():
    base = pa(DETAILS + STRICT + "  portLevelMtls:\n    8080: {mode: STRICT}\n")
    head = pa(DETAILS + PERMISSIVE)
    assert_findings(RULE, head, (11, 5), base=base)


def test_each_removed_strict_port_is_reported():
    ports = "  portLevelMtls:\n    8080: {mode: STRICT}\n    9090: {mode: STRICT}\n"
    base = pa(DETAILS + PERMISSIVE + ports)
    head = pa(DETAILS + PERMISSIVE + "  portLevelMtls: {}\n")
    assert_findings(RULE, head, (12, 3), (12, 3), base=base)
    first, second = messages(head, base)
    assert "on port 8080" in first and "on port 9090" in second


def test_selector_changed_leaves_old_workloads_without_strict():
    base = pa(DETAILS + STRICT)
    head = pa(DETAILS.replace("details", "ratings") + STRICT)
    assert_findings(RULE, head, (7, 3), base=base)
    assert "no longer applies for workloads app=details in bookinfo" in messages(head, base)[0]


def test_conflicting_policies_on_one_scope_keep_strict():
    base = pa(STRICT)
    head = base + "---\n" + pa(PERMISSIVE, name="late")
    assert_findings(RULE, head, base=base)


def test_destination_rule_disable_added():
    base = dr("  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n")
    head = dr("  trafficPolicy:\n    tls:\n      mode: DISABLE\n")
    assert_findings(RULE, head, (10, 7), base=base)
    assert_findings(RULE, head, (10, 7), base=dr(""))
    [message] = messages(head, base)
    assert message.startswith(
        "DestinationRule bookinfo/reviews newly sets tls.mode DISABLE for reviews:"
    )


def test_destination_rule_disable_per_port_and_subset():
    head = dr(
        "  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 9080}\n"
        "      tls: {mode: DISABLE}\n"
        "  subsets:\n  - name: v1\n    labels: {version: v1}\n"
        "    trafficPolicy:\n      tls:\n        mode: DISABLE\n"
    )
    assert_findings(RULE, head, (11, 13), (17, 9), base=dr(""))
    first, second = messages(head, dr(""))
    assert "for reviews port 9080:" in first and "for reviews subset v1:" in second


def test_destination_rule_already_disabled_or_renamed():
    head = dr("  trafficPolicy:\n    tls:\n      mode: DISABLE\n")
    assert_findings(RULE, head, base=head)
    assert_findings(RULE, head, base=head.replace("name: reviews", "name: reviews-old"))
    assert_findings(RULE, dr("  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n"), base=head)
