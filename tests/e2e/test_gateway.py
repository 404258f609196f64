"""StewardBot's own machinery, through the whole bot on the emulator: handed-off background work."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text

from bot.emulator import Emulator
from tests.e2e.steward_fixtures import running_steward

pytestmark = pytest.mark.anyio


async def test_shutdown_lets_running_background_work_finish_before_the_database_closes(
    emulator: Emulator, tmp_path: Path
) -> None:
    finished: list[int] = []
    async with running_steward(emulator, tmp_path, cogs=["status"]) as rt:

        async def slow_write() -> None:
            await anyio.sleep(0.5)  # still running when shutdown begins
            async with rt.db.begin() as conn:
                finished.append((await conn.execute(text("SELECT 1"))).scalar_one())

        rt.bot.background(slow_write)
        await anyio.sleep(0.05)
    assert finished == [1]


async def test_a_failing_background_task_is_logged_and_the_bot_keeps_going(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []
    async with running_steward(emulator, tmp_path, cogs=["status"]) as rt:

        async def broken() -> None:
            raise RuntimeError("boom")

        async def fine(tag: str) -> None:
            ran.append(tag)

        with caplog.at_level(logging.ERROR, logger="bot.gateway"):
            rt.bot.background(broken)
            await anyio.sleep(0.05)
        rt.bot.background(fine, "after")
        await anyio.sleep(0.05)
        assert ran == ["after"] and not rt.stopping.is_set()
    assert any("background task" in r.getMessage() and "broken" in r.getMessage() for r in caplog.records)
