"""Alembic owns the schema: the migrations build exactly what the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot import db
from bot.cli import main as cli

pytestmark = pytest.mark.anyio
TABLES = {
    "alembic_version",
    "deliveries",
    "jobs",
    "installations",
    "installation_repositories",
    "pull_requests",
    "waivers",
    "waiver_events",
    "slash_commands",
    "cleanup_issues",
    "unconcluded_checks",
    "readiness",
    "reviewed_heads",
}


async def test_migrations_match_the_models(database):
    def differences(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.Base.metadata)

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert tables == TABLES


async def test_migrating_twice_changes_nothing(database):
    await db.migrate(database.engine)
    async with database.engine.connect() as connection:
        revision = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    assert revision == "0006"


def test_footgun_db_upgrade_applies_the_migrations(tmp_path, monkeypatch, capsys):
    path = tmp_path / "cli.db"
    monkeypatch.setenv("FOOTGUN_DATABASE_URL", f"sqlite:///{path}")
    assert cli.main(["db", "upgrade"]) == 0
    assert "is up to date" in capsys.readouterr().out
    import sqlite3

    with sqlite3.connect(path) as connection:
        tables = {
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    assert tables == TABLES


def test_footgun_db_upgrade_without_a_database_server_is_one_line(monkeypatch, capsys):
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv(
        "FOOTGUN_DATABASE_URL", f"postgresql://footgun:hunter2@127.0.0.1:{port}/footgun"
    )
    assert cli.main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"footgun: cannot reach the database at postgresql+asyncpg://footgun:***@127.0.0.1:{port}/"
    )
    assert err.count("\n") == 1 and "hunter2" not in err
