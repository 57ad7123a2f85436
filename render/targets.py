"""The render stage's entry point: a snapshot and the config in, a `Revision` out.

`render_revision` finds the kustomization roots (`render.kustomize`), builds each one whose
inputs it has not built before (the build cache is keyed by the content of every input, so an
unchanged root costs a dictionary lookup, at base and at head alike), turns the output into
resources with their target and origin, and hands every file no root reads to the rules as a
plain file. Roots that cannot be built become `render-failed` findings or skipped targets with a
reason; nothing is silently dropped. A root that an Argo CD Application or a Flux Kustomization
deploys takes its destination namespace (`gitops_namespaces`; Flux's replaces the namespaces the
build writes). Plain folders they deploy are placed where the rules load plain files
(`rules.core.gitops`), which the `rendered_folders` of the revision tell apart from rendered ones.

Helm charts are the second kind of target (`charts=`, see `render.helm_targets`): each chart once
per values set, its resources with a `TemplateMap` origin, its failed renders `render-failed`,
its templates taken out of the plain files.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from render import helm_targets
from render.build import INSTALL_HINT, Builder, KustomizeTool
from render.helm_targets import ChartEngine
from render.kustomize import Root, Snapshot, consumed, find_kustomizations, plan_roots
from render.native import NativeBuilder
from render.sourcemap import KustomizeOrigin, ParsedPatch
from rules.core.config import Config
from rules.core.document import Document
from rules.core.gitops import FolderSource, folder_sources, rendered_folders
from rules.core.loader import (
    INSTALLER_KINDS,
    ParseCache,
    ParsedFile,
    Placement,
    SourceFile,
    load,
    parse_file,
    resources_of,
)
from rules.core.model import Resource, Skipped
from rules.core.targets import RenderFailure, Revision

ORIGIN = "config.kubernetes.io/origin"
CHART_FILE = "Chart.yaml"
_GITOPS_KINDS = {
    group: kinds for group, kinds in INSTALLER_KINDS.items() if group != "sailoperator.io"
}
BuildCache = MutableMapping[str, tuple[str | None, str | None]]
"""Build key (the content of a root's inputs and the tool's version) -> (output, error)."""
Reader = Callable[[list[SourceFile]], None]
"""Fills in `data` (and `key`, if missing) of the files given, which the snapshot listed unread."""


@dataclass(slots=True)
class RenderStats:
    """What a render did: for benchmarks and logs."""

    roots: int = 0
    built: int = 0
    cached: int = 0


def render_revision(
    files: Iterable[SourceFile],
    config: Config,
    *,
    builder: Builder | None = None,
    read: Reader | None = None,
    cache: BuildCache | None = None,
    parse_cache: ParseCache | None = None,
    stats: RenderStats | None = None,
    within: Callable[[str], bool] | None = None,
    charts: ChartEngine | None = None,
) -> Revision:
    """What the snapshot `files` deploys. `files` lists every file of the revision (not only
    YAML: a build may read `.json` patches or generator files); those whose `data` is empty are
    read with `read` only when a build needs them. With `within`, only the plain files and charts
    whose path it accepts, and the roots that lie or read a file there, are analysed (`footgun
    check overlays/prod`); every file of the snapshot may still be read by a build. With
    `charts`, Helm charts are a second kind of target (`render.helm_targets`), once per values
    set."""
    files = list(files)
    revision = _render_kustomize(
        files,
        config,
        builder=builder,
        read=read,
        cache=cache,
        parse_cache=parse_cache,
        stats=stats,
        within=within,
    )
    if charts is not None:
        add_charts(
            revision, files, config, charts, read=read, parse_cache=parse_cache, within=within
        )
    revision.rendered_folders |= rendered_folders(f.path for f in files)
    return revision


def add_charts(
    revision: Revision,
    files: list[SourceFile],
    config: Config,
    charts: ChartEngine,
    *,
    read: Reader | None = None,
    parse_cache: ParseCache | None = None,
    within: Callable[[str], bool] | None = None,
) -> None:
    """The chart targets of the snapshot `files` added to `revision`, and the chart templates
    taken out of its plain files (they are rendered, not read as manifests). Chart files listed
    unread are read with `read`."""
    inside = within or (lambda path: True)
    revision.rendered_folders |= {
        posixpath.dirname(f.path) for f in files if f.path.rpartition("/")[2] == CHART_FILE
    }
    folders = tuple(
        f.path[: -len(CHART_FILE)]
        for f in files
        if f.path.rpartition("/")[2] == CHART_FILE and inside(f.path)
    )
    if not folders:
        return
    _fill([f for f in files if f.path.startswith(folders) and not f.data], read)
    used = [f for f in files if inside(f.path) or f.path.startswith(folders)]
    rendered, templates = helm_targets.render_revision(
        used, config, charts.engine, charts.cache, parse_cache
    )
    if rendered is None:
        return
    revision.plain = [f for f in revision.plain if f.path not in templates]
    revision.rendered.extend(rendered.rendered)
    revision.failures.extend(rendered.failures)
    revision.skipped.extend(rendered.skipped)
    revision.targets.extend(rendered.targets)
    revision.build_keys.extend(rendered.build_keys)


def _render_kustomize(
    files: list[SourceFile],
    config: Config,
    *,
    builder: Builder | None,
    read: Reader | None,
    cache: BuildCache | None,
    parse_cache: ParseCache | None,
    stats: RenderStats | None,
    within: Callable[[str], bool] | None,
) -> Revision:
    """The Kustomize targets of the snapshot `files`, and its plain files."""
    by_path = {f.path: f for f in files}
    inside = within or (lambda path: True)
    yaml_files = [f for f in by_path.values() if config.wants(f.path) and inside(f.path)]
    if config.render.kustomize == "off":
        return Revision(plain=yaml_files)
    kustomization_files = [f for f in by_path.values() if _is_kustomization(f.path)]
    if not kustomization_files:
        return Revision(plain=yaml_files)
    _fill([f for f in kustomization_files if not f.data], read)
    snapshot = Snapshot({p: f.data for p, f in by_path.items()})
    kustomizations = find_kustomizations(
        [f.path for f in kustomization_files], {f.path: f.data for f in kustomization_files}
    )
    every_root = plan_roots(snapshot, kustomizations)
    reads = consumed(every_root)
    # A root is analysed when it lies under the named paths, or reads a file there
    # (`footgun check base/` shows the base as the overlays that use it deploy it).
    roots = [r for r in every_root if any(inside(p) for p in (r.kustomization.path, *r.inputs))]
    revision = Revision(plain=[f for f in yaml_files if f.path not in reads])
    builder = builder or NativeBuilder(KustomizeTool())
    stats = stats if stats is not None else RenderStats()
    stats.roots += len(roots)
    buildable = []
    for root in roots:
        if root.problem is not None:
            if root.problem.skip:
                revision.skipped.append(
                    Skipped(root.name, f"Kustomize target: {root.problem.message}")
                )
            else:
                revision.failures.append(
                    RenderFailure(
                        root.name, root.problem.path, root.problem.line, root.problem.message
                    )
                )
        else:
            buildable.append(root)
    if not buildable:
        return revision
    if builder.version is None:
        for root in buildable:
            revision.skipped.append(
                Skipped(
                    root.name, f"Kustomize target: no kubectl or kustomize on PATH; {INSTALL_HINT}"
                )
            )
        return revision
    keys = {root.folder: _build_key(root, by_path, builder.version, read) for root in buildable}
    cache = cache if cache is not None else {}
    todo = [root for root in buildable if keys[root.folder] not in cache]
    stats.cached += len(buildable) - len(todo)
    stats.built += len(todo)
    if todo:
        _fill([by_path[p] for root in todo for p in root.inputs if not by_path[p].data], read)
        with ThreadPoolExecutor(max_workers=max(1, min(len(todo), _cores()))) as pool:
            results = pool.map(
                lambda root: builder.build(root.folder, {p: by_path[p].data for p in root.inputs}),
                todo,
            )
            for root, result in zip(todo, results, strict=True):
                cache[keys[root.folder]] = (result.output, result.error)
    namespaces: dict[str, list[Deployment]] | None = None
    for root in buildable:
        output, error = cache[keys[root.folder]]
        revision.build_keys.append(keys[root.folder])
        if error is not None or output is None:
            revision.targets.append(root.name)
            path, line = _where(error or "", root, by_path)
            revision.failures.append(
                RenderFailure(root.name, path, line, error or "the build failed")
            )
            continue
        if namespaces is None:
            namespaces = gitops_namespaces(yaml_files, by_path, config, parse_cache)
        placements = _placements(root, namespaces.get(root.folder), config)
        revision.targets.extend(str(p.target) for p in placements)
        _add_resources(
            revision, root, output, keys[root.folder], by_path, parse_cache, read, placements
        )
    return revision


def _placements(root: Root, deployed: list[Deployment] | None, config: Config) -> list[Placement]:
    """Where a root's resources are placed: its deployer's namespace, else the config's; a root
    deployed into several namespaces is one target per namespace (the same build, applied by
    each deployer into its own)."""
    if not deployed:
        return [Placement(config, root.name, config.namespace_for(root.kustomization.path))]
    if len(deployed) == 1:
        return [Placement(config, root.name, deployed[0].namespace, deployed[0].override)]
    return [Placement(config, d.target, d.namespace, d.override) for d in deployed]


def _is_kustomization(path: str) -> bool:
    return path.rpartition("/")[2] in ("kustomization.yaml", "kustomization.yml", "Kustomization")


def _fill(files: list[SourceFile], read: Reader | None) -> None:
    if files and read is not None:
        read(files)
    for source in files:
        if source.key is None and source.data:
            data = source.data.encode() if isinstance(source.data, str) else source.data
            source.key = hashlib.sha256(data).hexdigest()


def _build_key(
    root: Root, by_path: Mapping[str, SourceFile], version: str, read: Reader | None
) -> str:
    _fill([by_path[p] for p in root.inputs if by_path[p].key is None], read)
    digest = hashlib.sha256(f"{version}\0{root.folder}".encode())
    for path in root.inputs:
        digest.update(f"\0{path}\0{by_path[path].key}".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _where(error: str, root: Root, by_path: Mapping[str, SourceFile]) -> tuple[str, int]:
    """The file a tool's error names (the first input mentioned), else the root's kustomization."""
    for path in sorted(root.inputs, key=len, reverse=True):
        relative = posixpath.relpath(path, root.folder or ".")
        if path in error or f"'{relative}'" in error:
            return path, 1
    return root.kustomization.path, 1


def _add_resources(
    revision: Revision,
    root: Root,
    output: str,
    key: str,
    by_path: Mapping[str, SourceFile],
    parse_cache: ParseCache | None,
    read: Reader | None,
    placements: list[Placement],
) -> None:
    parsed = _parsed(f"build-{key}", root.kustomization.path, output, parse_cache)
    if parsed.skipped:
        revision.failures.append(
            RenderFailure(
                root.name,
                root.kustomization.path,
                1,
                f"its output cannot be read: {parsed.skipped}",
            )
        )
        return
    patches = [ParsedPatch.of(p) for p in reversed(root.patches)]
    bases: dict[str, list[Document]] = {}
    for document, placement in ((d, p) for p in placements for d in parsed.documents):
        for resource in resources_of(document, placement):
            source = _origin_path(resource, root)
            if source is None or source not in by_path:
                source = root.kustomization.path
            resource.path = source
            if source not in bases:
                bases[source] = _documents(by_path[source], parse_cache, read)
            original = _base_document(bases[source], resource)
            original_name = _name(original.body) if original is not None else None
            resource.origin = KustomizeOrigin(
                resource.body,
                original,
                source,
                [p for p in patches if p.targets(resource.kind, resource.name, original_name)],
            )
            revision.rendered.append(resource)


@dataclass(frozen=True, slots=True)
class Deployment:
    """A kustomization root as an Argo CD Application or a Flux Kustomization applies it."""

    target: str
    """The target's name when a root has several deployments: `overlays/prod (Application a)`."""
    namespace: str
    override: bool
    """Flux: the namespace replaces those the build writes (it is Kustomize's `namespace:`)."""


