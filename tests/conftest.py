"""Fixtures for the App's tests: a migrated database on SQLite and on PostgreSQL, and the app."""

from __future__ import annotations

import os
import uuid

import pytest

POSTGRES_ENV = "FOOTGUN_TEST_DATABASE_URL"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request, tmp_path):
    """A fresh, empty database per test: a SQLite file, or a PostgreSQL database made for it."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'footgun.db'}"
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (set by .ci/run when a server answers)")
    asyncpg = pytest.importorskip("asyncpg")
    from sqlalchemy.engine import make_url

    from bot.settings import normalise_database_url

    url = make_url(normalise_database_url(server))
    name = f"footgun_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL at {url.render_as_string()} does not answer: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def database(database_url):
    """The migrated database (Alembic, as in production)."""
    from bot import db

    database = db.open_database(database_url)
    await db.migrate(database.engine)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def make_settings(database_url):
    """Settings with test App credentials on this test's database; keyword overrides."""
    from bot.settings import load_settings
    from tests.webhooks import PRIVATE_KEY, SECRET

    def make(**overrides):
        values = {
            "app_id": 1,
            "private_key": PRIVATE_KEY,
            "webhook_secret": SECRET,
            "database_url": database_url,
            "workers": 0,
        }
        values.update(overrides)
        return load_settings(**values)

    return make


@pytest.fixture
def serve():
    """`async with serve(settings) as (app, client)`: the app running, an httpx client on it."""
    import contextlib

    import httpx

    from bot.web.app import create_app

    @contextlib.asynccontextmanager
    async def serving(settings, **options):
        options.setdefault("github_factory", lambda _settings: contextlib.nullcontext(None))
        options.setdefault("handlers", {})
        options.setdefault("migrate", True)
        app = create_app(settings, **options)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://footgun.test"
            ) as client:
                yield app, client

    return serving


@pytest.fixture
async def app_client(make_settings, serve):
    """The app with credentials and no workers (jobs stay queued for the test to inspect)."""
    async with serve(make_settings()) as (app, client):
        yield app, client


@pytest.fixture
def world(respx_mock):
    """The fake GitHub with the App installed on `acme/mesh`, and the App's client."""
    from tests.fakegithub.world import make_world

    return make_world(respx_mock)
