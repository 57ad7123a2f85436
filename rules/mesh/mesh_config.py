"""Where a repository sets mesh-wide proxy defaults, read the same way whatever holds them.

istiod takes its mesh config from an IstioOperator (`spec.meshConfig`, Helm values under
`spec.values`), from the `istio` / `istio-<rev>` ConfigMap in the root namespace (a YAML string
under `data.mesh`), or from the istiod chart's Helm values (`meshConfig`, `global`) wherever the
repository gives them:

- a values file (a plain mapping with a top-level `meshConfig`);
- an Argo CD `Application` whose source installs the chart `istiod`: `helm.valuesObject`, or
  `helm.values` (a YAML string; when both are set Argo CD merges valuesObject over values, and
  valuesObject is what we read);
- a Flux `HelmRelease` of the chart `istiod`: `spec.values`;
  (an Application or HelmRelease that also takes values from files or ConfigMaps is not judged
  on its inline values alone;)
- the Sail Operator's `Istio` (sailoperator.io, v1 and v1alpha1): `spec.values`, which takes the
  istiod chart's values (`spec.values.meshConfig`, `spec.values.global`), `spec.profile`.

Rules about mesh-wide settings see one `MeshConfigSource` per place, with the key paths to point
at, so they never care which of these a repository uses. `chart_installs` lists every Istio
chart an Application or HelmRelease installs, with its version, for the upgrade rule.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from rules.core.document import KeyPath
from rules.core.loader import HELM_VALUES_KIND
from rules.core.model import UNNAMED, Resource, describe

INSTALL_GROUP = "install.istio.io"
ARGO_GROUP = "argoproj.io"
FLUX_HELM_GROUP = "helm.toolkit.fluxcd.io"
SAIL_GROUP = "sailoperator.io"
ISTIOD_CHART = "istiod"
ISTIO_CHARTS = frozenset({"base", "istiod", "gateway", "cni", "ztunnel"})
"""The charts Istio publishes (istio-release charts repository, 1.20 to 1.28)."""
MESH_CONFIG_KINDS = (
    "IstioOperator",
    "ConfigMap",
    "HelmValues",
    "Application",
    "HelmRelease",
    "Istio",
)
INJECTOR_CONFIGMAP = "istio-sidecar-injector"
_NO_PILOT_PROFILES = frozenset({"empty"})
_MAX_EMBEDDED_CHARS = 256 * 1024


@dataclass(frozen=True, slots=True)
class MeshConfigSource:
    """One place that sets the mesh config. `embedded`: MeshConfig came from a YAML string."""

    resource: Resource
    mesh: dict[str, Any]
    mesh_path: KeyPath
    values: dict[str, Any] | None
    values_path: KeyPath | None
    embedded: bool = False

    @property
    def label(self) -> str:
        """How a message names the source: `IstioOperator istio-system/control-plane`."""
        if self.resource.kind == HELM_VALUES_KIND:
            return f"Helm values file {self.resource.path}"
        return describe(self.resource)

    @property
    def installs_control_plane(self) -> bool:
        """Whether the source installs istiod (an IstioOperator, istiod Helm values and the
        like), not just configures a running one (the `istio` ConfigMap)."""
        return self.resource.kind != "ConfigMap"

    def root_namespace(self, default: str) -> str:
        """The root namespace this install gives the mesh: `meshConfig.rootNamespace`, else the
        chart's `global.istioNamespace` (both default to istio-system; the Sail Operator's
        `Istio` sets it from `spec.namespace`), else `default`."""
        sail = self.resource.spec.get("namespace") if self.resource.kind == "Istio" else None
        for value in (
            self.mesh.get("rootNamespace"),
            mapping(mapping(self.values).get("global")).get("istioNamespace"),
            sail,
        ):
            if isinstance(value, str) and value:
                return value
        return default

    @property
    def default_config(self) -> dict[str, Any]:
        return mapping(self.mesh.get("defaultConfig"))

    def global_proxy(self) -> dict[str, Any]:
        """Helm `global.proxy` values: what the injector puts into every sidecar."""
        return mapping(mapping(mapping(self.values).get("global")).get("proxy"))

    @property
    def profile(self) -> str | None:
        """The install profile: IstioOperator `spec.profile`, Helm `profile` or `global.profile`
        (the chart reads `profile` first)."""
        if self.resource.kind in ("IstioOperator", "Istio"):
            value = self.resource.spec.get("profile")
        else:
            values = mapping(self.values)
            value = values.get("profile") or mapping(values.get("global")).get("profile")
        return value if isinstance(value, str) else None

    @property
    def ambient_only(self) -> bool:
        """An install with the `ambient` profile: sidecars only where a namespace asks for them."""
        return self.profile == "ambient"

    @property
    def layer_key(self) -> tuple[Any, ...]:
        """Sources with the same key are layers of one configuration: values files given
        together (`-f values.yaml -f values-prod.yaml`), IstioOperator overlays of one name."""
        resource = self.resource
        if resource.kind == HELM_VALUES_KIND:
            return (resource.kind,)
        if resource.kind == "IstioOperator":
            return (resource.kind, resource.namespace, resource.name)
        return (resource.kind, resource.namespace, resource.name, resource.path)


def covered_by_layers(
    source: MeshConfigSource,
    sources: list[MeshConfigSource],
    sets: Callable[[MeshConfigSource], bool],
) -> bool:
    """Whether a layer below `source` (same configuration, in its folder or a folder above) sets
    what `sets` checks: an override file need not repeat what its base file already sets."""
    folder = posixpath.dirname(source.resource.path)
    for other in sources:
        if other is source or other.layer_key != source.layer_key:
            continue
        other_folder = posixpath.dirname(other.resource.path)
        above = other_folder in ("", folder) or folder.startswith(other_folder + "/")
        if above and sets(other):
            return True
    return False


def mesh_config_source(resource: Resource, root_namespace: str) -> MeshConfigSource | None:
    """The resource as a mesh config source, or None when it does not configure istiod."""
    if resource.kind == "IstioOperator":
        if resource.group != INSTALL_GROUP or not enables_pilot(resource):
            return None
        spec = resource.spec
        return MeshConfigSource(
            resource,
            mapping(spec.get("meshConfig")),
            ("spec", "meshConfig"),
            mapping(spec.get("values")),
            ("spec", "values"),
        )
    if resource.kind == HELM_VALUES_KIND:
        body = resource.body
        mesh = mapping(body.get("meshConfig"))
        return MeshConfigSource(resource, mesh, ("meshConfig",), body, ())
    if resource.kind == "Istio" and resource.group == SAIL_GROUP:
        values = mapping(resource.spec.get("values"))
        return MeshConfigSource(
            resource,
            mapping(values.get("meshConfig")),
            ("spec", "values", "meshConfig"),
            values,
            ("spec", "values"),
        )
    if resource.kind in ("Application", "HelmRelease"):
        for install in chart_installs(resource):
            if install.chart == ISTIOD_CHART and not install.external_values:
                return install.mesh_config()
        return None
    if resource.kind == "ConfigMap" and resource.namespace == root_namespace:
        if resource.name != "istio" and not resource.name.startswith("istio-"):
            return None
        data = mapping(resource.body.get("data"))
        if "mesh" not in data:
            return None
        embedded = parse_embedded_yaml(data["mesh"])
        if embedded is None:
            return None
        return MeshConfigSource(resource, embedded, ("data", "mesh"), None, None, embedded=True)
    return None


@dataclass(frozen=True, slots=True)
class ChartInstall:
    """An Istio chart that an Argo CD Application or a Flux HelmRelease installs.

    `version_path` is where the chart version is written (`targetRevision`, `chart.spec.version`);
    `values_path` where its values are, and `embedded` when they are a YAML string (Argo CD
    `helm.values`), whose keys have no line of their own. `source` tells apart the sources of a
    multi-source Application.
    """

    resource: Resource
    chart: str
    version: str | None
    version_path: KeyPath
    values: dict[str, Any]
    values_path: KeyPath
    embedded: bool
    source: KeyPath
    external_values: bool = False
    """Values also come from elsewhere (Argo CD `valueFiles`, Flux `valuesFrom`): the inline
    values alone are not the whole mesh config, so they are not judged as if they were (a values
    file with `meshConfig` is a source of its own)."""

    @property
    def revision(self) -> str:
        """The istiod revision the values install (`revision`), "" for the default one."""
        value = self.values.get("revision")
        return str(value).strip() if value not in (None, "") else ""

    def mesh_config(self) -> MeshConfigSource:
        path = self.values_path
        mesh = mapping(self.values.get("meshConfig"))
        if self.embedded:
            return MeshConfigSource(self.resource, mesh, path, self.values, path, embedded=True)
        return MeshConfigSource(self.resource, mesh, (*path, "meshConfig"), self.values, path)


def chart_installs(resource: Resource) -> list[ChartInstall]:
    """The Istio charts (`base`, `istiod`, `gateway`, `cni`, `ztunnel`) `resource` installs."""
    if resource.kind == "Application" and resource.group == ARGO_GROUP:
        return list(_application_installs(resource))
    if resource.kind == "HelmRelease" and resource.group == FLUX_HELM_GROUP:
        spec = resource.spec
        chart_spec = mapping(mapping(spec.get("chart")).get("spec"))
        name = chart_spec.get("chart")
        if not isinstance(name, str) or posixpath.basename(name.rstrip("/")) not in ISTIO_CHARTS:
            return []
        values = spec.get("values")
        return [
            ChartInstall(
                resource,
                posixpath.basename(name.rstrip("/")),
                _version(chart_spec.get("version")),
                ("spec", "chart", "spec", "version"),
                mapping(values),
                ("spec", "values"),
                False,
                ("spec", "chart"),
                bool(spec.get("valuesFrom")),
            )
        ]
    return []


def _application_installs(resource: Resource) -> list[ChartInstall]:
    spec = resource.spec
    sources: list[tuple[Any, KeyPath]] = [(spec.get("source"), ("spec", "source"))]
    listed = spec.get("sources")
    for index, source in enumerate(listed if isinstance(listed, list) else []):
        sources.append((source, ("spec", "sources", index)))
    installs = []
    for source, key in sources:
        if not isinstance(source, dict):
            continue
        chart = source.get("chart")
        if not isinstance(chart, str) or chart not in ISTIO_CHARTS:
            continue
        helm = mapping(source.get("helm"))
        values: dict[str, Any] = {}
        values_path: KeyPath = (*key, "helm", "valuesObject")
        embedded = False
        if isinstance(helm.get("valuesObject"), dict):
            values, values_path = helm["valuesObject"], (*key, "helm", "valuesObject")
        elif isinstance(helm.get("values"), str | dict):
            values = parse_embedded_yaml(helm["values"]) or {}
            values_path, embedded = (*key, "helm", "values"), isinstance(helm["values"], str)
        installs.append(
            ChartInstall(
                resource,
                chart,
                _version(source.get("targetRevision")),
                (*key, "targetRevision"),
                values,
                values_path,
                embedded,
                key,
                bool(helm.get("valueFiles")),
            )
        )
    return installs


def _version(value: Any) -> str | None:
    return None if value in (None, "") else str(value).strip()


def is_injector_configmap(resource: Resource, root_namespace: str) -> bool:
    """The sidecar injector's ConfigMap (`istio-sidecar-injector[-<rev>]` in the root namespace),
    as a rendered istiod chart holds it: its `data.values` are the chart values it injects with."""
    name = resource.name
    return (
        resource.kind == "ConfigMap"
        and resource.namespace == root_namespace
        and (name == INJECTOR_CONFIGMAP or name.startswith(INJECTOR_CONFIGMAP + "-"))
    )


def injector_values(configmap: Resource) -> dict[str, Any] | None:
    """The chart values (JSON) under `data.values` of the injector ConfigMap; None if unreadable."""
    return parse_embedded_yaml(mapping(configmap.body.get("data")).get("values"))


def enables_pilot(operator: Resource) -> bool:
    """Whether an IstioOperator installs istiod; gateway-only ones do not, so set no mesh config."""
    spec = operator.spec
    pilot = mapping(mapping(spec.get("components")).get("pilot"))
    enabled = pilot.get("enabled")
    if isinstance(enabled, bool):
        return enabled
    return spec.get("profile") not in _NO_PILOT_PROFILES


def parse_embedded_yaml(text: Any) -> dict[str, Any] | None:
    """A YAML or JSON string held in a ConfigMap value or an annotation; None if unreadable."""
    if isinstance(text, dict):
        return text
    if not isinstance(text, str) or len(text) > _MAX_EMBEDDED_CHARS:
        return None
    try:
        value = yaml.load(text, Loader=yaml.CSafeLoader)
    except (yaml.YAMLError, RecursionError):
        return None
    if value is None:
        return {}
    return value if isinstance(value, dict) else None


def file_scope(resource: Resource) -> tuple[str, ...]:
    """Extra fingerprint identity for a resource without a name: its file, the only thing that
    tells two unnamed IstioOperators (one per cluster, say) apart."""
    return ("@file", resource.path) if resource.name == UNNAMED else ()


def dotted(path: KeyPath) -> str:
    """A key path as people write it in a message: `spec.values.global.proxy.resources`."""
    return ".".join(map(str, path))


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def is_true(value: Any) -> bool:
    """A boolean setting as Istio reads it: YAML true, or the string "true" in annotations."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")
