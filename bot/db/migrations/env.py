"""Alembic environment for Steward.

Two ways in:
- programmatically (bot.db.migrate): the caller puts an open *sync* Connection (from
  AsyncConnection.run_sync) in `config.attributes["connection"]`,
  inside a transaction holding the migration lock; we just run.
- the plain `alembic` CLI: we build an async engine from `-x url=...`, DATABASE_URL or alembic.ini, and run.
Nothing here depends on the current directory.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from bot.db.engine import make_engine, parse_url
from bot.db.schema import metadata

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def _cli_url() -> str:
    return (
        context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
        or ""
    )


async def _run_cli_online() -> None:
    engine = make_engine(_cli_url())
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(
        url=parse_url(_cli_url()),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


shared = config.attributes.get("connection")
if shared is not None:
    _run(shared)
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    if context.is_offline_mode():
        _run_offline()
    else:
        asyncio.run(_run_cli_online())
