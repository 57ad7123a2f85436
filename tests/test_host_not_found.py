from rules import host_not_found
from tests.helpers import assert_findings, run

SERVICES = """\
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: payments, namespace: shop}
spec:
  hosts: [payments.example.com, "*.apis.example.org", ledger.shop.svc.cluster.local]
---
"""
VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: front
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
  tcp:
  - route:
    - destination:
        host: {tcp}
"""
REVIEWS = "reviews.bookinfo.svc.cluster.local"


def vs(namespace="bookinfo", host=REVIEWS, destination=REVIEWS, mirror=REVIEWS, tcp=REVIEWS):
    return SERVICES + VS.format(
        namespace=namespace, host=host, destination=destination, mirror=mirror, tcp=tcp
    )


def test_fail_example_is_flagged_and_pass_example_is_not():
    assert [f for f in run(host_not_found.FAIL).findings if f.rule == "host-not-found"]
    assert not [f for f in run(host_not_found.PASS).findings if f.rule == "host-not-found"]


def test_unknown_host_in_hosts_routes_mirror_and_tcp_is_flagged():
    typo = "reviwes.bookinfo.svc.cluster.local"
    source = vs(host=typo, destination=typo, mirror=typo, tcp=typo)
    assert_findings("host-not-found", source, (18, 5), (22, 9), (24, 7), (28, 9))
    finding = next(f for f in run(source).findings if f.rule == "host-not-found")
    assert finding.severity == "warning"
    assert finding.message == (
        "VirtualService bookinfo/front host 'reviwes.bookinfo.svc.cluster.local' matches no "
        "Service or ServiceEntry in this repository, which defines other Services in namespace "
        "bookinfo"
    )


def test_short_and_namespace_forms_expand_before_the_lookup():
    assert_findings("host-not-found", vs(destination="reviews"))
    # Istio keeps a name with a dot as written: `reviews.bookinfo` is found, as a partial name.
    assert_findings(
        "host-not-found", vs(namespace="other", destination="reviews.bookinfo"), (22, 9)
    )
    assert_findings("host-not-found", vs(destination="ratings"), (22, 9))
    [finding] = [f for f in run(vs(destination="ratings")).findings if f.rule == "host-not-found"]
    assert "'ratings' (ratings.bookinfo.svc.cluster.local)" in finding.message


def test_short_host_resolves_in_the_resource_namespace_not_the_service_namespace():
    # `reviews` in a VirtualService of namespace shop is reviews.shop...; shop has no Service
    # but the repository defines a ServiceEntry host there, which does not make it a Service
    # namespace: only Kubernetes Services do.
    assert_findings(
        "host-not-found",
        vs(
            namespace="shop",
            host="payments.example.com",
            destination="reviews",
            mirror=REVIEWS,
            tcp=REVIEWS,
        ),
    )


def test_only_namespaces_with_services_in_the_repo_are_judged():
    assert_findings("host-not-found", vs(destination="ghost.elsewhere.svc.cluster.local"))


def test_service_entries_define_exact_and_wildcard_hosts():
    assert_findings(
        "host-not-found",
        vs(
            host="payments.example.com",
            destination="a.b.apis.example.org",
            mirror="ledger.shop.svc.cluster.local",
        ),
    )


def test_wildcards_and_external_domains_are_left_alone():
    assert_findings(
        "host-not-found",
        vs(host='"*.bookinfo.svc.cluster.local"', destination="unknown.example.com", mirror='"*"'),
    )


def test_destination_rule_host_is_checked():
    source = (
        SERVICES
        + """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: r, namespace: bookinfo}
spec:
  host: reveiws
"""
    )
    assert_findings("host-not-found", source, (15, 3))
    [finding] = [f for f in run(source).findings if f.rule == "host-not-found"]
    assert (
        "DestinationRule bookinfo/r host 'reveiws' (reveiws.bookinfo.svc.cluster.local)"
        in finding.message
    )


def test_no_services_in_the_repo_means_no_findings():
    source = VS.format(
        namespace="a", host="x.a.svc.cluster.local", destination="y", mirror="z", tcp="w"
    )
    assert_findings("host-not-found", source)


def test_custom_cluster_domain():
    source = vs(destination="reviews.bookinfo.svc.cluster.local")
    cfg = "cluster_domain: corp.local\n"
    # Under corp.local the .cluster.local hosts are external domains, and the Service is
    # reviews.bookinfo.svc.corp.local.
    assert_findings("host-not-found", source, cfg=cfg)
    assert_findings(
        "host-not-found",
        vs(host=REVIEWS.replace("cluster", "corp"), destination="ratings.bookinfo.svc.corp.local"),
        (22, 9),
        cfg=cfg,
    )


def test_kind_list_service_counts():
    source = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: ratings, namespace: bookinfo}
---
""" + VS.format(
        namespace="bookinfo", host="ratings", destination="ratings", mirror="ratings", tcp="reviews"
    )
    assert_findings("host-not-found", source, (25, 9))


