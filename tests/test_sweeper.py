"""The sweeper: reminders, expiry on open PRs, cleanup issues for merged ones, replicas racing."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.db import CleanupIssue, Waiver
from bot.waivers import sweeper
from tests.fakegithub.world import virtual_service as vs
from tests.waiver_helpers import (
    bot_replies,
    events,
    people,
    queued_reviews,
    reviewed_pull,
    run_review,
    say,
    today,
    waivers,
)

pytestmark = pytest.mark.anyio
HOUR = dt.timedelta(hours=1)


async def waived_pull(world, database, days=5, reason="chaos drill"):
    """A faulty PR whose finding maria waived for `days` days; its waiver."""
    people(world)
    pull = await reviewed_pull(world, database)
    until = today() + dt.timedelta(days=days)
    await say(
        world,
        database,
        pull,
        "maria",
        f"/footgun waive fault-injection VirtualService/mesh/a until {until} because {reason}",
    )
    [waiver] = await waivers(database)
    return pull, waiver


def cleanup_issues(world):
    return world.fake.issues_of(world.repo, label=sweeper.CLEANUP_LABEL)


async def test_an_expired_waiver_turns_the_open_pull_request_red_again(world, database):
    pull, waiver = await waived_pull(world, database)
    assert (await run_review(world, database, pull))["conclusion"] == "success"
    assert await sweeper.sweep(
        database.sessions, world.app, waiver.expires_at - dt.timedelta(seconds=1)
    ) == [sweeper.Outcome(waiver.id, "remind", "reminded acme/mesh#1 (today)")]
    [outcome] = await sweeper.sweep(database.sessions, world.app, waiver.expires_at)
    assert (outcome.action, outcome.text) == (
        "recheck",
        f"expired; acme/mesh#1 is checked again at {pull.head_sha[:7]}",
    )
    [expired] = await waivers(database)
    assert expired.status == "expired"
    assert [r["reason"] for r in await queued_reviews(database)][
        -1
    ] == f"waiver #{waiver.id} expired"
    assert (
        f"Waiver **#{waiver.id}**" in bot_replies(world, pull)[-1]
        and "expired" in bot_replies(world, pull)[-1]
    )
    check = await run_review(world, database, pull)
    assert check["conclusion"] == "failure"
    [inline] = world.fake.comments_on(world.repo, pull.number)
    assert "**Waived**" not in inline["body"]
    assert await sweeper.sweep(database.sessions, world.app, waiver.expires_at + HOUR) == []
    assert [e[0] for e in await events(database)] == ["created", "reminded", "expired"]


async def test_a_reminder_comes_remind_days_before_the_deadline_once(world, database):
    pull, waiver = await waived_pull(world, database, days=5)
    assert waiver.remind_at == waiver.expires_at - dt.timedelta(days=3)
    assert await sweeper.sweep(database.sessions, world.app, waiver.remind_at - HOUR) == []
    [outcome] = await sweeper.sweep(database.sessions, world.app, waiver.remind_at + HOUR)
    assert outcome.action == "remind"
    assert await sweeper.sweep(database.sessions, world.app, waiver.remind_at + 2 * HOUR) == []
    reminders = [b for b in bot_replies(world, pull) if b.startswith("Reminder")]
    assert len(reminders) == 1
    assert f"waiver **#{waiver.id}**" in reminders[0] and "expires in 2 days" in reminders[0]
    assert f"at the end of {waiver.deadline} UTC" in reminders[0]


async def test_a_waiver_granted_inside_the_reminder_window_gets_no_reminder(world, database):
    """Reminding at once would only repeat the grant's reply; the deadline is days away at most."""
    pull, waiver = await waived_pull(
        world, database, days=1
    )  # ends within 2 days; reminders come 3 before
    assert waiver.remind_at is None
    for at in (
        waiver.created_at + HOUR,
        waiver.expires_at - HOUR,
        waiver.expires_at - dt.timedelta(seconds=1),
    ):
        assert await sweeper.sweep(database.sessions, world.app, at) == []
        assert await sweeper.preview(database.sessions, at) == []
    [outcome] = await sweeper.sweep(database.sessions, world.app, waiver.expires_at)
    assert outcome.action == "recheck"
    assert not [b for b in bot_replies(world, pull) if b.startswith("Reminder")]
    assert [e[0] for e in await events(database)] == ["created", "expired"]


