"""Shard settings -> nextcord arguments.

Discord routes a guild's events to shard `(guild_id >> 22) % shard_count`. A process given `shard_ids` runs those
shards only (nextcord's AutoShardedBot), so every guild's events, and the per-guild state the cogs keep in memory
(anti-spam windows, XP buffers), live in exactly one process. Shared state goes through Postgres and Redis.
"""

from __future__ import annotations

from typing import Any

from bot.config import ConfigError, DiscordSettings


def parse_shard_ids(text: str) -> list[int]:
    """Parse "0,1", "0-3" or "0,2-3" into sorted shard ids; ConfigError on anything else."""
    ids: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                ids.extend(range(lo, hi + 1))
            else:
                ids.append(int(part))
        except ValueError:
            raise ConfigError(f"discord.shard_ids: expected numbers like 0,1 or 0-3, got {text!r}") from None
    return sorted(set(ids))


def shard_kwargs(discord: DiscordSettings) -> dict[str, Any] | None:
    """The AutoShardedBot arguments, or None for an unsharded bot (no shard settings)."""
    ids, count = list(discord.shard_ids), discord.shard_count
    if not ids and count <= 0:
        return None
    if ids and count <= 0:
        raise ConfigError("discord.shard_ids: needs discord.shard_count (the total across all processes)")
    bad = [i for i in ids if not 0 <= i < count]
    if bad:
        raise ConfigError(f"discord.shard_ids: {bad} outside 0..{count - 1} (shard_count {count})")
    return {"shard_ids": ids or None, "shard_count": count}  # no ids: this process runs all `count` shards


def shard_of(guild_id: int, shard_count: int) -> int:
    return (guild_id >> 22) % shard_count
