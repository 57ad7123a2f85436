"""The in-process Kustomize build (`render.native`): the same resources as `kubectl
kustomize` for every kustomization it builds, and the tool for everything else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from render.build import BuildResult, KustomizeTool
from render.kustomize import KUSTOMIZATION_NAMES, Snapshot, find_kustomizations, plan_roots
from render.native import ORIGIN, NativeBuilder
from rules.core.loader import load_documents
from tests.helpers import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
needs_tool = pytest.mark.skipif(
    shutil.which("kubectl") is None and shutil.which("kustomize") is None,
    reason="kubectl or kustomize is needed to compare with the tool",
)


class RecordingTool:
    """A stand-in for the tool: records what it was asked to build."""

    version = "recording 1"

    def __init__(self) -> None:
        self.built: list[str] = []

    def build(self, root: str, files: Mapping[str, bytes | str]) -> BuildResult:
        self.built.append(root)
        return BuildResult(None, "the tool was asked")


def dedent(files: Mapping[str, str]) -> dict[str, str]:
    return {path: textwrap.dedent(text) for path, text in files.items()}


VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  labels: {app: reviews}
spec:
  hosts: [reviews]
  http:
  - name: main
    route:
    - destination: {host: reviews, subset: v1}
    timeout: 5s
    retries: {attempts: 3}
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews
spec:
  selector:
    matchLabels: {app: reviews}
  template:
    metadata:
      labels: {app: reviews}
    spec:
      containers:
      - name: reviews
        image: reviews:1
"""
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: placeholder\n"
CLUSTER = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
rules: []
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: istio
spec:
  controllerName: istio.io/gateway-controller
