"""Spam strikes (expiring, pardonable) and the moderation action log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import false, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.schema import mod_actions, spam_strikes


@dataclass(frozen=True, slots=True)
class ModAction:
    id: int
    guild_id: int
    user_id: int
    moderator_id: int | None
    rule: str | None
    action: str
    reason: str | None
    created_at: datetime


async def add_strike(
    engine: AsyncEngine,
    guild_id: int,
    user_id: int,
    rule: str,
    *,
    expires_at: datetime | None,
    now: datetime | None = None,
) -> int:
    """Record a strike; returns its id. `expires_at=None` means it never expires."""
    stmt = (
        insert(spam_strikes)
        .values(
            guild_id=guild_id, user_id=user_id, rule=rule, created_at=now or datetime.now(UTC), expires_at=expires_at
        )
        .returning(spam_strikes.c.id)
    )
    async with engine.begin() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def count_live_strikes(engine: AsyncEngine, guild_id: int, user_id: int, *, now: datetime | None = None) -> int:
    """Strikes that are neither expired nor pardoned."""
    now = now or datetime.now(UTC)
    query = select(func.count()).where(
        spam_strikes.c.guild_id == guild_id,
        spam_strikes.c.user_id == user_id,
        spam_strikes.c.pardoned == false(),
        or_(spam_strikes.c.expires_at.is_(None), spam_strikes.c.expires_at > now),
    )
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def pardon_strikes(engine: AsyncEngine, guild_id: int, user_id: int) -> int:
    """Pardon every live-or-not strike of the member; returns how many were newly pardoned."""
    stmt = (
        update(spam_strikes)
        .where(
            spam_strikes.c.guild_id == guild_id, spam_strikes.c.user_id == user_id, spam_strikes.c.pardoned == false()
        )
        .values(pardoned=True)
    )
    async with engine.begin() as conn:
        return (await conn.execute(stmt)).rowcount


async def record_mod_action(
    engine: AsyncEngine,
    guild_id: int,
    user_id: int,
    action: str,
    *,
    moderator_id: int | None = None,
    rule: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> int:
    """Log who did what to whom and why; returns the row id. moderator_id None = the bot acted automatically."""
    stmt = (
        insert(mod_actions)
        .values(
            guild_id=guild_id,
            user_id=user_id,
            moderator_id=moderator_id,
            rule=rule,
            action=action,
            reason=reason,
            created_at=now or datetime.now(UTC),
        )
        .returning(mod_actions.c.id)
    )
    async with engine.begin() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def list_mod_actions(
    engine: AsyncEngine, guild_id: int, *, user_id: int | None = None, limit: int = 50
) -> list[ModAction]:
    """Newest first; optionally only one member's."""
    query = select(mod_actions).where(mod_actions.c.guild_id == guild_id)
    if user_id is not None:
        query = query.where(mod_actions.c.user_id == user_id)
    query = query.order_by(mod_actions.c.created_at.desc(), mod_actions.c.id.desc()).limit(limit)
    async with engine.connect() as conn:
        return [ModAction(**r._mapping) for r in await conn.execute(query)]
