from rules import sidecar_missing
from tests.helpers import assert_findings, run

RULE = "sidecar-missing"

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    istio-injection: enabled
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
spec:
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers: [{{name: {name}, image: example/{name}}}]
"""
SIDECAR = """\
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: {namespace}
spec:
  egress:
  - hosts: ["./*", "istio-system/*"]
"""
VIRTUAL_SERVICE = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: web
  namespace: shop
spec:
  hosts: [web.shop.svc.cluster.local]
"""


def docs(*parts: str) -> str:
    return "---\n".join(parts)


def test_fail_example_is_flagged_and_pass_example_is_not():
    assert_findings(RULE, sidecar_missing.FAIL, (4, 3))
    assert_findings(RULE, sidecar_missing.PASS)


def test_labelled_namespace_without_sidecar_is_flagged_on_the_namespace():
    report = run(docs(NAMESPACE, DEPLOYMENT.format(name="web")))
    [finding] = [f for f in report.findings if f.rule == RULE]
    assert (finding.line, finding.column) == (4, 3)
    assert finding.resource.kind == "Namespace" and finding.resource.namespace is None
    assert finding.message == (
        "Namespace shop is in the mesh (labelled istio-injection: enabled) and this repository "
        "holds 1 workload in it, but no Sidecar without workloadSelector in shop and no default "
        "Sidecar in istio-system: its proxies receive configuration for every service in the mesh"
    )


def test_without_a_namespace_object_the_finding_sits_on_the_first_workload():
    source = docs(VIRTUAL_SERVICE, DEPLOYMENT.format(name="web"), DEPLOYMENT.format(name="api"))
    report = run(source)
    [finding] = [f for f in report.findings if f.rule == RULE]
    assert (finding.line, finding.column) == (12, 3)
    assert str(finding.resource) == "Deployment/shop/web"
    assert "it holds Istio configuration" in finding.message
    assert "2 workloads" in finding.message


def test_a_namespace_wide_sidecar_silences_it():
    assert_findings(
        RULE, docs(NAMESPACE, SIDECAR.format(namespace="shop"), DEPLOYMENT.format(name="web"))
    )


def test_a_default_sidecar_in_the_root_namespace_silences_it_from_another_file():
    head = {
        "apps/shop.yaml": docs(NAMESPACE, DEPLOYMENT.format(name="web")),
        "mesh/sidecar.yaml": SIDECAR.format(namespace="istio-system"),
    }
    assert_findings(RULE, head)


def test_the_root_namespace_is_configurable():
    head = docs(NAMESPACE, DEPLOYMENT.format(name="web"), SIDECAR.format(namespace="mesh-root"))
    assert_findings(RULE, head, (4, 3))
    assert_findings(RULE, head, cfg="root_namespace: mesh-root\n")


def test_a_sidecar_with_a_workload_selector_does_not_cover_the_namespace():
    selective = SIDECAR.format(namespace="shop").replace(
        "spec:\n", "spec:\n  workloadSelector:\n    labels: {app: web}\n"
    )
    assert_findings(RULE, docs(NAMESPACE, selective, DEPLOYMENT.format(name="web")), (4, 3))
    root_selective = selective.replace("namespace: shop", "namespace: istio-system")
    assert_findings(RULE, docs(NAMESPACE, root_selective, DEPLOYMENT.format(name="web")), (4, 3))


def test_a_sidecar_in_another_namespace_does_not_cover_this_one():
    head = docs(NAMESPACE, DEPLOYMENT.format(name="web"), SIDECAR.format(namespace="billing"))
    assert_findings(RULE, head, (4, 3))


def test_each_namespace_is_judged_on_its_own():
    other_namespace = NAMESPACE.replace("name: shop", "name: billing")
    other_workload = DEPLOYMENT.format(name="ledger").replace(
        "namespace: shop", "namespace: billing"
    )
    head = docs(
        NAMESPACE,
        DEPLOYMENT.format(name="web"),
        other_namespace,
        other_workload,
        SIDECAR.format(namespace="billing"),
    )
    assert [f.resource.name for f in run(head).findings if f.rule == RULE] == ["shop"]


def test_namespaces_not_in_the_mesh_are_quiet():
    unlabelled = NAMESPACE.replace("  labels:\n    istio-injection: enabled\n", "")
    disabled = NAMESPACE.replace(
        "  labels:\n    istio-injection: enabled\n",
        "  labels:\n    istio-injection: disabled\n    istio.io/rev: stable\n",
    )
    ambient = NAMESPACE.replace("istio-injection: enabled", "istio.io/dataplane-mode: ambient")
    for namespace in (unlabelled, disabled, ambient):
        assert_findings(RULE, docs(namespace, VIRTUAL_SERVICE, DEPLOYMENT.format(name="web")))


def test_a_namespace_the_repo_shows_nothing_istio_about_is_quiet():
    assert_findings(RULE, DEPLOYMENT.format(name="web"))


