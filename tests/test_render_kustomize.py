"""Kustomize targets (DESIGN, "Targets"): roots built, findings on the files a person edits,
bases and patches analysed only through their roots, bad input a finding or a skipped target."""

from __future__ import annotations

import os
import shutil
import stat
import textwrap
import time

import pytest

from render import build
from render.build import KustomizeTool
from render.targets import RenderStats, render_revision
from tests.helpers import config, files, render_run

needs_kustomize = pytest.mark.skipif(
    shutil.which("kubectl") is None and shutil.which("kustomize") is None,
    reason="kubectl or kustomize is needed to build kustomizations",
)

BASE_VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - name: main
    route:
    - destination:
        host: reviews
        subset: v1
"""
BASE_SVC = """\
apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  ports:
  - port: 9080
"""
BASE_DR = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
"""
BASE = {
    "base/kustomization.yaml": "resources: [vs.yaml, svc.yaml, dr.yaml]\n",
    "base/vs.yaml": BASE_VS,
    "base/svc.yaml": BASE_SVC,
    "base/dr.yaml": BASE_DR,
}
FAULT_PATCH = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  http:
  - name: main
    fault:
      abort:
        percentage: {value: 100}
        httpStatus: 503
    route:
    - destination:
        host: reviews
        subset: v1