def gitops_namespaces(
    files: list[SourceFile],
    by_path: Mapping[str, SourceFile],
    config: Config,
    parse_cache: ParseCache | None,
) -> dict[str, list[Deployment]]:
    """How each kustomization root is deployed by the repository's Argo CD Applications and
    Flux Kustomizations (`destination.namespace`, `targetNamespace`): one `Deployment` per
    namespace it goes to. A Flux Kustomization on a folder without a kustomization file deploys
    the first kustomization folders below it too (Flux generates one that includes them, see
    `rules.core.gitops`). A root two deployers put in two namespaces is two targets, as Argo CD
    applies the same build once per Application; one deployed without a namespace (or also
    without one) is left to the config."""
    resources, _ = load(files, Placement(config), parse_cache)
    if not any(r.kind in _GITOPS_KINDS.get(r.group, ()) for r in resources):
        return {}
    kustomizations = {posixpath.dirname(p) for p in by_path if _is_kustomization(p)}
    found: dict[str, list[FolderSource]] = {}
    for source in folder_sources(resources):
        for folder in _roots_of(source, kustomizations):
            found.setdefault(folder, []).append(source)
    namespaces: dict[str, list[Deployment]] = {}
    for folder, sources in found.items():
        if any(s.namespace is None for s in sources):
            continue
        by_namespace: dict[str, list[FolderSource]] = {}
        for source in sources:
            assert source.namespace is not None
            by_namespace.setdefault(source.namespace, []).append(source)
        namespaces[folder] = [
            Deployment(
                f"{folder or '.'} ({', '.join(s.label for s in same)})",
                name,
                all(s.flux for s in same),
            )
            for name, same in sorted(by_namespace.items())
        ]
    return namespaces


