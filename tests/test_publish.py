"""Publishing against GitHub's limits: annotations per request, output size, comment placement."""

import re

from bot.github import markers
from bot.github.changeset import ChangeSet, PullRequest
from bot.review import comments as render
from bot.review import job as review
from bot.review.comments import Links
from bot.review.publish import MAX_INLINE_COMMENTS, publish_review
from rules.core.config import Config
from rules.core.model import Edit, Finding, ResourceRef
from tests.fakegithub.world import job_context
from tests.fakegithub.world import virtual_service as vs


def faulty_routes(count: int, name: str = "big") -> str:
    routes = "".join(
        f"  - fault: {{abort: {{httpStatus: 503}}}}\n    route:\n    - destination: {{host: h{i}.mesh.svc.cluster.local}}\n"
        for i in range(count)
    )
    return (
        f"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: {name}\n"
        f"  namespace: mesh\nspec:\n  hosts: [{name}.mesh.svc.cluster.local]\n  http:\n{routes}"
    )


def run_job(world, pull):
    world.run(review.run(job_context(world, pull)))


def test_annotations_go_fifty_per_request(world):
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/big.yaml": faulty_routes(61)})
    run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["output"]["annotations_count"] == 61
    sizes = [
        len(r.body["output"]["annotations"])
        for r in world.fake.requests("PATCH", "check-runs")
        if r.body.get("output", {}).get("annotations")
    ]
    assert sizes == [50, 11]
    assert check["conclusion"] == "failure"
    assert check["output"]["title"] == "61 new errors"


def test_a_huge_report_stays_under_githubs_output_limit(world):
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/big.yaml": faulty_routes(700)})
    run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    summary = check["output"]["summary"]
    assert len(summary) <= render.MAX_OUTPUT_CHARS
    assert summary.startswith("**700 new findings** in this pull request (700 errors, 0 warnings).")
    listed = summary.count("\n- :x: [line ")
    more = int(re.search(r"…and (\d+) more new findings: see the annotations\.\n$", summary)[1])
    assert listed + more == 700 and listed > 100
    assert check["output"]["annotations_count"] == 700
    assert all(r.status == 200 for r in world.fake.requests("PATCH", "check-runs"))


def test_at_most_thirty_inline_comments_and_the_rest_in_the_review_body(world):
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/big.yaml": faulty_routes(35)})
    run_job(world, pull)
    comments = world.fake.comments_on(world.repo, pull.number)
    assert len(comments) == MAX_INLINE_COMMENTS
    assert all("```suggestion" in c["body"] for c in comments)
    [posted] = world.fake.reviews_on(world.repo, pull.number)
    assert posted["body"].startswith("istio-footgun-bot found 35 new footguns in this push.")
    assert len(markers.fingerprints_in(posted["body"])) == 5

    world.fake.push(pull, {"README.md": "unrelated\n"})
    run_job(world, pull)
    assert len(world.fake.comments_on(world.repo, pull.number)) == 30
    assert len(world.fake.reviews_on(world.repo, pull.number)) == 1


def far_route(host: str) -> str:
    """A faulty route whose destination sits 8 lines below the fault (outside its hunk)."""
    return (
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: far\n"
        "  namespace: mesh\nspec:\n  hosts: [far.mesh.svc.cluster.local]\n  http:\n"
        "  - fault: {abort: {httpStatus: 503}}\n    timeout: 5s\n    retries:\n      attempts: 3\n"
        "      perTryTimeout: 2s\n    headers:\n      request:\n        set: {x-a: b}\n"
        f"    route:\n    - destination: {{host: {host}.mesh.svc.cluster.local}}\n"
    )


def test_a_new_finding_outside_the_hunks_gets_a_file_level_comment(world):
    pull = world.pull({"mesh/far.yaml": far_route("old")}, {"mesh/far.yaml": far_route("new")})
    run_job(world, pull)
    [comment] = world.fake.comments_on(world.repo, pull.number)
    assert (comment["subject_type"], comment["path"], comment["line"]) == (
        "file",
        "mesh/far.yaml",
        None,
    )
    assert "```suggestion" not in comment["body"]
    assert markers.fingerprints_in(comment["body"])
    [posted] = world.fake.reviews_on(world.repo, pull.number)
    assert posted["body"] == "istio-footgun-bot found 1 new footgun in this push."


