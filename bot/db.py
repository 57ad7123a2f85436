"""Database models and the engine: SQLite embedded by default, PostgreSQL for replicas.

Alembic owns the schema (`migrations/`); `migrate()` applies it and the tests run it too, so the
models here and the migrations are checked against each other on every test run.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Engine,
    create_engine,
    event,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
P = ParamSpec("P")
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends (SQLite stores naive text, so it is normalised here)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Delivery(Base):
    """One webhook delivery GitHub sent us, accepted or refused; unique on `X-GitHub-Delivery`."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    event: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(64))
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    repository: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


class Job(Base):
    """Work taken off the webhook path; claimed by one worker at a time under a lease."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "status", "run_after"),
        Index("ix_jobs_dedupe_key", "dedupe_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(128))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(400))
    delivery_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Installation(Base):
    """An installation of the App on an account, as the `installation` events report it."""

    __tablename__ = "installations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    account: Mapped[str | None] = mapped_column(String(255))
    account_type: Mapped[str | None] = mapped_column(String(32))
    repository_selection: Mapped[str | None] = mapped_column(String(16))
    suspended: Mapped[bool] = mapped_column(default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class InstallationRepository(Base):
    """A repository an installation may act on (`installation_repositories` keeps it current)."""

    __tablename__ = "installation_repositories"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    installation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("installations.id", ondelete="CASCADE"), index=True
    )
    full_name: Mapped[str] = mapped_column(String(255), index=True)
    private: Mapped[bool | None] = mapped_column()


class PullRequest(Base):
    """Head SHA -> pull request: check events of fork PRs arrive with an empty `pull_requests`."""

    __tablename__ = "pull_requests"
    __table_args__ = (UniqueConstraint("repository", "number"), Index("ix_pull_requests_head", "head_sha"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    repository: Mapped[str] = mapped_column(String(255))
    number: Mapped[int] = mapped_column(Integer)
    head_sha: Mapped[str] = mapped_column(String(64))
    head_repository: Mapped[str | None] = mapped_column(String(255))
    base_ref: Mapped[str] = mapped_column(String(255))
    base_sha: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    github_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


@dataclass
class Database:
    """The engines and the async session factory shared by the app, the workers and the handlers.

    `run(fn, ...)` runs our own hot transactions (webhook intake, job claims) as plain functions
    on a sync `Session`. On SQLite they run one at a time on a writer thread with the stdlib
    driver: one thread hop per transaction instead of several per statement through aiosqlite,
    and no busy-waiting between writers of this process. On PostgreSQL they run on the async
    engine through `run_sync`.
    """

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    sqlite_writer: Engine | None = None
    _thread: ThreadPoolExecutor | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def run(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(session, ...)` in a transaction, committed when it returns, rolled back if it raises."""
        if self.sqlite_writer is None:
            async with self.sessions.begin() as session:
                return await session.run_sync(fn, *args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, functools.partial(self._run_sync, fn, *args, **kwargs))

    def _run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with Session(self.sqlite_writer, expire_on_commit=False) as session, session.begin():
            return fn(session, *args, **kwargs)

    async def dispose(self) -> None:
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self.sqlite_writer.dispose)
            self._thread.shutdown(wait=True)
        await self.engine.dispose()


def open_database(url: str, **engine_options: Any) -> Database:
    engine = create_async_engine(url, **engine_options)
    if engine.dialect.name != "sqlite":
        return Database(engine, async_sessionmaker(engine, expire_on_commit=False))
    _tune_sqlite(engine.sync_engine)
    writer = create_engine(engine.url.set(drivername="sqlite"), pool_size=1, max_overflow=0)
    _tune_sqlite(writer)
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
    return Database(engine, async_sessionmaker(engine, expire_on_commit=False), writer, thread)


def _tune_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout and `BEGIN IMMEDIATE`: concurrent writers wait instead of failing.

    A deferred transaction that reads and then writes cannot wait for the lock (SQLite answers
    "database is locked" at once); taking the write lock at BEGIN lets the busy timeout work.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(url: str | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply the migrations on `engine`'s own connection (Alembic's connection-sharing recipe)."""
    from alembic import command

    def upgrade(connection: Any) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(upgrade)


async def pending_migrations(engine: AsyncEngine) -> str | None:
    """None when the schema is at the newest migration, else what to do about it."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    async with engine.connect() as connection:
        current = await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    if current == head:
        return None
    return f"the database schema is at revision {current or 'none'}, this version needs {head}: run `footgun db upgrade`"


async def ping(database: Database) -> None:
    """Raise when the database does not answer (for /readyz)."""
    from sqlalchemy import text

    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
