"""The review job end to end against the fake GitHub: checks, inline comments, re-pushes."""

import re

import pytest

from bot.review import job as review
from tests.fakegithub.world import job_context
from tests.fakegithub.world import virtual_service as vs

BASE = {"mesh/reviews.yaml": vs("reviews"), "mesh/ratings.yaml": vs("ratings")}


def run_job(world, pull, **kwargs):
    world.run(review.run(job_context(world, pull, **kwargs)))


def test_a_new_fault_fails_the_check_and_gets_an_inline_suggestion(world):
    pull = world.pull(BASE, {"mesh/reviews.yaml": vs("reviews", fault=True)})
    run_job(world, pull)

    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert (check["name"], check["status"], check["conclusion"]) == (
        "Istio footguns",
        "completed",
        "failure",
    )
    assert check["output"]["title"] == "1 new error"
    link = f"https://github.com/acme/mesh/blob/{pull.head_sha}/mesh/reviews.yaml#L9"
    assert f"[line 9]({link}) `fault-injection`" in check["output"]["summary"]
    assert [(a["path"], a["start_line"], a["annotation_level"]) for a in check["_annotations"]] == [
        ("mesh/reviews.yaml", 9, "failure")
    ]

    [posted] = world.fake.reviews_on(world.repo, pull.number)
    assert posted["state"] == "COMMENTED" and posted["commit_id"] == pull.head_sha
    [comment] = world.fake.comments_on(world.repo, pull.number)
    assert (comment["path"], comment["start_line"], comment["line"], comment["side"]) == (
        "mesh/reviews.yaml",
        9,
        10,
        "RIGHT",
    )
    body = comment["body"]
    assert "HTTP 503 aborts" in body and "**Why it hurts:**" in body and "**Fix:**" in body
    assert "```suggestion\n  - route:\n```" in body
    assert "/footgun waive until YYYY-MM-DD because" in body
    assert "VirtualService/mesh/reviews for 14d" in body
    assert re.search(r"<!-- footgun:fingerprint=[0-9a-f]{20} -->$", body)


def test_the_next_push_does_not_repeat_a_comment(world):
    pull = world.pull(BASE, {"mesh/reviews.yaml": vs("reviews", fault=True)})
    run_job(world, pull)
    world.fake.push(
        pull,
        {
            "mesh/ratings.yaml": vs("ratings").replace(
                "hosts: [", "hosts: [r2.mesh.svc.cluster.local, "
            )
        },
    )
    run_job(world, pull)

    assert len(world.fake.comments_on(world.repo, pull.number)) == 1
    assert len(world.fake.reviews_on(world.repo, pull.number)) == 1
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["conclusion"] == "failure"


def test_a_fixed_finding_is_marked_once_and_the_check_passes(world):
    pull = world.pull(BASE, {"mesh/reviews.yaml": vs("reviews", fault=True)})
    run_job(world, pull)
    fixed_sha = world.fake.push(
        pull,
        {"mesh/reviews.yaml": vs("reviews").replace("hosts: [", "hosts: [reviews.example.com, ")},
    )
    run_job(world, pull)

    [comment] = world.fake.comments_on(world.repo, pull.number)
    assert comment["body"].startswith(f"> [!NOTE]\n> **Fixed in {fixed_sha[:7]}**")
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert (check["conclusion"], check["output"]["title"]) == ("success", "No new footguns")
    assert len(world.fake.reviews_on(world.repo, pull.number)) == 1

    world.fake.push(pull, {"README.md": "more docs\n"})
    run_job(world, pull)
    assert len(world.fake.requests("PATCH", r"/pulls/comments/")) == 1


def test_reverting_the_change_marks_the_comment_fixed_too(world):
    pull = world.pull(BASE, {"mesh/reviews.yaml": vs("reviews", fault=True)})
    run_job(world, pull)
    reverted = world.fake.push(pull, {"mesh/reviews.yaml": vs("reviews")})
    run_job(world, pull)
    [comment] = world.fake.comments_on(world.repo, pull.number)
    assert f"**Fixed in {reverted[:7]}**" in comment["body"]
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["conclusion"] == "success"


