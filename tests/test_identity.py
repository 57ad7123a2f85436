"""Findings per target: a fault added in prod/ is new even when dev/ has the same one, while a
rename or move that changes nothing deployed creates nothing new (DESIGN, "Targets")."""

from rules.core.engine import mark_new
from rules.core.model import Finding, ResourceRef
from tests.helpers import findings_of

FAULT = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews}}
spec:
  hosts: [reviews.bookinfo.svc.cluster.local]
  http:
  - fault:
      abort:
        percentage: {{value: {percent}}}
        httpStatus: 503
    route:
    - destination: {{host: reviews.bookinfo.svc.cluster.local}}
"""


def faults(head, base=None):
    return findings_of("fault-injection", head, base)


def test_a_fault_added_in_prod_is_new_although_dev_has_the_same():
    base = {"dev/vs.yaml": FAULT.format(percent=50)}
    head = {**base, "prod/vs.yaml": FAULT.format(percent=100)}
    found = {f.path: f.new for f in faults(head, base)}
    assert found == {"dev/vs.yaml": False, "prod/vs.yaml": True}


def test_the_two_copies_have_distinct_fingerprints():
    head = {"dev/vs.yaml": FAULT.format(percent=50), "prod/vs.yaml": FAULT.format(percent=100)}
    dev, prod = faults(head)
    assert dev.fingerprint != prod.fingerprint
    assert dev.key == prod.key  # the same finding, deployed twice


def test_a_renamed_folder_creates_nothing_new_and_keeps_fingerprints():
    base = {"dev/vs.yaml": FAULT.format(percent=50), "prod/vs.yaml": FAULT.format(percent=50)}
    head = {"dev/vs.yaml": base["dev/vs.yaml"], "production/vs.yaml": base["prod/vs.yaml"]}
    before = {f.path: f.fingerprint for f in faults(base)}
    after = faults(head, base)
    assert [f.new for f in after] == [False, False]
    assert {f.fingerprint for f in after} == set(before.values())


def test_a_moved_single_file_keeps_its_fingerprint():
    base = {"mesh/vs.yaml": FAULT.format(percent=50)}
    head = {"apps/reviews/vs.yaml": FAULT.format(percent=50)}
    [old] = faults(base)
    [moved] = faults(head, base)
    assert not moved.new and moved.fingerprint == old.fingerprint


def test_pairing_is_one_to_one_and_prefers_the_same_file():
    def finding(fingerprint, key, path):
        return Finding(
            "r", "error", "m", path, 1, 1, ResourceRef("K", None, "n"), fingerprint, key=key
        )

    base = [finding("a", "k", "dev/x.yaml")]
    head = [finding("b", "k", "prod/x.yaml"), finding("c", "k", "dev/x.yaml")]
    mark_new(head, base)
    assert [(f.path, f.new, f.fingerprint) for f in head] == [
        ("prod/x.yaml", True, "b"),
        ("dev/x.yaml", False, "a"),
    ]
