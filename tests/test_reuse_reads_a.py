"""What five rules declare they read (`READS`), checked on targeted changes (`rules.core.reuse`).

For each fact a rule reads, a change to a resource of that fact alone alters the rule's finding
about a resource that did not change; reuse must find what a full analysis finds, and with the
fact left out of `READS` it must not (so each case shows the fact is needed, not just allowed).
Removals serve where a rule's findings can be about the changed kind itself: a restricted run
would be given an added or changed resource anyway, a removed one leaves nothing to be given.
Each rule is also served from the base where a change leaves its facts alone.
"""

from __future__ import annotations

import textwrap

import pytest

from rules import (
    authz_blocks_health_probes,
    authz_unscoped,
    sidecar_egress_unscoped,
    sidecar_missing,
    strict_mtls_missing,
)
from rules.core.engine import context_of
from rules.core.loader import SourceFile
from rules.core.reuse import ISTIO_SCOPES, Reuse, state_of
from tests.helpers import config, files
from tests.test_reuse import _compare

OFF = "probes_rewritten: false\n"


def _problems(module, sources: list[SourceFile], conf) -> set[tuple[bytes, str]]:
    context = context_of(sources, conf)[0]
    return {(state_of(p.resource), p.message) for p in module.check(context, module.OPTIONS)}


def _caught(monkeypatch, module, fact: str, base: dict, head: dict, cfg: str = "") -> Reuse:
    """The comparison holds; the rule's problems about some resource that is the same at base
    and head differ; and with `fact` left out of the rule's READS the comparison fails."""
    conf = config(cfg)
    base_files, head_files = files(base), files(head)
    reuse = _compare(base_files, head_files, conf)
    same = {state_of(r) for r in context_of(base_files, conf)[0].resources} & {
        state_of(r) for r in context_of(head_files, conf)[0].resources
    }
    differing = _problems(module, base_files, conf) ^ _problems(module, head_files, conf)
    assert any(state in same for state, _ in differing), differing
    assert fact in module.READS
    monkeypatch.setattr(module, "READS", module.READS - {fact})
    with pytest.raises(AssertionError):
        _compare(base_files, head_files, conf)
    return reuse


def _served(module, base: dict, head: dict, cfg: str = "") -> Reuse:
    """The rule is served from the base, and it has a finding there to serve."""
    conf = config(cfg)
    assert _problems(module, files(base), conf)
    reuse = _compare(files(base), files(head), conf)
    assert module.ID in reuse.served
    return reuse


def _without(mapping: dict, *paths: str) -> dict:
    return {p: t for p, t in mapping.items() if p not in paths}


def _text(text: str) -> str:
    return textwrap.dedent(text)


SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: ratings, namespace: bookinfo}\n"

# --- authz-blocks-health-probes -------------------------------------------------------------

REVIEWS_POLICY = {
    "bookinfo/policy.yaml": """\
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: reviews, namespace: bookinfo}
        spec:
          selector:
            matchLabels: {app: reviews}
          rules:
          - from:
            - source: {principals: [cluster.local/ns/bookinfo/sa/productpage]}
        """
}
HEALTH_POLICY = """\
    apiVersion: security.istio.io/v1
    kind: AuthorizationPolicy
    metadata: {name: health, namespace: bookinfo}
    spec:
      selector:
        matchLabels: {app: reviews}
      rules:
      - to:
        - operation: {paths: [/healthz]}
    """


