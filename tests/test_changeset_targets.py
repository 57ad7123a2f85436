"""The App reviews what a pull request deploys: kustomization roots built at base and head, the
files they read fetched by blob SHA, findings on the patch line with their target."""

import shutil

import pytest

from bot.github.changeset import BlobCache, analyse
from tests.test_changeset import change_set

pytestmark = pytest.mark.skipif(
    shutil.which("kubectl") is None and shutil.which("kustomize") is None,
    reason="kubectl or kustomize is needed to build kustomizations",
)

BASE_VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews.shop.svc.cluster.local]
  http:
  - name: main
    route:
    - destination: {host: reviews.shop.svc.cluster.local}
"""
FAULT = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  http:
  - name: main
    fault:
      abort: {{percentage: {{value: {percent}}}, httpStatus: 503}}
    route:
    - destination: {{host: reviews.shop.svc.cluster.local}}
"""


def overlay(namespace, patch="fault.json"):
    target = "\n  target: {kind: VirtualService, name: reviews}" if patch.endswith(".json") else ""
    return f"namespace: {namespace}\nresources: [../../base]\npatches:\n- path: {patch}{target}\n"


def json_patch(percent):
    # A JSON file: not a manifest the App would fetch for the rules, but a build input.
    return (
        '[{"op": "add", "path": "/spec/http/0/fault", '
        f'"value": {{"abort": {{"percentage": {{"value": {percent}}}, "httpStatus": 503}}}}}}]\n'
    )


def test_a_pull_request_adding_a_prod_overlay_reports_its_fault_as_new(world):
    base = {
        "base/kustomization.yaml": "resources: [vs.yaml]\n",
        "base/vs.yaml": BASE_VS,
        "overlays/dev/kustomization.yaml": overlay("dev"),
        "overlays/dev/fault.json": json_patch(50),
    }
    head = {
        "overlays/prod/kustomization.yaml": overlay("prod"),
        "overlays/prod/fault.json": json_patch(100),
    }
    pull = world.pull(base, head)
    change = change_set(world, pull, BlobCache())
    assert change.relevant
    report = world.run(analyse(change.head, change.base, change.config, change.parsed))
    faults = {f.target: f for f in report.findings if f.rule == "fault-injection"}
    assert set(faults) == {"overlays/dev", "overlays/prod"}
    assert not faults["overlays/dev"].new and faults["overlays/prod"].new
    assert faults["overlays/prod"].path == "overlays/prod/fault.json"
    assert faults["overlays/prod"].resource.namespace == "prod"


def test_a_pull_request_changing_only_a_kustomization_is_reviewed(world):
    base = {
        "base/kustomization.yaml": "resources: [vs.yaml]\n",
        "base/vs.yaml": BASE_VS,
        "overlays/prod/kustomization.yaml": "namespace: prod\nresources: [../../base]\n",
        "overlays/prod/fault.yaml": FAULT.format(percent=100),
    }
    head = {"overlays/prod/kustomization.yaml": overlay("prod", "fault.yaml")}
    pull = world.pull(base, head)
    change = change_set(world, pull, BlobCache())
    assert change.relevant
    report = world.run(analyse(change.head, change.base, change.config, change.parsed))
    [fault] = [f for f in report.findings if f.rule == "fault-injection"]
    assert fault.new and fault.path == "overlays/prod/fault.yaml"
    # fault.yaml is a patch: never analysed on its own, at base (where nothing used it) or head.
    assert all(f.target == "overlays/prod" for f in report.findings)
