"""Per-guild community-event settings (welcome, auto-role, deletion audit), stored as JSON and cached.

The dataclass is plain Python (no nextcord) so its validation is unit-tested directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import guild_settings

log = logging.getLogger(__name__)

FEATURE = "events"
DEFAULT_WELCOME = "Welcome to {server}, {user}!"
MAX_TEMPLATE_LENGTH = 1000
DEFAULT_TTL = 60.0  # other gateways' changes show up within this many seconds


class EventsSettingsError(ValueError):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"events setting {key!r}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True, slots=True)
class EventsSettings:
    """Everything off by default: a guild opts in to each feature by naming its channel or role."""

    welcome_channel_id: int | None = None
    welcome_template: str = DEFAULT_WELCOME
    autorole_id: int | None = None
    audit_channel_id: int | None = None

    def __post_init__(self) -> None:
        for key in ("welcome_channel_id", "autorole_id", "audit_channel_id"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise EventsSettingsError(key, f"must be a Discord id, got {value!r}")
        template = self.welcome_template
        if not isinstance(template, str) or not template.strip():
            raise EventsSettingsError("welcome_template", "must be a non-empty string")
        if len(template) > MAX_TEMPLATE_LENGTH:
            raise EventsSettingsError("welcome_template", f"must be <= {MAX_TEMPLATE_LENGTH} characters")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventsSettings:
        """From stored JSON, where ids are strings (snowflakes exceed JavaScript's 2^53); missing keys default."""
        known = set(cls.__dataclass_fields__)
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise EventsSettingsError(str(key), "unknown setting")
            if key.endswith("_id") and value is not None:
                if isinstance(value, str) and value.strip().isdigit():
                    value = int(value)
                elif isinstance(value, bool) or not isinstance(value, int):
                    raise EventsSettingsError(key, f"must be a Discord id, got {value!r}")
            kwargs[key] = value
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        def sid(value: int | None) -> str | None:
            return None if value is None else str(value)

        return {
            "welcome_channel_id": sid(self.welcome_channel_id),
            "welcome_template": self.welcome_template,
            "autorole_id": sid(self.autorole_id),
            "audit_channel_id": sid(self.audit_channel_id),
        }


class EventsStore:
    def __init__(
        self, engine: AsyncEngine, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[int, tuple[float, EventsSettings]] = {}

    async def settings(self, guild_id: int) -> EventsSettings:
        entry = self._cache.get(guild_id)
        if entry is not None and self._clock() - entry[0] < self._ttl:
            return entry[1]
        raw = await guild_settings.get_settings(self._engine, guild_id, FEATURE)
        try:
            value = EventsSettings.from_dict(raw)
        except EventsSettingsError as exc:
            log.warning("guild %s: stored events settings are invalid (%s); using defaults", guild_id, exc)
            value = EventsSettings()
        self._cache[guild_id] = (self._clock(), value)
        return value

    async def update(self, guild_id: int, change: Callable[[EventsSettings], EventsSettings]) -> EventsSettings:
        """Apply `change` to the stored settings, save, and replace the cached copy (effective at once)."""
        self._cache.pop(guild_id, None)
        new = change(await self.settings(guild_id))
        await guild_settings.set_settings(self._engine, guild_id, FEATURE, new.to_dict())
        self._cache[guild_id] = (self._clock(), new)
        return new
