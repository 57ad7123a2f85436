from rules import hold_application_until_proxy_starts
from tests.helpers import assert_findings, findings_of, run

RULE = "hold-application-until-proxy-starts"

OPERATOR = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: control-plane
  namespace: istio-system
spec:
{spec}"""


def operator(spec: str) -> str:
    return OPERATOR.format(spec=spec)


def test_fail_example_is_flagged_and_pass_example_is_not():
    assert_findings(RULE, hold_application_until_proxy_starts.FAIL, (10, 7))
    assert_findings(RULE, hold_application_until_proxy_starts.PASS)


def test_false_in_an_istio_operator_is_flagged_with_a_fix():
    [finding] = findings_of(RULE, hold_application_until_proxy_starts.FAIL)
    assert (
        "spec.meshConfig.defaultConfig.holdApplicationUntilProxyStarts is false" in finding.message
    )
    assert (finding.edit.start_line, finding.edit.end_line) == (10, 10)
    assert finding.edit.replacement == "      holdApplicationUntilProxyStarts: true"


def test_missing_setting_points_at_the_deepest_present_key():
    assert_findings(RULE, operator("  profile: default\n"), (6, 1))
    assert_findings(RULE, operator("  meshConfig:\n    accessLogFile: /dev/stdout\n"), (7, 3))
    assert_findings(
        RULE, operator("  meshConfig:\n    defaultConfig:\n      concurrency: 2\n"), (8, 5)
    )
    [finding] = findings_of(RULE, operator("  profile: default\n"))
    assert "is not set" in finding.message and finding.edit is None


def test_the_helm_value_for_the_injector_counts_as_set():
    assert_findings(
        RULE,
        operator(
            "  values:\n    global:\n      proxy:\n        holdApplicationUntilProxyStarts: true\n"
        ),
    )


def test_operators_that_install_no_istiod_are_not_mesh_config():
    assert_findings(
        RULE,
        operator(
            "  profile: empty\n  components:\n    ingressGateways: [{name: gw, enabled: true}]\n"
        ),
    )
    assert_findings(RULE, operator("  components:\n    pilot: {enabled: false}\n"))


CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: {namespace}
data:
  mesh: |-
{mesh}"""


def configmap(mesh: str, name: str = "istio", namespace: str = "istio-system") -> str:
    return CONFIGMAP.format(name=name, namespace=namespace, mesh=mesh)


def test_istio_configmap_mesh_is_read_from_its_yaml_string():
    assert_findings(RULE, configmap("    accessLogFile: /dev/stdout\n"), (7, 3))
    assert_findings(
        RULE,
        configmap(
            "    defaultConfig:\n      holdApplicationUntilProxyStarts: false\n", name="istio-1-24"
        ),
        (7, 3),
    )
    assert_findings(
        RULE, configmap("    defaultConfig:\n      holdApplicationUntilProxyStarts: true\n")
    )
    [finding] = findings_of(
        RULE, configmap("    defaultConfig:\n      holdApplicationUntilProxyStarts: false\n")
    )
    assert finding.message.startswith(
        "ConfigMap istio-system/istio: defaultConfig.holdApplicationUntilProxyStarts in data.mesh is false"
    )
    assert finding.edit is None


def test_other_configmaps_are_not_mesh_config():
    assert_findings(RULE, configmap("    accessLogFile: /dev/stdout\n", namespace="shop"))
    assert_findings(RULE, configmap("    accessLogFile: /dev/stdout\n", name="sidecar-config"))
    assert_findings(RULE, configmap("    defaultConfig: [unclosed\n"))
    assert_findings(
        RULE, configmap("    accessLogFile: /dev/stdout\n"), cfg="root_namespace: mesh-root\n"
    )


