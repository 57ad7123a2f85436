"""Database models and the engine: SQLite embedded by default, PostgreSQL for replicas.

Alembic owns the schema (`migrations/`); `migrate()` applies it and the tests run it too, so the
models here and the migrations are checked against each other on every test run.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
GROUP_COMMIT_MAX = 256
"""Most calls one SQLite transaction commits together: bounds how long the write lock is held."""
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
    claim_session: Mapped[int | None] = mapped_column(Integer)
    """PostgreSQL: the backend pid of the claiming worker's session, which holds the job's
    advisory lock until the job ends or the process dies (then the job is resumed at once)."""
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
    __table_args__ = (
        UniqueConstraint("repository", "number"),
        Index("ix_pull_requests_head", "head_sha"),
    )

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
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set when GitHub reports the PR merged: its waivers become cleanup obligations."""


class Waiver(Base):
    """A `/footgun waive` that was granted: which findings, why, until when, by whom.

    `fingerprints` are the findings the target resolved to at the PR head when it was granted, so
    a waiver never silently widens to findings added later. `status` moves once from `active` to
    `revoked`, `expired`, `cleaned_up` or `overdue`; rows are never deleted. A sweeper replica
    claims a transition by setting `claimed_by`/`claimed_until` with a conditional UPDATE.
    """

    __tablename__ = "waivers"
    __table_args__ = (
        Index("ix_waivers_due", "status", "expires_at"),
        Index("ix_waivers_pull", "repository", "pull_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    installation_id: Mapped[int] = mapped_column(BigInteger)
    repository: Mapped[str] = mapped_column(String(255))
    pull_number: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(500))
    resources: Mapped[list[str]] = mapped_column(JSON)
    fingerprints: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date] = mapped_column(Date)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    command_url: Mapped[str] = mapped_column(String(500))
    command_key: Mapped[str] = mapped_column(String(100), unique=True)
    """`<comment kind>:<comment id>:<line>`: a retried command job finds its waiver again."""
    status: Mapped[str] = mapped_column(String(16), default="active")
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(255))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WaiverEvent(Base):
    """The append-only audit log: created, refused, revoked, reminded, expired, cleaned up, issue opened."""

    __tablename__ = "waiver_events"
    __table_args__ = (Index("ix_waiver_events_waiver", "waiver_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    waiver_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("waivers.id"))
    repository: Mapped[str] = mapped_column(String(255))
    pull_number: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SlashCommand(Base):
    """A comment whose commands were executed: an edit or a redelivery never runs them twice.

    The rows of one user in one repository are also that user's quota (commented comments per
    hour), and `role` the repository role looked up for the comment, if one was.
    """

    __tablename__ = "slash_commands"
    __table_args__ = (
        UniqueConstraint("comment_kind", "comment_id"),
        Index("ix_slash_commands_quota", "repository", "author", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_kind: Mapped[str] = mapped_column(String(16))
    comment_id: Mapped[int] = mapped_column(BigInteger)
    repository: Mapped[str] = mapped_column(String(255))
    pull_number: Mapped[int] = mapped_column(Integer)
    author: Mapped[str | None] = mapped_column(String(255))
    job_id: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    role: Mapped[str | None] = mapped_column(String(16))


class ReviewedHead(Base):
    """What a review found at one head SHA of a pull request: the findings its check reported.

    A `/footgun waive` names findings by rule and target; resolving them here costs no GitHub
    call, where analysing the head again would read the repository (tens of calls on a cold
    cache, more the larger the pull request). `findings` holds, per finding, what a target is
    matched on: `[rule, severity, path, line, column, kind, namespace, name, fingerprint, target]`.
    """

    __tablename__ = "reviewed_heads"
    __table_args__ = (UniqueConstraint("repository", "pull_number", "head_sha"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(String(255))
    pull_number: Mapped[int] = mapped_column(Integer)
    head_sha: Mapped[str] = mapped_column(String(64))
    findings: Mapped[list[list[Any]]] = mapped_column(JSON)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnconcludedCheck(Base):
    """A check run a job could not conclude: a sweep does it later.

    A review that failed (GitHub did not answer even the conclusion), or one skipped because the
    pull request's head moved on after an earlier attempt had started the check
    (`superseded_by`: the new head). One row per head SHA; the sweep concludes the App's check
    run there with `reason` unless something else has completed it meanwhile, then deletes the
    row.
    """

    __tablename__ = "unconcluded_checks"
    __table_args__ = (UniqueConstraint("repository", "head_sha"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    installation_id: Mapped[int] = mapped_column(BigInteger)
    repository: Mapped[str] = mapped_column(String(255))
    head_sha: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    superseded_by: Mapped[str | None] = mapped_column(String(64))
    """The newer head of a skipped review: its check run concludes `skipped`, and none is made."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """Also the claim: a sweep moves it forward before trying, so replicas do not both try."""
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Readiness(Base):
    """One row /readyz rewrites: the database answering is not enough, it must take writes."""

    __tablename__ = "readiness"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CleanupIssue(Base):
    """The one cleanup issue of a waiver: the unique `waiver_id` holds even when sweepers race.

    The row is inserted before the issue is created on GitHub; `issue_number` is filled in after.
    A failed attempt ages `reserved_at` so that the next sweep takes the reservation over.
    """

    __tablename__ = "cleanup_issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    waiver_id: Mapped[int] = mapped_column(Integer, ForeignKey("waivers.id"), unique=True)
    repository: Mapped[str] = mapped_column(String(255))
    fingerprints: Mapped[list[str]] = mapped_column(JSON)
    issue_number: Mapped[int | None] = mapped_column(Integer)
    issue_url: Mapped[str | None] = mapped_column(String(500))
    reserved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """When a sweeper took the reservation; one older than the claim lease may be taken over."""


@dataclass
class Database:
    """The engines and the async session factory shared by the app, the workers and the handlers.

    `run(fn, ...)` runs our own hot transactions (webhook intake, job claims) as plain functions
    on a sync `Session`. On SQLite they run on one writer thread with the stdlib driver, which
    commits every transaction waiting for it together (`GroupWriter`); on PostgreSQL each runs
    in its own transaction on the async engine through `run_sync`.
    """

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    writer: GroupWriter | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def run(
        self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`fn(session, ...)` in a transaction, committed when it returns, rolled back if it raises.

        `fn` must not commit or roll back itself. When this returns, what `fn` wrote is committed.
        """
        if self.writer is None:
            async with self.sessions.begin() as session:
                return await session.run_sync(fn, *args, **kwargs)
        return await self.writer.submit(fn, args, kwargs)

    async def dispose(self) -> None:
        if self.writer is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.writer.close)
        await self.engine.dispose()


PG_KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
}
"""PostgreSQL's side of our connections: a replica whose host vanished without closing them is
noticed in about 25 s (the OS default is hours), and the job claims it held are dropped."""


def open_database(url: str, **engine_options: Any) -> Database:
    if url.startswith("postgresql+asyncpg"):
        connect_args = engine_options.setdefault("connect_args", {})
        connect_args.setdefault("server_settings", {}).update(PG_KEEPALIVES)
    engine = create_async_engine(url, **engine_options)
    if engine.dialect.name != "sqlite":
        return Database(engine, async_sessionmaker(engine, expire_on_commit=False))
    _tune_sqlite(engine.sync_engine)
    writer = create_engine(engine.url.set(drivername="sqlite"), pool_size=1, max_overflow=0)
    _tune_sqlite(writer)
    return Database(engine, async_sessionmaker(engine, expire_on_commit=False), GroupWriter(writer))


@dataclass
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    result: Any = None
    error: BaseException | None = None


class GroupWriter:
    """SQLite's one writer: every transaction waiting in its queue is committed in one go.

    SQLite takes one writer at a time and most of a small transaction's cost is fixed (BEGIN,
    COMMIT, a Session); so the thread takes everything queued, runs each call in a SAVEPOINT of
    its own `Session` (a call that raises rolls back its own writes only, and its caller gets the
    exception), then commits once and only then answers every caller. Nobody hears "done" before
    the COMMIT: if it fails, or the process dies first, no caller was told its write was kept.
    """

    def __init__(self, engine: Engine, max_batch: int = GROUP_COMMIT_MAX) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.batches = 0
        """Transactions committed so far (tests and benchmarks read it)."""
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="sqlite-writer", daemon=True)
        self._thread.start()

    def submit(
        self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> asyncio.Future[T]:
        if not self._thread.is_alive():
            raise RuntimeError("the SQLite writer is closed")
        loop = asyncio.get_running_loop()
        call = _Call(fn, args, kwargs, loop.create_future(), loop)
        self._queue.put(call)
        return call.future

    @property
    def waiting(self) -> int:
        """Calls queued for the next transaction."""
        return self._queue.qsize()

    def close(self) -> None:
        """Finish what is queued, then stop the thread and close the connection (blocking)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        late = []  # submitted while closing, behind the stop sign: refused, not left waiting
        while not self._queue.empty():
            call = self._queue.get_nowait()
            if call is not None:
                call.error = RuntimeError("the SQLite writer is closed")
                late.append(call)
        _answer(late)
        self.engine.dispose()

    def _work(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    call = self._queue.get_nowait()
                except queue.Empty:
                    break
                if call is None:
                    stopping = True
                    break
                batch.append(call)
            self._commit(batch)
            _answer(batch)

    def _commit(self, batch: list[_Call]) -> None:
        try:
            with self.engine.connect() as connection, connection.begin():
                for call in batch:
                    _run_in_savepoint(connection, call)
            self.batches += 1
        except Exception as exc:  # BEGIN or COMMIT failed: nothing of this batch was kept
            for call in batch:
                if call.error is None:
                    call.error = exc


def _run_in_savepoint(connection: Connection, call: _Call) -> None:
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        with session.begin():
            call.result = call.fn(session, *call.args, **call.kwargs)
    except Exception as exc:
        call.error = exc
    finally:
        session.close()


def _answer(batch: list[_Call]) -> None:
    """Hand each caller its result, one wake-up per event loop for the whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Call]] = {}
    for call in batch:
        by_loop.setdefault(call.loop, []).append(call)
    for loop, calls in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_settle, calls)


def _settle(calls: list[_Call]) -> None:
    for call in calls:
        if call.future.done():  # the caller was cancelled (client gone); the write stands
            continue
        if call.error is not None:
            call.future.set_exception(call.error)
        else:
            call.future.set_result(call.result)


def dialect_insert(dialect: str) -> Any:
    """The backend's own `insert`, which has `on_conflict_do_nothing` / `_do_update` on both."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def _tune_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout and `BEGIN IMMEDIATE`: concurrent writers wait instead of failing.

    `synchronous=FULL` syncs every commit, so a delivery answered 202 survives a power loss too;
    with group commit one sync serves a whole batch (p99 37.0 ms with NORMAL, 38.8 ms with FULL
    at concurrency 50, benchmarks/README.md). A deferred transaction that reads and then writes cannot wait for the lock (SQLite answers
    "database is locked" at once); taking the write lock at BEGIN lets the busy timeout work.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class DatabaseInUse(Exception):
    """Another process serves this SQLite file: one line, naming the file and that process."""


_HELD: dict[Path, tuple[int, int]] = {}
"""Lock files this process holds: path -> (descriptor, holders in this process)."""


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def hold_sqlite_file(url: str) -> Callable[[], None]:
    """Take the one-process lock of a SQLite database; the function that gives it back.

    One process serves a SQLite file: its workers' claims, the start-up release of abandoned
    jobs and the group writer all assume so, and a second `footgun serve` would take over the
    first one's running jobs and post their comments twice. The lock is an exclusive `flock`
    on `FILE.lock` beside the database (the kernel drops it when the process dies, even by
    SIGKILL). Holding it again in the same process is fine. No-op for PostgreSQL.
    """
    path = sqlite_file(url)
    if path is None:
        return lambda: None
    lock = path.with_name(path.name + ".lock").resolve()
    if lock in _HELD:
        descriptor, count = _HELD[lock]
        _HELD[lock] = (descriptor, count + 1)
        return lambda: _let_go(lock)
    lock.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        raise DatabaseInUse(
            f"the SQLite database {path} is in use by another footgun process (pid {holder}):"
            " one process serves a SQLite file; stop that one first, or use PostgreSQL to run"
            " several replicas"
        ) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    _HELD[lock] = (descriptor, 1)
    return lambda: _let_go(lock)


def _let_go(lock: Path) -> None:
    if lock not in _HELD:
        return
    descriptor, count = _HELD[lock]
    if count > 1:
        _HELD[lock] = (descriptor, count - 1)
        return
    del _HELD[lock]
    os.close(descriptor)  # closing the last descriptor drops the flock


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
        current = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    if current == head:
        return None
    return f"the database schema is at revision {current or 'none'}, this version needs {head}: run `footgun db upgrade`"


async def ping(database: Database) -> None:
    """Raise when the database does not answer (for /readyz)."""
    from sqlalchemy import text

    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def probe_write(session: Session) -> None:
    """Rewrite the readiness row (for /readyz, through `Database.run` like the intake).

    A database that answers may still refuse writes (a full disk, a read-only volume); the
    deliveries would then be lost, so readiness must say so.
    """
    table = Readiness.__table__
    insert = dialect_insert(session.get_bind().dialect.name)
    statement = insert(table).values(id=1, checked_at=utcnow())
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["id"], set_={"checked_at": statement.excluded.checked_at}
        )
    )


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE, DELETE or INSERT matched: SQLAlchemy returns a `CursorResult` for
    those, typed as the general `Result`, so the count is read through the cursor's type."""
    return cast("CursorResult[Any]", result).rowcount
