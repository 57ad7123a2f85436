"""The waiver story (issue "Slash-command waivers") on a real `footgun serve` and real `footgun
sweep` processes: a PR with a fault injection -> red check -> a maintainer's `/footgun waive ...
because ...` -> green check -> merge -> the deadline passes -> exactly one cleanup issue, however
many sweeps run."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.e2e.scenario import (
    FAULT_LINES,
    FAULT_PATH,
    issue_comment_event,
    pull_request_event,
    seed,
)
from tests.loopback import wait_until

pytestmark = pytest.mark.e2e
REPO = "acme/chaos"
REASON = "chaos drill on the staging mesh, removed after the game day"


def test_a_waived_fault_merged_past_its_deadline_opens_one_cleanup_issue(fake_server, footgun):
    ref = seed(fake_server, REPO, roles={"maria": "maintain"})
    app = footgun()
    app.start()

    def check_run(conclusion):
        def settled():
            runs = fake_server.call(
                lambda fake: [dict(r) for r in fake.runs_for(REPO, ref.head_sha)]
            )
            return runs if runs and runs[-1]["conclusion"] == conclusion else None

        return wait_until(
            settled,
            f"the check run to conclude {conclusion}",
            30,
            details=lambda: f"{app.jobs()}\n{app.logs()}",
        )

    opened = app.deliver(
        "pull_request",
        pull_request_event(ref, "pull_request.opened", "2026-03-02T10:00:00Z"),
        "w-opened",
    )
    assert opened.status_code == 202
    [red] = check_run("failure")
    assert red["output"]["annotations_count"] == 1

    comment = fake_server.call(
        lambda fake: dict(
            fake.comment_as(
                "maria",
                REPO,
                ref.number,
                f"Fine for the game day.\n/footgun waive fault-injection VirtualService/bookinfo/reviews for 7d because {REASON}",
            )
        )
    )
    waive = app.deliver("issue_comment", issue_comment_event(ref, comment), "w-waive")
    assert (waive.status_code, waive.json()["outcome"]) == (202, "queued")
    [green] = check_run("success")
    assert green["id"] == red["id"]
    [(waiver_id, status, approved_by, deadline)] = app.query(
        "SELECT id, status, approved_by, deadline FROM waivers WHERE repository = ?", REPO
    )
    assert (status, approved_by) == ("active", "maria")
    assert dt.date.fromisoformat(deadline) == dt.datetime.now(dt.UTC).date() + dt.timedelta(days=7)
    assert f"approved by @maria (waiver #{waiver_id})" in green["output"]["summary"]

    def answers(fake):
        reactions = [r["content"] for r in fake.reactions if r["_comment"] == comment["id"]]
        replies = [
            c["body"]
            for c in fake.issue_comments.values()
            if c["_repo"] == REPO and c["user"]["login"] == fake.bot_login
        ]
        return reactions, replies

    reactions, replies = fake_server.call(answers)
    assert reactions == ["+1"] and len(replies) == 1 and f"#{waiver_id}" in replies[0]

    merged_sha = fake_server.call(lambda fake: fake.merge(fake.repos[REPO].pulls[ref.number]))
    assert merged_sha == ref.head_sha  # the default branch now holds the fault
    merged = app.deliver(
        "pull_request",
        pull_request_event(
            ref,
            "pull_request.closed.merged",
            "2026-03-03T09:00:00Z",
            state="closed",
            merged_at="2026-03-03T09:00:00Z",
        ),
        "w-merged",
    )
    assert (merged.status_code, merged.json()["outcome"], merged.json()["note"]) == (
        202,
        "recorded",
        "pull request merged",
    )

    past_deadline = f"{dt.date.fromisoformat(deadline) + dt.timedelta(days=1)}T01:00"
    racing = [app.command("sweep", "--now", past_deadline) for _ in range(2)]
    results = [app.finish(process) for process in racing]
    results.append(app.finish(app.command("sweep", "--now", past_deadline)))
    assert [code for code, _, _ in results] == [0, 0, 0], results
    outputs = [out for _, out, _ in results]
    opened_by = [out for out in outputs if "cleanup issue #" in out]
    assert len(opened_by) == 1, outputs
    assert outputs[2] == "footgun: nothing to do\n"

    issues = fake_server.call(
        lambda fake: [dict(i) for i in fake.issues_of(REPO, label="footgun-cleanup")]
    )
    [issue] = issues
    assert re.search(
        rf"waiver #{waiver_id}: still on main: cleanup issue #{issue['number']}\n", opened_by[0]
    )
    assert [a["login"] for a in issue["assignees"]] == ["maria"]
    assert f"> {REASON}" in issue["body"]
    assert (
        f"{FAULT_PATH} line {FAULT_LINES[0]}" in issue["body"]
        and f"/pull/{ref.number}" in issue["body"]
    )
    assert app.query("SELECT status FROM waivers WHERE id = ?", waiver_id) == [("overdue",)]
    assert app.query("SELECT issue_number FROM cleanup_issues WHERE waiver_id = ?", waiver_id) == [
        (issue["number"],)
    ]
