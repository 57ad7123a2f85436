"""The setup flow end to end: a real `footgun serve` without credentials, the fake GitHub served by
uvicorn on loopback (API under /api/v3, web pages at the root, as on GitHub Enterprise Server),
driven once by plain HTTP and once by a real headless Chromium; then a webhook signed with the new
secret is accepted and reviewed with the new App's key."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fakegithub import FakeGitHub
from tests.fakegithub.world import virtual_service as vs
from tests.loopback import FOOTGUN, FakeServer, free_port
from tests.webhooks import payload, request

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def github():
    with FakeServer() as server:
        yield server.fake


@dataclass
class Served:
    url: str
    process: subprocess.Popen
    log: Path
    credentials: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def footgun(tmp_path, github):
    """`footgun serve` with no App configured, pointed at the fake; its log in a file."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTGUN_")}
    env.update(
        {
            "FOOTGUN_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'footgun.db'}",
            "FOOTGUN_GITHUB_API_URL": github.base_url,
            "FOOTGUN_GITHUB_WEB_URL": github.web_url,
            "FOOTGUN_WORKERS": "1",
            "FOOTGUN_HTTP_TIMEOUT": "10",
        }
    )
    (tmp_path / "data").mkdir()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [FOOTGUN, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stderr=sink,
            stdout=sink,
        )
    served = Served(
        f"http://127.0.0.1:{port}", process, log, tmp_path / "data" / "footgun-credentials.json"
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, served.log_text()
            try:
                if httpx.get(served.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "footgun serve did not become healthy"
            time.sleep(0.05)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def review_after_setup(github: FakeGitHub, footgun: Served) -> None:
    """A pull request webhook signed with the new secret is accepted and reviewed with the new key."""
    app = next(iter(github.manifests.apps.values()))
    installation = github.install("acme", "acme/mesh")
    base = github.commit("acme/mesh", {"mesh/a.yaml": vs("a")})
    head = github.commit("acme/mesh", {"mesh/a.yaml": vs("a", fault=True)}, base)
    pull = github.open_pull("acme/mesh", base, head)
    delivery = payload(
        "pull_request.opened",
        **{
            "installation.id": installation,
            "repository.full_name": "acme/mesh",
            "pull_request.number": pull.number,
            "pull_request.head.sha": head,
            "pull_request.base.sha": base,
            "pull_request.base.repo.full_name": "acme/mesh",
        },
    )
    headers, body = request("pull_request", delivery, secret=app.webhook_secret)
    accepted = httpx.post(footgun.url + "/webhooks", content=body, headers=headers, timeout=10)
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 30
    while not [r for r in github.runs_for("acme/mesh", head) if r.get("conclusion")]:
        assert time.monotonic() < deadline, footgun.log_text()
        time.sleep(0.1)
    [check] = github.runs_for("acme/mesh", head)
    assert (check["name"], check["conclusion"]) == ("Istio footguns", "failure")
    tokens = github.requests("POST", r"^/app/installations/\d+/access_tokens$")
    assert tokens and all(r.status == 201 for r in tokens)


def assert_no_secret_logged(github: FakeGitHub, footgun: Served) -> None:
    app = next(iter(github.manifests.apps.values()))
    text = footgun.log_text()
    for secret in (app.webhook_secret, app.client_secret, app.private_key.splitlines()[1]):
        assert secret not in text


def test_setup_over_http_then_a_webhook_is_reviewed(github, footgun):
    assert f"open {footgun.url}/setup to register it" in footgun.log_text()
    client = httpx.Client(timeout=10)
    page = client.get(footgun.url + "/setup")
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text)[1])
    manifest = html.unescape(re.search(r'name="manifest" value="([^"]+)"', page.text)[1])
    assert action.startswith(github.web_url + "/settings/apps/new?state=")
    assert json.loads(manifest)["hook_attributes"]["url"] == footgun.url + "/webhooks"
    done = client.post(action, data={"manifest": manifest}, follow_redirects=True)
    assert done.status_code == 200 and "GitHub App registered" in done.text
    assert oct(footgun.credentials.stat().st_mode & 0o777) == "0o600"
    review_after_setup(github, footgun)
    assert "already has a GitHub App" in client.get(footgun.url + "/setup").text
    assert_no_secret_logged(github, footgun)


def test_setup_in_a_real_headless_browser(github, footgun, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"Chromium is not installed at {CHROMIUM} (Debian package chromium; .ci/run installs it)"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    shots = Path(os.environ.get("FOOTGUN_SCREENSHOT_DIR") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    profile = tmp_path / "chromium-profile"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1000, "height": 900},
        )
        try:
            page = browser.new_page()
            page.goto(footgun.url + "/setup")
            assert page.title().startswith("Register the GitHub App")
            assert page.locator("#register").is_visible()
            page.screenshot(path=str(shots / "setup.png"), full_page=True)
            page.click("#register")
            page.wait_for_url(re.compile(r".*/setup/complete\?code=.*"), timeout=15_000)
            assert page.locator("h1").inner_text() == "GitHub App registered"
            install = page.locator("#install").get_attribute("href")
            page.screenshot(path=str(shots / "complete.png"), full_page=True)
            page.goto(footgun.url + "/setup")
            assert page.locator("h1").inner_text() == "The GitHub App is configured"
            assert page.locator("#register").count() == 0
        finally:
            browser.close()
    app = next(iter(github.manifests.apps.values()))
    assert install == f"{github.web_url}/apps/{app.slug}/installations/new"
    assert (shots / "setup.png").stat().st_size > 10_000
    review_after_setup(github, footgun)
    assert_no_secret_logged(github, footgun)
    shutil.rmtree(profile, ignore_errors=True)
