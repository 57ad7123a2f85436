"""Compare our reference rules with `istioctl analyze` on istioctl's own analyzer testdata.

istioctl's IST0101 (ReferencedResourceNotFound) for hosts, subsets and gateways and IST0132
(VirtualServiceHostNotFoundInGateway) overlap with host-not-found, subset-not-defined,
gateway-not-found and gateway-host-mismatch. The testdata and the messages istioctl expects on it
are transcribed in the `istio-analyzers` fixtures (EXPECTED.json). This module runs our rules on
each case's input files, compares per resource, and renders the summary kept in
`docs/parity.md`. Every difference must be listed in `DIFFERENCES` with its reason, and every
listed difference must still occur, so the table can neither hide a regression nor go stale.

Regenerate the document with `python -m tests.parity --write` (from the repository root).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rules.core.config import Config
from rules.core.engine import analyse
from rules.core.loader import SourceFile
from rules.mesh.hosts import GatewayHost, gateway_host, matches
from tests.helpers import FIXTURES

ANALYZERS = FIXTURES / "istio-analyzers"
DOC = Path(__file__).resolve().parents[1] / "docs" / "parity.md"

COMPARED: dict[tuple[str, str], str] = {
    ("virtualservice.DestinationHostAnalyzer", "IST0101"): "host-not-found",
    ("virtualservice.DestinationRuleAnalyzer", "IST0101"): "subset-not-defined",
    ("virtualservice.GatewayAnalyzer", "IST0101"): "gateway-not-found",
    ("virtualservice.GatewayAnalyzer", "IST0132"): "gateway-host-mismatch",
}
"""(istioctl analyzer, message code) -> the rule of ours that covers it."""

NOT_COMPARED: dict[tuple[str, str], str] = {
    (
        "sidecar.SelectorAnalyzer",
        "IST0101",
    ): "a Sidecar `workloadSelector` matching no pod: workload selection, not a host, subset or "
    "gateway reference",
    (
        "gateway.IngressGatewayPortAnalyzer",
        "IST0101",
    ): "a Gateway `selector` matching no ingress pod: needs the pods of the cluster",
    (
        "auth.AuthorizationPoliciesAnalyzer",
        "IST0101",
    ): "an AuthorizationPolicy naming a namespace absent from the cluster",
}
"""IST0101 messages about other kinds of reference, outside these rules."""

ISTIOCTL_ONLY, OURS_ONLY = "istioctl only", "ours only"

DIFFERENCES: dict[tuple[str, str, str], tuple[str, str]] = {
    (
        "virtualservice_destinationhosts.yaml",
        "IST0101",
        "VirtualService default/reviews-bogusport",
    ): (
        ISTIOCTL_ONLY,
        "the host exists; istioctl flags the destination port 999, which the Service does not "
        "expose. Ports are not part of host-not-found.",
    ),
    (
        "virtualservice_destinationhosts.yaml",
        "IST0101",
        "VirtualService default/reviews-bookinfo-other",
    ): (
        ISTIOCTL_ONLY,
        "other.bookinfo.com is an external domain, defined by a ServiceEntry exported only to its "
        "own namespace. host-not-found judges in-cluster hosts (name.ns.svc.<domain>) only: "
        "external domains are routinely defined outside the repository (egress config, DNS).",
    ),
    (
        "virtualservice_destinationhosts.yaml",
        "IST0101",
        "VirtualService hello/hello-export-to-bogus",
    ): (
        ISTIOCTL_ONLY,
        "the destination is visible in the VirtualService's namespace; istioctl judges it from "
        "the namespaces in the VirtualService's own exportTo (`bogus`). We judge a host from the "
        "namespace of the resource that names it.",
    ),
    ("virtualservice_gateways.yaml", "IST0132", "VirtualService default/httpbin-bogus"): (
        ISTIOCTL_ONLY,
        "the Gateway does not exist: istioctl reports both IST0101 and IST0132. We report "
        "gateway-not-found only; a host mismatch needs the Gateway's hosts.",
    ),
    (
        "virtualservice_kubernetes_gateways.yaml",
        "IST0132",
        "VirtualService default/my-vs-host-mismatch",
    ): (
        ISTIOCTL_ONLY,
        "the VirtualService is bound to a Kubernetes Gateway API Gateway (gateway.networking.k8s.io). "
        "gateway-not-found accepts such a binding, as istioctl does; gateway-host-mismatch judges "
        "the servers of networking.istio.io Gateways only (route-hostname-mismatch judges Gateway "
        "API listeners, for routes).",
    ),
}
"""(case file, code, resource) -> (direction, why we differ). Case by case, with reasons."""


NO_OFFLINE = (
    "none offline; IST0171 (NegativeConditionStatus) repeats the condition from a live "
    "cluster, for HTTPRoute and GRPCRoute only"
)
ANTICIPATED: dict[str, tuple[str, str, str]] = {
    "route-parent-not-found": (
        NO_OFFLINE,
        "route `Accepted: False`, reason `NoMatchingParent`",
        "`referenceAllowed` (parent Service not found), `extractParentReferenceInfo`",
    ),
    "route-not-attached": (
        NO_OFFLINE,
        "route `Accepted: False`, reason `NotAllowedByListeners` (namespace, kind) or "
        "`NoMatchingParent` (sectionName, port)",
        "`referenceAllowed`, `GenerateGatewaySupportedKinds`, `namespacesFromSelector`",
    ),
    "route-hostname-mismatch": (
        NO_OFFLINE,
        "route `Accepted: False`, reason `NoMatchingListenerHostname`; a hostname that matches "
        "no listener while others do is dropped with no condition",
        "`referenceAllowed` (hostname match)",
    ),
    "backend-not-found": (
        NO_OFFLINE,
        "route `ResolvedRefs: False`, reason `BackendNotFound`",
        "`buildDestination`",
    ),
    "reference-not-permitted": (
        NO_OFFLINE + "; for Gateways too",
        "route `ResolvedRefs: False`, reason `RefNotPermitted`; Gateway listener "
        "`ResolvedRefs: False`, reason `RefNotPermitted`",
        "`buildDestination` (`enforceRefGrant`), `buildTLS`, `ReferenceGrantsCollection`",
    ),
    "waypoint-missing": (
        "none offline; IST0171 repeats AuthorizationPolicy `ZtunnelAccepted` / `WaypointAccepted` "
        "and Service `istio.io/WaypointBound` from a live cluster",
        "AuthorizationPolicy `ZtunnelAccepted` with reason `UnsupportedValue` (HTTP attributes); "
        "`WaypointAccepted: False` with reason `TargetNotFound`, `AncestorNotBound` or `Invalid`; "
        "Service `istio.io/WaypointBound: False` (reason `UnsupportedTrafficType` when the "
        "waypoint takes other traffic); mesh route `ResolvedWaypoints` with reason "
        "`MissingUseWaypointLabel`",
        "`serviceregistry/ambient/authorization.go`, `policies.go`, `model/service.go`; "
        "`referenceAllowed`",
    ),
    "mixed-routing-apis": (
        "IST0109 (ConflictingMeshGatewayVirtualServiceHosts) for two VirtualServices only; an "
        "HTTPRoute becomes a VirtualService inside istiod, where no analyzer sees it",
        "none: for mesh traffic the older VirtualService wins, at a gateway they are merged by "
        "creation time, silently",
        "`convertHTTPRoute` (routes become VirtualServices)",
    ),
}
"""Gateway API and ambient rules -> (what istioctl analyze reports, the status condition Istio
sets at runtime, where Istio 1.32 decides it, under pilot/pkg/config/kube/gateway unless named).
istioctl has no offline analyzer for these: its ConditionAnalyzer (IST0171) only repeats the
status conditions a running istiod wrote on live resources."""


@dataclass
class CaseResult:
    file: str
    analyzer: str
    code: str
    rule: str
    istioctl: set[str]
    ours: set[str]

    @property
    def agreed(self) -> set[str]:
        return self.istioctl & self.ours


@dataclass
class Comparison:
    results: list[CaseResult] = field(default_factory=list)
    not_compared: list[tuple[str, str, int]] = field(default_factory=list)
    source: dict = field(default_factory=dict)

    def differences(self) -> list[tuple[tuple[str, str, str], str]]:
        """Every resource flagged on one side only: ((file, code, resource), direction)."""
        found = []
        for result in self.results:
            for resource in sorted(result.istioctl - result.ours):
                found.append(((result.file, result.code, resource), ISTIOCTL_ONLY))
            for resource in sorted(result.ours - result.istioctl):
                found.append(((result.file, result.code, resource), OURS_ONLY))
        return found


ISTIOCTL_NAMESPACE = "default"


def available() -> bool:
    return (ANALYZERS / "EXPECTED.json").is_file()


def load_cases() -> list[dict]:
    return json.loads((ANALYZERS / "EXPECTED.json").read_text())


def resource_of(origin: str) -> str:
    """`Kind ns/name`; istioctl's harness writes `Kind name` for objects without a namespace,
    which it applies to the `default` namespace, as `run_case` tells our analysis to."""
    kind, _, name = origin.partition(" ")
    return f"{kind} {name}" if "/" in name else f"{kind} {ISTIOCTL_NAMESPACE}/{name}"


def run_case(case: dict) -> dict[str, set[str]]:
    """Our findings on a case's input files: rule -> resources flagged."""
    files = [SourceFile(name, (ANALYZERS / name).read_text()) for name in case["input_files"]]
    flagged: dict[str, set[str]] = {}
    # istioctl analyze applies namespace-less files to its context's namespace, `default`; our
    # analysis does so only when told (`default_namespace`), else the namespace is unknown.
    for finding in analyse(files, config=Config(default_namespace=ISTIOCTL_NAMESPACE)).findings:
        ref = finding.resource
        flagged.setdefault(finding.rule, set()).add(f"{ref.kind} {ref.namespace}/{ref.name}")
    return flagged


