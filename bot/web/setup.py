"""/setup: register the GitHub App from app.yml in two clicks, with no copy-pasting (the manifest flow).

`GET /setup` posts the manifest, its URLs filled in for this server, to GitHub; GitHub creates the
App and sends the browser back to `/setup/complete` with a one-time code, which we exchange for
the App's id, private key and webhook secret. They go to the credentials file (mode 0600), and
the running server takes them at once. `state` guards against CSRF: random, single use, expiring
within the hour, and bound to a cookie of the browser that started the flow, so nobody can make
an admin's server adopt an App of theirs. Secrets never reach a page, a log line or an error.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import html
import json
import logging
import os
import re
import secrets
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import yaml
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot import logs
from bot.settings import Settings

log = logging.getLogger(__name__)

STATE_SECONDS = 3600
"""As long as GitHub's code lives: a user may read the GitHub page for a while."""
MAX_REDEEMED = 4096
"""Redeemed states remembered at once (each one cost a code exchange with GitHub)."""
STATE_COOKIE = "footgun_setup_state"
ORG_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
CODE = re.compile(r"[A-Za-z0-9_-]{1,200}")
LOOPBACK = ("localhost", "127.0.0.1", "::1", "0.0.0.0")  # noqa: S104 (names, not a bind)


class SetupError(Exception):
    """The flow cannot go on: one line for the page and the log, never a secret."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class PendingStates:
    """`state` values handed out by /setup: each redeemable once, before it expires.

    A state is signed, not stored: `nonce.expiry.mac`, with a key this process draws at start.
    Visits cost no memory, so no number of strangers' visits can push out the operator's
    pending state (the browser keeps its own, in the cookie). A redeemed nonce is remembered
    until it expires, so a state completes one flow only; that memory grows with completions
    (each one a code exchange with GitHub), not with visits, and is capped all the same.
    """

    def __init__(self, seconds: float = STATE_SECONDS, clock: Any = time.time):
        self.seconds, self.clock = seconds, clock
        self._key = secrets.token_bytes(32)
        self._redeemed: OrderedDict[str, float] = OrderedDict()

    def _mac(self, nonce: str, expiry: int) -> str:
        digest = hmac.new(self._key, f"{nonce}.{expiry}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self) -> str:
        nonce, expiry = secrets.token_urlsafe(24), int(self.clock() + self.seconds)
        return f"{nonce}.{expiry}.{self._mac(nonce, expiry)}"

    def redeem(self, state: str) -> bool:
        nonce, _, rest = state.partition(".")
        expiry_text, _, mac = rest.partition(".")
        if not (nonce and mac and expiry_text.isdigit()):
            return False
        expiry, now = int(expiry_text), self.clock()
        if not hmac.compare_digest(mac, self._mac(nonce, expiry)) or expiry <= now:
            return False
        for used, until in list(self._redeemed.items()):
            if until <= now:
                del self._redeemed[used]
        if nonce in self._redeemed:
            return False
        while len(self._redeemed) >= MAX_REDEEMED:
            self._redeemed.popitem(last=False)
        self._redeemed[nonce] = expiry
        return True


def _flow(request: Request) -> tuple[Any, PendingStates, asyncio.Lock]:
    state = request.app.state
    if not hasattr(state, "setup_states"):
        state.setup_states, state.setup_lock = PendingStates(), asyncio.Lock()
    return state.runtime, state.setup_states, state.setup_lock


# -- the manifest -------------------------------------------------------------------------------


def manifest_path(settings: Settings) -> Path:
    """FOOTGUN_APP_MANIFEST, else app.yml of this checkout (editable install), else of the cwd."""
    if settings.app_manifest is not None:
        return settings.app_manifest
    beside_package = Path(__file__).resolve().parents[2] / "app.yml"
    return beside_package if beside_package.exists() else Path("app.yml")


def load_manifest(settings: Settings) -> dict[str, Any]:
    path = manifest_path(settings)
    try:
        manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SetupError(
            f"cannot read the App manifest {path}: {exc.__class__.__name__}"
            " (set FOOTGUN_APP_MANIFEST to app.yml)",
            500,
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("hook_attributes"), dict):
        raise SetupError(f"the App manifest {path} has no hook_attributes", 500)
    return manifest


def public_url(settings: Settings, request: Request) -> str:
    """FOOTGUN_PUBLIC_URL; else, for a browser on this machine, the loopback address it used.

    The Host header is the client's to choose: from anywhere else it would decide where the
    App's webhooks and redirects point, so setup is refused until FOOTGUN_PUBLIC_URL is set.
    """
    if settings.public_url:
        return settings.public_url
    client = request.client.host if request.client else ""
    if request.url.hostname in LOOPBACK and client in LOOPBACK:
        return f"{request.url.scheme}://{request.url.netloc}"
    raise SetupError(
        "FOOTGUN_PUBLIC_URL is not set: set it to the address GitHub reaches this server at"
        " (such as https://footgun.example.com) and restart. Without it the App's URLs would come"
        " from the request's Host header, which any client chooses.",
        503,
    )


def manifest_for(settings: Settings, base: str) -> dict[str, Any]:
    manifest = load_manifest(settings)
    manifest["hook_attributes"] = {**manifest["hook_attributes"], "url": f"{base}/webhooks"}
    manifest["redirect_url"] = f"{base}/setup/complete"
    manifest["setup_url"] = f"{base}/setup/installed"
    return manifest


def registration_url(settings: Settings, state: str, org: str | None) -> str:
    owner = f"/organizations/{org}" if org else ""
    return f"{settings.github_web_url}{owner}/settings/apps/new?{urlencode({'state': state})}"


# -- pages --------------------------------------------------------------------------------------

STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;background:#f6f8fa;margin:0}
main{max-width:44rem;margin:3rem auto;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:2rem 2.5rem}
h1{font-size:1.5rem;margin-top:0} code{background:#eff1f3;padding:.1em .3em;border-radius:4px;font-size:.9em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem} dt{font-weight:600} dd{margin:0;overflow-wrap:anywhere}
.button{display:inline-block;background:#1f883d;color:#fff;border:0;border-radius:6px;padding:.6rem 1.2rem;
font-size:1rem;font-weight:600;text-decoration:none;cursor:pointer}
.note{background:#fff8c5;border:1px solid #d4a72c66;border-radius:6px;padding:.6rem 1rem}
.error{background:#ffebe9;border:1px solid #ff818266;border-radius:6px;padding:.6rem 1rem}
small,.muted{color:#59636e} form.inline{display:flex;gap:.5rem;align-items:center;margin:1rem 0}
button.secondary{background:#f6f8fa;color:#1f2328;border:1px solid #d0d7de;border-radius:6px;padding:.35rem .8rem;
font-size:.95rem;cursor:pointer}
input[type=text]{padding:.35rem .5rem;border:1px solid #d0d7de;border-radius:6px;font-size:.95rem}
"""


