"""The mesh index: cross-resource lookups that resolve names the way Istio does.

Built once per revision (lazily, by `Context.index`) so that rules needing the whole repository
share one pass over the resources instead of each scanning them again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from rules.config import Config
from rules.loader import ISTIO_GROUPS, WORKLOAD_KINDS
from rules.mesh_config import INSTALL_GROUP, MeshConfigSource, mapping, mesh_config_source
from rules.model import KeyPath, Resource


class MeshIndex:
    def __init__(self, resources: list[Resource], config: Config) -> None:
        self.resources = resources
        self.config = config
        self._index_hosts()
        self._index_workloads()

    # --- Hosts, Services, ServiceEntries, DestinationRules, Gateways -----------------------

    def _index_hosts(self) -> None:
        pass

    # --- Namespaces, workloads, Sidecars, mesh config ----------------------------------------

    def _index_workloads(self) -> None:
        root = self.config.root_namespace
        self._namespace_objects: dict[str, list[Resource]] = defaultdict(list)
        self._sidecars: dict[str, list[Resource]] = defaultdict(list)
        self._workloads: dict[str, list[Workload]] = defaultdict(list)
        self._kube_services: dict[str, list[Resource]] = defaultdict(list)
        self._istio_config_namespaces: set[str] = set()
        self.mesh_configs: list[MeshConfigSource] = []
        """Every place in the repository that sets istiod's mesh config, in file order."""
        for resource in self.resources:
            kind = resource.kind
            if kind == "Namespace":
                self._namespace_objects[resource.name].append(resource)
            elif kind in WORKLOAD_KINDS:
                workload = Workload.of(resource)
                if workload is not None:
                    self._workloads[resource.namespace or ""].append(workload)
            elif kind == "Service" and resource.group == "":
                self._kube_services[resource.namespace or ""].append(resource)
            elif kind in ("IstioOperator", "ConfigMap", "HelmValues"):
                source = mesh_config_source(resource, root)
                if source is not None:
                    self.mesh_configs.append(source)
            if resource.group in ISTIO_GROUPS and resource.group != INSTALL_GROUP:
                self._istio_config_namespaces.add(resource.namespace or "")
                if kind == "Sidecar":
                    self._sidecars[resource.namespace or ""].append(resource)

    def namespace_objects(self, namespace: str) -> list[Resource]:
        """The Namespace objects the repository holds for this name (overlays may repeat one)."""
        return self._namespace_objects.get(namespace, [])

    def sidecars_in(self, namespace: str) -> list[Resource]:
        return self._sidecars.get(namespace, [])

    def namespace_sidecars(self, namespace: str) -> list[Resource]:
        """Sidecars that apply to every workload of the namespace (no `workloadSelector`).

        A selector with no labels matches every workload too, so it counts here; it does not
        make a mesh-wide default in the root namespace, which Istio takes only from a Sidecar
        without any `workloadSelector`.
        """
        return [s for s in self.sidecars_in(namespace) if not selector_labels(s)]

    def root_default_sidecars(self) -> list[Resource]:
        """Sidecars without `workloadSelector` in the root namespace: the mesh-wide default."""
        return [
            s for s in self.sidecars_in(self.config.root_namespace)
            if s.spec.get("workloadSelector") is None
        ]

    def workloads(self) -> Iterator[Workload]:
        """Every workload with a pod template, namespace by namespace."""
        for workloads in self._workloads.values():
            yield from workloads

    def workloads_in(self, namespace: str) -> list[Workload]:
        return self._workloads.get(namespace, [])

    def kube_services_in(self, namespace: str) -> list[Resource]:
        """Kubernetes Services (not ServiceEntries) of the namespace."""
        return self._kube_services.get(namespace, [])

    def application_services_in(self, namespace: str) -> list[Resource]:
        """Services that stand for pods with sidecars: not in front of gateways, not DNS aliases
        (`ExternalName`), to which no Sidecar resource applies."""
        return [
            s for s in self.kube_services_in(namespace)
            if s.spec.get("type") != "ExternalName"
            and not is_gateway_selector(mapping(s.spec.get("selector")))
        ]

    def injects_sidecars(self) -> bool:
        """Whether any Namespace object of the repository is labelled for sidecar injection."""
        return any(
            self.mesh_membership(name) is not None for name in self._namespace_objects
        )

    def is_ambient(self, namespace: str) -> bool:
        """A namespace in ambient mode and not labelled for injection: it runs no sidecars."""
        return self.mesh_membership(namespace) is None and any(
            n.labels.get(DATAPLANE_MODE) == "ambient" for n in self.namespace_objects(namespace)
        )

    def application_namespaces(self) -> list[str]:
        """Namespaces where the repository holds workloads or Services (workloads' first)."""
        return list(dict.fromkeys([*self._workloads, *self._kube_services]))

    def mesh_membership(self, namespace: str) -> Membership | None:
        """Why the namespace's pods get sidecars, or None when the repository does not show it.

        A Namespace object decides by its labels (`istio-injection` wins over `istio.io/rev`, as
        in Istio's injector). Without one, a namespace that holds Istio configuration is taken to
        be in the mesh; the root namespace is not, because it holds mesh-wide configuration.
        """
        objects = self.namespace_objects(namespace)
        for namespace_object in objects:
            labels = namespace_object.labels
            injection = labels.get("istio-injection")
            if injection is not None:
                if str(injection) == "enabled":
                    return Membership("labelled istio-injection: enabled", namespace_object)
                continue
            revision = labels.get("istio.io/rev")
            if revision not in (None, ""):
                return Membership(f"labelled istio.io/rev: {revision}", namespace_object)
        if objects:
            return None
        if namespace != self.config.root_namespace and namespace in self._istio_config_namespaces:
            return Membership("it holds Istio configuration and no Namespace object", None)
        return None


