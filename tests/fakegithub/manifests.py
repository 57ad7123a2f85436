"""GitHub's App manifest flow, as a user clicking "Create GitHub App" sees it, for /setup's tests.

The web page (`/settings/apps/new`, or `/organizations/{org}/settings/apps/new`) takes the posted
manifest and redirects straight back with a code (auto-approved); the API exchanges the code once,
within an hour, for a new App with its own key pair, which the fake then accepts in JWTs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.fakegithub.state import key_pair

if TYPE_CHECKING:
    from tests.fakegithub.api import FakeGitHub

CODE_SECONDS = 3600
WEB_ROUTES = (
    re.compile(r"/settings/apps/new"),
    re.compile(r"/organizations/(?P<org>[^/]+)/settings/apps/new"),
)


@dataclass
class Pending:
    manifest: dict[str, Any]
    owner: str
    created: float


@dataclass
class ManifestApp:
    id: int
    slug: str
    owner: str
    manifest: dict[str, Any]
    private_key: str
    public_key: str
    webhook_secret: str
    client_id: str = field(default_factory=lambda: "Iv1." + secrets.token_hex(8))
    client_secret: str = field(default_factory=lambda: secrets.token_hex(20))


class ManifestFlow:
    """Codes handed out by the web page, and the Apps created from them."""

    def __init__(self, fake: FakeGitHub, user: str = "octocat"):
        self.fake, self.user = fake, user
        self.pending: dict[str, Pending] = {}
        self.apps: dict[int, ManifestApp] = {}

    def web_path(self, request: httpx.Request) -> str | None:
        """The path under the web root, when `request` is for a manifest page; else None."""
        root = urlsplit(self.fake.web_url)
        if request.url.host != root.hostname or (root.port and request.url.port != root.port):
            return None
        path = request.url.path
        if not path.startswith(root.path.rstrip("/") + "/"):
            return None
        path = path[len(root.path.rstrip("/")) :]
        return path if any(p.fullmatch(path) for p in WEB_ROUTES) else None

    def submit(self, request: httpx.Request, path: str) -> httpx.Response:
        """The form post: a 302 back to the manifest's `redirect_url` with a code and the state."""
        if request.method != "POST":
            return _page(405, "The manifest flow starts with a form POST.")
        form = parse_qs(request.content.decode("utf-8", "replace"))
        try:
            manifest = json.loads(form["manifest"][0])
        except (KeyError, IndexError, json.JSONDecodeError):
            return _page(422, "Invalid GitHub App configuration: the manifest is not JSON.")
        problem = _invalid(manifest)
        if problem:
            return _page(422, f"Invalid GitHub App configuration: {problem}")
        org = WEB_ROUTES[1].fullmatch(path)
        code = secrets.token_hex(10)
        self.pending[code] = Pending(manifest, org["org"] if org else self.user, self.fake.now())
        query = {"code": code}
        if "state" in request.url.params:
            query["state"] = request.url.params["state"]
        return httpx.Response(
            302, headers={"location": f"{manifest['redirect_url']}?{urlencode(query)}"}
        )

    def convert(self, code: str) -> dict[str, Any] | None:
        """The App for `code`, created once; None for an unknown, used or expired code."""
        pending = self.pending.pop(code, None)
        if pending is None or self.fake.now() - pending.created > CODE_SECONDS:
            return None
        manifest = pending.manifest
        app_id = self.fake.next_id()
        private, public = key_pair(f"manifest-{app_id}")
        slug = re.sub(r"[^a-z0-9]+", "-", manifest["name"].lower()).strip("-")
        app = ManifestApp(
            app_id, slug, pending.owner, manifest, private, public, secrets.token_hex(20)
        )
        self.apps[app_id] = app
        return self.json(app) | {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "webhook_secret": app.webhook_secret,
            "pem": app.private_key,
        }

    def json(self, app: ManifestApp) -> dict[str, Any]:
        created = dt.datetime.fromtimestamp(self.fake.now(), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "id": app.id,
            "slug": app.slug,
            "node_id": f"A_kw{app.id}",
            "client_id": app.client_id,
            "owner": {"login": app.owner, "id": abs(hash(app.owner)) % 10**8, "type": "User"},
            "name": app.manifest["name"],
            "description": app.manifest.get("description"),
            "external_url": app.manifest["url"],
            "html_url": f"{self.fake.web_url}/apps/{app.slug}",
            "created_at": created,
            "updated_at": created,
            "permissions": dict(app.manifest.get("default_permissions") or {}),
            "events": list(app.manifest.get("default_events") or []),
        }

    def public_key(self, issuer: str) -> str | None:
        app = self.apps.get(int(issuer)) if issuer.isdigit() else None
        return app.public_key if app else None


def _invalid(manifest: Any) -> str | None:
    if not isinstance(manifest, dict):
        return "the manifest must be a JSON object"
    for name in ("name", "url", "redirect_url"):
        if not isinstance(manifest.get(name), str) or not manifest[name]:
            return f"{name} is required"
    hook = manifest.get("hook_attributes")
    if not isinstance(hook, dict) or not isinstance(hook.get("url"), str):
        return "hook_attributes.url is required"
    return None


def _page(status: int, message: str) -> httpx.Response:
    return httpx.Response(
        status,
        text=f"<!doctype html><title>GitHub</title><p>{message}</p>",
        headers={"content-type": "text/html; charset=utf-8"},
    )
