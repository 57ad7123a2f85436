"""Replicas on PostgreSQL (issue "Hardening the App", item 13): two `footgun serve` and one
`footgun worker` share the queue; one replica is SIGKILLed in the middle of a review. Its job
must resume at once on another replica (not after its 60 s lease), and every pull request must
still get exactly one check run, one review and one inline comment."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import signal
import subprocess
import time
import uuid

import pytest

from tests.e2e.scenario import pull_request_event, seed
from tests.loopback import wait_until

pytestmark = pytest.mark.e2e
POSTGRES_ENV = "FOOTGUN_TEST_DATABASE_URL"
PULLS = 20


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database for this test (plain `postgresql://` URL), dropped after."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}")
    asyncpg = pytest.importorskip("asyncpg")
    from sqlalchemy.engine import make_url

    url = make_url(server).set(drivername="postgresql")
    name = f"footgun_e2e_{uuid.uuid4().hex[:12]}"
    admin = url.render_as_string(hide_password=False)

    async def admin_run(sql: str) -> None:
        connection = await asyncpg.connect(admin, timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    try:
        asyncio.run(admin_run(f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        pytest.skip(f"PostgreSQL does not answer: {exc}")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin_run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def query(url: str, sql: str) -> list[tuple]:
    import asyncpg

    async def run() -> list[tuple]:
        connection = await asyncpg.connect(url, timeout=5)
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()

    return asyncio.run(run())


def test_a_killed_replicas_review_resumes_at_once_and_is_published_once(
    fake_server, footgun, postgres_url, tmp_path
):
    refs = [seed(fake_server, f"acme/replica-{n}") for n in range(PULLS)]

    def slow_reviews(fake):  # each review takes a second: a replica dies in the middle of one
        for ref in refs:
            fake.answer_late("POST", f"/repos/{ref.repo}/pulls/{ref.number}/reviews", 1.0, 2)

    fake_server.call(slow_reviews)
    env = {"FOOTGUN_DATABASE_URL": postgres_url, "FOOTGUN_HTTP_TIMEOUT": "10"}
    first, second = footgun(**env), footgun(**env)
    code, _out, err = first.finish(first.command("db", "upgrade"))
    assert code == 0, err
    first.start()
    second.start()
    with open(tmp_path / "worker.log", "wb") as log:
        worker = first._spawn(["worker"], stdout=log, stderr=subprocess.STDOUT)

    started = time.monotonic()
    for n, ref in enumerate(refs):
        for m, (example, at) in enumerate(
            [("pull_request.opened", "10:00"), ("pull_request.reopened", "10:01")]
        ):
            replica = (first, second)[(n + m) % 2]
            body = pull_request_event(ref, example, f"2026-03-04T{at}:00Z")
            assert replica.deliver("pull_request", body, f"r{n}-{m}").status_code in (200, 202)

    pid = first.process.pid

    def claimed_by_first():
        os.kill(pid, signal.SIGSTOP)
        rows = query(
            postgres_url,
            "SELECT id, locked_until FROM jobs "
            f"WHERE status = 'running' AND locked_by LIKE '%:{pid}:%'",
        )
        if rows:
            return rows[0]
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.01)
        return None

    job_id, lease_end = wait_until(claimed_by_first, "a review running on the first replica", 30)
    first.kill()  # frozen with the job claimed: SIGKILL
    [(killed_at,)] = query(postgres_url, "SELECT now()")

    def drained():
        assert worker.poll() is None and second.process.poll() is None
        rows = query(postgres_url, "SELECT status FROM jobs")
        return rows if rows and all(s in ("done", "skipped") for (s,) in rows) else None

    wait_until(drained, "the queue to drain", 90, details=second.logs)
    elapsed = time.monotonic() - started
    [(status, finished, attempts, owner)] = query(
        postgres_url,
        f"SELECT status, finished_at, attempts, claim_session FROM jobs WHERE id = {job_id}",
    )
    print(
        f"\n{PULLS} pull requests, 40 deliveries, one replica killed: drained in {elapsed:.1f} s;"
        f" the killed replica's review finished {(finished - killed_at).total_seconds():.1f} s"
        f" after the kill, its lease had {(lease_end - killed_at).total_seconds():.0f} s to run"
    )
    assert (status, attempts, owner) == ("done", 2, None)
    assert finished < lease_end, "the job waited out the killed replica's lease"

    def published(fake):
        return copy.deepcopy(
            [
                (
                    fake.runs_for(ref.repo, ref.head_sha),
                    fake.reviews_on(ref.repo, ref.number),
                    fake.comments_on(ref.repo, ref.number),
                )
                for ref in refs
            ]
        )

    for runs, reviews, comments in fake_server.call(published):
        [run] = runs
        assert (run["status"], run["conclusion"]) == ("completed", "failure")
        assert len(reviews) == 1 and len(comments) == 1
    worker.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        worker.wait(20)