"""

# Each case: files of a repository, and the root to build. Every construct the module claims
# to build has one; `kubectl kustomize` must print the same resources.
CASES: dict[str, tuple[dict[str, str], str]] = {
    "namespace and labels over a base": (
        {
            "base/kustomization.yaml": "resources: [vs.yaml, deploy.yaml, ns.yaml, cluster.yaml]\n",
            "base/vs.yaml": VS,
            "base/deploy.yaml": DEPLOYMENT,
            "base/ns.yaml": NAMESPACE,
            "base/cluster.yaml": CLUSTER,
            "prod/kustomization.yaml": (
                "namespace: prod\nlabels:\n- pairs: {team: checkout, tier: web}\n"
                "resources: [../base]\n"
            ),
        },
        "prod",
    ),
    "a strategic merge patch on a custom resource replaces its lists": (
        {
            "base/kustomization.yaml": "resources: [vs.yaml]\n",
            "base/vs.yaml": VS,
            "prod/kustomization.yaml": "resources: [../base]\npatches:\n- path: fault.yaml\n",
            "prod/fault.yaml": """\
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata:
                  name: reviews
                  annotations: {chaos: "true"}
                spec:
                  http:
                  - name: main
                    fault:
                      abort: {httpStatus: 503, percentage: {value: 100}}
                    route:
                    - destination: {host: reviews, subset: v1}
            """,
        },
        "prod",
    ),
    "null deletes, maps merge, a patch without namespace finds the base's namespaced one": (
        {
            "base/kustomization.yaml": "namespace: shop\nresources: [vs.yaml]\n",
            "base/vs.yaml": VS,
            "prod/kustomization.yaml": (
                "resources: [../base]\npatches:\n"
                "- patch: |-\n"
                "    apiVersion: networking.istio.io/v1\n"
                "    kind: VirtualService\n"
                "    metadata:\n"
                "      name: reviews\n"
                "      labels: {app: null, stage: prod}\n"
                "    spec:\n"
                "      gateways: [istio-system/public]\n"
            ),
        },
        "prod",
    ),
    "a targeted patch selects by kind and a name pattern": (
        {
            "kustomization.yaml": """\
                resources: [a.yaml, b.yaml]
                patches:
                - target: {kind: VirtualService, name: "rev.*"}
                  patch: |-
                    apiVersion: networking.istio.io/v1
                    kind: VirtualService
                    metadata:
                      name: any
                    spec:
                      exportTo: ["."]
            """,
            "a.yaml": VS,
            "b.yaml": VS.replace("name: reviews\n  labels", "name: ratings\n  labels"),
        },
        "",
    ),
    "a JSON 6902 patch: add, replace, remove, copy, move, test": (
        {
            "kustomization.yaml": """\
                namespace: dev
                resources: [vs.yaml, deploy.yaml]
                patches:
                - target: {group: networking.istio.io, kind: VirtualService, name: reviews}
                  patch: |-
                    - op: test
                      path: /spec/http/0/name
                      value: main
                    - op: replace
                      path: /spec/http/0/timeout
                      value: 30s
                    - op: add
                      path: /spec/http/0/fault
                      value: {delay: {fixedDelay: 5s, percentage: {value: 10}}}
                    - op: remove
                      path: /spec/http/0/retries
                    - op: copy
                      from: /spec/hosts/0
                      path: /spec/hosts/-
                    - op: move
                      from: /metadata/labels/app
                      path: /metadata/labels/service
                - target: {kind: Deployment}
                  path: image.yaml
            """,
            "vs.yaml": VS,
            "deploy.yaml": DEPLOYMENT,
            "image.yaml": (
                '[{"op": "replace", "path": "/spec/template/spec/containers/0/image", '
                '"value": "reviews:2"}]\n'
            ),
        },
        "",
    ),
    "a Kubernetes kind patched without lists; a map over no value": (
        {
            "kustomization.yaml": """\
                resources: [deploy.yaml]
                patches:
                - patch: |-
                    apiVersion: apps/v1
                    kind: Deployment
                    metadata:
                      name: reviews
                    spec:
                      replicas: 3
                      template:
                        metadata:
                          annotations:
                            sidecar.istio.io/proxyCPULimit: "2"
            """,
            "deploy.yaml": DEPLOYMENT,
        },
        "",
    ),
    "two overlays deep, the namespace changed twice": (
        {
            "base/kustomization.yaml": "namespace: one\nresources: [vs.yaml]\n",
            "base/vs.yaml": VS,
            "mid/kustomization.yaml": "namespace: two\nresources: [../base]\n",
            "top/kustomization.yaml": (
                "resources: [../mid, extra.yaml]\npatches:\n"
                "- target: {namespace: one, kind: VirtualService}\n"
                '  patch: \'[{"op": "add", "path": "/spec/exportTo", "value": ["."]}]\'\n'
            ),
            "top/extra.yaml": VS.replace("name: reviews\n  labels", "name: extra\n  labels"),
        },
        "top",
    ),
    "scalars both YAML versions read alike stay in-process": (
        {
            "kustomization.yaml": "resources: [vs.yaml]\n",
            "vs.yaml": VS.replace(
                "timeout: 5s",
                'timeout: 5s\n    flags: ["yes", "1e3", "2024-01-01", y, n, 0x1F, 012, 1_000,'
                " 0b101, +12, 1.5, .5, ~, null, true, False]",
            ),
        },
        "",
    ),
    "images: new names, tags and digests, a registry port kept": (
        {
            "kustomization.yaml": """\
                resources: [deploy.yaml]
                images:
                - {name: reviews, newTag: "2"}
                - {name: localhost:5000/sidecar, newName: registry.example.com/sidecar}
                - {name: docker.io/istio/proxyv2, digest: "sha256:0123abcd"}
            """,
            "deploy.yaml": DEPLOYMENT.replace(
                "        image: reviews:1\n",
                "        image: reviews:1\n"
                "      - name: sidecar\n        image: localhost:5000/sidecar:7@sha256:ffff\n"
                "      initContainers:\n      - name: init\n        image: docker.io/istio/proxyv2:1.24\n",
            ),
        },
        "",
    ),
    "a role binding and a webhook without a namespace to rewrite them": (
        {
            "kustomization.yaml": "resources: [rbac.yaml]\n",
            "rbac.yaml": (
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
                "metadata: {name: r, namespace: shop}\n"
                "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n"
                "subjects: [{kind: ServiceAccount, name: sa, namespace: shop}]\n---\n"
                "apiVersion: admissionregistration.k8s.io/v1\n"
                "kind: MutatingWebhookConfiguration\nmetadata: {name: inject}\n"
                "webhooks:\n- name: sidecar.istio.io\n"
                "  clientConfig: {service: {name: istiod, namespace: istio-system}}\n"
                "  sideEffects: None\n  admissionReviewVersions: [v1]\n"
            ),
        },
        "",
    ),
    "the legacy order compares namespace|name as text": (
        {
            "kustomization.yaml": "resources: [vs.yaml]\n",
            "vs.yaml": (
                VS.replace("name: reviews\n  labels", "name: z\n  namespace: a\n  labels")
                + "---\n"
                + VS.replace("name: reviews\n  labels", "name: a\n  namespace: ab\n  labels")
            ),
        },
        "",
    ),
    "a component adds resources and patches what its parent gathered": (
        {
            "base/kustomization.yaml": "resources: [vs.yaml]\n",
            "base/vs.yaml": VS,
            "chaos/kustomization.yaml": """\
                apiVersion: kustomize.config.k8s.io/v1alpha1
                kind: Component
                resources: [dr.yaml]
                patches:
                - target: {kind: VirtualService}
                  patch: |-
                    - op: add
                      path: /spec/http/0/fault
                      value: {abort: {httpStatus: 500, percentage: {value: 5}}}
            """,
            "chaos/dr.yaml": (
                "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
                "metadata: {name: reviews}\nspec: {host: reviews}\n"
            ),
            "prod/kustomization.yaml": (
                "namespace: prod\nresources: [../base]\ncomponents: [../chaos]\n"
            ),
        },
        "prod",
    ),
}

DELEGATED: dict[str, tuple[str, dict[str, str]]] = {
    "a generator": (
        "configMapGenerator",
        {
            "kustomization.yaml": "configMapGenerator:\n- name: cfg\n  literals: [a=b]\n",
        },
    ),
    "commonLabels (selectors too)": (
        "commonLabels",
        {
            "kustomization.yaml": "commonLabels: {a: b}\nresources: [deploy.yaml]\n",
            "deploy.yaml": DEPLOYMENT,
        },
    ),
    "a list in a patch of a Kubernetes kind (merge keys)": (
        "merge keys",
        {
            "kustomization.yaml": (
                "resources: [deploy.yaml]\npatches:\n- patch: |-\n"
                "    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: reviews}\n"
                "    spec: {template: {spec: {containers: [{name: reviews, image: x}]}}}\n"
            ),
            "deploy.yaml": DEPLOYMENT,
        },
    ),
    "a $patch directive": (
        "directive",
        {
            "kustomization.yaml": (
                "resources: [vs.yaml]\npatches:\n- patch: |-\n"
                "    apiVersion: networking.istio.io/v1\n    kind: VirtualService\n"
                "    metadata: {name: reviews}\n    $patch: delete\n"
            ),
            "vs.yaml": VS,
        },
    ),
    "a patch that matches nothing (the tool words the error)": (
        "0 resources match",
        {
            "kustomization.yaml": (
                "resources: [vs.yaml]\npatches:\n- patch: |-\n"
                "    apiVersion: networking.istio.io/v1\n    kind: VirtualService\n"
                "    metadata: {name: missing}\n    spec: {hosts: [x]}\n"
            ),
            "vs.yaml": VS,
        },
    ),
    "a JSON patch whose path is missing": (
        "missing",
        {
            "kustomization.yaml": (
                "resources: [vs.yaml]\npatches:\n- target: {kind: VirtualService}\n"
                '  patch: \'[{"op": "replace", "path": "/spec/tcp/0/route", "value": []}]\'\n'
            ),
            "vs.yaml": VS,
        },
    ),
    "a resource holding a boolean only YAML 1.1 reads as one": (
        "YAML 1.1 and 1.2",
        {
            "kustomization.yaml": "resources: [vs.yaml]\n",
            "vs.yaml": VS.replace("timeout: 5s", "timeout: 5s\n    enabled: on"),
        },
    ),
    "a patch holding an exponent YAML 1.2 reads as a number": (
        "YAML 1.1 and 1.2",
        {
            "kustomization.yaml": (
                "resources: [vs.yaml]\npatches:\n- patch: |-\n"
                "    apiVersion: networking.istio.io/v1\n    kind: VirtualService\n"
                "    metadata: {name: reviews}\n    spec: {mirrorPercent: 1e2}\n"
            ),
            "vs.yaml": VS,
        },
    ),
    "a whole float (JSON prints 1.0 as 1)": (
        "JSON round trip",
        {"kustomization.yaml": "resources: [vs.yaml]\n", "vs.yaml": VS + "  weight: 1.0\n"},
    ),
    "an alias a JSON patch would change in both places": (
        "an alias",
        {
            "kustomization.yaml": (
                "resources: [vs.yaml]\npatches:\n- target: {kind: VirtualService}\n"
                '  patch: \'[{"op": "replace", "path": "/spec/http/0/retries/attempts", "value": 9}]\''
                "\n"
            ),
            "vs.yaml": VS.replace(
                "retries: {attempts: 3}", "retries: &r {attempts: 3}\n  tcp:\n  - retries: *r"
            ),
        },
    ),
    "a resource file outside the kustomization's folder": (
        "outside",
        {
            "app/kustomization.yaml": "resources: [../vs.yaml]\n",
            "vs.yaml": VS,
        },
    ),
    "the same resource twice": (
        "twice",
        {
            "kustomization.yaml": "resources: [vs.yaml, copy.yaml]\n",
            "vs.yaml": VS,
            "copy.yaml": VS,
        },
    ),
    "a namespace over a role binding (its subjects follow their service account)": (
        "a namespace over a RoleBinding",
        {
            "kustomization.yaml": "namespace: x\nresources: [rb.yaml]\n",
            "rb.yaml": (
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: r}\n"
                "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n"
                "subjects: [{kind: ServiceAccount, name: sa}]\n"
            ),
        },
    ),
    "a JSON patch replacing every annotation (the tool's origin changes)": (
        "annotations",
        {
            "kustomization.yaml": (
                "resources: [vs.yaml]\npatches:\n- target: {kind: VirtualService}\n"
                '  patch: \'[{"op": "add", "path": "/metadata/annotations", "value": {}}]\'\n'
            ),
            "vs.yaml": VS,
        },
    ),
    "a target pattern Python's re would backtrack on (Go's RE2 does not)": (
        "target",
        {
            "kustomization.yaml": (
                "resources: [vs.yaml]\npatches:\n- target: {name: '(a+)+b'}\n"
                '  patch: \'[{"op": "add", "path": "/spec/exportTo", "value": []}]\'\n'
            ),
            "vs.yaml": VS.replace("name: reviews\n  labels", f"name: {'a' * 60}c\n  labels"),
        },
    ),
    "a JSON patch index of 5,000 digits": (
        "ValueError",
        {
            "kustomization.yaml": (
                "resources: [vs.yaml]\npatches:\n- target: {kind: VirtualService}\n"
                f'  patch: \'[{{"op": "remove", "path": "/spec/http/{"9" * 5000}"}}]\'\n'
            ),
            "vs.yaml": VS,
        },
    ),
}


def resources(output: str) -> list[dict]:
    return load_documents(output)


@pytest.mark.parametrize("case", sorted(CASES))
def test_builds_in_process_what_it_claims(case):
    files, root = CASES[case]
    tool = RecordingTool()
    builder = NativeBuilder(tool)
    result = builder.build(root, dedent(files))
    assert tool.built == [], builder.reasons
    assert result.output is not None
    assert all(ORIGIN in r["metadata"]["annotations"] for r in resources(result.output))


@pytest.mark.parametrize("case", sorted(DELEGATED))
def test_hands_everything_else_to_the_tool(case):
    tool = RecordingTool()
    builder = NativeBuilder(tool)
    folder = "app" if case.startswith("a resource file outside") else ""
    reason, files = DELEGATED[case]
    result = builder.build(folder, dedent(files))
    assert tool.built == [folder]
    assert result.error == "the tool was asked"
    assert reason in builder.reasons[folder]


def test_semantics_a_reader_can_check_without_the_tool():
    files, root = CASES["namespace and labels over a base"]
    built = {
        (r["kind"], r["metadata"]["name"]): r
        for r in resources(NativeBuilder(RecordingTool()).build(root, dedent(files)).output or "")
    }
    # a v1 Namespace takes the kustomization's namespace as its name; cluster-scoped kinds get
    # no namespace (a GatewayClass is custom, so Kustomize namespaces it like any CRD's kind)
    assert ("Namespace", "prod") in built
    assert "namespace" not in built["ClusterRole", "reader"]["metadata"]
    assert built["GatewayClass", "istio"]["metadata"]["namespace"] == "prod"
    assert built["VirtualService", "reviews"]["metadata"]["namespace"] == "prod"
    assert built["VirtualService", "reviews"]["metadata"]["labels"] == {
        "app": "reviews",
        "team": "checkout",
        "tier": "web",
    }
    # labels without includeSelectors leave selectors and templates alone
    assert built["Deployment", "reviews"]["spec"]["selector"] == {"matchLabels": {"app": "reviews"}}
    assert built["VirtualService", "reviews"]["metadata"]["annotations"][ORIGIN] == (
        "path: ../base/vs.yaml\n"
    )
    # Kustomize's legacy order: Namespace first, ClusterRole before Deployment
    order = [
        r["kind"]
        for r in resources(NativeBuilder(RecordingTool()).build(root, dedent(files)).output or "")
    ]
    assert order.index("Namespace") == 0
    assert order.index("ClusterRole") < order.index("Deployment")

    files, root = CASES["a strategic merge patch on a custom resource replaces its lists"]
    (vs,) = resources(NativeBuilder(RecordingTool()).build(root, dedent(files)).output or "")
    (route,) = vs["spec"]["http"]
    assert route["fault"]["abort"]["httpStatus"] == 503
    assert "timeout" not in route  # the list was replaced, not merged by name
    assert vs["spec"]["hosts"] == ["reviews"]  # what the patch does not name stays

    files, root = CASES[
        "null deletes, maps merge, a patch without namespace finds the base's namespaced one"
    ]
    (vs,) = resources(NativeBuilder(RecordingTool()).build(root, dedent(files)).output or "")
    assert vs["metadata"]["labels"] == {"stage": "prod"}
    assert vs["metadata"]["namespace"] == "shop"
    assert vs["spec"]["gateways"] == ["istio-system/public"]


def roots_of(files: Mapping[str, bytes | str]) -> list[tuple[str, dict[str, bytes | str]]]:
    names = [p for p in files if p.rpartition("/")[2] in KUSTOMIZATION_NAMES]
    kustomizations = find_kustomizations(names, {p: files[p] for p in names})
    return [
        (root.folder, {p: files[p] for p in root.inputs})
        for root in plan_roots(Snapshot(dict(files)), kustomizations)
        if root.problem is None
    ]


def same_as_tool(root: str, files: Mapping[str, bytes | str]) -> tuple[str, str | None]:
    """'native' when built in-process with the tool's resources (order, origin and all),
    'tool' when handed over; the first difference otherwise."""
    builder = NativeBuilder(KustomizeTool())
    native = builder.build(root, files)
    if builder.native == 0:
        return "tool", None
    expected = KustomizeTool().build(root, files)
    assert expected.output is not None, f"{root}: the tool fails ({expected.error}) where we built"
    ours, theirs = resources(native.output or ""), resources(expected.output)
    for mine, its in zip(ours, theirs, strict=False):
        if mine != its:
            return "different", f"{root}:\n  ours:  {mine}\n  tool:  {its}"
    assert len(ours) == len(theirs), root
    return "native", None


@needs_tool
@pytest.mark.parametrize("case", sorted(CASES))
def test_case_matches_the_tool(case):
    files, root = CASES[case]
    outcome, difference = same_as_tool(root, dedent(files))
    assert outcome == "native", difference


def read_tree(top: Path) -> dict[str, bytes | str]:
    files: dict[str, bytes | str] = {}
    for path in top.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            files[path.relative_to(top).as_posix()] = path.read_bytes()
    return files


REAL_WORLD = FIXTURES / "real-world"


@needs_tool
@pytest.mark.skipif(not REAL_WORLD.is_dir(), reason="shared/fixtures/real-world is absent")
def test_real_world_kustomizations_match_the_tool():
    outcomes: dict[str, int] = {}
    differences = []
    for repository in sorted(p for p in REAL_WORLD.iterdir() if p.is_dir()):
        for root, files in roots_of(read_tree(repository)):
            outcome, difference = same_as_tool(root, files)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if difference:
                differences.append(f"{repository.name}/{difference}")
    assert differences == []
    # most of these layouts are in the subset; the rest use generators, components and the like
    assert outcomes.get("native", 0) >= 30, outcomes


@needs_tool
def test_the_benchmark_layout_matches_the_tool(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_kustomize
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "--version"], check=True, capture_output=True, env=env)
    bench_kustomize.generate(tmp_path / "repo")
    roots = dict(roots_of(read_tree(tmp_path / "repo")))
    assert len(roots) == 40
    # the overlays differ only in their names and values, but for one that adds a fault
    sample = ["overlays/team-00", "overlays/team-07", "overlays/team-39"]
    assert [same_as_tool(root, roots[root]) for root in sample] == [("native", None)] * 3
