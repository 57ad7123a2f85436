"""What one comment may cost (issue "Hardening the App", items 1 and 8), on a real `footgun serve`.

Anyone can comment on a public repository, and an installation has 5,000 GitHub calls an hour
for all its repositories. So a comment costs at most 10 calls however many lines it has, a
commenter's comments are counted per repository and hour in the database (a restart forgets
nothing), and a command hidden where GitHub does not show it as one costs nothing at all.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.scenario import issue_comment_event, pull_request_event, seed
from tests.fakegithub.world import virtual_service

pytestmark = pytest.mark.e2e
REPO = "acme/budget"
BUDGET = 10
"""GitHub calls one comment may cost (the goal of the issue)."""


def repository_calls(fake_server, since: int) -> list[tuple[str, str]]:
    """Calls made with the installation's token (its hourly budget) after log entry `since`."""

    def read(fake):
        return [(r.method, r.path) for r in fake.log[since:] if r.path.startswith("/repos/")]

    return fake_server.call(read)


def log_size(fake_server) -> int:
    return fake_server.call(lambda fake: len(fake.log))


def comment(fake_server, ref, user: str, body: str) -> dict:
    return fake_server.call(lambda fake: dict(fake.comment_as(user, REPO, ref.number, body)))


def bot_replies(fake_server, ref) -> list[str]:
    def read(fake):
        return [
            c["body"]
            for c in fake.issue_comments.values()
            if c["_repo"] == REPO
            and c["_issue"] == ref.number
            and c["user"]["login"] == fake.bot_login
        ]

    return fake_server.call(read)


def say(app, fake_server, ref, user: str, body: str, association: str, delivery: str):
    """`user` comments `body`; the delivery is answered and its job done: the calls it cost."""
    before = log_size(fake_server)
    made = comment(fake_server, ref, user, body)
    answer = app.deliver("issue_comment", issue_comment_event(ref, made, association), delivery)
    assert answer.status_code in (200, 202), answer.text
    app.wait_for_drained_queue()
    return answer.json(), repository_calls(fake_server, before)


@pytest.fixture
def reviewed(fake_server, footgun):
    """A served App and a pull request it has reviewed once (its caches warm, as in production)."""
    ref = seed(fake_server, REPO, roles={"maria": "maintain", "rita": "read"})
    app = footgun(FOOTGUN_WORKERS="1")  # jobs one after the other: each one's calls in a row
    app.start()
    opened = app.deliver(
        "pull_request",
        pull_request_event(ref, "pull_request.opened", "2026-03-02T10:00:00Z"),
        "b-opened",
    )
    assert opened.status_code == 202
    app.wait_for_drained_queue()
    return app, ref


def test_a_comment_of_4681_help_lines_costs_a_few_calls_and_one_reply(fake_server, reviewed):
    app, ref = reviewed
    _, calls = say(app, fake_server, ref, "mallory", "/footgun help\n" * 4681, "NONE", "b-flood")
    assert len(calls) <= BUDGET, calls
    [reply] = bot_replies(fake_server, ref)
    assert reply.count("Here a waiver needs `write` permission") == 1
    assert "4,680 repeated commands ran once." in reply


def test_at_most_ten_commands_of_a_comment_run(fake_server, reviewed):
    app, ref = reviewed
    lines = "".join(f"/footgun unwaive {n}\n" for n in range(1, 4682))
    _, calls = say(app, fake_server, ref, "mallory", lines, "NONE", "b-distinct")
    assert len(calls) <= BUDGET, calls
    [reply] = bot_replies(fake_server, ref)
    assert [n for n in range(1, 4682) if f"There is no waiver #{n} in" in reply] == list(
        range(1, 11)
    )
    assert "4,671 more commands not run: at most 10 commands run per comment." in reply
    assert len(reply) < 65_536


def test_thirty_waivers_in_one_comment_look_everything_up_once(fake_server, reviewed):
    app, ref = reviewed
    waive = (
        "/footgun waive fault-injection VirtualService/bookinfo/reviews for 7d because game day\n"
    )
    _, calls = say(app, fake_server, ref, "maria", waive * 30, "MEMBER", "b-waive")
    # One worker: the command job ends with its reply, then the one review it queued runs.
    reply = calls.index(("POST", f"/repos/{REPO}/issues/{ref.number}/comments"))
    calls, review = calls[: reply + 1], calls[reply + 1 :]
    assert len(calls) <= BUDGET, calls
    assert (
        review.count(("PATCH", f"/repos/{REPO}/check-runs/{_check_run_id(fake_server, ref)}")) == 2
    )
    assert app.query("SELECT count(*) FROM jobs WHERE kind = 'review'") == [(2,)]
    for path in (
        f"/repos/{REPO}/collaborators/maria/permission",
        f"/repos/{REPO}/contents/.github/footgun.yml",
    ):
        assert calls.count(("GET", path)) == 1, calls
    # What the waivers name comes from the review's findings: the repository is not read again.
    assert not [c for c in calls if c[1].endswith("/files") or "/git/" in c[1]], calls
    assert app.query("SELECT count(*), min(approved_by) FROM waivers") == [(1, "maria")]
    [reply] = bot_replies(fake_server, ref)
    assert reply.count("Waiver **#1**") == 1 and "29 repeated commands ran once." in reply


