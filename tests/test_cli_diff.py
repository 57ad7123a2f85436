"""`footgun diff BASE [HEAD]` on temporary git repositories."""

from __future__ import annotations

import os

import pytest

from bot.cli import sources
from tests.cli_support import CLEAN, FAULT_AT, FAULTY, GitRepo, only, run_cli, run_subprocess

CONFIG = ".github/footgun.yml"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    repo = GitRepo(root)
    repo.commit({CONFIG: only("fault-injection"), "mesh/clean.yaml": CLEAN}, "config")
    return repo


def new_findings(result) -> list[tuple[str, int, int]]:
    return [(f["path"], f["line"], f["column"]) for f in result.json["findings"] if f["new"]]


def test_finding_that_existed_at_base_is_not_new(repo, capsys):
    base = repo.commit({"mesh/vs.yaml": FAULTY}, "old fault")
    repo.commit({"mesh/other.yaml": CLEAN.replace("ratings", "reviews")}, "unrelated change")
    result = run_cli(capsys, "diff", base, "--format", "json")
    assert result.code == 0
    [finding] = result.json["findings"]
    assert (finding["path"], finding["line"], finding["new"]) == (
        "mesh/vs.yaml",
        FAULT_AT[0],
        False,
    )
    assert result.json["counts"] == {"error": 1, "warning": 0, "new": 0}


def test_added_fault_is_new_and_exits_1(repo, capsys):
    base = repo.git("rev-parse", "HEAD").strip()
    repo.commit({"mesh/vs.yaml": FAULTY}, "add a fault")
    result = run_cli(capsys, "diff", base, "HEAD", "--format", "json")
    assert result.code == 1
    assert new_findings(result) == [("mesh/vs.yaml", *FAULT_AT)]
    text = run_cli(capsys, "diff", base)
    assert "(new)" in text.out.splitlines()[1]
    assert text.out.splitlines()[-1] == "1 error, 0 warnings, 1 new"


def test_head_defaults_to_HEAD(repo, capsys):
    base = repo.git("rev-parse", "HEAD").strip()
    repo.commit({"mesh/vs.yaml": FAULTY})
    assert run_cli(capsys, "diff", base).code == 1
    assert run_cli(capsys, "diff", "HEAD").code == 0


def test_renamed_file_with_unchanged_fault_creates_nothing_new(repo, capsys):
    base = repo.commit({"mesh/vs.yaml": FAULTY}, "fault")
    repo.git("mv", "mesh/vs.yaml", "mesh/ratings-vs.yaml")
    repo.git("commit", "-q", "-m", "rename")
    result = run_cli(capsys, "diff", base, "--format", "json")
    assert result.code == 0
    assert [(f["path"], f["new"]) for f in result.json["findings"]] == [
        ("mesh/ratings-vs.yaml", False)
    ]


def test_working_tree_is_neither_read_nor_touched(repo, capsys):
    base = repo.git("rev-parse", "HEAD").strip()
    repo.commit({"mesh/vs.yaml": CLEAN.replace("ratings", "details")})
    repo.write({"mesh/dirty.yaml": FAULTY, "mesh/vs.yaml": FAULTY})  # uncommitted, with faults
    before = {
        p: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in repo.root.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }
    status = repo.git("status", "--porcelain")
    head = repo.git("rev-parse", "HEAD")
    result = run_cli(capsys, "diff", base, "--format", "json")
    assert (result.code, result.json["findings"]) == (0, [])
    after = {
        p: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in repo.root.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }
    assert after == before
    assert repo.git("status", "--porcelain") == status
    assert repo.git("rev-parse", "HEAD") == head


def test_config_is_read_from_base_not_from_the_change(repo, capsys):
    base = repo.git("rev-parse", "HEAD").strip()
    # The change adds a fault and tries to switch the rule off in the same commit.
    repo.commit({"mesh/vs.yaml": FAULTY, CONFIG: "rules:\n  fault-injection: off\n"})
    result = run_cli(capsys, "diff", base, "--format", "json")
    assert result.code == 1
    assert new_findings(result) == [("mesh/vs.yaml", *FAULT_AT)]


def test_base_config_switching_a_rule_off_applies(repo, capsys):
    base = repo.commit({CONFIG: "rules:\n  fault-injection: off\n"})
    repo.commit({"mesh/vs.yaml": FAULTY, CONFIG: only("fault-injection")})
    result = run_cli(capsys, "diff", base, "--format", "json")
    assert (result.code, result.json["findings"]) == (0, [])


