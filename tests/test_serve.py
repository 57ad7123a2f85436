"""`footgun serve` and `footgun worker` as real processes on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.loopback import FOOTGUN, free_port
from tests.webhooks import PRIVATE_KEY, SECRET, payload, request

pytestmark = pytest.mark.e2e


def app_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTGUN_")}
    env.update(
        {
            "FOOTGUN_APP_ID": "1",
            "FOOTGUN_PRIVATE_KEY": PRIVATE_KEY,
            "FOOTGUN_WEBHOOK_SECRET": SECRET,
            "FOOTGUN_DATABASE_URL": f"sqlite:///{tmp_path / 'footgun.db'}",
            "FOOTGUN_GITHUB_API_URL": "http://127.0.0.1:9",
        }
    )
    env.update(extra)
    return env


def wait_healthy(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("footgun serve did not become healthy")


def stop(process: subprocess.Popen) -> tuple[int, str]:
    """SIGTERM, as a platform stops a container; a clean stop exits 0 or re-raises the signal (uvicorn)."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return (
        0 if process.returncode == -signal.SIGTERM else process.returncode
    ), process.stderr.read().decode()


def test_serve_migrates_accepts_a_signed_delivery_and_stops_on_sigterm(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [FOOTGUN, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=app_environment(tmp_path),
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    try:
        wait_healthy(base, process)
        headers, body = request("pull_request", payload("pull_request.opened"), delivery="e2e-1")
        accepted = httpx.post(base + "/webhooks", content=body, headers=headers)
        assert accepted.status_code == 202
        assert (
            httpx.post(base + "/webhooks", content=body, headers=headers).json()["outcome"]
            == "duplicate"
        )
        assert httpx.get(base + "/readyz").status_code == 200
        assert (
            'footgun_webhook_deliveries_total{event="pull_request",outcome="queued"} 1.0'
            in httpx.get(base + "/metrics").text
        )
    finally:
        code, stderr = stop(process)
    assert code == 0, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("{")]
    assert any(
        '"delivery": "e2e-1"' in line and '"pr": "Codertocat/Hello-World#2"' in line
        for line in lines
    )
    assert "Application shutdown complete" in stderr
    assert SECRET not in stderr and "testonlynotarealkey" not in stderr


def test_serve_without_credentials_starts_and_refuses_webhooks(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = app_environment(tmp_path)
    for name in ("FOOTGUN_APP_ID", "FOOTGUN_PRIVATE_KEY", "FOOTGUN_WEBHOOK_SECRET"):
        del env[name]
    process = subprocess.Popen(
        [FOOTGUN, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    try:
        wait_healthy(base, process)
        headers, body = request("pull_request", payload("pull_request.opened"))
        assert httpx.post(base + "/webhooks", content=body, headers=headers).status_code == 503
    finally:
        code, stderr = stop(process)
    assert code == 0
    assert "register the App" in stderr


def test_a_bad_setting_stops_serve_with_one_line(tmp_path):
    result = subprocess.run(
        [FOOTGUN, "serve"],
        env=app_environment(tmp_path, FOOTGUN_WORKERS="lots"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == "footgun: FOOTGUN_WORKERS: Input should be a valid integer, unable to parse string as an integer\n"
    )


def test_worker_runs_until_sigterm(tmp_path):
    subprocess.run(
        [FOOTGUN, "db", "upgrade"],
        env=app_environment(tmp_path),
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [FOOTGUN, "worker", "--workers", "2"],
        env=app_environment(tmp_path),
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    watchdog = threading.Timer(20, process.kill)
    watchdog.start()
    try:
        started = next((line for line in process.stderr if b"started 2 workers" in line), b"")
    finally:
        watchdog.cancel()
    assert b'"level": "info"' in started
    code, stderr = stop(process)
    assert code == 0, stderr
