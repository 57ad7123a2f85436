"""Where VirtualServices and DestinationRules name hosts, subsets and Gateways, with key paths.

Several rules judge the same places (a VirtualService's `hosts`, every route and mirror
destination, a DestinationRule's `host`, a VirtualService's `gateways`); walking them in one
place keeps the rules agreeing on what a destination or a bound Gateway is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rules.core.document import KeyPath
from rules.core.model import Resource
from rules.core.placeholders import is_placeholder
from rules.mesh.hosts import names_a_gateway, resolve_gateway_name

ROUTE_KINDS = ("http", "tcp", "tls")


@dataclass(frozen=True, slots=True)
class HostReference:
    """A host named by a resource: `path` points at the host value itself."""

    path: KeyPath
    host: str
    role: str
    """How the resource uses it, in words: `host`, `destination host`, `mirror host`."""
    subset: Any = None
    """The destination's `subset` as written (routes and mirrors only)."""

    @property
    def subset_path(self) -> KeyPath:
        return (*self.path[:-1], "subset")


def host_references(resource: Resource) -> Iterator[HostReference]:
    """Every host a VirtualService (hosts, route and mirror destinations) or a
    DestinationRule (`host`) names, in document order. Placeholders (`${HOST}`, `{{ .host }}`)
    are not hosts yet and are left out."""
    for ref in _host_references(resource):
        if not is_placeholder(ref.host):
            yield ref


def _host_references(resource: Resource) -> Iterator[HostReference]:
    spec = resource.spec
    if resource.kind == "DestinationRule":
        host = spec.get("host")
        if isinstance(host, str) and host:
            yield HostReference(("spec", "host"), host, "host")
        return
    if resource.kind != "VirtualService":
        return
    hosts = spec.get("hosts")
    for index, host in enumerate(hosts if isinstance(hosts, list) else ()):
        if isinstance(host, str) and host:
            yield HostReference(("spec", "hosts", index), host, "host")
    yield from destinations(resource)


def destinations(vs: Resource) -> Iterator[HostReference]:
    """Route destinations of http, tcp and tls routes, and http `mirror` / `mirrors`."""
    spec = vs.spec
    for kind in ROUTE_KINDS:
        routes = spec.get(kind)
        for r, route in enumerate(routes if isinstance(routes, list) else ()):
            if not isinstance(route, dict):
                continue
            targets = route.get("route")
            for t, target in enumerate(targets if isinstance(targets, list) else ()):
                if isinstance(target, dict):
                    yield from _destination(
                        target.get("destination"),
                        ("spec", kind, r, "route", t, "destination"),
                        "destination host",
                    )
            if kind != "http":
                continue
            yield from _destination(route.get("mirror"), ("spec", kind, r, "mirror"), "mirror host")
            mirrors = route.get("mirrors")
            for m, mirror in enumerate(mirrors if isinstance(mirrors, list) else ()):
                if isinstance(mirror, dict):
                    yield from _destination(
                        mirror.get("destination"),
                        ("spec", kind, r, "mirrors", m, "destination"),
                        "mirror host",
                    )


def gateway_references(vs: Resource) -> Iterator[tuple[int, str | None, str]]:
    """(position in `gateways`, namespace, name) of each entry naming a Gateway resource (not
    `mesh`), resolved as pilot does: a short name lives in the VirtualService's namespace
    (its scope, when the repository does not determine the namespace). Placeholders are left
    out."""
    gateways = vs.spec.get("gateways")
    for position, reference in enumerate(gateways if isinstance(gateways, list) else ()):
        if names_a_gateway(reference) and not is_placeholder(reference):
            yield (position, *resolve_gateway_name(reference, vs.scope))


def _destination(destination: Any, path: KeyPath, role: str) -> Iterator[HostReference]:
    if not isinstance(destination, dict):
        return
    host = destination.get("host")
    if isinstance(host, str) and host and not is_placeholder(host):
        yield HostReference((*path, "host"), host, role, destination.get("subset"))
