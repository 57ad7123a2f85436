"""Real sockets on loopback for tests: a free port, the `footgun` console script, and the fake
GitHub served by uvicorn in a thread of the test process (`FakeServer`).

The fake runs with its own event loop; tests reach its state through `FakeServer.call`, which
runs on that loop, so a test never reads the model while a request is changing it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from tests.fakegithub import FakeGitHub

T = TypeVar("T")
FOOTGUN = str(Path(sys.executable).with_name("footgun"))
API_PREFIX = "/api/v3"
"""The fake is served under GitHub Enterprise Server's prefix: the App must honour a base path."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    predicate: Callable[[], T],
    what: str,
    timeout: float = 20.0,
    interval: float = 0.05,
    details: Callable[[], str] | None = None,
) -> T:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}"
                + (f"\n{details()}" if details else "")
            )
        time.sleep(interval)


class FakeServer:
    """The fake GitHub behind uvicorn in a thread; `stop()` and `start()` take it down and back
    up on the same port with its state intact (GitHub unreachable for a while)."""

    def __init__(self, fake: FakeGitHub | None = None, port: int | None = None):
        self.port = port or free_port()
        self.fake = fake or FakeGitHub(f"http://127.0.0.1:{self.port}{API_PREFIX}")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.fake.base_url

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        assert self._thread is None, "the fake GitHub is already running"
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(
            self.fake.asgi(), log_level="warning", lifespan="off", access_log=False
        )
        server = uvicorn.Server(config)
        loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
            finally:
                loop.close()
                sock.close()

        thread = threading.Thread(target=serve, name="fake-github", daemon=True)
        self._loop, self._server, self._thread = loop, server, thread
        thread.start()
        wait_until(lambda: server.started or not thread.is_alive(), "the fake GitHub to listen", 10)
        if not server.started:
            self._thread = None
            raise AssertionError(f"the fake GitHub could not listen on 127.0.0.1:{self.port}")

    def __enter__(self) -> FakeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(10)
        alive = self._thread.is_alive()
        self._loop, self._server, self._thread = None, None, None
        assert not alive, "the fake GitHub did not stop"

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """GitHub unreachable (connections refused) inside the block."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(fake, ...)` on the fake's own loop, between requests (directly when it is down)."""
        if self._loop is None:
            return fn(self.fake, *args, **kwargs)

        async def on_loop() -> T:
            return fn(self.fake, *args, **kwargs)

        try:
            return asyncio.run_coroutine_threadsafe(on_loop(), self._loop).result(10)
        except concurrent.futures.TimeoutError:
            raise AssertionError("the fake GitHub's loop did not answer in 10 s") from None
