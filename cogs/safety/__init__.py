"""Safety scans: the gateway decides which guild messages to scan (`bot.safety.gate`), queues `safety_scan` jobs
and acts on the verdict per category — a report embed in the audit channel, deleting the message, or timing its
author out (after deleting it) — or, in dry-run mode, only reports what it would have done.

Split by concern: `events.py` (the message stage and the background scan), `commands.py` (`/safety`), `settings.py`
(per-guild settings store), `_actions.py` (Discord calls), `_report.py` (the audit embed and the outcome text).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.gateway import STAGE_SAFETY
from cogs.safety.commands import SafetyCommands
from cogs.safety.events import SafetyEvents
from cogs.safety.settings import safety_store

if TYPE_CHECKING:
    from bot.gateway import StewardBot


def setup(bot: StewardBot) -> None:
    store = safety_store(bot.services.db)
    bot.services.extras["safety_settings"] = store
    events = SafetyEvents(bot, store)
    bot.add_cog(events)
    bot.add_cog(SafetyCommands(bot, store, events))
    bot.add_message_stage(STAGE_SAFETY, "safety", events.message_stage)


def teardown(bot: StewardBot) -> None:
    bot.remove_message_stage("safety")
