"""Hostile and odd input: each file is skipped with a clear reason, or loaded where it is valid,
in bounded time. Every case runs `footgun check` in its own process with a generous timeout, so
a hang or a crash of the parser fails the test instead of the test run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_support import FAULTY, only, run_subprocess

NESTING = 50_000
HEAD = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: deep, namespace: ns}\n"


def alias_bomb() -> bytes:
    lines = [HEAD, "spec:\n", "  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"]
    for level in range(1, 10):
        lines.append(f"  a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]\n")
    return "".join(lines).encode()


def five_megabytes() -> bytes:
    service = b"apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: ns}\n---\n"
    return service * (5 * 1024 * 1024 // len(service) + 1)


HELM = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {{ include "chart.fullname" . }}
spec:
  hosts:
  {{- range .Values.hosts }}
  - {{ . | quote }}
  {{- end }}
"""
JSON_MANIFEST = """{
  "apiVersion": "networking.istio.io/v1",
  "kind": "VirtualService",
  "metadata": {"name": "ratings", "namespace": "bookinfo"},
  "spec": {"hosts": ["ratings"], "http": [{"fault": {"abort": {"httpStatus": 500}},
           "route": [{"destination": {"host": "ratings"}}]}]}
}
"""

SKIPPED = {
    "alias bomb": (
        "bomb.yaml",
        alias_bomb(),
        "aliases expand to more than 200,000 nodes (an alias bomb?) in the document at line 1",
    ),
    "flow nesting": (
        "flow.yaml",
        (HEAD + "spec: " + "[" * NESTING + "]" * NESTING + "\n").encode(),
        "invalid YAML at line 4, column 1006: nesting deeper than YAML parsers accept (1,000 levels)",
    ),
    "block nesting": (
        "block.yaml",
        (HEAD + "spec:\n  http:\n  " + "- " * NESTING + "x\n").encode(),
        "invalid YAML at line 6, column 1999: nesting deeper than YAML parsers accept (1,000 levels)",
    ),
    "nesting within libyaml's limit": (
        "deep.yaml",
        (
            HEAD
            + "spec:\n  http:\n  - fault: {abort: {httpStatus: 500}}\n    match: "
            + "[" * 990
            + "]" * 990
            + "\n    route: [{destination: {host: a}}]\n"
        ).encode(),
        "nesting deeper than 200 levels in the document at line 1",
    ),
    "self-referencing alias": (
        "loop.yaml",
        (HEAD + "spec: &loop\n  http: [*loop]\n").encode(),
        "aliases nest deeper than 200 levels (a recursive alias?) in the document at line 1",
    ),
    "5 MB file": (
        "big.yaml",
        five_megabytes(),
        f"larger than 1 MiB ({len(five_megabytes()):,} bytes)",
    ),
    "binary file": (
        "binary.yaml",
        b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 8,
        "binary file (contains NUL bytes), not YAML",
    ),
    "invalid UTF-8": (
        "latin1.yaml",
        HEAD.encode() + b"spec: {hosts: [caf\xe9]}\n",
        "not UTF-8 (byte 0xe9 at line 4, column 19); save it as UTF-8",
    ),
    "tabs": (
        "tabs.yaml",
        (HEAD + "spec:\n\thosts: [a]\n").encode(),
        "invalid YAML at line 5, column 1: a tab character where YAML needs spaces",
    ),
    "duplicate keys": (
        "dup.yaml",
        (HEAD + "spec: {hosts: [a]}\nspec: {hosts: [b]}\n").encode(),
        "invalid YAML at line 5, column 1: duplicate key 'spec'",
    ),
    "Helm template": (
        "charts/app/templates/vs.yaml",
        HELM.encode(),
        "Helm template: render it first",
    ),
}

LOADED = {
    "empty file": ("empty.yaml", b"", 0),
    "only comments": (
        "comments.yaml",
        b"# nothing here yet\n# kind: VirtualService\n---\n# still nothing\n",
        0,
    ),
    "JSON manifest": ("vs.yaml", JSON_MANIFEST.encode(), 1),
    "byte order mark": ("bom.yaml", b"\xef\xbb\xbf" + FAULTY.encode(), 1),
    "CRLF line ends": ("crlf.yaml", FAULTY.replace("\n", "\r\n").encode(), 1),
}


def check(tmp_path: Path, name: str, data: bytes):
    target = tmp_path / "repo" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    (tmp_path / "cfg.yml").write_text(only("fault-injection"))
    return run_subprocess(
        "check",
        "--format",
        "json",
        "--config",
        str(tmp_path / "cfg.yml"),
        "repo",
        cwd=tmp_path,
        timeout=180,
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )


@pytest.mark.parametrize("case", list(SKIPPED))
def test_hostile_file_is_skipped_with_a_reason(tmp_path, case):
    name, data, reason = SKIPPED[case]
    result = check(tmp_path, name, data)
    assert result.code == 0, result.err
    [skipped] = result.json["skipped"]
    assert skipped["path"] == f"repo/{name}"
    assert skipped["reason"].startswith(reason), skipped["reason"]
    assert result.json["findings"] == []


@pytest.mark.parametrize("case", list(LOADED))
def test_odd_but_valid_file_is_loaded(tmp_path, case):
    name, data, faults = LOADED[case]
    result = check(tmp_path, name, data)
    assert result.json["skipped"] == []
    assert len(result.json["findings"]) == faults
    assert result.code == (1 if faults else 0)


def test_crlf_positions_match_the_lines_an_editor_shows(tmp_path):
    result = check(tmp_path, "crlf.yaml", FAULTY.replace("\n", "\r\n").encode())
    [finding] = result.json["findings"]
    assert (finding["line"], finding["column"]) == (10, 5)


def test_a_hostile_file_does_not_hide_findings_in_other_files(tmp_path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "ok.yaml").write_text(FAULTY)
    result = check(tmp_path, "bomb.yaml", alias_bomb())
    assert [f["path"] for f in result.json["findings"]] == ["repo/ok.yaml"]
    assert [s["path"] for s in result.json["skipped"]] == ["repo/bomb.yaml"]
    assert result.code == 1


@pytest.mark.parametrize("value", ["!!int abc", "!!float abc", "!!timestamp soon", "!!int ²"])
def test_a_value_that_does_not_fit_its_tag_is_skipped_not_a_crash(value):
    from rules.core.loader import parse_file

    parsed = parse_file("x.yaml", HEAD + f"spec:\n  hosts: {value}\n")
    assert parsed.skipped == (
        "invalid YAML: a value in the document at line 1 does not match its "
        "explicit tag (such as !!int or !!timestamp)"
    )


@pytest.mark.parametrize(
    "text, body",
    [
        ("a: 012\nb: 0x1F\nc: 1_000\nd: -3\ne: 7", {"a": 10, "b": 31, "c": 1000, "d": -3, "e": 7}),
        (
            "a: yes\nb: Off\nc: ~\nd: null\ne:",
            {"a": True, "b": False, "c": None, "d": None, "e": None},
        ),
        (
            "a: 1.5\nb: .inf\nc: 2001-12-14\nd: '7'",
            {"a": 1.5, "b": float("inf"), "c": "2001-12-14", "d": "7"},
        ),
        (
            "base: &b {x: 1}\nmerged: {<<: *b, y: 2}\nshared: [*b, *b]",
            {"base": {"x": 1}, "merged": {"x": 1, "y": 2}, "shared": [{"x": 1}, {"x": 1}]},
        ),
        ("? [a, b]\n: pair\n1: one\n'1': text", {("a", "b"): "pair", 1: "one", "1": "text"}),
    ],
)
def test_fast_construction_matches_pyyaml(text, body):
    """The loader builds common values itself; what it builds must equal PyYAML's result."""
    import yaml

    from rules.core.loader import _StrictLoader, parse_file

    class PyYAMLConstruction(_StrictLoader):
        construct_document = yaml.constructor.BaseConstructor.construct_document

    source = "kind: Service\napiVersion: v1\nmetadata: {name: s}\n" + text + "\n"
    if "? [a, b]" in text:  # PyYAML itself refuses a list as a key: so do we
        assert "found unhashable key" in parse_file("x.yaml", source).skipped
        return
    [document] = parse_file("x.yaml", source).documents
    expected = yaml.load(source, Loader=PyYAMLConstruction)
    expected.pop("kind"), expected.pop("apiVersion"), expected.pop("metadata")
    for key in ("kind", "apiVersion", "metadata"):
        document.body.pop(key)
    assert document.body == expected == body


def test_fast_construction_keeps_aliases_shared_and_flags_merged_duplicates():
    from rules.core.loader import parse_file

    [document] = parse_file("x.yaml", HEAD + "spec:\n  a: &x {k: [1]}\n  b: *x\n").documents
    assert document.body["spec"]["a"] is document.body["spec"]["b"]
    dup = parse_file("x.yaml", HEAD + "spec:\n  <<: {k: 1}\n  j: 2\n  j: 3\n")
    assert dup.skipped == "invalid YAML at line 7, column 3: duplicate key 'j'"