async def test_a_merged_waiver_whose_finding_remains_opens_one_cleanup_issue(world, database):
    pull, waiver = await waived_pull(world, database, reason="game day on Friday")
    world.fake.merge(pull)
    [outcome] = await sweeper.sweep(database.sessions, world.app, waiver.expires_at + HOUR)
    assert outcome.action == "issue"
    [issue] = cleanup_issues(world)
    assert (
        issue["title"]
        == f"Clean up waived fault-injection on VirtualService/mesh/a (waiver #{waiver.id})"
    )
    assert [a["login"] for a in issue["assignees"]] == ["maria"]
    assert f"https://github.com/acme/mesh/pull/{pull.number}" in issue["body"]
    assert (
        f"until **{waiver.deadline}**" in issue["body"] and "> game day on Friday" in issue["body"]
    )
    assert (
        f"[mesh/a.yaml line 9](https://github.com/acme/mesh/blob/{pull.head_sha}/mesh/a.yaml#L9)"
        in issue["body"]
    )
    [overdue] = await waivers(database)
    assert overdue.status == "overdue"
    assert await sweeper.sweep(database.sessions, world.app, waiver.expires_at + 48 * HOUR) == []
    assert len(cleanup_issues(world)) == 1
    assert [e[0] for e in await events(database)] == ["created", "issue_opened"]


async def test_two_sweepers_racing_open_exactly_one_issue(world, database):
    _, waiver = await waived_pull(world, database)
    world.fake.merge(world.fake.repos[world.repo].pulls[1])
    at = waiver.expires_at + HOUR
    first, second = await asyncio.gather(
        sweeper.sweep(database.sessions, world.app, at, owner="replica-a"),
        sweeper.sweep(database.sessions, world.app, at, owner="replica-b"),
    )
    assert sorted(o.action for o in first + second) == ["issue"]
    assert len(cleanup_issues(world)) == 1
    assert len(world.fake.requests("POST", r"/issues$")) == 1


async def test_the_unique_reservation_holds_when_two_sweepers_both_believe_they_own_a_waiver(
    world, database
):
    """A replica whose claim ran out mid-sweep and the one that took over race on the issue itself."""
    pull, waiver = await waived_pull(world, database)
    world.fake.merge(pull)
    repo = await world.client.get(f"repos/{world.repo}")
    findings = [
        type(
            "F",
            (),
            {
                "fingerprint": waiver.fingerprints[0],
                "resource": "VirtualService/mesh/a",
                "path": "mesh/a.yaml",
                "line": 10,
                "rule": "fault-injection",
                "message": "m",
            },
        )()
    ]
    results = await asyncio.gather(
        *(
            sweeper.open_cleanup_issue(
                database.sessions, world.client, waiver, repo, "main", pull.head_sha, findings
            )
            for _ in range(3)
        )
    )
    [issue] = cleanup_issues(world)
    assert len(world.fake.requests("POST", r"/issues$")) == 1
    assert {r["number"] for r in results if r is not None} == {issue["number"]}
    async with database.sessions() as session:
        [row] = list(await session.scalars(select(CleanupIssue)))
    assert (row.waiver_id, row.issue_number) == (waiver.id, issue["number"])


async def test_a_reservation_left_by_a_crashed_sweeper_is_taken_over_without_a_second_issue(
    world, database
):
    pull, waiver = await waived_pull(world, database)
    world.fake.merge(pull)
    [_outcome] = await sweeper.sweep(database.sessions, world.app, waiver.expires_at + HOUR)
    [issue] = cleanup_issues(world)
    # Crash between creating the issue and recording it: the row lost its number, the waiver its state.
    async with database.sessions.begin() as session:
        await session.execute(
            update(CleanupIssue).values(
                issue_number=None,
                issue_url=None,
                reserved_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            )
        )
        await session.execute(update(Waiver).values(status="active"))
    [again] = await sweeper.sweep(database.sessions, world.app, waiver.expires_at + HOUR)
    assert again.text == f"still on main: cleanup issue #{issue['number']}"
    assert len(cleanup_issues(world)) == 1


async def test_a_merged_waiver_whose_finding_was_removed_is_cleaned_up_without_an_issue(
    world, database
):
    pull, waiver = await waived_pull(world, database)
    world.fake.merge(pull)
    world.fake.push_branch(world.repo, {"mesh/a.yaml": vs("a")})
    [outcome] = await sweeper.sweep(database.sessions, world.app, waiver.expires_at + HOUR)
    assert outcome.action == "cleaned_up" and outcome.text.startswith(
        "cleaned up: the finding is gone from main"
    )
    assert cleanup_issues(world) == [] and world.fake.requests("POST", r"/issues$") == []
    [cleaned] = await waivers(database)
    assert cleaned.status == "cleaned_up"


