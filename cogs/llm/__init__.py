"""AI replies: answers mentions, replies to the bot, chat channels (and DMs, opt-in) through the `llm_reply` job,
streamed into a growing reply, fenced and quota'd (`bot/llm/` is the pure core and the worker side).

Split by concern: `events.py` (the message stage and the background reply), `commands.py` (`/llm`), `settings.py`
(per-guild settings store, shared with the safety cog), `_translate.py` (nextcord -> core types, reply chain),
`_reply.py` (sending and editing the answer with mentions fenced).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.gateway import STAGE_LLM
from bot.llm.settings import LLMGuildSettings
from cogs._settings import GuildSettingsStore
from cogs.llm.commands import LLMCommands
from cogs.llm.events import LLMEvents

if TYPE_CHECKING:
    from bot.gateway import StewardBot

log = logging.getLogger(__name__)

FEATURE = "llm"


def setup(bot: StewardBot) -> None:
    if not bot.config.llm.base_url:
        # Said once, at start: the cog still loads so `/llm config show` can explain it, but never answers.
        log.warning("LLM replies are off: no endpoint configured (set llm.base_url or OPENAI_BASE_URL to turn them on)")
    store: GuildSettingsStore[LLMGuildSettings] = GuildSettingsStore(bot.services.db, FEATURE, LLMGuildSettings)
    events = LLMEvents(bot, store)
    bot.services.extras["llm_settings"] = store
    bot.add_cog(events)
    bot.add_cog(LLMCommands(bot, store))
    bot.add_message_stage(STAGE_LLM, "llm", events.message_stage)


def teardown(bot: StewardBot) -> None:
    bot.remove_message_stage("llm")
