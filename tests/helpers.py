"""Shared test helpers: run the engine on in-memory files and compare findings compactly."""

from __future__ import annotations

import textwrap
from pathlib import Path

import rules as registry
from rules.core.config import Config, parse_config
from rules.core.context import Context
from rules.core.engine import Report, analyse, run_rules
from rules.core.loader import CLUSTER_SCOPED_KINDS, SourceFile, load
from rules.core.model import Finding

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"


def files(mapping: dict[str, str]) -> list[SourceFile]:
    return [SourceFile(path, textwrap.dedent(text)) for path, text in mapping.items()]


def config(text: str = "") -> Config:
    return parse_config(textwrap.dedent(text), registry.option_defaults())


def run(
    head: dict[str, str] | str,
    base: dict[str, str] | str | None = None,
    cfg: str | Config = "",
) -> Report:
    """Analyse `head` (and `base`); a plain string is one file named `mesh.yaml`."""
    if isinstance(head, str):
        head = {"mesh.yaml": head}
    if isinstance(base, str):
        base = {"mesh.yaml": base}
    conf = cfg if isinstance(cfg, Config) else config(cfg)
    return analyse(files(head), files(base) if base is not None else None, conf)


def render_run(
    head: dict[str, str], base: dict[str, str] | None = None, cfg: str | Config = ""
) -> Report:
    """Like `run`, through the render stage: kustomization roots are built (kubectl needed
    unless nothing is buildable), the rest read as plain files."""
    from render.targets import render_revision

    conf = cfg if isinstance(cfg, Config) else config(cfg)
    cache: dict = {}
    head_revision = render_revision(files(head), conf, cache=cache)
    base_revision = render_revision(files(base), conf, cache=cache) if base is not None else None
    return analyse(head_revision, base_revision, conf)


def findings_of(rule: str, head, base=None, cfg: str | Config = "") -> list[Finding]:
    """The findings of `rule` alone, in report order (the other rules may flag the same files)."""
    return [f for f in run(head, base, cfg).findings if f.rule == rule]


def found(rule: str, head, base=None, cfg: str | Config = "") -> list[tuple[str, int, int]]:
    """(path, line, column) of each finding of `rule`, in report order."""
    return [(f.path, f.line, f.column) for f in findings_of(rule, head, base, cfg)]


def assert_findings(rule: str, head, *positions: tuple[int, int], base=None, cfg="") -> None:
    """Assert `rule` reports exactly these (line, column) positions (any file)."""
    actual = [(line, column) for _, line, column in found(rule, head, base, cfg)]
    assert actual == list(positions), f"{rule}: expected {list(positions)}, got {actual}"


def findings_with_unknown_namespaces(rule: str, head: dict[str, str]) -> list[Finding]:
    """The findings of `rule` when resources without `metadata.namespace` have an unknown
    namespace (plain files applied with `kubectl -n`), as the loader reads them for targets."""
    resources, _ = load(files(head))
    for resource in resources:
        if resource.kind not in CLUSTER_SCOPED_KINDS and not resource.metadata.get("namespace"):
            resource.namespace = None
    return [f for f in run_rules(Context(resources, config())) if f.rule == rule]
