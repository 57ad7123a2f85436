"""Where a repository sets mesh-wide proxy defaults, read the same way whatever holds them.

istiod takes its mesh config from an IstioOperator (`spec.meshConfig`, Helm values under
`spec.values`), from the `istio` / `istio-<rev>` ConfigMap in the root namespace (a YAML string
under `data.mesh`), or from an istiod Helm values file (`meshConfig`, `global`). Rules about
mesh-wide settings see one `MeshConfigSource` per place, with the key paths to point at, so they
never care which of the three a repository uses.
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
        if self.resource.kind == "IstioOperator":
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
