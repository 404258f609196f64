"""Run Alembic migrations from async code, with a lock so that two processes starting at once are safe.

The whole upgrade runs in ONE transaction that first takes a lock:
- PostgreSQL: `pg_advisory_xact_lock` (released at commit); DDL is transactional, so a crash rolls back.
- SQLite: `BEGIN IMMEDIATE` takes the database write lock; the other process waits (busy timeout), then finds
  the schema already at head and does nothing.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.db.engine import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant shared by every Steward process: "stewardmigrate" folded into a signed 64-bit int.
PG_MIGRATION_LOCK_KEY = 0x5374657761726D67 - (1 << 63)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


@asynccontextmanager
async def _engine_for(target: str | AsyncEngine) -> AsyncIterator[AsyncEngine]:
    if isinstance(target, AsyncEngine):
        yield target
        return
    engine = make_engine(target, pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def locked_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction holding the migration lock; commits on success."""
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK_KEY})
            yield conn


_process_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _process_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _process_locks.get(loop)
    if lock is None:
        lock = _process_locks[loop] = asyncio.Lock()
    return lock


async def _run_command(target: str | AsyncEngine, fn: Callable[[Config], None]) -> None:
    def run(sync_conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        fn(cfg)

    # Alembic keeps the running migration in module globals (`alembic.context`, `alembic.op`), so two runs in one
    # process must not interleave either, even on different databases: a process-wide lock first, then the DB's.
    async with _process_lock(), _engine_for(target) as engine, locked_transaction(engine) as conn:
        await conn.run_sync(run)


async def upgrade(url: str | AsyncEngine, rev: str = "head") -> None:
    """Apply migrations up to `rev` (default: the newest shipped)."""
    await _run_command(url, lambda cfg: command.upgrade(cfg, rev))


async def downgrade(url: str | AsyncEngine, rev: str) -> None:
    """Revert migrations down to `rev` ("base" removes every table)."""
    await _run_command(url, lambda cfg: command.downgrade(cfg, rev))


async def current(url: str | AsyncEngine) -> str | None:
    """The database's revision, or None when it was never migrated."""
    async with _engine_for(url) as engine, engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
