from rules import subset_not_defined
from tests.helpers import assert_findings, findings_of

DR = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: {name}
  namespace: {namespace}
spec:
  host: {host}
  subsets:
{subsets}"""
VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: {namespace}
spec:
  hosts:
  - reviews.bookinfo.svc.cluster.local
  http:
  - route:
    - destination:
        host: {host}
        subset: {subset}
"""
REVIEWS = "reviews.bookinfo.svc.cluster.local"


def dr(*subsets, name="reviews", namespace="bookinfo", host=REVIEWS):
    listed = "".join(f"  - name: {s}\n    labels: {{version: {s}}}\n" for s in subsets) or "  []\n"
    return DR.format(name=name, namespace=namespace, host=host, subsets=listed)


def vs(subset="v1", namespace="bookinfo", host=REVIEWS):
    return VS.format(namespace=namespace, host=host, subset=subset)


def test_fail_example_is_flagged_and_pass_example_is_not():
    assert findings_of("subset-not-defined", subset_not_defined.FAIL)
    assert not findings_of("subset-not-defined", subset_not_defined.PASS)


def test_undefined_subset_is_an_error_on_the_subset_key():
    source = {"dr.yaml": dr("v1", "v2"), "vs.yaml": vs("v3")}
    assert_findings("subset-not-defined", source, (13, 9))
    [finding] = findings_of("subset-not-defined", source)
    assert (finding.path, finding.severity) == ("vs.yaml", "error")
    assert finding.message == (
        "VirtualService bookinfo/reviews sends traffic to subset 'v3' of "
        "reviews.bookinfo.svc.cluster.local, but no DestinationRule for that host defines it "
        "(subsets defined: v1, v2; in DestinationRule bookinfo/reviews)"
    )


def test_defined_subset_and_no_subset_are_fine():
    assert_findings("subset-not-defined", {"dr.yaml": dr("v1"), "vs.yaml": vs("v1")})
    no_subset = vs().replace("        subset: v1\n", "")
    assert_findings("subset-not-defined", {"dr.yaml": dr("v1"), "vs.yaml": no_subset})


def test_no_destination_rule_for_the_host():
    [finding] = findings_of("subset-not-defined", vs("v1"))
    assert "no DestinationRule in this repository has that host" in finding.message


def test_subsets_of_every_destination_rule_for_the_host_count():
    source = {
        "a.yaml": dr("v1"),
        "b.yaml": dr("v2", name="reviews-canary", host="reviews"),
        "root.yaml": dr("v3", name="mesh-wide", namespace="istio-system"),
        "vs.yaml": vs("v2") + "---\n" + vs("v3").replace("name: reviews\n", "name: other\n"),
    }
    assert_findings("subset-not-defined", source)


def test_short_host_destination_rule_in_another_namespace_does_not_count():
    # A DR for `reviews` in namespace a is about reviews.a...; the VS in b means reviews.b...
    source = (
        dr("v1", namespace="a", host="reviews") + "---\n" + vs("v1", namespace="b", host="reviews")
    )
    assert_findings("subset-not-defined", source, (24, 9))
    [finding] = findings_of("subset-not-defined", source)
    assert "reviews.b.svc.cluster.local" in finding.message
    assert "no DestinationRule in this repository has that host" in finding.message


def test_fqdn_and_namespace_forms_meet_short_hosts():
    source = (
        dr("v1", namespace="a", host="reviews")
        + "---\n"
        + vs("v1", namespace="b", host="reviews.a")
    )
    assert_findings("subset-not-defined", source)


def test_wildcard_destination_rule_subsets_count():
    source = dr("v1", host='"*.bookinfo.svc.cluster.local"') + "---\n" + vs("v1")
    assert_findings("subset-not-defined", source)


def test_mirror_mirrors_tcp_and_tls_destinations():
    source = (
        dr("v1")
        + """\
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: many, namespace: bookinfo}
spec:
  hosts: [reviews.bookinfo.svc.cluster.local]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
    mirror: {host: reviews, subset: shadow}
    mirrors:
    - destination: {host: reviews, subset: dark}
  tcp:
  - route:
    - destination: {host: reviews, subset: tcp}
  tls:
  - match: [{sniHosts: [reviews.bookinfo.svc.cluster.local]}]
    route:
    - destination: {host: reviews, subset: tls}
"""
    )
    assert_findings("subset-not-defined", source, (20, 29), (22, 36), (25, 36), (29, 36))
    messages = [f.message for f in findings_of("subset-not-defined", source)]
    assert [m.split("'")[1] for m in messages] == ["shadow", "dark", "tcp", "tls"]


def test_kind_list():
    source = (
        dr("v1")
        + """\
---
apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: VirtualService
  metadata: {name: reviews, namespace: bookinfo}
  spec:
    hosts: [reviews.bookinfo.svc.cluster.local]
    http:
    - route:
      - destination: {host: reviews, subset: v2}
"""
    )
    assert_findings("subset-not-defined", source, (22, 38))


def test_removing_a_subset_from_the_destination_rule_is_new_on_the_virtual_service():
    base = {"dr.yaml": dr("v1", "v2"), "vs.yaml": vs("v2")}
    head = {"dr.yaml": dr("v1"), "vs.yaml": vs("v2")}
    [finding] = findings_of("subset-not-defined", head, base)
    assert (finding.path, finding.line, finding.column) == ("vs.yaml", 13, 9)
    assert finding.resource.kind == "VirtualService"
    assert finding.new is True


def test_an_old_finding_stays_old_when_routes_are_inserted_above_it():
    route = "  - route:\n    - destination:\n        host: reviews\n        subset: v1\n"
    base = {"dr.yaml": dr("v1"), "vs.yaml": vs("v9")}
    head = {"dr.yaml": dr("v1"), "vs.yaml": vs("v9").replace("  http:\n", "  http:\n" + route)}
    [finding] = findings_of("subset-not-defined", head, base)
    assert (finding.line, finding.new) == (17, False)


def test_external_hosts_meet_their_destination_rules_and_are_named_as_written():
    source = (
        dr("v1", name="api", host="api.example.com")
        + "---\n"
        + dr("v1", name="bare", host="example.com")
        + "---\n"
        + vs("v1", host="api.example.com")
        + "---\n"
        + vs("v1", host="example.com").replace("name: reviews\n", "name: bare\n")
        + "---\n"
        + vs("v2", host="example.com").replace("name: reviews\n", "name: wrong\n")
    )
    assert_findings("subset-not-defined", source, (63, 9))
    [finding] = findings_of("subset-not-defined", source)
    assert "subset 'v2' of example.com, but" in finding.message


def test_numeric_subset_names_compare_as_text():
    assert_findings("subset-not-defined", dr("1", "2") + "---\n" + vs("2"))
    assert_findings("subset-not-defined", dr("1") + "---\n" + vs("3"), (24, 9))
