"""Webhook acknowledgement latency of a real `footgun serve` on loopback with SQLite.

Starts the server in a temporary directory, posts N signed `pull_request.synchronize` deliveries
(each a distinct PR and head SHA, so each stores a delivery, a PR map row and a job) at the given
concurrency, and prints acknowledgements a second, the server's CPU time per delivery (user +
system, from /proc) and p50/p90/p99/max. GitHub gives a webhook 10 s; our goal is p99 < 50 ms.

    .venv/bin/python benchmarks/bench_webhooks.py [--deliveries 500] [--concurrency 50] [--workers 0] [--repeat 5]

`--repeat N` runs N times, each on a fresh server and database, and prints the medians last: the
machine is shared, so one run says little.

`--workers 0` (the default) measures intake alone: with fake credentials a review job could only
fail against GitHub. Pass `--workers 2` to measure with idle workers polling the same database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from githubkit.webhooks import sign

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-webhook-secret"
KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n"


def example_payload() -> dict:
    """The shared GitHub example when it is there, else a payload of the same shape."""
    sys.path.insert(0, str(ROOT))
    from tests.helpers import FIXTURES

    path = FIXTURES / "github-webhooks" / "pull_request.synchronize.payload.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    repo = {"id": 1, "full_name": "octo/mesh", "name": "mesh"}
    return {
        "action": "synchronize",
        "number": 1,
        "installation": {"id": 1},
        "repository": repo,
        "pull_request": {
            "number": 1,
            "state": "open",
            "updated_at": "2026-01-01T00:00:00Z",
            "head": {"sha": "0" * 40, "ref": "feature", "repo": repo},
            "base": {"sha": "1" * 40, "ref": "main", "repo": repo},
            "body": "x" * 4000,
        },
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until_up(port: int, server: subprocess.Popen) -> None:
    for _ in range(200):
        if server.poll() is not None:
            raise SystemExit(f"footgun serve exited with {server.returncode}")
        try:
            async with httpx.AsyncClient() as client:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise SystemExit("footgun serve did not answer /healthz within 10 s")


class Connection:
    """A bare HTTP/1.1 keep-alive connection: the client should cost less than the server it measures."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def post(self, headers: dict[str, str], body: bytes) -> int:
        lines = ["POST /webhooks HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def deliveries(count: int) -> list[tuple[dict[str, str], bytes]]:
    template = example_payload()
    prepared = []
    for n in range(count):
        body = json.loads(json.dumps(template))
        body["number"] = body["pull_request"]["number"] = 1000 + n
        body["pull_request"]["head"]["sha"] = f"{n:040x}"
        raw = json.dumps(body).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": f"bench-{n}",
            "X-Hub-Signature-256": sign(SECRET, raw, "sha256"),
        }
        prepared.append((headers, raw))
    return prepared


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux `/proc`), to report CPU per delivery."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    port: int, server: subprocess.Popen, count: int, concurrency: int
) -> tuple[list[float], dict]:
    pending = list(
        reversed(deliveries(count))
    )  # before connecting: uvicorn drops idle ones after 5 s
    await wait_until_up(port, server)
    connections = [await Connection.open(port) for _ in range(concurrency)]
    for connection, (headers, raw) in zip(
        connections, deliveries(concurrency), strict=True
    ):  # warm-up
        await connection.post(
            {**headers, "X-GitHub-Delivery": "warm-" + headers["X-GitHub-Delivery"]}, raw
        )
    latencies: list[float] = []

    async def run(connection: Connection) -> None:
        while pending:
            headers, raw = pending.pop()
            started = time.perf_counter()
            status = await connection.post(headers, raw)
            latencies.append(time.perf_counter() - started)
            if status != 202:
                raise SystemExit(f"unexpected answer {status}")

    cpu_before, started = cpu_seconds(server.pid), time.perf_counter()
    await asyncio.gather(*(run(c) for c in connections))
    elapsed, cpu = time.perf_counter() - started, cpu_seconds(server.pid) - cpu_before
    for connection in connections:
        connection.close()
    return latencies, {"rate": count / elapsed, "cpu_ms": cpu * 1000 / count}


def run_client(main: Any) -> Any:
    """On uvloop, as the server is: the load generator shares the server's two cores."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs, each on a fresh server; medians printed last"
    )
    args = parser.parse_args()
    runs = [run_once(args) for _ in range(args.repeat)]
    if args.repeat > 1:
        medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print(f"median of {args.repeat} runs:", format_run(medians))
    return 0


def format_run(run: dict) -> str:
    return (
        f"{run['rate']:.0f} acks/s  server CPU {run['cpu_ms']:.2f} ms/delivery  p50 {run['p50']:.1f}  "
        f"p90 {run['p90']:.1f}  p99 {run['p99']:.1f}  max {run['max']:.1f} ms"
    )


def run_once(args: argparse.Namespace) -> dict:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "FOOTGUN_APP_ID": "1",
            "FOOTGUN_PRIVATE_KEY": KEY,
            "FOOTGUN_WEBHOOK_SECRET": SECRET,
            "FOOTGUN_DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}",
            "FOOTGUN_GITHUB_API_URL": "http://127.0.0.1:9",
            "FOOTGUN_LOG_LEVEL": "WARNING",
        }
        footgun = Path(sys.executable).with_name("footgun")
        command = [
            str(footgun),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ]
        server = subprocess.Popen(command, env=env, cwd=tmp)
        try:
            latencies, run = run_client(measure(port, server, args.deliveries, args.concurrency))
        finally:
            server.terminate()
            server.wait(timeout=30)
    ms = [value * 1000 for value in latencies]
    run.update(
        p50=percentile(ms, 0.50), p90=percentile(ms, 0.90), p99=percentile(ms, 0.99), max=max(ms)
    )
    print(
        f"{args.deliveries} deliveries at concurrency {args.concurrency}:",
        format_run(run),
        flush=True,
    )
    return run


if __name__ == "__main__":
    sys.exit(main())
