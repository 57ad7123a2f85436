"""GitHub misbehaving as networks and token lifecycles do, on a real `footgun serve` (issue
"Hardening the App", items 2 and 5): a write whose answer arrives after the client's timeout is
not made twice, and a revoked installation token is replaced at once."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from tests.e2e.scenario import (
    FAULT_PATH,
    check_run_event,
    issue_comment_event,
    pull_request_event,
    seed,
)
from tests.loopback import wait_until

pytestmark = pytest.mark.e2e


def _state(fake_server, ref):
    def read(fake):
        return copy.deepcopy(
            {
                "runs": fake.runs_for(ref.repo, ref.head_sha),
                "reviews": fake.reviews_on(ref.repo, ref.number),
                "comments": fake.comments_on(ref.repo, ref.number),
                "replies": [
                    c
                    for c in fake.issue_comments.values()
                    if c["_repo"] == ref.repo and c["user"]["login"] == fake.bot_login
                ],
            }
        )

    return fake_server.call(read)


def test_writes_answered_after_the_timeout_are_made_once(fake_server, footgun):
    """GitHub creates the check run, the review and the reply, but answers each 2.5 s late, past
    the App's 1 s timeout. Each is made exactly once, and the check run concludes."""
    ref = seed(fake_server, "acme/late", roles={"maria": "maintain"})

    def slow_writes(fake):
        fake.answer_late("POST", f"/repos/{ref.repo}/check-runs", 2.5)
        fake.answer_late("POST", f"/repos/{ref.repo}/pulls/{ref.number}/reviews", 2.5)
        fake.answer_late("POST", f"/repos/{ref.repo}/issues/{ref.number}/comments", 2.5)

    fake_server.call(slow_writes)
    app = footgun(FOOTGUN_HTTP_TIMEOUT="1")
    app.start()
    opened = app.deliver(
        "pull_request",
        pull_request_event(ref, "pull_request.opened", "2026-03-02T10:00:00Z"),
        "late-opened",
    )
    assert opened.status_code == 202
    jobs = app.wait_for_drained_queue(timeout=60)
    assert [j["status"] for j in jobs] == ["done"], jobs
    state = _state(fake_server, ref)
    [run] = state["runs"]
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert len(state["reviews"]) == 1
    [comment] = state["comments"]
    assert comment["path"] == FAULT_PATH

    command = fake_server.call(
        lambda fake: dict(fake.comment_as("maria", ref.repo, ref.number, "/footgun help"))
    )
    answer = app.deliver("issue_comment", issue_comment_event(ref, command), "late-help")
    assert answer.status_code == 202
    wait_until(
        lambda: len(app.jobs()) == 2 and app.wait_for_drained_queue(timeout=60),
        "the command to be answered",
        60,
    )
    replies = _state(fake_server, ref)["replies"]
    assert len(replies) == 1, [r["body"] for r in replies]
    assert fake_server.call(lambda fake: all(f.times == 0 for f in fake.faults))


def test_a_revoked_installation_token_is_replaced_by_the_next_job(fake_server, footgun):
    """The token the App cached is revoked (as `DELETE /installation/token`, or GitHub
    invalidating a leaked token, does). The next review must not fail for the rest of the hour:
    its first call is answered 401, the App exchanges a new token once and the review goes on."""
    ref = seed(fake_server, "acme/revoked")
    app = footgun()
    app.start()
    first = app.deliver(
        "pull_request",
        pull_request_event(ref, "pull_request.opened", "2026-03-02T10:00:00Z"),
        "revoked-opened",
    )
    assert first.status_code == 202
    app.wait_for_drained_queue()
    installation = ref.installation_id
    revoked = fake_server.call(lambda fake: fake.revoke_tokens(installation))
    assert revoked

    second = app.deliver(
        "check_run",
        check_run_event(ref, "check_run.rerequested", ref.head_sha),
        "revoked-rerun",
    )
    assert second.status_code == 202
    jobs = app.wait_for_drained_queue()
    assert [j["status"] for j in jobs] == ["done", "done"], jobs
    assert [j["attempts"] for j in jobs] == [1, 1], jobs
    [run] = _state(fake_server, ref)["runs"]
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    refused = fake_server.call(
        lambda fake: [r.path for r in fake.requests() if r.status == 401 and r.path != "/app"]
    )
    assert len(refused) == 1, refused
    fresh = fake_server.call(
        lambda fake: [t.token for t in fake.tokens.values() if t.installation == installation]
    )
    assert len(fresh) == 1 and fresh[0] not in revoked