def test_a_pull_request_without_istio_files_passes_without_a_review(world):
    pull = world.pull(BASE, {"README.md": "docs\n", "ci/workflow.yml": "on: push\n"})
    run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert (check["conclusion"], check["output"]["title"]) == (
        "success",
        "No Istio manifests changed",
    )
    assert world.fake.reviews_on(world.repo, pull.number) == []
    assert not world.fake.requests("POST", "/reviews$")


def test_a_fork_pull_request_is_reviewed_on_the_base_repository(world):
    pull = world.pull(BASE, {"mesh/reviews.yaml": vs("reviews", fault=True)}, fork="someone/mesh")
    run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["conclusion"] == "failure"
    [comment] = world.fake.comments_on(world.repo, pull.number)
    assert comment["line"] == 10


def test_a_stale_head_is_skipped_without_touching_the_check(world):
    pull = world.pull(BASE, {"mesh/reviews.yaml": vs("reviews", fault=True)})
    old = pull.head_sha
    world.fake.push(pull, {"mesh/ratings.yaml": vs("ratings", fault=True)})
    run_job(world, pull, head_sha=old)
    assert world.fake.runs_for(world.repo, old) == []
    assert world.fake.requests("POST") == [
        r for r in world.fake.requests("POST") if "access_tokens" in r.path
    ]


def test_a_head_config_cannot_switch_off_its_own_check(world):
    pull = world.pull(
        BASE,
        {
            ".github/footgun.yml": "rules:\n  fault-injection: off\n",
            "mesh/reviews.yaml": vs("reviews", fault=True),
        },
    )
    run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["conclusion"] == "failure"


def test_the_base_config_does_apply(world):
    base = {**BASE, ".github/footgun.yml": "rules:\n  fault-injection: warning\n"}
    pull = world.pull(base, {"mesh/reviews.yaml": vs("reviews", fault=True)})
    run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert (check["conclusion"], check["output"]["title"]) == ("success", "1 new warning")


def test_a_bad_base_config_concludes_the_check_with_its_error(world):
    base = {**BASE, ".github/footgun.yml": "rules:\n  fault-injektion: off\n"}
    pull = world.pull(base, {"mesh/reviews.yaml": vs("reviews", fault=True)})
    run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert (check["conclusion"], check["output"]["title"]) == (
        "failure",
        "Invalid .github/footgun.yml",
    )
    assert check["output"]["summary"].startswith(
        ".github/footgun.yml:2: unknown rule 'fault-injektion' (did you mean fault-injection?)\n"
    )
    assert world.fake.reviews_on(world.repo, pull.number) == []


def test_running_the_same_job_twice_updates_the_one_check_run(world):
    pull = world.pull(BASE, {"mesh/reviews.yaml": vs("reviews", fault=True)})
    run_job(world, pull)
    run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["conclusion"] == "failure"
    assert len(check["_annotations"]) == 1
    assert len(world.fake.comments_on(world.repo, pull.number)) == 1
    assert len(world.fake.reviews_on(world.repo, pull.number)) == 1


def test_the_handler_is_registered_for_review_jobs():
    from bot.queue import jobs

    assert jobs.HANDLERS["review"].run is review.run
    assert jobs.HANDLERS["review"].give_up is review.give_up


@pytest.mark.parametrize("base_url", ["https://ghe.example.com/api/v3"])
def test_github_enterprise_base_url(respx_mock, base_url):
    from tests.fakegithub.world import make_world

    world = make_world(respx_mock, base_url)
    pull = world.pull(BASE, {"mesh/reviews.yaml": vs("reviews", fault=True)})
    run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["conclusion"] == "failure"
    assert all(str(call.path).startswith("/") for call in world.fake.log)


