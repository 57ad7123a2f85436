"""What Argo CD and Flux apply from a folder of this repository, and in which namespace.

A folder that an Argo CD `Application` (or an `ApplicationSet` list element) or a Flux
`Kustomization` deploys is a target: its resources are applied together, to the Application's
`spec.destination.namespace` or the Kustomization's `spec.targetNamespace`. Kustomize roots and
Helm charts get that namespace in the render stage (`render.targets`, `render.gitops`); a
*plain* folder (neither a kustomization file nor a `Chart.yaml` in it) is applied as it is, so
its files are placed here, where the rules receive plain files (`place_deployed`), whether or
not the render stage ran.

Argo CD (repo server `findManifests` / `getPotentiallyValidManifestFile` and the "Directory"
user guide, v2.13 to v3.3):
- The source type is decided by the source folder alone: a `Chart.yaml` there makes it Helm, a
  `kustomization.yaml` / `.yml` / `Kustomization` there Kustomize (`discovery.AppType` looks at
  "." only); else it is a directory source. Sources with `chart:` (a Helm repository) or
  `plugin:` (a config management plugin) are not folders of this repository.
- A directory source applies the `.yaml`, `.yml` and `.json` files of the folder itself;
  subfolders only with `directory.recurse: true`.
- `directory.exclude`, then `directory.include`, are matched against the path relative to the
  source folder with gobwas/glob compiled *without* separators: `*` also matches `/` (so
  `*.yaml` matches `sub/x.yaml` once recursing; argoproj/argo-cd#7319 asks for a globstar),
  `?` any one character, `[abc]`, `[a-z]`, `[!...]`, `{a,b}` alternatives, `\\` escapes. A
  pattern that does not compile matches nothing (so an invalid `include` keeps nothing).
- A file containing `+argocd:skip-file-rendering` anywhere is ignored (documented on the 3.x
  "Directory" page; earlier repo servers apply the file).
- Namespaces are those of `kubectl apply -n <destination.namespace>`: a resource that writes
  its `metadata.namespace` keeps it, a namespace-less namespaced resource takes the
  destination's, cluster-scoped kinds have none.

Flux kustomize-controller v1 (the `Kustomization` API reference, sections "Path", "Target
namespace" and "Generating a kustomization.yaml file"; fluxcd/pkg `kustomize.Generator`):
- A `spec.path` without a kustomization file gets one generated over the folder *recursively*:
  every `.yaml` / `.yml` file, except below a subfolder that holds a kustomization file (that
  subfolder is included as a Kustomize base instead, and not descended into).
- `spec.targetNamespace` becomes the kustomization's `namespace:`, which Kustomize sets on every
  namespaced resource, *overriding* a `metadata.namespace` the file writes.
- Only `sourceRef` kinds `GitRepository` and `Bucket` (or none) can be this repository; an
  `OCIRepository`'s path is inside an artifact built elsewhere.

Repositories are not compared by URL: a path that exists here is taken to be here.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rules.core.config import Config
from rules.core.document import KeyPath
from rules.core.loader import Placement, resources_of
from rules.core.model import Resource

ARGO_GROUP = "argoproj.io"
FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CHART_FILE = "Chart.yaml"
SKIP_MARKER = "+argocd:skip-file-rendering"
_THIS_REPOSITORY = ("GitRepository", "Bucket", None)
_PLACEHOLDER = re.compile(r"\{\{\s*\.?([A-Za-z_][\w.-]*)\s*\}\}")


@dataclass(frozen=True, slots=True)
class FolderSource:
    """A folder of this repository that an Argo CD Application or a Flux Kustomization
    deploys, with the namespace it is applied to and which of its files it applies."""

    path: str
    """The folder, relative to the repository root ('' for the root itself)."""
    label: str
    """What deploys it: `Application bookinfo`, `Kustomization apps`."""
    namespace: str | None
    flux: bool = False
    """Flux: the namespace overrides the files' own, and the folder is read recursively up to
    the subfolders that hold a kustomization file."""
    recurse: bool = False
    include: str | None = None
    exclude: str | None = None

    @property
    def target(self) -> str:
        """The target's name, as findings carry it: `apps/bookinfo (Application bookinfo)`."""
        return f"{self.path or '.'} ({self.label})"

    def applies(self, path: str, rendered: Container[str], text: bytes | str = b"") -> bool:
        """Whether deploying this folder as plain manifests applies file `path` (of content
        `text`). `rendered` holds the folders with a kustomization file or a Chart.yaml: a
        source there is rendered, not applied as plain files (see the module docstring)."""
        if self.path in rendered:
            return False
        if self.path:
            if not path.startswith(self.path + "/"):
                return False
            relative = path[len(self.path) + 1 :]
        else:
            relative = path
        if not relative.endswith((".yaml", ".yml", ".json")):
            return False
        if self.flux:
            if relative.endswith(".json"):
                return False
            folder = posixpath.dirname(path)
            while folder != self.path:
                if folder in rendered:
                    return False
                folder = posixpath.dirname(folder)
            return True
        if not self.recurse and "/" in relative:
            return False
        if self.exclude and _glob_matches(self.exclude, relative):
            return False
        if self.include and not _glob_matches(self.include, relative):
            return False
        if isinstance(text, str):
            return SKIP_MARKER not in text
        return SKIP_MARKER.encode() not in text