"""


def overlay(namespace: str, extra: str = "") -> str:
    return f"namespace: {namespace}\nresources:\n- ../../base\n{extra}"


def rule(report, rule_id):
    return [f for f in report.findings if f.rule == rule_id]


@needs_kustomize
def test_overlay_namespaces_resolve_what_the_base_leaves_unset():
    repo = {**BASE, "overlays/prod/kustomization.yaml": overlay("prod")}
    report = render_run(repo)
    # The base's Service, subset and short host all resolve in the overlay's namespace.
    assert rule(report, "host-not-found") == []
    assert rule(report, "subset-not-defined") == []
    shorts = rule(report, "short-host-name")
    assert shorts and {f.resource.namespace for f in shorts} == {"prod"}
    assert all(f.target == "overlays/prod" for f in report.findings)
    assert all(f.path.startswith("base/") for f in shorts)
    where = {(f.path, f.line) for f in shorts}  # the base files' lines
    assert where == {("base/vs.yaml", 7), ("base/vs.yaml", 12), ("base/dr.yaml", 6)}


@needs_kustomize
def test_a_fault_introduced_by_a_patch_points_at_the_patch_line():
    repo = {
        **BASE,
        "overlays/prod/kustomization.yaml": overlay("prod", "patches:\n- path: fault.yaml\n"),
        "overlays/prod/fault.yaml": FAULT_PATCH,
    }
    [fault] = rule(render_run(repo), "fault-injection")
    assert (fault.path, fault.line) == ("overlays/prod/fault.yaml", 8)
    assert fault.resource.namespace == "prod" and fault.target == "overlays/prod"


@needs_kustomize
def test_an_inline_json6902_patch_points_at_its_line_in_the_kustomization():
    kustomization = overlay(
        "prod",
        textwrap.dedent(
            """\
            patches:
            - target: {kind: VirtualService, name: reviews}
              patch: |-
                - op: add
                  path: /spec/http/0/fault
                  value: {delay: {percentage: {value: 10}, fixedDelay: 5s}}
            """
        ),
    )
    repo = {**BASE, "overlays/prod/kustomization.yaml": kustomization}
    [fault] = rule(render_run(repo), "fault-injection")
    assert fault.path == "overlays/prod/kustomization.yaml"
    lines = kustomization.splitlines()
    assert lines[fault.line - 1].strip().startswith("value:")


@needs_kustomize
def test_a_patch_file_is_never_analysed_on_its_own():
    repo = {
        **BASE,
        "overlays/prod/kustomization.yaml": overlay("prod", "patches:\n- path: fault.yaml\n"),
        "overlays/prod/fault.yaml": FAULT_PATCH,
    }
    report = render_run(repo)
    # One fault (the built VirtualService), not a second one from reading fault.yaml alone.
    assert len(rule(report, "fault-injection")) == 1
    assert {f.target for f in report.findings} == {"overlays/prod"}


@needs_kustomize
def test_a_base_that_no_root_uses_is_analysed_as_plain_files_and_bases_of_roots_are_not():
    repo = {
        **BASE,
        "overlays/prod/kustomization.yaml": overlay("prod"),
        "component/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\n"
        "kind: Component\nresources: [vs.yaml]\n",
        "component/vs.yaml": BASE_VS,
    }
    report = render_run(repo)
    plain = [f for f in report.findings if f.target is None]
    assert plain and {f.path for f in plain} == {"component/vs.yaml"}
    assert all(f.resource.namespace is None for f in plain)


@needs_kustomize
def test_the_prod_overlay_fault_is_new_although_dev_has_the_same():
    dev = {
        "overlays/dev/kustomization.yaml": overlay("dev", "patches:\n- path: fault.yaml\n"),
        "overlays/dev/fault.yaml": FAULT_PATCH.replace("100", "50"),
    }
    prod = {
        "overlays/prod/kustomization.yaml": overlay("dev", "patches:\n- path: fault.yaml\n"),
        "overlays/prod/fault.yaml": FAULT_PATCH,
    }
    base = {**BASE, **dev}
    report = render_run({**base, **prod}, base)
    faults = {f.target: f.new for f in rule(report, "fault-injection")}
    assert faults == {"overlays/dev": False, "overlays/prod": True}


@needs_kustomize
def test_a_renamed_overlay_creates_nothing_new():
    old = {
        **BASE,
        "overlays/prod/kustomization.yaml": overlay("prod", "patches:\n- path: fault.yaml\n"),
        "overlays/prod/fault.yaml": FAULT_PATCH,
    }
    new = {p.replace("overlays/prod", "overlays/production"): t for p, t in old.items()}
    report = render_run(new, old)
    assert report.findings and not any(f.new for f in report.findings)
    before = {f.fingerprint for f in render_run(old).findings}
    assert {f.fingerprint for f in report.findings} <= before  # comments stay with findings


def failures(repo):
    report = render_run(repo)
    return rule(report, "render-failed"), report


def test_a_missing_resource_is_render_failed_at_its_line():
    repo = {
        "app/kustomization.yaml": "resources:\n- vs.yaml\n- missing.yaml\n",
        "app/vs.yaml": BASE_VS,
    }
    [failed], _ = failures(repo)
    assert (failed.path, failed.line, failed.severity) == ("app/kustomization.yaml", 3, "error")
    assert "missing.yaml" in failed.message and failed.target == "app"


def test_a_reference_outside_the_repository_is_render_failed_and_nothing_is_read():
    repo = {"app/kustomization.yaml": "resources:\n- ../../../etc\n"}
    [failed], _ = failures(repo)
    assert "outside the repository" in failed.message


def test_a_remote_base_is_skipped_with_its_reason_and_the_rest_is_analysed():
    repo = {
        "remote/kustomization.yaml": "resources:\n- https://github.com/istio/istio/samples/bookinfo?ref=1.22\n",
        "plain/vs.yaml": BASE_VS,
    }
    found, report = failures(repo)
    assert found == []
    assert [s.path for s in report.skipped] == ["remote"]
    assert "remote" in report.skipped[0].reason and "not fetched" in report.skipped[0].reason
    assert any(f.path == "plain/vs.yaml" for f in report.findings)


def test_helm_charts_inside_a_kustomization_are_skipped():
    repo = {"app/kustomization.yaml": "helmCharts:\n- name: istiod\n  repo: https://example.com\n"}
    _, report = failures(repo)
    assert [s.path for s in report.skipped] == ["app"]
    assert "Helm" in report.skipped[0].reason


def test_a_cycle_is_render_failed():
    repo = {
        "a/kustomization.yaml": "resources: [../b]\n",
        "b/kustomization.yaml": "resources: [../a]\n",
        "root/kustomization.yaml": "resources: [../a]\n",
    }
    found, _ = failures(repo)
    assert found and "cycle" in found[0].message


def test_an_invalid_kustomization_is_render_failed_at_its_line():
    repo = {"app/kustomization.yaml": "resources:\n- vs.yaml\n  bad: [\n", "app/vs.yaml": BASE_VS}
    [failed], _ = failures(repo)
    assert failed.path == "app/kustomization.yaml" and "invalid YAML" in failed.message


def test_without_a_tool_the_target_is_skipped_with_the_fix(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    report = render_run({**BASE, "overlays/prod/kustomization.yaml": overlay("prod")})
    [skipped] = report.skipped
    assert skipped.path == "overlays/prod" and "kubectl" in skipped.reason


def test_kustomize_off_reads_everything_as_plain_files():
    report = render_run(
        {**BASE, "overlays/prod/kustomization.yaml": overlay("prod")},
        cfg="render:\n  kustomize: off\n",
    )
    assert report.findings and all(f.target is None for f in report.findings)


def fake_tool(tmp_path, body: str) -> KustomizeTool:
    script = tmp_path / "kustomize"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    tool = KustomizeTool(str(script))
    tool.__dict__["version"] = "fake 1"  # cached_property: no `version` call to the fake
    return tool


def test_a_build_that_hangs_is_stopped_within_the_time_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "TIMEOUT", 1.0)
    tool = fake_tool(tmp_path, "sleep 30\n")
    started = time.monotonic()
    revision = render_revision(
        files({**BASE, "app/kustomization.yaml": "resources: []\n"}), config(), builder=tool
    )
    assert time.monotonic() - started < 10
    assert revision.failures and all("longer than" in f.message for f in revision.failures)


def test_a_build_that_prints_too_much_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "MAX_OUTPUT", 1024 * 1024)
    tool = fake_tool(tmp_path, "yes 'apiVersion: v1' | head -c 104857600\n")
    revision = render_revision(
        files({"app/kustomization.yaml": "resources: []\n"}), config(), builder=tool
    )
    [failure] = revision.failures
    assert "more than 1 MiB" in failure.message


def test_a_build_writes_nothing_outside_its_temporary_folder(tmp_path, monkeypatch):
    # The fake tool records where it runs and what it was given; the working folder is untouched.
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "log"
    log.write_text("")
    tool = fake_tool(
        tmp_path, f'pwd > {log}; echo "$HOME" >> {log}; ls "$2" >> {log}; echo "kind: x"\n'
    )
    before = sorted(os.listdir(tmp_path))
    render_revision(files({"app/kustomization.yaml": "resources: []\n"}), config(), builder=tool)
    assert sorted(os.listdir(tmp_path)) == before
    where, home, *listing = log.read_text().split()
    assert where == home and "footgun-build-" in where and not os.path.exists(where)
    assert listing == ["kustomization.yaml"]


@needs_kustomize
def test_builds_are_cached_by_the_content_of_their_inputs():
    from render.targets import RenderStats

    repo = {
        **BASE,
        "overlays/a/kustomization.yaml": overlay("a"),
        "overlays/b/kustomization.yaml": overlay("b"),
    }
    cache: dict = {}
    first, second = RenderStats(), RenderStats()
    render_revision(files(repo), config(), cache=cache, stats=first)
    changed = {**repo, "overlays/b/kustomization.yaml": overlay("b2")}
    render_revision(files(changed), config(), cache=cache, stats=second)
    assert (first.built, first.cached) == (2, 0)
    assert (second.built, second.cached) == (1, 1)


@needs_kustomize
def test_checking_a_base_folder_shows_it_through_the_overlays_that_use_it(tmp_path):
    import json
    import subprocess
    import sys

    repo = {
        **BASE,
        "overlays/prod/kustomization.yaml": overlay("prod", "patches:\n- path: fault.yaml\n"),
        "overlays/prod/fault.yaml": FAULT_PATCH,
        "other/vs.yaml": BASE_VS.replace("name: reviews", "name: other"),
    }
    for path, text in repo.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "check", "--format", "json", "--no-cache", "base"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / ".cache")},
    )
    report = json.loads(out.stdout)
    # The base is what overlays/prod deploys: its findings, in namespace prod; other/ not named.
    assert report["findings"] and {f["target"] for f in report["findings"]} == {"overlays/prod"}
    assert {f["resource"]["namespace"] for f in report["findings"]} == {"prod"}
    assert not any(f["path"].startswith("other/") for f in report["findings"])


@needs_kustomize
@pytest.mark.parametrize("key", ["patches", "patchesStrategicMerge"])
def test_an_inline_strategic_merge_patch_points_at_its_line(key):
    body = textwrap.indent(FAULT_PATCH, "    ")
    entry = f"- patch: |-\n{body}" if key == "patches" else f"- |-\n{body}"
    kustomization = overlay("prod", f"{key}:\n{entry}")
    repo = {**BASE, "overlays/prod/kustomization.yaml": kustomization}
    [fault] = rule(render_run(repo), "fault-injection")
    assert fault.path == "overlays/prod/kustomization.yaml"
    assert kustomization.splitlines()[fault.line - 1].strip() == "fault:"


def application(name: str, path: str, namespace: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata:
          name: {name}
          namespace: argocd
        spec:
          source:
            repoURL: https://example.com/repo.git
            path: {path}
          destination:
            namespace: {namespace}
        """)