def test_helm_values_files():
    values = {
        "charts/istiod/values-prod.yaml": "meshConfig:\n  defaultConfig:\n    proxyMetadata: {}\n"
    }
    assert_findings(RULE, values, (2, 3))
    [finding] = findings_of(RULE, values)
    assert finding.message.startswith(
        "Helm values file charts/istiod/values-prod.yaml: "
        "meshConfig.defaultConfig.holdApplicationUntilProxyStarts is not set"
    )
    fixed = {
        "values.yaml": "meshConfig: {}\nglobal:\n  proxy:\n    holdApplicationUntilProxyStarts: true\n"
    }
    assert_findings(RULE, fixed)


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    metadata:
      annotations:
{annotations}"""


def deployment(annotations: str) -> str:
    return DEPLOYMENT.format(annotations=annotations)


def test_pod_annotation_setting_false_is_flagged_with_a_fix():
    source = deployment(
        """        proxy.istio.io/config: '{"holdApplicationUntilProxyStarts": false}'\n"""
    )
    [finding] = findings_of(RULE, source)
    assert (finding.line, finding.column) == (10, 9)
    assert "Deployment shop/web sets holdApplicationUntilProxyStarts: false" in finding.message
    assert finding.edit.replacement == (
        """        proxy.istio.io/config: '{"holdApplicationUntilProxyStarts": true}'"""
    )


def test_pod_annotation_in_block_yaml_is_flagged_without_a_fix():
    source = deployment(
        "        proxy.istio.io/config: |\n          concurrency: 2\n"
        "          holdApplicationUntilProxyStarts: false\n"
    )
    [finding] = findings_of(RULE, source)
    assert (finding.line, finding.column, finding.edit) == (10, 9, None)


def test_pods_without_a_sidecar_are_quiet_as_there_is_no_proxy_to_wait_for():
    setting = """        proxy.istio.io/config: '{"holdApplicationUntilProxyStarts": false}'\n"""
    assert_findings(RULE, deployment(setting + '        sidecar.istio.io/inject: "false"\n'))
    assert_findings(RULE, deployment(setting + "        ambient.istio.io/redirection: enabled\n"))


def test_pod_annotations_that_do_not_set_false_are_quiet():
    for value in (
        "'{\"holdApplicationUntilProxyStarts\": true}'",
        "'{}'",
        "'not: [valid'",
        "'concurrency: 2'",
    ):
        assert_findings(RULE, deployment(f"        proxy.istio.io/config: {value}\n"))


def test_pods_cronjobs_and_lists():
    source = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: a
    annotations:
      proxy.istio.io/config: "holdApplicationUntilProxyStarts: false"
- apiVersion: batch/v1
  kind: CronJob
  metadata: {name: b, namespace: jobs}
  spec:
    jobTemplate:
      spec:
        template:
          metadata:
            annotations: {proxy.istio.io/config: '{"holdApplicationUntilProxyStarts":false}'}
"""
    assert_findings(RULE, source, (9, 7), (18, 27))
    [pod, _] = findings_of(RULE, source)
    assert (
        pod.edit.replacement
        == "      proxy.istio.io/config: 'holdApplicationUntilProxyStarts: true'"
    )


def test_unnamed_operators_in_two_files_are_two_findings():
    unnamed = (
        "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  profile: {profile}\n"
    )
    head = {
        "prod/istio.yaml": unnamed.format(profile="default"),
        "staging/istio.yaml": unnamed.format(profile="minimal"),
    }
    report = run(head)
    assert [(f.path, f.line) for f in report.findings if f.rule == RULE] == [
        ("prod/istio.yaml", 3),
        ("staging/istio.yaml", 3),
    ]
    assert "IstioOperator in staging/istio.yaml" in report.findings[-1].message


def test_false_in_helm_values_gets_a_fix():
    values = {
        "values.yaml": "meshConfig:\n  defaultConfig:\n    holdApplicationUntilProxyStarts: false\n"
    }
    [finding] = findings_of(RULE, values)
    assert (finding.line, finding.column) == (3, 5)
    assert finding.edit.replacement == "    holdApplicationUntilProxyStarts: true"


