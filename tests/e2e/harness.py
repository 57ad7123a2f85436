"""Real processes on loopback: `footgun serve` as a subprocess, beside the fake GitHub that
`tests.loopback.FakeServer` serves in a thread of the test process.

`footgun serve` is a child process on a temporary SQLite database that a
test can SIGKILL and start again; its log goes to a file (a pipe nobody reads would fill up and
stall the server). Every loop here is bounded, every port is picked free on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.loopback import FOOTGUN, FakeServer, free_port, wait_until
from tests.webhooks import SECRET

STARTUP_SECONDS = 20.0


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook that SIGKILLs the child when the test process dies (Linux), so no server
    outlives a crashed test run. prctl is looked up here, in the parent: the hook runs after fork
    while other threads (the fake's) may hold locks, so it does nothing but the one call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    PR_SET_PDEATHSIG = 1
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


_DIE_WITH_PARENT = _parent_death_signal()


class Footgun:
    """`footgun serve` (or any `footgun` command) against one database and one fake GitHub."""

    def __init__(self, workdir: Path, fake: FakeServer, **env: str):
        self.workdir = workdir
        self.database = workdir / "footgun.db"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTGUN_")}
        self.env.update(
            {
                "FOOTGUN_APP_ID": str(fake.fake.app_id),
                "FOOTGUN_PRIVATE_KEY": fake.fake.private_key,
                "FOOTGUN_WEBHOOK_SECRET": SECRET,
                "FOOTGUN_DATABASE_URL": f"sqlite:///{self.database}",
                "FOOTGUN_GITHUB_API_URL": fake.url,
                "FOOTGUN_WORKERS": "2",
                "FOOTGUN_HTTP_TIMEOUT": "10",
                **env,
            }
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._children: list[subprocess.Popen[bytes]] = []

    # -- the server -------------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.workdir / f"serve-{self.starts}.log"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, (
            "footgun serve is already running"
        )
        self.starts += 1
        with open(self.log_path, "wb") as log:
            self.process = self._spawn(
                ["serve", "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        def healthy() -> bool:
            assert self.process.poll() is None, (
                f"footgun serve exited with {self.process.returncode}:\n{self.logs()}"
            )
            try:
                return httpx.get(self.base + "/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, "footgun serve to answer /healthz", STARTUP_SECONDS, details=self.logs)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is handed back."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def kill_between_jobs(self, attempts: int = 200) -> None:
        """SIGKILL at a moment when no job is claimed: queued jobs then resume at the restart.

        The server is frozen (SIGSTOP) and the jobs table read; with a job `running`, it is let go
        briefly and tried again. (A job claimed at the kill would wait out its 60 s lease first.)
        An uncommitted claim of the frozen process is rolled back by the kill, as the read shows.
        """
        pid = self.process.pid
        for _ in range(attempts):
            os.kill(pid, signal.SIGSTOP)
            try:
                running = self.query("SELECT count(*) FROM jobs WHERE status = 'running'")[0][0]
            except BaseException:
                os.kill(pid, signal.SIGCONT)
                raise
            if not running:
                self.kill()
                return
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.01)
        raise AssertionError(f"a job was running at each of {attempts} tries to kill the server")

    def kill_during_a_job(self, attempts: int = 2000) -> int:
        """SIGKILL at a moment when a job is claimed (committed as running); its id.

        The server is frozen (SIGSTOP) and the jobs table read; with no job running, it is let go
        briefly and tried again.
        """
        pid = self.process.pid
        for _ in range(attempts):
            os.kill(pid, signal.SIGSTOP)
            try:
                running = self.query("SELECT id FROM jobs WHERE status = 'running'")
            except BaseException:
                os.kill(pid, signal.SIGCONT)
                raise
            if running:
                self.kill()
                return running[0][0]
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.002)
        raise AssertionError(f"no job was running at any of {attempts} tries to kill the server")

    def stop(self) -> None:
        """SIGTERM (a clean stop); SIGKILL if it does not stop in time."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def close(self) -> None:
        """Stop everything this object started (the fixture calls it, also after a failure)."""
        for child in self._children:
            if child.poll() is None:
                child.kill()
                child.wait(10)
        self.stop()

    def logs(self) -> str:
        return "".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-6000:]}"
            for path in sorted(self.workdir.glob("serve-*.log"))
        )

    # -- other commands ---------------------------------------------------------------------------

    def command(self, *args: str) -> subprocess.Popen[bytes]:
        """`footgun ARGS...` with the same environment, started (stdout and stderr piped)."""
        return self._spawn(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    @staticmethod
    def finish(process: subprocess.Popen[bytes], timeout: float = 30.0) -> tuple[int, str, str]:
        """Wait for a `command` (killed past `timeout`): exit code, stdout, stderr."""
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            raise AssertionError(
                f"{process.args} did not finish in {timeout:.0f}s:\n{err.decode()}"
            ) from None
        return process.returncode, out.decode(), err.decode()

    def _spawn(self, args: list[str], stdout: Any, stderr: Any) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [FOOTGUN, *args],
            env=self.env,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=_DIE_WITH_PARENT,
        )
        self._children.append(process)
        return process

    # -- webhooks and the database ---------------------------------------------------------------

    def deliver(self, event: str, body: dict[str, Any], delivery: str) -> httpx.Response:
        from tests.webhooks import request

        headers, raw = request(event, body, delivery=delivery)
        return httpx.post(self.base + "/webhooks", content=raw, headers=headers, timeout=10)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the App's database as an operator would (the server may be running)."""
        connection = sqlite3.connect(self.database, timeout=10)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def jobs(self) -> list[dict[str, Any]]:
        import json

        rows = self.query(
            "SELECT id, kind, status, attempts, dedupe_key, delivery_id, last_error, payload "
            "FROM jobs ORDER BY id"
        )
        keys = (
            "id",
            "kind",
            "status",
            "attempts",
            "dedupe_key",
            "delivery_id",
            "last_error",
            "payload",
        )
        return [
            {**dict(zip(keys, row, strict=False)), "payload": json.loads(row[-1])} for row in rows
        ]

    def wait_for_drained_queue(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every job finished (done, skipped or failed); the jobs."""

        def drained() -> list[dict[str, Any]] | None:
            assert self.process.poll() is None, f"footgun serve died:\n{self.logs()}"
            jobs = self.jobs()
            return (
                jobs
                if jobs and all(j["status"] in ("done", "skipped", "failed") for j in jobs)
                else None
            )

        return wait_until(
            drained,
            "the job queue to drain",
            timeout,
            details=lambda: f"{self.jobs()}\n{self.logs()}",
        )