@needs_kustomize
def test_an_argo_cd_destination_namespace_is_the_namespace_of_the_root_it_deploys():
    repo = {
        **BASE,
        "overlays/prod/kustomization.yaml": "resources:\n- ../../base\n",
        "argocd/reviews.yaml": application("reviews", "overlays/prod", "shop"),
    }
    shorts = rule(render_run(repo), "short-host-name")
    assert shorts and {f.resource.namespace for f in shorts} == {"shop"}
    assert all("reviews.shop.svc.cluster.local" in f.message for f in shorts)


@needs_kustomize
def test_a_root_two_applications_deploy_to_two_namespaces_is_two_targets_of_one_build():
    repo = {
        **BASE,
        "overlays/prod/kustomization.yaml": "resources:\n- ../../base\n",
        "argocd/a.yaml": application("a", "overlays/prod", "shop"),
        "argocd/b.yaml": application("b", "overlays/prod", "store"),
        "argocd/c.yaml": application("c", "overlays/prod", "store"),
    }
    stats = RenderStats()
    revision = render_revision(files(repo), config(), stats=stats)
    assert stats.built == 1
    assert sorted(revision.targets) == [
        "overlays/prod (Application a)",
        "overlays/prod (Application b, Application c)",
    ]
    shorts = rule(render_run(repo), "short-host-name")
    by_target = {f.target: f for f in shorts if f.resource.kind == "VirtualService"}
    assert {t: f.resource.namespace for t, f in by_target.items()} == {
        "overlays/prod (Application a)": "shop",
        "overlays/prod (Application b, Application c)": "store",
    }
    assert "reviews.shop.svc.cluster.local" in by_target["overlays/prod (Application a)"].message
    assert all(f.path == "base/vs.yaml" for f in by_target.values())


@needs_kustomize
def test_a_root_also_deployed_without_a_namespace_takes_none():
    repo = {
        **BASE,
        "overlays/prod/kustomization.yaml": "resources:\n- ../../base\n",
        "argocd/a.yaml": application("a", "overlays/prod", "shop"),
        "argocd/b.yaml": application("b", "overlays/prod", "store").replace(
            "  destination:\n    namespace: store\n", ""
        ),
    }
    shorts = rule(render_run(repo), "short-host-name")
    assert shorts and {f.resource.namespace for f in shorts} == {None}