def page(
    settings: Settings,
    title: str,
    body: str,
    status: int = 200,
    cookie: tuple[str, str, bool] | None = None,
) -> HTMLResponse:
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(settings.github_web_url or ""))
    text = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f' · istio-footgun-bot</title><meta name="viewport" content="width=device-width">'
        f"<style>{STYLE}</style></head><body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    response = HTMLResponse(
        text,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": f"default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {origin};"
            " frame-ancestors 'none'; base-uri 'none'",
        },
    )
    if cookie:
        name, value, secure = cookie
        response.set_cookie(
            name,
            value,
            max_age=STATE_SECONDS if value else 0,
            path="/setup",
            secure=secure,
            httponly=True,
            samesite="lax",
        )
    return response


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _configured_page(settings: Settings) -> HTMLResponse:
    install = ""
    if settings.app_html_url:
        install = (
            f'<p><a class="button" href="{_e(settings.app_html_url)}/installations/new">'
            "Install it on repositories</a></p>"
        )
    return page(
        settings,
        "The GitHub App is configured",
        (
            f"<p>This server already has a GitHub App (App ID <code>{_e(settings.app_id)}</code>) and accepts"
            " its webhooks at <code>/webhooks</code>. There is nothing to register.</p>"
            + install
            + "<p class=muted>To connect another App, change <code>FOOTGUN_APP_ID</code>, <code>FOOTGUN_PRIVATE_KEY</code>"
            " and <code>FOOTGUN_WEBHOOK_SECRET</code> (or remove the credentials file) and restart.</p>"
        ),
    )


