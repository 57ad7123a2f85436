"""A kustomization root (or chart) that the render stage built, and that fails to build.

What a target deploys is only known once it is built. A root that does not build is not
analysed at all, and it will not apply either: `kubectl apply -k` fails the same way in the
pipeline that deploys it. The finding sits where the tool says the build broke (the file it
names, else the kustomization itself), with the tool's own words.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem

ID = "render-failed"
SEVERITY = "error"
KINDS = ("Kustomization",)
SUMMARY = "A kustomization root or chart fails to render, so what it deploys was not analysed."
WHY = (
    "A target that does not build deploys nothing the review could see: none of its resources "
    "were checked, and `kubectl apply -k` (or the GitOps controller) fails on it the same way."
)
FIX = (
    "Fix what the message names (a missing file, a resource that is not in the folder, invalid "
    "YAML), and check with `kubectl kustomize <folder>`. Remote bases, Helm charts inside a "
    "kustomization and plugins are not built for safety: those targets are listed as skipped, "
    "not reported here."
)
FAIL = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deployment.yaml
- missing.yaml
"""
PASS = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deployment.yaml
"""
RENDERED = True
"""The examples are kustomizations: tests render them instead of reading them as manifests."""
OPTIONS: dict[str, Any] = {}


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    for failure in ctx.render_failures:
        resource = failure.resource()
        yield Problem(
            resource,
            (),
            f"{resource.kind} {resource.name} does not build: {failure.message}",
            identity=("render",),
        )