def _check_run_id(fake_server, ref) -> int:
    return fake_server.call(lambda fake: fake.runs_for(REPO, ref.head_sha)[-1]["id"])


def test_a_stranger_is_refused_before_any_look_up_and_then_not_answered(fake_server, reviewed):
    """Five comments an hour for someone GitHub does not associate with the repository; their
    role is asked once, and the quota outlives a restart."""
    app, ref = reviewed
    costs = []
    for n in range(5):
        _, calls = say(app, fake_server, ref, "mallory", "/footgun recheck", "NONE", f"b-r{n}")
        costs.append(calls)
    lookups = [c for calls in costs for c in calls if "/permission" in c[1]]
    assert lookups == [("GET", f"/repos/{REPO}/collaborators/mallory/permission")]
    assert all(len(calls) <= BUDGET for calls in costs)
    assert app.query("SELECT count(*) FROM jobs WHERE kind = 'review'") == [(1,)]  # no re-run
    replies = bot_replies(fake_server, ref)
    assert len(replies) == 5 and all(
        "@mallory needs `write` permission on this repository (has `none`)" in r for r in replies
    )

    app.stop()
    app.start()
    _, over = say(app, fake_server, ref, "mallory", "/footgun recheck", "NONE", "b-r5")
    assert [method for method, _ in over] == ["POST"], over  # the one notice, nothing looked up
    assert "more than 5 comments with `/footgun` commands" in bot_replies(fake_server, ref)[-1]
    _, silent = say(app, fake_server, ref, "mallory", "/footgun help", "NONE", "b-r6")
    assert silent == []
    assert len(bot_replies(fake_server, ref)) == 6


def test_after_a_restart_a_waive_in_a_large_repository_costs_at_most_ten_calls(
    fake_server, footgun
):
    """Cold caches (a new process: no installation token, no blob read) and a pull request that
    changes 40 of 2,000 manifests: the waive resolves against what the review reported, token
    included at most 10 calls (50 when the command analysed the head again)."""
    repo = "acme/budget-cold"
    manifests = {f"mesh/vs{i}.yaml": virtual_service(f"s{i}") for i in range(2000)}
    head = {f"mesh/vs{i}.yaml": virtual_service(f"s{i}", fault=True) for i in range(39)}
    ref = seed(fake_server, repo, roles={"maria": "maintain"}, head=head, base=manifests)
    app = footgun(FOOTGUN_WORKERS="1")
    app.start()
    event = pull_request_event(ref, "pull_request.opened", "2026-03-02T10:00:00Z")
    assert app.deliver("pull_request", event, "c-opened").status_code == 202
    app.wait_for_drained_queue(timeout=120)
    app.stop()
    app.start()

    before = log_size(fake_server)
    body = "/footgun waive fault-injection for 7d because game day"
    made = fake_server.call(lambda fake: dict(fake.comment_as("maria", repo, ref.number, body)))
    answer = app.deliver("issue_comment", issue_comment_event(ref, made, "MEMBER"), "c-waive")
    assert answer.status_code == 202, answer.text
    app.wait_for_drained_queue()
    calls = fake_server.call(lambda fake: [(r.method, r.path) for r in fake.log[before:]])
    reply = calls.index(("POST", f"/repos/{repo}/issues/{ref.number}/comments"))
    calls = calls[: reply + 1]  # the command job; the review it queued runs after it
    assert len(calls) <= BUDGET, calls
    assert calls[0] == ("POST", f"/app/installations/{ref.installation_id}/access_tokens")
    [(fingerprints,)] = app.query("SELECT fingerprints FROM waivers")
    assert len(json.loads(fingerprints)) == 39


def test_commands_github_does_not_render_as_commands_cost_nothing(fake_server, reviewed):
    app, ref = reviewed
    hidden = (
        "Looks fine to me.\n\n"
        "    /footgun waive fault-injection for 7d because indented code\n\n"
        "```\n/footgun waive fault-injection for 7d because fenced code\n```\n\n"
        "<!--\n/footgun waive fault-injection for 7d because an HTML comment\n-->\n\n"
        "<details><summary>more</summary>\n\n"
        "/footgun waive fault-injection for 7d because collapsed\n\n</details>\n\n"
        "> /footgun waive fault-injection for 7d because quoted\n"
    )
    answer, calls = say(app, fake_server, ref, "maria", hidden, "MEMBER", "b-hidden")
    assert calls == [] and bot_replies(fake_server, ref) == []
    assert app.query("SELECT count(*) FROM jobs WHERE kind = 'command'") == [(0,)]
    assert answer["outcome"] == "unhandled"  # not a comment the bot acts on

    visible = hidden + "\n/footgun waivers\n"
    say(app, fake_server, ref, "maria", visible, "MEMBER", "b-visible")
    [reply] = bot_replies(fake_server, ref)
    assert reply.startswith("This pull request has no waivers.")
    assert app.query("SELECT count(*) FROM waivers") == [(0,)]
