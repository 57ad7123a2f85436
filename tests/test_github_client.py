"""The GitHub client against the fake: auth, pagination, error mapping, call counting."""

import asyncio

import pytest

from bot import metrics
from bot.github.client import GitHubApp, GitHubError, InvalidAppKey
from bot.queue.jobs import RetryableError
from tests.fakegithub import FakeGitHub, key_pair


@pytest.fixture
def fake(respx_mock):
    fake = FakeGitHub()
    fake.install("acme", "acme/mesh")
    fake.mock(respx_mock)
    return fake


def app(fake, **kwargs):
    return GitHubApp(
        fake.app_id, fake.private_key, fake.base_url, timeout=5, retry_delay=0, **kwargs
    )


def installation(fake):
    [installation_id] = fake.installations
    return app(fake).installation(installation_id)


def seed_pull(fake, files=5):
    base = fake.commit("acme/mesh", {"README.md": "hi\n"})
    head = fake.commit("acme/mesh", {f"f{i}.yaml": f"a: {i}\n" for i in range(files)}, base)
    return fake.open_pull("acme/mesh", base, head)


def test_one_token_is_exchanged_and_reused(fake):
    pull = seed_pull(fake)
    client = installation(fake)

    async def twice():
        await client.get(f"repos/acme/mesh/pulls/{pull.number}")
        await client.get(f"repos/acme/mesh/pulls/{pull.number}")
        await client.client.aclose()

    asyncio.run(twice())
    assert [r.path for r in fake.log] == [
        "/app/installations/%d/access_tokens" % next(iter(fake.installations)),
        "/repos/acme/mesh/pulls/1",
        "/repos/acme/mesh/pulls/1",
    ]
    assert all(r.status in (200, 201) for r in fake.log)


def test_installation_clients_are_cached_per_installation(fake):
    github = app(fake)
    [installation_id] = fake.installations
    assert github.installation(installation_id) is github.installation(installation_id)


def test_pagination_follows_link_headers_100_per_page(fake):
    pull = seed_pull(fake, files=250)
    client = installation(fake)
    files = asyncio.run(client.paginate(f"repos/acme/mesh/pulls/{pull.number}/files"))
    assert len(files) == 250
    pages = fake.requests("GET", "/files$")
    assert [r.query.get("page") for r in pages] == [None, "2", "3"]
    assert all(r.query["per_page"] == "100" for r in pages)


def test_a_jwt_signed_with_another_key_is_rejected(fake):
    other_private, _ = key_pair("intruder")
    github = GitHubApp(fake.app_id, other_private, fake.base_url, timeout=5)
    [installation_id] = fake.installations
    with pytest.raises(GitHubError) as info:
        asyncio.run(github.installation(installation_id).get("repos/acme/mesh/pulls/1"))
    assert info.value.status == 401
    assert fake.log[0].status == 401


def test_an_expired_token_is_refused_by_the_fake_and_replaced(fake):
    pull = seed_pull(fake)
    client = installation(fake)
    asyncio.run(client.get(f"repos/acme/mesh/pulls/{pull.number}"))
    for token in fake.tokens.values():
        token.expires_at = 0
    asyncio.run(client.get(f"repos/acme/mesh/pulls/{pull.number}"))
    assert [r.status for r in fake.requests("GET", "pulls/1$")] == [200, 401, 200]
    assert len(fake.requests("POST", "access_tokens$")) == 2


def test_server_errors_are_retried_in_place_then_succeed(fake):
    pull = seed_pull(fake)
    fake.fail("GET", "/repos/acme/mesh/pulls/1", 502, times=2)
    data = asyncio.run(installation(fake).get(f"repos/acme/mesh/pulls/{pull.number}"))
    assert data["number"] == 1
    assert [r.status for r in fake.requests("GET", "pulls/1$")] == [502, 502, 200]


