"""The head's analysis reuses the base's problems (`rules.core.reuse`): it must find exactly
what a full analysis finds.

Each case is a repository (the bundled examples, istioctl's analyzer testdata, Istio's samples,
the real-world layouts, the benchmark's generated repository) and a change to it, drawn from
the edits a pull request makes: a value replaced by one written elsewhere in the repository (a
host, a namespace, a mode, a subset), a document or a file removed, a file copied into another
folder or moved, lines added above the resources. Every finding is compared, positions,
messages, fingerprints and edits included.
"""

from __future__ import annotations

import random
import re
import sys
import tempfile
from pathlib import Path

import pytest

import rules as registry
from rules.core import engine
from rules.core.engine import Input, context_of, remember
from rules.core.loader import SourceFile
from rules.core.reuse import Reuse
from tests.helpers import FIXTURES, config, files

ROOT = Path(__file__).resolve().parents[1]
VALUE_LINE = re.compile(r"^(\s*(?:- )?[\w./-]+: )(\S.*)$", re.M)
CHANGES_PER_REPOSITORY = 6


def _read(folder: Path, below: Path | None = None) -> list[SourceFile]:
    below = below or folder
    return [
        SourceFile(path.relative_to(below).as_posix(), path.read_text(errors="replace"))
        for path in sorted(folder.rglob("*"))
        if path.suffix in (".yaml", ".yml") and path.is_file()
    ]


def _repositories() -> list[tuple[str, list[SourceFile]]]:
    found = [("examples", _read(ROOT / "examples"))]
    analyzers = FIXTURES / "istio-analyzers"
    if analyzers.is_dir():
        found += [
            (f"analyzers/{p.name}", _read_one(p, analyzers)) for p in analyzers.glob("*.yaml")
        ]
    for group in ("istio-samples", "real-world"):
        folder = FIXTURES / group
        if folder.is_dir():
            found += [
                (f"{group}/{p.name}", _read(p, folder))
                for p in sorted(folder.iterdir())
                if p.is_dir()
            ]
    found.append(("generated", _generated()))
    return [(name, sources) for name, sources in found if sources]


def _read_one(path: Path, below: Path) -> list[SourceFile]:
    return [SourceFile(path.relative_to(below).as_posix(), path.read_text(errors="replace"))]


