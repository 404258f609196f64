"""DB test fixtures: every test runs on SQLite (a temp file) and on the real PostgreSQL (a fresh database of its
own, dropped afterwards)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import make_engine
from bot.db.migrate import upgrade
from tests.services import require_postgres


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_admin_dsn(require_postgres()))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def new_postgres_database() -> tuple[str, Callable[[], None]]:
    """Create a brand-new Postgres database; returns its URL and a function that drops it."""
    base = require_postgres()
    name = f"steward_test_{uuid.uuid4().hex[:12]}"
    # Sync fixtures + asyncio.run: fixture setup happens outside the test's running loop.
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    return url, lambda: asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a brand-new Postgres database for this test only (dropped afterwards)."""
    url, drop = new_postgres_database()
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'steward.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty (never migrated) database on each backend."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database migrated to head."""
    await upgrade(db_url)
    eng = make_engine(db_url)
    try:
        yield eng
    finally:
        await eng.dispose()
