"""Pull request content is data, not markup (issue "Hardening the App", items 4, 9 and 10).

A review runs on a pull request whose manifests carry hostile names, against the fake GitHub,
and what the bot posted is rendered as GitHub renders it (`tests/gfm.py`, cmark-gfm): each kind
of breakout must show as plain text. Waiver reasons, markers, a 61,000-character name and a
reply longer than GitHub takes are held to the same promise.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.db import utcnow
from bot.github import markers
from bot.github.markdown import BODY_LIMIT
from bot.waivers import store
from rules.core.engine import analyse
from rules.core.loader import SourceFile
from tests import gfm
from tests.fakegithub.world import virtual_service as vs
from tests.waiver_helpers import bot_replies, people, run_review, say, today

pytestmark = pytest.mark.anyio


def hostile(name: str, route: str = "main", namespace: str = "mesh") -> str:
    """A VirtualService named `name` whose route `route` injects aborts (both quoted, as YAML
    lets any string be)."""
    host = f"a.{namespace}.svc.cluster.local"
    return (
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
        f"  name: {json.dumps(name)}\n  namespace: {namespace}\nspec:\n  hosts: [{host}]\n"
        f"  http:\n  - name: {json.dumps(route)}\n    fault: {{abort: {{httpStatus: 503}}}}\n"
        f"    route:\n    - destination: {{host: {host}}}\n"
    )


def posted(world, pull, check):
    """What a reader sees of the finding: its inline comment, the reviews listing it, the summary."""
    bodies = [c["body"] for c in world.fake.comments_on(world.repo, pull.number)]
    bodies += [r["body"] for r in world.fake.reviews_on(world.repo, pull.number)]
    bodies.append(check["output"]["summary"])
    return [b for b in bodies if "fault-injection" in b]


def hrefs(body: str) -> list[str]:
    return [part.split('"')[1] for part in gfm.render(body).split("href=")[1:]]


BREAKOUTS = {
    # kind: (the hostile value, what a reader must see literally, the tag it must not make)
    "code span": ("x` **bold** `y", "x` **bold** `y", "strong"),
    "html": ('<img src="x" onerror="alert(1)">', '<img src="x" onerror="alert(1)">', "img"),
    "link": ("[click me](https://evil.example/)", "[click me](https://evil.example/)", "a"),
    "heading": ("ok\r\n# Owned by us\r\n", "ok # Owned by us", "h1"),
    "details": ("<details><summary>open me", "<details><summary>open me", "details"),
    "table": ("a | b\n|---|---|\n| c | d", "a | b |---|---| | c | d", "table"),
}


@pytest.mark.parametrize("kind", sorted(BREAKOUTS))
async def test_a_hostile_route_name_renders_as_plain_text(world, database, kind):
    value, literal, tag = BREAKOUTS[kind]
    # In the route's name (quoted in the message) and in the resource's (in code spans too).
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": hostile(value, route=value)})
    check = await run_review(world, database, pull)
    bodies = posted(world, pull, check)
    assert len(bodies) == 2  # the inline comment and the summary
    for body in bodies:
        reading = gfm.read(body)
        assert literal in reading.seen, (kind, body)
        if tag == "strong":  # the bot's own bold (the rule) stays; the value's is shown
            assert "<strong>bold</strong>" not in gfm.render(body), body
        elif tag == "a":  # the bot links to files; nothing links to the value's target
            assert not [h for h in hrefs(body) if "evil" in h], body
        else:
            assert tag not in reading.tags, (kind, body)


async def test_names_and_values_notify_nobody_and_link_nowhere(world, database):
    value = "@acme/security-team @root #1 GH-2 acme/other#3 https://evil.example www.evil.example root@evil.example"
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": hostile("a", route=value)})
    check = await run_review(world, database, pull)
    for body in posted(world, pull, check):
        assert gfm.mentions(body) == [], body
        assert gfm.references(body) == [], body
        assert not [h for h in hrefs(body) if "evil" in h], body


async def test_an_html_comment_in_a_name_hides_nothing(world, database):
    pull = world.pull(
        {"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": hostile("a", route="drill <!-- the rest")}
    )
    check = await run_review(world, database, pull)
    for body in posted(world, pull, check):
        reading = gfm.read(body)
        assert all(c.strip().lstrip("/").startswith("footgun:") for c in reading.comments), body
        assert "drill <!-- the rest" in reading.seen
    [inline] = world.fake.comments_on(world.repo, pull.number)
    assert "Why it hurts:" in gfm.read(inline["body"]).text  # what follows the name still shows


def fingerprint_of(files: dict[str, str], resource: str) -> str:
    report = analyse([SourceFile(path, text) for path, text in files.items()])
    [finding] = [f for f in report.findings if str(f.resource) == resource]
    return finding.fingerprint


async def test_a_name_holding_a_marker_does_not_silence_a_later_finding(world, database):
    """A route named after the hidden marker of a finding yet to come (on VirtualService b)."""
    later = {"mesh/a.yaml": vs("a"), "mesh/b.yaml": vs("b", fault=True)}
    forged = markers.MARKER.format(fingerprint_of(later, "VirtualService/mesh/b"))
    first = {"mesh/a.yaml": hostile("a", route=f"x {forged}"), "mesh/b.yaml": vs("b")}
    pull = world.pull({"mesh/a.yaml": vs("a"), "mesh/b.yaml": vs("b")}, first)
    await run_review(world, database, pull)
    [on_a] = world.fake.comments_on(world.repo, pull.number)
    assert "mesh/a" in on_a["body"] and markers.fingerprints_in(on_a["body"]) == {
        fingerprint_of(first, "VirtualService/mesh/a")
    }
    world.fake.push(pull, {"mesh/b.yaml": vs("b", fault=True)})
    await run_review(world, database, pull)
    on_b = [c for c in world.fake.comments_on(world.repo, pull.number) if "mesh/b" in c["body"]]
    assert len(on_b) == 1, "the finding on b got no inline comment"


async def test_a_61000_character_name_gets_one_review_that_fits(world, database):
    name = "n" * 61_000
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": hostile(name)})
    await run_review(world, database, pull)
    await run_review(world, database, pull)  # a re-run on the same head: nothing new to post
    assert [r.status for r in world.fake.requests("POST", "/reviews$")] == [200]
    [review] = world.fake.reviews_on(world.repo, pull.number)
    [inline] = world.fake.comments_on(world.repo, pull.number)
    assert review["commit_id"] == pull.head_sha
    assert len(inline["body"]) < 5_000 and "nnnn…" in inline["body"]
    assert markers.fingerprints_in(inline["body"])


async def test_a_waiver_reason_with_an_html_comment_hides_nothing(world, database):
    people(world)
    pull = world.pull(
        {"mesh/a.yaml": vs("a"), "mesh/b.yaml": vs("b")},
        {"mesh/a.yaml": vs("a", fault=True), "mesh/b.yaml": vs("b", fault=True)},
        user="author",
    )
    await run_review(world, database, pull)
    until = (today() + dt.timedelta(days=7)).isoformat()
    reason = "drill <!-- and everything after this"
    await say(
        world,
        database,
        pull,
        "maria",
        f"/footgun waive fault-injection VirtualService/mesh/a until {until} because {reason}",
    )
    check = await run_review(world, database, pull)
    [reply] = bot_replies(world, pull)
    inline = [c["body"] for c in world.fake.comments_on(world.repo, pull.number)]
    for body in [check["output"]["summary"], reply, *inline]:
        reading = gfm.read(body)
        assert all(c.strip().lstrip("/").startswith("footgun:") for c in reading.comments), body
    summary = gfm.read(check["output"]["summary"]).seen
    assert reason in summary and "mesh/b" in summary
    assert reason in gfm.read(reply).seen
    [noted] = [b for b in inline if "Waived" in b]
    assert reason in gfm.read(noted).seen


async def test_a_config_waiver_reason_is_shown_as_written(world, database):
    until = (today() + dt.timedelta(days=7)).isoformat()
    reason = "drill <!-- hidden --> then **loud** @acme/team [x](https://evil.example)"
    config = (
        f"waive:\n- rule: fault-injection\n  target: VirtualService/mesh/a\n"
        f"  until: {until}\n  reason: {json.dumps(reason)}\n"
    )
    pull = world.pull(
        {"mesh/a.yaml": vs("a"), ".github/footgun.yml": config},
        {"mesh/a.yaml": vs("a", fault=True)},
    )
    check = await run_review(world, database, pull)
    assert check["conclusion"] == "success"
    summary = check["output"]["summary"]
    reading = gfm.read(summary)
    assert reason in reading.seen and reading.comments == [], summary
    assert gfm.mentions(summary) == []
    assert "<strong>loud</strong>" not in gfm.render(summary)
    assert not [h for h in hrefs(summary) if "evil" in h]


async def test_a_reply_listing_many_waivers_fits_in_one_comment(world, database):
    people(world)
    pull = world.pull({"mesh/a.yaml": vs("a")}, {"mesh/a.yaml": vs("a", fault=True)})
    check = await run_review(world, database, pull)
    assert check["conclusion"] == "failure"
    async with database.sessions.begin() as session:
        for n in range(150):
            await store.grant(
                session,
                installation_id=world.installation_id,
                repository=world.repo,
                pull_number=pull.number,
                rule="fault-injection",
                target=f"VirtualService/mesh/a{n}",
                findings=[],
                reason=("r" * 480) + f" {n}",
                deadline=utcnow().date() + dt.timedelta(days=7),
                remind_days_before=3,
                approved_by="maria",
                command_url="https://github.com/acme/mesh/pull/1#issuecomment-1",
                command_key=f"seeded:{n}",
            )
    await say(world, database, pull, "maria", "/footgun waivers")
    [reply] = bot_replies(world, pull)
    assert len(reply) <= BODY_LIMIT
    assert "…and 100 more: `footgun waivers list --repo acme/mesh` lists them all." in reply
    rows = [line for line in reply.splitlines() if line.startswith("| ") and "| active |" in line]
    assert len(rows) == 50
