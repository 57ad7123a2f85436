from decimal import Decimal

import pytest

from rules import proxy_resources_missing
from rules.mesh.quantities import parse_quantity
from tests.helpers import assert_findings, findings_of

RULE = "proxy-resources-missing"

OPERATOR = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: control-plane
  namespace: istio-system
spec:
  meshConfig: {{defaultConfig: {{holdApplicationUntilProxyStarts: true}}}}
  values:
    global:
      proxy:
        resources:
{resources}"""


def operator(resources: str) -> str:
    return OPERATOR.format(resources=resources)


def test_fail_example_is_flagged_and_pass_example_is_not():
    assert_findings(RULE, proxy_resources_missing.FAIL, (11, 9))
    assert_findings(RULE, proxy_resources_missing.PASS)


def test_a_null_memory_limit_removes_the_chart_default():
    source = operator("          limits: {cpu: 500m, memory: null}\n")
    [finding] = findings_of(RULE, source)
    assert (finding.line, finding.column) == (12, 31)
    assert finding.message == (
        "IstioOperator istio-system/control-plane: "
        "spec.values.global.proxy.resources.limits.memory is null, which removes the istiod "
        "chart's default proxy memory limit (1024Mi), so sidecar proxies run without a memory "
        "limit"
    )


@pytest.mark.parametrize(
    "resources, position",
    [
        ("          limits: null\n", (12, 11)),
        ("          limits:\n            memory: ''\n", (13, 13)),
        ("          null\n", (11, 9)),
    ],
    ids=["limits-null", "memory-blank", "resources-null"],
)
def test_values_that_remove_the_memory_limit(resources, position):
    assert_findings(RULE, operator(resources), position)


@pytest.mark.parametrize(
    "resources",
    [
        "          limits: {cpu: 500m}\n",
        "          limits: {cpu: null}\n",
        "          limits: {}\n",
        "          {}\n",
        "          requests: {cpu: 50m, memory: 64Mi}\n",
    ],
    ids=["cpu-limit-only", "cpu-limit-removed", "empty-limits", "empty-resources", "requests"],
)
def test_values_that_keep_the_chart_default_memory_limit(resources):
    """Near-misses: the chart merges values into its defaults (requests 100m/128Mi, limits
    2000m/1024Mi), so overriding only the CPU limit, or an empty mapping, keeps the memory
    limit."""
    assert_findings(RULE, operator(resources))


def test_an_operator_without_values_gets_the_chart_defaults():
    source = OPERATOR.split("  values:")[0].replace("{{", "{").replace("}}", "}")
    assert_findings(RULE, source)


def test_a_request_above_the_default_limit_is_invalid():
    [finding] = findings_of(RULE, operator("          requests: {memory: 2Gi}\n"))
    assert (finding.line, finding.column) == (12, 22)
    assert (
        "spec.values.global.proxy.resources.limits.memory is 1024Mi (the istiod chart's "
        "default), below its request of 2Gi" in finding.message
    )


def test_the_demo_profile_lowers_the_default_requests():
    low_limit = "          limits: {memory: 64Mi}\n"
    assert_findings(RULE, operator(low_limit), (12, 20))
    demo = operator(low_limit).replace("spec:\n", "spec:\n  profile: demo\n", 1)
    assert_findings(RULE, demo)


def test_a_gateway_only_operator_is_not_judged():
    source = operator("          limits: {memory: null}\n").replace(
        "  meshConfig:", "  components:\n    pilot: {enabled: false}\n  meshConfig:"
    )
    assert_findings(RULE, source)


@pytest.mark.parametrize(
    "limits, requests, expected",
    [
        ("{cpu: 500m, memory: 256Mi}", "{cpu: 100m, memory: 128Mi}", []),
        ("{cpu: 500m, memory: 1Gi}", "{cpu: 100m, memory: 1024Mi}", []),
        ("{cpu: 50m, memory: 256Mi}", "{cpu: 100m, memory: 128Mi}", [(12, 20)]),
        ("{cpu: 1, memory: 100M}", "{cpu: 1500m, memory: 128Mi}", [(12, 20), (12, 28)]),
        ("{cpu: 2, memory: 1G}", "{cpu: 0.5, memory: 1e6}", []),
        ("{cpu: 2, memory: lots}", "{cpu: 0.5, memory: 128Mi}", []),
    ],
)
def test_limits_below_requests(limits, requests, expected):
    source = operator(f"          limits: {limits}\n          requests: {requests}\n")
    assert_findings(RULE, source, *expected)


def test_limit_below_request_message_names_both_values():
    [finding] = findings_of(
        RULE, operator("          limits: {memory: 64Mi}\n          requests: {memory: 128Mi}\n")
    )
    assert "limits.memory is 64Mi, below its request of 128Mi" in finding.message


def test_helm_values_file():
    values = {
        "istiod-values.yaml": "meshConfig: {}\nglobal:\n  proxy:\n    resources:\n"
        "      limits: {memory: ~}\n"
    }
    assert_findings(RULE, values, (5, 16))
    [finding] = findings_of(RULE, values)
    assert (
        "Helm values file istiod-values.yaml: global.proxy.resources.limits.memory is null"
        in finding.message
    )
    requests_only = {
        "istiod-values.yaml": "meshConfig: {}\nglobal:\n  proxy:\n    resources:\n"
        "      requests: {memory: 128Mi}\n"
    }
    assert_findings(RULE, requests_only)


def test_the_istio_configmap_carries_no_proxy_resources():
    source = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\n"
        "data:\n  mesh: '{}'\n"
    )
    assert_findings(RULE, source)


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


def deployment(*annotations: str) -> str:
    return DEPLOYMENT.format(
        annotations="".join(f"        sidecar.istio.io/{a}\n" for a in annotations)
    )


def test_request_annotations_without_a_memory_limit():
    [finding] = findings_of(RULE, deployment("proxyCPU: 100m", "proxyMemory: 128Mi"))
    assert (finding.line, finding.column) == (11, 9)
    assert finding.message == (
        "Deployment shop/web sets sidecar.istio.io/proxyMemory: 128Mi but no "
        "sidecar.istio.io/proxyMemoryLimit: once any sidecar.istio.io/proxy* resource annotation "
        "is set, the injector uses only these annotations and none of the mesh-wide resources, "
        "so its sidecar runs without a memory limit"
    )
    assert_findings(RULE, deployment("proxyCPU: 100m"), (10, 9))
    assert_findings(RULE, deployment("proxyCPU: 100m", "proxyCPULimit: 200m"), (10, 9))


def test_only_a_cpu_limit_annotation_loses_the_default_memory_limit():
    """The injection template's `if or (isset ...)` covers the limit annotations too."""
    [finding] = findings_of(RULE, deployment("proxyCPULimit: 500m"))
    assert (finding.line, finding.column) == (10, 9)
    assert "sets sidecar.istio.io/proxyCPULimit: 500m but no" in finding.message


