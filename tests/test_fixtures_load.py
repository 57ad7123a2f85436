"""Every real-world manifest in the shared fixtures loads, or is skipped with a reason."""

from __future__ import annotations

import pytest

from rules.core.loader import SourceFile, load
from tests.helpers import FIXTURES

FOLDERS = ("istio-samples", "istio-analyzers")


def fixture_files():
    roots = [FIXTURES / folder for folder in FOLDERS]
    if not all(root.is_dir() for root in roots):
        return []
    return sorted(p for root in roots for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))


FILES = fixture_files()


@pytest.mark.skipif(not FILES, reason="shared fixtures are not available")
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_loads_or_is_skipped_with_a_reason(path):
    name = str(path.relative_to(FIXTURES))
    resources, skipped = load([SourceFile(name, path.read_bytes())])
    if skipped:
        [entry] = skipped
        assert entry.path == name and len(entry.reason) > 10
    else:
        for resource in resources:
            assert resource.kind and resource.name and resource.path == name
            line, column = resource.position(())
            assert line >= 1 and column >= 1


@pytest.mark.skipif(not FILES, reason="shared fixtures are not available")
def test_fixtures_yield_the_istio_resources_they_hold():
    resources, skipped = load(SourceFile(str(p), p.read_bytes()) for p in FILES)
    kinds = {r.kind for r in resources}
    assert {
        "VirtualService",
        "DestinationRule",
        "Gateway",
        "AuthorizationPolicy",
        "PeerAuthentication",
        "Sidecar",
        "ServiceEntry",
        "Service",
    } <= kinds
    # The analyzers' testdata holds only parseable YAML: nothing there is skipped.
    assert [s for s in skipped if "istio-analyzers" in s.path] == []
