"""A `footgun serve` killed mid-stream keeps every delivery it acknowledged (group commit on SQLite)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess

import httpx
import pytest

from tests.loopback import FOOTGUN, free_port
from tests.test_serve import app_environment, wait_healthy
from tests.webhooks import payload, request

pytestmark = pytest.mark.e2e
DELIVERIES, CONCURRENCY, KILL_AFTER = 300, 20, 40


def synchronize(number: int) -> dict:
    return payload(
        "pull_request.synchronize",
        **{
            "number": number,
            "pull_request.number": number,
            "pull_request.head.sha": f"{number:040x}",
        },
    )


async def send_until_killed(base: str, process: subprocess.Popen) -> list[str]:
    """Post deliveries from CONCURRENCY clients; SIGKILL the server after KILL_AFTER 202s."""
    prepared = [
        request("pull_request", synchronize(1000 + n), delivery=f"crash-{n}")
        for n in range(DELIVERIES)
    ]
    pending = list(reversed(prepared))
    acknowledged: list[str] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            while pending:
                headers, body = pending.pop()
                try:
                    response = await http.post("/webhooks", content=body, headers=headers)
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code == 202:
                    acknowledged.append(headers["X-GitHub-Delivery"])
                    if len(acknowledged) == KILL_AFTER:
                        process.send_signal(signal.SIGKILL)

    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return acknowledged


def test_a_killed_server_loses_no_acknowledged_delivery(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "serve.log", "wb") as log:
        process = subprocess.Popen(
            [FOOTGUN, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "0"],
            env=app_environment(tmp_path, FOOTGUN_LOG_LEVEL="WARNING"),
            cwd=tmp_path,
            stderr=log,
        )
        try:
            wait_healthy(base, process)
            acknowledged = asyncio.run(send_until_killed(base, process))
        finally:
            process.kill()
            process.wait(timeout=20)
    assert process.returncode == -signal.SIGKILL
    assert KILL_AFTER <= len(acknowledged) < DELIVERIES  # killed with deliveries still coming

    with sqlite3.connect(tmp_path / "footgun.db") as database:  # opening it recovers the WAL
        stored = {row[0] for row in database.execute("SELECT delivery_id FROM deliveries")}
        queued = {
            row[0] for row in database.execute("SELECT delivery_id FROM jobs WHERE kind = 'review'")
        }
    assert set(acknowledged) <= stored
    assert set(acknowledged) <= queued
