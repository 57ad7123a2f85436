"""What Argo CD and Flux deploy from this repository: folders and charts, with their namespace.

- Argo CD `Application` (argoproj.io): each `spec.source` / `spec.sources[]` with a `path` in
  this repository. A path holding a chart renders it with `helm.valueFiles` (relative to the
  chart; `$<ref>/x.yaml` names a file from the source with that `ref`, this repository), then
  `helm.values` (a YAML string), then `helm.valuesObject`, then `helm.parameters` (as `--set`),
  which is Argo CD's order of precedence; the release is `helm.releaseName`, else the
  Application's name; the namespace is `destination.namespace`. Sources with `chart:` come from
  a Helm repository and are not fetched.
- `ApplicationSet` with list generators: one Application per element, the template's
  `{{key}}` / `{{.key}}` placeholders filled from the element.
- Flux `Kustomization` (kustomize.toolkit.fluxcd.io): `spec.path` in this repository, namespace
  `spec.targetNamespace`.

Which folders Applications and Flux Kustomizations deploy, and how (Argo CD's directory
settings, Flux's generated kustomization), is read by `rules.core.gitops`, shared with the rules'
placement of plain folders; this module adds what only rendering needs (values sets).
- Flux `HelmRelease` (helm.toolkit.fluxcd.io) whose `spec.chart.spec.chart` is a path in this
  repository: `valuesFrom` (ConfigMaps held in the repository, as manifests or as a
  kustomization `configMapGenerator` beside the HelmRelease), then `spec.values`; the release
  is `spec.releaseName`, else `[<targetNamespace>-]<name>` (Flux's default); the namespace is
  `spec.targetNamespace`, else the HelmRelease's own.

Facts from the Argo CD (v2.13+) and Flux (helm-controller v1, kustomize-controller v1) API
references. Repositories are not compared by URL: a path that exists here is taken to be here.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from render.charts import set_parameter, values_file_layer
from render.helm_sourcemap import ValuesLayer
from rules.core.document import Document, KeyPath
from rules.core.gitops import (
    ARGO_GROUP,
    FolderSource,
    application_sources,
    applications,
    folder_sources,
)
from rules.core.gitops import as_map as _map
from rules.core.gitops import as_seq as _seq
from rules.core.gitops import as_str as _str
from rules.core.gitops import repo_path as _repo_path
from rules.core.model import Resource

HELM_RELEASE_GROUP = "helm.toolkit.fluxcd.io"


@dataclass(slots=True)
class ChartUse:
    """A chart in this repository deployed by an Application or a HelmRelease."""

    chart: str
    label: str
    release: str
    namespace: str | None
    layers: list[ValuesLayer] = field(default_factory=list)
    problems: list[tuple[str, int, str]] = field(default_factory=list)


def _group(resource: Resource) -> str:
    return resource.api_version.rpartition("/")[0]


def uses(
    resources: list[Resource], files: Mapping[str, bytes], charts: set[str]
) -> tuple[list[ChartUse], list[FolderSource]]:
    """Every chart and folder of this repository that GitOps resources deploy."""
    chart_uses: list[ChartUse] = []
    for resource in resources:
        group = _group(resource)
        if group == ARGO_GROUP and resource.kind in ("Application", "ApplicationSet"):
            for body, at in applications(resource):
                chart_uses.extend(_application(resource, body, at, files, charts))
        elif group == HELM_RELEASE_GROUP and resource.kind == "HelmRelease":
            use = _helm_release(resource, resources, files, charts)
            if use is not None:
                chart_uses.append(use)
    folders = {posixpath.dirname(p) for p in files}
    folder_uses = [
        s for s in folder_sources(resources) if s.path not in charts and _is_folder(s.path, folders)
    ]
    return chart_uses, folder_uses


def _application(
    resource: Resource,
    body: dict[str, Any],
    at: KeyPath,
    files: Mapping[str, bytes],
    charts: set[str],
) -> Iterator[ChartUse]:
    spec = _map(body.get("spec"))
    name = str(_map(body.get("metadata")).get("name") or resource.name)
    namespace = _str(_map(spec.get("destination")).get("namespace"))
    sources = list(application_sources(body, at))
    refs = {str(s["ref"]): "" for s, _ in sources if isinstance(s.get("ref"), str)}
    for source, key in sources:
        if source.get("chart"):
            continue  # from a Helm repository: not fetched
        path = _repo_path(source.get("path"))
        if path is not None and path in charts:
            label = f"Application {name}"
            yield _argo_chart(resource, source, key, path, name, namespace, files, refs, label)


def _argo_chart(
    resource: Resource,
    source: dict[str, Any],
    key: KeyPath,
    chart: str,
    name: str,
    namespace: str | None,
    files: Mapping[str, bytes],
    refs: dict[str, str],
    label: str,
) -> ChartUse:
    helm = _map(source.get("helm"))
    use = ChartUse(chart, label, str(helm.get("releaseName") or name), namespace)
    for written in _seq(helm.get("valueFiles")):
        if not isinstance(written, str):
            continue
        ref, _, rest = written.partition("/")
        if ref.startswith("$") and ref[1:] in refs:
            path = posixpath.normpath(rest)
        else:
            path = posixpath.normpath(posixpath.join(chart, written))
        layer = values_file_layer(path, files.get(path))
        if isinstance(layer, ValuesLayer):
            use.layers.append(layer)
        elif not helm.get("ignoreMissingValueFiles") or path in files:
            use.problems.append(layer)
    if isinstance(helm.get("values"), str):
        inline = _embedded(helm["values"])
        if inline is not None:
            # A YAML string: its keys have no line of their own; point at the `values:` key.
            use.layers.append(_fixed_layer(resource, inline, (*key, "helm", "values")))
    if isinstance(helm.get("valuesObject"), dict):
        use.layers.append(
            ValuesLayer(
                resource.path,
                helm["valuesObject"],
                resource.document,
                _prefix(resource, (*key, "helm", "valuesObject")),
            )
        )
    parameters: dict[str, Any] = {}
    for parameter in _seq(helm.get("parameters")):
        if isinstance(parameter, dict) and isinstance(parameter.get("name"), str):
            set_parameter(
                parameters,
                parameter["name"],
                parameter.get("value", ""),
                bool(parameter.get("forceString")),
            )
    if parameters:
        use.layers.append(_fixed_layer(resource, parameters, (*key, "helm", "parameters")))
    return use


def _helm_release(
    resource: Resource, resources: list[Resource], files: Mapping[str, bytes], charts: set[str]
) -> ChartUse | None:
    spec = resource.spec
    chart_spec = _map(_map(spec.get("chart")).get("spec"))
    if _map(chart_spec.get("sourceRef")).get("kind") not in ("GitRepository", "Bucket", None):
        return None
    path = _repo_path(chart_spec.get("chart"))
    if path is None or path not in charts:
        return None
    target_namespace = _str(spec.get("targetNamespace"))
    release = _str(spec.get("releaseName")) or (
        f"{target_namespace}-{resource.name}" if target_namespace else resource.name
    )
    use = ChartUse(
        path, f"HelmRelease {resource.name}", release, target_namespace or resource.namespace
    )
    for entry in _seq(spec.get("valuesFrom")):
        if not isinstance(entry, dict) or entry.get("kind") != "ConfigMap":
            continue
        layer = _config_map_values(resource, entry, resources, files)
        if isinstance(layer, ValuesLayer):
            use.layers.append(layer)
        elif not entry.get("optional"):
            use.problems.append(layer)
    if isinstance(spec.get("values"), dict):
        use.layers.append(
            ValuesLayer(
                resource.path,
                spec["values"],
                resource.document,
                _prefix(resource, ("spec", "values")),
            )
        )
    return use


def _config_map_values(
    release: Resource, entry: dict[str, Any], resources: list[Resource], files: Mapping[str, bytes]
) -> ValuesLayer | tuple[str, int, str]:
    """The values a HelmRelease takes from a ConfigMap held in this repository."""
    name, key = str(entry.get("name") or ""), str(entry.get("valuesKey") or "values.yaml")
    for resource in resources:
        if resource.kind == "ConfigMap" and resource.name == name:
            data = _map(resource.body.get("data"))
            if isinstance(data.get(key), str):
                body = _embedded(data[key])
                if body is not None:
                    return _wrap(entry, _fixed_layer(resource, body, ("data", key)))
    folder = posixpath.dirname(release.path)
    for directory in _upwards(folder):
        for file in ("kustomization.yaml", "kustomization.yml"):
            path = posixpath.join(directory, file)
            generated = _generated_file(files.get(path), directory, name, key)
            if generated is not None:
                layer = values_file_layer(generated, files.get(generated))
                return _wrap(entry, layer) if isinstance(layer, ValuesLayer) else layer
    return (
        release.path,
        release.position(("spec", "valuesFrom"))[0],
        f"HelmRelease {release.name} takes values from ConfigMap {name}, which is not in the "
        "repository; rendered without them",
    )


def _generated_file(data: bytes | None, folder: str, name: str, key: str) -> str | None:
    """The file a kustomization's `configMapGenerator` puts under `key` of ConfigMap `name`."""
    if data is None:
        return None
    try:
        body = yaml.load(data, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return None
    for generator in _seq(_map(body).get("configMapGenerator")):
        if not isinstance(generator, dict) or generator.get("name") != name:
            continue
        for written in _seq(generator.get("files")):
            if not isinstance(written, str):
                continue
            file_key, sep, file_path = written.partition("=")
            if not sep:
                file_key, file_path = posixpath.basename(written), written
            if file_key == key:
                return posixpath.normpath(posixpath.join(folder, file_path))
    return None


def _wrap(entry: dict[str, Any], layer: ValuesLayer) -> ValuesLayer:
    """`valuesFrom.targetPath`: the whole value goes under that path instead of the top."""
    target = entry.get("targetPath")
    if not isinstance(target, str) or not target:
        return layer
    nested: dict[str, Any] = {}
    set_parameter(nested, target, layer.body, True)
    return ValuesLayer(layer.path, nested, None)


def _fixed_layer(resource: Resource, body: dict[str, Any], key: KeyPath) -> ValuesLayer:
    """Values without lines of their own (a YAML string, `--set` parameters): every key they
    set points at `key` of `resource`."""
    line, column = resource.position(key)
    return ValuesLayer(resource.path, body, _Fixed(resource.path, line, column))


class _Fixed(Document):
    """A document whose every key is at one place."""

    def __init__(self, path: str, line: int, column: int) -> None:
        super().__init__(path, "", 0, {})
        self._place = (line, column)

    def position(self, path: KeyPath) -> tuple[int, int]:
        return self._place


def _prefix(resource: Resource, key: KeyPath) -> KeyPath:
    return tuple(resource.prefix) + key


def _embedded(text: str) -> dict[str, Any] | None:
    try:
        value = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return None
    if value is None:
        return {}
    return value if isinstance(value, dict) else None


def _upwards(folder: str) -> Iterator[str]:
    while True:
        yield folder
        if not folder:
            return
        folder = posixpath.dirname(folder)


def _is_folder(path: str, folders: set[str]) -> bool:
    return path in folders or any(f.startswith(path + "/") for f in folders)
