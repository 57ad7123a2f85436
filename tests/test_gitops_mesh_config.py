"""Mesh config wherever GitOps installs it (Argo CD Application and Flux HelmRelease inline values
of the istiod chart, the Sail Operator's `Istio`), and control-plane upgrades made in place
through a chart version or a Sail version."""

from __future__ import annotations

from tests.helpers import findings_of

HOLD = "hold-application-until-proxy-starts"
UPGRADE = "in-place-upgrade"

FLUX_ISTIOD = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: istiod
  namespace: istio-system
spec:
  chart:
    spec:
      chart: istiod
      version: {version}
      sourceRef: {{kind: HelmRepository, name: istio}}
  values:
{values}
"""


def flux(version: str = "1.24.2", values: str = "    pilot:\n      autoscaleEnabled: true") -> str:
    return FLUX_ISTIOD.format(version=version, values=values)


ARGO_ISTIOD = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: istiod
  namespace: argocd
spec:
  destination:
    namespace: istio-system
  source:
    chart: istiod
    repoURL: https://istio-release.storage.googleapis.com/charts
    targetRevision: {version}
    helm:
      values: |
{values}
"""


def argo(version: str = "1.24.2", values: str = '        revision: ""') -> str:
    return ARGO_ISTIOD.format(version=version, values=values)


def test_flux_helm_release_installing_istiod_without_hold_is_flagged():
    (finding,) = findings_of(HOLD, {"flux/istiod.yaml": flux()})
    assert finding.path == "flux/istiod.yaml"
    assert "HelmRelease istio-system/istiod" in finding.message
    assert "spec.values.meshConfig.defaultConfig.holdApplicationUntilProxyStarts" in (
        finding.message
    )
    assert finding.line == 12  # `values:`, the deepest key present


def test_flux_helm_release_with_hold_set_is_quiet():
    values = "    meshConfig:\n      defaultConfig:\n        holdApplicationUntilProxyStarts: true"
    assert findings_of(HOLD, {"flux/istiod.yaml": flux(values=values)}) == []


def test_flux_helm_release_with_values_from_a_config_map_is_not_judged_on_inline_values():
    text = flux().replace(
        "  values:\n", "  valuesFrom:\n  - {kind: ConfigMap, name: x}\n  values:\n"
    )
    assert findings_of(HOLD, {"flux/istiod.yaml": text}) == []


def test_argo_application_inline_values_string_is_read():
    values = "        meshConfig:\n          defaultConfig:\n            holdApplicationUntilProxyStarts: false"
    (finding,) = findings_of(HOLD, {"argocd/istiod.yaml": argo(values=values)})
    assert "Application argocd/istiod" in finding.message and "is false" in finding.message
    assert finding.line == 14  # the `values:` key of the YAML string


def test_argo_application_of_another_chart_is_no_mesh_config():
    text = argo().replace("chart: istiod", "chart: gateway")
    assert findings_of(HOLD, {"argocd/gw.yaml": text}) == []


SAIL = """\
apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: default
spec:
  version: {version}
  namespace: istio-system
{strategy}  values:
    meshConfig:
      defaultConfig:
        holdApplicationUntilProxyStarts: {hold}
"""


def sail(version: str = "v1.24.2", strategy: str = "", hold: str = "false") -> str:
    return SAIL.format(version=version, strategy=strategy, hold=hold)


def test_sail_istio_values_are_mesh_config():
    (finding,) = findings_of(HOLD, {"sail.yaml": sail()})
    assert "Istio" in finding.message and finding.line == 11
    assert findings_of(HOLD, {"sail.yaml": sail(hold="true")}) == []


def test_istiod_chart_version_bump_without_revision_is_an_in_place_upgrade():
    (finding,) = findings_of(
        UPGRADE, {"flux/istiod.yaml": flux("1.25.0")}, {"flux/istiod.yaml": flux("1.24.2")}
    )
    assert finding.severity == "error" and finding.line == 10
    assert "1.24.2 -> 1.25.0" in finding.message and "no revision" in finding.message


def test_argo_target_revision_bump_without_revision_is_an_in_place_upgrade():
    (finding,) = findings_of(
        UPGRADE, {"argocd/istiod.yaml": argo("1.25.0")}, {"argocd/istiod.yaml": argo("1.24.2")}
    )
    assert finding.line == 12 and "Application argocd/istiod" in finding.message


def test_a_bump_with_a_new_revision_is_a_canary():
    head = argo("1.25.0", values="        revision: 1-25")
    base = argo("1.24.2", values="        revision: 1-24")
    assert findings_of(UPGRADE, {"argocd/istiod.yaml": head}, {"argocd/istiod.yaml": base}) == []


def test_the_same_version_is_no_upgrade_and_other_charts_are_not_judged():
    assert findings_of(UPGRADE, {"f.yaml": flux()}, {"f.yaml": flux()}) == []
    gateway_head = flux("1.25.0").replace("chart: istiod", "chart: gateway")
    gateway_base = flux("1.24.2").replace("chart: istiod", "chart: gateway")
    assert findings_of(UPGRADE, {"f.yaml": gateway_head}, {"f.yaml": gateway_base}) == []


def test_sail_version_change_under_the_default_in_place_strategy_is_flagged():
    (finding,) = findings_of(UPGRADE, {"s.yaml": sail("v1.25.0")}, {"s.yaml": sail("v1.24.2")})
    assert finding.line == 6 and "default InPlace" in finding.message


def test_sail_revision_based_strategy_is_a_canary():
    strategy = "  updateStrategy:\n    type: RevisionBased\n"
    head, base = sail("v1.25.0", strategy), sail("v1.24.2", strategy)
    assert findings_of(UPGRADE, {"s.yaml": head}, {"s.yaml": base}) == []


def test_a_sail_istio_is_cluster_scoped_whatever_namespace_a_kustomization_writes_on_it():
    sail = SAIL.format(version="v1.24.2", strategy="", hold="false").replace(
        "  name: default\n", "  name: default\n  namespace: kuadrant\n"
    )
    [finding] = findings_of("hold-application-until-proxy-starts", sail)
    assert finding.resource.namespace is None
    assert finding.message.startswith("Istio default:")
