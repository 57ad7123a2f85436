"""Public repositories' layouts (`../shared/fixtures/real-world/`) are analysed without a wrong
namespace: every namespace a finding names is one the repository determines (a
`metadata.namespace`, a kustomization's `namespace:`, a Namespace object), and no message names
a namespace the repository leaves unset. Skipped where the fixtures or a Kustomize tool are
absent."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from render.targets import render_revision
from rules.core.config import Config
from rules.core.engine import analyse
from rules.core.loader import SourceFile
from tests.helpers import FIXTURES

REAL_WORLD = FIXTURES / "real-world"
LAYOUTS = sorted(p.name for p in REAL_WORLD.iterdir() if p.is_dir()) if REAL_WORLD.is_dir() else []
SCOPE_TOKEN = re.compile(r"\?[0-9a-f]{12}")

pytestmark = [
    pytest.mark.skipif(not LAYOUTS, reason="real-world fixtures are absent"),
    pytest.mark.skipif(
        shutil.which("kubectl") is None and shutil.which("kustomize") is None,
        reason="kubectl or kustomize is needed to build the kustomizations",
    ),
]


def snapshot(name: str) -> list[SourceFile]:
    root = REAL_WORLD / name
    out = []
    for folder, _, names in os.walk(root):
        for file in names:
            path = os.path.join(folder, file)
            with open(path, "rb") as handle:
                out.append(
                    SourceFile(os.path.relpath(path, root).replace(os.sep, "/"), handle.read())
                )
    return out


def determined_namespaces(files: list[SourceFile]) -> set[str]:
    """Every namespace the layout writes down: `namespace: X` (metadata, kustomizations,
    destinations) and Namespace objects' names."""
    found: set[str] = set()
    for source in files:
        text = (
            source.data.decode("utf-8", "replace")
            if isinstance(source.data, bytes)
            else source.data
        )
        found.update(
            re.findall(
                r"(?m)^\s*(?:-\s*)?(?:namespace|targetNamespace)\s*:\s*[\"']?([a-z0-9-]+)", text
            )
        )
        found.update(re.findall(r"(?ms)^kind:\s*Namespace\s*$.*?^\s+name:\s*([a-z0-9-]+)", text))
    return found


@pytest.mark.parametrize("name", LAYOUTS)
def test_layout_is_analysed_without_a_wrong_namespace(name):
    files = snapshot(name)
    revision = render_revision(files, Config())
    report = analyse(revision, config=Config())
    written = determined_namespaces(files)
    for finding in report.findings:
        namespace = finding.resource.namespace
        assert namespace is None or namespace in written, (name, finding.rule, namespace)
        assert not SCOPE_TOKEN.search(finding.message), finding.message
        if "default" not in written:
            assert "namespace default" not in finding.message.lower(), finding.message
    for resource in revision.rendered:
        assert resource.namespace is None or resource.namespace in written, resource
    # Every kustomization root is accounted for: built, failed with a reason, or skipped.
    assert all(s.reason for s in revision.skipped)
    assert all(f.message for f in revision.failures)
