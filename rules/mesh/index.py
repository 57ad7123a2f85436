"""The mesh index: cross-resource lookups that resolve names the way Istio does.

Built once per revision (lazily, by `Context.index`) so that rules needing the whole repository
share one pass over the resources instead of each scanning them again.

Everything is keyed by a resource's `scope`: its namespace when the repository determines one,
else the unknown scope of the folder or target it is applied with. Resources of one unknown
scope find each other (short hosts, subsets, Gateways, Services); a name that would resolve in
an unknown scope and is not found there is not known to be missing (`in_unknown_scope`), since
the namespace it lands in may hold what the repository does not show. Messages name namespaces
through `Resource.namespace`, never a scope.
"""

from __future__ import annotations

import functools
import posixpath
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

from rules.core.config import Config
from rules.core.document import KeyPath
from rules.core.loader import ISTIO_GROUPS, WORKLOAD_KINDS
from rules.core.model import Resource, is_unknown_scope
from rules.core.placeholders import is_placeholder
from rules.mesh.gateway_api import GatewayApiIndex
from rules.mesh.hosts import (
    GatewayHost,
    expand,
    exported_to,
    gateway_host,
    in_cluster,
    string_items,
    wildcard_keys,
)
from rules.mesh.mesh_config import (
    INSTALL_GROUP,
    MESH_CONFIG_KINDS,
    MeshConfigSource,
    mapping,
    mesh_config_source,
)


