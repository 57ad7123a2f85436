"""A namespace chooses its sidecar injector with `istio-injection: enabled`, not a revision.

`istio-injection: enabled` binds the namespace to whichever control plane is the default, so a
control plane upgrade moves every such namespace at once. `istio.io/rev` pins a revision and lets
namespaces move one at a time during a canary upgrade. When a namespace has both labels,
`istio-injection` wins and the revision is silently ignored.

Istio fact (istio/istio 1.30.3, `istio-discovery/templates/mutatingwebhook.yaml`, the same since
revisions arrived in 1.6): the revision webhooks select namespaces with `istio.io/rev` only where
`istio-injection` does not exist, and `istio-injection: enabled` selects the default revision's
webhook; so with both labels `istio-injection` wins, and `istio-injection: disabled` beside a
revision label injects nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, describe

ID = "revision-label"
SEVERITY = "warning"
KINDS = ("Namespace",)
SUMMARY = "A Namespace uses `istio-injection: enabled` instead of an `istio.io/rev` revision."
WHY = (
    "Namespaces labelled `istio-injection: enabled` follow the default control plane: they "
    "cannot be moved to a canary revision one at a time, so upgrades become all-or-nothing. "
    "With both labels, `istio-injection` wins and the `istio.io/rev` revision is ignored."
)
FIX = (
    "Replace `istio-injection: enabled` with `istio.io/rev: <revision>` (for example "
    "`kubectl label namespace bookinfo istio.io/rev=1-24 istio-injection-`)."
)
FAIL = """\
apiVersion: v1
kind: Namespace
metadata:
  name: bookinfo
  labels:
    istio-injection: enabled
"""
PASS = """\
apiVersion: v1
kind: Namespace
metadata:
  name: bookinfo
  labels:
    istio.io/rev: 1-24
"""
OPTIONS: dict[str, Any] = {}
READS: frozenset[str] = frozenset()
"""What problems depend on beyond their own resource (`rules.core.reuse`). The labels are read off
the Namespace alone."""

INJECTION = "istio-injection"
REVISION = "istio.io/rev"


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    for namespace in ctx.of_kind("Namespace"):
        labels = namespace.labels
        if str(labels.get(INJECTION)) != "enabled":
            continue
        revision = labels.get(REVISION)
        if revision not in (None, ""):
            message = (
                f"{describe(namespace)} has both {INJECTION}: enabled and {REVISION}: "
                f"{revision}: {INJECTION} wins, so revision {revision} is ignored and the "
                "namespace follows the default control plane"
            )
        else:
            message = (
                f"{describe(namespace)} is labelled {INJECTION}: enabled: it follows the "
                "default control plane and cannot move to a canary revision on its own"
            )
        yield Problem(namespace, ("metadata", "labels", INJECTION), message)
