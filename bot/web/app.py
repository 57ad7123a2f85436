"""The Starlette app: webhook intake, health, metrics; workers and periodic tasks in its lifespan.

`create_app(settings)` composes everything; nothing is read from the environment here. Without
App credentials the server still starts (so a new deployment can be probed and registered):
/healthz answers, webhooks get 503 and the log says how to register the App.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import db, logs
from bot.metrics import QUEUE_DEPTH, exposition
from bot.queue import jobs
from bot.queue.worker import PERIODIC, TaskContext, Wakeup, Worker
from bot.settings import Settings, registration_hint
from bot.web import setup, webhooks

log = logging.getLogger(__name__)
GithubFactory = Callable[[Settings], AbstractAsyncContextManager[Any]]
HANDLER_MODULES = (
    "bot.review.job",
    "bot.waivers.handler",
    "bot.waivers.sweeper",
)  # register HANDLERS, PERIODIC
SHUTDOWN_GRACE_SECONDS = 10.0
PROBE_TIMEOUT_SECONDS = 2.0


@dataclass
class Runtime:
    """What the process holds while it runs: the database, the GitHub client, workers, tasks."""

    settings: Settings
    github_factory: GithubFactory | None = None
    handlers: dict[str, jobs.Handler] | None = None
    migrate: bool | None = None
    database: db.Database | None = None
    github: Any = None
    schema_problem: str | None = None
    wakeup: Wakeup = field(default_factory=Wakeup)
    workers: list[Worker] = field(default_factory=list)
    worker_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    periodic: list[asyncio.Task[None]] = field(default_factory=list)
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def start(self) -> None:
        settings = self.settings
        self._stack.callback(db.hold_sqlite_file(settings.database_url))
        self.database = db.open_database(settings.database_url)
        self._stack.push_async_callback(self.database.dispose)
        if self.migrate if self.migrate is not None else settings.is_sqlite:
            await db.migrate(self.database.engine)
        else:
            with contextlib.suppress(Exception):  # an unreachable database is /readyz's to report
                self.schema_problem = await db.pending_migrations(self.database.engine)
            if self.schema_problem:
                log.error(self.schema_problem)
        if not settings.has_app_credentials:
            log.warning("%s; until then webhooks are refused with 503", registration_hint(settings))
            return
        await self._start_app()

    async def activate(self, settings: Settings) -> None:
        """Take an App registered while the server runs (/setup): webhooks and jobs start now."""
        for secret in settings.secrets():
            logs.register_secret(secret)
        self.settings = settings
        await self._start_app()

    async def _start_app(self) -> None:
        settings = self.settings
        if self.github_factory is None:
            # githubkit is heavy: only a serving process loads it
            from bot.github.client import open_client

            self.github_factory = open_client
        self.github = await self._stack.enter_async_context(self.github_factory(settings))
        handlers = self.handlers if self.handlers is not None else load_handlers()
        assert self.database is not None  # opened by start() before the app part
        if (
            settings.is_sqlite
            and settings.workers
            and (abandoned := await jobs.release_abandoned(self.database))
        ):
            log.warning("resuming %d job(s) a previous run left unfinished", abandoned)
        for number in range(settings.workers):
            worker = Worker(
                settings, self.database, self.github, handlers=handlers, wakeup=self.wakeup
            )
            self.workers.append(worker)
            self.worker_tasks.append(asyncio.create_task(worker.run(), name=f"worker-{number}"))
        context = TaskContext(settings, self.github, self.database.sessions)
        for name, periodic in PERIODIC.items():
            self.periodic.append(
                asyncio.create_task(periodic.loop(context, name), name=f"periodic-{name}")
            )
        log.info(
            "started %d workers (%s) and %d periodic tasks on %s",
            settings.workers,
            ", ".join(sorted(handlers)) or "no handlers",
            len(PERIODIC),
            settings.database_url_for_logs,
        )

    async def stop(self) -> None:
        """Let running jobs finish for a while; cancelled ones go back to the queue."""
        for task in self.periodic:
            task.cancel()
        await asyncio.gather(*self.periodic, return_exceptions=True)
        for worker in self.workers:
            worker.stop()
        if self.worker_tasks:
            _, pending = await asyncio.wait(self.worker_tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._stack.aclose()


def load_handlers() -> dict[str, jobs.Handler]:
    """Import the modules that register job handlers; the ones not written yet are left out."""
    for name in HANDLER_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return jobs.HANDLERS


def create_app(
    settings: Settings,
    *,
    github_factory: GithubFactory | None = None,
    handlers: dict[str, jobs.Handler] | None = None,
    migrate: bool | None = None,
) -> Starlette:
    """The ASGI app. `migrate` defaults to on for SQLite (embedded) and off for PostgreSQL.

    `github_factory(settings)` is an async context manager yielding the GitHub client that every
    job shares (default: `bot.github.client.open_client`); `handlers` defaults to `jobs.HANDLERS`.
    """
    for secret in settings.secrets():
        logs.register_secret(secret)
    runtime = Runtime(settings, github_factory, handlers, migrate)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        gc.freeze()  # what startup loaded (githubkit's models...) stays: full collections skip it (30-45 ms)
        try:
            yield
        finally:
            gc.unfreeze()  # collectable again once the app stops (tests start many apps in one process)
            await runtime.stop()

    app = Starlette(
        routes=[
            Route("/webhooks", webhooks.receive, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *setup.ROUTES,
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.body_budget = webhooks.BodyBudget(webhooks.BODY_BUDGET_BYTES)
    return app


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    database = runtime.database
    if runtime.schema_problem:  # until someone runs `footgun db upgrade`
        with contextlib.suppress(Exception):
            runtime.schema_problem = await db.pending_migrations(database.engine)
    if runtime.schema_problem:
        return JSONResponse(
            {"status": "unavailable", "database": runtime.schema_problem}, status_code=503
        )
    try:
        await asyncio.wait_for(db.ping(database), PROBE_TIMEOUT_SECONDS)
    except Exception as exc:
        log.warning("readyz: database unreachable: %s", exc.__class__.__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    try:
        await asyncio.wait_for(database.run(db.probe_write), PROBE_TIMEOUT_SECONDS)
    except Exception as exc:
        log.error("readyz: the database cannot store anything: %s", _one_line(exc))
        return JSONResponse(
            {"status": "unavailable", "database": "cannot write (disk full or read-only?)"},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok"})


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


async def metrics(request: Request) -> Response:
    database = request.app.state.runtime.database
    with contextlib.suppress(Exception):
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            depth = await database.run(jobs.queue_depth)
        QUEUE_DEPTH.clear()
        for kind in set(depth) | set(jobs.HANDLERS):
            QUEUE_DEPTH.labels(kind).set(depth.get(kind, 0))
    body, content_type = exposition()
    return Response(body, media_type=content_type)