class MeshIndex:
    def __init__(self, resources: list[Resource], config: Config) -> None:
        self.resources = resources
        self.config = config
        self._index_hosts()
        self._index_workloads()

    # --- Hosts, Services, ServiceEntries, DestinationRules, Gateways -----------------------

    def _index_hosts(self) -> None:
        """One pass over Services, ServiceEntries, DestinationRules and Gateways.

        Every host is stored in its canonical form (`hosts.expand` in the namespace of the
        resource naming it), so a lookup is a dict access plus, for wildcards, one access per
        label of the host.
        """
        domain = self.config.cluster_domain
        self.service_hosts: dict[str, list[Resource]] = defaultdict(list)
        """Canonical host -> the Services and ServiceEntries defining it (wildcards included)."""
        self._exported_to: dict[Resource, frozenset[str] | None] = {}
        self.service_namespaces: set[str] = set()
        """Scopes (namespaces, unknown scopes) in which the repository defines Kubernetes
        Services."""
        self._unknown_scope_services: set[str] = set()
        self._unknown_scope_rule_services: set[str] = set()
        """Names of Services of unknown namespace: such a Service may be in any namespace."""
        self._service_name_namespaces: dict[str, set[str]] = defaultdict(set)
        self.destination_rules: dict[str, list[Resource]] = defaultdict(list)
        """Canonical DestinationRule host (wildcards as written) -> the DestinationRules."""
        self.gateways: dict[tuple[str | None, str], Resource] = {}
        self._gateway_hosts: dict[tuple[str | None, str], list[GatewayHost]] = {}
        self._gateway_namespaces: dict[str, set[str | None]] = defaultdict(set)

        for resource in self.resources:
            kind = resource.kind
            scope = resource.scope
            if kind == "Service" and resource.group == "":
                host = f"{resource.name}.{scope}.svc.{domain}"
                self._add_service_host(host, resource)
                if scope:
                    self.service_namespaces.add(scope)
                    if is_unknown_scope(scope):
                        self._unknown_scope_services.add(resource.name)
            elif kind == "ServiceEntry" and resource.group == "networking.istio.io":
                for written in string_items(resource.spec.get("hosts")):
                    if not is_placeholder(written):
                        self._add_service_host(expand(written, scope, domain), resource)
            elif kind == "DestinationRule" and resource.group == "networking.istio.io":
                named = resource.spec.get("host")
                if isinstance(named, str) and named and not is_placeholder(named):
                    host = expand(named, scope, domain)
                    self.destination_rules[host].append(resource)
                    if is_unknown_scope(scope) and "." not in named:
                        self._unknown_scope_rule_services.add(named)
            elif kind == "Gateway" and resource.group == "networking.istio.io":
                key = (scope, resource.name)
                self.gateways.setdefault(key, resource)
                self._gateway_namespaces[resource.name].add(scope)
                servers = resource.spec.get("servers")
                self._gateway_hosts.setdefault(key, []).extend(
                    gateway_host(written, scope)
                    for server in (servers if isinstance(servers, list) else [])
                    if isinstance(server, dict)
                    for written in string_items(server.get("hosts"))
                )

    def _add_service_host(self, host: str, resource: Resource) -> None:
        if resource not in self._exported_to:
            self._exported_to[resource] = exported_to(resource)
        self.service_hosts[host].append(resource)
        service = in_cluster(host, self.config.cluster_domain)
        if service is not None:
            self._service_name_namespaces[service[0]].add(service[1])

    def canonical_host(self, host: str, namespace: str | None) -> str:
        """`host` as written in a resource of `namespace`, fully qualified as Istio reads it."""
        return expand(host, namespace, self.config.cluster_domain)

    def services_for(
        self, host: str, namespace: str | None, *, visible: bool = True
    ) -> list[Resource]:
        """The Services and ServiceEntries defining `host` (named in `namespace`), wildcard
        ServiceEntry hosts such as `*.example.com` included.

        With `visible`, only those exported to `namespace` (`exportTo` of a ServiceEntry, the
        `networking.istio.io/exportTo` annotation of a Service; everywhere when absent): a
        private `*` ServiceEntry in one namespace must not define every host of the mesh.
        """
        found = _covering(self.service_hosts, self.canonical_host(host, namespace))
        if visible:
            found = [r for r in found if self.exported(r, namespace)]
        return found

    def exported(self, resource: Resource, namespace: str | None) -> bool:
        """Whether a Service or ServiceEntry is visible from `namespace`."""
        targets = self._exported_to.get(resource)
        if targets is None:
            targets = exported_to(resource)
        return targets is None or "*" in targets or (namespace or "") in targets

    def namespaces_defining_service(self, name: str) -> set[str]:
        """Scopes where the repository defines an in-cluster host `name.<ns>.svc.<domain>`
        (a Service, or a ServiceEntry with that host); unknown scopes included."""
        return self._service_name_namespaces.get(name, set())

    def maybe_anywhere(self, service_name: str) -> bool:
        """Whether a Service of this name exists in a namespace the repository does not
        determine: it may then be the Service a fully qualified host names."""
        return service_name in self._unknown_scope_services

    def in_unknown_scope(self, host: str, scope: str | None) -> bool:
        """Whether `host`, named in `scope`, resolves into an unknown scope (where a missing
        Service may exist outside the repository's view)."""
        service = in_cluster(self.canonical_host(host, scope), self.config.cluster_domain)
        return service is not None and is_unknown_scope(service[1])

    def destination_rules_for(self, host: str, namespace: str | None) -> list[Resource]:
        """Every DestinationRule whose host covers `host` (named in `namespace`), wherever the
        DestinationRule lives (the root namespace included); `exportTo` is assumed to allow it."""
        return _covering(self.destination_rules, self.canonical_host(host, namespace))

    def rule_maybe_anywhere(self, host: str, scope: str | None) -> bool:
        """Whether a DestinationRule of unknown namespace names this host's Service by its short
        name: applied in the host's namespace, it would be the rule for it."""
        service = in_cluster(self.canonical_host(host, scope), self.config.cluster_domain)
        return service is not None and service[0] in self._unknown_scope_rule_services

    def subsets_for(self, host: str, namespace: str | None) -> set[str]:
        """The union of the subset names of every DestinationRule for `host`."""
        names: set[str] = set()
        for rule in self.destination_rules_for(host, namespace):
            subsets = rule.spec.get("subsets")
            for subset in subsets if isinstance(subsets, list) else ():
                name = subset.get("name") if isinstance(subset, dict) else None
                if isinstance(name, str | int) and not isinstance(name, bool):
                    names.add(str(name))  # `name: 1` in YAML is an int; Istio reads "1"
        return names

    def gateway(self, namespace: str | None, name: str) -> Resource | None:
        """The networking.istio.io Gateway `namespace/name` (not the Kubernetes Gateway API)."""
        return self.gateways.get((namespace, name))

    def gateway_namespaces(self, name: str) -> set[str | None]:
        """The namespaces holding a Gateway called `name`: helps say what a reference meant."""
        return self._gateway_namespaces.get(name, set())

    def gateway_hosts(self, namespace: str | None, name: str) -> list[GatewayHost]:
        """The server hosts of Gateway `namespace/name`, with their namespace filters."""
        return self._gateway_hosts.get((namespace, name), [])

    # --- Kubernetes Gateway API ---------------------------------------------------------------

    @cached_property
    def gateway_api(self) -> GatewayApiIndex:
        """Gateway API Gateways, routes, ReferenceGrants and waypoints (built on first use)."""
        return GatewayApiIndex(self.resources)

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
                    self._workloads[resource.scope or ""].append(workload)
            elif kind == "Service" and resource.group == "":
                self._kube_services[resource.scope or ""].append(resource)
            elif kind in MESH_CONFIG_KINDS:
                source = mesh_config_source(resource, root)
                if source is not None:
                    self.mesh_configs.append(source)
            if holds_istio_config(resource):
                self._istio_config_namespaces.add(resource.scope or "")
                if kind == "Sidecar":
                    self._sidecars[resource.scope or ""].append(resource)

    def namespace_objects(self, namespace: str) -> list[Resource]:
        """The Namespace objects the repository holds for this name (overlays may repeat one)."""
        return self._namespace_objects.get(namespace, [])

    def sidecars_in(self, namespace: str) -> list[Resource]:
        """Every Sidecar of the namespace, workload-scoped ones included."""
        return self._sidecars.get(namespace, [])

    def namespace_sidecars(self, namespace: str) -> list[Resource]:
        """Sidecars that apply to every workload of the namespace (no `workloadSelector`).

        A selector with no labels matches every workload too, so it counts here; it does not
        make a mesh-wide default in the root namespace, which Istio takes only from a Sidecar
        without any `workloadSelector`.
        """
        return [s for s in self.sidecars_in(namespace) if not _workload_selector_labels(s)]

    def root_default_sidecars(self) -> list[Resource]:
        """Sidecars without `workloadSelector` in the root namespace: the mesh-wide default."""
        return [
            s
            for s in self.sidecars_in(self.config.root_namespace)
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
            s
            for s in self.kube_services_in(namespace)
            if s.spec.get("type") != "ExternalName"
            and not is_gateway_selector(mapping(s.spec.get("selector")))
        ]

    def control_plane_installs(self) -> list[MeshConfigSource]:
        """The mesh config sources that install istiod, one per configuration and folder (the
        values files of one folder are layers of one install; so are overlays of one name)."""
        installs: dict[tuple[Any, ...], MeshConfigSource] = {}
        for source in self.mesh_configs:
            if source.installs_control_plane:
                folder = posixpath.dirname(source.resource.path)
                installs.setdefault((*source.layer_key, folder), source)
        return list(installs.values())

    def sidecar_mesh_configs(self) -> list[MeshConfigSource]:
        """Mesh config sources whose sidecar settings matter: an ambient-profile install counts
        only when the repository labels some namespace for sidecar injection."""
        sources = self.mesh_configs
        if any(s.ambient_only for s in sources) and not self.injects_sidecars():
            return [s for s in sources if not s.ambient_only]
        return sources

    def injects_sidecars(self) -> bool:
        """Whether any Namespace object of the repository is labelled for sidecar injection."""
        return any(self.mesh_membership(name) is not None for name in self._namespace_objects)

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


@functools.cache
def _istio_config_api(api_version: str) -> bool:
    group = api_version.rpartition("/")[0]
    return group in ISTIO_GROUPS and group != INSTALL_GROUP


def holds_istio_config(resource: Resource) -> bool:
    """Istio configuration (any Istio group but the installer's): a namespace holding some is
    taken to be in the mesh when no Namespace object says otherwise (`mesh_membership`)."""
    return _istio_config_api(resource.api_version)


def _covering(table: dict[str, list[Resource]], fqdn: str) -> list[Resource]:
    """What `table` holds for `fqdn` and for every wildcard host covering it (`*.ns.svc...`)."""
    found = list(table.get(fqdn, ()))
    if not fqdn.startswith("*"):
        for key in wildcard_keys(fqdn):
            found.extend(table.get(key, ()))
    return found


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
        return not self.in_ambient

    @property
    def in_ambient(self) -> bool:
        """Captured by ztunnel (labelled or already annotated by the CNI): no sidecar."""
        return (
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


def _workload_selector_labels(sidecar: Resource) -> dict[str, Any]:
    """The labels a Sidecar's `workloadSelector` requires; empty when it selects every workload."""
    return mapping(mapping(sidecar.spec.get("workloadSelector")).get("labels"))