def _roots_of(source: FolderSource, kustomizations: set[str]) -> list[str]:
    """The kustomization folders a GitOps source builds: its own folder, or for Flux on a
    plain folder the first kustomization folder down each branch below it."""
    if source.path in kustomizations:
        return [source.path]
    if not source.flux:
        return []
    top = source.path
    roots = []
    for folder in kustomizations:
        if top and not folder.startswith(top + "/"):
            continue
        parent = posixpath.dirname(folder)
        while parent != top and parent not in kustomizations:
            parent = posixpath.dirname(parent)
        if parent == top:
            roots.append(folder)
    return sorted(roots)


def _parsed(key: str, path: str, text: str, cache: ParseCache | None) -> ParsedFile:
    if cache is not None:
        found = cache.get(key)
        if found is not None:
            return found
    parsed = parse_file(path, text)
    if cache is not None:
        cache[key] = parsed
    return parsed


def _origin_path(resource: Resource, root: Root) -> str | None:
    """The repository path Kustomize's origin annotation names (the annotation is removed:
    the tool added it, the repository did not)."""
    metadata = resource.body.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict) or ORIGIN not in annotations:
        return None
    annotations = dict(annotations)
    written = annotations.pop(ORIGIN)
    assert isinstance(metadata, dict)
    metadata = dict(metadata)
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    resource.body = {**resource.body, "metadata": metadata}
    origin = _origin_fields(written) if isinstance(written, str) else {}
    path = origin.get("path") or origin.get("configuredIn")
    if not isinstance(path, str) or origin.get("repo"):
        return None
    joined = (
        posixpath.normpath(posixpath.join(root.folder, path))
        if root.folder
        else posixpath.normpath(path)
    )
    return None if joined.startswith("..") else joined