def test_config_option_overrides_the_base_config(repo, capsys, tmp_path):
    base = repo.commit({CONFIG: "rules:\n  fault-injection: off\n"})
    repo.commit({"mesh/vs.yaml": FAULTY})
    (tmp_path / "strict.yml").write_text(only("fault-injection"))
    assert run_cli(capsys, "diff", base, "--config", str(tmp_path / "strict.yml")).code == 1


def test_bad_config_at_base_is_exit_2_naming_the_revision(repo, capsys):
    base = repo.commit({CONFIG: "rulez: {}\n"})
    result = run_cli(capsys, "diff", base)
    assert result.code == 2
    assert result.err.startswith(f"footgun: {base}:{CONFIG}:1: unknown key 'rulez' (known: ")
    assert len(result.err.splitlines()) == 1


def test_unknown_revision_is_exit_2(repo, capsys):
    result = run_cli(capsys, "diff", "no-such-branch")
    assert (result.code, result.out, result.err) == (
        2,
        "",
        "footgun: unknown revision 'no-such-branch'\n",
    )
    assert run_cli(capsys, "diff", "HEAD", "--bogus-option-like").code == 2


def test_not_a_git_repository_is_exit_2(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "plain"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    result = run_cli(capsys, "diff", "main")
    assert (result.code, result.err) == (
        2,
        "footgun: not a git repository (run footgun diff inside one)\n",
    )


def test_without_git_installed_diff_is_one_line_and_exit_2(repo, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = run_cli(capsys, "diff", "HEAD")
    assert (result.code, result.out, result.err) == (2, "", "footgun: git is not installed\n")


def test_cached_blobs_are_not_read_again(repo, capsys, monkeypatch):
    base = repo.git("rev-parse", "HEAD").strip()
    repo.commit({"mesh/vs.yaml": FAULTY})
    first = run_cli(capsys, "diff", base, "--format", "json")
    requested: list[set[str] | None] = []
    read_blobs = sources.read_blobs

    def spy(files, wanted=None, cwd=None):
        requested.append(wanted)
        return read_blobs(files, wanted, cwd)

    monkeypatch.setattr(sources, "read_blobs", spy)
    second = run_cli(capsys, "diff", base, "--format", "json")
    assert second.json == first.json
    # Only the config blob (read for the config, not a manifest to parse) may be read again.
    assert requested[-1] == set()
    repo.commit({"mesh/new.yaml": CLEAN.replace("ratings", "new")})
    run_cli(capsys, "diff", base, "--format", "json")
    new_blob = repo.git("rev-parse", "HEAD:mesh/new.yaml").strip()
    assert requested[-1] == {new_blob}


def test_no_cache_reads_every_blob(repo, capsys, monkeypatch, tmp_path):
    base = repo.git("rev-parse", "HEAD").strip()
    repo.commit({"mesh/vs.yaml": FAULTY})
    assert run_cli(capsys, "diff", base, "--no-cache").code == 1
    assert not (tmp_path / "cache").exists()


def test_diff_as_a_process_in_a_subfolder(repo, tmp_path):
    base = repo.git("rev-parse", "HEAD").strip()
    repo.commit({"mesh/vs.yaml": FAULTY})
    result = run_subprocess(
        "diff",
        base,
        "--format",
        "github",
        cwd=repo.root / "mesh",
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert result.code == 1
    assert result.out.startswith("::error file=mesh/vs.yaml,line=10,col=5,title=fault-injection::")
    assert sorted(os.listdir(repo.root / "mesh")) == ["clean.yaml", "vs.yaml"]


def test_a_moved_file_keeps_its_findings_old_beside_a_new_one(repo, capsys):
    base = repo.commit({"mesh/old.yaml": FAULTY.replace("ratings", "old")})
    repo.commit(
        {
            "mesh/vs.yaml": FAULTY,
            "mesh/old.yaml": None,
            "mesh/moved.yaml": FAULTY.replace("ratings", "old"),
        }
    )
    result = run_cli(capsys, "diff", base, "--format", "json", "--no-cache")
    assert [(f["path"], f["new"]) for f in result.json["findings"]] == [
        ("mesh/moved.yaml", False),
        ("mesh/vs.yaml", True),
    ]


def test_base_findings_are_cached_for_the_next_diff_against_the_same_base(
    repo, capsys, monkeypatch
):
    import rules.core.engine

    base = repo.commit({"mesh/old.yaml": FAULTY.replace("ratings", "old")})
    repo.commit({"mesh/vs.yaml": FAULTY})
    first = run_cli(capsys, "diff", base, "--format", "json")

    def must_not_run(*args, **kwargs):
        raise AssertionError("the base was analysed again")

    monkeypatch.setattr(rules.core.engine, "remember", must_not_run)
    second = run_cli(capsys, "diff", base, "--format", "json")
    assert second.json == first.json
    assert [(f["path"], f["new"]) for f in second.json["findings"]] == [
        ("mesh/old.yaml", False),
        ("mesh/vs.yaml", True),
    ]
    # Another push on the same base still reuses them; a new base does not.
    repo.commit({"mesh/more.yaml": CLEAN.replace("ratings", "more")})
    assert (
        run_cli(capsys, "diff", base, "--format", "json").json["findings"] == first.json["findings"]
    )
    with pytest.raises(AssertionError, match="analysed again"):
        run_cli(capsys, "diff", "HEAD~1", "--format", "json")


def test_a_config_change_at_base_is_not_served_stale_findings(repo, capsys):
    base = repo.commit({"mesh/old.yaml": FAULTY.replace("ratings", "old")})
    repo.commit({"mesh/vs.yaml": FAULTY})
    assert run_cli(capsys, "diff", base).code == 1
    repo.git("checkout", "-q", base)
    relaxed = repo.commit({CONFIG: only("fault-injection", setting="warning")})
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit({"mesh/vs.yaml": FAULTY})
    result = run_cli(capsys, "diff", relaxed, "--format", "json")
    assert result.code == 0
    assert [(f["severity"], f["new"]) for f in result.json["findings"]] == [
        ("warning", False),
        ("warning", True),
    ]


def test_large_blob_is_skipped_with_its_real_size_and_odd_names_are_kept(repo, capsys):
    base = repo.git("rev-parse", "HEAD").strip()
    big = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n" + "# padding\n" * 300_000
    repo.commit({"mesh/big.yaml": big, "mesh/ratings ünï.yaml": FAULTY})
    result = run_cli(capsys, "diff", base, "--format", "json")
    assert result.json["skipped"] == [
        {
            "path": "mesh/big.yaml",
            "reason": f"larger than 1 MiB ({len(big):,} bytes); split it into smaller files",
        }
    ]
    assert [f["path"] for f in result.json["findings"]] == ["mesh/ratings ünï.yaml"]
    assert result.code == 1


def test_github_annotations_in_a_diff_blame_only_new_findings(repo, capsys):
    base = repo.commit({"mesh/old.yaml": FAULTY.replace("ratings", "old")})
    repo.commit({"mesh/vs.yaml": FAULTY})
    lines = run_cli(capsys, "diff", base, "--format", "github").out.splitlines()
    # The change's own error comes first: GitHub shows only the first 10 of each level.
    assert lines[0].startswith("::error file=mesh/vs.yaml,line=10,col=5,title=fault-injection::")
    assert lines[1].startswith(
        "::notice file=mesh/old.yaml,line=10,col=5,title=fault-injection (already at base)::"
    )
    assert lines[2] == "footgun: 2 errors, 0 warnings, 1 new"


GATEWAY_API_GATEWAY = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: ingress}
spec:
  gatewayClassName: istio
  listeners:
  - {name: https, port: 443, protocol: HTTPS, hostname: "*.example.com", allowedRoutes: {namespaces: {from: All}}}
"""
GATEWAY_API_ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: shop}
spec:
  parentRefs:
  - {name: public, namespace: ingress}
  - {name: canary, namespace: ingress}
  hostnames: [shop.example.com]
"""


def test_a_route_whose_gateway_the_change_deletes_or_narrows_is_new(repo, capsys):
    """The finding sits on the unchanged route file: only the Gateway's file changed."""
    config = only("route-parent-not-found").replace("  route-hostname-mismatch: off\n", "")
    canary = GATEWAY_API_GATEWAY.replace("name: public", "name: canary")
    base = repo.commit(
        {
            CONFIG: config,
            "ingress/public.yaml": GATEWAY_API_GATEWAY,
            "ingress/canary.yaml": canary,
            "apps/shop.yaml": GATEWAY_API_ROUTE,
        },
        "a route on two gateways",
    )
    narrowed = GATEWAY_API_GATEWAY.replace('"*.example.com"', "api.example.com")
    repo.commit({"ingress/canary.yaml": None, "ingress/public.yaml": narrowed}, "drop canary")
    result = run_cli(capsys, "diff", base, "--format", "json")
    found = sorted((f["rule"], f["path"], f["line"], f["new"]) for f in result.json["findings"])
    assert found == [
        ("route-hostname-mismatch", "apps/shop.yaml", 6, True),
        ("route-parent-not-found", "apps/shop.yaml", 7, True),
    ]
    assert result.code == 1
