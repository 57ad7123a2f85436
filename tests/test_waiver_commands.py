"""`/footgun` commands on a pull request, with GitHub faked and the database real (SQLite, PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.fakegithub.world import virtual_service as vs
from tests.waiver_helpers import (
    bot_replies,
    events,
    faulty_pull,
    people,
    queued_reviews,
    reactions,
    reviewed_pull,
    run_review,
    say,
    today,
    waivers,
)

pytestmark = pytest.mark.anyio
TARGET = "VirtualService/mesh/a"


def waive(
    days: int = 7, rule: str = "fault-injection", target: str = TARGET, reason: str = "chaos drill"
) -> str:
    until = (today() + dt.timedelta(days=days)).isoformat()
    return f"/footgun waive {rule} {target} until {until} because {reason}"


@pytest.mark.parametrize(
    "user, allowed",
    [
        ("ann", True),
        ("maria", True),
        ("wes", True),
        ("tess", False),
        ("rita", False),
        ("nobody", False),
    ],
)
async def test_permission_matrix(world, database, user, allowed):
    people(world)
    pull = await reviewed_pull(world, database)
    comment = await say(world, database, pull, user, waive())
    [reply] = bot_replies(world, pull)
    stored = await waivers(database)
    if allowed:
        [waiver] = stored
        assert (waiver.approved_by, waiver.rule, waiver.resources, waiver.status) == (
            user,
            "fault-injection",
            [TARGET],
            "active",
        )
        assert reactions(world, comment) == ["+1"]
        assert (
            f"Waiver **#{waiver.id}**" in reply
            and f"until **{today() + dt.timedelta(days=7)}**" in reply
        )
        assert [e[0] for e in await events(database)] == ["created"]
    else:
        assert stored == []
        assert reactions(world, comment) == ["confused"]
        role = {"tess": "triage", "rita": "read", "nobody": "none"}[user]
        assert (
            f"@{user} needs `write` permission on this repository to waive findings (has `{role}`)"
            in reply
        )
        assert await events(database) == [("refused", None, user)]


async def test_the_pr_author_cannot_waive_in_their_own_pull_request(world, database):
    people(world)
    pull = faulty_pull(world)
    await say(world, database, pull, "author", waive())
    assert await waivers(database) == []
    assert (
        "Waiving a finding in your own pull request is not allowed here"
        in bot_replies(world, pull)[0]
    )


async def test_self_waive_and_the_permission_level_come_from_the_base_config(world, database):
    people(world)
    pull = await reviewed_pull(
        world, database, config="waivers: {allow_self_waive: true, permission: maintain}\n"
    )
    await say(world, database, pull, "author", waive())  # write < maintain
    await say(world, database, pull, "wes", waive())
    await say(world, database, pull, "maria", waive())
    replies = bot_replies(world, pull)
    assert (
        "needs `maintain` permission" in replies[0] and "needs `maintain` permission" in replies[1]
    )
    [waiver] = await waivers(database)
    assert waiver.approved_by == "maria"


async def test_a_pull_request_cannot_loosen_its_own_waiver_rules(world, database):
    people(world)
    pull = world.pull(
        {"mesh/a.yaml": vs("a"), ".github/footgun.yml": "waivers: {max_days: 5}\n"},
        {"mesh/a.yaml": vs("a", fault=True), ".github/footgun.yml": "waivers: {max_days: 60}\n"},
        user="author",
    )
    await say(world, database, pull, "maria", waive(days=10))
    assert "more than 5 days away" in bot_replies(world, pull)[0]
    assert await waivers(database) == []


@pytest.mark.parametrize(
    "when, message",
    [
        ("until 2020-01-01", "The deadline 2020-01-01 is in the past."),
        ("for 31d", "is more than 30 days away; the latest allowed is"),
    ],
)
async def test_past_and_too_distant_deadlines_are_refused(world, database, when, message):
    people(world)
    pull = faulty_pull(world)
    comment = await say(
        world, database, pull, "maria", f"/footgun waive fault-injection {TARGET} {when} because x"
    )
    assert message in bot_replies(world, pull)[0]
    assert await waivers(database) == [] and reactions(world, comment) == ["confused"]


async def test_the_last_allowed_day_is_accepted_and_lasts_to_its_end_utc(world, database):
    people(world)
    pull = await reviewed_pull(world, database)
    await say(
        world, database, pull, "maria", f"/footgun waive fault-injection {TARGET} for 30d because x"
    )
    [waiver] = await waivers(database)
    deadline = today() + dt.timedelta(days=30)
    assert waiver.deadline == deadline
    assert waiver.expires_at == dt.datetime.combine(
        deadline + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
    )
    assert waiver.remind_at == waiver.expires_at - dt.timedelta(days=3)


async def test_a_waiver_turns_the_check_green_and_lists_who_approved_it(world, database):
    people(world)
    pull = faulty_pull(world)
    assert (await run_review(world, database, pull))["conclusion"] == "failure"
    await say(world, database, pull, "maria", waive(reason="chaos drill until the game day"))
    [queued] = await queued_reviews(database)
    assert (queued["pull_number"], queued["head_sha"]) == (pull.number, pull.head_sha)
    check = await run_review(world, database, pull)
    [waiver] = await waivers(database)
    assert check["conclusion"] == "success"
    assert (
        f"- `fault-injection` `VirtualService/mesh/a` until {waiver.deadline}, approved by @maria "
        f"(waiver #{waiver.id}): chaos drill until the game day"
    ) in check["output"]["summary"]
    [inline] = world.fake.comments_on(world.repo, pull.number)
    assert (
        f"**Waived** until {waiver.deadline} (end of day UTC) by @maria (waiver #{waiver.id})"
        in inline["body"]
    )


async def test_reply_to_an_inline_comment_waives_that_finding(world, database):
    people(world)
    pull = faulty_pull(world)
    await run_review(world, database, pull)
    [inline] = world.fake.comments_on(world.repo, pull.number)
    until = today() + dt.timedelta(days=3)
    reply = await say(
        world,
        database,
        pull,
        "wes",
        f"/footgun waive until {until} because drill on Friday",
        reply_to=inline["id"],
    )
    [waiver] = await waivers(database)
    assert (waiver.rule, waiver.resources, waiver.target, waiver.deadline) == (
        "fault-injection",
        [TARGET],
        None,
        until,
    )
    assert inline["body"].endswith(f"<!-- footgun:fingerprint={waiver.fingerprints[0]} -->")
    assert waiver.command_url.endswith(f"#discussion_r{reply['id']}")
    assert reactions(world, reply) == ["+1"]
    answers = [
        c
        for c in world.fake.comments_on(world.repo, pull.number)
        if c["in_reply_to_id"] == inline["id"] and c["user"]["type"] == "Bot"
    ]
    assert len(answers) == 1 and f"Waiver **#{waiver.id}**" in answers[0]["body"]
    assert bot_replies(world, pull) == []  # answered in the thread, not the conversation
    assert (await run_review(world, database, pull))["conclusion"] == "success"


async def test_a_reply_under_someone_elses_comment_names_no_finding(world, database):
    people(world)
    pull = faulty_pull(world)
    await run_review(world, database, pull)
    [inline] = world.fake.comments_on(world.repo, pull.number)
    human = world.fake.reply_as("rita", inline["id"], "why?")
    human["in_reply_to_id"] = None  # a top-level human comment, as if on another line
    human["user"] = {"login": "rita", "type": "User", "id": 1}
    reply = await say(
        world,
        database,
        pull,
        "maria",
        "/footgun waive until 2099-01-01 because x",
        reply_to=human["id"],
    )
    assert await waivers(database) == [] and reactions(world, reply) == ["confused"]


async def test_unwaive_reverses_a_waiver(world, database):
    people(world)
    pull = faulty_pull(world)
    await run_review(world, database, pull)
    await say(world, database, pull, "maria", waive())
    assert (await run_review(world, database, pull))["conclusion"] == "success"
    [waiver] = await waivers(database)
    await say(world, database, pull, "rita", f"/footgun unwaive {waiver.id}")
    assert (
        "needs `write` permission (has `read`) to revoke a waiver approved by @maria"
        in bot_replies(world, pull)[-1]
    )
    await say(world, database, pull, "wes", f"/footgun unwaive {waiver.id}")
    [revoked] = await waivers(database)
    assert (revoked.status, revoked.revoked_by) == ("revoked", "wes")
    assert (
        f"Waiver **#{waiver.id}**" in bot_replies(world, pull)[-1]
        and "is revoked" in bot_replies(world, pull)[-1]
    )
    assert (await run_review(world, database, pull))["conclusion"] == "failure"
    [inline] = world.fake.comments_on(world.repo, pull.number)
    assert "**Waived**" not in inline["body"]
    await say(world, database, pull, "wes", f"/footgun unwaive {waiver.id}")
    assert f"Waiver #{waiver.id} is already revoked." in bot_replies(world, pull)[-1]
    assert [e[0] for e in await events(database)] == ["created", "refused", "revoked", "refused"]


async def test_unwaive_of_an_unknown_waiver_says_so(world, database):
    people(world)
    pull = faulty_pull(world)
    await say(world, database, pull, "maria", "/footgun unwaive 999")
    assert "There is no waiver #999 in this repository." in bot_replies(world, pull)[0]


async def test_unknown_rule_gets_the_correct_form_and_the_closest_rule_ids(world, database):
    people(world)
    pull = faulty_pull(world)
    comment = await say(world, database, pull, "maria", waive(rule="fault-injecton"))
    [reply] = bot_replies(world, pull)
    assert "Unknown rule `fault-injecton`. Closest: `fault-injection`" in reply
    assert (
        "/footgun waive <rule> [<Kind>/<namespace>/<name> | <path>] until <YYYY-MM-DD> because <reason>"
        in reply
    )
    assert reactions(world, comment) == ["confused"] and await waivers(database) == []


async def test_a_waiver_without_reason_is_refused_with_the_correct_form(world, database):
    people(world)
    pull = faulty_pull(world)
    await say(world, database, pull, "maria", f"/footgun waive fault-injection {TARGET} for 3d")
    assert (
        "A waiver needs a reason: end the command with `because <reason>`."
        in bot_replies(world, pull)[0]
    )


async def test_a_target_without_findings_lists_where_the_rule_fired(world, database):
    people(world)
    pull = await reviewed_pull(world, database)
    await say(world, database, pull, "maria", waive(target="VirtualService/mesh/b"))
    assert (
        "No `fault-injection` finding on `VirtualService/mesh/b` at "
        f"{pull.head_sha[:7]}. Its findings are on: `{TARGET}`."
    ) in bot_replies(world, pull)[0]
    assert await events(database) == [("refused", None, "maria")]


async def test_a_path_target_and_a_rule_wide_waiver_resolve_to_the_head_findings(world, database):
    people(world)
    pull = await reviewed_pull(world, database)
    await say(world, database, pull, "maria", waive(target="mesh/a.yaml"))
    until = (today() + dt.timedelta(days=2)).isoformat()
    await say(
        world, database, pull, "maria", f"/footgun waive fault-injection until {until} because all"
    )
    first, second = await waivers(database)
    assert first.fingerprints == second.fingerprints and len(first.fingerprints) == 1
    assert (first.target, second.target) == ("mesh/a.yaml", None)


async def test_comments_by_bots_are_never_commands(world, database):
    people(world)
    pull = faulty_pull(world)
    world.fake.repos[world.repo].permissions["helper[bot]"] = "admin"
    comment = await say(world, database, pull, "helper[bot]", waive())
    assert (
        bot_replies(world, pull) == []
        and reactions(world, comment) == []
        and await waivers(database) == []
    )


async def test_a_comment_runs_once_even_when_delivered_again(world, database):
    people(world)
    pull = await reviewed_pull(world, database)
    comment = await say(world, database, pull, "maria", waive(), job_id=1)
    from bot.waivers import handler as command_handler
    from tests.waiver_helpers import context, payload

    again = payload(world, pull, comment, "issue", None)
    await command_handler.run(
        context(world, database, "command", again, job_id=2)
    )  # an edit, a redelivery
    await command_handler.run(
        context(world, database, "command", again, job_id=1, attempts=2)
    )  # a retry of the same job
    assert len(await waivers(database)) == 1
    assert len(bot_replies(world, pull)) == 1
    assert reactions(world, comment) == ["+1"]


async def test_waivers_lists_the_pull_requests_waivers(world, database):
    people(world)
    pull = await reviewed_pull(world, database)
    await say(world, database, pull, "maria", waive(reason="a | b"))
    await say(world, database, pull, "rita", "/footgun waivers")
    [waiver] = await waivers(database)
    assert (
        f"| {waiver.id} | `fault-injection` on `{TARGET}` | {waiver.deadline} | active | @maria | a \\| b |"
        in bot_replies(world, pull)[-1]
    )


async def test_recheck_queues_a_review_of_the_head_and_help_shows_the_rules_here(world, database):
    people(world)
    pull = faulty_pull(world, config="waivers: {max_days: 14, remind_days_before: 2}\n")
    await say(world, database, pull, "rita", "/footgun recheck")  # read: may not re-run reviews
    assert await queued_reviews(database) == []
    assert (
        "@rita needs `write` permission on this repository (has `read`), or to be the pull "
        "request's author, to run the check again." in bot_replies(world, pull)[0]
    )
    await say(world, database, pull, "author", "/footgun recheck")  # the author may
    await say(world, database, pull, "maria", "/footgun recheck\n/footgun help")
    [queued] = await queued_reviews(database)
    assert (queued["head_sha"], queued["reason"]) == (pull.head_sha, "/footgun recheck")
    _, by_author, reply = bot_replies(world, pull)
    assert f"Checking {pull.head_sha[:7]} again." in by_author
    assert f"Checking {pull.head_sha[:7]} again." in reply
    assert "at most 14 days away" in reply and (
        "A reminder comes 2 days before the deadline; a waiver granted closer to its deadline than that gets none."
        in reply
    )


@pytest.mark.parametrize(
    "association, looked_up, waived",
    [("OWNER", False, True), ("MANNEQUIN", False, False), ("COLLABORATOR", True, True)],
)
async def test_what_the_webhook_says_about_the_commenter_is_used_before_asking(
    world, database, association, looked_up, waived
):
    """The repository's owner is admin, a mannequin (an unclaimed imported account) nobody:
    neither costs a permission look-up. Others are asked."""
    from bot.waivers import handler as command_handler
    from tests.waiver_helpers import context, payload

    people(world)
    world.fake.repos[world.repo].permissions["owen"] = "write"
    pull = await reviewed_pull(world, database)
    comment = world.fake.comment_as("owen", world.repo, pull.number, waive())
    job = {**payload(world, pull, comment, "issue", None), "author_association": association}
    before = len(world.fake.log)
    await command_handler.run(context(world, database, "command", job))
    lookups = world.fake.requests("GET", "/collaborators/owen/permission")
    assert bool(lookups) == looked_up and all(r in world.fake.log[before:] for r in lookups)
    assert bool(await waivers(database)) == waived
    if not waived:
        assert "has no role on this repository" in bot_replies(world, pull)[0]