def test_a_values_override_need_not_repeat_what_its_base_file_sets():
    base_values = "meshConfig:\n  defaultConfig:\n    holdApplicationUntilProxyStarts: true\n"
    override = "meshConfig:\n  accessLogFile: /dev/stdout\n"
    head = {
        "istio/values.yaml": base_values,
        "istio/values-prod.yaml": override,
        "istio/prod/values.yaml": override,
    }
    assert_findings(RULE, head)
    head["istio/values-dev.yaml"] = (
        "meshConfig:\n  defaultConfig:\n    holdApplicationUntilProxyStarts: false\n"
    )
    assert [f.path for f in findings_of(RULE, head)] == ["istio/values-dev.yaml"]


def test_values_files_of_separate_clusters_are_judged_separately():
    head = {
        "clusters/a/istiod.yaml": "meshConfig:\n  defaultConfig:\n    holdApplicationUntilProxyStarts: true\n",
        "clusters/b/istiod.yaml": "meshConfig:\n  accessLogFile: /dev/stdout\n",
    }
    assert [(f.path, f.line, f.column) for f in findings_of(RULE, head)] == [
        ("clusters/b/istiod.yaml", 1, 1)
    ]


def test_operator_overlays_of_one_name_are_layers():
    overlay = operator("  meshConfig:\n    accessLogFile: /dev/stdout\n")
    head = {
        "istio/base.yaml": hold_application_until_proxy_starts.PASS,
        "istio/overlays/prod.yaml": overlay,
    }
    assert_findings(RULE, head)
    other_name = overlay.replace("name: control-plane", "name: other")
    assert_findings(
        RULE,
        {
            "istio/base.yaml": hold_application_until_proxy_starts.PASS,
            "istio/other.yaml": other_name,
        },
        (7, 3),
    )


def test_an_ambient_install_is_judged_only_where_namespaces_use_sidecars():
    ambient = operator("  profile: ambient\n")
    assert_findings(RULE, ambient)
    assert_findings(RULE, {"values.yaml": "profile: ambient\nmeshConfig: {}\n"})
    sidecars = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: legacy\n  labels: {istio.io/rev: stable}\n"
    assert_findings(RULE, {"iop.yaml": ambient, "ns.yaml": sidecars}, (6, 1))


def test_native_sidecars_start_the_proxy_first_so_the_setting_does_not_matter():
    """The injection template ignores the setting for native sidecars (Istio 1.28+ "auto" on
    Kubernetes 1.33+ nodes, or ENABLE_NATIVE_SIDECARS=true): only an explicit "true" counts,
    since the repository cannot show the nodes' version."""
    profile = "  profile: default\n"
    assert_findings(RULE, operator(profile), (6, 1))
    native_values = '  values:\n    pilot:\n      env: {ENABLE_NATIVE_SIDECARS: "true"}\n'
    assert_findings(RULE, operator(profile + native_values))
    native_k8s = (
        "  components:\n    pilot:\n      k8s:\n        env:\n"
        '        - {name: ENABLE_NATIVE_SIDECARS, value: "true"}\n'
    )
    assert_findings(RULE, operator(profile + native_k8s))
    assert_findings(RULE, operator(profile + native_values.replace('"true"', '"auto"')), (6, 1))
    helm = {"istiod.yaml": 'meshConfig: {}\nenv:\n  ENABLE_NATIVE_SIDECARS: "true"\n'}
    assert_findings(RULE, helm)
    opt_out = """        proxy.istio.io/config: '{"holdApplicationUntilProxyStarts": false}'\n"""
    native_pod = opt_out + '        sidecar.istio.io/nativeSidecar: "true"\n'
    assert_findings(RULE, deployment(native_pod))
    assert_findings(RULE, deployment(opt_out), (10, 9))
