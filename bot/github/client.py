"""The GitHub client: one githubkit client per installation, every call counted, errors mapped.

githubkit owns what is fiddly or security-relevant: the app JWT, installation tokens (cached
until a minute before they expire), `base_url` for GitHub Enterprise Server and pagination by
Link header. This module adds what the job queue needs: a GitHub outage, a timeout or a rate
limit becomes `RetryableError` (with the wait GitHub asked for), anything else `GitHubError`.
Responses are used as plain JSON: the bot reads a handful of fields and must not fail because
a model lags behind the API. Tokens never reach a log line: only method, path and status do.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from githubkit import AppAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.cache import AsyncBaseCache, BaseCache, MemCacheStrategy
from githubkit.exception import (
    GitHubException,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)
from githubkit.retry import RetryOption
from jwt.exceptions import InvalidKeyError

from bot import metrics
from bot.queue.jobs import RetryableError

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
JSON = "application/vnd.github+json"
RAW = "application/vnd.github.raw+json"
DIFF = "application/vnd.github.diff"
PER_PAGE = 100
"""GitHub's largest page: fewer calls for the same list."""


class GitHubError(Exception):
    """GitHub refused a request for a reason retrying will not fix (404, 406, 422, 403...)."""

    def __init__(self, status: int, message: str, errors: Any = None):
        super().__init__(f"GitHub answered {status}: {message}")
        self.status, self.message, self.errors = status, message, errors

    def has_code(self, code: str) -> bool:
        """Whether GitHub's `errors` list names this code (e.g. `too_large`)."""
        return any(isinstance(e, dict) and e.get("code") == code for e in self.errors or ())


class InvalidAppKey(Exception):
    """The App's private key cannot sign a token: no retry can fix that, only the setting can."""

    def __init__(self) -> None:
        super().__init__(
            "the App's private key (FOOTGUN_PRIVATE_KEY, FOOTGUN_PRIVATE_KEY_FILE or the credentials "
            "file /setup wrote) cannot sign GitHub App tokens: replace it with a key GitHub generated "
            "for the App, then restart"
        )


REPEATABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""Methods whose second attempt does what the first did (RFC 9110's idempotent methods)."""
UNSENT = (httpx.ConnectTimeout, httpx.PoolTimeout)
"""Timeouts before any byte of the request left: GitHub cannot have acted on it."""


def since(when: datetime) -> dict[str, str]:
    """The `since` parameter of GitHub's list endpoints (ISO 8601 in UTC, to the second): only
    what was updated after `when` is listed."""
    return {"since": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _repeatable(request: httpx.Request, exc: GitHubException) -> bool:
    """Whether sending `request` again cannot do its work twice.

    A POST or PATCH that timed out while waiting for the answer, or got a 5xx, may have been
    carried out (GitHub answers late, or a proxy gives up before the API does): sending it again
    posts the review, the reply or the check run twice, and appends annotations twice. Those
    go back to the job, whose next attempt looks at what exists first (the check run of the
    head SHA, the fingerprint markers, the reply marker). Exchanging the installation token is
    safe to repeat: a second token costs nothing.
    """
    if request.method in REPEATABLE_METHODS or request.url.path.endswith("/access_tokens"):
        return True
    return isinstance(exc, RequestTimeout) and isinstance(exc.exc, UNSENT)


class _ServerErrorRetry:
    """Retry 5xx and timeouts a few times in place when that is safe; the rest go to the queue.

    A rate-limited job must not sleep in a worker for minutes: the queue reschedules it after
    the `Retry-After` GitHub gave, and the worker serves other jobs meanwhile. A write GitHub may
    have done is never sent twice here (`_repeatable`).
    """

    def __init__(self, attempts: int, delay: float):
        self.attempts, self.delay = attempts, delay

    def __call__(self, exc: GitHubException, retry_count: int) -> RetryOption:
        transient = isinstance(exc, RequestTimeout) or (
            isinstance(exc, RequestFailed)
            and not isinstance(exc, RateLimitExceeded)
            and exc.response.status_code >= 500
        )
        request = exc.request if isinstance(exc, RequestTimeout | RequestFailed) else None
        if request is not None and not _repeatable(request, exc):
            return RetryOption(False)
        if transient and retry_count < self.attempts:
            # githubkit reads a zero wait as "no wait given" and sleeps a minute: never send 0.
            wait = max(self.delay * (retry_count + 1), 0.001)
            return RetryOption(True, timedelta(seconds=wait))
        return RetryOption(False)


class _Tokens(AsyncBaseCache, BaseCache):
    """The App's JWT and installation tokens in memory, until they expire or GitHub refuses one.

    githubkit keeps a token until a minute before its hour is up; a token revoked earlier
    (`DELETE /installation/token`, a leaked token GitHub invalidated, a rotated key) answers 401
    to every call. `forget` drops it, so the next call exchanges a new one.
    """

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, datetime]] = {}

    def get(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None or item[1] <= datetime.now(UTC):
            self._items.pop(key, None)
            return None
        return item[0]

    def set(self, key: str, value: str, ex: timedelta) -> None:
        self._items[key] = (value, datetime.now(UTC) + ex)

    async def aget(self, key: str) -> str | None:
        return self.get(key)

    async def aset(self, key: str, value: str, ex: timedelta) -> None:
        self.set(key, value, ex)

    def forget(self, token: str) -> bool:
        """Drop every entry holding `token`; whether there was one."""
        stale = [key for key, (value, _) in self._items.items() if value == token]
        for key in stale:
            del self._items[key]
        return bool(stale)


class _TokenCache(MemCacheStrategy):
    def __init__(self) -> None:
        super().__init__()
        self.tokens = _Tokens()

    def get_cache_storage(self) -> _Tokens:  # type: ignore[override]
        return self.tokens

    async def get_async_cache_storage(self) -> _Tokens:  # type: ignore[override]
        return self.tokens


class _Client(GitHub[Any]):
    """A githubkit client that keeps one httpx connection pool for its whole life.

    githubkit opens a pool per call unless used inside `async with`; a long-lived worker cannot
    hold that context open across tasks, so the pool is created once and closed by `aclose`.
    """

    _pool: httpx.AsyncClient | None = None

    @asynccontextmanager
    async def get_async_client(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._pool is None:
            self._pool = await self._create_async_client()
        yield self._pool

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


async def _count(response: httpx.Response) -> None:
    metrics.GITHUB_REQUESTS.labels(response.request.method, str(response.status_code)).inc()
    log.debug(
        "github %s %s -> %s",
        response.request.method,
        response.request.url.path,
        response.status_code,
    )


class GitHubApp:
    """The App's identity; hands out one cached `Installation` client per installation."""

    def __init__(
        self,
        app_id: int | str,
        private_key: str,
        base_url: str = DEFAULT_API_URL,
        timeout: float = 10.0,
        *,
        retries: int = 2,
        retry_delay: float = 1.0,
    ):
        self.app_id = app_id
        self._auth = AppAuthStrategy(app_id, private_key)
        self._base_url = base_url.rstrip("/") + "/"
        self._timeout = timeout
        self._retry = _ServerErrorRetry(retries, retry_delay)
        self._installations: dict[int, Installation] = {}
        self._tokens = _TokenCache()
        """This App's JWT and installation tokens; not githubkit's process-wide default."""

    def installation(self, installation_id: int) -> Installation:
        installation = self._installations.get(installation_id)
        if installation is None:
            client = _Client(
                self._auth.as_installation(installation_id),
                base_url=self._base_url,
                timeout=httpx.Timeout(self._timeout),
                http_cache=False,
                cache_strategy=self._tokens,
                auto_retry=self._retry,
                async_event_hooks={"response": [_count]},
                user_agent="istio-footgun-bot",
            )
            installation = self._installations[installation_id] = Installation(
                client, self._tokens.tokens
            )
        return installation

    async def aclose(self) -> None:
        for installation in self._installations.values():
            await installation.client.aclose()
        self._installations.clear()


@asynccontextmanager
async def open_client(settings: Any) -> AsyncIterator[GitHubApp | None]:
    """The process's one `GitHubApp` (from the App settings), closed at shutdown.

    Yields None when the App's credentials are not configured: the server still starts and says
    what is missing, instead of failing on the first job.
    """
    if settings.app_id is None or settings.private_key is None:
        yield None
        return
    app = GitHubApp(
        settings.app_id,
        settings.private_key.get_secret_value(),
        settings.github_api_url,
        settings.http_timeout,
    )
    try:
        yield app
    finally:
        await app.aclose()


def token_client(
    token: str,
    base_url: str = DEFAULT_API_URL,
    timeout: float = 10.0,
    *,
    retries: int = 2,
    retry_delay: float = 1.0,
) -> Installation:
    """Calls made with a plain token, such as a GitHub Actions workflow's `GITHUB_TOKEN`.

    The same `Installation` as the App's, with the same retries, counting and error mapping,
    so the Action publishes through the App's own code. Close it with `aclose()`.
    """
    client = _Client(
        TokenAuthStrategy(token),
        base_url=base_url.rstrip("/") + "/",
        timeout=httpx.Timeout(timeout),
        http_cache=False,
        auto_retry=_ServerErrorRetry(retries, retry_delay),
        async_event_hooks={"response": [_count]},
        user_agent="istio-footgun-bot",
    )
    return Installation(client)


class Installation:
    """Calls made as one installation. Paths are relative to the API root: `repos/o/r/...`."""

    def __init__(self, client: _Client, tokens: _Tokens | None = None):
        self.client = client
        self._tokens = tokens or _Tokens()

    async def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        """`arequest`, sent once more with a new token when GitHub refused the cached one (401)."""
        try:
            return await self.client.arequest(method, path, **kwargs)
        except RequestFailed as exc:
            if not self._forget_refused_token(exc):
                raise
        return await self.client.arequest(method, path, **kwargs)

    def _forget_refused_token(self, exc: GitHubException) -> bool:
        """On a 401 for an installation token we hold, drop it; whether one was dropped.

        A 401 means GitHub did nothing with the request, so sending it again is safe.
        """
        if not isinstance(exc, RequestFailed) or exc.response.status_code != 401:
            return False
        scheme, _, token = exc.request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "token" or not self._tokens.forget(token):
            return False
        log.warning(
            "GitHub refused the installation token on %s %s (401): exchanging a new one",
            exc.request.method,
            exc.request.url.path,
        )
        return True

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        accept: str = JSON,
    ) -> httpx.Response:
        try:
            response = await self._send(
                method, path, params=params, json=json, headers={"Accept": accept}
            )
        except GitHubException as exc:
            raise _translate(exc, method, path) from None
        raw: httpx.Response = response.raw_response
        return raw

    @asynccontextmanager
    async def stream(self, path: str, *, accept: str = JSON) -> AsyncIterator[httpx.Response]:
        """GET `path` with the body left unread, for the caller to read in bounded chunks.

        Redirects are followed (githubkit's default), and httpx drops the Authorization header
        when one leads to another origin: a download host such as codeload never sees the token.
        """
        try:
            response = await self._send("GET", path, headers={"Accept": accept}, stream=True)
        except GitHubException as exc:
            raise _translate(exc, "GET", path) from None
        try:
            yield response.raw_response
        finally:
            await response.raw_response.aclose()

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(method, path, **kwargs)).json()

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self.json("GET", path, params=params)

    async def paginate(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        """Every item of a list endpoint (up to `limit`), following Link headers, 100 a page.

        A token refused on a later page is exchanged and the list read again from the start.
        """
        try:
            return await self._paginate(path, params, key, limit)
        except GitHubException as exc:
            if not self._forget_refused_token(exc):
                raise _translate(exc, "GET", path) from None
        try:
            return await self._paginate(path, params, key, limit)
        except GitHubException as exc:
            raise _translate(exc, "GET", path) from None

    async def _paginate(
        self, path: str, params: dict[str, Any] | None, key: str | None, limit: int | None
    ) -> list[Any]:
        items: list[Any] = []

        async def first_page() -> Any:
            return await self._send(
                "GET",
                path,
                params={**(params or {}), "per_page": PER_PAGE},
                headers={"Accept": JSON},
            )

        paginator = self.client.rest.paginate(
            first_page, map_func=(lambda r: r.json()[key]) if key else (lambda r: r.json())
        )
        async for item in paginator:
            items.append(item)
            if limit is not None and len(items) >= limit:
                break
        return items


def _translate(exc: GitHubException, method: str, path: str) -> Exception:
    """Map githubkit's exceptions to what the job queue and the callers act on."""
    if isinstance(exc, RequestError) and isinstance(exc.exc, GitHubException):
        exc = exc.exc  # raised inside the token exchange, wrapped by httpx's auth flow
    if isinstance(exc, RequestError) and isinstance(exc.exc, InvalidKeyError):
        return InvalidAppKey()  # signing the App's JWT failed before any request was sent
    if isinstance(exc, RequestError) and not isinstance(exc, RequestFailed):
        metrics.GITHUB_REQUESTS.labels(method, "error").inc()  # no answer came
    where = f"{method} /{path.lstrip('/')}"
    if isinstance(exc, RateLimitExceeded):
        seconds = exc.retry_after.total_seconds()
        return RetryableError(f"GitHub rate limit on {where}; retry in {seconds:.0f}s", seconds)
    if isinstance(exc, RequestTimeout):
        return RetryableError(f"GitHub timed out on {where}", None)
    if isinstance(exc, RequestFailed):
        status = exc.response.status_code
        try:
            body = exc.response.raw_response.json()
        except ValueError:
            body = {}
        message = body.get("message", "") if isinstance(body, dict) else ""
        if status >= 500:
            return RetryableError(f"GitHub answered {status} on {where}", None)
        if status == 429 or (status == 403 and "rate limit" in message.lower()):
            wait = exc.response.raw_response.headers.get("retry-after")
            seconds = float(wait) if wait and wait.isdigit() else 60.0
            return RetryableError(f"GitHub rate limit on {where}; retry in {seconds:.0f}s", seconds)
        errors = body.get("errors") if isinstance(body, dict) else None
        return GitHubError(
            status, f"{where}: {message or exc.response.raw_response.reason_phrase}", errors
        )
    if isinstance(exc, RequestError):
        return RetryableError(f"cannot reach GitHub on {where}: {type(exc.exc).__name__}", None)
    return GitHubError(0, f"{where}: {exc!r}")