def _reviews_deployment(annotation: str = "") -> str:
    return f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: reviews, namespace: bookinfo}}
        spec:
          template:
            metadata:
              labels: {{app: reviews}}
              annotations: {{{annotation}}}
            spec:
              containers:
              - name: reviews
                image: example/reviews:1.2.0
                readinessProbe:
                  httpGet: {{path: /healthz, port: 9080}}
        """


NO_REWRITE_VALUES = "sidecarInjectorWebhook: {rewriteAppHTTPProbe: false}"
MESH_SOURCES = {
    "IstioOperator": f"""\
        apiVersion: install.istio.io/v1alpha1
        kind: IstioOperator
        metadata: {{name: cp, namespace: istio-system}}
        spec:
          values: {{{NO_REWRITE_VALUES}}}
        """,
    "ConfigMap": """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: istio-sidecar-injector, namespace: istio-system}
        data:
          values: '{"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": false}}'
        """,
    "HelmValues": f"meshConfig: {{}}\n{NO_REWRITE_VALUES}\n",
    "Application": f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata: {{name: istiod, namespace: argocd}}
        spec:
          source:
            chart: istiod
            repoURL: https://charts.example.com/istio
            targetRevision: 1.24.0
            helm:
              valuesObject: {{{NO_REWRITE_VALUES}}}
        """,
    "HelmRelease": f"""\
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {{name: istiod, namespace: istio-system}}
        spec:
          chart:
            spec: {{chart: istiod, version: 1.24.0}}
          values: {{{NO_REWRITE_VALUES}}}
        """,
    "Istio": f"""\
        apiVersion: sailoperator.io/v1
        kind: Istio
        metadata: {{name: default}}
        spec:
          namespace: istio-system
          values: {{{NO_REWRITE_VALUES}}}
        """,
}


def test_probes_another_allow_policy_admits(monkeypatch):
    """A health-only ALLOW policy for the same pods spares the unchanged one."""
    head = {**REVIEWS_POLICY, "bookinfo/health.yaml": HEALTH_POLICY}
    _caught(
        monkeypatch, authz_blocks_health_probes, "AuthorizationPolicy", REVIEWS_POLICY, head, OFF
    )


def test_probes_a_workload_turning_rewriting_off(monkeypatch):
    """The pod annotation alone makes the unchanged policy deny the pod's probe."""
    base = {**REVIEWS_POLICY, "bookinfo/deploy.yaml": _reviews_deployment()}
    off = 'sidecar.istio.io/rewriteAppHTTPProbers: "false"'
    head = {**REVIEWS_POLICY, "bookinfo/deploy.yaml": _reviews_deployment(off)}
    _caught(monkeypatch, authz_blocks_health_probes, "Deployment", base, head)


@pytest.mark.parametrize("kind", sorted(MESH_SOURCES))
def test_probes_a_mesh_config_source_turning_rewriting_off(monkeypatch, kind):
    head = {**REVIEWS_POLICY, "istio/source.yaml": MESH_SOURCES[kind]}
    if kind == "HelmValues":
        head = {**REVIEWS_POLICY, "istio/values.yaml": _text(MESH_SOURCES[kind])}
    _caught(monkeypatch, authz_blocks_health_probes, kind, REVIEWS_POLICY, head)


def test_probes_an_ambient_namespace(monkeypatch):
    """ztunnel exempts the kubelet's probes: labelling the Namespace spares the policy."""
    namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bookinfo\n"
    base = {**REVIEWS_POLICY, "ns.yaml": namespace}
    head = {
        **REVIEWS_POLICY,
        "ns.yaml": namespace + "  labels: {istio.io/dataplane-mode: ambient}\n",
    }
    _caught(monkeypatch, authz_blocks_health_probes, "Namespace", base, head, OFF)


def test_probes_a_pod_redirected_to_ztunnel(monkeypatch):
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: tool, namespace: bookinfo}\nspec: {}\n"
    ambient = pod.replace("bookinfo}", "bookinfo, labels: {istio.io/dataplane-mode: ambient}}")
    base = {**REVIEWS_POLICY, "bookinfo/pod.yaml": pod}
    head = {**REVIEWS_POLICY, "bookinfo/pod.yaml": ambient}
    _caught(monkeypatch, authz_blocks_health_probes, "Pod", base, head, OFF)


