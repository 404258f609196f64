"""Per-guild leveling settings and role rewards: read through a small cache, written straight to the database.

The message stage reads settings on every message, so they are cached; a write replaces the cached copy at once
(the admin sees the change on the next message). Entries also expire after `ttl` seconds so that, with several
gateways sharing one database, a change made through another gateway shows up here within a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import level_rewards
from bot.leveling import LevelingSettings
from cogs._settings import GuildSettingsStore

FEATURE = "leveling"
DEFAULT_TTL = 60.0


class LevelingStore(GuildSettingsStore[LevelingSettings]):
    def __init__(
        self, engine: AsyncEngine, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(engine, FEATURE, LevelingSettings, ttl=ttl, clock=clock)
        self._rewards: dict[int, tuple[float, dict[int, int]]] = {}

    def cached(self, guild_id: int) -> LevelingSettings:
        """What the guild's settings were when last loaded (defaults if never): for the synchronous core."""
        entry = self._cache.get(guild_id)
        return entry[1] if entry is not None else LevelingSettings()

    async def rewards(self, guild_id: int) -> dict[int, int]:
        """level -> reward role id."""
        entry = self._rewards.get(guild_id)
        if entry is not None and self._clock() - entry[0] < self._ttl:
            return entry[1]
        rows = await level_rewards.list_level_rewards(self.engine, guild_id)
        # One role per level (set_reward keeps it so); if the table holds more, the highest role id wins.
        value = {row.level: row.role_id for row in rows}
        self._rewards[guild_id] = (self._clock(), value)
        return value

    async def set_reward(self, guild_id: int, level: int, role_id: int) -> None:
        """The reward for `level` becomes `role_id` (replacing any other role at that level)."""
        await level_rewards.remove_level_reward(self.engine, guild_id, level)
        await level_rewards.add_level_reward(self.engine, guild_id, level, role_id)
        self._rewards.pop(guild_id, None)

    async def remove_reward(self, guild_id: int, level: int) -> int:
        removed = await level_rewards.remove_level_reward(self.engine, guild_id, level)
        self._rewards.pop(guild_id, None)
        return removed