def test_pods_without_resource_annotations_get_the_mesh_defaults():
    assert_findings(RULE, deployment("proxyImage: example/proxy:1", "statsInclusionPrefixes: x"))


def test_request_annotations_with_a_memory_limit_are_fine():
    assert_findings(
        RULE, deployment("proxyCPU: 100m", "proxyMemory: 128Mi", "proxyMemoryLimit: 256Mi")
    )
    assert_findings(RULE, deployment("proxyCPU: 100m", "proxyMemoryLimit: 256Mi"))
    assert_findings(RULE, deployment("proxyMemoryLimit: 256Mi"))


def test_limit_annotations_below_requests():
    source = deployment(
        "proxyCPU: 500m", "proxyCPULimit: 200m", "proxyMemory: 1Gi", "proxyMemoryLimit: 512Mi"
    )
    assert_findings(RULE, source, (11, 9), (13, 9))
    assert "annotation sidecar.istio.io/proxyMemoryLimit is 512Mi, below its request of 1Gi" in (
        findings_of(RULE, source)[1].message
    )


def test_workloads_without_a_sidecar_are_not_judged():
    source = deployment("proxyMemory: 128Mi", "inject: 'false'")
    assert_findings(RULE, source)


def test_pods_and_lists():
    source = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: a
    annotations: {sidecar.istio.io/proxyMemory: 64Mi}
- apiVersion: apps/v1
  kind: StatefulSet
  metadata: {name: b, namespace: data}
  spec:
    template:
      metadata:
        annotations: {sidecar.istio.io/proxyMemory: 64Mi, sidecar.istio.io/proxyMemoryLimit: 128Mi}
"""
    assert_findings(RULE, source, (8, 19))


@pytest.mark.parametrize(
    "text, value",
    [
        ("100m", Decimal("0.1")),
        ("1", Decimal(1)),
        (2, Decimal(2)),
        (0.5, Decimal("0.5")),
        ("128Mi", Decimal(128 * 2**20)),
        ("1Gi", Decimal(2**30)),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("64Ki", Decimal(64 * 1024)),
        ("1G", Decimal(10**9)),
        ("1K", Decimal(1000)),
        ("1k", Decimal(1000)),
        ("500M", Decimal(5 * 10**8)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("2E", Decimal(2 * 10**18)),
        ("250u", Decimal("0.00025")),
        ("", None),
        ("lots", None),
        ("12Mb", None),
        (True, None),
        (None, None),
        ("1e99999999", None),
    ],
)
def test_kubernetes_quantities(text, value):
    assert parse_quantity(text) == value


def test_a_values_override_restoring_the_memory_limit_covers_its_base():
    base_values = (
        "meshConfig: {}\nglobal:\n  proxy:\n    resources:\n      limits: {memory: null}\n"
    )
    override = "meshConfig: {}\nglobal:\n  proxy:\n    resources:\n      limits: {memory: 512Mi}\n"
    assert_findings(RULE, {"istio/values.yaml": base_values, "istio/values-prod.yaml": override})
    assert_findings(RULE, {"a/values.yaml": base_values, "b/values.yaml": override}, (5, 16))


def test_an_ambient_install_without_sidecar_namespaces_is_not_judged():
    ambient = operator("          limits: {memory: null}\n").replace(
        "spec:\n", "spec:\n  profile: ambient\n", 1
    )
    assert_findings(RULE, ambient)
    sidecars = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: legacy\n  labels: {istio-injection: enabled}\n"
    assert_findings(RULE, {"iop.yaml": ambient, "ns.yaml": sidecars}, (13, 20))
