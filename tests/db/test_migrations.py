from __future__ import annotations

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from bot.db.engine import make_engine
from bot.db.migrate import current, downgrade, head_revision, upgrade
from bot.db.schema import metadata

pytestmark = pytest.mark.anyio


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def _schema_diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), metadata)
            )
    finally:
        await engine.dispose()


async def test_upgrade_then_downgrade_then_upgrade(db_url: str) -> None:
    assert await current(db_url) is None
    await upgrade(db_url)
    assert await current(db_url) == head_revision()
    assert set(metadata.tables) <= await _tables(db_url)
    # The migration builds exactly what schema.py declares (types, nullability, indexes).
    assert await _schema_diff(db_url) == []

    await downgrade(db_url, "base")
    assert await current(db_url) is None
    assert not (set(metadata.tables) & await _tables(db_url))

    await upgrade(db_url)
    assert await current(db_url) == head_revision()


async def test_upgrade_is_idempotent(db_url: str) -> None:
    await upgrade(db_url)
    await upgrade(db_url)
    assert await current(db_url) == head_revision()


async def test_two_concurrent_upgrades_both_succeed(db_url: str) -> None:
    """Two processes starting at once: each uses its own engine; the lock serialises them."""
    errors: list[BaseException] = []

    async def one() -> None:
        try:
            await upgrade(db_url)
        except Exception as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(one)
    assert errors == []
    assert await current(db_url) == head_revision()
    assert await _schema_diff(db_url) == []
