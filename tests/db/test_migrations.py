from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

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


async def test_concurrent_upgrades_in_one_process_both_succeed(db_url: str) -> None:
    """Alembic keeps module globals, so in-process runs are serialised too (even on different databases)."""
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(upgrade, db_url)
    assert await current(db_url) == head_revision()


_UPGRADER = """
import asyncio, os, sys, time
from bot.db.migrate import upgrade
go = sys.argv[2]
while not os.path.exists(go):  # start line: every process has imported everything before any begins
    time.sleep(0.005)
asyncio.run(upgrade(sys.argv[1]))
"""


def test_processes_starting_at_once_do_not_corrupt_anything(db_url: str, tmp_path: Path) -> None:
    """Three `bot run` processes migrating the same fresh database at the same moment."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", _UPGRADER, db_url, str(go)], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    time.sleep(1.5)  # let them all import (2 CPUs shared with other test runs)
    go.touch()
    for proc in procs:
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
    assert anyio.run(current, db_url) == head_revision()
    assert anyio.run(_schema_diff, db_url) == []
