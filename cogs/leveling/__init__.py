"""Leveling: MEE6-style XP per message, level-up announcements, role rewards, /rank cards and a leaderboard.

The rules live in `bot.leveling` (pure); this cog feeds it messages from the gateway's pipeline, writes XP through
the shared write-behind `XPBuffer` and turns level changes into Discord messages and roles.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bot.db.xp_writer import XPBuffer
from bot.gateway import STAGE_LEVELING
from cogs.leveling._service import LevelingService
from cogs.leveling.commands import LevelingCommands
from cogs.leveling.events import LevelingEvents

if TYPE_CHECKING:
    from bot.gateway import StewardBot

FLUSH_INTERVAL = 5.0  # seconds of XP a crash can lose; a clean shutdown loses none


def xp_buffer(bot: StewardBot) -> XPBuffer:
    """The process's one XP buffer (in services.extras), created, flushed periodically and on shutdown on first use."""
    extras = bot.services.extras
    buffer = extras.get("xp_buffer")
    if buffer is None:
        if bot.services.db is None:
            raise RuntimeError("the leveling cog needs the database (services.db is not set)")
        buffer = XPBuffer(bot.services.db)
        extras["xp_buffer"] = buffer
        extras.setdefault("shutdown_hooks", []).append(buffer.flush)
        task_group = extras.get("task_group")
        if task_group is not None:
            task_group.start_soon(buffer.run_periodically, FLUSH_INTERVAL)
    return buffer


def setup(bot: StewardBot) -> None:
    service = LevelingService(bot.services.db, xp_buffer(bot), clock=bot.services.extras.get("clock", time.monotonic))
    bot.services.extras["leveling"] = service
    events = LevelingEvents(bot, service)
    bot.add_cog(events)
    bot.add_cog(LevelingCommands(bot, service))
    bot.add_message_stage(STAGE_LEVELING, "leveling", events.message_stage)


def teardown(bot: StewardBot) -> None:
    bot.remove_message_stage("leveling")
