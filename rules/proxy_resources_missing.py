"""Sidecar proxies without a memory limit, or with limits below their requests.

Envoy's memory grows with connections, stats and xDS config. A proxy that is OOM-killed drops all
traffic of its pod for the 10-30 s of its restart, and the application never sees why.

Judged on what the injector really gives a sidecar (istio/istio 1.30.3, istiod chart
`values.yaml` and `files/injection-template.yaml`; the same since 1.7):

- Without proxy annotations, a pod gets the chart's `global.proxy.resources` after the chart's
  merge of values (see `rules/mesh/istiod_chart.py`): requests 100m / 128Mi and limits 2000m /
  1024Mi unless the values change them. A memory limit is gone only where values set it (or a
  mapping above it) to `null`; an empty mapping (`limits: {}`) merges and removes nothing.
  Values are judged in an IstioOperator's `spec.values`, an istiod Helm values file, and any
  other mesh config source with values.
- When a pod sets any of `sidecar.istio.io/proxyCPU`, `proxyMemory`, `proxyCPULimit`,
  `proxyMemoryLimit`, the template uses only these annotations and none of the mesh-wide
  resources: without `proxyMemoryLimit` the sidecar has no memory limit (`proxyCPU` alone, or
  only `proxyCPULimit`, included).
- A limit below its request (effective values, or the annotations) makes Kubernetes reject the
  pod: for example a `requests.memory` of 2Gi under the default 1024Mi limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.document import KeyPath
from rules.core.loader import WORKLOAD_KINDS
from rules.core.model import Problem, Resource, describe
from rules.mesh.index import Workload
from rules.mesh.istiod_chart import PROXY_RESOURCES, effective_proxy_resources
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
    "On a pod that sets any `sidecar.istio.io/proxy*` resource annotation, also set "
    "`sidecar.istio.io/proxyMemoryLimit` (and `proxyCPULimit`), at least as large as the "
    "requests. In the mesh's values, do not set `global.proxy.resources.limits.memory` (or a "
    "mapping above it) to null: leave the chart's default or set a limit sized for the mesh, "
    "at least as large as `requests.memory`."
)
FAIL = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ledger
  namespace: payments
spec:
  template:
    metadata:
      annotations:
        sidecar.istio.io/proxyCPU: 100m
        sidecar.istio.io/proxyMemory: 128Mi
    spec:
      containers:
      - name: ledger
        image: example/ledger:1.4.2
"""
PASS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ledger
  namespace: payments
spec:
  template:
    metadata:
      annotations:
        sidecar.istio.io/proxyCPU: 100m
        sidecar.istio.io/proxyMemory: 128Mi
        sidecar.istio.io/proxyCPULimit: 500m
        sidecar.istio.io/proxyMemoryLimit: 256Mi
    spec:
      containers:
      - name: ledger
        image: example/ledger:1.4.2
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset(
    {"IstioOperator", "HelmValues", "Application", "HelmRelease", "Istio", "Namespace"}
)
"""What problems depend on beyond their own resource (`rules.core.reuse`). Values are judged with
the layers below them, read off the mesh config kinds that carry values (not the `istio`
ConfigMap, which has none and no profile), and an ambient-profile install only where a Namespace
object is labelled for injection; a pod by its own annotations."""

ANNOTATION = "sidecar.istio.io/"
REQUEST_ANNOTATIONS = {"cpu": ANNOTATION + "proxyCPU", "memory": ANNOTATION + "proxyMemory"}
LIMIT_ANNOTATIONS = {"cpu": ANNOTATION + "proxyCPULimit", "memory": ANNOTATION + "proxyMemoryLimit"}
RESOURCE_ANNOTATIONS = (*REQUEST_ANNOTATIONS.values(), *LIMIT_ANNOTATIONS.values())
RESOURCES_PATH = ("global", "proxy", "resources")


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    sources = [s for s in ctx.index.sidecar_mesh_configs() if s.values_path is not None]
    for source in sources:
        yield from _check_values(source, covered_by_layers(source, sources, _sets_memory_limit))
    for workload in ctx.index.workloads():
        if workload.has_proxy:
            yield from _check_annotations(workload)


