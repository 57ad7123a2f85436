"""Fixtures of the end-to-end tests: one fake GitHub per module, `footgun` processes per test."""

from __future__ import annotations

import pytest

from tests.e2e.harness import Footgun
from tests.loopback import FakeServer
from tests.webhooks import WEBHOOKS


@pytest.fixture(autouse=True)
def webhook_examples():
    """The deliveries are built from the shared GitHub webhook examples: skip before starting
    anything when they are absent."""
    if not WEBHOOKS.is_dir():
        pytest.skip("the GitHub webhook examples are absent")


@pytest.fixture(scope="module")
def fake_server():
    """The fake GitHub on loopback, shared by a module's tests (each seeds its own repository)."""
    server = FakeServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def footgun(fake_server, tmp_path):
    """`footgun(**env)`: a `Footgun` on a fresh database; every process it started is ended after the test."""
    made: list[Footgun] = []

    def make(**env: str) -> Footgun:
        app = Footgun(tmp_path / f"app{len(made)}", fake_server, **env)
        app.workdir.mkdir()
        made.append(app)
        return app

    try:
        yield make
    finally:
        for app in made:
            app.close()
