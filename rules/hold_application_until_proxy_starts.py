"""Applications may start before their sidecar is ready (`holdApplicationUntilProxyStarts`).

iptables already sends an application's traffic to Envoy while Envoy has no routes yet, so calls
made at start-up fail with "connection refused" and the pod looks flaky until it restarts. The
mesh config can hold every application until its proxy is ready; a pod can opt out again
(judged only on pods that get a sidecar, as proxy-resources-missing does).

Istio facts (istio/istio 1.30.3, `files/injection-template.yaml`): the setting exists since
1.7, read from `meshConfig.defaultConfig`, the pod's `proxy.istio.io/config` and the chart value
`global.proxy.holdApplicationUntilProxyStarts`. It only matters for a sidecar injected as a
regular container: with Kubernetes native sidecars (the proxy as a restartable init container,
which Kubernetes starts and waits for before the application) the template ignores it. Native
sidecars are on when istiod's `ENABLE_NATIVE_SIDECARS` is "true", or by default since 1.28
("auto") when every node runs Kubernetes 1.33 or later; per pod, the annotation
`sidecar.istio.io/nativeSidecar`. The repository cannot show the nodes' version, so only an
explicit "true" (istiod values `env` / `pilot.env`, an IstioOperator's `spec.values.pilot.env`
or `components.pilot.k8s.env`; the pod annotation) makes the rule quiet.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.loader import WORKLOAD_KINDS
from rules.core.model import Problem, describe
from rules.mesh.mesh_config import (
    MESH_CONFIG_KINDS,
    MeshConfigSource,
    covered_by_layers,
    dotted,
    file_scope,
    is_false,
    is_true,
    mapping,
    parse_embedded_yaml,
)

ID = "hold-application-until-proxy-starts"
SEVERITY = "warning"
KINDS = (*MESH_CONFIG_KINDS, *sorted(WORKLOAD_KINDS))
SUMMARY = "Mesh config does not hold applications until their proxy starts, or a pod opts out."
WHY = (
    "Without `holdApplicationUntilProxyStarts` the application container can start before "
    "Envoy has its configuration: its first outbound calls fail with connection refused or "
    "no route to host, which looks like a DNS or network fault and disappears after a restart."
)
FIX = (
    "Set `holdApplicationUntilProxyStarts: true` in the mesh config's `defaultConfig` "
    "(IstioOperator `spec.meshConfig.defaultConfig`, the `istio` ConfigMap's `mesh`, or Helm "
    "`meshConfig.defaultConfig`), and remove pod annotations that set it to false. Or run "
    'Kubernetes native sidecars (istiod `env: {ENABLE_NATIVE_SIDECARS: "true"}`, nodes on '
    "Kubernetes 1.33 or later), which start the proxy before the application."
)
FAIL = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: control-plane
  namespace: istio-system
spec:
  revision: 1-24
  meshConfig:
    defaultConfig:
      holdApplicationUntilProxyStarts: false
"""
PASS = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: control-plane
  namespace: istio-system
spec:
  revision: 1-24
  meshConfig:
    defaultConfig:
      holdApplicationUntilProxyStarts: true
  values:
    global:
      proxy:
        resources:
          limits: {cpu: 500m, memory: 256Mi}
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({*MESH_CONFIG_KINDS, "Namespace"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). A mesh config source
is judged with the layers below it, read off every mesh config kind, and an ambient-profile
install only where a Namespace object is labelled for injection; a pod by its own annotations."""

SETTING = "holdApplicationUntilProxyStarts"
PROXY_CONFIG = "proxy.istio.io/config"
NATIVE_SIDECAR = "sidecar.istio.io/nativeSidecar"
NATIVE_ENV = "ENABLE_NATIVE_SIDECARS"
_FALSE_SETTING = re.compile(rf"""(["']?{SETTING}["']?\s*:\s*)false\b""")


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    sources = ctx.index.sidecar_mesh_configs()
    for source in sources:
        if native_sidecars(source):
            continue  # Kubernetes starts the proxy before the application anyway
        setting = source.default_config.get(SETTING)
        if _holds(source) or (not is_false(setting) and covered_by_layers(source, sources, _holds)):
            continue
        yield _mesh_config_problem(source, setting)
    for workload in ctx.index.workloads():
        if not workload.has_proxy:
            continue  # opted out, host network or ambient: no sidecar to wait for
        if is_true(workload.annotations.get(NATIVE_SIDECAR)):
            continue
        value = workload.annotations.get(PROXY_CONFIG)
        proxy_config = parse_embedded_yaml(value)
        if proxy_config is None or not is_false(proxy_config.get(SETTING)):
            continue
        path = workload.annotation_path(PROXY_CONFIG)
        resource = workload.resource
        yield Problem(
            resource,
            path,
            f"{describe(resource)} sets {SETTING}: false in its "
            f"{PROXY_CONFIG} annotation: its containers may start before the sidecar is ready "
            "and fail their first outbound calls",
            fix=_annotation_fix(value),
        )


def native_sidecars(source: MeshConfigSource) -> bool:
    """istiod's `ENABLE_NATIVE_SIDECARS` is "true" in this install's values."""
    values = mapping(source.values)
    envs = [mapping(values.get("env")), mapping(mapping(values.get("pilot")).get("env"))]
    if source.resource.kind == "IstioOperator":
        pilot = mapping(mapping(source.resource.spec.get("components")).get("pilot"))
        listed = mapping(pilot.get("k8s")).get("env")
        for item in listed if isinstance(listed, list) else ():
            if isinstance(item, dict) and item.get("name") == NATIVE_ENV:
                envs.append({NATIVE_ENV: item.get("value")})
    return any(is_true(env.get(NATIVE_ENV)) for env in envs)


def _holds(source: MeshConfigSource) -> bool:
    """The mesh config or the injector's Helm value turns the setting on."""
    return any(is_true(c.get(SETTING)) for c in (source.default_config, source.global_proxy()))


def _mesh_config_problem(source: MeshConfigSource, setting: Any) -> Problem:
    state = "false" if is_false(setting) else "not set"
    if source.embedded:
        path = source.mesh_path
        message = f"{source.label}: defaultConfig.{SETTING} in {dotted(path)} is {state}"
    else:
        path = (*source.mesh_path, "defaultConfig", SETTING)
        message = f"{source.label}: {dotted(path)} is {state}"
    fix = ("set", "true") if setting is False and not source.embedded else None
    return Problem(
        source.resource,
        path,
        f"{message}, so applications may start before their sidecar is ready and fail their "
        "first outbound calls",
        identity=(
            *map(str, source.mesh_path),
            "defaultConfig",
            SETTING,
            *file_scope(source.resource),
        ),
        fix=fix,
    )


def _annotation_fix(value: Any) -> tuple[str, str] | None:
    """Rewrite `holdApplicationUntilProxyStarts: false` to true inside a one-line annotation."""
    if not isinstance(value, str) or "\n" in value.strip():
        return None
    if len(_FALSE_SETTING.findall(value)) != 1:
        return None
    fixed = _FALSE_SETTING.sub(r"\1true", value)
    return ("set", _quote(fixed))


def _quote(text: str) -> str:
    """A YAML single-quoted scalar: the annotation stays a string."""
    return "'" + text.replace("'", "''") + "'"
