"""Per-guild LLM settings (triggers, allow/block lists, quotas, error mode) and the JSON round trip they share with
the safety settings.

Settings are frozen dataclasses; `from_dict` rejects unknown keys and wrong types with a ValueError that names the
key, so a bad `/llm set` or a corrupted row never half-applies. Missing keys take the defaults.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.typed import check_type

ErrorMode = Literal["message", "silent"]


def settings_from_dict[T](cls: type[T], data: Any) -> T:
    if not isinstance(data, Mapping):
        raise ValueError(f"settings must be a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            raise ValueError(f"{key}: unknown setting (known: {', '.join(sorted(known))})")
        kwargs[key] = check_type(key, value, hints[key])
    return cls(**kwargs)


def settings_to_dict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, dict):
            value = dict(value)
        out[f.name] = value
    return out


def check_non_negative(obj: Any) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise ValueError(f"{f.name}: must not be negative, got {value}")


@dataclass(frozen=True, slots=True)
class LLMGuildSettings:
    enabled: bool = True
    # triggers (a message gets at most one reply whatever matches)
    reply_on_mention: bool = True
    reply_on_reply: bool = True  # a reply to one of the bot's messages
    chat_channel_ids: frozenset[int] = frozenset()  # every message there is answered
    # "active chat": join in when a channel is busy (opt-in)
    active_chat: bool = False
    active_chat_messages: int = 6
    active_chat_authors: int = 3
    active_chat_window: float = 20.0
    active_chat_chance: float = 0.1
    active_chat_cooldown: float = 600.0  # seconds between two active-chat replies in one guild
    # who and where: a block list always wins; a non-empty allow list admits only what it names
    allowed_user_ids: frozenset[int] = frozenset()
    blocked_user_ids: frozenset[int] = frozenset()
    allowed_role_ids: frozenset[int] = frozenset()
    blocked_role_ids: frozenset[int] = frozenset()
    allowed_channel_ids: frozenset[int] = frozenset()
    blocked_channel_ids: frozenset[int] = frozenset()
    # quotas per UTC day; 0 = unlimited
    user_requests_per_day: int = 50
    user_tokens_per_day: int = 50_000
    guild_requests_per_day: int = 500
    guild_tokens_per_day: int = 500_000
    user_cooldown: float = 10.0  # seconds between two requests of one member
    error_mode: ErrorMode = "message"  # "message": one short line on failure; "silent": log only
    instructions: str = field(default="")  # extra system-prompt text set by the guild's admins

    def __post_init__(self) -> None:
        check_non_negative(self)
        if not 0.0 <= self.active_chat_chance <= 1.0:
            raise ValueError(f"active_chat_chance: must be between 0 and 1, got {self.active_chat_chance}")
        if self.active_chat_messages < 1 or self.active_chat_authors < 1:
            raise ValueError("active_chat_messages/active_chat_authors: must be at least 1")
        if len(self.instructions) > 2000:
            raise ValueError(f"instructions: at most 2000 characters, got {len(self.instructions)}")

    def to_dict(self) -> dict[str, Any]:
        return settings_to_dict(self)

    @classmethod
    def from_dict(cls, data: Any) -> LLMGuildSettings:
        return settings_from_dict(cls, data)

    def with_setting(self, key: str, value: Any) -> LLMGuildSettings:
        return self.from_dict({**self.to_dict(), key: value})
