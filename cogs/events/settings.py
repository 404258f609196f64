"""Per-guild community-event settings (welcome, auto-role, deletion audit), stored as JSON and cached.

The dataclass is plain Python (no nextcord) so its validation is unit-tested directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from cogs._settings import GuildSettingsStore

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


class EventsStore(GuildSettingsStore[EventsSettings]):
    def __init__(
        self, engine: AsyncEngine, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(engine, FEATURE, EventsSettings, ttl=ttl, clock=clock)