def finding(path: str, line: int, fingerprint: str, edit: Edit | None = None) -> Finding:
    return Finding(
        "fault-injection",
        "error",
        f"fault at line {line}",
        path,
        line,
        5,
        ResourceRef("VirtualService", "mesh", "x"),
        fingerprint,
        new=True,
        edit=edit,
    )


def change_for(pull, diff_lines) -> ChangeSet:
    info = PullRequest("acme/mesh", pull.number, pull.head_sha, pull.base_sha, "acme/mesh")
    return ChangeSet(info, [], diff_lines, Config())


def test_findings_in_unchanged_files_go_to_the_review_body(world):
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": vs("a", fault=True)})
    links = Links("https://github.com/acme/mesh", pull.head_sha)
    result = world.run(
        publish_review(
            world.client,
            world.repo,
            pull.number,
            [finding("mesh/other.yaml", 3, "f" * 20)],
            change_for(pull, {"mesh/a.yaml": set(range(6, 12))}),
            links,
        )
    )
    assert result.in_body and not result.inline and not result.file_level
    [posted] = world.fake.reviews_on(world.repo, pull.number)
    assert "[mesh/other.yaml line 3](https://github.com/acme/mesh/blob/" in posted["body"]
    assert "<!-- footgun:fingerprint=" + "f" * 20 + " -->" in posted["body"]


def test_a_review_github_rejects_is_posted_again_as_a_body_only_review(world):
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": vs("a", fault=True)})
    links = Links("https://github.com/acme/mesh", pull.head_sha)
    # We believe line 40 is in the diff; GitHub does not, and rejects the whole review.
    change = change_for(pull, {"mesh/a.yaml": {9, 40}})
    findings = [finding("mesh/a.yaml", 9, "a" * 20), finding("mesh/a.yaml", 40, "b" * 20)]
    result = world.run(
        publish_review(world.client, world.repo, pull.number, findings, change, links)
    )
    assert [r.status for r in world.fake.requests("POST", "/reviews$")] == [422, 200]
    assert world.fake.comments_on(world.repo, pull.number) == []
    [posted] = world.fake.reviews_on(world.repo, pull.number)
    assert markers.fingerprints_in(posted["body"]) == {"a" * 20, "b" * 20}
    assert len(result.in_body) == 2


def test_a_suggestion_needs_every_edited_line_in_the_diff(world):
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": vs("a", fault=True)})
    links = Links("https://github.com/acme/mesh", pull.head_sha)
    edit = Edit(9, 12, "  - route:")  # line 12 is past the hunk
    change = change_for(pull, {"mesh/a.yaml": set(range(6, 12))})
    world.run(
        publish_review(
            world.client,
            world.repo,
            pull.number,
            [finding("mesh/a.yaml", 9, "c" * 20, edit)],
            change,
            links,
        )
    )
    [comment] = world.fake.comments_on(world.repo, pull.number)
    assert (comment["start_line"], comment["line"]) == (None, 9)
    assert "```suggestion" not in comment["body"]


def test_summary_lists_waived_and_skipped_and_counts_pre_existing():
    import datetime as dt

    from rules.core.config import ConfigWaiver
    from rules.core.model import Skipped
    from rules.core.waivers import ConfigFileWaiver

    old = finding("mesh/a.yaml", 3, "1" * 20)
    old.new = False
    waived = finding("mesh/b.yaml", 4, "2" * 20)
    waived.waived = True
    waived.waiver = ConfigFileWaiver(
        ConfigWaiver("fault-injection", None, dt.date(2026, 12, 31), "chaos drill")
    )
    text = render.summary(
        [old, waived],
        [Skipped("charts/t/templates/vs.yaml", "Helm template")],
        Links("https://github.com/acme/mesh", "abc1234"),
    )
    assert "No new footguns in this pull request." in text
    assert (
        "**1 pre-existing finding** (already on the base branch, not blocking): `fault-injection` 1"
        in text
    )
    assert "- `fault-injection` `VirtualService/mesh/x` until 2026-12-31: chaos drill" in text
    assert "- `charts/t/templates/vs.yaml`: Helm template" in text
    assert render.title([old, waived]) == "No new footguns (1 pre-existing, 1 waived)"


