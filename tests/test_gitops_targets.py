"""What Argo CD and Flux deploy from the repository: charts with their values sets, folders with
their namespace (no Helm needed to work these out)."""

from __future__ import annotations

import textwrap

from render.gitops import uses
from rules.core.loader import SourceFile, load


def gitops(files: dict[str, str]):
    data = {path: textwrap.dedent(text).encode() for path, text in files.items()}
    manifests = [SourceFile(p, d) for p, d in data.items() if p.endswith(".yaml")]
    resources, _ = load(manifests)
    return uses(resources, data, {"charts/reviews"})


CHART = {"charts/reviews/Chart.yaml": "apiVersion: v2\nname: reviews\nversion: 1.0.0\n"}


def test_application_set_list_generator_gives_one_chart_use_per_element():
    chart_uses, _ = gitops(
        {
            **CHART,
            "charts/reviews/values-dev.yaml": "mtls: {mode: PERMISSIVE}\n",
            "charts/reviews/values-prod.yaml": "mtls: {mode: STRICT}\n",
            "argocd/set.yaml": """\
                apiVersion: argoproj.io/v1alpha1
                kind: ApplicationSet
                metadata:
                  name: reviews
                spec:
                  generators:
                  - list:
                      elements:
                      - env: dev
                      - env: prod
                  template:
                    metadata:
                      name: 'reviews-{{env}}'
                    spec:
                      source:
                        path: charts/reviews
                        helm:
                          valueFiles: ['values-{{env}}.yaml']
                      destination:
                        namespace: '{{env}}'
                """,
        }
    )
    assert [(u.label, u.release, u.namespace) for u in chart_uses] == [
        ("Application reviews-dev", "reviews-dev", "dev"),
        ("Application reviews-prod", "reviews-prod", "prod"),
    ]
    assert [u.layers[0].path for u in chart_uses] == [
        "charts/reviews/values-dev.yaml",
        "charts/reviews/values-prod.yaml",
    ]
    assert chart_uses[0].layers[0].body == {"mtls": {"mode": "PERMISSIVE"}}


def test_flux_values_from_a_generated_config_map_read_the_values_file():
    chart_uses, _ = gitops(
        {
            **CHART,
            "apps/reviews/values.yaml": "mtls:\n  mode: DISABLE\n",
            "apps/reviews/kustomization.yaml": """\
                resources: [release.yaml]
                configMapGenerator:
                - name: reviews-values
                  files: [values.yaml=values.yaml]
                """,
            "apps/reviews/release.yaml": """\
                apiVersion: helm.toolkit.fluxcd.io/v2
                kind: HelmRelease
                metadata:
                  name: reviews
                  namespace: apps
                spec:
                  chart:
                    spec:
                      chart: ./charts/reviews
                      sourceRef: {kind: GitRepository, name: repo}
                  valuesFrom:
                  - kind: ConfigMap
                    name: reviews-values
                """,
        }
    )
    (use,) = chart_uses
    assert (use.release, use.namespace) == ("reviews", "apps")
    (layer,) = use.layers
    assert layer.path == "apps/reviews/values.yaml"
    assert layer.locate(("mtls", "mode")) == ("apps/reviews/values.yaml", 2, 3)


def test_a_missing_values_config_map_is_a_problem_of_that_release_only():
    chart_uses, _ = gitops(
        {
            **CHART,
            "flux/release.yaml": """\
                apiVersion: helm.toolkit.fluxcd.io/v2
                kind: HelmRelease
                metadata:
                  name: reviews
                spec:
                  chart:
                    spec:
                      chart: charts/reviews
                  valuesFrom:
                  - {kind: ConfigMap, name: elsewhere}
                """,
        }
    )
    (use,) = chart_uses
    assert use.problems and "ConfigMap elsewhere" in use.problems[0][2]


def test_folders_deployed_by_argo_and_flux_carry_their_namespace():
    _, folders = gitops(
        {
            "apps/bookinfo/vs.yaml": "kind: VirtualService\n",
            "argocd/bookinfo.yaml": """\
                apiVersion: argoproj.io/v1alpha1
                kind: Application
                metadata:
                  name: bookinfo
                spec:
                  source:
                    path: apps/bookinfo
                  destination:
                    namespace: bookinfo
                """,
            "flux/apps.yaml": """\
                apiVersion: kustomize.toolkit.fluxcd.io/v1
                kind: Kustomization
                metadata:
                  name: apps
                spec:
                  path: ./apps
                  targetNamespace: shared
                """,
        }
    )
    assert [(f.path, f.label, f.namespace) for f in folders] == [
        ("apps/bookinfo", "Application bookinfo", "bookinfo"),
        ("apps", "Kustomization apps", "shared"),
    ]


def test_charts_from_helm_repositories_are_not_chart_uses():
    chart_uses, folders = gitops(
        {
            "argocd/istiod.yaml": """\
                apiVersion: argoproj.io/v1alpha1
                kind: Application
                metadata:
                  name: istiod
                spec:
                  source:
                    chart: istiod
                    repoURL: https://istio-release.storage.googleapis.com/charts
                    targetRevision: 1.24.2
                """,
        }
    )
    assert chart_uses == [] and folders == []
