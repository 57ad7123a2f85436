"""The one signed-webhook helper: deliveries built from the shared GitHub payload examples."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from githubkit.webhooks import sign

from tests.fakegithub.state import key_pair
from tests.helpers import FIXTURES

SECRET = "test-webhook-secret"
PRIVATE_KEY = key_pair("settings")[0]  # a real key: settings load it at start-up
WEBHOOKS = FIXTURES / "github-webhooks"


def payload(name: str, **changes: Any) -> dict[str, Any]:
    """The example `name` (e.g. "pull_request.opened"), with dotted-path `changes` applied.

    `payload("pull_request.synchronize", **{"pull_request.head.sha": "abc"})`
    """
    path = WEBHOOKS / f"{name}.payload.json"
    if not path.exists():
        pytest.skip(f"webhook example {path.name} is absent")
    data = copy.deepcopy(json.loads(path.read_text(encoding="utf-8")))
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        node[last] = value
    return data


def request(
    event: str,
    body: dict[str, Any] | bytes,
    *,
    delivery: str | None = None,
    secret: str | None = SECRET,
    signature: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a delivery, signed with `secret` (None: unsigned) as GitHub signs it."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
    }
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    elif secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, raw, "sha256")
    return headers, raw


async def deliver(client, event: str, body: dict[str, Any] | bytes, **options: Any):
    """POST a signed delivery to /webhooks through `client` (an httpx.AsyncClient)."""
    headers, raw = request(event, body, **options)
    return await client.post("/webhooks", content=raw, headers=headers)
