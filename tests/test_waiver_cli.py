"""`footgun sweep` (cron, `--now`, `--dry-run`) and `footgun waivers list` over the App's database."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json

import pytest

from bot import db
from bot.cli import main as cli
from tests.waiver_helpers import faulty_pull, people, run_review, say, waivers


@pytest.fixture
def ledger(world, tmp_path, monkeypatch):
    """A SQLite database holding one waiver by maria on a faulty PR, and the App's environment."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'footgun.db'}"
    people(world)
    pull = faulty_pull(world)

    async def setup():
        database = db.open_database(url)
        await db.migrate(database.engine)
        try:
            await run_review(world, database, pull)
            await say(
                world,
                database,
                pull,
                "maria",
                "/footgun waive fault-injection mesh/a.yaml for 5d because chaos, drill",
            )
            return (await waivers(database))[0]
        finally:
            await database.dispose()

    waiver = asyncio.run(setup())
    for name, value in {
        "DATABASE_URL": url,
        "APP_ID": str(world.fake.app_id),
        "PRIVATE_KEY": world.fake.private_key,
        "WEBHOOK_SECRET": "s",
        "GITHUB_API_URL": world.fake.base_url,
    }.items():
        monkeypatch.setenv(f"FOOTGUN_{name}", value)
    return pull, waiver


def run(capsys, *argv):
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def test_waivers_list_in_every_format(world, ledger, capsys):
    pull, waiver = ledger
    code, out = run(capsys, "waivers", "list", "--format", "json")
    assert code == 0
    [item] = json.loads(out)["waivers"]
    assert {
        k: item[k]
        for k in (
            "id",
            "repository",
            "pull",
            "rule",
            "target",
            "resources",
            "deadline",
            "status",
            "approved_by",
            "reason",
            "cleanup_issue",
        )
    } == {
        "id": waiver.id,
        "repository": "acme/mesh",
        "pull": pull.number,
        "rule": "fault-injection",
        "target": "mesh/a.yaml",
        "resources": ["VirtualService/mesh/a"],
        "deadline": waiver.deadline.isoformat(),
        "status": "active",
        "approved_by": "maria",
        "reason": "chaos, drill",
        "cleanup_issue": None,
    }
    assert item["command_url"].startswith(
        f"https://github.com/acme/mesh/pull/{pull.number}#issuecomment-"
    )
    _, out = run(capsys, "waivers", "list", "--format", "csv", "--repo", "acme/mesh", "--active")
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert (row["id"], row["reason"], row["resources"]) == (
        str(waiver.id),
        "chaos, drill",
        "VirtualService/mesh/a",
    )
    _, out = run(capsys, "waivers", "list")
    header, line = out.splitlines()
    assert header.split() == [
        "ID",
        "PR",
        "RULE",
        "WAIVED",
        "DEADLINE",
        "STATUS",
        "APPROVED",
        "BY",
        "REASON",
    ]
    assert line.split()[:7] == [
        str(waiver.id),
        "acme/mesh#1",
        "fault-injection",
        "VirtualService/mesh/a",
        waiver.deadline.isoformat(),
        "active",
        "maria",
    ]
    assert run(capsys, "waivers", "list", "--repo", "other/repo") == (0, "no waivers\n")
    assert run(capsys, "waivers", "list", "--expired") == (0, "no waivers\n")


def test_sweep_dry_run_shows_what_a_future_date_would_do(world, ledger, capsys):
    _, waiver = ledger
    after = (waiver.deadline + dt.timedelta(days=1)).isoformat()
    code, out = run(capsys, "sweep", "--dry-run", "--now", after)
    assert code == 0
    assert out == (
        f"footgun: waiver #{waiver.id}: deadline {waiver.deadline} passed: would expire fault-injection on "
        "VirtualService/mesh/a and check acme/mesh#1 again if it is open\n"
    )
    assert run(capsys, "sweep", "--dry-run")[1] == "footgun: nothing to do\n"
    _, out = run(capsys, "waivers", "list", "--overdue", "--now", after, "--format", "json")
    assert [w["id"] for w in json.loads(out)["waivers"]] == [waiver.id]
    assert world.fake.requests("POST", r"/issues$") == []
    assert (
        json.loads(run(capsys, "waivers", "list", "--format", "json")[1])["waivers"][0]["status"]
        == "active"
    )


def test_sweep_now_past_the_deadline_of_a_merged_pr_opens_the_cleanup_issue_once(
    world, ledger, capsys
):
    pull, waiver = ledger
    world.fake.merge(pull)
    after = f"{waiver.deadline + dt.timedelta(days=1)}T08:00:00Z"
    code, out = run(capsys, "sweep", "--now", after)
    [issue] = world.fake.issues_of(world.repo, label="footgun-cleanup")
    assert (code, out) == (
        0,
        f"footgun: waiver #{waiver.id}: still on main: cleanup issue #{issue['number']}\n",
    )
    assert run(capsys, "sweep", "--now", after) == (0, "footgun: nothing to do\n")
    _, out = run(capsys, "waivers", "list", "--overdue", "--format", "json")
    [item] = json.loads(out)["waivers"]
    assert (item["status"], item["cleanup_issue"]) == ("overdue", issue["html_url"])
    assert [
        w["id"]
        for w in json.loads(run(capsys, "waivers", "list", "--expired", "--format", "json")[1])[
            "waivers"
        ]
    ] == [waiver.id]
    assert run(capsys, "waivers", "list", "--active") == (0, "no waivers\n")


def test_sweep_without_app_credentials_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FOOTGUN_DATABASE_URL", f"sqlite:///{tmp_path / 'f.db'}")
    assert cli.main(["sweep"]) == 2
    assert "GitHub App credentials are not set" in capsys.readouterr().err


def test_a_bad_now_is_a_one_line_usage_error(capsys):
    assert cli.main(["sweep", "--now", "next friday"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "'next friday' is not a date or time such as 2026-12-31" in line
