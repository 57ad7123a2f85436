"""The mesh index: cross-resource lookups that resolve names the way Istio does.

Built once per revision (lazily, by `Context.index`) so that rules needing the whole repository
share one pass over the resources instead of each scanning them again.
"""

from __future__ import annotations

from rules.config import Config
from rules.model import Resource


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
        pass
