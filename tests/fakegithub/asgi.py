"""The fake served over HTTP (uvicorn on loopback) for end-to-end tests of a real server.

Serve it with an API root under a path (`FakeGitHub("http://127.0.0.1:PORT/api/v3")`), as GitHub
Enterprise Server does, and the web root is the same origin: the manifest flow's form page and
the API then share one port.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from tests.fakegithub.api import FakeGitHub

_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


def asgi_app(fake: FakeGitHub) -> Starlette:
    async def endpoint(request: Request) -> Response:
        body = await request.body()
        forwarded = httpx.Request(
            request.method, str(request.url), headers=request.headers.raw, content=body
        )
        answer = fake.handle(forwarded)
        from tests.fakegithub.api import LATE

        if answer.extensions.get(LATE):  # done already; only the answer is slow
            await asyncio.sleep(answer.extensions[LATE])
        headers = {
            k: v
            for k, v in answer.headers.items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
        }
        return Response(answer.content, answer.status_code, headers)

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=_METHODS)])
