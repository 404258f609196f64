"""Per-guild feature settings from the `guild_settings` table, cached; typed parsing of an admin's text value; and
the body of a `/<feature> config set <setting> <value>` command.

Used by cogs that keep a frozen settings dataclass (`bot.llm.settings.LLMGuildSettings`,
`bot.safety.settings.SafetyGuildSettings`) as one JSON row per guild and change it one key at a time.
"""

from __future__ import annotations

import logging
import re
import time
import typing
from collections.abc import Callable
from typing import Any, Literal, Protocol, get_args, get_origin

import anyio
import nextcord
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import guild_settings
from cogs._admin import reply

log = logging.getLogger(__name__)

DEFAULT_TTL = 60.0  # another gateway's change shows up within this many seconds


class StoredSettings(Protocol):
    """A frozen settings dataclass with `to_dict()` and a `from_dict()` classmethod raising ValueError."""

    def to_dict(self) -> dict[str, Any]: ...


class FeatureSettings(StoredSettings, Protocol):
    """Settings an admin changes one key at a time (`change_setting`)."""

    def with_setting(self, key: str, value: Any) -> Any: ...


class GuildSettingsStore[S: StoredSettings]:
    """Cache in front of one feature's row; `update` persists first, then swaps the cached copy."""

    def __init__(
        self,
        engine: AsyncEngine | None,
        feature: str,
        cls: type[S],
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.feature = feature
        self.cls = cls
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[int, tuple[float, S]] = {}
        self._lock = anyio.Lock()

    async def get(self, guild_id: int) -> S:
        hit = self._cache.get(guild_id)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        value = self.cls()
        if self.engine is not None:
            raw = await guild_settings.get_settings(self.engine, guild_id, self.feature)
            try:
                value = self.cls.from_dict(raw)  # type: ignore[attr-defined]
            except ValueError as exc:
                log.error("guild %s: ignoring stored %s settings (%s); using defaults", guild_id, self.feature, exc)
        self._cache[guild_id] = (self._clock(), value)
        return value

    async def update(self, guild_id: int, change: Callable[[S], S]) -> S:
        """Apply `change` (which may raise ValueError: nothing is saved then) and store the result."""
        async with self._lock:
            self._cache.pop(guild_id, None)
            new = change(await self.get(guild_id))
            if self.engine is not None:
                await guild_settings.set_settings(self.engine, guild_id, self.feature, new.to_dict())
            self._cache[guild_id] = (self._clock(), new)
            return new


_ID = re.compile(r"\d{1,20}")
_TRUE = {"on", "true", "yes", "1", "enable", "enabled"}
_FALSE = {"off", "false", "no", "0", "disable", "disabled"}


def parse_setting(cls: type, key: str, raw: str) -> Any:
    """An admin's text for `cls.key` as the JSON value `with_setting` validates: "on"/"off" for booleans, numbers,
    comma-separated ids or mentions (`<@1>, <#2>`) for id sets, comma-separated words for string sets, and a JSON
    object (or `a=1, b=2`) for mappings. Raises ValueError naming the key."""
    hints = typing.get_type_hints(cls)
    if key not in hints:
        known = ", ".join(sorted(k for k in hints if not k.startswith("_")))
        raise ValueError(f"{key}: unknown setting (known: {known})")
    typ = hints[key]
    text = raw.strip()
    origin = get_origin(typ)
    if typ is bool:
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise ValueError(f"{key}: expected on/off, got {raw!r}")
    if typ is int and key.endswith("_id"):
        # A channel or role: a mention (`<#123>`), a bare id, or off.
        if text.lower() in {"", "none", "off", "clear", "-", "0"}:
            return 0
        ids = _ID.findall(text)
        if len(ids) != 1:
            raise ValueError(f"{key}: expected one channel, role or id, got {raw!r}")
        return int(ids[0])
    if typ is int or typ is float:
        try:
            return typ(text)
        except ValueError:
            raise ValueError(f"{key}: expected a number, got {raw!r}") from None
    if typ is str or origin is Literal:
        return text
    if origin is frozenset:
        (item,) = get_args(typ)
        if text.lower() in {"", "none", "clear", "-"}:
            return []
        if item is int:
            return [int(x) for x in _ID.findall(text)]
        return [p.strip() for p in text.split(",") if p.strip()]
    if origin is dict:
        if text.lower() in {"", "none", "clear", "-", "{}"}:
            return {}
        if text.startswith("{"):
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{key}: not valid JSON ({exc})") from None
        out: dict[str, Any] = {}
        _, item = get_args(typ)
        for part in text.split(","):
            name, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"{key}: expected name=value pairs, got {part.strip()!r}")
            value = value.strip()
            if item is float:
                try:
                    out[name.strip()] = float(value)
                except ValueError:
                    raise ValueError(f"{key}.{name.strip()}: expected a number, got {value!r}") from None
            elif get_origin(item) is tuple:
                out[name.strip()] = [w.strip() for w in value.split("|") if w.strip()]
            else:
                out[name.strip()] = value
        return out
    raise ValueError(f"{key}: cannot be set from text")


def shown(value: Any) -> str:
    """A stored value as an admin reads it back."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple, frozenset, set)):
        return ", ".join(map(str, value)) or "none"
    if isinstance(value, dict):
        parts = [f"{k}={'|'.join(map(str, v)) if isinstance(v, list) else shown(v)}" for k, v in value.items()]
        return ", ".join(parts) or "none"
    return str(value) if value != "" else "(empty)"


async def change_setting(
    interaction: nextcord.Interaction, store: GuildSettingsStore[FeatureSettings], key: str, value: str, label: str
) -> None:
    """Parse, validate, save and confirm one setting; a bad value is one line and nothing is saved."""
    key = key.strip().lower()
    try:
        parsed = parse_setting(store.cls, key, value)
        updated = await store.update(interaction.guild_id, lambda s: s.with_setting(key, parsed))  # type: ignore[arg-type]
    except ValueError as exc:
        await reply(interaction, f"Not changed: {exc}")
        return
    now = shown(updated.to_dict()[key])
    log.info("guild %s: %s set %s %s to %s", interaction.guild_id, interaction.user.id, store.feature, key, now)  # type: ignore[union-attr]
    await reply(interaction, f"{label}: `{key}` is now `{now}`.")