async def start(request: Request) -> Response:
    runtime, states, _ = _flow(request)
    settings: Settings = runtime.settings
    if not settings.setup_enabled:
        return page(
            settings, "Setup is off", "<p>FOOTGUN_SETUP_ENABLED is false on this server.</p>", 404
        )
    if settings.has_app_credentials:
        return _configured_page(settings)
    org = request.query_params.get("org", "").strip() or None
    if org is not None and not ORG_LOGIN.fullmatch(org):
        return page(
            settings,
            "Not an organization name",
            "<p class=error>An organization login has letters, digits and hyphens (39 at most).</p>"
            '<p><a href="/setup">Start again</a></p>',
            400,
        )
    try:
        base = public_url(settings, request)
        manifest = manifest_for(settings, base)
    except SetupError as exc:
        log.error("setup: %s", exc)
        return page(
            settings, "Cannot register the App", f"<p class=error>{_e(exc)}</p>", exc.status
        )
    state = states.issue()
    owner = f"the organization <code>{_e(org)}</code>" if org else "your personal account"
    warning = ""
    if urlsplit(base).hostname in LOOPBACK:
        warning = (
            "<p class=note>GitHub cannot deliver webhooks to <code>"
            + _e(urlsplit(base).hostname)
            + "</code>. Open this page through the address GitHub reaches, or set <code>FOOTGUN_PUBLIC_URL</code>.</p>"
        )
    permissions = ", ".join(
        f"{k}: {v}" for k, v in (manifest.get("default_permissions") or {}).items()
    )
    events = ", ".join(manifest.get("default_events") or [])
    body = (
        "<p>This server is not connected to GitHub yet. GitHub will create an App from this project's"
        " <code>app.yml</code>, then send you back here: its private key and webhook secret are saved on"
        " this server, and it starts accepting webhooks at once.</p>"
        + warning
        + f"<dl><dt>Owner</dt><dd>{owner}</dd>"
        f"<dt>Webhook URL</dt><dd><code>{_e(manifest['hook_attributes']['url'])}</code></dd>"
        f"<dt>GitHub</dt><dd><code>{_e(settings.github_web_url)}</code></dd>"
        f"<dt>Permissions</dt><dd>{_e(permissions)}</dd><dt>Events</dt><dd>{_e(events)}</dd></dl>"
        f'<form method="post" action="{_e(registration_url(settings, state, org))}">'
        f'<input type="hidden" name="manifest" value="{_e(json.dumps(manifest))}">'
        f'<button class="button" type="submit" id="register">Register the App on GitHub</button></form>'
        '<form class="inline" method="get" action="/setup"><label for="org">Or for an organization:</label>'
        f'<input type="text" id="org" name="org" value="{_e(org or "")}" placeholder="org-login">'
        '<button class="secondary" type="submit">Use</button></form>'
        "<p class=muted>Anyone who reaches this page can register an App for this server until one is"
        " configured: do it right after deploying, or set <code>FOOTGUN_SETUP_ENABLED=false</code>.</p>"
    )
    return page(
        settings,
        "Register the GitHub App",
        body,
        cookie=(STATE_COOKIE, state, request.url.scheme == "https"),
    )


async def complete(request: Request) -> Response:
    runtime, states, lock = _flow(request)
    settings: Settings = runtime.settings
    if not settings.setup_enabled:
        return page(
            settings, "Setup is off", "<p>FOOTGUN_SETUP_ENABLED is false on this server.</p>", 404
        )
    clear = (STATE_COOKIE, "", request.url.scheme == "https")
    state = request.query_params.get("state", "")
    cookie = request.cookies.get(STATE_COOKIE, "")
    code = request.query_params.get("code", "")
    valid = (
        bool(state)
        and secrets.compare_digest(state.encode(), cookie.encode())
        and states.redeem(state)
    )
    if not valid:
        log.warning("setup: refused a completion with an unknown, used, expired or foreign state")
        return page(
            settings,
            "This setup link is not valid",
            "<p class=error>It was used already, has expired, or was started in another browser.</p>"
            '<p><a href="/setup">Start again</a></p>',
            400,
            cookie=clear,
        )
    async with lock:
        if runtime.settings.has_app_credentials:
            return _configured_page(runtime.settings)
        try:
            if not CODE.fullmatch(code):
                raise SetupError("GitHub sent no usable code: start again at /setup")
            app = await convert(settings, code)
            assert settings.credentials_file is not None  # set whenever setup is enabled
            stored = store_credentials(settings.credentials_file, app)
            await runtime.activate(settings.with_credentials(stored))
        except SetupError as exc:
            log.error("setup: %s", exc)
            return page(
                settings,
                "The App could not be registered",
                f'<p class=error>{_e(exc)}</p><p><a href="/setup">Start again</a></p>',
                exc.status,
                cookie=clear,
            )
    log.info(
        "setup: registered GitHub App %s (id %s); credentials in %s",
        app["slug"],
        app["id"],
        settings.credentials_file,
    )
    install = f"{app['html_url']}/installations/new"
    return page(
        settings,
        "GitHub App registered",
        (
            f"<p>GitHub created <strong>{_e(app['name'])}</strong> (App ID <code>{_e(app['id'])}</code>)."
            " This server now accepts its webhooks.</p>"
            f'<p><a class=button id=install href="{_e(install)}">Install it on your repositories</a></p>'
            f"<p class=muted>Its private key and webhook secret are in <code>{_e(settings.credentials_file)}</code>"
            " (readable by this server's user only), loaded at every start. Running several replicas? Copy"
            " them into your secret store as <code>FOOTGUN_APP_ID</code>, <code>FOOTGUN_PRIVATE_KEY</code> and"
            " <code>FOOTGUN_WEBHOOK_SECRET</code>: other replicas cannot read this file.</p>"
        ),
        cookie=clear,
    )


