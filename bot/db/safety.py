"""Safety scanner verdicts that led to a flag."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.schema import safety_flags


@dataclass(frozen=True, slots=True)
class SafetyFlag:
    id: int
    guild_id: int
    channel_id: int
    message_id: int
    user_id: int
    verdict: str
    categories: dict[str, Any]
    scanner: str
    action: str | None
    content: str | None
    created_at: datetime


async def record_safety_flag(
    engine: AsyncEngine,
    *,
    guild_id: int,
    channel_id: int,
    message_id: int,
    user_id: int,
    verdict: str,
    categories: Mapping[str, Any],
    scanner: str,
    action: str | None = None,
    content: str | None = None,
    now: datetime | None = None,
) -> int:
    """Store a flag; pass `content` only when the guild keeps message content (it is purged with message_log)."""
    stmt = (
        insert(safety_flags)
        .values(
            guild_id=guild_id,
            channel_id=channel_id,
            message_id=message_id,
            user_id=user_id,
            verdict=verdict,
            categories=dict(categories),
            scanner=scanner,
            action=action,
            content=content,
            created_at=now or datetime.now(UTC),
        )
        .returning(safety_flags.c.id)
    )
    async with engine.begin() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def list_safety_flags(engine: AsyncEngine, guild_id: int, *, limit: int = 50) -> list[SafetyFlag]:
    query = (
        select(safety_flags)
        .where(safety_flags.c.guild_id == guild_id)
        .order_by(safety_flags.c.created_at.desc(), safety_flags.c.id.desc())
        .limit(limit)
    )
    async with engine.connect() as conn:
        return [SafetyFlag(**r._mapping) for r in await conn.execute(query)]
