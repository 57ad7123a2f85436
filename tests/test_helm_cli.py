"""`footgun check` and `footgun diff` render the repository's charts and report on the line a
person edits: the values line a value decides, else the template line."""

from __future__ import annotations

import textwrap

import pytest

from render import helm
from tests.cli_support import GitRepo, run_cli
from tests.test_helm_targets import REVIEWS

pytestmark = pytest.mark.skipif(not helm.available(), reason="Helm support is not installed")

CHART = {path: textwrap.dedent(text) for path, text in REVIEWS.items()}

APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: reviews-prod
  namespace: argocd
spec:
  source:
    path: charts/reviews
    helm:
      valueFiles: [{files}]
  destination:
    namespace: prod
"""

ISTIOD = """\
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
    meshConfig:
      defaultConfig:
        holdApplicationUntilProxyStarts: true
"""


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return GitRepo(root)


def found(result, rule):
    return [(f["path"], f["line"]) for f in result.json["findings"] if f["rule"] == rule]


def test_check_reports_a_fault_switched_on_by_values_on_the_values_line(workspace, capsys):
    app = APPLICATION.format(files="values-prod.yaml, values-chaos.yaml")
    workspace.write({**CHART, "argocd/reviews.yaml": app})
    result = run_cli(capsys, "check", ".", "--format", "json")
    assert result.code == 1
    assert found(result, "fault-injection") == [("charts/reviews/values-chaos.yaml", 3)]
    assert found(result, "permissive-mtls") == [("charts/reviews/values-prod.yaml", 2)]
    (fault,) = [f for f in result.json["findings"] if f["rule"] == "fault-injection"]
    assert fault["resource"] == {
        "kind": "VirtualService",
        "namespace": "prod",
        "name": "reviews-prod",
    }
    # The chart's templates are rendered, not read as plain files that "need rendering first".
    assert not [s for s in result.json["skipped"] if "templates/" in s["path"]]


def test_check_is_quiet_when_values_leave_the_fault_off(workspace, capsys):
    workspace.write({**CHART, "argocd/reviews.yaml": APPLICATION.format(files="values-prod.yaml")})
    result = run_cli(capsys, "check", ".", "--format", "json")
    assert found(result, "fault-injection") == []
    assert found(result, "permissive-mtls") == [("charts/reviews/values-prod.yaml", 2)]


def test_a_template_error_is_reported_with_its_place_and_the_rest_is_analysed(workspace, capsys):
    broken = {
        "charts/broken/Chart.yaml": "apiVersion: v2\nname: broken\nversion: 1.0.0\n",
        "charts/broken/templates/x.yaml": "a: {{ .Values.host.name }}\n",
    }
    workspace.write({**CHART, **broken})
    result = run_cli(capsys, "check", ".", "--format", "json")
    assert result.code == 1
    (failed,) = [f for f in result.json["findings"] if f["rule"] == "render-failed"]
    assert (failed["path"], failed["line"]) == ("charts/broken/templates/x.yaml", 1)
    assert failed["message"].startswith("HelmChart charts/broken")
    assert "nil pointer" in failed["message"]
    assert not [s for s in result.json["skipped"] if s["path"].startswith("charts/broken")]
    assert found(result, "short-host-name")  # the other chart is analysed as usual


def test_diff_flags_an_istiod_chart_bump_without_a_revision(workspace, capsys):
    base = workspace.commit({"flux/istiod.yaml": ISTIOD.format(version="1.24.2")}, "istiod")
    workspace.commit({"flux/istiod.yaml": ISTIOD.format(version="1.25.0")}, "bump")
    result = run_cli(capsys, "diff", base, "--format", "json")
    assert result.code == 1
    (finding,) = [f for f in result.json["findings"] if f["rule"] == "in-place-upgrade"]
    assert (finding["path"], finding["line"], finding["new"]) == ("flux/istiod.yaml", 10, True)


def test_diff_of_a_values_change_reports_the_new_fault_as_new(workspace, capsys):
    app = APPLICATION.format(files="values-prod.yaml, values-chaos.yaml")
    chaos_off = CHART["charts/reviews/values-chaos.yaml"].replace("true", "false")
    base = workspace.commit(
        {**CHART, "charts/reviews/values-chaos.yaml": chaos_off, "argocd/reviews.yaml": app}
    )
    workspace.commit(
        {"charts/reviews/values-chaos.yaml": CHART["charts/reviews/values-chaos.yaml"]}
    )
    result = run_cli(capsys, "diff", base, "--format", "json")
    assert result.code == 1
    new = [(f["rule"], f["path"], f["line"]) for f in result.json["findings"] if f["new"]]
    assert new == [("fault-injection", "charts/reviews/values-chaos.yaml", 3)]
    # Run again: the renders come from the cache, the answer is the same.
    again = run_cli(capsys, "diff", base, "--format", "json")
    assert again.json["findings"] == result.json["findings"]
