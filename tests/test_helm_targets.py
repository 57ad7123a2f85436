"""Charts render once per values set the repository names, and each rendered key points back
at the line a person edits: the template, or the values line when a value decides it."""

from __future__ import annotations

import textwrap

import pytest

from render import helm
from render.charts import find_charts
from render.gitops import uses
from render.helm import HelmEngine
from render.helm_targets import ChartSpec, render_charts
from rules.core.loader import SourceFile, load
from tests.helpers import FIXTURES

pytestmark = pytest.mark.skipif(not helm.available(), reason="Helm support is not installed")

REVIEWS = {
    "charts/reviews/Chart.yaml": "apiVersion: v2\nname: reviews\nversion: 1.0.0\n",
    "charts/reviews/values.yaml": """\
        chaos:
          enabled: false
        mtls:
          mode: STRICT
        """,
    "charts/reviews/values-chaos.yaml": """\
        # turn the chaos test on for staging
        chaos:
          enabled: true
        """,
    "charts/reviews/values-prod.yaml": """\
        mtls:
          mode: PERMISSIVE
        """,
    "charts/reviews/templates/_helpers.tpl": """\
        {{- define "reviews.labels" -}}
        app: reviews
        {{- end }}
        """,
    "charts/reviews/templates/vs.yaml": """\
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: {{ .Release.Name }}
          labels:
            {{- include "reviews.labels" . | nindent 4 }}
        spec:
          hosts:
          - reviews
          http:
          - route:
            - destination:
                host: reviews
            {{- if .Values.chaos.enabled }}
            fault:
              delay:
                percentage:
                  value: 10
                fixedDelay: 5s
            {{- end }}
        """,
    "charts/reviews/templates/pa.yaml": """\
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata:
          name: reviews
        spec:
          mtls:
            mode: {{ .Values.mtls.mode }}
        """,
}


def repo(extra: dict[str, str] | None = None) -> dict[str, bytes]:
    merged = {**REVIEWS, **(extra or {})}
    return {path: textwrap.dedent(text).encode() for path, text in merged.items()}


@pytest.fixture(scope="module")
def engine():
    with HelmEngine() as running:
        yield running


def target(outcome, name):
    return next(t for t in outcome.targets if t.name == name)


def manifest(chart_target, kind):
    return next(d for d in chart_target.documents if d.document.body["kind"] == kind)


def test_the_chart_renders_with_its_own_values(engine):
    outcome = render_charts(repo(), engine)
    default = target(outcome, "charts/reviews")
    vs = manifest(default, "VirtualService")
    assert "fault" not in vs.document.body["spec"]["http"][0]
    assert vs.document.body["metadata"] == {"name": "reviews", "labels": {"app": "reviews"}}
    assert vs.source.locate(("spec", "hosts", 0)) == ("charts/reviews/templates/vs.yaml", 8, 3)


def test_a_fault_switched_on_by_values_points_at_the_values_line(engine):
    spec = ChartSpec("charts/reviews", ["values-chaos.yaml"], release="reviews-staging")
    outcome = render_charts(repo(), engine, specs=[spec])
    chaos = target(outcome, "charts/reviews (values-chaos.yaml)")
    vs = manifest(chaos, "VirtualService")
    assert vs.document.body["metadata"]["name"] == "reviews-staging"
    assert "fault" in vs.document.body["spec"]["http"][0]
    where = vs.source.locate(("spec", "http", 0, "fault"))
    assert where == ("charts/reviews/values-chaos.yaml", 3, 3)
    # The route itself is not decided by a value: it stays on the template.
    assert vs.source.locate(("spec", "http", 0, "route")) == (
        "charts/reviews/templates/vs.yaml",
        11,
        5,
    )


def test_a_value_printed_into_a_key_points_at_the_winning_values_file(engine):
    spec = ChartSpec("charts/reviews", ["values-prod.yaml"], namespace="prod")
    outcome = render_charts(repo(), engine, specs=[spec])
    prod = manifest(target(outcome, "charts/reviews (values-prod.yaml)"), "PeerAuthentication")
    assert prod.document.body["spec"]["mtls"]["mode"] == "PERMISSIVE"
    assert prod.source.locate(("spec", "mtls", "mode")) == (
        "charts/reviews/values-prod.yaml",
        2,
        3,
    )
    default = manifest(target(outcome, "charts/reviews"), "PeerAuthentication")
    assert default.source.locate(("spec", "mtls", "mode")) == ("charts/reviews/values.yaml", 4, 3)


