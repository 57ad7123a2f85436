"""Sidecar proxies without a memory limit sized for the mesh, or with limits below requests.

Envoy's memory grows with connections, stats and xDS config. A proxy that is OOM-killed drops all
traffic of its pod for the 10-30 s of its restart, and the application never sees why. Pod
annotations that set proxy requests replace the mesh-wide resources entirely, so a pod that sets
`proxyMemory` without `proxyMemoryLimit` loses its memory limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.document import KeyPath
from rules.core.loader import WORKLOAD_KINDS
from rules.core.model import Problem, Resource, describe
from rules.mesh.index import Workload
from rules.mesh.mesh_config import (
    MeshConfigSource,
    covered_by_layers,
    dotted,
    file_scope,
    mapping,
)
from rules.mesh.quantities import parse_quantity

ID = "proxy-resources-missing"
SEVERITY = "warning"
KINDS = (
    "IstioOperator",
    "HelmValues",
    "Application",
    "HelmRelease",
    "Istio",
    *sorted(WORKLOAD_KINDS),
)
SUMMARY = "Sidecar proxies have no memory limit, or limits below their requests."
WHY = (
    "An Envoy sidecar's memory grows under load (connections, stats, xDS config). Without a "
    "memory limit sized for the mesh it competes with the application until the pod or the "
    "node runs out; when it is OOM-killed, all traffic to and from the pod drops for the 10-30 "
    "seconds of its restart. Limits below requests make Kubernetes reject the pod."
)
FIX = (
    "Set `global.proxy.resources` requests and limits (memory included) in the IstioOperator's "
    "`spec.values` or the istiod Helm values; on a pod that sets `sidecar.istio.io/proxyCPU` or "
    "`proxyMemory`, also set `sidecar.istio.io/proxyMemoryLimit` (and `proxyCPULimit`), at "
    "least as large as the requests."
)
FAIL = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: control-plane
  namespace: istio-system
spec:
  revision: 1-24
  values:
    global:
      proxy:
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
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
          requests:
            cpu: 100m
            memory: 128Mi
          limits:
            cpu: 500m
            memory: 256Mi
"""
OPTIONS: dict[str, Any] = {}

ANNOTATION = "sidecar.istio.io/"
REQUEST_ANNOTATIONS = {"cpu": ANNOTATION + "proxyCPU", "memory": ANNOTATION + "proxyMemory"}
LIMIT_ANNOTATIONS = {"cpu": ANNOTATION + "proxyCPULimit", "memory": ANNOTATION + "proxyMemoryLimit"}


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    sources = [s for s in ctx.index.sidecar_mesh_configs() if s.values_path is not None]
    for source in sources:
        yield from _check_values(source, covered_by_layers(source, sources, _limits_memory))
    for workload in ctx.index.workloads():
        if workload.has_proxy:
            yield from _check_annotations(workload)


def _resources(source: MeshConfigSource) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `global.proxy.resources` limits and requests of a values source."""
    resources = mapping(source.global_proxy().get("resources"))
    return mapping(resources.get("limits")), mapping(resources.get("requests"))


def _limits_memory(source: MeshConfigSource) -> bool:
    return not _blank(_resources(source)[0].get("memory"))


def _check_values(source: MeshConfigSource, layered_limit: bool) -> Iterator[Problem]:
    """`layered_limit`: a base layer of this values file sets the memory limit already."""
    base: KeyPath = (*(source.values_path or ()), "global", "proxy", "resources")
    limits, requests = _resources(source)
    if _blank(limits.get("memory")) and not layered_limit:
        path = (*base, "limits", "memory")
        yield Problem(
            source.resource,
            path,
            f"{source.label}: {dotted(path)} is not set, so sidecar proxies get no memory limit "
            "sized for this mesh (only whatever the chart or profile defaults to)",
            identity=(*map(str, path), *file_scope(source.resource)),
        )
    for resource in ("cpu", "memory"):
        yield from _below_request(
            source.resource,
            (*base, "limits", resource),
            f"{source.label}: {dotted((*base, 'limits', resource))}",
            limits.get(resource),
            requests.get(resource),
        )


def _check_annotations(workload: Workload) -> Iterator[Problem]:
    annotations = workload.annotations
    resource = workload.resource
    name = describe(resource)
    requested = [key for key in REQUEST_ANNOTATIONS.values() if key in annotations]
    if requested and _blank(annotations.get(LIMIT_ANNOTATIONS["memory"])):
        memory = REQUEST_ANNOTATIONS["memory"]
        key = memory if memory in requested else requested[0]
        yield Problem(
            resource,
            workload.annotation_path(key),
            f"{name} sets {key}: {annotations[key]} but no {LIMIT_ANNOTATIONS['memory']}: request "
            "annotations replace the mesh-wide proxy resources, so its sidecar runs without a "
            "memory limit",
        )
    for kind, limit_key in LIMIT_ANNOTATIONS.items():
        request_key = REQUEST_ANNOTATIONS[kind]
        yield from _below_request(
            resource,
            workload.annotation_path(limit_key),
            f"{name} annotation {limit_key}",
            annotations.get(limit_key),
            annotations.get(request_key),
        )


def _below_request(
    resource: Resource, path: KeyPath, what: str, limit: Any, request: Any
) -> Iterator[Problem]:
    limit_value, request_value = parse_quantity(limit), parse_quantity(request)
    if limit_value is None or request_value is None or limit_value >= request_value:
        return
    yield Problem(
        resource,
        path,
        f"{what} is {limit}, below its request of {request}: Kubernetes rejects a container "
        "whose limit is smaller than its request",
        identity=(*map(str, path), *file_scope(resource)),
    )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
