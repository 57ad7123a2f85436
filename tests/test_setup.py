"""/setup: the manifest flow against the fake GitHub, in process (the app over ASGI, GitHub via respx)."""

from __future__ import annotations

import html
import json
import logging
import re
import stat

import httpx
import pytest
import yaml

from tests.fakegithub import FakeGitHub
from tests.webhooks import deliver, payload

pytestmark = pytest.mark.anyio
API = "https://ghe.example.com/api/v3"
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture
def fake(respx_mock):
    fake = FakeGitHub(API)
    fake.mock(respx_mock)
    return fake


@pytest.fixture
def unconfigured(make_settings, tmp_path):
    def make(**overrides):
        values = {
            "app_id": None,
            "private_key": None,
            "webhook_secret": None,
            "github_api_url": API,
            "credentials_file": tmp_path / "state" / "credentials.json",
            "public_url": "http://footgun.test",
        }
        return make_settings(**(values | overrides))

    return make


def form_of(page: str) -> tuple[str, dict]:
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page)[1])
    manifest = json.loads(html.unescape(re.search(r'name="manifest" value="([^"]+)"', page)[1]))
    return action, manifest


async def on_github(fake: FakeGitHub, action: str, manifest: dict) -> httpx.Response:
    """What the browser does with the form: post it to GitHub, which redirects back (auto-approved)."""
    return fake.handle(httpx.Request("POST", action, data={"manifest": json.dumps(manifest)}))


async def test_setup_page_posts_app_yml_with_this_servers_urls(fake, unconfigured, serve):
    async with serve(unconfigured()) as (_app, client):
        answer = await client.get("/setup")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    action, manifest = form_of(answer.text)
    state = answer.cookies["footgun_setup_state"]
    assert action == f"https://ghe.example.com/settings/apps/new?state={state}"
    assert len(state) >= 40
    declared = yaml.safe_load((ROOT / "app.yml").read_text())
    assert manifest["hook_attributes"] == {"url": "http://footgun.test/webhooks", "active": True}
    assert manifest["redirect_url"] == "http://footgun.test/setup/complete"
    assert manifest["setup_url"] == "http://footgun.test/setup/installed"
    assert manifest["default_permissions"] == declared["default_permissions"]
    assert manifest["default_events"] == declared["default_events"]


async def test_public_url_and_organization(fake, unconfigured, serve):
    async with serve(unconfigured(public_url="https://footgun.acme.io/")) as (_app, client):
        answer = await client.get("/setup", params={"org": "acme-platform"})
        refused = await client.get("/setup", params={"org": "acme/../evil"})
    action, manifest = form_of(answer.text)
    assert action.startswith(
        "https://ghe.example.com/organizations/acme-platform/settings/apps/new?state="
    )
    assert manifest["hook_attributes"]["url"] == "https://footgun.acme.io/webhooks"
    assert manifest["redirect_url"] == "https://footgun.acme.io/setup/complete"
    assert refused.status_code == 400 and '<form method="post"' not in refused.text


async def test_the_whole_flow_stores_the_app_and_accepts_its_webhooks_at_once(
    fake, unconfigured, serve, caplog
):
    caplog.set_level(logging.DEBUG)
    settings = unconfigured()
    async with serve(settings) as (_app, client):
        before = await deliver(client, "pull_request", payload("pull_request.opened"))
        action, manifest = form_of((await client.get("/setup")).text)
        redirect = await on_github(fake, action, manifest)
        assert redirect.status_code == 302
        done = await client.get(redirect.headers["location"])
        assert done.status_code == 200, done.text
        created = next(iter(fake.manifests.apps.values()))
        assert f'href="https://ghe.example.com/apps/{created.slug}/installations/new"' in done.text
        accepted = await deliver(
            client, "pull_request", payload("pull_request.opened"), secret=created.webhook_secret
        )
        forged = await deliver(client, "pull_request", payload("pull_request.opened"))
        again = await client.get("/setup")
    assert before.status_code == 503
    assert accepted.status_code == 202 and accepted.json()["outcome"] == "queued"
    assert forged.status_code == 401
    assert "already has a GitHub App" in again.text and '<form method="post"' not in again.text
    assert f"App ID <code>{created.id}</code>" in again.text
    path = settings.credentials_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert (stored["app_id"], stored["private_key"], stored["webhook_secret"]) == (
        created.id,
        created.private_key,
        created.webhook_secret,
    )
    for secret in (
        created.private_key.splitlines()[1],
        created.webhook_secret,
        created.client_secret,
    ):
        assert secret not in caplog.text and secret not in done.text
    assert fake.requests("POST", r"^/app-manifests/.+/conversions$")[0].status == 201


