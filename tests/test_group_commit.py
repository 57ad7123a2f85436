"""Group commit: SQLite's writer commits every intake waiting for it in one transaction.

Each test first holds the writer busy, lets the deliveries queue up behind it, then releases it,
so that they are committed together; the checks are what GitHub and the database would see.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import event, func, insert, select

from bot.db import Delivery, Job, PullRequest, open_database
from tests.webhooks import deliver, payload

pytestmark = pytest.mark.anyio


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.001)


class HeldWriter:
    """Keeps the SQLite writer busy until `release()`, so that what is submitted meanwhile is one batch."""

    def __init__(self, database) -> None:
        self.database = database
        self.writer = database.writer
        self._started, self._gate = threading.Event(), threading.Event()
        self._blocker: asyncio.Future | None = None

    def _block(self, session) -> None:
        self._started.set()
        self._gate.wait(10)

    async def __aenter__(self) -> HeldWriter:
        self._blocker = asyncio.ensure_future(self.database.run(self._block))
        await until(self._started.is_set)  # the writer thread is inside the blocker
        return self

    async def queued(self, count: int) -> None:
        await until(lambda: self.writer.waiting == count)

    async def release(self) -> int:
        """Let the writer go; returns how many transactions it committed for what was queued."""
        before = self.writer.batches
        self._gate.set()
        await asyncio.gather(self._blocker, return_exceptions=True)
        return before

    async def __aexit__(self, *exc_info) -> None:
        self._gate.set()
        await asyncio.gather(self._blocker, return_exceptions=True)


def synchronize(number: int) -> dict:
    return payload(
        "pull_request.synchronize",
        **{
            "number": number,
            "pull_request.number": number,
            "pull_request.head.sha": f"{number:040x}",
        },
    )


async def count(database, model, *where) -> int:
    async with database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


def sqlite_only(database) -> None:
    if database.writer is None:
        pytest.skip(
            "group commit is SQLite's writer thread; PostgreSQL commits each intake on its own"
        )


async def test_concurrent_deliveries_are_all_committed_and_acknowledged(app_client):
    app, client = app_client
    database = app.state.runtime.database
    responses = await asyncio.gather(
        *(
            deliver(client, "pull_request", synchronize(100 + n), delivery=f"c-{n}")
            for n in range(40)
        )
    )
    assert [r.status_code for r in responses] == [202] * 40
    job_ids = [r.json()["jobs"] for r in responses]
    assert sorted(j for [j] in job_ids) == sorted({j for [j] in job_ids})
    assert await count(database, Delivery, Delivery.outcome == "queued") == 40
    assert await count(database, Job, Job.kind == "review") == 40
    assert await count(database, PullRequest) == 40


async def test_copies_of_one_delivery_arriving_together_are_processed_once(app_client):
    app, client = app_client
    database = app.state.runtime.database
    responses = await asyncio.gather(
        *(deliver(client, "pull_request", synchronize(150), delivery="twin") for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 202]
    assert await count(database, Delivery) == 1 and await count(database, Job) == 1


async def test_queued_deliveries_are_committed_in_one_transaction_and_each_answered(app_client):
    app, client = app_client
    database = app.state.runtime.database
    sqlite_only(database)
    async with HeldWriter(database) as held:
        sent = [
            asyncio.ensure_future(
                deliver(client, "pull_request", synchronize(200 + n), delivery=f"b-{n}")
            )
            for n in range(20)
        ]
        await held.queued(20)
        before = await held.release()
        responses = await asyncio.gather(*sent)
    assert database.writer.batches == before + 2  # the blocker's, then all twenty together
    assert [r.status_code for r in responses] == [202] * 20
    assert len({r.json()["jobs"][0] for r in responses}) == 20
    assert await count(database, Delivery) == 20 and await count(database, Job) == 20


async def test_a_redelivery_in_the_same_batch_is_answered_200_and_processed_once(app_client):
    app, client = app_client
    database = app.state.runtime.database
    sqlite_only(database)
    async with HeldWriter(database) as held:
        sent = [
            asyncio.ensure_future(
                deliver(client, "pull_request", synchronize(300), delivery="same")
            )
            for _ in range(2)
        ]
        sent.append(
            asyncio.ensure_future(
                deliver(client, "pull_request", synchronize(301), delivery="other")
            )
        )
        await held.queued(3)
        before = await held.release()
        first, second, other = await asyncio.gather(*sent)
    assert database.writer.batches == before + 2
    assert (first.status_code, second.status_code, other.status_code) == (202, 200, 202)
    assert second.json() == {"outcome": "duplicate", "note": "delivery already received"}
    assert await count(database, Delivery, Delivery.delivery_id == "same") == 1
    assert await count(database, Job) == 2


async def test_one_bad_delivery_in_a_batch_fails_alone(app_client):
    app, client = app_client
    database = app.state.runtime.database
    sqlite_only(database)
    broken = synchronize(400)
    del broken["pull_request"]["base"]
    async with HeldWriter(database) as held:
        sent = [
            asyncio.ensure_future(
                deliver(client, "pull_request", synchronize(401), delivery="good-1")
            ),
            asyncio.ensure_future(deliver(client, "pull_request", broken, delivery="bad")),
            asyncio.ensure_future(
                deliver(client, "pull_request", synchronize(402), delivery="good-2")
            ),
        ]
        await held.queued(3)
        await held.release()
        good_1, bad, good_2 = await asyncio.gather(*sent)
    assert (good_1.status_code, bad.status_code, good_2.status_code) == (202, 400, 202)
    assert "KeyError" in bad.json()["note"]
    async with database.sessions() as session:
        outcomes = dict(
            (await session.execute(select(Delivery.delivery_id, Delivery.outcome))).all()
        )
        numbers = set(await session.scalars(select(PullRequest.number)))
    assert outcomes == {"good-1": "queued", "bad": "rejected", "good-2": "queued"}
    assert numbers == {401, 402}


async def test_a_call_that_fails_after_writing_rolls_back_only_its_own_writes(database):
    sqlite_only(database)

    def add_delivery(session, delivery_id, fail=False):
        session.execute(insert(Delivery).values(delivery_id=delivery_id, outcome="queued"))
        if fail:
            raise RuntimeError("the handler broke after writing")
        return delivery_id

    def duplicate_key(session):
        session.execute(
            insert(Delivery).values(delivery_id="kept-1", outcome="queued")
        )  # IntegrityError

    async with HeldWriter(database) as held:
        sent = [
            asyncio.ensure_future(database.run(add_delivery, "kept-1")),
            asyncio.ensure_future(database.run(add_delivery, "dropped", fail=True)),
            asyncio.ensure_future(database.run(duplicate_key)),
            asyncio.ensure_future(database.run(add_delivery, "kept-2")),
        ]
        await held.queued(4)
        before = await held.release()
        results = await asyncio.gather(*sent, return_exceptions=True)
    assert database.writer.batches == before + 2
    assert results[0] == "kept-1" and results[3] == "kept-2"
    assert isinstance(results[1], RuntimeError)
    assert "UNIQUE constraint failed" in str(results[2])
    async with database.sessions() as session:
        assert sorted(await session.scalars(select(Delivery.delivery_id))) == ["kept-1", "kept-2"]


async def test_a_batch_whose_commit_fails_acknowledges_none_of_it_and_loses_nothing_acknowledged(
    make_settings, serve, database_url
):
    async with serve(make_settings()) as (app, _):
        database = app.state.runtime.database
        sqlite_only(database)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://footgun.test") as client:
            acknowledged = await deliver(
                client, "pull_request", synchronize(500), delivery="before"
            )
            assert acknowledged.status_code == 202

            def crash(connection):
                raise OSError("disk I/O error: the process died before COMMIT")

            async with HeldWriter(database) as held:
                sent = [
                    asyncio.ensure_future(
                        deliver(client, "pull_request", synchronize(510 + n), delivery=f"lost-{n}")
                    )
                    for n in range(5)
                ]
                await held.queued(5)
                event.listen(database.writer.engine, "commit", crash)
                try:
                    await held.release()
                    responses = await asyncio.gather(*sent)
                finally:
                    event.remove(database.writer.engine, "commit", crash)
            # none heard 202, and the 503 says "not stored": GitHub lists them for redelivery
            assert [r.status_code for r in responses] == [503] * 5

            redelivered = await deliver(client, "pull_request", synchronize(510), delivery="lost-0")
            assert redelivered.status_code == 202  # GitHub's redelivery goes through
    reopened = open_database(database_url)
    try:
        async with reopened.sessions() as session:
            kept = sorted(await session.scalars(select(Delivery.delivery_id)))
            jobs = await session.scalar(select(func.count()).select_from(Job))
    finally:
        await reopened.dispose()
    assert kept == ["before", "lost-0"] and jobs == 2


async def test_a_closed_writer_refuses_calls_instead_of_leaving_them_waiting(database):
    sqlite_only(database)
    await database.dispose()
    with pytest.raises(RuntimeError, match="the SQLite writer is closed"):
        await asyncio.wait_for(database.run(lambda session: None), 5)
