"""The intake under hostile clients and a failing disk, on a real `footgun serve` (issue
"Hardening the App", items 3 and 12)."""

from __future__ import annotations

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
