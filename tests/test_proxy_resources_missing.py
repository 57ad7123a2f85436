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


def test_missing_memory_limit_in_an_operator():
    source = operator("          limits: {cpu: 500m}\n")
    [finding] = findings_of(RULE, source)
    assert (finding.line, finding.column) == (12, 11)
    assert finding.message.startswith(
        "IstioOperator istio-system/control-plane: "
        "spec.values.global.proxy.resources.limits.memory is not set"
    )


def test_an_operator_without_values_is_flagged_at_spec():
    source = OPERATOR.split("  values:")[0].replace("{{", "{").replace("}}", "}")
    assert_findings(RULE, source, (6, 1))


def test_a_gateway_only_operator_is_not_judged():
    source = OPERATOR.split("  meshConfig:")[0] + "  components:\n    pilot: {enabled: false}\n"
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
        "      requests: {memory: 128Mi}\n"
    }
    assert_findings(RULE, values, (4, 5))
    [finding] = findings_of(RULE, values)
    assert (
        "Helm values file istiod-values.yaml: global.proxy.resources.limits.memory is not set"
        in (finding.message)
    )
    fixed = {
        "istiod-values.yaml": "meshConfig: {}\nglobal:\n  proxy:\n    resources:\n"
        "      limits: {memory: 256Mi}\n"
    }
    assert_findings(RULE, fixed)


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
        "sidecar.istio.io/proxyMemoryLimit: request annotations replace the mesh-wide proxy "
        "resources, so its sidecar runs without a memory limit"
    )
    assert_findings(RULE, deployment("proxyCPU: 100m"), (10, 9))
    assert_findings(RULE, deployment("proxyCPU: 100m", "proxyCPULimit: 200m"), (10, 9))


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


def test_a_values_override_need_not_repeat_the_memory_limit_of_its_base():
    base_values = (
        "meshConfig: {}\nglobal:\n  proxy:\n    resources:\n      limits: {memory: 512Mi}\n"
    )
    override = (
        "meshConfig: {}\nglobal:\n  proxy:\n    resources:\n      requests: {memory: 256Mi}\n"
    )
    assert_findings(RULE, {"istio/values.yaml": base_values, "istio/values-prod.yaml": override})
    assert_findings(RULE, {"a/values.yaml": base_values, "b/values.yaml": override}, (4, 5))


def test_an_ambient_install_without_sidecar_namespaces_is_not_judged():
    ambient = OPERATOR.split("  meshConfig:")[0] + "  profile: ambient\n"
    assert_findings(RULE, ambient)
    sidecars = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: legacy\n  labels: {istio-injection: enabled}\n"
    assert_findings(RULE, {"iop.yaml": ambient, "ns.yaml": sidecars}, (6, 1))