def test_the_root_namespace_is_not_in_the_mesh_just_because_it_holds_mesh_config():
    workload = DEPLOYMENT.format(name="istiod").replace(
        "namespace: shop", "namespace: istio-system"
    )
    policy = (
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        "metadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}\n"
    )
    assert_findings(RULE, docs(policy, workload))


def test_workloads_without_sidecars_do_not_count():
    opted_out = DEPLOYMENT.format(name="job").replace(
        "labels: {app: job}", "labels: {app: job, sidecar.istio.io/inject: 'false'}"
    )
    gateway = DEPLOYMENT.format(name="gw").replace(
        "labels: {app: gw}", "labels: {istio: ingressgateway}"
    )
    assert_findings(RULE, docs(NAMESPACE, opted_out, gateway))
    assert_findings(RULE, docs(NAMESPACE, opted_out, DEPLOYMENT.format(name="web")), (4, 3))


def test_services_alone_put_a_namespace_in_scope():
    service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec: {ports: [{port: 80}]}\n"
    report = run(docs(VIRTUAL_SERVICE, service))
    [finding] = [f for f in report.findings if f.rule == RULE]
    assert (str(finding.resource), finding.line, finding.column) == ("Service/shop/web", 12, 3)
    assert "1 Service in it" in finding.message


def test_namespace_and_workload_inside_a_list():
    head = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: shop
    labels: {istio.io/rev: stable}
- apiVersion: v1
  kind: Pod
  metadata: {name: web, namespace: shop}
  spec: {containers: [{name: web, image: web}]}
"""
    assert_findings(RULE, head, (7, 5))


def test_adding_a_workload_keeps_the_finding_old():
    base = docs(NAMESPACE, DEPLOYMENT.format(name="web"))
    head = docs(NAMESPACE, DEPLOYMENT.format(name="web"), DEPLOYMENT.format(name="api"))
    [finding] = [f for f in run(head, base).findings if f.rule == RULE]
    assert finding.new is False


def test_deleting_the_namespace_sidecar_makes_the_finding_new():
    base = docs(NAMESPACE, SIDECAR.format(namespace="shop"), DEPLOYMENT.format(name="web"))
    head = docs(NAMESPACE, DEPLOYMENT.format(name="web"))
    [finding] = [f for f in run(head, base).findings if f.rule == RULE]
    assert finding.new is True


def test_services_in_front_of_gateways_do_not_count():
    gateway_service = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: ingress\n  namespace: shop\n"
        "spec:\n  type: LoadBalancer\n  selector: {istio: ingressgateway}\n"
    )
    assert_findings(RULE, docs(NAMESPACE, gateway_service))
    app_service = gateway_service.replace("{istio: ingressgateway}", "{app: web}")
    assert_findings(RULE, docs(NAMESPACE, gateway_service, app_service), (4, 3))


def test_services_of_workloads_without_sidecars_do_not_count():
    opted_out = DEPLOYMENT.format(name="batch").replace(
        "labels: {app: batch}", "labels: {app: batch, sidecar.istio.io/inject: 'false'}"
    )
    service = "apiVersion: v1\nkind: Service\nmetadata: {name: batch, namespace: shop}\nspec: {selector: {app: batch}}\n"
    assert_findings(RULE, docs(NAMESPACE, opted_out, service))


def test_external_name_services_do_not_count():
    alias = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: shop}\n"
        "spec: {type: ExternalName, externalName: db.example.com}\n"
    )
    assert_findings(RULE, docs(NAMESPACE, alias))


def test_a_namespace_declared_in_the_mesh_without_workloads_in_the_repository():
    """A platform repository declares the namespaces; the teams deploy into them elsewhere."""
    [finding] = [f for f in run(NAMESPACE).findings if f.rule == RULE]
    assert (finding.resource.kind, finding.line, finding.column) == ("Namespace", 4, 3)
    assert finding.message == (
        "Namespace shop is in the mesh (labelled istio-injection: enabled) and holds no workloads "
        "in this repository (they are deployed from elsewhere; its Sidecar belongs here, beside "
        "the Namespace), but no Sidecar without workloadSelector in shop and no default Sidecar "
        "in istio-system: its proxies receive configuration for every service in the mesh"
    )
    revision = NAMESPACE.replace("istio-injection: enabled", "istio.io/rev: stable")
    assert_findings(RULE, revision, (4, 3))


def test_a_declared_namespace_keeps_its_finding_when_workloads_arrive():
    head = docs(NAMESPACE, DEPLOYMENT.format(name="web"))
    [finding] = [f for f in run(head, NAMESPACE).findings if f.rule == RULE]
    assert finding.new is False


def test_declared_namespaces_that_need_no_finding():
    disabled = NAMESPACE.replace("istio-injection: enabled", "istio-injection: disabled")
    assert_findings(RULE, disabled)
    assert_findings(RULE, docs(NAMESPACE, SIDECAR.format(namespace="shop")))
    assert_findings(RULE, docs(NAMESPACE, SIDECAR.format(namespace="istio-system")))
    root = NAMESPACE.replace("name: shop", "name: istio-system")
    assert_findings(RULE, root)