def test_an_argo_application_selects_a_values_file_and_a_namespace(engine):
    files = repo(
        {
            "argocd/reviews-prod.yaml": """\
                apiVersion: argoproj.io/v1alpha1
                kind: Application
                metadata:
                  name: reviews-prod
                  namespace: argocd
                spec:
                  source:
                    repoURL: https://example.com/mesh.git
                    path: charts/reviews
                    helm:
                      valueFiles: [values-prod.yaml]
                      parameters:
                      - name: chaos.enabled
                        value: "true"
                  destination:
                    namespace: prod
                """
        }
    )
    resources, _ = load([SourceFile(p, d) for p, d in files.items() if p.startswith("argocd/")])
    chart_uses, _ = uses(resources, files, {"charts/reviews"})
    assert [(u.chart, u.release, u.namespace) for u in chart_uses] == [
        ("charts/reviews", "reviews-prod", "prod")
    ]
    outcome = render_charts(files, engine, uses=chart_uses)
    prod = target(outcome, "charts/reviews (Application reviews-prod)")
    pa = manifest(prod, "PeerAuthentication")
    assert pa.document.body["spec"]["mtls"]["mode"] == "PERMISSIVE"
    assert pa.source.locate(("spec", "mtls", "mode"))[:2] == ("charts/reviews/values-prod.yaml", 2)
    vs = manifest(prod, "VirtualService")
    # Switched on by a parameter: the finding points at the Application's parameters.
    assert vs.source.locate(("spec", "http", 0, "fault"))[:2] == ("argocd/reviews-prod.yaml", 12)


def test_a_flux_helm_release_takes_inline_values_and_its_target_namespace(engine):
    files = repo(
        {
            "flux/reviews.yaml": """\
                apiVersion: helm.toolkit.fluxcd.io/v2
                kind: HelmRelease
                metadata:
                  name: reviews
                  namespace: flux-system
                spec:
                  targetNamespace: bookinfo
                  chart:
                    spec:
                      chart: ./charts/reviews
                      sourceRef: {kind: GitRepository, name: mesh}
                  values:
                    mtls:
                      mode: DISABLE
                """
        }
    )
    resources, _ = load([SourceFile("flux/reviews.yaml", files["flux/reviews.yaml"])])
    chart_uses, _ = uses(resources, files, {"charts/reviews"})
    assert [(u.release, u.namespace) for u in chart_uses] == [("bookinfo-reviews", "bookinfo")]
    outcome = render_charts(files, engine, uses=chart_uses)
    pa = manifest(target(outcome, "charts/reviews (HelmRelease reviews)"), "PeerAuthentication")
    assert pa.document.body["spec"]["mtls"]["mode"] == "DISABLE"
    assert pa.source.locate(("spec", "mtls", "mode")) == ("flux/reviews.yaml", 14, 7)


def test_a_template_error_is_a_failure_at_the_template_line(engine):
    files = repo({"charts/reviews/templates/bad.yaml": "a: 1\nb: {{ .Values.host.name }}\n"})
    outcome = render_charts(files, engine)
    failure = target(outcome, "charts/reviews").failure
    assert failure is not None
    assert (failure.path, failure.line) == ("charts/reviews/templates/bad.yaml", 2)
    assert "nil pointer" in failure.message


REQUIRES_HOST = {"charts/reviews/templates/bad.yaml": 'a: {{ required "set host" .Values.host }}\n'}


def test_a_chart_that_asks_for_values_the_repository_never_names_is_skipped_not_failed(engine):
    """Installed with values held elsewhere (an installer script, `--set`): its own `required`
    stopping the render with the chart's defaults is not a defect of the repository."""
    outcome = render_charts(repo(REQUIRES_HOST), engine)
    chart = target(outcome, "charts/reviews")
    assert chart.failure is None and not chart.documents
    [(path, reason)] = chart.skipped
    assert path == "charts/reviews" and "set host" in reason and "render.charts" in reason


def test_values_the_repository_names_that_still_miss_a_required_one_fail_the_render(engine):
    files = repo({**REQUIRES_HOST, "charts/reviews/values-prod.yaml": "replicas: 3\n"})
    outcome = render_charts(
        files, engine, specs=[ChartSpec("charts/reviews", ["values-prod.yaml"])]
    )
    failure = target(outcome, "charts/reviews (values-prod.yaml)").failure
    assert failure is not None and "set host" in failure.message
    assert (failure.path, failure.line) == ("charts/reviews/templates/bad.yaml", 1)


def test_a_library_chart_renders_nothing_and_is_not_a_failure(engine):
    files = {
        "lib/Chart.yaml": b"apiVersion: v2\nname: lib\nversion: 1.0.0\ntype: library\n",
        "lib/templates/_x.tpl": b'{{- define "lib.x" }}a: 1{{ end }}\n',
    }
    outcome = render_charts(files, engine)
    assert outcome.targets == [] and outcome.skipped == []