def test_persistent_server_errors_become_retryable(fake):
    seed_pull(fake)
    fake.fail("GET", "/repos/acme/mesh/pulls/1", 503, times=10)
    with pytest.raises(RetryableError) as info:
        asyncio.run(installation(fake).get("repos/acme/mesh/pulls/1"))
    assert "503" in str(info.value) and info.value.retry_after is None
    assert len(fake.requests("GET", "pulls/1$")) == 3


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_is_retryable_after_the_wait_github_asked(fake, status):
    seed_pull(fake)
    fake.secondary_rate_limit("GET", "/repos/acme/mesh/pulls/1", retry_after=42, status=status)
    with pytest.raises(RetryableError) as info:
        asyncio.run(installation(fake).get("repos/acme/mesh/pulls/1"))
    assert info.value.retry_after == 42
    assert len(fake.requests("GET", "pulls/1$")) == 1


def test_primary_rate_limit_waits_until_the_reset(fake, monkeypatch):
    import time

    seed_pull(fake)
    reset = int(time.time()) + 120
    fake.fail(
        "GET",
        "/repos/acme/mesh/pulls/1",
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        message="API rate limit exceeded for installation ID 1.",
    )
    with pytest.raises(RetryableError) as info:
        asyncio.run(installation(fake).get("repos/acme/mesh/pulls/1"))
    assert 100 < info.value.retry_after <= 120


def test_not_found_is_not_retryable(fake):
    with pytest.raises(GitHubError) as info:
        asyncio.run(installation(fake).get("repos/acme/other/pulls/1"))
    assert info.value.status == 404


def test_calls_are_counted_by_method_and_status(fake):
    pull = seed_pull(fake)
    counter = metrics.GITHUB_REQUESTS.labels("GET", "200")
    before = counter._value.get()
    asyncio.run(installation(fake).get(f"repos/acme/mesh/pulls/{pull.number}"))
    assert counter._value.get() == before + 1


def test_tokens_never_reach_the_log(fake, caplog):
    pull = seed_pull(fake)
    caplog.set_level("DEBUG")
    asyncio.run(installation(fake).get(f"repos/acme/mesh/pulls/{pull.number}"))
    [token] = fake.tokens
    assert token not in caplog.text
    assert "ghs_" not in caplog.text


def test_timeouts_are_retried_then_retryable_and_counted_as_errors(fake):
    seed_pull(fake)
    fake.timeout("GET", "/repos/acme/mesh/pulls/1", times=5)
    counter = metrics.GITHUB_REQUESTS.labels("GET", "error")
    before = counter._value.get()
    with pytest.raises(RetryableError) as info:
        asyncio.run(installation(fake).get("repos/acme/mesh/pulls/1"))
    assert "timed out" in str(info.value)
    assert counter._value.get() == before + 1


def test_open_client_builds_the_app_from_settings_and_closes_it(fake):
    from types import SimpleNamespace

    from pydantic import SecretStr

    from bot.github.client import open_client

    settings = SimpleNamespace(
        app_id=fake.app_id,
        private_key=SecretStr(fake.private_key),
        github_api_url=fake.base_url,
        http_timeout=5.0,
    )
    pull = seed_pull(fake)

    async def use():
        async with open_client(settings) as app:
            [installation_id] = fake.installations
            return await app.installation(installation_id).get(
                f"repos/acme/mesh/pulls/{pull.number}"
            )

    assert asyncio.run(use())["number"] == pull.number

    async def without_credentials():
        async with open_client(SimpleNamespace(app_id=None, private_key=None)) as app:
            return app

    assert asyncio.run(without_credentials()) is None


def test_an_unusable_private_key_fails_for_good_naming_the_setting_not_the_key(fake):
    key_body = "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu"
    broken = f"-----BEGIN RSA PRIVATE KEY-----\n{key_body}\n-----END RSA PRIVATE KEY-----\n"
    [installation_id] = fake.installations
    client = GitHubApp(fake.app_id, broken, fake.base_url, timeout=5, retry_delay=0).installation(
        installation_id
    )
    with pytest.raises(InvalidAppKey) as raised:
        asyncio.run(client.get("repos/acme/mesh"))
    assert not isinstance(raised.value, RetryableError)
    message = str(raised.value)
    assert "FOOTGUN_PRIVATE_KEY" in message and "\n" not in message
    assert key_body not in message and "BEGIN" not in message
    assert fake.log == []  # nothing was sent: the token could not even be signed


