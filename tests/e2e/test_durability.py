"""Accepted deliveries are never lost (issue "The GitHub App"), shown on a real `footgun serve`.

GitHub is down while deliveries arrive, so the workers' attempts fail and the jobs wait in the
queue; then the server is SIGKILLed, GitHub comes back, the server is started again on the same
database. Every accepted delivery must then have its effect exactly once: one check run per head
SHA, one inline comment per finding, the duplicate delivery stored once, nothing left behind.
"""

from __future__ import annotations

import copy

import pytest

from tests.e2e.scenario import (
    FAULT_LINES,
    FAULT_PATH,
    NAMESPACE,
    check_run_event,
    pull_request_event,
    push,
    repository_event,
    seed,
)
from tests.loopback import wait_until
from tests.webhooks import SECRET, payload

pytestmark = pytest.mark.e2e
REPO = "acme/mesh"


def published(fake_server, repo, number, *shas):
    """What the bot left on GitHub: check runs by head SHA, inline comments, reviews, run updates."""

    def read(fake):
        return copy.deepcopy(
            {
                "runs": {sha: fake.runs_for(repo, sha) for sha in shas},
                "comments": fake.comments_on(repo, number),
                "reviews": fake.reviews_on(repo, number),
                "created_runs": len(fake.requests("POST", f"/repos/{repo}/check-runs$")),
                "updated_runs": len(fake.requests("PATCH", f"/repos/{repo}/check-runs/")),
                "tokens": list(fake.tokens),
            }
        )

    return fake_server.call(read)


