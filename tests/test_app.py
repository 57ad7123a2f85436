"""The app as a whole: lifespan, workers fed by webhooks, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlalchemy import inspect, select

from bot import db
from bot.db import Job
from bot.queue import worker as worker_module
from bot.settings import load_settings
from bot.web.app import create_app
from tests.test_jobs import FakeHandler
from tests.webhooks import deliver, payload

pytestmark = pytest.mark.anyio


async def wait_for(condition, timeout=10.0):
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)


async def test_a_delivery_is_reviewed_by_an_in_process_worker_with_the_github_client(
    make_settings, serve
):
    entered, exited = [], []

    @contextlib.asynccontextmanager
    async def github_factory(settings):
        entered.append(settings.app_id)
        yield "github-client"
        exited.append(True)

    review = FakeHandler()
    settings = make_settings(workers=2)
    async with serve(settings, github_factory=github_factory, handlers={"review": review}) as (
        app,
        client,
    ):
        response = await deliver(client, "pull_request", payload("pull_request.opened"))
        assert response.status_code == 202

        async def reviewed():
            async with app.state.runtime.database.sessions() as session:
                return await session.scalar(select(Job.status)) == "done"

        await wait_for(reviewed)
        [ctx] = review.runs
        assert ctx.github == "github-client"
        assert (ctx.job.payload["pull_number"], ctx.job.payload["reason"]) == (
            2,
            "pull_request.opened",
        )
        assert len(app.state.runtime.workers) == 2
    assert entered == [1] and exited == [True]


async def test_healthz_and_readyz(app_client):
    _, client = app_client
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok", "database": "ok"})


async def test_readyz_is_503_when_the_database_does_not_answer(serve):
    settings = load_settings(database_url="postgresql://nobody@127.0.0.1:9/none")
    async with serve(settings, migrate=False) as (_, client):
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()["database"]) == (503, "unreachable")


async def test_metrics_count_deliveries_and_queue_depth(app_client):
    _, client = app_client
    before = await client.get("/metrics")
    await deliver(client, "pull_request", payload("pull_request.opened"))
    await deliver(client, "pull_request", payload("pull_request.opened"), secret="wrong")
    text = (await client.get("/metrics")).text
    assert text.startswith("# HELP")
    assert 'footgun_jobs_queued{kind="review"} 1.0' in text
    assert (
        _value(text, 'footgun_webhook_deliveries_total{event="pull_request",outcome="queued"}')
        == _value(
            before.text, 'footgun_webhook_deliveries_total{event="pull_request",outcome="queued"}'
        )
        + 1
    )
    assert (
        _value(text, 'footgun_webhook_deliveries_total{event="unknown",outcome="bad_signature"}')
        >= 1
    )
    for name in (
        "footgun_github_requests",
        "footgun_findings",
        "footgun_job_latency_seconds",
        "footgun_webhook_ack_seconds",
    ):
        assert f"# HELP {name}" in text


def _value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_periodic_tasks_run_in_the_lifespan(make_settings, serve, monkeypatch):
    ran = asyncio.Event()

    async def sweep(ctx):
        assert ctx.sessions is not None and ctx.github is None
        ran.set()

    monkeypatch.setitem(worker_module.PERIODIC, "sweeper", worker_module.Periodic(3600, sweep))
    async with serve(make_settings()):
        async with asyncio.timeout(5):
            await ran.wait()


async def test_serve_migrates_the_embedded_sqlite_database_on_start(tmp_path):
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'fresh.db'}")
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        app.state.runtime.database.engine.connect() as connection,
    ):
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    assert {
        "deliveries",
        "jobs",
        "installations",
        "installation_repositories",
        "pull_requests",
    } <= set(tables)


async def test_readyz_says_to_upgrade_when_the_schema_is_behind(database_url, serve):
    settings = load_settings(database_url=database_url)
    async with serve(settings, migrate=False) as (app, client):
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["database"] == (
            "the database schema is at revision none, this version needs 0006: run `footgun db upgrade`"
        )
        await db.migrate(app.state.runtime.database.engine)
        assert (await client.get("/readyz")).status_code == 200
