"""The intake under hostile clients and a failing disk, on a real `footgun serve` (issue
"Hardening the App", items 3 and 12)."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sys

import httpx
import pytest

from tests.e2e.scenario import pull_request_event, seed

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prlimit is Linux's")
def test_a_database_that_cannot_write_makes_readyz_fail_and_deliveries_503(fake_server, footgun):
    """The disk fills up: SQLite can read but not write. /readyz must say so (so the platform
    stops routing deliveries here), and a delivery must get 503, not a 500 after a half-done
    write, so that GitHub lists it as failed and it can be redelivered. Once the disk has room,
    the redelivery is accepted and processed.

    The full disk is the server's file-size limit lowered to one byte (`prlimit`): every write
    past the first byte of any file fails, as on a full disk (SQLite reports an I/O error)."""
    ref = seed(fake_server, "acme/disk-full")
    app = footgun()
    app.start()
    assert httpx.get(app.base + "/readyz").json() == {"status": "ok", "database": "ok"}
    body = pull_request_event(ref, "pull_request.opened", "2026-03-02T10:00:00Z")

    limits = resource.prlimit(app.process.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(app.process.pid, resource.RLIMIT_FSIZE, (1, limits[1]))
    try:
        ready = httpx.get(app.base + "/readyz", timeout=10)
        assert ready.status_code == 503, ready.text
        assert "cannot write" in ready.json()["database"]
        refused = app.deliver("pull_request", body, "full-disk")
        assert refused.status_code == 503, refused.text
        assert refused.json()["outcome"] == "unavailable"
        assert "redeliver" in refused.json()["note"]
    finally:
        resource.prlimit(app.process.pid, resource.RLIMIT_FSIZE, limits)

    assert app.query("SELECT count(*) FROM deliveries")[0][0] == 0
    assert httpx.get(app.base + "/readyz").status_code == 200
    redelivered = app.deliver("pull_request", body, "full-disk")
    assert (redelivered.status_code, redelivered.json()["outcome"]) == (202, "queued")
    assert [j["status"] for j in app.wait_for_drained_queue()] == ["done"]


async def _hold_body(port: int, declared: int, sent: int) -> asyncio.StreamReader:
    """An unsigned POST /webhooks that declares `declared` bytes and sends `sent` of them (as far
    as the server reads), then stops: the reader, for the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: pull_request\r\nContent-Length: {declared}\r\n\r\n"
    )
    writer.write(head.encode())
    chunk = b"x" * (1024 * 1024)
    left = sent
    with contextlib.suppress(TimeoutError):
        while left > 0:
            writer.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
            await asyncio.wait_for(writer.drain(), 2)  # the server stopped reading: hold it
    reader._footgun_writer = writer  # type: ignore[attr-defined]  # kept open until answered
    return reader


async def _answer(reader: asyncio.StreamReader, timeout: float) -> tuple[int, bool]:
    """The status the server answered and whether it then closed the connection."""
    status = int((await asyncio.wait_for(reader.readline(), timeout)).split()[1])
    rest = await asyncio.wait_for(reader.read(), timeout)  # until the server closes it
    return status, rest is not None


def test_bodies_held_short_are_answered_and_closed_while_deliveries_go_through(
    fake_server, footgun
):
    """Strangers send 24 MB bodies one byte short, and a 100-byte body three bytes short, and
    hold them. The server holds a bounded amount of them (the others wait for room), still
    acknowledges a signed delivery at once, and answers every held request 408 and closes it
    when its read deadline passes, instead of keeping the connections and the memory for ever."""
    ref = seed(fake_server, "acme/slow-bodies")
    app = footgun(FOOTGUN_WORKERS="0")
    app.start()
    big = 24 * 1024 * 1024

    async def attack() -> tuple[list[tuple[int, bool]], int]:
        held = [await _hold_body(app.port, big, big - 1) for _ in range(6)]
        held.append(await _hold_body(app.port, 100, 97))
        response = await asyncio.to_thread(
            app.deliver,
            "pull_request",
            pull_request_event(ref, "pull_request.opened", "2026-03-02T10:00:00Z"),
            "while-held",
        )
        answers = await asyncio.gather(*(_answer(reader, 40) for reader in held))
        return list(answers), response.status_code

    answers, delivered = asyncio.run(attack())
    assert delivered == 202
    assert answers == [(408, True)] * 7
    assert app.query("SELECT delivery_id FROM deliveries") == [("while-held",)]