def folder_sources(resources: Iterable[Resource]) -> list[FolderSource]:
    """Every folder of this repository that the GitOps resources among `resources` deploy, in
    order, each once (a chart rendered with two values sets may hold the same Application)."""
    found: list[FolderSource] = []
    for resource in resources:
        if resource.group == ARGO_GROUP and resource.kind in ("Application", "ApplicationSet"):
            for body, at in applications(resource):
                spec = as_map(body.get("spec"))
                name = str(as_map(body.get("metadata")).get("name") or resource.name)
                namespace = as_str(as_map(spec.get("destination")).get("namespace"))
                for source, _ in application_sources(body, at):
                    path = repo_path(source.get("path"))
                    if path is None or source.get("chart") or source.get("plugin"):
                        continue
                    directory = as_map(source.get("directory"))
                    found.append(
                        FolderSource(
                            path,
                            f"Application {name}",
                            namespace,
                            recurse=directory.get("recurse") is True,
                            include=as_str(directory.get("include")),
                            exclude=as_str(directory.get("exclude")),
                        )
                    )
        elif resource.group == FLUX_KUSTOMIZE_GROUP and resource.kind == "Kustomization":
            spec = resource.spec
            if as_map(spec.get("sourceRef")).get("kind") not in _THIS_REPOSITORY:
                continue
            path = repo_path(spec.get("path"))
            if path is not None:
                label = f"Kustomization {resource.name}"
                found.append(
                    FolderSource(path, label, as_str(spec.get("targetNamespace")), flux=True)
                )
    return list(dict.fromkeys(found))


def rendered_folders(paths: Iterable[str]) -> set[str]:
    """The folders among `paths` that hold a kustomization file or a Chart.yaml."""
    return {
        posixpath.dirname(p)
        for p in paths
        if posixpath.basename(p) in KUSTOMIZATION_FILES or posixpath.basename(p) == CHART_FILE
    }


def place_deployed(
    resources: list[Resource],
    sources: list[FolderSource],
    files: Mapping[str, bytes | str],
    rendered: Container[str],
    config: Config,
) -> tuple[list[Resource], list[Resource]]:
    """`resources` (loaded as plain files) split into those no folder source deploys, as they
    are, and those it does: once per source that applies their file, with that source as
    target and its namespace (`files` gives each file's content, for Argo CD's skip marker).
    A file that does not parse stays once, as a plain file: its finding is about the file."""
    if not sources:
        return resources, []
    by_folder: dict[str, list[FolderSource]] = {}
    for source in sources:
        by_folder.setdefault(source.path, []).append(source)
    by_file: dict[str, list[FolderSource]] = {}
    plain: list[Resource] = []
    deployed: list[Resource] = []
    done: set[int] = set()
    for resource in resources:
        users = by_file.get(resource.path)
        if users is None:
            text = files.get(resource.path, b"")
            users = [
                s
                for folder in _folders_above(resource.path)
                for s in by_folder.get(folder, ())
                if s.applies(resource.path, rendered, text)
            ]
            by_file[resource.path] = users
        if not users or resource.document is None or not resource.document.body:
            plain.append(resource)
            continue
        if id(resource.document) in done:
            continue
        done.add(id(resource.document))
        for source in users:
            placement = Placement(config, source.target, source.namespace, override=source.flux)
            for placed in resources_of(resource.document, placement):
                placed.site = source.target
                deployed.append(placed)
    return plain, deployed


