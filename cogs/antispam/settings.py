"""Per-guild anti-spam configuration, loaded from the database once and cached.

Stored as the guild's `antispam` feature row: only the detector settings that differ from the defaults (so a guild
that never changed a threshold follows improved defaults), plus the cog's own `modlog_channel_id`. A row the
detector rejects (hand-edited, or from a newer version) is logged and ignored rather than half-applied.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.antispam import DEFAULT_SETTINGS, SpamSettings
from bot.db.guild_settings import get_settings, set_settings

log = logging.getLogger(__name__)

FEATURE = "antispam"
MODLOG_KEY = "modlog_channel_id"


@dataclass(frozen=True, slots=True)
class GuildAntispam:
    spam: SpamSettings = DEFAULT_SETTINGS
    modlog_channel_id: int | None = None

    def to_row(self) -> dict[str, Any]:
        defaults = DEFAULT_SETTINGS.to_dict()
        row = {k: v for k, v in self.spam.to_dict().items() if defaults.get(k) != v}
        if self.modlog_channel_id is not None:
            row[MODLOG_KEY] = self.modlog_channel_id
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> GuildAntispam:
        """Raises ValueError (from SpamSettings.from_dict) on a bad row."""
        data = dict(row)
        modlog = data.pop(MODLOG_KEY, None)
        if modlog is not None and (isinstance(modlog, bool) or not isinstance(modlog, int)):
            raise ValueError(f"{MODLOG_KEY}: expected a channel id, got {modlog!r}")
        return cls(SpamSettings.from_dict(data), modlog)


class SettingsStore:
    """Cache in front of `guild_settings`; `cached()` is synchronous for the detector's settings callback."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._cache: dict[int, GuildAntispam] = {}
        self._write_lock = anyio.Lock()
        self._load_lock = anyio.Lock()

    def cached(self, guild_id: int) -> GuildAntispam:
        return self._cache.get(guild_id) or GuildAntispam()

    def spam_settings(self, guild_id: int) -> SpamSettings:
        """The detector's `settings_for_guild`: call `get()` first so the cache is warm."""
        return self.cached(guild_id).spam

    async def get(self, guild_id: int) -> GuildAntispam:
        found = self._cache.get(guild_id)
        if found is not None:
            return found
        # One load at a time, and the lock is fair: messages that arrived during the load reach the detector in
        # the order they came (nextcord runs each on_message as its own task).
        async with self._load_lock:
            found = self._cache.get(guild_id)
            if found is not None:
                return found
            row = await get_settings(self.engine, guild_id, FEATURE)
            try:
                found = GuildAntispam.from_row(row)
            except ValueError as exc:
                log.error("guild %s: ignoring stored anti-spam settings (%s); using defaults", guild_id, exc)
                found = GuildAntispam()
            self._cache[guild_id] = found
            return found

    async def update(self, guild_id: int, **changes: Any) -> GuildAntispam:
        """Persist first, then swap the cache: the next message sees the new settings, a restart too."""
        async with self._write_lock:
            current = await self.get(guild_id)
            updated = dataclasses.replace(current, **changes)
            await set_settings(self.engine, guild_id, FEATURE, updated.to_row())
            self._cache[guild_id] = updated
            return updated

    def invalidate(self, guild_id: int) -> None:
        self._cache.pop(guild_id, None)
