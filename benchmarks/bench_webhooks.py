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

`--slow-bodies N` measures the same under attack: before the deliveries, N unsigned requests
declare a 24 MB body and send all of it but the last byte, and one declares 100 bytes and sends
97; they hold. Printed besides: the server's peak resident memory (VmHWM) and its memory at the
end, and how long the server took to answer and close each held request (capped at 70 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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


def private_key() -> str:
    """A real RSA key (the settings load it at start); the test suite's, generated once."""
    sys.path.insert(0, str(ROOT))
    from tests.fakegithub.state import key_pair

    return key_pair()[0]


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


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory now and at its peak (VmRSS, VmHWM from /proc), in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {
        key: int(fields[name].split()[0]) / 1024
        for key, name in (("rss", "VmRSS"), ("hwm", "VmHWM"))
    }


HELD_CAP_SECONDS = 70.0


async def hold_body(port: int, declared: int, sent: int) -> float:
    """An unsigned request that declares `declared` bytes, sends `sent` and holds; seconds from
    its start until the server has answered and closed it (HELD_CAP_SECONDS if it never did)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            "POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-GitHub-Event: pull_request\r\n"
            f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
        ).encode()
    )
    chunk, left = b"x" * (1 << 20), sent
    try:
        while left > 0:
            writer.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
            await asyncio.wait_for(writer.drain(), 2)
    except (TimeoutError, ConnectionError):
        pass  # the server stopped reading (or refused): hold what was sent
    remaining = HELD_CAP_SECONDS - (time.perf_counter() - started)
    with contextlib.suppress(TimeoutError, ConnectionError):  # until the server closes it
        await asyncio.wait_for(reader.read(), max(remaining, 0.1))
    writer.close()
    return min(time.perf_counter() - started, HELD_CAP_SECONDS)


async def measure(
    port: int, server: subprocess.Popen, count: int, concurrency: int, slow_bodies: int = 0
) -> tuple[list[float], dict]:
    pending = list(
        reversed(deliveries(count))
    )  # before connecting: uvicorn drops idle ones after 5 s
    await wait_until_up(port, server)
    attack: list[asyncio.Task[float]] = []
    if slow_bodies:
        big = 24 * 1024 * 1024
        attack = [asyncio.create_task(hold_body(port, big, big - 1)) for _ in range(slow_bodies)]
        attack.append(asyncio.create_task(hold_body(port, 100, 97)))
        await asyncio.sleep(3)  # let them send what the server will read
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
    figures = {"rate": count / elapsed, "cpu_ms": cpu * 1000 / count}
    if attack:
        held = await asyncio.gather(*attack)
        memory = memory_mb(server.pid)
        figures.update(
            rss_peak=memory["hwm"],
            rss_end=memory["rss"],
            held_big_max=max(held[:-1]),
            held_small=held[-1],
        )
    return latencies, figures


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
    parser.add_argument(
        "--slow-bodies",
        type=int,
        default=0,
        help="unsigned 24 MB bodies held one byte short during the run (and one 100-byte body)",
    )
    args = parser.parse_args()
    runs = [run_once(args) for _ in range(args.repeat)]
    if args.repeat > 1:
        medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print(f"median of {args.repeat} runs:", format_run(medians))
    return 0


def format_run(run: dict) -> str:
    text = (
        f"{run['rate']:.0f} acks/s  server CPU {run['cpu_ms']:.2f} ms/delivery  p50 {run['p50']:.1f}  "
        f"p90 {run['p90']:.1f}  p99 {run['p99']:.1f}  max {run['max']:.1f} ms"
    )
    if "rss_peak" in run:
        text += (
            f"  | RSS peak {run['rss_peak']:.0f} MB, end {run['rss_end']:.0f} MB;"
            f" held 24 MB bodies closed after {run['held_big_max']:.1f} s (max),"
            f" the 100-byte one after {run['held_small']:.1f} s"
        )
    return text


def run_once(args: argparse.Namespace) -> dict:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "FOOTGUN_APP_ID": "1",
            "FOOTGUN_PRIVATE_KEY": private_key(),
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
            latencies, run = run_client(
                measure(port, server, args.deliveries, args.concurrency, args.slow_bodies)
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    ms = [value * 1000 for value in latencies]
    run.update(
        p50=percentile(ms, 0.50), p90=percentile(ms, 0.90), p99=percentile(ms, 0.99), max=max(ms)
    )
    attack = f", {args.slow_bodies} slow bodies held" if args.slow_bodies else ""
    print(
        f"{args.deliveries} deliveries at concurrency {args.concurrency}{attack}:",
        format_run(run),
        flush=True,
    )
    return run


if __name__ == "__main__":
    sys.exit(main())