def test_a_post_answered_after_the_timeout_is_not_sent_again(fake):
    """GitHub made the review; its answer came too late. Sending it again would post it twice:
    the job gets a retryable error instead, and its next attempt finds the review by its markers."""
    pull = seed_pull(fake)
    fake.answer_late("POST", f"/repos/acme/mesh/pulls/{pull.number}/reviews", seconds=30)
    with pytest.raises(RetryableError) as info:
        asyncio.run(
            installation(fake).json(
                "POST",
                f"repos/acme/mesh/pulls/{pull.number}/reviews",
                json={"event": "COMMENT", "body": "one review", "commit_id": pull.head_sha},
            )
        )
    assert "timed out" in str(info.value)
    assert len(fake.requests("POST", "/reviews$")) == 1
    assert [r["body"] for r in fake.reviews_on("acme/mesh", pull.number)] == ["one review"]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_writes_that_got_a_server_error_go_back_to_the_job_not_sent_again(fake, method):
    """A 502 does not say the write was not done (a proxy may give up before the API)."""
    seed_pull(fake)
    fake.fail(method, "/repos/acme/mesh/check-runs(/1)?", 502, times=5)
    path = "repos/acme/mesh/check-runs" + ("/1" if method == "PATCH" else "")
    with pytest.raises(RetryableError):
        asyncio.run(installation(fake).json(method, path, json={"name": "x", "head_sha": "0"}))
    assert len(fake.requests(method, "/check-runs")) == 1


def test_a_read_answered_after_the_timeout_is_retried_in_place(fake):
    pull = seed_pull(fake)
    fake.answer_late("GET", f"/repos/acme/mesh/pulls/{pull.number}", seconds=30)
    data = asyncio.run(installation(fake).get(f"repos/acme/mesh/pulls/{pull.number}"))
    assert data["number"] == pull.number
    assert len(fake.requests("GET", "pulls/1$")) == 2


def test_a_revoked_token_is_replaced_at_the_first_401(fake):
    """GitHub revoked the cached token: the call is sent once more with a new token, and the
    calls after it use the new one (instead of failing until the old one would have expired)."""
    pull = seed_pull(fake)
    client = installation(fake)
    asyncio.run(client.get(f"repos/acme/mesh/pulls/{pull.number}"))
    [first] = fake.tokens
    fake.revoke_tokens()
    data = asyncio.run(client.get(f"repos/acme/mesh/pulls/{pull.number}"))
    assert data["number"] == pull.number
    items = asyncio.run(client.paginate(f"repos/acme/mesh/pulls/{pull.number}/files"))
    assert len(items) == 5
    [second] = fake.tokens
    assert second != first
    assert len(fake.requests("POST", "access_tokens$")) == 2
    assert [r.status for r in fake.requests("GET", "pulls/1$")] == [200, 401, 200]


def test_a_token_revoked_through_the_api_is_replaced_too(fake):
    pull = seed_pull(fake)
    client = installation(fake)
    asyncio.run(client.request("DELETE", "installation/token"))
    assert not fake.tokens
    assert asyncio.run(client.get(f"repos/acme/mesh/pulls/{pull.number}"))["number"] == 1


def test_a_401_that_a_new_token_does_not_cure_fails_after_one_exchange(fake):
    seed_pull(fake)
    fake.fail("GET", "/repos/acme/mesh/pulls/1", 401, times=5, message="Bad credentials")
    with pytest.raises(GitHubError) as info:
        asyncio.run(installation(fake).get("repos/acme/mesh/pulls/1"))
    assert info.value.status == 401
    assert len(fake.requests("GET", "pulls/1$")) == 2
    assert len(fake.requests("POST", "access_tokens$")) == 2
