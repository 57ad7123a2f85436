"""The Istio facts the rules encode, checked against the istiod chart files they come from."""

import re

import pytest
import yaml

from rules.core.config import Config
from rules.mesh.istiod_chart import (
    CHART_VERSION,
    PROXY_RESOURCES,
    effective_proxy_resources,
    merge_overwrite,
)
from tests.helpers import FIXTURES

CRDS = FIXTURES / "istio-crds"


def chart_file(name: str) -> str:
    path = CRDS / name.format(version=CHART_VERSION)
    if not path.exists():
        pytest.skip("istio-crds fixtures absent")
    return path.read_text()


def chart_defaults() -> dict:
    values = yaml.safe_load(chart_file("istio-discovery.values.{version}.yaml"))
    return values["_internal_defaults_do_not_set"]


def test_encoded_proxy_resources_are_the_chart_defaults():
    assert chart_defaults()["global"]["proxy"]["resources"] == PROXY_RESOURCES


def test_probe_rewriting_is_the_chart_default_and_the_config_default():
    assert chart_defaults()["sidecarInjectorWebhook"]["rewriteAppHTTPProbe"] is True
    assert Config().probes_rewritten is True


def test_the_injection_template_uses_only_annotations_once_one_is_set():
    """The `resources` block: any of the four annotations selects the annotation branch, whose
    limits come only from the limit annotations; otherwise the mesh values, nulls omitted."""
    template = chart_file("injection-template.{version}.yaml")
    block = template.split('{{- define "resources"', 1)[1].split("{{- end }}\n{{- end }}", 1)[0]
    first_condition = block.splitlines()[1]
    names = re.findall(r"`sidecar\.istio\.io/(\w+)`", first_condition)
    assert names == ["proxyCPU", "proxyMemory", "proxyCPULimit", "proxyMemoryLimit"]
    annotation_branch, values_branch = block.split("{{- else }}")
    limits = annotation_branch.split("limits:", 1)[1]
    assert "proxyMemoryLimit" in limits and ".Values" not in annotation_branch
    assert "omitNil .Values.global.proxy.resources" in values_branch


@pytest.mark.parametrize(
    "values, limits",
    [
        ({}, {"cpu": "2000m", "memory": "1024Mi"}),
        (
            {"global": {"proxy": {"resources": {"limits": {"cpu": "1"}}}}},
            {"cpu": "1", "memory": "1024Mi"},
        ),
        (
            {"global": {"proxy": {"resources": {"limits": {}}}}},
            {"cpu": "2000m", "memory": "1024Mi"},
        ),
        (
            {"global": {"proxy": {"resources": {"limits": {"memory": None}}}}},
            {"cpu": "2000m", "memory": None},
        ),
        ({"global": {"proxy": {"resources": {"limits": None}}}}, None),
    ],
    ids=["none", "cpu", "empty", "null-memory", "null-limits"],
)
def test_values_merge_over_the_chart_defaults(values, limits):
    effective = effective_proxy_resources(values, None)
    assert effective["limits"] == limits
    assert effective["requests"] == PROXY_RESOURCES["requests"]


def test_merge_overwrite_leaves_its_inputs_alone():
    defaults = {"a": {"b": 1}}
    merged = merge_overwrite(defaults, {"a": {"c": 2}})
    assert merged == {"a": {"b": 1, "c": 2}} and defaults == {"a": {"b": 1}}