def _generated() -> list[SourceFile]:
    """The benchmark's repository (`benchmarks/generate.py`) with six namespaces, read back."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    namespaces, generate.NAMESPACES = generate.NAMESPACES, 6
    try:
        with tempfile.TemporaryDirectory() as folder:
            generate.generate(Path(folder))
            return _read(Path(folder))
    finally:
        generate.NAMESPACES = namespaces


def _change(sources: list[SourceFile], rng: random.Random) -> tuple[str, list[SourceFile]]:
    """One change a pull request could make, and its name (for the failure message)."""
    texts = {f.path: f.data if isinstance(f.data, str) else f.data.decode() for f in sources}
    paths = sorted(texts)
    path = rng.choice(paths)
    text = texts[path]
    how = rng.choice(
        ["value", "value", "value", "namespace", "document", "file", "copy", "move", "shift"]
    )
    if how in ("value", "namespace"):
        pattern = (
            re.compile(r"^(\s*namespace: )(\S.*)$", re.M) if how == "namespace" else VALUE_LINE
        )
        targets = list(pattern.finditer(text))
        values = [m.group(2) for t in texts.values() for m in pattern.finditer(t)]
        if not targets or not values:
            how = "shift"
        else:
            target = rng.choice(targets)
            new = rng.choice([*values, target.group(2) + "x"])
            text = text[: target.start(2)] + new + text[target.end(2) :]
            texts[path] = text
            how = f"{how} at {path}:{text[: target.start()].count(chr(10)) + 1} -> {new[:40]}"
    if how == "document":
        documents = re.split(r"^---\s*$", text, flags=re.M)
        if len(documents) > 1:
            documents.pop(rng.randrange(len(documents)))
            texts[path] = "---".join(documents)
        else:
            del texts[path]
        how = f"a document of {path} removed"
    elif how == "file":
        del texts[path]
        how = f"{path} removed"
    elif how == "copy":
        texts[f"copy/{path}"] = text
        how = f"{path} copied"
    elif how == "move":
        texts[f"moved/{path}"] = texts.pop(path)
        how = f"{path} moved"
    elif how == "shift":
        texts[path] = "# added above\n\n" + text
        how = f"lines added above {path}"
    return how, [SourceFile(p, t) for p, t in sorted(texts.items())]


def _rows(findings):
    fields = ("rule", "severity", "message", "path", "line", "column", "resource")
    fields += ("fingerprint", "key", "target", "edit")
    return [tuple(getattr(f, name) for name in fields) for f in findings]


def _compare(base: Input, head: Input, conf=None) -> Reuse:
    """Assert the head's findings with reuse are the full analysis's; the reuse, to inspect."""
    conf = conf or config()
    base_context = context_of(base, conf)[0]
    head_context = context_of(head, conf, None, base_context)[0]
    reuse = Reuse(head_context, remember(base_context))
    incremental = engine._run_rules(head_context, True, reuse)
    assert _rows(incremental) == _rows(engine.run_rules(head_context))
    return reuse


REPOSITORIES = _repositories()


@pytest.mark.parametrize("name, sources", REPOSITORIES, ids=[n for n, _ in REPOSITORIES])
def test_reuse_finds_what_a_full_analysis_finds(name, sources):
    rng = random.Random(name)
    for _ in range(CHANGES_PER_REPOSITORY):
        how, head = _change(sources, rng)
        try:
            _compare(sources, head)
        except AssertionError as error:
            raise AssertionError(f"{name}, {how}: {error}") from None


def test_reuse_serves_rules_on_a_change_that_leaves_their_facts_alone():
    """Not a vacuous comparison: on the benchmark's change (a VirtualService's timeout) every
    rule that declares what it reads, VirtualServices aside, is served from the base."""
    base = _generated()
    changed = next(f.path for f in base if "timeout: " in f.data)
    head = [
        SourceFile(f.path, f.data.replace("timeout: ", "timeout: 1", 1)) if f.path == changed else f
        for f in base
    ]
    reuse = _compare(base, head)
    # Rules that read VirtualServices saw one change: they run in full, as they must.
    declared = set()
    for rule in registry.RULES.values():
        reads = getattr(rule, "READS", None)
        if getattr(rule, "COMPARES", None) is not None or (
            reads is not None and "VirtualService" not in reads
        ):
            declared.add(rule.ID)
    assert set(reuse.served) == declared
    assert len(reuse.changed) == 1


def test_a_rule_that_reads_more_than_it_declares_is_caught(monkeypatch):
    """The comparison can fail: host-not-found declared as reading nothing (a wrong contract)
    keeps a finding after the Service it names is added elsewhere."""
    import rules.host_not_found as rule

    base = files(
        {
            "web/vs.yaml": """\
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: web, namespace: web}
                spec:
                  hosts: [web.web.svc.cluster.local]
                  http:
                  - route:
                    - destination: {host: api.web.svc.cluster.local}
                """,
            "web/svc.yaml": """\
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: web}
                """,
        }
    )
    head = [
        *base,
        *files(
            {
                "api/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: web}\n"
            }
        ),
    ]
    _compare(base, head)
    monkeypatch.setattr(rule, "READS", frozenset())
    with pytest.raises(AssertionError):
        _compare(base, head)


def test_a_rule_whose_problems_are_about_kinds_it_does_not_list_runs_in_full(monkeypatch):
    """KINDS is checked where problems are kept: a PeerAuthentication problem from a rule that
    says it reports on VirtualServices is not reused (nor skipped when a Service is added)."""
    import rules.permissive_mtls as rule

    base = files(
        {
            "mesh/pa.yaml": """\
                apiVersion: security.istio.io/v1
                kind: PeerAuthentication
                metadata: {name: default, namespace: web}
                spec: {mtls: {mode: PERMISSIVE}}
                """
        }
    )
    head = [
        *base,
        *files({"mesh/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"}),
    ]
    assert "permissive-mtls" in _compare(base, head).served
    monkeypatch.setattr(rule, "KINDS", ("VirtualService",))
    assert "permissive-mtls" not in _compare(base, head).served


def test_the_base_is_not_loaded_when_nothing_a_comparing_rule_compares_changed():
    """mtls-weakened and in-place-upgrade compare base and head (`COMPARES`): a change to a
    VirtualService leaves them nothing to find, so the base revision is never read; a change
    to a PeerAuthentication reads it."""
    pa = """\
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: web}
        spec: {mtls: {mode: STRICT}}
        """
    vs = """\
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: web, namespace: web}
        spec: {hosts: [web.web.svc.cluster.local], http: [{timeout: 5s}]}
        """
    conf = config()
    base_context = context_of(files({"pa.yaml": pa, "vs.yaml": vs}), conf)[0]
    known = remember(base_context)

    def unread() -> None:
        raise AssertionError("the base revision was loaded")

    head = files({"pa.yaml": pa, "vs.yaml": vs.replace("5s", "9s")})
    head_context = context_of(head, conf, None, unread)[0]
    assert engine.run_rules(head_context, known=known) == []
    weakened = files({"pa.yaml": pa.replace("STRICT", "PERMISSIVE"), "vs.yaml": vs})
    with pytest.raises(AssertionError, match="base revision was loaded"):
        engine.run_rules(context_of(weakened, conf, None, unread)[0], known=known)


def test_a_resource_has_one_state_whether_parsed_now_or_read_from_the_parse_cache(tmp_path):
    """The base's states are stored by one run and compared by the next, whose resources come
    from the parse cache: equal resources must have equal states, or nothing is ever reused."""
    from bot.cli.parse_cache import ParseCache
    from rules.core.loader import load
    from rules.core.reuse import state_of

    [source] = files({"mesh/app.yaml": SHOP})
    source = SourceFile(source.path, source.data, "1" * 40)
    parsed, _ = load([source], cache=ParseCache(tmp_path))
    cached, _ = load([source], cache=ParseCache(tmp_path))
    assert len(parsed) == 2
    assert [state_of(r) for r in parsed] == [state_of(r) for r in cached]


SHOP = """\
    apiVersion: v1
    kind: Service
    metadata: {name: shop, namespace: shop}
    ---
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: shop, namespace: shop}
    spec: {hosts: [shop], http: [{timeout: 5s}]}
    """


def _kustomize_layout(overlays: int = 4) -> dict[str, str]:
    """`benchmarks/bench_kustomize.py`'s layout with a few overlays: shared bases, one overlay
    per team setting its namespace, a label and a timeout patch (one adds a fault)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_kustomize as layout
    finally:
        sys.path.pop(0)
    found = {
        "bases/shop/kustomization.yaml": "resources:\n- app-00.yaml\n- app-01.yaml\n",
        "bases/shop/app-00.yaml": layout.app("app-00"),
        "bases/shop/app-01.yaml": layout.app("app-01"),
        "bases/mesh/kustomization.yaml": "resources: [mesh.yaml]\n",
        "bases/mesh/mesh.yaml": layout.MESH,
    }
    for team in range(overlays):
        folder = f"overlays/team-{team:02d}"
        found[f"{folder}/kustomization.yaml"] = (
            f"namespace: team-{team:02d}\nlabels:\n- pairs: {{team: team-{team:02d}}}\n"
            "resources:\n- ../../bases/shop\n- ../../bases/mesh\npatches:\n- path: timeouts.yaml\n"
        )
        found[f"{folder}/timeouts.yaml"] = layout.patch(team, f"{team + 1}s", fault=team == 1)
    return found


def test_reuse_finds_what_a_full_analysis_finds_on_built_overlays():
    """The same comparison over what Kustomize builds: a change to a shared base reaches every
    overlay, a change to one overlay's patch or namespace only that target."""
    from render.targets import render_revision

    conf = config()
    base = [SourceFile(p, t) for p, t in _kustomize_layout().items()]
    rng = random.Random("overlays")
    builds: dict = {}
    base_revision = render_revision(base, conf, cache=builds)
    assert len(base_revision.rendered) == 40 and not base_revision.failures
    served = set()
    for _ in range(CHANGES_PER_REPOSITORY * 2):
        how, head = _change(base, rng)
        head_revision = render_revision(head, conf, cache=builds)
        try:
            served.update(_compare(base_revision, head_revision, conf).served)
        except AssertionError as error:
            raise AssertionError(f"overlays, {how}: {error}") from None
    assert {"host-not-found", "fault-injection"} <= served
