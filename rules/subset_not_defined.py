"""A VirtualService routes to a subset that no DestinationRule for that host defines.

Subsets live in DestinationRules, routes in VirtualServices, often in different files or
pull requests: remove `v1` from a DestinationRule while a route still sends traffic to it, and
that route fails with 503s (no healthy upstream) from the moment the change is applied.

Istio facts (istio/istio 1.30.3): a route to an undefined subset has no cluster and fails with
503s; istioctl reports it (`analyzers/virtualservice/destinationrules.go`, IST0101 for the
host+subset). istiod merges the DestinationRules of one host that have no workload selector,
concatenating their subsets by name (`pilot/pkg/model/destination_rule.go`), so their union
counts here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.model import Problem, describe
from rules.mesh.references import destinations

ID = "subset-not-defined"
SEVERITY = "error"
KINDS = ("VirtualService",)
SUMMARY = "A route or mirror sends traffic to a subset no DestinationRule defines."
WHY = (
    "Envoy has no cluster for an undefined subset: every request the route sends there fails "
    "with 503 (no healthy upstream). The VirtualService and the DestinationRule are usually "
    "changed separately, so the break often comes from a pull request that never touches the "
    "route."
)
FIX = (
    "Define the subset in the DestinationRule for that host (mind the namespace a short host "
    "resolves in), or route to a subset that exists. Apply new subsets before the routes that "
    "use them, and remove routes before the subsets they use."
)
FAIL = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: bookinfo
spec:
  host: reviews.bookinfo.svc.cluster.local
  subsets:
  - name: v1
    labels:
      version: v1
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: bookinfo
spec:
  hosts:
  - reviews.bookinfo.svc.cluster.local
  http:
  - route:
    - destination:
        host: reviews.bookinfo.svc.cluster.local
        subset: v2
"""
PASS = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: bookinfo
spec:
  host: reviews.bookinfo.svc.cluster.local
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: bookinfo
spec:
  hosts:
  - reviews.bookinfo.svc.cluster.local
  http:
  - route:
    - destination:
        host: reviews.bookinfo.svc.cluster.local
        subset: v2
"""
OPTIONS: dict[str, Any] = {}
READS = frozenset({"DestinationRule"})
"""What problems depend on beyond their own resource (`rules.core.reuse`). The subsets of a host
are read off DestinationRules."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    index = ctx.index
    for vs in ctx.of_kind("VirtualService"):
        for ref in destinations(vs):
            if not _is_subset_name(ref.subset):
                continue
            subset = str(ref.subset)
            defined = index.subsets_for(ref.host, vs.scope)
            if subset in defined:
                continue
            fqdn = index.canonical_host(ref.host, vs.scope)
            rules = index.destination_rules_for(ref.host, vs.scope)
            if not rules and (
                index.in_unknown_scope(ref.host, vs.scope)
                or index.rule_maybe_anywhere(ref.host, vs.scope)
            ):
                # The DestinationRule may live where the repository does not show (the namespace
                # this one is applied to) or be one of unknown namespace: not known to be missing.
                continue
            shown = ref.host if "." in ref.host or vs.namespace is None else f"{ref.host} ({fqdn})"
            if rules:
                names = ", ".join(describe(r) for r in rules[:3]) + (
                    f" and {len(rules) - 3} more" if len(rules) > 3 else ""
                )
                known = (
                    f"subsets defined: {', '.join(sorted(defined))}"
                    if defined
                    else ("no subsets defined")
                )
                why = f"no DestinationRule for that host defines it ({known}; in {names})"
            else:
                why = "no DestinationRule in this repository has that host"
            yield Problem(
                vs,
                ref.subset_path,
                f"{describe(vs)} sends traffic to subset '{subset}' of {shown}, but {why}",
            )


def _is_subset_name(value: object) -> bool:
    """A subset written as a name: `v1`, or `1` (YAML reads an int; Istio reads "1")."""
    return isinstance(value, str | int) and not isinstance(value, bool) and value != ""
