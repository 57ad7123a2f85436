"""The kubelet's probes of a workload, and whether they ever reach the sidecar's authorization.

Istio's injector rewrites the probes of every injected pod by default (`pkg/kube/inject/
app_probe.go`, chart value `sidecarInjectorWebhook.rewriteAppHTTPProbe: true`, the istiod
chart's default since Istio 1.7): each `httpGet`, `tcpSocket` (since 1.12) and `grpc` (since
1.13) readiness, liveness and startup probe of an application container becomes an `httpGet` on
the agent's status port (15020, `/app-health/<container>/readyz|livez|startupz`). pilot-agent
then probes the application itself from inside the pod (source address 127.0.0.6, which the
sidecar's iptables rules let through unredirected), so a rewritten probe never passes Envoy's
inbound listener and no AuthorizationPolicy sees it. The pod annotation
`sidecar.istio.io/rewriteAppHTTPProbers` overrides the mesh value either way (read with Go's
`strconv.ParseBool`; an unparsable value leaves the mesh value).

Without rewriting, the kubelet's request crosses the inbound listener: an `httpGet` probe is a
plaintext GET of its path, a `grpc` probe a POST of `/grpc.health.v1.Health/Check`. A
`tcpSocket` probe only opens a connection, which Envoy accepts before any authorization, so it
passes either way; `exec` probes run inside the container.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from rules.core.config import Config
from rules.core.document import KeyPath
from rules.core.model import Resource, describe
from rules.mesh.mesh_config import MeshConfigSource, dotted, injector_values, mapping

PROBE_KINDS = ("readinessProbe", "livenessProbe", "startupProbe")
REWRITE_ANNOTATION = "sidecar.istio.io/rewriteAppHTTPProbers"
REWRITE_VALUE = ("sidecarInjectorWebhook", "rewriteAppHTTPProbe")
GRPC_HEALTH_PATH = "/grpc.health.v1.Health/Check"
PROXY_CONTAINER = "istio-proxy"
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe that arrives at the sidecar as an HTTP request."""

    resource: Resource
    container: str
    kind: str
    handler: str
    path: str
    method: str
    port: int | None
    """The container port it probes; None when a named port does not resolve."""
    port_text: str

    def describe(self) -> str:
        """`Deployment bookinfo/reviews container reviews readinessProbe httpGet /healthz port
        9080`: everything a reader needs to find the probe and see what it requests."""
        port = self.port_text
        if self.port is not None and port != str(self.port):
            port = f"{port} ({self.port})"
        return (
            f"{describe(self.resource)} container {self.container} {self.kind} {self.handler} "
            f"{self.path} port {port}"
        )


@dataclass(frozen=True, slots=True)
class Rewriting:
    """Whether probes are rewritten, and, when they are not, why (for the message)."""

    rewritten: bool
    reason: str = ""


def go_bool(value: Any) -> bool | None:
    """A value as Go's `strconv.ParseBool` reads an annotation; None when it does not parse."""
    if isinstance(value, bool):
        return value
    text = str(value) if isinstance(value, str | int) else None
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    return None


def mesh_rewriting(
    sources: Iterable[MeshConfigSource], injector_configmaps: Iterable[Resource], config: Config
) -> Rewriting:
    """The mesh's setting: off when any mesh config source (or a rendered injector ConfigMap)
    sets `rewriteAppHTTPProbe: false`, or the repository config says `probes_rewritten: false`."""
    for source in sources:
        if source.values is None:
            continue
        value = mapping(source.values.get(REWRITE_VALUE[0])).get(REWRITE_VALUE[1])
        if go_bool(value) is False:
            path = dotted((*(source.values_path or ()), *REWRITE_VALUE))
            return Rewriting(False, f"{source.label} sets {path}: false")
    for configmap in injector_configmaps:
        value = mapping(mapping(injector_values(configmap)).get(REWRITE_VALUE[0])).get(
            REWRITE_VALUE[1]
        )
        if go_bool(value) is False:
            return Rewriting(
                False, f"{describe(configmap)} sets {dotted(REWRITE_VALUE)}: false in its values"
            )
    if not config.probes_rewritten:
        return Rewriting(False, "probes_rewritten: false in .github/footgun.yml")
    return Rewriting(True)


def pod_rewriting(resource: Resource, annotations: dict[str, Any], mesh: Rewriting) -> Rewriting:
    """The pod annotation, where it parses, overrides the mesh setting in both directions."""
    value = annotations.get(REWRITE_ANNOTATION)
    parsed = go_bool(value)
    if parsed is None:
        return mesh
    if parsed:
        return Rewriting(True)
    return Rewriting(
        False, f'{describe(resource)} sets the pod annotation {REWRITE_ANNOTATION}: "{value}"'
    )


def http_probes(
    resource: Resource, template: dict[str, Any], template_path: KeyPath
) -> Iterator[Probe]:
    """The probes of a pod template that reach the sidecar as HTTP requests (httpGet, grpc), of
    every application container (init containers included: restartable ones can have probes)."""
    spec = mapping(template.get("spec"))
    for field in ("initContainers", "containers"):
        containers = spec.get(field)
        for container in containers if isinstance(containers, list) else ():
            if not isinstance(container, dict):
                continue
            name = str(container.get("name") or "")
            if name == PROXY_CONTAINER:
                continue
            ports = _named_ports(container)
            for kind in PROBE_KINDS:
                probe = mapping(container.get(kind))
                found = _http_probe(resource, name, kind, probe, ports)
                if found is not None:
                    yield found


def _http_probe(
    resource: Resource, container: str, kind: str, probe: dict[str, Any], ports: dict[str, int]
) -> Probe | None:
    http = probe.get("httpGet")
    if isinstance(http, dict):
        path = http.get("path")
        path = path if isinstance(path, str) and path else "/"
        port, text = _port(http.get("port"), ports)
        return Probe(resource, container, kind, "httpGet", path, "GET", port, text)
    grpc = probe.get("grpc")
    if isinstance(grpc, dict):
        port, text = _port(grpc.get("port"), {})
        return Probe(resource, container, kind, "grpc", GRPC_HEALTH_PATH, "POST", port, text)
    return None


def _named_ports(container: dict[str, Any]) -> dict[str, int]:
    ports = container.get("ports")
    named = {}
    for port in ports if isinstance(ports, list) else ():
        if (
            isinstance(port, dict)
            and isinstance(port.get("containerPort"), int)
            and isinstance(port.get("name"), str)
        ):
            named[port["name"]] = port["containerPort"]
    return named


def _port(value: Any, named: dict[str, int]) -> tuple[int | None, str]:
    if isinstance(value, bool):
        return None, str(value)
    if isinstance(value, int):
        return value, str(value)
    if isinstance(value, str):
        if value.isdigit():
            return int(value), value
        return named.get(value), value
    return None, "?"