async def test_a_pull_request_closed_without_merging_just_expires(world, database):
    pull, waiver = await waived_pull(world, database)
    pull.state = "closed"
    [outcome] = await sweeper.sweep(database.sessions, world.app, waiver.expires_at + HOUR)
    assert (outcome.action, (await waivers(database))[0].status) == ("expire", "expired")
    assert cleanup_issues(world) == [] and await queued_reviews(database) == [
        r for r in await queued_reviews(database) if r["reason"] != f"waiver #{waiver.id} expired"
    ]


async def test_an_approver_who_cannot_be_assigned_gets_an_unassigned_issue(world, database):
    pull, waiver = await waived_pull(world, database)
    world.fake.merge(pull)
    del world.fake.repos[world.repo].permissions["maria"]  # left the organisation
    await sweeper.sweep(database.sessions, world.app, waiver.expires_at + HOUR)
    [issue] = cleanup_issues(world)
    assert issue["assignees"] == [] and "@maria" in issue["body"]


async def test_a_github_failure_leaves_the_waiver_for_the_next_sweep(world, database):
    pull, waiver = await waived_pull(world, database)
    world.fake.merge(pull)
    world.fake.fail("POST", r"/repos/acme/mesh/issues", status=404, message="Not Found")
    [failed] = await sweeper.sweep(database.sessions, world.app, waiver.expires_at + HOUR)
    assert failed.action == "skipped" and (await waivers(database))[0].status == "active"
    [opened] = await sweeper.sweep(database.sessions, world.app, waiver.expires_at + HOUR)
    assert opened.action == "issue" and len(cleanup_issues(world)) == 1


async def test_preview_says_what_a_future_date_would_do_and_changes_nothing(world, database):
    pull, waiver = await waived_pull(world, database)
    later = waiver.expires_at + HOUR
    [expire] = await sweeper.preview(database.sessions, later)
    assert expire.action == "expire" and f"deadline {waiver.deadline} passed" in expire.text
    [remind] = await sweeper.preview(database.sessions, waiver.remind_at + HOUR)
    assert remind.action == "remind"
    from bot.db import PullRequest

    async with database.sessions.begin() as session:
        session.add(
            PullRequest(
                repository=world.repo,
                number=pull.number,
                head_sha=pull.head_sha,
                base_ref="main",
                state="closed",
                merged_at=dt.datetime.now(dt.UTC),
            )
        )
    [issue] = await sweeper.preview(database.sessions, later)
    assert issue.action == "issue" and "would analyse the default branch" in issue.text
    assert (await waivers(database))[0].status == "active" and world.fake.requests(
        "POST", r"/issues$"
    ) == []


async def test_footgun_serve_sweeps_periodically(world, database, make_settings, serve):
    """The sweeper is one of the server's periodic tasks: a waiver already past its deadline at start-up
    is settled without anyone running `footgun sweep`."""
    from bot.github.client import open_client
    from bot.queue.worker import PERIODIC

    pull, _waiver = await waived_pull(world, database)
    async with database.sessions.begin() as session:
        await session.execute(update(Waiver).values(expires_at=dt.datetime.now(dt.UTC) - HOUR))
    settings = make_settings(
        app_id=world.fake.app_id,
        private_key=world.fake.private_key,
        github_api_url=world.fake.base_url,
        workers=0,
    )
    async with serve(settings, github_factory=open_client, handlers=None):
        assert PERIODIC["waiver-sweeper"].seconds(settings) == 300
        async with asyncio.timeout(10):
            while (await waivers(database))[0].status == "active":
                await asyncio.sleep(0.05)
    assert (await waivers(database))[0].status == "expired"
    assert [r["head_sha"] for r in await queued_reviews(database)] == [pull.head_sha]
    assert "expired at the end of" in bot_replies(world, pull)[-1]


async def test_footgun_serve_sweeps_every_sweep_interval(world, database, make_settings, serve):
    """FOOTGUN_SWEEP_INTERVAL sets the pace: the first sweep sends a due reminder, a later one
    settles the deadline that passed after it."""
    from bot.github.client import open_client

    pull, _waiver = await waived_pull(world, database)
    now = dt.datetime.now(dt.UTC)
    async with database.sessions.begin() as session:
        await session.execute(update(Waiver).values(remind_at=now - HOUR, expires_at=now + HOUR))
    settings = make_settings(
        app_id=world.fake.app_id,
        private_key=world.fake.private_key,
        github_api_url=world.fake.base_url,
        workers=0,
        sweep_interval=0.1,
    )
    async with serve(settings, github_factory=open_client, handlers=None):
        async with asyncio.timeout(10):
            while (await waivers(database))[0].reminded_at is None:
                await asyncio.sleep(0.05)
            async with database.sessions.begin() as session:
                await session.execute(
                    update(Waiver).values(expires_at=dt.datetime.now(dt.UTC) - HOUR)
                )
            while (await waivers(database))[0].status == "active":
                await asyncio.sleep(0.05)
    assert [b.split(" ", 1)[0] for b in bot_replies(world, pull)][-2:] == ["Reminder:", "Waiver"]