async def test_strangers_visits_do_not_push_out_the_operators_pending_setup(
    fake, unconfigured, serve
):
    """Before the App is configured anyone may open /setup: 500 anonymous visits (each handed a
    state of its own) between the operator's visit and GitHub's redirect back must not cost the
    operator the flow, and no visitor's state completes another's."""
    async with serve(unconfigured()) as (app, client):
        action, manifest = form_of((await client.get("/setup")).text)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://footgun.test") as other:
            for _ in range(500):
                other.cookies.clear()
                assert (await other.get("/setup")).status_code == 200
            strangers = other.cookies["footgun_setup_state"]
            location = (await on_github(fake, action, manifest)).headers["location"]
            stolen = await other.get(location)  # the stranger's cookie, the operator's state
            assert stolen.status_code == 400
            assert not fake.manifests.apps and not app.state.runtime.settings.has_app_credentials
        done = await client.get(location)
    assert done.status_code == 200, done.text
    assert "GitHub App registered" in done.text
    assert strangers != re.search(r"state=([^&]+)", location)[1]


@pytest.mark.parametrize("host", ["evil.example", "footgun.test"])
async def test_without_a_public_url_setup_refuses_hosts_a_client_chose(
    fake, unconfigured, serve, host
):
    """The Host header is the client's: from outside loopback it must not decide where the
    App's webhooks point. Without FOOTGUN_PUBLIC_URL the page says to set it, and offers no
    form; on loopback (a browser on the server's own machine) it still works."""
    async with serve(unconfigured(public_url=None)) as (app, client):
        refused = await client.get("/setup", headers={"host": host})
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1:8000"
        ) as local:
            loopback = await local.get("/setup")
            spoofed = await local.get("/setup", headers={"host": host})
    for answer in (refused, spoofed):
        assert answer.status_code == 503
        assert "FOOTGUN_PUBLIC_URL" in answer.text and host not in answer.text
        assert '<form method="post"' not in answer.text
    _action, manifest = form_of(loopback.text)
    assert manifest["hook_attributes"]["url"] == "http://127.0.0.1:8000/webhooks"


async def test_settings_load_the_stored_app_at_the_next_start(fake, unconfigured, serve):
    settings = unconfigured()
    async with serve(settings) as (_app, client):
        action, manifest = form_of((await client.get("/setup")).text)
        await client.get((await on_github(fake, action, manifest)).headers["location"])
    created = next(iter(fake.manifests.apps.values()))
    restarted = unconfigured()
    assert restarted.has_app_credentials
    assert restarted.app_id == created.id
    assert restarted.webhook_secret.get_secret_value() == created.webhook_secret
    assert restarted.app_html_url == f"https://ghe.example.com/apps/{created.slug}"
    assert created.webhook_secret not in repr(restarted)


@pytest.mark.parametrize("tamper", ["no cookie", "other state", "replayed", "expired"])
async def test_completion_needs_the_browsers_own_fresh_unused_state(
    fake, unconfigured, serve, tamper, tmp_path
):
    async with serve(unconfigured()) as (app, client):
        action, manifest = form_of((await client.get("/setup")).text)
        location = (await on_github(fake, action, manifest)).headers["location"]
        if tamper == "no cookie":
            client.cookies.clear()
        elif tamper == "other state":
            location = re.sub(r"state=[^&]+", "state=" + "x" * 43, location)
        elif tamper == "replayed":
            assert (await client.get(location)).status_code == 200
            # as if the App were gone again: only the state is judged now
            app.state.runtime.settings = unconfigured(credentials_file=tmp_path / "other.json")
            client.cookies.set(
                "footgun_setup_state", re.search(r"state=([^&]+)", location)[1], path="/setup"
            )
        elif tamper == "expired":
            app.state.setup_states.clock = lambda: 1e12
        answer = await client.get(location)
    assert answer.status_code == 400
    assert "not valid" in answer.text
    if tamper != "replayed":
        assert fake.manifests.apps == {}


