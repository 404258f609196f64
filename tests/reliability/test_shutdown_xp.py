"""Issue 8, the XP half of "SIGTERM under load": a real `bot run --role=all` process, chatted at through the
emulator, gets SIGTERM while its XP deltas are still only in memory; every point it awarded must be in the database.

The bot's own `/metrics` says how much XP it awarded; the SQLite file it leaves behind must hold exactly that much.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.emulator import Emulator
from tests.e2e.bot_process import bot_process, until
from tests.e2e.emulator_fixtures import emulator  # noqa: F401 - the fixture

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MEMBERS = 120


async def test_sigterm_flushes_every_awarded_xp_point(emulator: Emulator, tmp_path: Path) -> None:  # noqa: F811
    guild = emulator.create_guild("Busy Club")
    users = [emulator.create_user(f"member{i}") for i in range(MEMBERS)]
    for user in users:
        emulator.add_member(guild.id, user.id)
    # The embedded memory queue: this test is about the XP buffer, not Redis.
    env = {"STEWARD_DISCORD__COGS": "leveling", "REDIS_URL": ""}
    async with bot_process(emulator, tmp_path, "all", env=env) as bot:
        await until(lambda: bot.metric("steward_gateway_connected"), lambda v: v == 1.0, "the gateway", 60)
        for user in users:  # each member's first message earns 15-25 XP
            await emulator.post_message(guild.system_channel_id, user.id, f"hello from member {user.id}, nice day")  # type: ignore[arg-type]
        seen = "steward_messages_seen_total"
        await until(lambda: bot.metric(seen), lambda v: v == MEMBERS, "every message to be seen")
        await asyncio.sleep(0.5)  # the leveling stage awards right after the message is counted
        awarded = await bot.metric("steward_xp_awarded_total")
        assert awarded is not None and MEMBERS * 15 <= awarded <= MEMBERS * 25, bot.log()
        assert await bot.stop() == 0  # well inside the 5 s flush interval: the deltas live only in memory
        log = bot.log()
    with sqlite3.connect(tmp_path / "steward.db") as db:
        rows = db.execute("SELECT COUNT(*), SUM(xp) FROM member_xp WHERE guild_id = ?", (guild.id,)).fetchone()
    assert rows == (MEMBERS, awarded), log