class Membership(NamedTuple):
    """Why a namespace is in the mesh, and the Namespace object that says so (if any)."""

    reason: str
    namespace_object: Resource | None


@dataclass(frozen=True, slots=True)
class Workload:
    """A resource that runs pods, with its pod template and where that template sits."""

    resource: Resource
    template_path: KeyPath
    template: dict[str, Any]

    @classmethod
    def of(cls, resource: Resource) -> Workload | None:
        path = _TEMPLATE_PATHS.get(resource.kind, ("spec", "template"))
        node: Any = resource.body
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return cls(resource, path, node) if isinstance(node, dict) else None

    @property
    def metadata(self) -> dict[str, Any]:
        return mapping(self.template.get("metadata"))

    @property
    def labels(self) -> dict[str, Any]:
        return mapping(self.metadata.get("labels"))

    @property
    def annotations(self) -> dict[str, Any]:
        return mapping(self.metadata.get("annotations"))

    def annotation_path(self, key: str) -> KeyPath:
        return (*self.template_path, "metadata", "annotations", key)

    @property
    def has_proxy(self) -> bool:
        """Whether the pods get an injected proxy: not opted out, not on the host network (the
        injector skips those), not captured by ambient mode."""
        flags = (self.labels.get(_INJECT), self.annotations.get(_INJECT))
        if any(str(flag).lower() == "false" for flag in flags if flag is not None):
            return False
        if mapping(self.template.get("spec")).get("hostNetwork") is True:
            return False
        return not (
            self.annotations.get("ambient.istio.io/redirection") == "enabled"
            or self.labels.get(DATAPLANE_MODE) == "ambient"
        )

    @property
    def is_gateway(self) -> bool:
        """Gateway proxies: Istio applies no Sidecar resource to them."""
        templates = str(self.annotations.get("inject.istio.io/templates", ""))
        return is_gateway_selector(self.labels) or "gateway" in templates.split(",")


def is_gateway_selector(labels: dict[str, Any]) -> bool:
    """Labels that mark gateway pods (the Istio charts' and Gateway API's conventions)."""
    return (
        labels.get("istio") in ("ingressgateway", "egressgateway")
        or "gateway.networking.k8s.io/gateway-name" in labels
        or "istio.io/gateway-name" in labels
    )


_INJECT = "sidecar.istio.io/inject"
DATAPLANE_MODE = "istio.io/dataplane-mode"
_TEMPLATE_PATHS: dict[str, KeyPath] = {
    "Pod": (),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def selector_labels(sidecar: Resource) -> dict[str, Any]:
    """The labels a Sidecar's `workloadSelector` requires; empty when it selects every workload."""
    return mapping(mapping(sidecar.spec.get("workloadSelector")).get("labels"))