def test_probes_a_namespace_labelled_for_injection_makes_an_ambient_install_count(monkeypatch):
    """An ambient-profile install's values count once some Namespace asks for sidecars."""
    install = MESH_SOURCES["IstioOperator"].replace(
        "spec:\n", "spec:\n          profile: ambient\n"
    )
    namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n"
    base = {**REVIEWS_POLICY, "istio/iop.yaml": install, "ns.yaml": namespace}
    head = {**base, "ns.yaml": namespace + "  labels: {istio-injection: enabled}\n"}
    _caught(monkeypatch, authz_blocks_health_probes, "Namespace", base, head)


def test_probes_a_gateway_selecting_the_pods(monkeypatch):
    """Gateway pods answer probes on their status port: a Gateway over the labels spares them."""
    gateway = """\
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: edge, namespace: bookinfo}
        spec:
          selector: {app: reviews}
          servers:
          - port: {number: 80, name: http, protocol: HTTP}
            hosts: ["*"]
        """
    head = {**REVIEWS_POLICY, "bookinfo/gateway.yaml": gateway}
    _caught(monkeypatch, authz_blocks_health_probes, "Gateway", REVIEWS_POLICY, head, OFF)


def test_probes_served_when_nothing_read_changes():
    head = {**REVIEWS_POLICY, "bookinfo/svc.yaml": SERVICE}
    _served(authz_blocks_health_probes, REVIEWS_POLICY, head, OFF)


# --- authz-unscoped -------------------------------------------------------------------------

WAYPOINT = """\
    apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {name: waypoint, namespace: bookinfo}
    spec:
      gatewayClassName: istio-waypoint
      listeners:
      - {name: mesh, port: 15008, protocol: HBONE}
    """
VIA_WAYPOINT = """\
    apiVersion: security.istio.io/v1
    kind: AuthorizationPolicy
    metadata: {name: via-waypoint, namespace: bookinfo}
    spec:
      targetRefs:
      - {group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}
      rules:
      - to:
        - operation: {methods: [GET]}
    """
WAYPOINT_POLICY = {"bookinfo/policy.yaml": VIA_WAYPOINT, "bookinfo/waypoint.yaml": WAYPOINT}


def test_unscoped_the_targeted_gateway_stops_being_a_waypoint(monkeypatch):
    head = {
        **WAYPOINT_POLICY,
        "bookinfo/waypoint.yaml": WAYPOINT.replace("istio-waypoint", "istio"),
    }
    _caught(monkeypatch, authz_unscoped, "Gateway", WAYPOINT_POLICY, head)


def test_unscoped_a_second_gateway_of_the_name_makes_the_target_ambiguous(monkeypatch):
    head = {**WAYPOINT_POLICY, "other/waypoint.yaml": WAYPOINT}
    _caught(monkeypatch, authz_unscoped, "Gateway", WAYPOINT_POLICY, head)


def test_unscoped_served_when_another_policy_changes():
    """A changed policy is judged in a restricted run; the unchanged one's finding is kept."""
    other = VIA_WAYPOINT.replace("via-waypoint", "other")
    base = {**WAYPOINT_POLICY, "bookinfo/other.yaml": other}
    head = {**base, "bookinfo/other.yaml": other.replace("[GET]", "[GET, POST]")}
    reuse = _served(authz_unscoped, base, head)
    assert [r.name for r in reuse.changed] == ["other"]


# --- sidecar-missing ------------------------------------------------------------------------

INJECTED = (
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
    "  labels: {istio-injection: enabled}\n"
)


