"""A change upgrades the Istio control plane in place instead of beside the old one.

Bumping `tag` or `hub` without a new `revision` replaces the running istiod: sidecars briefly
talk to a control plane of another version, and there is no old istiod left to roll back to.
A canary upgrade installs the new version under a new revision beside the old one.

Istio facts (Istio's upgrade docs, canary upgrades since 1.6): `revision` gives each control
plane its own istiod and injector, so a new version installs beside the old one and namespaces
move with `istio.io/rev`; the same revision with a new `tag`/`hub` (or `values.global.tag` /
`values.global.hub`) upgrades the running istiod in place, which the docs call the less safe
method.

Where the control plane is installed, and what counts (facts from Istio's "Upgrade with Helm"
and "Canary upgrades" guides, 1.20-1.28, and the Sail Operator's update strategies):

- IstioOperator: `tag`, `hub` (and their `values.global` twins) change while `revision` is
  empty or unchanged, or the revision is removed.
- The `istiod` Helm chart installed by an Argo CD Application (`targetRevision` of a source
  with `chart: istiod`) or a Flux HelmRelease (`spec.chart.spec.version`): a new chart version
  on the same Application / HelmRelease is `helm upgrade` of the same release, the in-place
  path; Istio's canary path installs a second istiod release with `revision=<new>`. So a
  version change is flagged unless the values set a new `revision`. (Values held in files or
  ConfigMaps are not read here: with those and no inline revision, nothing is said.) The
  `base`, `gateway`, `cni` and `ztunnel` charts are not flagged: Istio's canary procedure
  upgrades `base` in place first (it holds cluster-wide CRDs), documents in-place gateway
  upgrades, and does not support canary upgrades of ztunnel (and so of the CNI node agent).
- The Sail Operator's `Istio` (sailoperator.io): `spec.version` changes while
  `spec.updateStrategy.type` is `InPlace`, which is the default. InPlace runs one control plane
  revision and swaps it; `RevisionBased` creates a new IstioRevision beside the old one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.document import KeyPath
from rules.core.model import Problem, Resource, describe
from rules.mesh.mesh_config import (
    INSTALL_GROUP,
    ISTIOD_CHART,
    SAIL_GROUP,
    ChartInstall,
    chart_installs,
    dotted,
    enables_pilot,
    file_scope,
    mapping,
)

ID = "in-place-upgrade"
SEVERITY = "error"
KINDS = ("IstioOperator", "Application", "HelmRelease", "Istio")
SUMMARY = "The control plane changes version in place (IstioOperator, istiod chart, Sail Istio)."
WHY = (
    "An in-place control plane upgrade swaps istiod under running sidecars: across some "
    "version pairs xDS changes drop connections or fail config pushes, and with the old "
    "istiod gone there is no rollback path."
)
FIX = (
    "Install the new version as a new revision (a new IstioOperator with `revision: 1-25`) "
    "beside the old one, move namespaces over with the `istio.io/rev` label and restart their "
    "workloads, then remove the old revision."
)
FAIL = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: control-plane
  namespace: istio-system
spec:
  tag: 1.25.0
"""
PASS = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: control-plane
  namespace: istio-system
spec:
  revision: 1-25
  tag: 1.25.0
  meshConfig:
    defaultConfig:
      holdApplicationUntilProxyStarts: true
  values:
    global:
      proxy:
        resources:
          limits: {cpu: 500m, memory: 256Mi}
"""
BASE = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: control-plane
  namespace: istio-system
spec:
  tag: 1.24.2
"""
"""The base revision the FAIL and PASS examples are judged against (the rule compares)."""
OPTIONS: dict[str, Any] = {}
COMPARES = frozenset({"IstioOperator", "Application", "HelmRelease", "Istio"})
"""What findings compare between base and head (`rules.core.reuse`). An upgrade is a control plane
whose version differs between base and head: with the same installs at both, there is none."""

VERSION_KEYS: tuple[KeyPath, ...] = (
    ("spec", "tag"),
    ("spec", "hub"),
    ("spec", "values", "global", "tag"),
    ("spec", "values", "global", "hub"),
)


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    if ctx.base is None:
        return
    before: dict[tuple[str | None, str], list[Resource]] = defaultdict(list)
    for operator in _control_planes(ctx.base.of_kind("IstioOperator")):
        before[(operator.namespace, operator.name)].append(operator)
    for operator in _control_planes(ctx.of_kind("IstioOperator")):
        old = _counterpart(operator, before.get((operator.namespace, operator.name), []))
        if old is not None:
            yield from _compare(old, operator)
    yield from _chart_upgrades(ctx)
    yield from _sail_upgrades(ctx)


def _istiod_installs(resources: Any) -> dict[tuple[Any, ...], ChartInstall]:
    found: dict[tuple[Any, ...], ChartInstall] = {}
    for resource in resources:
        for install in chart_installs(resource):
            if install.chart == ISTIOD_CHART:
                key = (resource.kind, resource.namespace, resource.name, install.source)
                found.setdefault(key, install)
    return found


