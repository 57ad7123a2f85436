"""The generated schema data: fresh against the CRDs, honest about its sources, quiet on valid
manifests (Istio's samples and istioctl analyze's testdata)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from rules.core.config import ISTIO_VERSIONS
from rules.schema import durations, store
from rules.schema.validator import _pattern
from tests.helpers import FIXTURES, findings_of

ROOT = Path(__file__).resolve().parents[1]
CRDS = FIXTURES / "istio-crds"
DATA = ROOT / "rules" / "schema" / "data.json"


def generator():
    spec = importlib.util.spec_from_file_location(
        "generate_schemas", ROOT / "scripts" / "generate_schemas.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_schemas"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not CRDS.exists(), reason="the CRD fixtures are not present")
def test_committed_data_is_what_the_generator_makes_from_the_crds():
    module = generator()
    fresh = module.render(module.generate(CRDS))
    assert DATA.read_text(encoding="utf-8") == fresh, (
        "rules/schema/data.json is stale: run python scripts/generate_schemas.py"
    )


def test_data_records_sources_versions_and_licence():
    data = json.loads(DATA.read_text(encoding="utf-8"))
    sets = {source["set"]: source for source in data["sources"]}
    assert set(sets) == {
        "istio-1.30",
        "istio-1.24",
        "gateway-api-1.6-standard",
        "gateway-api-1.6-experimental",
    }
    assert sets["istio-1.30"]["version"] == "1.30.3"
    assert sets["istio-1.24"]["version"] == "1.24.6"
    notice = (ROOT / "NOTICE").read_text(encoding="utf-8")
    for source in data["sources"]:
        assert source["license"] == "Apache-2.0"
        assert len(source["sha256"]) == 64
        assert source["commit"] in notice
    assert "Apache" in data["license"]
    assert '"description":"' not in DATA.read_text(encoding="utf-8")  # field names only


def test_config_versions_and_schema_sets_agree():
    assert tuple(store.ISTIO_SETS) == ISTIO_VERSIONS
    loaded = store.load()
    for set_name in [*store.ISTIO_SETS.values(), *store.GATEWAY_API_SETS.values()]:
        assert loaded.groups(set_name), set_name


def test_every_pattern_of_the_schemas_compiles_in_python():
    loaded = store.load()
    patterns = [node["pt"] for node in loaded.nodes if "pt" in node]
    patterns += [c[2] for node in loaded.nodes for c in node.get("c", ()) if c[0] == "key_match"]
    assert patterns
    assert [p for p in patterns if _pattern(p) is None] == []


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("0", 0),
        ("5s", 5_000_000_000),
        ("1h30m", 5_400_000_000_000),
        ("1.5s", 1_500_000_000),
        (".5ms", 500_000),
        ("1m0.5s", 60_500_000_000),
        ("100µs", 100_000),
        ("-1s", -1_000_000_000),
    ],
)
def test_go_durations(text, nanos):
    assert durations.parse(text) == nanos


@pytest.mark.parametrize("text", ["", "5", "5sec", "1d", "PT5S", "5 s", "s", "1.s.", "1e3s"])
def test_not_go_durations(text):
    assert durations.parse(text) is None


@pytest.mark.parametrize(
    ("rule", "check"),
    [
        ("duration(self) >= duration('1ms')", ["dur", [[">=", "1ms"]]]),
        ("0 < self && self <= 65535", ["range", 1, 65535]),
        (
            "(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + "
            "(has(self.targetRefs) ? 1 : 0) <= 1",
            ["most", ["selector", "targetRef", "targetRefs"]],
        ),
        ("(has(self.a)?1:0)+(has(self.b)?1:0)<=1", ["most", ["a", "b"]]),
        ("has(self.wasm) != has(self.lua)", ["one", ["wasm", "lua"]]),
        (
            "(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true",
            ["core_kind_needs", "Service", "port"],
        ),
        ("self.url.size() > 0 && isURL(self.url)", None),
    ],
)
def test_cel_rules_are_classified_by_shape(rule, check):
    assert generator().classify_rule(rule) == check


def test_schemas_load_quickly_enough_to_be_loaded_lazily():
    # Not a timing assertion: the size of what loading parses, which bounds the time.
    assert DATA.stat().st_size < 500_000


def corpus(folder: str) -> list[Path]:
    return sorted(p for p in (FIXTURES / folder).rglob("*.yaml"))


# Each of these is refused by the API server with Istio's own CRDs: the testdata of istioctl
# analyze holds deliberately broken resources for other analyzers.
ISTIO_REJECTS = {
    ("conflicting-gateways-invalid-port.yaml", "Gateway default/beta"): "needs the field `port`",
    ("conflicting-gateways-invalid-port.yaml", "Gateway default/alpha"): "needs the field `port`",
    ("deprecation.yaml", "EnvoyFilter istio-system/istio-multicluster-egressgateway"): (
        "unknown field"
    ),
    ("k8sgateway-selector.yaml", "Telemetry default/telemetry-effective"): (
        "only one of targetRefs or selector can be set"
    ),
    ("virtualservice_destinationhosts.yaml", "ServiceEntry default-ignore/service-entry-ignore"): (
        "hostname cannot be wildcard"
    ),
    ("virtualservice_destinationhosts.yaml", "VirtualService default/reviews-bogushost"): (
        "needs the field `destination`"
    ),
}


@pytest.mark.parametrize("folder", ["istio-samples", "istio-analyzers"])
def test_valid_manifests_are_not_flagged(folder):
    paths = corpus(folder)
    if not paths:
        pytest.skip(f"fixtures {folder} not present")
    head = {str(p.relative_to(FIXTURES)): p.read_text(encoding="utf-8") for p in paths}
    unexpected = []
    for finding in findings_of("schema-invalid", head):
        key = (Path(finding.path).name, finding.message.split(":")[0])
        expected = ISTIO_REJECTS.get(key)
        if expected is None or expected not in finding.message:
            unexpected.append(f"{finding.path}:{finding.line}: {finding.message}")
    assert unexpected == []


def test_gateway_api_examples_are_valid_on_the_experimental_channel():
    paths = corpus("real-world/kubernetes-sigs__gateway-api")
    if not paths:
        pytest.skip("the Gateway API examples are not present")
    head = {str(p.relative_to(FIXTURES)): p.read_text(encoding="utf-8") for p in paths}
    cfg = "rules:\n  schema-invalid:\n    gateway_api_experimental: true\n"
    found = findings_of("schema-invalid", head, cfg=cfg)
    assert [f"{f.path}:{f.line}: {f.message}" for f in found] == []
    # On the standard channel, the one example of a version only the experimental CRDs serve.
    standard = findings_of("schema-invalid", head)
    assert [(Path(f.path).name, f.line) for f in standard] == [("tls-route.yaml", 1)]
