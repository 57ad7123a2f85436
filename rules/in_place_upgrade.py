"""An IstioOperator changes the Istio version of an existing control plane in place.

Bumping `tag` or `hub` without a new `revision` replaces the running istiod: sidecars briefly
talk to a control plane of another version, and there is no old istiod left to roll back to.
A canary upgrade installs the new version under a new revision beside the old one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.document import KeyPath
from rules.core.model import Problem, Resource, describe
from rules.mesh.mesh_config import INSTALL_GROUP, dotted, enables_pilot, file_scope, mapping

ID = "in-place-upgrade"
SEVERITY = "error"
KINDS = ("IstioOperator",)
SUMMARY = "An IstioOperator changes the Istio version without a new revision."
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


def _counterpart(operator: Resource, candidates: list[Resource]) -> Resource | None:
    """The base operator with the same namespace/name; the same file decides between several
    (IstioOperator files often carry no name, and istioctl does not need one)."""
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
