"""Where VirtualServices and DestinationRules name hosts, and robustness on malformed specs."""

import pytest

from rules.core.loader import load
from rules.mesh.references import host_references
from tests.helpers import files, run

VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: all, namespace: shop}
spec:
  hosts: [a, b.shop]
  http:
  - route:
    - destination: {host: c, subset: v1}
    mirror: {host: d}
    mirrors:
    - destination: {host: e, subset: shadow}
  tcp:
  - route:
    - destination: {host: f}
  tls:
  - route:
    - destination: {host: g}
"""


def test_every_host_of_a_virtual_service_with_its_path_role_and_subset():
    [vs], _ = load(files({"vs.yaml": VS}))
    refs = [(r.path, r.host, r.role, r.subset) for r in host_references(vs)]
    assert refs == [
        (("spec", "hosts", 0), "a", "host", None),
        (("spec", "hosts", 1), "b.shop", "host", None),
        (("spec", "http", 0, "route", 0, "destination", "host"), "c", "destination host", "v1"),
        (("spec", "http", 0, "mirror", "host"), "d", "mirror host", None),
        (("spec", "http", 0, "mirrors", 0, "destination", "host"), "e", "mirror host", "shadow"),
        (("spec", "tcp", 0, "route", 0, "destination", "host"), "f", "destination host", None),
        (("spec", "tls", 0, "route", 0, "destination", "host"), "g", "destination host", None),
    ]


MALFORMED = [
    "spec: {hosts: reviews, gateways: {a: b}, http: {route: x}}",
    "spec: {hosts: [null, 3, ''], gateways: [null, 3, ''], http: [null, x, {route: [null, {destination: 3}]}]}",
    "spec: {http: [{route: [{destination: {host: [a], subset: {x: 1}}}], mirror: [1], mirrors: {a: 1}}]}",
    "spec: {tcp: [{route: [{destination: {host: 7, subset: 8}}]}], tls: x}",
    "spec: [1, 2]",
    "spec: null",
]


@pytest.mark.parametrize("spec", MALFORMED)
def test_malformed_specs_never_crash_the_rules(spec):
    others = """\
apiVersion: v1
kind: Service
metadata: {name: s, namespace: shop}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: g, namespace: shop}
spec: {servers: [{hosts: 3}, {hosts: [x/y/z, "./"]}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d, namespace: shop}
spec: {host: 5, subsets: [{name: 1}, null, x]}
---
"""
    document = f"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: v, namespace: shop}}\n{spec}\n"
    report = run(others + document)
    assert not report.skipped
    assert all(f.line >= 1 and f.column >= 1 for f in report.findings)
