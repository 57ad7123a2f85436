from rules import short_host_name
from tests.helpers import assert_findings, findings_of, run

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
---
"""
VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: {namespace}
spec:
  hosts:
  - {host}
  http:
  - route:
    - destination:
        host: {destination}
    mirror:
      host: {mirror}
"""
DR = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: reviews, namespace: {namespace}}}
spec:
  host: {host}
"""
FQDN = "reviews.bookinfo.svc.cluster.local"


def vs(namespace="bookinfo", host=FQDN, destination=FQDN, mirror=FQDN):
    return VS.format(namespace=namespace, host=host, destination=destination, mirror=mirror)


def test_fail_example_is_flagged_and_pass_example_is_not():
    assert findings_of("short-host-name", short_host_name.FAIL)
    assert not findings_of("short-host-name", short_host_name.PASS)


def test_short_vs_host_destination_and_mirror_are_warnings():
    source = vs(host="reviews", destination="reviews", mirror="ratings")
    assert_findings("short-host-name", source, (8, 5), (12, 9), (14, 7))
    [host, destination, mirror] = findings_of("short-host-name", source)
    assert {host.severity, destination.severity, mirror.severity} == {"warning"}
    assert "'reviews' is a short name" in host.message
    assert "reviews.bookinfo.svc.cluster.local" in host.message
    assert "mirror host 'ratings'" in mirror.message


def test_destination_rule_host_is_judged_in_its_own_namespace():
    source = DR.format(namespace="bookinfo", host="reviews")
    assert_findings("short-host-name", source, (5, 3))
    [finding] = findings_of("short-host-name", source)
    assert "DestinationRule bookinfo/reviews host 'reviews'" in finding.message
    assert finding.severity == "warning"


def test_qualified_and_wildcard_hosts_are_not_flagged():
    assert_findings("short-host-name", vs(host='"*"', destination="reviews.bookinfo", mirror=FQDN))
    assert_findings("short-host-name", vs(host='"*.example.com"'))
    assert_findings("short-host-name", DR.format(namespace="a", host="reviews.bookinfo.svc"))


def test_service_only_in_another_namespace_is_an_error_with_the_right_fix():
    source = SERVICE.format(name="reviews", namespace="bookinfo") + vs(
        namespace="frontend", destination="reviews"
    )
    assert_findings("short-host-name", source, (16, 9))
    [finding] = findings_of("short-host-name", source)
    assert finding.severity == "error"
    assert "defines Service 'reviews' only in namespace bookinfo" in finding.message
    assert "reviews.frontend.svc.cluster.local" in finding.message
    assert finding.edit.replacement == "        host: reviews.bookinfo.svc.cluster.local"


def test_service_in_both_namespaces_is_a_warning():
    source = (
        SERVICE.format(name="reviews", namespace="bookinfo")
        + SERVICE.format(name="reviews", namespace="frontend")
        + vs(namespace="frontend", destination="reviews")
    )
    [finding] = findings_of("short-host-name", source)
    assert (finding.line, finding.column, finding.severity) == (20, 9, "warning")
    assert finding.edit.replacement == "        host: reviews.frontend.svc.cluster.local"


def test_service_entry_host_defines_the_service_namespace():
    entry = """\
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: legacy}
spec:
  hosts: [reviews.legacy.svc.cluster.local]
---
"""
    [finding] = findings_of(
        "short-host-name", entry + DR.format(namespace="bookinfo", host="reviews")
    )
    assert (finding.line, finding.severity) == (11, "error")
    assert "only in namespace legacy" in finding.message


def test_several_other_namespaces_are_named_without_a_fix():
    source = (
        SERVICE.format(name="reviews", namespace="a")
        + SERVICE.format(name="reviews", namespace="b")
        + DR.format(namespace="c", host="reviews")
    )
    [finding] = findings_of("short-host-name", source)
    assert finding.severity == "error" and finding.edit is None
    assert "only in namespace a, b" in finding.message


def test_kind_list_items_are_judged_with_their_positions():
    source = """\
apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: reviews, namespace: bookinfo}
  spec:
    host: reviews
"""
    assert_findings("short-host-name", source, (8, 5))


def test_severity_can_be_raised_by_config():
    report = run(DR.format(namespace="a", host="reviews"), cfg="rules:\n  short-host-name: error\n")
    [finding] = [f for f in report.findings if f.rule == "short-host-name"]
    assert finding.severity == "error"