def test_deliveries_accepted_before_a_sigkill_are_processed_once_after_the_restart(
    fake_server, footgun
):
    ref = seed(fake_server, REPO)
    first_head = ref.head_sha
    app = footgun()
    answers = {}
    fake_server.stop()  # GitHub unreachable: the workers' attempts fail and the jobs wait
    try:
        app.start()

        def send(name, event, body, delivery):
            response = app.deliver(event, body, delivery)
            answers[name] = (response.status_code, response.json()["outcome"])

        send("ping", "ping", payload("ping.with-app_id"), "d-ping")
        send(
            "opened",
            "pull_request",
            pull_request_event(ref, "pull_request.opened", "2026-03-02T10:00:00Z"),
            "d-opened",
        )
        second_head = push(
            fake_server, ref, {"mesh/namespace.yaml": "# Owned by the mesh team.\n" + NAMESPACE}
        )
        send(
            "synchronize",
            "pull_request",
            pull_request_event(ref, "pull_request.synchronize", "2026-03-02T10:05:00Z"),
            "d-synchronize",
        )
        send(
            "closed",
            "pull_request",
            pull_request_event(ref, "pull_request.closed", "2026-03-02T10:06:00Z", state="closed"),
            "d-closed",
        )
        send(
            "reopened",
            "pull_request",
            pull_request_event(ref, "pull_request.reopened", "2026-03-02T10:07:00Z"),
            "d-reopened",
        )
        send(
            "rerequested",
            "check_run",
            check_run_event(ref, "check_run.rerequested", second_head),
            "d-rerequested",
        )
        send(
            "check_run.created",
            "check_run",
            check_run_event(ref, "check_run.created", second_head),
            "d-created",
        )
        send(
            "check_suite.requested",
            "check_suite",
            repository_event(ref, "check_suite.requested", **{"check_suite.head_sha": second_head}),
            "d-suite",
        )
        send(
            "duplicate",
            "pull_request",
            pull_request_event(ref, "pull_request.opened", "2026-03-02T10:00:00Z"),
            "d-opened",
        )

        def all_attempted():
            jobs = app.jobs()
            assert not [j for j in jobs if j["status"] in ("done", "failed")], jobs
            return (
                jobs if all(j["attempts"] >= 1 or j["status"] == "skipped" for j in jobs) else None
            )

        before_kill = wait_until(
            all_attempted, "every job to be tried once while GitHub is down", 15, details=app.logs
        )
        app.kill_between_jobs()
    finally:
        fake_server.start()

    assert answers == {
        "ping": (200, "pong"),
        "opened": (202, "queued"),
        "synchronize": (202, "queued"),
        "closed": (202, "recorded"),
        "reopened": (202, "queued"),
        "rerequested": (202, "queued"),
        "check_run.created": (200, "unhandled"),
        "check_suite.requested": (200, "unhandled"),
        "duplicate": (200, "duplicate"),
    }
    waiting = [j for j in before_kill if j["status"] == "queued"]
    assert waiting and all("cannot reach GitHub" in j["last_error"] for j in waiting), before_kill
    stored = app.query("SELECT delivery_id, event, action, outcome FROM deliveries ORDER BY id")
    expected_deliveries = [
        ("d-opened", "pull_request", "opened", "queued"),
        ("d-synchronize", "pull_request", "synchronize", "queued"),
        ("d-closed", "pull_request", "closed", "recorded"),
        ("d-reopened", "pull_request", "reopened", "queued"),
        ("d-rerequested", "check_run", "rerequested", "queued"),
    ]
    assert stored == expected_deliveries
    assert published(fake_server, REPO, ref.number, first_head, second_head)["created_runs"] == 0

    app.start()  # same database, same port; GitHub is back
    again = app.deliver(
        "pull_request",
        pull_request_event(ref, "pull_request.synchronize", "2026-03-02T10:05:00Z"),
        "d-synchronize",
    )
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    jobs = app.wait_for_drained_queue()

    assert (
        app.query("SELECT delivery_id, event, action, outcome FROM deliveries ORDER BY id")
        == expected_deliveries
    )
    by_head = {}
    for job in jobs:
        by_head.setdefault(job["payload"]["head_sha"], []).append(job)
    assert set(by_head) == {first_head, second_head}
    assert [(j["delivery_id"], j["status"]) for j in by_head[first_head]] == [
        ("d-opened", "skipped")
    ]
    assert "stale" in by_head[first_head][0]["last_error"]
    assert {j["status"] for j in by_head[second_head]} == {"done"}, jobs
    assert by_head[second_head][0]["delivery_id"] == "d-synchronize"
    # The deliveries that arrived while its job waited joined it (or, had it been running, queued their own).
    for delivery in ("d-reopened", "d-rerequested"):
        [note] = app.query("SELECT note FROM deliveries WHERE delivery_id = ?", delivery)[0]
        own = [j for j in by_head[second_head] if j["delivery_id"] == delivery]
        assert (
            own or note == f"#{ref.number} already queued as job {by_head[second_head][0]['id']}"
        ), (delivery, note)

    state = published(fake_server, REPO, ref.number, first_head, second_head)
    assert state["runs"][first_head] == []
    [run] = state["runs"][second_head]
    assert (run["name"], run["status"], run["conclusion"]) == (
        "Istio footguns",
        "completed",
        "failure",
    )
    assert [
        (a["path"], a["start_line"], a["annotation_level"], a["title"]) for a in run["_annotations"]
    ] == [(FAULT_PATH, FAULT_LINES[0], "failure", "fault-injection")]
    assert state["created_runs"] == 1
    [comment] = state["comments"]
    assert (comment["path"], comment["start_line"], comment["line"], comment["commit_id"]) == (
        FAULT_PATH,
        FAULT_LINES[0],
        FAULT_LINES[1],
        second_head,
    )
    assert "fault-injection" in comment["body"] and "503 aborts" in comment["body"]
    assert "```suggestion\n  - route:\n```" in comment["body"]
    assert len(state["reviews"]) == 1

    # Someone re-runs the check: the same run is updated, nothing is posted twice.
    rerun = app.deliver(
        "check_run", check_run_event(ref, "check_run.rerequested", second_head), "d-rerequested-2"
    )
    assert (rerun.status_code, rerun.json()["outcome"]) == (202, "queued")
    jobs = app.wait_for_drained_queue()
    assert [j["status"] for j in jobs if j["delivery_id"] == "d-rerequested-2"] == ["done"]
    after = published(fake_server, REPO, ref.number, first_head, second_head)
    [rerun_run] = after["runs"][second_head]
    assert (rerun_run["id"], rerun_run["conclusion"], after["created_runs"]) == (
        run["id"],
        "failure",
        1,
    )
    assert after["updated_runs"] > state["updated_runs"]
    assert [c["id"] for c in after["comments"]] == [comment["id"]] and len(after["reviews"]) == 1

    logs = app.logs()
    key_body = fake_server.fake.private_key.splitlines()[5]
    assert "job" in logs and SECRET not in logs and key_body not in logs
    assert not [token for token in after["tokens"] if token in logs]


