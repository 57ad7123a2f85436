"""Fetching a pull request's change set: diff lines, base config, fork PRs, cache and call counts."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.github.changeset import BlobCache, ConfigInvalid, PullRequest, fetch
from bot.github.diffs import apply_patch, right_side_lines
from render import helm
from tests.fakegithub.world import virtual_service as vs


def change_set(world, pull, cache=None):
    return world.run(
        fetch(
            world.client,
            PullRequest.from_json(
                {
                    "number": pull.number,
                    "head": {"sha": pull.head_sha, "repo": pull.head_repo.json()},
                    "base": {"sha": pull.base_sha, "repo": pull.repo.json()},
                }
            ),
            cache or BlobCache(),
        )
    )


def test_diff_lines_are_the_head_side_lines_of_the_hunks(world):
    base = {f"mesh/{i}.yaml": vs(f"svc{i}") for i in range(3)}
    pull = world.pull(base, {"mesh/1.yaml": vs("svc1", fault=True)})
    change = change_set(world, pull)
    # The fault replaces line 9 (`  - route:`) with two lines; hunks carry 3 lines of context.
    assert change.diff_lines == {"mesh/1.yaml": set(range(6, 12))}
    assert [f.path for f in change.files] == ["mesh/1.yaml"]
    assert change.relevant
    assert sorted(f.path for f in change.head) == sorted(base)


def test_too_large_diff_falls_back_to_the_files_list_patches(world):
    base = {f"mesh/{i}.yaml": vs(f"svc{i}") for i in range(301)}
    head = {f"mesh/{i}.yaml": vs(f"svc{i}", fault=True) for i in range(301)}
    pull = world.pull(base, head, omit_patch={"mesh/7.yaml"})
    change = change_set(world, pull)
    [diff] = world.fake.requests("GET", r"/pulls/\d+$")
    assert diff.status == 406
    assert change.diff_lines["mesh/0.yaml"] == set(range(6, 12))
    assert "mesh/7.yaml" not in change.diff_lines
    assert any("too large" in note for note in change.notes)


def test_config_is_read_from_the_base_commit(world):
    base = {"mesh/a.yaml": vs("a"), ".github/footgun.yml": "exclude: [legacy/**]\n"}
    pull = world.pull(
        base,
        {
            ".github/footgun.yml": "rules: {fault-injection: off}\n",
            "mesh/a.yaml": vs("a", fault=True),
        },
    )
    change = change_set(world, pull)
    assert change.config.exclude == ("legacy/**",)
    assert change.config.rule("fault-injection").enabled


def test_a_bad_base_config_is_one_line(world):
    pull = world.pull({".github/footgun.yml": "rulez: {}\n"}, {"mesh/a.yaml": vs("a")})
    with pytest.raises(ConfigInvalid) as info:
        change_set(world, pull)
    assert str(info.value).startswith(".github/footgun.yml:1: unknown key 'rulez'")
    assert "\n" not in str(info.value)


def test_fork_pull_requests_are_read_through_the_base_repository(world):
    pull = world.pull(
        {"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": vs("a", fault=True)}, fork="contributor/mesh"
    )
    assert "contributor/mesh" not in world.fake.installations[world.installation_id].repos
    change = change_set(world, pull)
    assert change.pull.is_fork
    assert change.relevant and change.diff_lines["mesh/a.yaml"]
    assert all(
        r.path.startswith("/repos/acme/mesh/") for r in world.fake.requests("GET", "^/repos")
    )


def test_a_pull_request_without_manifests_reads_no_tree_of_the_head(world):
    pull = world.pull(
        {"mesh/a.yaml": vs("a"), ".github/workflows/ci.yml": "on: push\n"},
        {"README.md": "docs\n", ".github/workflows/ci.yml": "on: [push]\n"},
    )
    change = change_set(world, pull)
    assert not change.relevant
    assert not world.fake.requests("GET", f"/git/trees/{pull.head_sha}")


def test_truncated_trees_are_walked_folder_by_folder(world):
    base = {f"team{t}/vs{i}.yaml": vs(f"s{t}-{i}") for t in range(3) for i in range(3)}
    pull = world.pull(base, {"team1/vs0.yaml": vs("s1-0", fault=True)})
    world.fake.tree_limit = 5
    change = change_set(world, pull)
    assert sorted(f.path for f in change.head) == sorted(base)
    assert any("folder by folder" in note for note in change.notes)


def test_warm_cache_needs_a_handful_of_calls_in_a_large_repository(world):
    base = {f"apps/team{i % 20}/vs{i}.yaml": vs(f"svc{i}") for i in range(2000)}
    first = world.pull(
        base, {f"apps/team{i}/vs{i}.yaml": vs(f"svc{i}", fault=True) for i in range(10)}
    )
    cache = BlobCache()
    cold = change_set(world, first, cache)
    assert len(cold.head) == 2000
    assert len(world.fake.requests("GET", "/tarball/")) == 1  # cold: one archive, not 2,000 blobs

    # A second pull request on the same repository: its 10 changed files are rebuilt from the
    # cached base text and their patches; nothing is fetched per file.
    world.fake.log.clear()
    second = world.pull(
        base, {f"apps/team{i}/vs{i}.yaml": vs(f"svc{i}", fault=True) for i in range(10, 20)}
    )
    warm = change_set(world, second, cache)
    calls = [(r.method, r.path) for r in world.fake.log]
    assert len(calls) == 4, calls  # files, diff, base tree, head tree
    assert len(warm.head) == 2000
    assert {f.path for f in warm.files} == {f"apps/team{i}/vs{i}.yaml" for i in range(10, 20)}


def test_unidiff_parser_maps_added_and_context_lines():
    diff = (
        "diff --git a/x.yaml b/x.yaml\nindex 1..2 100644\n--- a/x.yaml\n+++ b/x.yaml\n"
        "@@ -1,3 +1,4 @@\n a\n-b\n+B\n+C\n c\n@@ -10,2 +11,2 @@\n j\n-k\n+K\n"
    )
    assert right_side_lines(diff) == {"x.yaml": {1, 2, 3, 4, 11, 12}}


_lines = st.lists(st.sampled_from(["a", "b", "c", "kind: X", "  - route:", ""]), max_size=25)


@given(_lines, _lines)
def test_a_patch_rebuilds_the_head_text_from_the_base_text(old, new):
    import difflib

    before = "".join(f"{line}\n" for line in old)
    after = "".join(f"{line}\n" for line in new)
    patch = "\n".join(
        list(difflib.unified_diff(before.splitlines(), after.splitlines(), n=3, lineterm=""))[2:]
    )
    assert apply_patch(before, patch) == (after if patch else before)


def test_a_patch_that_does_not_fit_the_base_is_refused():
    assert apply_patch("a\nb\n", "@@ -1,2 +1,2 @@\n a\n-x\n+y") is None
    assert apply_patch("a\n", "@@ -1 +1 @@\n-a\n+b\n\\ No newline at end of file") == "b"


def test_a_changed_file_is_fetched_when_its_rebuilt_text_does_not_hash_right(world, monkeypatch):
    from bot.github import changeset

    base = {f"mesh/{i}.yaml": vs(f"svc{i}") for i in range(5)}
    cache = BlobCache()
    change_set(world, world.pull(base, {"mesh/9.yaml": vs("svc9")}), cache)
    pull = world.pull(base, {"mesh/1.yaml": vs("svc1", fault=True)})
    monkeypatch.setattr(changeset, "apply_patch", lambda old, patch: old + "# tampered\n")
    world.fake.log.clear()
    change = change_set(world, pull, cache)
    assert [r.path for r in world.fake.requests("GET", "/git/blobs/")] == [
        f"/repos/acme/mesh/git/blobs/{change.files[0].sha}"
    ]
    [resource_file] = [f for f in change.head if f.path == "mesh/1.yaml"]
    assert "fault" in change.parsed[resource_file.key].documents[0].text


CHART = {
    "charts/reviews/Chart.yaml": "apiVersion: v2\nname: reviews\nversion: 1.0.0\n",
    "charts/reviews/values.yaml": "chaos:\n  enabled: false\n",
    "charts/reviews/templates/_helpers.tpl": '{{- define "reviews.name" -}}reviews{{- end }}\n',
    "charts/reviews/templates/vs.yaml": "kind: VirtualService\nname: {{ .Values.x }}\n",
    "charts/reviews/files/routes.json": "{}\n",
}


def test_chart_files_are_read_at_base_and_head_with_their_content(world):
    base = {**CHART, "mesh/a.yaml": vs("a")}
    pull = world.pull(base, {"charts/reviews/values.yaml": "chaos:\n  enabled: true\n"})
    change = change_set(world, pull)
    assert change.relevant  # a values file of a chart: what the chart renders may change
    for revision, values in ((change.head, b"true"), (change.base, b"false")):
        files = {f.path: f for f in revision}
        assert set(CHART) <= set(files)
        assert files["charts/reviews/templates/_helpers.tpl"].data.startswith(b"{{- define")
        assert values in files["charts/reviews/values.yaml"].data
        assert files["charts/reviews/files/routes.json"].data == b"{}\n"
    # No more than one read per blob: trees, files, diff and the blobs (no tarball for 7).
    blob_reads = world.fake.requests("GET", "/git/blobs/")
    assert len(blob_reads) <= len(base) + 1


def test_a_pull_request_changing_only_a_template_helper_is_relevant(world):
    pull = world.pull(
        CHART, {"charts/reviews/templates/_helpers.tpl": '{{- define "x" }}{{ end }}\n'}
    )
    assert change_set(world, pull).relevant


@pytest.mark.skipif(not helm.available(), reason="Helm support is not installed")
def test_the_app_renders_charts_and_reports_on_the_values_line(world):
    from bot.github.changeset import analyse
    from tests.test_helm_targets import repo

    chart = {path: data.decode() for path, data in repo().items()}
    app = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: reviews-prod\n"
        "spec:\n  source:\n    path: charts/reviews\n    helm:\n"
        "      valueFiles: [values-prod.yaml, values-chaos.yaml]\n"
        "  destination:\n    namespace: prod\n"
    )
    chaos = chart["charts/reviews/values-chaos.yaml"]
    base = {
        **chart,
        "charts/reviews/values-chaos.yaml": chaos.replace("true", "false"),
        "argocd/reviews.yaml": app,
    }
    pull = world.pull(base, {"charts/reviews/values-chaos.yaml": chaos})
    change = change_set(world, pull)
    report = world.run(analyse(change.head, change.base, change.config, change.parsed))
    new = [(f.rule, f.path, f.line) for f in report.findings if f.new]
    assert new == [("fault-injection", "charts/reviews/values-chaos.yaml", 3)]
    assert "charts/reviews/values-chaos.yaml" in change.diff_lines  # so it can be commented on
