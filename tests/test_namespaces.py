"""Namespaces as the repository determines them (DESIGN, "Targets"): never silently `default`."""

from tests.helpers import config, findings_of, run

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec: {ports: [{port: 9080}]}
"""
VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
"""
DR = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}]
"""
OTHER_SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: bookinfo}
spec: {ports: [{port: 9080}]}
"""


def test_namespace_less_resources_have_no_namespace_in_findings_and_json():
    report = run({"app/vs.yaml": VS})
    assert report.findings
    for finding in report.findings:
        assert finding.resource.namespace is None
        assert finding.to_json()["resource"]["namespace"] is None
        assert " default" not in finding.message.replace("default Sidecar", "")
        assert "?" not in finding.message


def test_a_namespace_less_folder_resolves_its_own_service_subset_and_short_host():
    head = {"app/svc.yaml": SERVICE, "app/vs.yaml": VS, "app/dr.yaml": DR}
    assert findings_of("host-not-found", head) == []
    assert findings_of("subset-not-defined", head) == []
    [short, *_] = findings_of("short-host-name", head)
    assert short.severity == "warning"  # not escalated: the Service is beside it
    assert "applied to" in short.message and short.edit is None


def test_a_reference_out_of_an_unknown_namespace_is_not_reported_missing():
    # The folder defines other Services; `reviews` may exist where the folder is applied.
    head = {
        "app/svc.yaml": SERVICE.replace("reviews", "details"),
        "app/vs.yaml": VS,
        "mesh/other.yaml": OTHER_SERVICE,
    }
    assert findings_of("host-not-found", head) == []
    assert findings_of("subset-not-defined", head) == []
    assert all(f.severity == "warning" for f in findings_of("short-host-name", head))


def test_a_service_of_unknown_namespace_may_be_the_one_a_full_host_names():
    vs = VS.replace("host: reviews,", "host: reviews.bookinfo.svc.cluster.local,")
    vs = vs.replace("metadata: {name: reviews}", "metadata: {name: reviews, namespace: web}")
    head = {"app/svc.yaml": SERVICE, "web/vs.yaml": vs, "mesh/other.yaml": OTHER_SERVICE}
    assert findings_of("host-not-found", head) == []


def test_two_folders_of_unknown_namespace_do_not_resolve_into_each_other():
    # Short host in a known namespace whose only Service is in an unknown-namespace folder:
    # no escalation to "defined only in another namespace" (it may be the same namespace).
    vs = VS.replace("metadata: {name: reviews}", "metadata: {name: reviews, namespace: web}")
    head = {"app/svc.yaml": SERVICE, "web/vs.yaml": vs}
    assert all(f.severity == "warning" for f in findings_of("short-host-name", head))


def test_known_namespaces_still_escalate_a_short_host_defined_elsewhere():
    svc = SERVICE.replace("{name: reviews}", "{name: reviews, namespace: bookinfo}")
    vs = VS.replace("metadata: {name: reviews}", "metadata: {name: reviews, namespace: web}")
    head = {"a/svc.yaml": svc, "b/vs.yaml": vs}
    assert {f.severity for f in findings_of("short-host-name", head)} == {"error"}


def test_config_namespace_globs_and_default_namespace_place_resources():
    cfg = config(
        """\
        default_namespace: fallback
        namespaces:
          apps/payments/**: payments
        """
    )
    report = run({"apps/payments/vs.yaml": VS, "other/vs.yaml": VS}, cfg=cfg)
    namespaces = {f.path: f.resource.namespace for f in report.findings}
    assert namespaces == {"apps/payments/vs.yaml": "payments", "other/vs.yaml": "fallback"}


def test_metadata_namespace_wins_over_the_config():
    cfg = config("namespaces:\n  app/**: payments\n")
    vs = VS.replace("metadata: {name: reviews}", "metadata: {name: reviews, namespace: shop}")
    [finding, *_] = run({"app/vs.yaml": vs}, cfg=cfg).findings
    assert finding.resource.namespace == "shop"


def test_a_placeholder_namespace_is_unknown():
    vs = VS.replace("metadata: {name: reviews}", 'metadata: {name: reviews, namespace: "${NS}"}')
    for finding in run({"app/vs.yaml": vs}).findings:
        assert finding.resource.namespace is None
        assert "${NS}" not in finding.message


def test_cluster_scoped_kinds_stay_apart_from_unknown_namespaces():
    from rules.core.loader import load
    from tests.helpers import files

    namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
    resources, _ = load(files({"a/ns.yaml": namespace, "a/svc.yaml": SERVICE}))
    ns, svc = resources
    assert ns.namespace is None and ns.scope is None and not ns.namespace_unknown
    assert svc.namespace is None and svc.namespace_unknown


def test_sidecar_missing_does_not_name_an_unknown_namespace():
    deployment = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web}]}
"""
    head = {"app/deploy.yaml": deployment, "app/vs.yaml": VS, "app/svc.yaml": SERVICE}
    [finding] = findings_of("sidecar-missing", head)
    assert "Namespace default" not in finding.message and "?" not in finding.message
    assert "applied to" in finding.message


def test_config_rejects_bad_namespace_mappings():
    import pytest

    from rules.core.config import ConfigError

    with pytest.raises(ConfigError, match=r"namespaces\.apps/.*must be a namespace name"):
        config("namespaces:\n  apps/**: Not_A_Namespace\n")
    with pytest.raises(ConfigError, match="namespaces must be a mapping"):
        config("namespaces: [a, b]\n")
    with pytest.raises(ConfigError, match=r"render\.kustomize must be auto or off"):
        config("render:\n  kustomize: maybe\n")
    with pytest.raises(ConfigError, match=r"unknown key 'render\.kubectl'"):
        config("render:\n  kubectl: auto\n")
    assert config("render:\n  kustomize: off\n").render.kustomize == "off"
    charts = config(
        "render:\n  charts:\n  - {path: charts/x, values: [v.yaml], release: x, namespace: y}\n"
    ).render.charts
    assert charts[0].values == ("v.yaml",) and charts[0].namespace == "y"


def test_placeholder_hosts_and_gateways_are_unknown_values_not_names():
    vs = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: ["${APP_HOST}"]
  gateways: ["$(GATEWAY)"]
  http:
  - route:
    - destination: {host: "{{ .Values.backend }}", subset: v1}
"""
    gateway = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: shop}
spec:
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [shop.example.com]}]
"""
    head = {"app/vs.yaml": vs, "app/gw.yaml": gateway, "app/svc.yaml": OTHER_SERVICE}
    for rule_id in (
        "short-host-name",
        "host-not-found",
        "subset-not-defined",
        "gateway-not-found",
        "gateway-host-mismatch",
    ):
        assert findings_of(rule_id, head) == [], rule_id


def test_a_placeholder_mtls_mode_is_not_read_as_a_mode():
    pa = """\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec:
  mtls: {mode: "${MTLS_MODE}"}
"""
    assert findings_of("permissive-mtls", {"a/pa.yaml": pa}) == []


def test_a_run_without_istio_resources_says_what_it_read():
    deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {}\n"
    report = run({"a/deploy.yaml": deployment, "a/svc.yaml": SERVICE})
    [note] = report.notes
    assert "no Istio or Gateway API resource" in note
    assert "1 Deployment" in note and "1 Service" in note
    assert run({"a/vs.yaml": VS}).notes == []