def compare(cases: Iterable[dict] | None = None) -> Comparison:
    comparison = Comparison()
    sources = ANALYZERS / "SOURCES.json"
    comparison.source = json.loads(sources.read_text()) if sources.is_file() else {}
    for case in load_cases() if cases is None else cases:
        analyzer = case["analyzer"]
        codes = sorted({code for (name, code) in COMPARED if name == analyzer})
        ours = run_case(case) if codes else {}
        for code in codes:
            rule = COMPARED[(analyzer, code)]
            istioctl = {resource_of(m["origin"]) for m in case["expected"] if m["code"] == code}
            comparison.results.append(
                CaseResult(case["file"], analyzer, code, rule, istioctl, ours.get(rule, set()))
            )
        for (name, code), _ in NOT_COMPARED.items():
            if name == analyzer:
                count = sum(m["code"] == code for m in case["expected"])
                comparison.not_compared.append((case["file"], f"{name} {code}", count))
    return comparison


def istioctl_vs_host_in_gateway(
    gateway_hosts: list[str], gateway_namespace: str, vs_hosts: list[str], vs_namespace: str
) -> bool:
    """A port of istioctl's `vsHostInGateway` (pkg/config/analysis/analyzers/virtualservice/
    gateways.go): true as soon as ANY VirtualService host matches ANY server host. This is why
    IST0132 misses a VirtualService where one host is served and another is not."""
    parsed: list[GatewayHost] = [gateway_host(h, gateway_namespace) for h in gateway_hosts]
    return any(
        (g.namespace == "*" or g.namespace == vs_namespace) and matches(g.host, h)
        for g in parsed
        for h in vs_hosts
    )