async def test_a_reminder_whose_answer_never_came_is_not_posted_twice(world, database):
    """GitHub creates the comment but the answer times out: the POST is not repeated in place,
    and the next sweep finds the bot's comment by its marker instead of posting another."""
    pull, waiver = await waived_pull(world, database, days=5)
    comments = rf"/repos/acme/mesh/issues/{pull.number}/comments"
    world.fake.log.clear()  # the grant's reply is a POST there too
    world.fake.answer_late("POST", comments, seconds=60)
    [failed] = await sweeper.sweep(database.sessions, world.app, waiver.remind_at + HOUR)
    assert failed.action == "skipped"
    assert len(world.fake.requests("POST", comments + "$")) == 1  # not retried in place
    assert (await waivers(database))[0].reminded_at is None
    [reminded] = await sweeper.sweep(database.sessions, world.app, waiver.remind_at + 2 * HOUR)
    assert reminded.action == "remind"
    assert len(world.fake.requests("POST", comments + "$")) == 1
    reminders = [b for b in bot_replies(world, pull) if b.startswith("Reminder")]
    assert len(reminders) == 1
    [stored] = await waivers(database)
    assert stored.reminded_at is not None
    [(url,)] = await _reminded_urls(database)
    [comment] = [c for c in world.fake.issue_comments.values() if c["body"].startswith("Reminder")]
    assert url == comment["html_url"]
    assert await sweeper.sweep(database.sessions, world.app, waiver.remind_at + 3 * HOUR) == []


async def test_an_expiry_note_whose_answer_never_came_is_not_posted_twice(world, database):
    """The note that a waiver expired: a late answer is not repeated, and the waiver stays
    active until a sweep has said it; the next sweep finds the note and only settles."""
    pull, waiver = await waived_pull(world, database, days=1)
    comments = rf"/repos/acme/mesh/issues/{pull.number}/comments"
    world.fake.log.clear()
    world.fake.answer_late("POST", comments, seconds=60)
    [failed] = await sweeper.sweep(database.sessions, world.app, waiver.expires_at + HOUR)
    assert failed.action == "skipped"
    assert (await waivers(database))[0].status == "active"
    assert len(world.fake.requests("POST", comments + "$")) == 1
    [expired] = await sweeper.sweep(database.sessions, world.app, waiver.expires_at + 2 * HOUR)
    assert expired.action == "recheck"
    assert len(world.fake.requests("POST", comments + "$")) == 1
    notes = [
        b
        for b in bot_replies(world, pull)
        if b.startswith(f"Waiver **#{waiver.id}**") and "expired" in b
    ]
    assert len(notes) == 1
    assert (await waivers(database))[0].status == "expired"


async def test_a_reminder_marker_in_someone_elses_comment_does_not_stop_the_reminder(
    world, database
):
    pull, waiver = await waived_pull(world, database, days=5)
    world.fake.comment_as(
        "mallory",
        world.repo,
        pull.number,
        f"no reminder please\n\n<!-- footgun:reminder={waiver.id} -->",
    )
    world.fake.comment_as(  # the bot's comment, the marker not at its end
        "x", world.repo, pull.number, f"quoting <!-- footgun:reminder={waiver.id} --> here"
    )["user"] = {"login": world.fake.bot_login, "type": "Bot", "id": 2}
    [outcome] = await sweeper.sweep(database.sessions, world.app, waiver.remind_at + HOUR)
    assert outcome.action == "remind"
    assert len([b for b in bot_replies(world, pull) if b.startswith("Reminder")]) == 1


async def test_a_reminder_search_reads_only_the_conversation_since_the_grant(world, database):
    pull, waiver = await waived_pull(world, database, days=5)
    world.fake.log.clear()
    await sweeper.sweep(database.sessions, world.app, waiver.remind_at + HOUR)
    [listed] = world.fake.requests("GET", rf"/issues/{pull.number}/comments$")
    since = dt.datetime.fromisoformat(listed.query["since"])
    assert waiver.created_at - 2 * HOUR < since <= waiver.created_at


async def _reminded_urls(database):
    from bot.db import WaiverEvent

    async with database.sessions() as session:
        rows = await session.execute(select(WaiverEvent.url).where(WaiverEvent.event == "reminded"))
        return [tuple(r) for r in rows]
