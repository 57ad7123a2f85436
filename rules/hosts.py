"""Host names the way Istio reads them: short-name expansion, wildcards, gateway host filters.

Kept apart from the mesh index so rules and tests can use the pure string logic directly.
Istio's own rules (pilot's `ResolveShortnameToFQDN`, `host.Name.Matches`, the gateway
`namespace/host` syntax) are the reference; where this module differs it says so.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rules.model import Resource

ANY_NAMESPACE = "*"


def expand(host: str, namespace: str | None, domain: str) -> str:
    """The fully qualified host Istio resolves `host` to, for a resource in `namespace`.

    `reviews` becomes `reviews.<namespace>.svc.<domain>`, as Istio does. `reviews.bookinfo` and
    `reviews.bookinfo.svc` become `reviews.bookinfo.svc.<domain>`, as cluster DNS resolves them
    (Istio itself keeps them literal; callers that look hosts up also try the literal form).
    `*`, wildcards, IP addresses and anything else stay as written.
    """
    if not host or host.startswith("*") or _is_ip(host):
        return host
    labels = host.split(".")
    if len(labels) == 1:
        return f"{host}.{namespace}.svc.{domain}" if namespace else host
    if len(labels) == 2 or (len(labels) == 3 and labels[2] == "svc"):
        return f"{labels[0]}.{labels[1]}.svc.{domain}"
    return host


def in_cluster(host: str, domain: str) -> tuple[str, str] | None:
    """(name, namespace) when `host` is a Kubernetes Service host `name.ns.svc.<domain>`."""
    suffix = f".svc.{domain}"
    if host.startswith("*") or not host.endswith(suffix):
        return None
    labels = host[: -len(suffix)].split(".")
    if len(labels) != 2 or not all(labels):
        return None
    return labels[0], labels[1]


def is_wildcard(host: str) -> bool:
    return host.startswith("*")


def matches(a: str, b: str) -> bool:
    """Istio's `host.Name.Matches`: the hosts overlap, either one possibly a `*` wildcard.

    A wildcard matches every host ending in what follows its `*`: `*.example.com` matches
    `a.example.com` and `a.b.example.com`, but not `example.com`; `*` matches everything.
    """
    a_wild, b_wild = a.startswith("*"), b.startswith("*")
    if a_wild and b_wild:
        shorter, longer = (a, b) if len(a) < len(b) else (b, a)
        return longer[1:].endswith(shorter[1:])
    if a_wild:
        return b.endswith(a[1:])
    if b_wild:
        return a.endswith(b[1:])
    return a == b


def wildcard_keys(host: str) -> list[str]:
    """The wildcard hosts that cover `host`: `a.b.c` -> `*.b.c`, `*.c`, `*`.

    Istio only accepts `*` as a whole leftmost label (or alone), so these keys are every
    wildcard that can match a plain host: the index looks them up in a dict instead of scanning.
    """
    labels = host.split(".")
    return [("*." + ".".join(labels[i:])) for i in range(1, len(labels))] + ["*"]


@dataclass(frozen=True, slots=True)
class GatewayHost:
    """One Gateway server host: which VirtualService namespaces may bind it, and the host."""

    namespace: str
    """A namespace name, or `*` for any namespace."""
    host: str
    written: str

    def admits(self, vs_namespace: str | None, vs_host: str) -> bool:
        """Whether a VirtualService in `vs_namespace` with host `vs_host` is served here."""
        if self.namespace != ANY_NAMESPACE and self.namespace != vs_namespace:
            return False
        return matches(self.host, vs_host)


def gateway_host(written: str, gateway_namespace: str | None) -> GatewayHost:
    """Parse a Gateway server host: `ns/host`, `./host` (the Gateway's namespace), `*/host`,
    or a plain `host` (same as `*/host`)."""
    namespace, slash, host = written.partition("/")
    if not slash:
        return GatewayHost(ANY_NAMESPACE, written, written)
    if namespace == ".":
        namespace = gateway_namespace or ""
    return GatewayHost(namespace or ANY_NAMESPACE, host, written)


def resolve_gateway_name(reference: str, vs_namespace: str | None) -> tuple[str | None, str]:
    """(namespace, name) of a VirtualService `gateways` entry, as pilot resolves it.

    `ns/name`, `./name`, a short `name` (the VirtualService's namespace), and the legacy
    `name.ns` / `name.ns.svc.cluster.local` forms.
    """
    namespace, slash, name = reference.partition("/")
    if slash:
        return (vs_namespace if namespace == "." else namespace), name
    if "." in reference:
        name, _, rest = reference.partition(".")
        return rest.split(".", 1)[0], name
    return vs_namespace, reference


def exported_to(resource: Resource) -> frozenset[str] | None:
    """The namespaces a Service or ServiceEntry is exported to; None for everywhere (the
    default). `.` means its own namespace, `~` nowhere (an empty set)."""
    if resource.kind == "ServiceEntry":
        written = resource.spec.get("exportTo")
        entries = string_items(written) if isinstance(written, list) else []
    else:
        annotation = resource.annotations.get("networking.istio.io/exportTo")
        entries = [e.strip() for e in annotation.split(",")] if isinstance(annotation, str) else []
    entries = [e for e in entries if e]
    if not entries:
        return None
    return frozenset(
        (resource.namespace or "") if entry == "." else entry for entry in entries if entry != "~"
    )


def string_items(value: object) -> list[str]:
    """The non-empty strings of a YAML list (anything else in it is ignored, not a crash)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str) and item]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