def test_vendored_subcharts_render_with_their_parent_and_missing_ones_are_skipped(engine):
    files = {
        "app/Chart.yaml": b"apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n"
        b"- {name: mesh, version: 1.0.0, repository: file://charts/mesh}\n"
        b"- {name: redis, version: 1.0.0, repository: oci://registry.example/redis}\n",
        "app/charts/mesh/Chart.yaml": b"apiVersion: v2\nname: mesh\nversion: 1.0.0\n",
        "app/charts/mesh/templates/pa.yaml": b"apiVersion: security.istio.io/v1\n"
        b"kind: PeerAuthentication\nmetadata:\n  name: x\nspec:\n  mtls:\n    mode: DISABLE\n",
    }
    outcome = render_charts(files, engine)
    assert [t.name for t in outcome.targets] == ["app"]
    (pa,) = outcome.targets[0].documents
    assert pa.source.locate(("spec", "mtls", "mode")) == (
        "app/charts/mesh/templates/pa.yaml",
        7,
        5,
    )
    assert [path for path, _ in outcome.skipped] == ["app/charts/redis"]
    assert "not vendored" in outcome.skipped[0][1]


@pytest.mark.parametrize(
    ("template", "extra", "words"),
    [
        (b"a: {{ .Values.no.such }}", {}, "nil pointer"),
        (b"{{ range until 1000000000000 }}x{{ end }}", {}, "Helm"),
        (b"a: 1\n", {"charts/h/Chart.yaml": b"name: [\n"}, "Chart.yaml"),
        (b"a: 1\n", {"charts/h/values.yaml": b"- a\n"}, "values.yaml"),
    ],
)
def test_hostile_charts_fail_alone(engine, template, extra, words):
    files = {
        "charts/h/Chart.yaml": b"apiVersion: v2\nname: h\nversion: 1.0.0\n",
        "charts/h/templates/t.yaml": template,
        **extra,
        **repo(),
    }
    outcome = render_charts(files, engine)
    hostile = target(outcome, "charts/h")
    assert hostile.failure is not None and words in hostile.failure.message
    assert manifest(target(outcome, "charts/reviews"), "PeerAuthentication")


def test_a_values_file_that_is_not_a_mapping_fails_its_set_only(engine):
    files = repo({"charts/reviews/values-bad.yaml": "- one\n"})
    spec = ChartSpec("charts/reviews", ["values-bad.yaml"])
    outcome = render_charts(files, engine, specs=[spec])
    bad = target(outcome, "charts/reviews (values-bad.yaml)")
    assert bad.failure is not None and bad.failure.path == "charts/reviews/values-bad.yaml"
    assert "must be a mapping" in bad.failure.message
    assert target(outcome, "charts/reviews").failure is None


def test_renders_are_cached_by_chart_and_values(engine):
    cache: dict = {}
    before = engine.renders
    render_charts(repo(), engine, cache=cache)
    render_charts(repo(), engine, cache=cache)
    assert engine.renders - before == 1
    changed = repo({"charts/reviews/values.yaml": "mtls:\n  mode: DISABLE\n"})
    render_charts(changed, engine, cache=cache)
    assert engine.renders - before == 2


def test_without_helm_charts_are_skipped_with_the_install_hint():
    outcome = render_charts(repo(), None)
    assert outcome.skipped == [("charts/reviews", f"Helm chart: {helm.INSTALL_HINT}")]


REAL_WORLD = FIXTURES / "real-world"


@pytest.mark.skipif(not REAL_WORLD.is_dir(), reason="real-world fixtures absent")
def test_real_world_charts_render_or_fail_with_a_reason(engine):
    files = {
        str(p.relative_to(REAL_WORLD)): p.read_bytes()
        for p in REAL_WORLD.rglob("*")
        if p.is_file() and "/charts/" in f"/{p.relative_to(REAL_WORLD)}"
    }
    charts, _ = find_charts(files)
    assert len(charts) >= 8
    outcome = render_charts(files, engine)
    rendered = [t for t in outcome.targets if t.documents]
    assert len(rendered) >= 4
    for chart_target in outcome.targets:
        assert chart_target.documents or chart_target.failure or chart_target.skipped
        if chart_target.failure is not None:
            assert chart_target.failure.path.startswith(chart_target.chart.path)
            assert chart_target.failure.message
    kinds = {d.document.body.get("kind") for t in rendered for d in t.documents}
    assert "Deployment" in kinds