def _workload(name: str) -> str:
    return f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}, namespace: shop}}
        spec:
          template:
            metadata:
              labels: {{app: {name}}}
            spec:
              containers: [{{name: {name}, image: example/{name}}}]
        """


VIRTUAL_SERVICE = """\
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: web, namespace: shop}
    spec:
      hosts: [web]
      http:
      - route:
        - destination: {host: web}
    """
ROOT_SIDECAR = """\
    apiVersion: networking.istio.io/v1
    kind: Sidecar
    metadata: {name: default, namespace: istio-system}
    spec:
      egress:
      - hosts: ["./*", "istio-system/*"]
    """
ROOT_POLICY = """\
    apiVersion: security.istio.io/v1
    kind: PeerAuthentication
    metadata: {name: default, namespace: istio-system}
    spec: {mtls: {mode: STRICT}}
    """


def test_sidecar_missing_the_mesh_default_sidecar_removed(monkeypatch):
    """The root namespace keeps Istio configuration, so only the Sidecar fact changes."""
    base = {
        "ns.yaml": INJECTED,
        "shop/app.yaml": _workload("app"),
        "istio/sidecar.yaml": ROOT_SIDECAR,
        "istio/pa.yaml": ROOT_POLICY,
    }
    head = _without(base, "istio/sidecar.yaml")
    _caught(monkeypatch, sidecar_missing, "Sidecar", base, head)


def test_sidecar_missing_the_namespace_object_removed(monkeypatch):
    """Without its Namespace object (`istio-injection: disabled`) a namespace holding Istio
    configuration is in the mesh: the unchanged Deployment is named."""
    disabled = INJECTED.replace("enabled", "disabled")
    base = {"ns.yaml": disabled, "shop/app.yaml": _workload("app"), "shop/vs.yaml": VIRTUAL_SERVICE}
    _caught(monkeypatch, sidecar_missing, "Namespace", base, _without(base, "ns.yaml"))


def test_sidecar_missing_a_service_removed(monkeypatch):
    """The finding on the first Service counts the namespace's Services."""
    service = "apiVersion: v1\nkind: Service\nmetadata: {{name: {}, namespace: shop}}\n"
    base = {
        "shop/a.yaml": service.format("a"),
        "shop/b.yaml": service.format("b"),
        "shop/vs.yaml": VIRTUAL_SERVICE,
    }
    _caught(monkeypatch, sidecar_missing, "Service", base, _without(base, "shop/b.yaml"))


def test_sidecar_missing_a_workload_removed(monkeypatch):
    """The finding on the Namespace counts its workloads."""
    base = {"ns.yaml": INJECTED, "shop/a.yaml": _workload("a"), "shop/b.yaml": _workload("b")}
    _caught(monkeypatch, sidecar_missing, "Deployment", base, _without(base, "shop/b.yaml"))


def test_sidecar_missing_the_last_istio_configuration_of_a_namespace_removed(monkeypatch):
    base = {"shop/app.yaml": _workload("app"), "shop/vs.yaml": VIRTUAL_SERVICE}
    _caught(monkeypatch, sidecar_missing, ISTIO_SCOPES, base, _without(base, "shop/vs.yaml"))


def test_sidecar_missing_served_when_istio_configuration_changes_in_place():
    base = {"ns.yaml": INJECTED, "shop/app.yaml": _workload("app"), "shop/vs.yaml": VIRTUAL_SERVICE}
    head = {**base, "shop/vs.yaml": VIRTUAL_SERVICE + "    timeout: 5s\n"}
    _served(sidecar_missing, base, head)


# --- sidecar-egress-unscoped ----------------------------------------------------------------

SIDECAR = """\
    apiVersion: networking.istio.io/v1
    kind: Sidecar
    metadata: {{name: default, namespace: {namespace}}}
    spec: {{}}
    """


def test_egress_an_ambient_namespace(monkeypatch):
    """Ambient namespaces run no sidecars: labelling the Namespace spares its Sidecar."""
    namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n"
    base = {"web/sidecar.yaml": SIDECAR.format(namespace="web"), "ns.yaml": namespace}
    head = {**base, "ns.yaml": namespace + "  labels: {istio.io/dataplane-mode: ambient}\n"}
    _caught(monkeypatch, sidecar_egress_unscoped, "Namespace", base, head)