def test_export_to_limits_where_services_and_service_entries_count():
    source = """\
apiVersion: v1
kind: Service
metadata:
  name: details
  namespace: bookinfo
  annotations: {networking.istio.io/exportTo: "banana, ."}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: catch-all, namespace: private}
spec:
  exportTo: ["."]
  hosts: ["*"]
---
""" + VS.format(
        namespace="istio-system",
        host="details.bookinfo.svc.cluster.local",
        destination="details.bookinfo.svc.cluster.local",
        mirror="ghost.bookinfo.svc.cluster.local",
        tcp="details.bookinfo.svc.cluster.local",
    )
    assert_findings("host-not-found", source, (22, 5), (26, 9), (28, 7), (32, 9))
    messages = [f.message for f in run(source).findings if f.rule == "host-not-found"]
    assert (
        "is defined in this repository by Service bookinfo/details, which is not exported to "
        "namespace istio-system"
    ) in messages[0]
    assert "'ghost.bookinfo.svc.cluster.local' matches no Service or ServiceEntry" in messages[2]
    for namespace in ("banana", "bookinfo"):
        visible = source.replace("namespace: istio-system", f"namespace: {namespace}")
        assert_findings("host-not-found", visible, (28, 7))


PARTIAL_SERVICE = (
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\n  namespace: bookinfo\n"
    "spec:\n  ports:\n  - port: 9080\n"
)


def partial_destination(host: str) -> str:
    return (
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: front\n"
        f"  namespace: web\nspec:\n  hosts: [front]\n  http:\n  - route:\n    - destination:\n"
        f"        host: {host}\n"
    )


def test_a_partial_destination_name_is_kept_literal_by_istio():
    """pilot's ResolveShortnameToFQDN expands only a name without a dot: `reviews.bookinfo`
    names no service, and the route fails."""
    source = {"svc.yaml": PARTIAL_SERVICE, "vs.yaml": partial_destination("reviews.bookinfo")}
    [finding] = [f for f in run(source).findings if f.rule == "host-not-found"]
    assert (finding.path, finding.line, finding.column) == ("vs.yaml", 11, 9)
    assert finding.message == (
        "VirtualService web/front destination host 'reviews.bookinfo' is a partial name: Istio "
        "expands only a name without a dot and keeps 'reviews.bookinfo' as written, so it "
        "matches no service (Service reviews.bookinfo.svc.cluster.local exists); write "
        "reviews.bookinfo.svc.cluster.local"
    )
    assert finding.edit.replacement == "        host: reviews.bookinfo.svc.cluster.local"
    svc_form = {"svc.yaml": PARTIAL_SERVICE, "vs.yaml": partial_destination("reviews.bookinfo.svc")}
    assert len([f for f in run(svc_form).findings if f.rule == "host-not-found"]) == 1


def test_full_names_short_names_and_literal_service_entries_are_not_partial():
    full = partial_destination("reviews.bookinfo.svc.cluster.local")
    assert [
        f
        for f in run({"s.yaml": PARTIAL_SERVICE, "v.yaml": full}).findings
        if f.rule == "host-not-found"
    ] == []
    entry = (
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: legacy\n"
        "  namespace: web\nspec:\n  hosts: [reviews.bookinfo]\n  resolution: DNS\n"
    )
    source = {
        "s.yaml": PARTIAL_SERVICE,
        "e.yaml": entry,
        "v.yaml": partial_destination("reviews.bookinfo"),
    }
    assert [f for f in run(source).findings if f.rule == "host-not-found"] == []
    # A VirtualService's own hosts match Host headers, where `reviews.bookinfo` is an alias.
    own = partial_destination("reviews.bookinfo.svc.cluster.local").replace(
        "hosts: [front]", "hosts: [reviews.bookinfo]"
    )
    assert [
        f
        for f in run({"s.yaml": PARTIAL_SERVICE, "v.yaml": own}).findings
        if f.rule == "host-not-found"
    ] == []