def test_a_retry_after_a_partial_upload_does_not_repeat_annotations(world):
    import pytest

    from bot.queue.jobs import RetryableError

    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/big.yaml": faulty_routes(61)})
    world.fake.fail("PATCH", r"/repos/acme/mesh/check-runs/\d+", 503, after=1)
    with pytest.raises(RetryableError):
        run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert (check["status"], check["output"]["annotations_count"]) == ("in_progress", 50)
    run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert (check["conclusion"], check["output"]["annotations_count"]) == ("failure", 61)


def test_summary_lists_the_changed_files_that_could_not_be_analysed_first():
    from rules.core.model import Skipped

    skipped = [
        Skipped("charts/t/templates/vs.yaml", "Helm template"),
        Skipped("mesh/broken.yaml", "invalid YAML at line 3, column 1: a tab character"),
    ]
    links = Links("https://github.com/acme/mesh", "abc1234")
    text = render.summary([], skipped, links, changed={"mesh/broken.yaml", "mesh/ok.yaml"})
    changed = text.index("**1 changed file could not be analysed** (nothing in them was checked):")
    broken = text.index("- `mesh/broken.yaml`: invalid YAML at line 3, column 1")
    other = text.index("**1 other file skipped:**")
    assert changed < broken < other < text.index("- `charts/t/templates/vs.yaml`: Helm template")
    assert "changed file" not in render.summary([], skipped[:1], links, changed={"mesh/ok.yaml"})


OVERLAY = "namespace: {ns}\nresources: [../../base]\n"


def test_a_finding_several_overlays_share_is_one_comment_naming_them(world):
    """A fault added to a base that three overlays deploy: three findings (one per target),
    one inline comment on the base line naming the three, one marker each; fixed only once
    every one of them is gone."""
    layout = {
        "base/kustomization.yaml": "resources: [vs.yaml]\n",
        "base/vs.yaml": vs("a"),
        **{f"overlays/{env}/kustomization.yaml": OVERLAY.format(ns="mesh") for env in "xyz"},
    }
    pull = world.pull(layout, {"base/vs.yaml": vs("a", fault=True)})
    run_job(world, pull)
    [comment] = world.fake.comments_on(world.repo, pull.number)
    assert comment["path"] == "base/vs.yaml"
    assert "In 3 targets: `overlays/x`, `overlays/y`, `overlays/z`." in comment["body"]
    assert len(markers.fingerprints_in(comment["body"])) == 3
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["output"]["annotations_count"] == 3

    # one overlay stops deploying the base: the comment stays, and nothing is posted again
    world.fake.push(pull, {"overlays/z/kustomization.yaml": "namespace: mesh\nresources: []\n"})
    run_job(world, pull)
    [comment] = world.fake.comments_on(world.repo, pull.number)
    assert "Fixed in" not in comment["body"]

    world.fake.push(pull, {"base/vs.yaml": vs("a")})
    run_job(world, pull)
    [comment] = world.fake.comments_on(world.repo, pull.number)
    assert "Fixed in" in comment["body"]


def test_one_target_is_named_in_the_comment(world):
    layout = {
        "base/kustomization.yaml": "resources: [vs.yaml]\n",
        "base/vs.yaml": vs("a"),
        "overlays/prod/kustomization.yaml": OVERLAY.format(ns="mesh"),
    }
    pull = world.pull(layout, {"base/vs.yaml": vs("a", fault=True)})
    run_job(world, pull)
    [comment] = world.fake.comments_on(world.repo, pull.number)
    assert "In target `overlays/prod`." in comment["body"]
    assert len(markers.fingerprints_in(comment["body"])) == 1
