"""Per-guild safety settings (`bot.safety.settings.SafetyGuildSettings`), one JSON row per guild, cached.

The store and the admin-text parsing are shared with the llm cog (`cogs/_settings.py`).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.safety.settings import SafetyGuildSettings
from cogs._settings import GuildSettingsStore, parse_setting, shown

FEATURE = "safety"

SafetyStore = GuildSettingsStore[SafetyGuildSettings]


def safety_store(engine: AsyncEngine | None) -> SafetyStore:
    return GuildSettingsStore(engine, FEATURE, SafetyGuildSettings)


__all__ = ["FEATURE", "SafetyStore", "parse_setting", "safety_store", "shown"]