def _origin_fields(written: str) -> dict[str, str]:
    """The top-level `key: value` lines of Kustomize's origin annotation (`path`, `repo`,
    `ref`, `configuredIn`): read by hand, since a YAML parse per resource costs more than the
    rest of the render of a cached build."""
    fields = {}
    for line in written.splitlines():
        if line[:1] in (" ", "\t", "-", "#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip().strip("'\"")
    return fields


def _documents(source: SourceFile, cache: ParseCache | None, read: Reader | None) -> list[Document]:
    key = f"source-{source.key}" if source.key else None
    if cache is not None and key is not None and key in cache:
        return cache[key].documents
    if not source.data:
        _fill([source], read)
    if not source.data:
        return []
    key = f"source-{source.key}" if source.key else None
    parsed = parse_file(source.path, source.data)
    if cache is not None and key is not None:
        cache[key] = parsed
    return parsed.documents


def _name(body: Any) -> str | None:
    metadata = body.get("metadata") if isinstance(body, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def _base_document(documents: list[Document], resource: Resource) -> Document | None:
    """The document of the base file that `resource` was built from: same kind, and the same
    name or one that a name prefix or suffix turned into the built name."""
    same_kind = [
        d for d in documents if isinstance(d.body, dict) and d.body.get("kind") == resource.kind
    ]
    for document in same_kind:
        if _name(document.body) == resource.name:
            return document
    affixed = [d for d in same_kind if (n := _name(d.body)) and n in resource.name]
    if affixed:
        return max(affixed, key=lambda d: len(_name(d.body) or ""))
    return same_kind[0] if len(same_kind) == 1 else None
