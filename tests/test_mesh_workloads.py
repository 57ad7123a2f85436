"""The mesh index's namespaces, workloads, Sidecars and mesh config sources."""

import pytest

from rules.core.context import Context
from rules.core.loader import load
from rules.mesh.index import MeshIndex
from tests.helpers import config, files


def index(text: str, cfg: str = "") -> MeshIndex:
    conf = config(cfg)
    resources, skipped = load(files({"mesh.yaml": text}), conf)
    assert not skipped
    return Context(resources, conf).index


WORKLOADS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata:
      annotations: {sidecar.istio.io/proxyCPU: 100m}
    spec: {containers: [{name: web, image: web}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        metadata:
          labels: {app: report}
        spec: {containers: [{name: report, image: report}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
  labels: {app: debug}
spec: {containers: [{name: debug, image: busybox}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: broken, namespace: shop}
spec: {}
"""


def test_workloads_are_indexed_by_namespace_with_their_pod_templates():
    mesh = index(WORKLOADS)
    shop = mesh.workloads_in("shop")
    assert [w.resource.name for w in shop] == ["web", "report"]
    assert shop[0].template_path == ("spec", "template")
    assert shop[1].template_path == ("spec", "jobTemplate", "spec", "template")
    assert shop[1].labels == {"app": "report"}
    # no namespace in the repository: unknown, never `default` (DESIGN "Targets")
    [debug] = [w for w in mesh.workloads() if w.resource.namespace is None]
    assert debug.template_path == () and debug.labels == {"app": "debug"}
    assert debug.resource.position(debug.annotation_path("x")) == (24, 1)
    assert shop[0].resource.position(shop[0].annotation_path("sidecar.istio.io/proxyCPU")) == (
        7,
        21,
    )
    assert [w.resource.name for w in mesh.workloads()] == ["web", "report", "debug"]


def test_a_workload_without_a_pod_template_is_not_indexed():
    assert "broken" not in [w.resource.name for w in index(WORKLOADS).workloads()]


def test_workloads_inside_a_list_keep_their_positions():
    mesh = index("""\
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: a, namespace: one}
  spec:
    template:
      metadata:
        annotations:
          proxy.istio.io/config: "{}"
- apiVersion: v1
  kind: Service
  metadata: {name: a, namespace: two}
""")
    [workload] = mesh.workloads_in("one")
    assert workload.resource.position(workload.annotation_path("proxy.istio.io/config")) == (11, 11)
    assert [s.name for s in mesh.kube_services_in("two")] == ["a"]
    assert mesh.application_namespaces() == ["one", "two"]


@pytest.mark.parametrize(
    "template_meta, has_proxy, gateway",
    [
        ("{}", True, False),
        ("{labels: {sidecar.istio.io/inject: 'false'}}", False, False),
        ("{annotations: {sidecar.istio.io/inject: 'false'}}", False, False),
        ("{annotations: {ambient.istio.io/redirection: enabled}}", False, False),
        ("{labels: {istio.io/dataplane-mode: ambient}}", False, False),
        ("{}\n    spec: {hostNetwork: true}", False, False),
        ("{labels: {istio: ingressgateway}}", True, True),
        ("{annotations: {inject.istio.io/templates: gateway}}", True, True),
    ],
)
def test_which_workloads_run_a_sidecar(template_meta, has_proxy, gateway):
    mesh = index(f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: a, namespace: one}}
spec:
  template:
    metadata: {template_meta}
""")
    [workload] = mesh.workloads_in("one")
    assert (workload.has_proxy, workload.is_gateway) == (has_proxy, gateway)


SIDECARS = """\
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec: {egress: [{hosts: ["./*"]}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: gateways, namespace: istio-system}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: all, namespace: shop}
spec:
  workloadSelector: {}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: web, namespace: shop}
spec:
  workloadSelector: {labels: {app: web}}
"""


def test_sidecars_by_namespace_and_the_root_default():
    mesh = index(SIDECARS)
    assert [s.name for s in mesh.sidecars_in("shop")] == ["all", "web"]
    assert [s.name for s in mesh.namespace_sidecars("shop")] == ["all"]
    assert [s.name for s in mesh.root_default_sidecars()] == ["default"]
    assert mesh.sidecars_in("elsewhere") == []


def test_the_root_default_follows_the_configured_root_namespace():
    mesh = index(SIDECARS, "root_namespace: mesh-root\n")
    assert mesh.root_default_sidecars() == []


def test_a_selector_without_labels_is_no_mesh_default():
    mesh = index(
        SIDECARS.replace("namespace: shop", "namespace: istio-system", 1)
        .replace("name: default,", "name: scoped,")
        .replace('spec: {egress: [{hosts: ["./*"]}]}', "spec: {workloadSelector: {labels: {a: b}}}")
    )
    assert mesh.root_default_sidecars() == []
    assert [s.name for s in mesh.namespace_sidecars("istio-system")] == ["all"]


NAMESPACES = """\
apiVersion: v1
kind: Namespace
metadata: {name: injected, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: canary, labels: {istio.io/rev: 1-24}}
---
apiVersion: v1
kind: Namespace
metadata: {name: disabled, labels: {istio-injection: disabled, istio.io/rev: 1-24}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Namespace
metadata: {name: ambient, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: plain}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: unlisted}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
---
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: cp, namespace: operators}
"""


@pytest.mark.parametrize(
    "namespace, reason",
    [
        ("injected", "labelled istio-injection: enabled"),
        ("canary", "labelled istio.io/rev: 1-24"),
        ("disabled", None),
        ("plain", None),
        ("ambient", None),
        ("unlisted", "it holds Istio configuration and no Namespace object"),
        ("istio-system", None),
        ("operators", None),
        ("nowhere", None),
    ],
)
def test_which_namespaces_are_in_the_mesh(namespace, reason):
    membership = index(NAMESPACES).mesh_membership(namespace)
    assert (membership.reason if membership else None) == reason


def test_membership_names_the_namespace_object_that_grants_it():
    mesh = index(NAMESPACES)
    assert mesh.mesh_membership("canary").namespace_object.name == "canary"
    assert mesh.mesh_membership("unlisted").namespace_object is None
    assert mesh.is_ambient("ambient") and not mesh.is_ambient("injected")


def test_a_repeated_namespace_object_is_in_the_mesh_when_one_copy_is_labelled():
    mesh = index("""\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/rev: stable}}
""")
    assert len(mesh.namespace_objects("shop")) == 2
    assert mesh.mesh_membership("shop").reason == "labelled istio.io/rev: stable"


MESH_CONFIGS = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: control-plane, namespace: istio-system}
spec:
  meshConfig: {defaultConfig: {holdApplicationUntilProxyStarts: true}}
---
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: gateways, namespace: istio-system}
spec:
  profile: empty
  components:
    ingressGateways: [{name: istio-ingressgateway, enabled: true}]
---
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: no-pilot, namespace: istio-system}
spec:
  components: {pilot: {enabled: false}, ingressGateways: [{name: gw, enabled: true}]}