def test_egress_served_when_another_sidecar_changes():
    base = {
        "web/sidecar.yaml": SIDECAR.format(namespace="web"),
        "shop/sidecar.yaml": SIDECAR.format(namespace="shop"),
    }
    head = {
        **base,
        "shop/sidecar.yaml": SIDECAR.format(namespace="shop").replace(
            "{}", "{egress: [{hosts: ['*/*']}]}"
        ),
    }
    reuse = _served(sidecar_egress_unscoped, base, head)
    assert [r.namespace for r in reuse.changed] == ["shop"]


# --- strict-mtls-missing --------------------------------------------------------------------

OPERATOR = """\
    apiVersion: install.istio.io/v1alpha1
    kind: IstioOperator
    metadata: {name: cp, namespace: istio-system}
    spec:
      profile: default
    """


def test_strict_the_mesh_wide_policy_removed(monkeypatch):
    base = {"istio/iop.yaml": OPERATOR, "istio/pa.yaml": ROOT_POLICY}
    _caught(
        monkeypatch, strict_mtls_missing, "PeerAuthentication", base, {"istio/iop.yaml": OPERATOR}
    )


def test_strict_the_first_layer_of_an_install_removed(monkeypatch):
    """Overlays of one IstioOperator in one folder are one install, named by the first."""
    base = {"istio/a.yaml": OPERATOR, "istio/b.yaml": OPERATOR}
    _caught(monkeypatch, strict_mtls_missing, "IstioOperator", base, _without(base, "istio/a.yaml"))


def test_strict_the_first_values_file_of_an_install_removed(monkeypatch):
    base = {"istio/values.yaml": "meshConfig: {}\n", "istio/values-prod.yaml": "meshConfig: {}\n"}
    head = _without(base, "istio/values.yaml")
    _caught(monkeypatch, strict_mtls_missing, "HelmValues", base, head)


INSTALLS = {
    "IstioOperator": (OPERATOR, "profile: default", "profile: empty"),
    "Application": (
        """\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata: {name: istiod, namespace: argocd}
        spec:
          source: {chart: istiod, repoURL: https://charts.example.com/istio, targetRevision: 1.24.0}
        """,
        "chart: istiod",
        "chart: cni",
    ),
    "HelmRelease": (
        """\
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {name: istiod, namespace: istio-system}
        spec:
          chart:
            spec: {chart: istiod, version: 1.24.0}
        """,
        "chart: istiod",
        "chart: gateway",
    ),
    "Istio": (
        """\
        apiVersion: sailoperator.io/v1
        kind: Istio
        metadata: {name: default}
        spec: {namespace: istio-system}
        """,
        "sailoperator.io/v1",
        "example.com/v1",
    ),
}


@pytest.mark.parametrize("kind", sorted(INSTALLS))
def test_strict_the_first_of_two_installs_of_a_file_stops_installing(monkeypatch, kind):
    """Two documents of one name in one file are one install, named by the first; when the
    first stops installing istiod (same lines), the unchanged second is named."""
    text, installs, not_installs = INSTALLS[kind]
    text = _text(text)
    base = {"istio/install.yaml": text + "---\n" + text}
    head = {"istio/install.yaml": text.replace(installs, not_installs) + "---\n" + text}
    _caught(monkeypatch, strict_mtls_missing, kind, base, head)


def test_strict_served_when_a_mesh_config_map_changes():
    """The `istio` ConfigMap configures istiod but installs nothing: not read."""
    mesh = _text(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: istio, namespace: istio-system}
        data:
          mesh: |
            accessLogFile: /dev/stdout
        """
    )
    base = {"istio/iop.yaml": OPERATOR, "istio/mesh.yaml": mesh}
    head = {**base, "istio/mesh.yaml": mesh.replace("/dev/stdout", "/dev/stderr")}
    _served(strict_mtls_missing, base, head)