def test_a_ten_file_push_in_a_2000_manifest_repository_needs_a_handful_of_calls(world):
    base = {f"apps/team{i % 40}/vs{i}.yaml": vs(f"svc{i}") for i in range(2000)}
    warmup = world.pull(base, {"apps/team0/vs0.yaml": vs("svc0", fault=True)})
    run_job(world, warmup)  # the repository's manifests are now cached by blob SHA

    pull = world.pull(
        base, {f"apps/team{i}/vs{i}.yaml": vs(f"svc{i}", fault=True) for i in range(10, 20)}
    )
    world.fake.log.clear()
    run_job(world, pull)
    calls = [(r.method, re.sub(r"[0-9a-f]{40}", "SHA", r.path)) for r in world.fake.log]
    assert calls == [
        ("GET", "/repos/acme/mesh/pulls/%d" % pull.number),
        ("GET", "/repos/acme/mesh/commits/SHA/check-runs"),
        ("POST", "/repos/acme/mesh/check-runs"),
        ("GET", "/repos/acme/mesh/pulls/%d/files" % pull.number),
        ("GET", "/repos/acme/mesh/pulls/%d" % pull.number),  # the diff
        ("GET", "/repos/acme/mesh/git/trees/SHA"),
        ("GET", "/repos/acme/mesh/git/trees/SHA"),
        (
            "PATCH",
            "/repos/acme/mesh/check-runs/%d"
            % world.fake.runs_for(world.repo, pull.head_sha)[0]["id"],
        ),
        ("GET", "/repos/acme/mesh/pulls/%d/comments" % pull.number),
        ("GET", "/repos/acme/mesh/pulls/%d/reviews" % pull.number),
        ("POST", "/repos/acme/mesh/pulls/%d/reviews" % pull.number),
    ]
    assert len(world.fake.comments_on(world.repo, pull.number)) == 10


def test_a_diff_too_large_to_render_still_gets_inline_comments(world):
    base = {f"mesh/{i}.yaml": vs(f"s{i}") for i in range(305)}
    head = {f"mesh/{i}.yaml": vs(f"s{i}", fault=True) for i in range(305)}
    pull = world.pull(base, head)
    run_job(world, pull)
    assert [r.status for r in world.fake.requests("GET", r"/pulls/\d+$")][-1] == 406
    comments = world.fake.comments_on(world.repo, pull.number)
    assert len(comments) == 30
    assert all((c["start_line"], c["line"]) == (9, 10) for c in comments)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["output"]["annotations_count"] == 305
    assert "the diff is too large for GitHub to render" in check["output"]["summary"]


STRICT = """\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: STRICT
"""


def test_deleting_a_strict_policy_is_reported_in_the_review_body(world):
    pull = world.pull({**BASE, "security/strict.yaml": STRICT}, {"security/strict.yaml": None})
    run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["conclusion"] == "failure"
    assert "`mtls-weakened`" in check["output"]["summary"]
    assert check["_annotations"] == []  # the file is gone at head: nothing to annotate
    assert world.fake.comments_on(world.repo, pull.number) == []
    [posted] = world.fake.reviews_on(world.repo, pull.number)
    assert "`mtls-weakened`" in posted["body"]
    assert (
        f"[security/strict.yaml line 8](https://github.com/acme/mesh/blob/{pull.base_sha}/security/strict.yaml#L8)"
        in posted["body"]
    )


def test_parsing_and_analysis_run_off_the_event_loop(world, monkeypatch):
    """Parsing and analysing a large repository takes seconds of CPU: meanwhile the process's event
    loop must keep answering webhooks (GitHub gives up after 10 s) and health probes."""
    import threading

    from bot.github import changeset
    from rules.core import engine

    loop_threads, analysed_on, parsed_on = [], [], []

    def spy(real, threads):
        def call(*args, **kwargs):
            threads.append(threading.get_ident())
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(engine, "analyse", spy(engine.analyse, analysed_on))
    monkeypatch.setattr(changeset, "parse_file", spy(changeset.parse_file, parsed_on))
    pull = world.pull(
        {"mesh/vs.yaml": vs("parsed-off-loop")}, {"mesh/vs.yaml": vs("parsed-off-loop", fault=True)}
    )

    async def job():
        loop_threads.append(threading.get_ident())
        await review.run(job_context(world, pull))

    world.run(job())
    assert analysed_on and loop_threads[0] not in analysed_on
    assert parsed_on and loop_threads[0] not in parsed_on
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["conclusion"] == "failure"


def test_a_changed_manifest_that_does_not_parse_is_reported_and_listed(world):
    broken = vs("reviews").replace("  hosts:", "\thosts:")
    pull = world.pull(BASE, {"mesh/reviews.yaml": broken})
    run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["output"]["title"] == "1 new warning"
    summary = check["output"]["summary"]
    assert "**1 changed file could not be analysed** (nothing in them was checked):" in summary
    assert "- `mesh/reviews.yaml`: invalid YAML at line" in summary
    assert "`yaml-invalid`" in summary