---
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: empty-with-pilot, namespace: istio-system}
spec:
  profile: empty
  components: {pilot: {enabled: true}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |-
    defaultConfig:
      holdApplicationUntilProxyStarts: true
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio-canary, namespace: istio-system}
data:
  mesh: "{}"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio-broken, namespace: istio-system}
data:
  mesh: "defaultConfig: [unclosed"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio-sidecar-injector, namespace: istio-system}
data:
  config: "policy: enabled"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: elsewhere}
data:
  mesh: "{}"
"""


def test_mesh_config_sources():
    mesh = index(MESH_CONFIGS)
    found = [(s.resource.kind, s.resource.name, s.mesh_path) for s in mesh.mesh_configs]
    assert found == [
        ("IstioOperator", "control-plane", ("spec", "meshConfig")),
        ("IstioOperator", "empty-with-pilot", ("spec", "meshConfig")),
        ("ConfigMap", "istio", ("data", "mesh")),
        ("ConfigMap", "istio-canary", ("data", "mesh")),
    ]
    configmap = mesh.mesh_configs[2]
    assert configmap.embedded and configmap.default_config == {
        "holdApplicationUntilProxyStarts": True
    }
    assert configmap.values is None
    assert mesh.mesh_configs[0].default_config == {"holdApplicationUntilProxyStarts": True}


def test_helm_values_file_is_a_mesh_config_source():
    conf = config()
    resources, _ = load(
        files(
            {
                "charts/istiod-values.yaml": "meshConfig:\n  accessLogFile: /dev/stdout\n"
                "global:\n  proxy:\n    resources: {}\n"
            }
        ),
        conf,
    )
    [source] = Context(resources, conf).index.mesh_configs
    assert source.label == "Helm values file charts/istiod-values.yaml"
    assert source.values_path == () and source.global_proxy() == {"resources": {}}


def test_the_index_is_built_once_per_revision():
    conf = config()
    resources, _ = load(files({"a.yaml": WORKLOADS}), conf)
    context = Context(resources, conf)
    assert context.index is context.index
