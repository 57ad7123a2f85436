"""Plain folders that Argo CD Applications and Flux Kustomizations deploy (DESIGN, "Targets"):
their namespace-less resources are applied to the destination / target namespace, exactly the
files Argo CD or Flux would apply, once per Application that deploys them."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from render.targets import render_revision
from rules.core.engine import context_of
from rules.core.gitops import FolderSource
from tests.cli_support import GitRepo, run_cli
from tests.helpers import config, files, render_run, run

VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
  - route:
    - destination: {host: ratings}
"""
SVC = """\
apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  ports: [{port: 9080}]
"""


def application(name: str, path: str, namespace: str, directory: str = "") -> str:
    lines = [
        "apiVersion: argoproj.io/v1alpha1",
        "kind: Application",
        "metadata:",
        f"  name: {name}",
        "  namespace: argocd",
        "spec:",
        "  source:",
        "    repoURL: https://example.com/repo.git",
        f"    path: {path}",
    ]
    if directory:
        lines += ["    directory:", *(f"      {line}" for line in directory.splitlines())]
    lines += ["  destination:", f"    namespace: {namespace}"]
    return "\n".join(lines) + "\n"


def flux(name: str, path: str, namespace: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: {name}
          namespace: flux-system
        spec:
          path: {path}
          targetNamespace: {namespace}
          sourceRef: {{kind: GitRepository, name: flux-system}}
        """)


def with_namespace(text: str, namespace: str) -> str:
    return text.replace("  name: reviews\n", f"  name: reviews\n  namespace: {namespace}\n", 1)


def placed(
    repo: dict[str, str], rendered: bool = False
) -> dict[tuple[str, str], set[tuple[str | None, str | None]]]:
    """(kind, path) -> {(namespace, target)} of every resource the rules see in `repo` (with
    `rendered`, through the render stage: kustomization roots built)."""
    revision = render_revision(files(repo), config(), cache={}) if rendered else files(repo)
    out: dict[tuple[str, str], set[tuple[str | None, str | None]]] = {}
    for r in context_of(revision, config())[0].resources:
        out.setdefault((r.kind, r.path), set()).add((r.namespace, r.target))
    return out


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return GitRepo(root)


def test_an_application_over_a_plain_folder_applies_it_to_its_namespace(workspace, capsys):
    workspace.commit({"apps/bookinfo/vs.yaml": VS, "apps/bookinfo/svc.yaml": SVC})
    alone = run_cli(capsys, "check", "--format", "json").json["findings"]
    # Nothing says where the folder is applied: its namespace is unknown, never named.
    assert {(f["resource"]["namespace"], f["target"]) for f in alone} == {(None, None)}
    assert not any("shop" in f["message"] for f in alone)

    workspace.commit({"argocd/bookinfo.yaml": application("bookinfo", "apps/bookinfo", "shop")})
    findings = run_cli(capsys, "check", "--format", "json").json["findings"]
    by_rule: dict[str, list[dict]] = {}
    for f in findings:
        by_rule.setdefault(f["rule"], []).append(f)
    # Both files are applied to `shop` by the Application, which is their target.
    assert {(f["resource"]["kind"], f["resource"]["namespace"], f["target"]) for f in findings} == {
        ("VirtualService", "shop", "apps/bookinfo (Application bookinfo)"),
        ("Service", "shop", "apps/bookinfo (Application bookinfo)"),
    }
    # The Service is found in shop; the missing `ratings` is reported there, by its full name.
    [missing] = by_rule["host-not-found"]
    assert "'ratings' (ratings.shop.svc.cluster.local)" in missing["message"]
    assert "namespace shop" in missing["message"]
    shorts = by_rule["short-host-name"]
    assert any("reviews.shop.svc.cluster.local" in f["message"] for f in shorts)
    [sidecar] = by_rule["sidecar-missing"]
    assert sidecar["message"].startswith("Namespace shop is in the mesh")


@pytest.mark.parametrize("recurse", [False, True])
def test_subfolders_are_applied_only_with_recurse(recurse):
    directory = "recurse: true\n" if recurse else ""
    where = placed(
        {
            "apps/vs.yaml": VS,
            "apps/reviews/svc.yaml": SVC,
            "argocd/apps.yaml": application("apps", "apps", "shop", directory),
        }
    )
    target = "apps (Application apps)"
    assert where[("VirtualService", "apps/vs.yaml")] == {("shop", target)}
    assert where[("Service", "apps/reviews/svc.yaml")] == (
        {("shop", target)} if recurse else {(None, None)}
    )


def test_include_and_exclude_are_argo_cd_globs_on_the_path_below_the_folder():
    # gobwas/glob without separators: `*` crosses folders; exclude wins over include.
    where = placed(
        {
            "apps/vs.yaml": VS,
            "apps/reviews/svc.yaml": SVC,
            "apps/ratings/svc.yml": SVC.replace("reviews", "ratings"),
            "apps/draft/vs.yaml": with_namespace(VS, "draft").replace("reviews", "draft"),
            "argocd/apps.yaml": application(
                "apps",
                "apps",
                "shop",
                "recurse: true\ninclude: '*.yaml'\nexclude: '{draft/*,nothing.yaml}'\n",
            ),
        }
    )
    target = "apps (Application apps)"
    assert where[("VirtualService", "apps/vs.yaml")] == {("shop", target)}
    assert where[("Service", "apps/reviews/svc.yaml")] == {("shop", target)}
    assert where[("Service", "apps/ratings/svc.yml")] == {(None, None)}  # not *.yaml
    assert where[("VirtualService", "apps/draft/vs.yaml")] == {("draft", None)}  # excluded


def test_a_resource_that_writes_its_namespace_keeps_it_under_argo_cd():
    where = placed(
        {
            "apps/vs.yaml": with_namespace(VS, "frontend"),
            "apps/svc.yaml": SVC,
            "argocd/apps.yaml": application("apps", "apps", "shop"),
        }
    )
    assert where[("VirtualService", "apps/vs.yaml")] == {("frontend", "apps (Application apps)")}
    assert where[("Service", "apps/svc.yaml")] == {("shop", "apps (Application apps)")}


def test_argo_cd_skips_a_file_marked_skip_file_rendering():
    where = placed(
        {
            "apps/vs.yaml": "# +argocd:skip-file-rendering\n" + VS,
            "apps/svc.yaml": SVC,
            "argocd/apps.yaml": application("apps", "apps", "shop"),
        }
    )
    assert where[("VirtualService", "apps/vs.yaml")] == {(None, None)}
    assert where[("Service", "apps/svc.yaml")] == {("shop", "apps (Application apps)")}


def test_flux_target_namespace_applies_to_the_whole_tree_and_overrides_written_ones():
    repo = {
        "apps/vs.yaml": with_namespace(VS, "frontend"),
        "apps/reviews/svc.yaml": SVC,
        "clusters/prod/apps.yaml": flux("apps", "./apps", "shop"),
        # An OCIRepository's path is inside another artifact, not this repository.
        "clusters/prod/oci.yaml": flux("oci", "./apps", "elsewhere").replace(
            "kind: GitRepository, name: flux-system", "kind: OCIRepository, name: manifests"
        ),
    }
    report = run(repo)
    target = "apps (Kustomization apps)"
    where = placed(repo)
    assert where[("VirtualService", "apps/vs.yaml")] == {("shop", target)}
    assert where[("Service", "apps/reviews/svc.yaml")] == {("shop", target)}
    # The Service is found in shop, so only the missing `ratings` is reported.
    missing = [f for f in report.findings if f.rule == "host-not-found"]
    assert [f.message.split("'")[1] for f in missing] == ["ratings"]


def test_two_applications_on_one_folder_are_two_targets_with_their_own_findings():
    report = run(
        {
            "apps/bookinfo/vs.yaml": VS,
            "apps/bookinfo/svc.yaml": SVC,
            "argocd/dev.yaml": application("bookinfo-dev", "apps/bookinfo", "dev"),
            "argocd/prod.yaml": application("bookinfo-prod", "apps/bookinfo", "prod"),
        }
    )
    missing = [f for f in report.findings if f.rule == "host-not-found"]
    assert sorted((f.resource.namespace, f.target) for f in missing) == [
        ("dev", "apps/bookinfo (Application bookinfo-dev)"),
        ("prod", "apps/bookinfo (Application bookinfo-prod)"),
    ]
    assert len({f.fingerprint for f in missing}) == 2
    assert "ratings.prod.svc.cluster.local" in next(
        f.message for f in missing if f.resource.namespace == "prod"
    )


def test_a_fault_added_to_a_folder_of_two_applications_is_new_in_each():
    fault = VS.replace(
        "  - route:\n    - destination: {host: ratings}\n",
        "  - fault: {abort: {percentage: {value: 100}, httpStatus: 503}}\n"
        "    route:\n    - destination: {host: ratings}\n",
    )
    base = {
        "apps/bookinfo/vs.yaml": VS,
        "apps/bookinfo/svc.yaml": SVC,
        "argocd/dev.yaml": application("bookinfo-dev", "apps/bookinfo", "dev"),
        "argocd/prod.yaml": application("bookinfo-prod", "apps/bookinfo", "prod"),
    }
    report = run({**base, "apps/bookinfo/vs.yaml": fault}, base)
    faults = [f for f in report.findings if f.rule == "fault-injection"]
    assert sorted((f.target, f.new) for f in faults) == [
        ("apps/bookinfo (Application bookinfo-dev)", True),
        ("apps/bookinfo (Application bookinfo-prod)", True),
    ]


def test_an_application_set_list_generator_deploys_the_folder_once_per_element():
    where = placed(
        {
            "apps/bookinfo/vs.yaml": VS,
            "apps/bookinfo/svc.yaml": SVC,
            "argocd/set.yaml": """\
                apiVersion: argoproj.io/v1alpha1
                kind: ApplicationSet
                metadata:
                  name: bookinfo
                spec:
                  generators:
                  - list:
                      elements: [{env: dev}, {env: prod}]
                  template:
                    metadata:
                      name: 'bookinfo-{{env}}'
                    spec:
                      source:
                        path: apps/bookinfo
                      destination:
                        namespace: '{{env}}'
                """,
        }
    )
    assert where[("Service", "apps/bookinfo/svc.yaml")] == {
        ("dev", "apps/bookinfo (Application bookinfo-dev)"),
        ("prod", "apps/bookinfo (Application bookinfo-prod)"),
    }


def source(**fields) -> FolderSource:
    return FolderSource(fields.pop("path", "apps"), "Application apps", "shop", **fields)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.yaml", "a/b/vs.yaml", True),  # no separators: `*` crosses folders
        ("*/vs.yaml", "a/b/vs.yaml", True),  # argoproj/argo-cd#7319
        ("vs.yaml", "a/vs.yaml", False),  # the whole relative path must match
        ("{a,b}/*", "b/x.yaml", True),
        ("?s.yaml", "vs.yaml", True),
        ("[uv]s.yaml", "vs.yaml", True),
        ("[!v]s.yaml", "vs.yaml", False),
        ("[a-z]s.yaml", "vs.yaml", True),
        ("\\*.yaml", "*.yaml", True),
        ("{a,b", "a", False),  # does not compile: matches nothing
    ],
)
def test_include_globs_match_as_argo_cd_matches_them(pattern, path, matches):
    assert source(recurse=True, include=pattern).applies(f"apps/{path}", set()) is matches


def test_an_include_that_does_not_compile_keeps_nothing_and_an_exclude_drops_nothing():
    assert not source(include="[a-").applies("apps/vs.yaml", set())
    assert source(exclude="[a-").applies("apps/vs.yaml", set())


def test_a_folder_holding_a_kustomization_or_a_chart_is_not_applied_as_plain_files():
    assert not source().applies("apps/vs.yaml", {"apps"})
    flux_source = source(flux=True)
    assert flux_source.applies("apps/a/vs.yaml", {"apps/b"})
    # Flux includes a subfolder with a kustomization file as a base, not its files.
    assert not flux_source.applies("apps/b/extra.yaml", {"apps/b"})
    assert not flux_source.applies("apps/b/c/extra.yaml", {"apps/b"})


def test_the_repository_root_as_source_path():
    root = source(path="")
    assert root.applies("vs.yaml", set())
    assert not root.applies("apps/vs.yaml", set())
    assert source(path="", recurse=True).applies("apps/vs.yaml", set())


needs_kustomize = pytest.mark.skipif(
    shutil.which("kubectl") is None and shutil.which("kustomize") is None,
    reason="kubectl or kustomize is needed to build kustomizations",
)


@needs_kustomize
def test_beside_kustomize_roots_a_plain_folder_is_still_placed_and_flux_overrides_roots():
    repo = {
        # A root built with its own namespace; Flux's targetNamespace replaces it.
        "apps/reviews/kustomization.yaml": "namespace: other\nresources: [svc.yaml]\n",
        "apps/reviews/svc.yaml": SVC,
        # Below a kustomization folder Flux does not look: this root is not deployed by it.
        "apps/reviews/extra/kustomization.yaml": "resources: [svc.yaml]\n",
        "apps/reviews/extra/svc.yaml": SVC.replace("reviews", "extra"),
        "apps/vs.yaml": VS,
        "clusters/prod/apps.yaml": flux("apps", "./apps", "shop"),
    }
    report = render_run(repo)
    where = placed(repo, rendered=True)
    assert where[("VirtualService", "apps/vs.yaml")] == {("shop", "apps (Kustomization apps)")}
    assert where[("Service", "apps/reviews/svc.yaml")] == {("shop", "apps/reviews")}
    assert where[("Service", "apps/reviews/extra/svc.yaml")] == {(None, "apps/reviews/extra")}
    assert [f.message.split("'")[1] for f in report.findings if f.rule == "host-not-found"] == [
        "ratings"
    ]


@needs_kustomize
def test_flux_target_namespace_replaces_the_namespace_a_root_writes():
    repo = {
        "apps/reviews/kustomization.yaml": "resources: [svc.yaml, vs.yaml]\n",
        "apps/reviews/svc.yaml": with_namespace(SVC, "other"),
        "apps/reviews/vs.yaml": VS,
        "clusters/prod/reviews.yaml": flux("reviews", "./apps/reviews", "shop"),
    }
    where = placed(repo, rendered=True)
    assert where[("Service", "apps/reviews/svc.yaml")] == {("shop", "apps/reviews")}
    assert where[("VirtualService", "apps/reviews/vs.yaml")] == {("shop", "apps/reviews")}
