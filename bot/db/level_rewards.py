"""Level role rewards: which roles a member gets on reaching a level."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.schema import level_rewards
from bot.db.upsert import insert_for


@dataclass(frozen=True, slots=True)
class LevelReward:
    level: int
    role_id: int


async def add_level_reward(engine: AsyncEngine, guild_id: int, level: int, role_id: int) -> None:
    """Idempotent: adding the same reward twice keeps one row."""
    stmt = (
        insert_for(engine.dialect, level_rewards)
        .values(guild_id=guild_id, level=level, role_id=role_id)
        .on_conflict_do_nothing()
    )
    async with engine.begin() as conn:
        await conn.execute(stmt)


async def remove_level_reward(engine: AsyncEngine, guild_id: int, level: int, role_id: int | None = None) -> int:
    """Remove one role reward, or every reward of that level when role_id is None; returns rows removed."""
    stmt = delete(level_rewards).where(level_rewards.c.guild_id == guild_id, level_rewards.c.level == level)
    if role_id is not None:
        stmt = stmt.where(level_rewards.c.role_id == role_id)
    async with engine.begin() as conn:
        return (await conn.execute(stmt)).rowcount


async def list_level_rewards(engine: AsyncEngine, guild_id: int) -> list[LevelReward]:
    """Every reward of the guild, by level then role."""
    query = (
        select(level_rewards.c.level, level_rewards.c.role_id)
        .where(level_rewards.c.guild_id == guild_id)
        .order_by(level_rewards.c.level, level_rewards.c.role_id)
    )
    async with engine.connect() as conn:
        return [LevelReward(level, role_id) for level, role_id in await conn.execute(query)]
