"""The mesh index: cross-resource lookups that resolve names the way Istio does.

Built once per revision (lazily, by `Context.index`) so that rules needing the whole repository
share one pass over the resources instead of each scanning them again.
"""

from __future__ import annotations

from collections import defaultdict

from rules.config import Config
from rules.hosts import (
    GatewayHost,
    expand,
    exported_to,
    gateway_host,
    in_cluster,
    resolve_gateway_name,
    string_items,
    wildcard_keys,
)
from rules.model import Resource


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
        """Namespaces in which the repository defines Kubernetes Services."""
        self._service_name_namespaces: dict[str, set[str]] = defaultdict(set)
        self.destination_rules: dict[str, list[Resource]] = defaultdict(list)
        """Canonical DestinationRule host (wildcards as written) -> the DestinationRules."""
        self.gateways: dict[tuple[str | None, str], Resource] = {}
        self._gateway_hosts: dict[tuple[str | None, str], list[GatewayHost]] = {}
        self._gateway_namespaces: dict[str, set[str | None]] = defaultdict(set)

        for resource in self.resources:
            kind = resource.kind
            if kind == "Service" and resource.group == "":
                host = f"{resource.name}.{resource.namespace}.svc.{domain}"
                self._add_service_host(host, resource)
                if resource.namespace:
                    self.service_namespaces.add(resource.namespace)
            elif kind == "ServiceEntry" and resource.group == "networking.istio.io":
                for written in string_items(resource.spec.get("hosts")):
                    self._add_service_host(expand(written, resource.namespace, domain), resource)
            elif kind == "DestinationRule" and resource.group == "networking.istio.io":
                written = resource.spec.get("host")
                if isinstance(written, str) and written:
                    host = expand(written, resource.namespace, domain)
                    self.destination_rules[host].append(resource)
            elif kind == "Gateway" and resource.group == "networking.istio.io":
                key = (resource.namespace, resource.name)
                self.gateways.setdefault(key, resource)
                self._gateway_namespaces[resource.name].add(resource.namespace)
                servers = resource.spec.get("servers")
                self._gateway_hosts.setdefault(key, []).extend(
                    gateway_host(written, resource.namespace)
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
        fqdn = self.canonical_host(host, namespace)
        found = list(self.service_hosts.get(fqdn, ()))
        if not fqdn.startswith("*"):
            for key in wildcard_keys(fqdn):
                found.extend(self.service_hosts.get(key, ()))
        if visible:
            found = [r for r in found if self.exported(r, namespace)]
        return found

    def exported(self, resource: Resource, namespace: str | None) -> bool:
        """Whether a Service or ServiceEntry is visible from `namespace`."""
        targets = self._exported_to.get(resource)
        if targets is None:
            targets = exported_to(resource)
        return targets is None or "*" in targets or (namespace or "") in targets

    def defines_service_namespaces(self, name: str) -> set[str]:
        """Namespaces where the repository defines an in-cluster host `name.<ns>.svc.<domain>`
        (a Service, or a ServiceEntry with that host)."""
        return self._service_name_namespaces.get(name, set())

    def destination_rules_for(self, host: str, namespace: str | None) -> list[Resource]:
        """Every DestinationRule whose host covers `host` (named in `namespace`), wherever the
        DestinationRule lives (the root namespace included); `exportTo` is assumed to allow it."""
        fqdn = self.canonical_host(host, namespace)
        found = list(self.destination_rules.get(fqdn, ()))
        if not fqdn.startswith("*"):
            for key in wildcard_keys(fqdn):
                found.extend(self.destination_rules.get(key, ()))
        return found

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

    def resolve_gateway(self, reference: str, vs_namespace: str | None) -> tuple[str | None, str]:
        """(namespace, name) of a VirtualService `gateways` entry other than `mesh`."""
        return resolve_gateway_name(reference, vs_namespace)

    def gateway(self, namespace: str | None, name: str) -> Resource | None:
        """The networking.istio.io Gateway `namespace/name` (not the Kubernetes Gateway API)."""
        return self.gateways.get((namespace, name))

    def gateway_namespaces(self, name: str) -> set[str | None]:
        """The namespaces holding a Gateway called `name`: helps say what a reference meant."""
        return self._gateway_namespaces.get(name, set())

    def gateway_hosts(self, namespace: str | None, name: str) -> list[GatewayHost]:
        """The server hosts of Gateway `namespace/name`, with their namespace filters."""
        return self._gateway_hosts.get((namespace, name), [])

    # --- Namespaces, workloads, Sidecars, mesh config ----------------------------------------

    def _index_workloads(self) -> None:
        pass