def test_reviews_waiting_out_a_rate_limit_when_the_server_dies_finish_once_after_the_restart(
    fake_server, footgun
):
    """GitHub is up but rate-limits each PR's first review: the job has concluded its check run
    and waits out the Retry-After when the server is SIGKILLed. After the restart it finishes,
    and nothing is doubled, whichever of the burst's jobs ran first: one check run and one
    annotation per head, one review with one inline comment per finding."""
    refs = [seed(fake_server, f"acme/burst-{n}") for n in range(3)]

    def rate_limit_first_reviews(fake):
        for ref in refs:
            fake.secondary_rate_limit(
                "POST", f"/repos/{ref.repo}/pulls/{ref.number}/reviews", retry_after=4
            )

    fake_server.call(rate_limit_first_reviews)
    app = footgun()
    app.start()
    for n, ref in enumerate(refs):
        burst = [
            (
                "opened",
                "pull_request",
                pull_request_event(ref, "pull_request.opened", "2026-03-02T10:00:00Z"),
            ),
            (
                "rerequested",
                "check_run",
                check_run_event(ref, "check_run.rerequested", ref.head_sha),
            ),
            (
                "reopened",
                "pull_request",
                pull_request_event(ref, "pull_request.reopened", "2026-03-02T10:01:00Z"),
            ),
        ]
        for name, event, body in burst:
            response = app.deliver(event, body, f"b{n}-{name}")
            assert (response.status_code, response.json()["outcome"]) == (202, "queued")
    wait_until(
        lambda: fake_server.call(lambda fake: all(f.times == 0 for f in fake.faults)),
        "every pull request's first review to be rate-limited",
        20,
        details=app.logs,
    )
    app.kill_between_jobs()

    for (
        ref
    ) in refs:  # each PR has the job that waits out its rate limit (and maybe one not yet tried)
        waiting = [
            j["last_error"]
            for j in app.jobs()
            if j["payload"]["repository"] == ref.repo and j["status"] == "queued"
        ]
        limited = (
            f"GitHub rate limit on POST /repos/{ref.repo}/pulls/{ref.number}/reviews; retry in 4s"
        )
        assert waiting.count(limited) == 1 and set(waiting) <= {limited, None}, app.jobs()

    app.start()
    jobs = app.wait_for_drained_queue()
    assert {j["status"] for j in jobs} == {"done"}, jobs
    assert app.query("SELECT count(*) FROM deliveries")[0][0] == 9
    for ref in refs:
        state = published(fake_server, ref.repo, ref.number, ref.head_sha)
        [run] = state["runs"][ref.head_sha]
        assert (run["status"], run["conclusion"], run["output"]["annotations_count"]) == (
            "completed",
            "failure",
            1,
        )
        assert state["created_runs"] == 1
        [comment] = state["comments"]
        assert (comment["path"], comment["start_line"], comment["line"]) == (
            FAULT_PATH,
            *FAULT_LINES,
        )
        assert len(state["reviews"]) == 1


def test_a_review_killed_mid_run_resumes_at_the_restart_without_waiting_out_its_lease(
    fake_server, footgun
):
    """SIGKILL while a review job runs. On the embedded database one process serves the queue, so
    the restarted server takes the abandoned job back at once (its 60 s lease is not waited out:
    the queue must drain well inside that) and publishing stays idempotent: one check run, one
    review, one comment per pull request."""
    refs = [seed(fake_server, f"acme/midrun-{n}") for n in range(4)]
    app = footgun()
    app.start()
    for n, ref in enumerate(refs):
        response = app.deliver(
            "pull_request",
            pull_request_event(ref, "pull_request.opened", "2026-03-03T10:00:00Z"),
            f"midrun-{n}",
        )
        assert response.status_code == 202
    interrupted = app.kill_during_a_job()
    running = [j["id"] for j in app.jobs() if j["status"] == "running"]
    assert interrupted in running

    app.start()
    jobs = app.wait_for_drained_queue(timeout=30)
    assert {j["status"] for j in jobs} == {"done"}, jobs
    assert (
        f"resuming {len(running)} job(s) a previous run left unfinished" in app.log_path.read_text()
    )
    for ref in refs:
        state = published(fake_server, ref.repo, ref.number, ref.head_sha)
        [run] = state["runs"][ref.head_sha]
        assert (run["status"], run["conclusion"]) == ("completed", "failure")
        assert len(state["reviews"]) == 1 and len(state["comments"]) == 1