def _sets_memory_limit(source: MeshConfigSource) -> bool:
    """The values themselves set a memory limit (not null, not blank)."""
    node: Any = source.values
    for key in (*RESOURCES_PATH, "limits", "memory"):
        node = node.get(key) if isinstance(node, dict) else None
    return not _blank(node)


def _check_values(source: MeshConfigSource, layered_limit: bool) -> Iterator[Problem]:
    """`layered_limit`: a base layer of this values file sets the memory limit already."""
    values = mapping(source.values)
    prefix = tuple(source.values_path or ())
    effective = effective_proxy_resources(values, source.profile)
    limits = mapping(mapping(effective).get("limits"))
    requests = mapping(mapping(effective).get("requests"))
    if _blank(limits.get("memory")) and not layered_limit:
        removed = _removing_key(values)
        path = (*prefix, *removed)
        state = "blank" if removed[-1] == "memory" and values_at(values, removed) == "" else "null"
        yield Problem(
            source.resource,
            path,
            f"{source.label}: {dotted(path)} is {state}, which removes the istiod chart's default "
            f"proxy memory limit ({PROXY_RESOURCES['limits']['memory']}), so sidecar proxies "
            "run without a memory limit",
            identity=(
                *map(str, (*prefix, *RESOURCES_PATH, "limits", "memory")),
                *file_scope(source.resource),
            ),
        )
    user = values_at(values, RESOURCES_PATH)
    for resource in ("cpu", "memory"):
        limit, request = limits.get(resource), requests.get(resource)
        limit_is_user = values_at(user, ("limits", resource)) is not None
        if not limit_is_user and values_at(user, ("requests", resource)) is None:
            continue  # both are the chart's (or the profile's): Istio keeps them consistent
        at = "limits" if limit_is_user else "requests"
        path = (*prefix, *RESOURCES_PATH, at, resource)
        origin = "" if limit_is_user else " (the istiod chart's default)"
        yield from _below_request(
            source.resource,
            path,
            f"{source.label}: {dotted((*prefix, *RESOURCES_PATH, 'limits', resource))}",
            limit,
            request,
            origin,
        )


def values_at(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _removing_key(values: dict[str, Any]) -> tuple[str, ...]:
    """The key path, down to `global.proxy.resources.limits.memory`, that set it to nothing."""
    node: Any = values
    path: tuple[str, ...] = ()
    for key in (*RESOURCES_PATH, "limits", "memory"):
        if not isinstance(node, dict) or key not in node:
            break
        path = (*path, key)
        node = node[key]
        if _blank(node):
            return path
    return path or RESOURCES_PATH


def _check_annotations(workload: Workload) -> Iterator[Problem]:
    annotations = workload.annotations
    resource = workload.resource
    name = describe(resource)
    present = [key for key in RESOURCE_ANNOTATIONS if key in annotations]
    if not present:
        return  # the mesh-wide resources apply, judged on the mesh config
    memory_limit = LIMIT_ANNOTATIONS["memory"]
    if _blank(annotations.get(memory_limit)):
        memory = REQUEST_ANNOTATIONS["memory"]
        key = memory if memory in present else present[0]
        yield Problem(
            resource,
            workload.annotation_path(key),
            f"{name} sets {key}: {annotations[key]} but no {memory_limit}: once any "
            "sidecar.istio.io/proxy* resource annotation is set, the injector uses only these "
            "annotations and none of the mesh-wide resources, so its sidecar runs without a "
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
    resource: Resource, path: KeyPath, what: str, limit: Any, request: Any, origin: str = ""
) -> Iterator[Problem]:
    limit_value, request_value = parse_quantity(limit), parse_quantity(request)
    if limit_value is None or request_value is None or limit_value >= request_value:
        return
    yield Problem(
        resource,
        path,
        f"{what} is {limit}{origin}, below its request of {request}: Kubernetes rejects a "
        "container whose limit is smaller than its request",
        identity=(*map(str, path), *file_scope(resource)),
    )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