def render(comparison: Comparison) -> str:
    """The summary in Markdown: what agrees, what differs and why, what is not compared."""
    source = comparison.source
    origin = (
        f"`{source.get('repo', 'istio/istio')}` at `{source.get('commit', '?')[:12]}`, "
        f"`{source.get('testdata_dir', 'testdata')}`"
    )
    total = sum(len(r.istioctl) for r in comparison.results)
    agreed = sum(len(r.agreed) for r in comparison.results)
    negatives = sum(1 for r in comparison.results if not r.istioctl and not r.ours)
    lines = [
        "# Parity with istioctl analyze",
        "",
        "<!-- Generated by `python -m tests.parity --write`; tests/test_parity.py fails when it is stale. -->",
        "",
        f"istioctl's analyzer testdata ({origin}) and the messages istioctl's own tests expect on "
        "it, compared per resource with our rules:",
        "",
        "| istioctl | our rule |",
        "|---|---|",
        *(f"| {analyzer} {code} | `{rule}` |" for (analyzer, code), rule in COMPARED.items()),
        "",
        f"**{agreed} of {total}** resources istioctl flags are flagged by the matching rule; "
        f"{len(comparison.differences())} differences, each explained below; "
        f"{negatives} case/code pairs where neither side flags anything (negative controls). "
        "Each istioctl case runs one analyzer, so only the matching rule's findings are compared "
        "(our other rules, such as short-host-name, also speak on this testdata).",
        "",
        "## Cases",
        "",
        "| case | code | rule | istioctl | ours | agreed |",
        "|---|---|---|---|---|---|",
    ]
    for r in comparison.results:
        lines.append(
            f"| {r.file} | {r.code} | `{r.rule}` | {len(r.istioctl)} | {len(r.ours)} | {len(r.agreed)} |"
        )
    lines += [
        "",
        "## Differences, case by case",
        "",
        "| case | resource | flagged by | why |",
        "|---|---|---|---|",
    ]
    for (file, code, resource), direction in comparison.differences():
        reason = DIFFERENCES.get((file, code, resource), ("", "**unexplained**"))[1]
        lines.append(f"| {file} ({code}) | {resource} | {direction} | {reason} |")
    lines += [
        "",
        "## Stricter than IST0132",
        "",
        "istioctl's IST0132 is silent as soon as one host of a VirtualService matches the Gateway "
        "(`vsHostInGateway` returns on the first match). gateway-host-mismatch judges every host: "
        "a VirtualService with hosts `testing-01.com` and `wrong-01.com` bound to a Gateway serving "
        "`testing-01.com` is an error on `wrong-01.com` for us and silent for istioctl "
        "(tests/test_parity.py checks both, with a port of istioctl's function that reproduces "
        "its expected IST0132 messages on the testdata).",
        "",
        "## Not compared",
        "",
        "| case | istioctl message | count | why |",
        "|---|---|---|---|",
    ]
    for file, what, count in comparison.not_compared:
        analyzer, code = what.rsplit(" ", 1)
        lines.append(f"| {file} | {what} | {count} | {NOT_COMPARED[(analyzer, code)]} |")
    lines += [
        "",
        "## Gateway API and ambient: what these rules anticipate",
        "",
        "istioctl analyze has no offline analyzer for the Gateway API footguns: Istio reports them "
        "only at runtime, as status conditions on the route, Gateway, AuthorizationPolicy or "
        "Service, and istioctl's ConditionAnalyzer (IST0171 NegativeConditionStatus) repeats "
        "those conditions only when it reads a live cluster. Each rule below reports from the "
        "manifests what Istio would later write into a status nobody reads. (Istio 1.32, "
        "`pilot/pkg/config/kube/gateway` unless named.)",
        "",
        "| rule | istioctl analyze | runtime condition | where Istio decides it |",
        "|---|---|---|---|",
        *(
            f"| `{rule}` | {offline} | {condition} | {where} |"
            for rule, (offline, condition, where) in ANTICIPATED.items()
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if not available():
        print("istio-analyzers fixtures not found", file=sys.stderr)
        return 2
    text = render(compare())
    if "--write" in argv:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
