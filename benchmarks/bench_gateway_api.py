"""Time the Gateway API and ambient rules on many routes attached to one shared Gateway.

    python benchmarks/bench_gateway_api.py [--routes 2000] [--listeners 20] [--runs 5]

A shared ingress Gateway with many listeners (one per hostname) and thousands of HTTPRoutes in
50 namespaces is the layout where these rules do the most work: every route is matched against
every listener (namespace, kind, sectionName, port, hostnames). Prints the median time of each
rule over `--runs` runs, loading excluded (it is measured by bench_cli.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rules as registry
from rules.core.config import Config
from rules.core.context import Context
from rules.core.loader import SourceFile, load

RULES = (
    "route-parent-not-found",
    "route-not-attached",
    "route-hostname-mismatch",
    "backend-not-found",
    "reference-not-permitted",
    "waypoint-missing",
    "mixed-routing-apis",
)


def manifests(routes: int, listeners: int) -> str:
    """One Gateway; routes whose hostnames are served by a listener for 4 in 5 of them."""
    entries = "".join(
        f"  - {{name: l{i}, port: {8000 + i}, protocol: HTTP, hostname: h{i}.example.com, "
        "allowedRoutes: {namespaces: {from: All}}}\n"
        for i in range(listeners)
    )
    gateway = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
        "metadata: {name: public, namespace: ingress}\n"
        f"spec:\n  gatewayClassName: istio\n  listeners:\n{entries}"
    )
    hosts = listeners + listeners // 4
    docs = [gateway] + [
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
        f"metadata: {{name: r{i}, namespace: ns{i % 50}}}\n"
        "spec:\n  parentRefs: [{name: public, namespace: ingress}]\n"
        f"  hostnames: [h{i % hosts}.example.com]\n"
        f"  rules: [{{backendRefs: [{{name: svc{i}, port: 80}}]}}]\n"
        for i in range(routes)
    ]
    return "---\n".join(docs)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--routes", type=int, default=2000)
    parser.add_argument("--listeners", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    text = manifests(args.routes, args.listeners)
    resources, _ = load([SourceFile("routes.yaml", text)])
    print(
        f"{args.routes} HTTPRoutes, 1 Gateway with {args.listeners} listeners, {len(text):,} bytes"
    )
    for rule_id in RULES:
        rule = registry.get(rule_id)
        times, found = [], 0
        for _ in range(args.runs):
            context = Context(resources, Config())  # a fresh index each run, as per revision
            start = time.perf_counter()
            found = sum(1 for _ in rule.check(context, dict(rule.OPTIONS)))
            times.append(time.perf_counter() - start)
        print(f"{rule_id:26} {statistics.median(times) * 1000:7.0f} ms  {found} findings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
