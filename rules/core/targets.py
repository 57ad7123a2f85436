"""What one revision deploys, as the render stage hands it to the rules.

The render stage (the `render` package) turns a repository snapshot into targets: kustomization
roots it built, plain files, and what it could not build. It runs tools, so it lives outside
`rules`; what it hands over is plain data: files still to load as plain manifests, resources it
rendered (each with its target and an `Origin` that maps key paths back to the file and line a
person edits), render failures (the `render-failed` rule reports them), skipped targets and
notes. `rules.core.engine.analyse` takes either this or plain files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rules.core.document import KeyPath
from rules.core.loader import SourceFile
from rules.core.model import Origin, Resource, Skipped

RENDER_KIND = "Kustomization"
RENDER_API = "kustomize.config.k8s.io/v1beta1"
CHART_KIND = "HelmChart"
CHART_API = "v2"
"""A Helm chart as a render-failed finding names it (the `apiVersion` of a Chart.yaml)."""


@dataclass(frozen=True, slots=True)
class FixedOrigin(Origin):
    """Every key path of the resource maps to one place (a render failure's)."""

    path: str
    line: int = 1
    column: int = 1

    def locate(self, path: KeyPath) -> tuple[str, int, int]:
        return (self.path, self.line, self.column)


@dataclass(frozen=True, slots=True)
class RenderFailure:
    """A target the tool was asked to render and that failed, where the tool says it failed."""

    target: str
    path: str
    line: int
    message: str
    kind: str = RENDER_KIND
    """What the target is: a `Kustomization` root, or a Helm chart (`HelmChart`)."""
    api_version: str = RENDER_API

    def resource(self) -> Resource:
        """The target itself, as the resource a `render-failed` finding is about."""
        return Resource(
            self.api_version,
            self.kind,
            self.target or ".",
            None,
            {},
            self.path,
            target=self.target,
            origin=FixedOrigin(self.path, self.line),
        )


@dataclass(slots=True)
class Revision:
    """One revision after rendering: plain files, rendered resources, and what went wrong."""

    plain: list[SourceFile] = field(default_factory=list)
    rendered: list[Resource] = field(default_factory=list)
    failures: list[RenderFailure] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    """The names of the targets rendered (for the notes: what the run saw)."""
    build_keys: list[str] = field(default_factory=list)
    """The content key of each build (its inputs and the tool): what `rendered` depends on."""
    rendered_folders: set[str] = field(default_factory=set)
    """The folders of the snapshot that hold a kustomization file or a Chart.yaml (read or not):
    an Argo CD Application or a Flux Kustomization deploying one renders it, so it is not a
    plain folder (`rules.core.gitops`)."""
