"""Issue 8, the XP half of "SIGTERM under load": a real `bot run --role=all` process, chatted at through the
emulator, gets SIGTERM while its XP deltas are still only in memory; every point it awarded must be in the database.

The bot's own `/metrics` says how much XP it awarded; the SQLite file it leaves behind must hold exactly that much.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from bot.emulator import Emulator
from tests.e2e.emulator_fixtures import emulator  # noqa: F401 - the fixture
from tests.services import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = 120


async def _metric(session: aiohttp.ClientSession, url: str, name: str) -> float | None:
    try:
        async with session.get(url) as resp:
            text = await resp.text()
    except aiohttp.ClientError:
        return None
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


async def _until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_sigterm_flushes_every_awarded_xp_point(emulator: Emulator, tmp_path: Path) -> None:  # noqa: F811
    guild = emulator.create_guild("Busy Club")
    users = [emulator.create_user(f"member{i}") for i in range(MEMBERS)]
    for user in users:
        emulator.add_member(guild.id, user.id)
    port = free_port()
    env = {
        **os.environ,
        "DISCORD_TOKEN": emulator.token,
        "STEWARD_DISCORD__API_BASE": emulator.api_base,
        "STEWARD_DISCORD__COGS": "leveling",
        "STEWARD_DISCORD__GUILD_READY_TIMEOUT": "0.05",
        "STEWARD_BOT__DATA_DIR": str(tmp_path),
        "STEWARD_METRICS__PORT": str(port),
        "REDIS_URL": "",  # the embedded memory queue: this test is about the XP buffer, not Redis
    }
    log = (tmp_path / "bot.log").open("w")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "cli.py"), "run", "--role=all", env=env, stdout=log, stderr=subprocess.STDOUT
    )
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    try:
        async with aiohttp.ClientSession() as http:

            async def connected() -> bool:
                return await _metric(http, metrics_url, "steward_gateway_connected") == 1.0

            await _until(connected, 60, "the bot to connect to the emulator")
            for user in users:  # each member's first message earns 15-25 XP
                await emulator.post_message(guild.system_channel_id, user.id, f"hello from member {user.id}, nice day")

            async def seen_all() -> bool:
                return (await _metric(http, metrics_url, "steward_messages_seen_total") or 0) >= MEMBERS

            await _until(seen_all, 30, "the bot to see every message")
            await asyncio.sleep(0.5)  # the leveling stage awards right after the message is counted
            awarded = await _metric(http, metrics_url, "steward_xp_awarded_total")
        proc.send_signal(signal.SIGTERM)  # well inside the 5 s flush interval: the deltas live only in memory
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
    output = (tmp_path / "bot.log").read_text()
    assert awarded is not None and MEMBERS * 15 <= awarded <= MEMBERS * 25, output[-3000:]
    with sqlite3.connect(tmp_path / "steward.db") as db:
        rows = db.execute("SELECT COUNT(*), SUM(xp) FROM member_xp WHERE guild_id = ?", (guild.id,)).fetchone()
    assert rows == (MEMBERS, awarded), output[-3000:]
