"""Anti-spam: acts on the pure detector's verdicts (`bot/antispam/`) — deletes spam, strikes and escalates,
records every action and posts it to the mod log — and the `/antispam` admin commands.

Split by concern: `events.py` (the message stage and enforcement), `commands.py` (slash commands), `settings.py`
(per-guild settings from the database, cached), `_logic.py` (pure decisions), `_actions.py` (Discord calls).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.gateway import STAGE_ANTISPAM
from cogs.antispam.commands import AntispamCommands
from cogs.antispam.events import AntispamEvents

if TYPE_CHECKING:
    from bot.gateway import StewardBot


def setup(bot: StewardBot) -> None:
    engine = bot.services.db
    if engine is None:
        raise RuntimeError("the antispam cog needs the database (strikes and settings are stored there)")
    events = AntispamEvents(bot, engine)
    bot.add_cog(events)
    bot.add_cog(AntispamCommands(bot, events))
    bot.add_message_stage(STAGE_ANTISPAM, "antispam", events.message_stage)


def teardown(bot: StewardBot) -> None:
    bot.remove_message_stage("antispam")