def test_a_second_server_on_the_same_sqlite_file_is_refused_with_one_line(fake_server, footgun):
    """Two processes on one SQLite file would take over each other's running jobs and post
    their comments twice: the second `footgun serve` (or `footgun worker`) stops at once."""
    ref = seed(fake_server, "acme/one-writer")
    first = footgun()
    first.start()
    second = footgun()
    second.env["FOOTGUN_DATABASE_URL"] = first.env["FOOTGUN_DATABASE_URL"]
    for args in (
        ["serve", "--host", "127.0.0.1", "--port", str(second.port)],
        ["worker"],
    ):
        code, out, err = second.finish(second.command(*args), timeout=30)
        assert code == 2, (code, out, err)
        [line] = err.strip().splitlines()
        assert "in use by another footgun process" in line and str(first.database) in line
        assert f"pid {first.process.pid}" in line
    response = first.deliver(
        "pull_request",
        pull_request_event(ref, "pull_request.opened", "2026-03-02T10:00:00Z"),
        "one-writer",
    )
    assert response.status_code == 202
    assert [j["status"] for j in first.wait_for_drained_queue()] == ["done"]
    assert len(_state(fake_server, ref)["reviews"]) == 1

    first.kill()  # the lock dies with the process: a restart is not refused
    first.start()
    assert first.process.poll() is None


def test_a_check_whose_every_update_failed_is_concluded_once_github_answers(fake_server, footgun):
    """Every check-run update fails: the review gives up, and so does its attempt to conclude
    the check. The check must not stay `in_progress` for ever: a later sweep concludes it with
    the reason once GitHub answers again."""
    ref = seed(fake_server, "acme/unconcluded")
    path = rf"/repos/{ref.repo}/check-runs/\d+"
    fake_server.call(lambda fake: fake.fail("PATCH", path, 502, times=10_000))
    app = footgun(FOOTGUN_JOB_MAX_ATTEMPTS="1", FOOTGUN_CHECK_SWEEP_INTERVAL="1")
    app.start()
    response = app.deliver(
        "pull_request",
        pull_request_event(ref, "pull_request.opened", "2026-03-02T10:00:00Z"),
        "unconcluded-opened",
    )
    assert response.status_code == 202
    assert [j["status"] for j in app.wait_for_drained_queue()] == ["failed"]
    wait_until(
        lambda: (
            app.query("SELECT attempts FROM unconcluded_checks")[0][0] >= 1
            if app.query("SELECT attempts FROM unconcluded_checks")
            else False
        ),
        "the sweep to try while GitHub still fails",
        20,
        details=app.logs,
    )
    [run] = _state(fake_server, ref)["runs"]
    assert run["status"] == "in_progress"

    fake_server.call(lambda fake: fake.faults.clear())  # GitHub answers again

    def concluded():
        [run] = _state(fake_server, ref)["runs"]
        return run if run["status"] == "completed" else None

    run = wait_until(concluded, "the sweep to conclude the check", 30, details=app.logs)
    assert run["conclusion"] == "failure"
    assert run["output"]["title"] == "The review could not run"
    assert "GitHub answered 502" in run["output"]["summary"]
    assert "/footgun recheck" in run["output"]["summary"]
    wait_until(
        lambda: not app.query("SELECT id FROM unconcluded_checks"), "the row to be deleted", 10
    )
    assert len(_state(fake_server, ref)["runs"]) == 1


def test_a_reminder_answered_after_the_timeout_is_posted_once_across_sweeps(fake_server, footgun):
    """`footgun sweep` posts a waiver's reminder; GitHub creates it but answers past the 1 s
    timeout, so that process records nothing. The next `footgun sweep` finds the bot's comment
    by its marker and records it: one reminder on the pull request."""
    ref = seed(fake_server, "acme/late-reminder", roles={"maria": "maintain"})
    app = footgun(FOOTGUN_HTTP_TIMEOUT="1")
    app.start()
    opened = pull_request_event(ref, "pull_request.opened", "2026-03-02T10:00:00Z")
    assert app.deliver("pull_request", opened, "reminder-opened").status_code == 202
    app.wait_for_drained_queue(timeout=60)
    body = "/footgun waive fault-injection VirtualService/bookinfo/reviews for 5d because drill"
    command = fake_server.call(
        lambda fake: dict(fake.comment_as("maria", ref.repo, ref.number, body))
    )
    assert (
        app.deliver(
            "issue_comment", issue_comment_event(ref, command), "reminder-waive"
        ).status_code
        == 202
    )
    app.wait_for_drained_queue(timeout=60)
    [(remind_at,)] = app.query("SELECT remind_at FROM waivers")
    now = (dt.datetime.fromisoformat(remind_at) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")

    comments = f"/repos/{ref.repo}/issues/{ref.number}/comments"
    fake_server.call(lambda fake: fake.answer_late("POST", comments, 2.5))
    first = app.finish(app.command("sweep", "--now", now))
    assert "failed, retried on the next sweep" in first[1] + first[2], first
    second = app.finish(app.command("sweep", "--now", now))
    assert "reminded" in second[1], second

    def reminders(fake):
        return [
            c["body"]
            for c in fake.issue_comments.values()
            if c["_repo"] == ref.repo
            and c["user"]["login"] == fake.bot_login
            and c["body"].startswith("Reminder")
        ]

    assert len(fake_server.call(reminders)) == 1
    assert (
        len(fake_server.call(lambda fake: fake.requests("POST", comments + "$"))) == 2
    )  # reply, reminder
    assert app.query("SELECT reminded_at IS NOT NULL FROM waivers") == [(1,)]
