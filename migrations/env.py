"""Alembic environment: runs on a shared connection (bot.db.migrate) or on the async URL given."""

from __future__ import annotations

import asyncio

from alembic import context

from bot.db import Base

config = context.config
target_metadata = Base.metadata


def run_on(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async(url: str) -> None:
    from bot.db import open_database

    database = open_database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(run_on)
    finally:
        await database.dispose()


def run_offline(url: str) -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    shared = config.attributes.get("connection")
    if shared is not None:
        run_on(shared)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from bot.settings import load_settings

        url = load_settings().database_url
    if context.is_offline_mode():
        run_offline(url)
    else:
        asyncio.run(run_async(url))


main()