async def test_an_unknown_or_old_code_is_one_clear_line(fake, unconfigured, serve):
    async with serve(unconfigured()) as (app, client):
        action, manifest = form_of((await client.get("/setup")).text)
        location = (await on_github(fake, action, manifest)).headers["location"]
        fake.now = lambda: 1e12  # more than an hour later
        answer = await client.get(location)
    assert answer.status_code == 502
    assert "used already or is over an hour old" in answer.text
    assert not app.state.runtime.settings.has_app_credentials


async def test_an_unwritable_credentials_file_says_what_to_do(fake, unconfigured, serve, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    async with serve(unconfigured(credentials_file=blocker / "credentials.json")) as (app, client):
        action, manifest = form_of((await client.get("/setup")).text)
        answer = await client.get((await on_github(fake, action, manifest)).headers["location"])
    created = next(iter(fake.manifests.apps.values()))
    assert answer.status_code == 500
    assert "Set FOOTGUN_CREDENTIALS_FILE to a writable path" in answer.text
    assert created.webhook_secret not in answer.text and "PRIVATE KEY" not in answer.text
    assert not app.state.runtime.settings.has_app_credentials


async def test_configured_or_disabled_servers_offer_no_registration(
    make_settings, unconfigured, serve
):
    async with serve(make_settings()) as (_app, client):
        configured = await client.get("/setup")
        completion = await client.get("/setup/complete", params={"code": "abc", "state": "x"})
    async with serve(unconfigured(setup_enabled=False)) as (_app, client):
        disabled = await client.get("/setup")
    assert configured.status_code == 200 and "already has a GitHub App" in configured.text
    assert '<form method="post"' not in configured.text
    assert completion.status_code == 400
    assert disabled.status_code == 404


def test_credentials_file_defaults_beside_the_sqlite_database(tmp_path, monkeypatch):
    from bot.settings import SettingsError, load_settings

    for name in (
        "FOOTGUN_APP_ID",
        "FOOTGUN_PRIVATE_KEY",
        "FOOTGUN_WEBHOOK_SECRET",
        "FOOTGUN_CREDENTIALS_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    sqlite = load_settings(database_url=f"sqlite:///{tmp_path}/data/footgun.db")
    assert sqlite.credentials_file == tmp_path / "data" / "footgun-credentials.json"
    postgres = load_settings(database_url="postgresql://u@db/footgun")
    assert str(postgres.credentials_file) == "footgun-credentials.json"
    broken = tmp_path / "data" / "footgun-credentials.json"
    broken.parent.mkdir()
    broken.write_text('{"app_id": 1, "private_key": "not a key", "webhook_secret": "s3cr3t-value"}')
    with pytest.raises(SettingsError) as error:
        load_settings(database_url=f"sqlite:///{tmp_path}/data/footgun.db")
    assert str(error.value).startswith("FOOTGUN_CREDENTIALS_FILE: ")
    assert "s3cr3t-value" not in str(error.value)


@pytest.mark.parametrize(
    "api, web",
    [
        ("https://api.github.com", "https://github.com"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ("https://api.acme.ghe.com", "https://acme.ghe.com"),
    ],
)
def test_github_web_url_follows_the_api_url(api, web):
    from bot.settings import load_settings

    assert load_settings(github_api_url=api, github_web_url=None).github_web_url == web


def test_the_fakes_codes_are_single_use_and_expire_after_an_hour():
    clock = [1000.0]
    fake = FakeGitHub("http://127.0.0.1:9/api/v3", now=lambda: clock[0])
    manifest = {
        "name": "My Footguns",
        "url": "https://x",
        "redirect_url": "https://bot/setup/complete",
        "hook_attributes": {"url": "https://bot/webhooks"},
    }

    def code():
        answer = fake.handle(
            httpx.Request(
                "POST",
                "http://127.0.0.1:9/settings/apps/new?state=s1",
                data={"manifest": json.dumps(manifest)},
            )
        )
        assert answer.headers["location"].startswith("https://bot/setup/complete?code=")
        assert answer.headers["location"].endswith("&state=s1")
        return re.search(r"code=(\w+)", answer.headers["location"])[1]

    def convert(value):
        return fake.handle(
            httpx.Request("POST", f"http://127.0.0.1:9/api/v3/app-manifests/{value}/conversions")
        )

    first = code()
    created = convert(first)
    assert created.status_code == 201 and created.json()["slug"] == "my-footguns"
    assert convert(first).status_code == 404
    late = code()
    clock[0] += 3601
    assert convert(late).status_code == 404
    bad = fake.handle(
        httpx.Request(
            "POST",
            "http://127.0.0.1:9/settings/apps/new",
            data={"manifest": json.dumps({"name": "x"})},
        )
    )
    assert bad.status_code == 422


def test_a_created_apps_key_signs_jwts_the_fake_accepts():
    import time

    import jwt

    fake = FakeGitHub()
    manifest = {
        "name": "Footguns",
        "url": "https://x",
        "redirect_url": "https://bot/done",
        "hook_attributes": {"url": "https://bot/webhooks"},
    }
    location = fake.handle(
        httpx.Request(
            "POST", "https://github.com/settings/apps/new", data={"manifest": json.dumps(manifest)}
        )
    ).headers["location"]
    app = fake.handle(
        httpx.Request(
            "POST", f"https://api.github.com/app-manifests/{location.split('code=')[1]}/conversions"
        )
    ).json()
    now = int(time.time())

    def get_app(key, issuer):
        token = jwt.encode(
            {"iss": str(issuer), "iat": now - 30, "exp": now + 500}, key, algorithm="RS256"
        )
        return fake.handle(
            httpx.Request(
                "GET", "https://api.github.com/app", headers={"authorization": f"Bearer {token}"}
            )
        )

    assert get_app(app["pem"], app["id"]).json()["slug"] == "footguns"
    assert get_app(fake.private_key, app["id"]).status_code == 401
    assert get_app(fake.private_key, fake.app_id).status_code == 200


def test_the_fakes_conversion_answer_matches_githubs_description():
    import jsonschema

    from tests.openapi import deref, load

    doc = load()
    operation = doc["paths"]["/app-manifests/{code}/conversions"]["post"]
    schema = deref(doc, operation["responses"]["201"]["content"]["application/json"]["schema"])
    fake = FakeGitHub()
    manifest = yaml.safe_load((ROOT / "app.yml").read_text())
    location = fake.handle(
        httpx.Request(
            "POST", "https://github.com/settings/apps/new", data={"manifest": json.dumps(manifest)}
        )
    ).headers["location"]
    answer = fake.handle(
        httpx.Request(
            "POST", f"https://api.github.com/app-manifests/{location.split('code=')[1]}/conversions"
        )
    )
    assert answer.status_code == 201
    body = answer.json()
    for part in schema["allOf"]:
        assert set(part["required"]) <= set(body)
        jsonschema.validate(
            body,
            {**part, "properties": {k: v for k, v in part["properties"].items() if k != "owner"}},
        )
    declared = set().union(*(part["properties"] for part in schema["allOf"]))
    assert set(body) <= declared


def test_the_environment_wins_over_the_stored_app(tmp_path, monkeypatch):
    from bot.settings import load_settings
    from tests.webhooks import PRIVATE_KEY

    for name in ("FOOTGUN_APP_ID", "FOOTGUN_PRIVATE_KEY", "FOOTGUN_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    stored = tmp_path / "credentials.json"
    stored.write_text(
        json.dumps({"app_id": 7, "private_key": PRIVATE_KEY, "webhook_secret": "from-file"})
    )
    assert load_settings(credentials_file=stored).app_id == 7
    partial = load_settings(credentials_file=stored, app_id=99)
    assert (partial.app_id, partial.webhook_secret) == (99, None)
    assert partial.missing_credentials == ["FOOTGUN_PRIVATE_KEY", "FOOTGUN_WEBHOOK_SECRET"]


@pytest.mark.parametrize(
    "host, public, expected",
    [
        ("0.0.0.0", None, "http://localhost:8080/setup"),
        ("127.0.0.1", None, "http://127.0.0.1:8080/setup"),
        ("::1", None, "http://[::1]:8080/setup"),
        ("0.0.0.0", "https://footgun.acme.io", "https://footgun.acme.io/setup"),
    ],
)
def test_serve_logs_where_to_open_setup(host, public, expected):
    from bot.cli.main import setup_url
    from bot.settings import load_settings

    assert setup_url(load_settings(public_url=public), host, 8080) == expected
