"""GitHub's OpenAPI description as a test oracle: the fake and the bot are held to it.

The description is a fixture (`shared/fixtures/github-openapi`): tests that need it skip cleanly
where it is absent.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.helpers import FIXTURES

DESCRIPTION = FIXTURES / "github-openapi" / "api.github.com.json"


def load() -> dict[str, Any]:
    """The description, or a skip when the fixture is absent."""
    if not DESCRIPTION.exists():
        pytest.skip("GitHub's OpenAPI description is not available")
    return json.loads(DESCRIPTION.read_text())


def deref(doc: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """`node` with every `$ref` replaced by its target (depth-capped: the schemas are recursive)."""
    if depth > 12:
        return {}
    if isinstance(node, dict):
        if "$ref" in node:
            target = doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return deref(doc, target, depth + 1)
        return {k: deref(doc, v, depth + 1) for k, v in node.items() if k != "nullable"}
    if isinstance(node, list):
        return [deref(doc, v, depth + 1) for v in node]
    return node


def operation(doc: dict[str, Any], method: str, path: str) -> tuple[str | None, Any]:
    """The (path template, operation) a concrete request path matches, or (None, None)."""
    for template, item in doc["paths"].items():
        pattern = re.sub(r"\{(\w+)\}", lambda m: ".+" if m[1] == "path" else "[^/]+", template)
        if re.fullmatch(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    return None, None


def check_request(doc: dict[str, Any], logged: Any) -> bool:
    """Assert a logged request's route exists and its JSON body validates; whether it had one."""
    import jsonschema

    _, op = operation(doc, logged.method, logged.path)
    assert op is not None, f"{logged.method} {logged.path} is not in the description"
    if logged.body is None:
        return False
    jsonschema.validate(
        logged.body, deref(doc, op["requestBody"]["content"]["application/json"]["schema"])
    )
    return True


def check_response(doc: dict[str, Any], logged: Any) -> bool:
    """Assert a logged JSON answer uses only fields GitHub declares; whether it was compared."""
    response = logged.response
    if "json" not in response.headers.get("content-type", ""):
        return False
    _, op = operation(doc, logged.method, logged.path)
    spec = op["responses"].get(str(response.status_code))
    content = deref(doc, spec or {}).get("content", {}).get("application/json")
    if not content:
        return False
    schema, body = content["schema"], response.json()
    if schema.get("type") == "array":
        schema, body = schema["items"], (body[0] if body else {})
    extra = set(body) - set(schema.get("properties", {}))
    assert not extra, f"{logged.method} {logged.path}: undeclared fields {sorted(extra)}"
    return True
