"""Retention of webhook deliveries, on SQLite and PostgreSQL: old ones go, unless their job is unfinished."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from bot.db import Delivery, Job, utcnow
from bot.queue import retention
from bot.queue.worker import PERIODIC, TaskContext
from bot.settings import SettingsError, load_settings

pytestmark = pytest.mark.anyio
NOW = utcnow()
OLD = NOW - timedelta(days=31)


async def seed(
    database, deliveries: list[tuple[str | None, object]], jobs: list[tuple[str | None, str]]
) -> None:
    async with database.sessions.begin() as session:
        for delivery_id, received_at in deliveries:
            await session.execute(
                insert(Delivery).values(
                    delivery_id=delivery_id,
                    received_at=received_at,
                    outcome="queued",
                    event="pull_request",
                )
            )
        for delivery_id, status in jobs:
            await session.execute(
                insert(Job).values(
                    kind="review",
                    payload={},
                    status=status,
                    attempts=1,
                    delivery_id=delivery_id,
                    run_after=NOW,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )


async def remaining(database) -> list[str | None]:
    async with database.sessions() as session:
        return sorted(await session.scalars(select(Delivery.delivery_id)), key=str)


async def test_old_deliveries_go_unless_their_job_is_queued_or_running(database):
    await seed(
        database,
        [
            ("old-no-job", OLD),
            ("old-done", OLD),
            ("old-failed", OLD),
            ("old-queued", OLD),
            ("old-running", OLD),
            (None, OLD),
            ("recent", NOW - timedelta(days=29)),
            ("recent-done", NOW - timedelta(days=1)),
        ],
        [
            ("old-done", "done"),
            ("old-failed", "failed"),
            ("old-queued", "queued"),
            ("old-running", "running"),
            ("old-queued", "done"),
            ("recent-done", "done"),
            (None, "queued"),
        ],  # a job from no delivery blocks nothing
    )
    deleted = await retention.prune_deliveries(database.sessions, timedelta(days=30), now=NOW)
    assert deleted == 4
    assert await remaining(database) == ["old-queued", "old-running", "recent", "recent-done"]


async def test_many_old_deliveries_are_pruned_in_batches(database):
    await seed(
        database,
        [(f"old-{n}", OLD - timedelta(minutes=n)) for n in range(7)] + [("new", NOW)],
        [("old-3", "queued")],
    )
    deleted = await retention.prune_deliveries(
        database.sessions, timedelta(days=30), now=NOW, batch=2
    )
    assert deleted == 6
    assert await remaining(database) == ["new", "old-3"]


async def test_the_periodic_task_uses_the_retention_setting(database, make_settings):
    await seed(
        database,
        [("eight-days", NOW - timedelta(days=8)), ("six-days", NOW - timedelta(days=6))],
        [],
    )
    task = PERIODIC["delivery-retention"]
    assert task.interval == 3600
    await task.run(TaskContext(make_settings(delivery_retention_days=7), None, database.sessions))
    assert await remaining(database) == ["six-days"]


async def test_a_serving_process_prunes_at_startup(database, make_settings, serve):
    await seed(database, [("ancient", NOW - timedelta(days=400)), ("today", NOW)], [])
    async with serve(make_settings()):
        for _ in range(500):
            if await remaining(database) == ["today"]:
                break
            await asyncio.sleep(0.01)
    assert await remaining(database) == ["today"]


def test_the_retention_setting_defaults_to_30_days_and_refuses_zero(monkeypatch):
    assert load_settings().delivery_retention_days == 30
    monkeypatch.setenv("FOOTGUN_DELIVERY_RETENTION_DAYS", "0")
    with pytest.raises(
        SettingsError, match=r"^FOOTGUN_DELIVERY_RETENTION_DAYS: Input should be greater than"
    ):
        load_settings()