def _folders_above(path: str) -> Iterator[str]:
    """The folders that hold `path`, innermost first, the repository root ('') last."""
    folder = posixpath.dirname(path)
    while folder:
        yield folder
        folder = posixpath.dirname(folder)
    yield ""


def applications(resource: Resource) -> Iterator[tuple[dict[str, Any], KeyPath]]:
    """The Applications a resource defines, with the key path of each body in the resource: an
    Application itself, or one per element of an ApplicationSet's list generators."""
    if resource.kind == "Application":
        yield resource.body, ()
    elif resource.kind == "ApplicationSet":
        for body in _application_set(resource):
            yield body, ("spec", "template")


def application_sources(
    body: dict[str, Any], at: KeyPath
) -> Iterator[tuple[dict[str, Any], KeyPath]]:
    """An Application's `spec.source` and `spec.sources[]`, with their key paths."""
    spec = as_map(body.get("spec"))
    if isinstance(spec.get("source"), dict):
        yield spec["source"], (*at, "spec", "source")
    for index, source in enumerate(as_seq(spec.get("sources"))):
        if isinstance(source, dict):
            yield source, (*at, "spec", "sources", index)


def _application_set(resource: Resource) -> Iterator[dict[str, Any]]:
    spec = resource.spec
    template = spec.get("template")
    if not isinstance(template, dict):
        return
    text = json.dumps(template)
    for generator in as_seq(spec.get("generators")):
        for element in as_seq(as_map(as_map(generator).get("list")).get("elements")):
            if not isinstance(element, dict):
                continue
            flat = _flatten(element)

            def fill(match: re.Match[str], flat: dict[str, str] = flat) -> str:
                value = flat.get(match[1])
                return json.dumps(value)[1:-1] if value is not None else match[0]

            try:
                body = json.loads(_PLACEHOLDER.sub(fill, text))
            except ValueError:
                continue
            if isinstance(body, dict):
                yield body


def _flatten(element: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in element.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = "" if value is None else str(value)
    return flat


def repo_path(value: Any) -> str | None:
    """A source path as a repository path ('' for the root), None when it leaves the root."""
    if not isinstance(value, str) or not value.strip():
        return None
    path = posixpath.normpath(value.strip().lstrip("/"))
    if path.startswith(".."):
        return None
    return "" if path == "." else path


def as_map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_seq(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


_GLOBS: dict[str, re.Pattern[str] | None] = {}


def _glob_matches(pattern: str, path: str) -> bool:
    if pattern not in _GLOBS:
        if len(_GLOBS) > 1000:
            _GLOBS.clear()
        _GLOBS[pattern] = _gobwas(pattern)
    compiled = _GLOBS[pattern]
    return compiled is not None and compiled.fullmatch(path) is not None


def _gobwas(pattern: str) -> re.Pattern[str] | None:
    """A gobwas/glob pattern compiled without separators, as a regular expression; None when
    gobwas would refuse it (an unclosed `{`, `[` or escape, a malformed range)."""
    out: list[str] = []
    depth = 0
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "\\":
            if index >= len(pattern):
                return None
            out.append(re.escape(pattern[index]))
            index += 1
        elif char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            closed = _range(pattern, index)
            if closed is None:
                return None
            regex, index = closed
            out.append(regex)
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "," and depth:
            out.append("|")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        else:
            out.append(re.escape(char))
    if depth:
        return None
    try:
        return re.compile("".join(out), re.S)
    except re.error:
        return None


def _range(pattern: str, index: int) -> tuple[str, int] | None:
    """`[...]` from just after its `[`: one range `a-z` or a list of characters, either
    negated by a leading `!`; the regular expression and the index after its `]`."""
    negate = pattern.startswith("!", index)
    index += negate
    head = "[^" if negate else "["
    if index + 1 < len(pattern) and pattern[index + 1] == "-":
        if pattern[index + 3 : index + 4] != "]":
            return None
        low, high = pattern[index], pattern[index + 2]
        return f"{head}{re.escape(low)}-{re.escape(high)}]", index + 4
    chars: list[str] = []
    while index < len(pattern) and pattern[index] != "]":
        if pattern[index] == "\\":
            index += 1
            if index >= len(pattern):
                return None
        chars.append(pattern[index])
        index += 1
    if index >= len(pattern):
        return None
    if not chars:
        return "(?!)", index + 1
    return head + "".join(re.escape(c) for c in chars) + "]", index + 1