async def installed(request: Request) -> Response:
    runtime, _, _ = _flow(request)
    return page(
        runtime.settings,
        "Installed",
        (
            "<p>The App is installed. It reviews the next pull request that changes Istio manifests in the"
            " repositories you chose, and reports the <strong>Istio footguns</strong> check run.</p>"
            "<p class=muted>Make that check required in branch protection to gate merges on it.</p>"
        ),
    )


# -- the exchange and the credentials file -----------------------------------------------------


async def convert(settings: Settings, code: str) -> dict[str, Any]:
    """`POST /app-manifests/{code}/conversions`: unauthenticated; the code is good once, for an hour."""
    url = f"{settings.github_api_url}/app-manifests/{quote(code, safe='')}/conversions"
    try:
        async with httpx.AsyncClient(timeout=settings.http_timeout) as client:
            response = await client.post(
                url,
                headers={
                    "Accept": "application/vnd.github+json",
                    "User-Agent": "istio-footgun-bot",
                },
            )
    except httpx.HTTPError as exc:
        raise SetupError(
            f"cannot reach GitHub at {settings.github_api_url}: {exc.__class__.__name__}", 502
        ) from None
    if response.status_code == 404:
        raise SetupError(
            "GitHub does not know this code: it was used already or is over an hour old."
            " Start again at /setup",
            502,
        )
    if response.status_code != 201:
        raise SetupError(f"GitHub answered {response.status_code} to the code exchange", 502)
    try:
        app = response.json()
    except ValueError:
        app = None
    wanted = {"id": int, "slug": str, "name": str, "pem": str, "html_url": str}
    if not isinstance(app, dict) or any(not isinstance(app.get(k), t) for k, t in wanted.items()):
        raise SetupError(
            "GitHub's answer to the code exchange lacks the App's id, key or page", 502
        )
    for secret in (app.get("pem"), app.get("webhook_secret"), app.get("client_secret")):
        if isinstance(secret, str):
            logs.register_secret(secret)
    if not isinstance(app.get("webhook_secret"), str) or not app["webhook_secret"]:
        raise SetupError(
            f"GitHub created the App {app['slug']} without a webhook secret: set one in its"
            " settings and FOOTGUN_WEBHOOK_SECRET, with FOOTGUN_APP_ID and FOOTGUN_PRIVATE_KEY",
            502,
        )
    return app


def store_credentials(path: Path, app: dict[str, Any]) -> dict[str, object]:
    """Write the App's credentials (mode 0600, replaced atomically); return them as settings fields."""
    from bot.settings import read_credentials

    data = {
        "app_id": app["id"],
        "slug": app["slug"],
        "html_url": app["html_url"],
        "client_id": app.get("client_id"),
        "private_key": app["pem"],
        "webhook_secret": app["webhook_secret"],
        "client_secret": app.get("client_secret"),
    }
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o600)
            json.dump(data, file, indent=2)
            file.write("\n")
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise SetupError(
            f"GitHub created the App {app['slug']} (id {app['id']}) but its credentials cannot be"
            f" written to {path}: {exc.strerror or exc.__class__.__name__}. Set FOOTGUN_CREDENTIALS_FILE"
            " to a writable path, then generate a new private key in the App's settings",
            500,
        ) from None
    try:
        stored = read_credentials(path)
    except ValueError as exc:
        raise SetupError(
            f"GitHub's credentials for {app['slug']} are unusable: {exc}", 502
        ) from None
    assert stored is not None
    return stored


ROUTES = [
    Route("/setup", start, methods=["GET"]),
    Route("/setup/complete", complete, methods=["GET"]),
    Route("/setup/installed", installed, methods=["GET"]),
]