def _chart_upgrades(ctx: Context) -> Iterator[Problem]:
    """The istiod chart's version changes on the same Application or HelmRelease."""
    assert ctx.base is not None
    before = _istiod_installs(ctx.base.of_kind("Application", "HelmRelease"))
    for key, new in _istiod_installs(ctx.of_kind("Application", "HelmRelease")).items():
        old = before.get(key)
        if old is None or old.version is None or new.version is None:
            continue
        if old.version == new.version:
            continue
        if new.revision and new.revision != old.revision:
            continue  # a new revision: a canary beside the old control plane
        if new.external_values and not new.revision:
            continue  # the revision may be set in a values file we do not read here
        where = f"revision {new.revision} unchanged" if new.revision else "no revision"
        yield Problem(
            new.resource,
            new.version_path,
            f"{describe(new.resource)} upgrades the istiod chart in place ({old.version} -> "
            f"{new.version}, {where}): the running istiod is replaced under live sidecars and "
            "cannot be rolled back; install the new version as a second istiod release with a "
            "new `revision` value instead",
            identity=("istiod-chart", *map(str, new.source), "version"),
        )


def _sail_upgrades(ctx: Context) -> Iterator[Problem]:
    """A Sail `Istio` changes `spec.version` under the InPlace update strategy (the default)."""
    assert ctx.base is not None
    before: dict[str, list[Resource]] = defaultdict(list)
    for resource in ctx.base.of_kind("Istio"):
        if resource.group == SAIL_GROUP:
            before[resource.name].append(resource)
    for istio in ctx.of_kind("Istio"):
        # One `Istio` per cluster: two of one name (two clusters' folders) pair by file.
        old = _counterpart(istio, before.get(istio.name, []))
        if istio.group != SAIL_GROUP or old is None:
            continue
        old_version, new_version = _text(old.spec.get("version")), _text(istio.spec.get("version"))
        if old_version is None or new_version is None or old_version == new_version:
            continue
        strategy = mapping(istio.spec.get("updateStrategy")).get("type") or "InPlace"
        if strategy != "InPlace":
            continue
        default = "" if "updateStrategy" in istio.spec else "default "
        message = (
            f"{describe(istio)} moves spec.version {old_version} -> {new_version} with the "
            f"{default}InPlace strategy: the operator swaps the running control plane under "
            "live sidecars; spec.updateStrategy.type: RevisionBased installs a canary revision"
        )
        yield Problem(istio, ("spec", "version"), message, identity=("spec", "version"))


def _counterpart(operator: Resource, candidates: list[Resource]) -> Resource | None:
    """The base resource with the same namespace/name; the same file decides between several
    (IstioOperator files often carry no name, and istioctl does not need one; a repository of
    several clusters holds one Sail `Istio` named `default` per cluster)."""
    if len(candidates) == 1:
        return candidates[0]
    return next((c for c in candidates if c.path == operator.path), None)


def _compare(old: Resource, new: Resource) -> Iterator[Problem]:
    old_revision, new_revision = _revision(old), _revision(new)
    if new_revision and new_revision != old_revision:
        return
    changes = [
        (path, _get(old, path), _get(new, path))
        for path in VERSION_KEYS
        if _text(_get(old, path)) != _text(_get(new, path))
    ]
    name = describe(new)
    if old_revision and not new_revision:
        consequence = (
            f"removes revision {old_revision}: applying it replaces that control plane in place "
            "instead of installing a canary beside it"
        )
    elif changes:
        consequence = (
            f"changes the Istio version in place (revision "
            f"{'unchanged: ' + new_revision if new_revision else 'empty'}): the running istiod "
            "is replaced under live sidecars and cannot be rolled back"
        )
    else:
        return
    described = "; ".join(
        f"{dotted(path)} {_shown(old_value)} -> {_shown(new_value)}"
        for path, old_value, new_value in changes
    )
    path = next((p for p, _, new_value in changes if new_value is not None), None)
    if path is None:
        path = ("spec", "revision") if "revision" in new.spec else ("spec",)
    yield Problem(
        new,
        path,
        f"{name} {consequence}{' (' + described + ')' if described else ''}",
        identity=("spec", "version", *file_scope(new)),
    )


def _control_planes(operators: Any) -> Iterator[Resource]:
    """IstioOperators that install istiod: gateway-only ones may be upgraded in place."""
    for operator in operators:
        if operator.group == INSTALL_GROUP and enables_pilot(operator):
            yield operator


def _revision(operator: Resource) -> str:
    revision = operator.spec.get("revision")
    return str(revision).strip() if revision not in (None, "") else ""


def _get(resource: Resource, path: KeyPath) -> Any:
    node: Any = resource.body
    for key in path:
        node = mapping(node).get(str(key))
    return None if node == "" else node


def _text(value: Any) -> str | None:
    """Compare versions as text: quoting a tag (`1.24` vs `"1.24"`) is no upgrade."""
    return None if value is None else str(value)


def _shown(value: Any) -> str:
    return "(unset)" if value is None else str(value)
