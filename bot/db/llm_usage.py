"""LLM usage per (guild, user, day), for quotas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.schema import llm_usage
from bot.db.upsert import insert_for


@dataclass(frozen=True, slots=True)
class Usage:
    requests: int
    tokens: int


async def increment_llm_usage(
    engine: AsyncEngine, guild_id: int, user_id: int, day: date, *, requests: int = 1, tokens: int = 0
) -> None:
    """Atomic add (safe with several workers)."""
    ins = insert_for(engine.dialect, llm_usage).values(
        guild_id=guild_id, user_id=user_id, day=day, requests=requests, tokens=tokens
    )
    stmt = ins.on_conflict_do_update(
        index_elements=[llm_usage.c.guild_id, llm_usage.c.user_id, llm_usage.c.day],
        set_={
            "requests": llm_usage.c.requests + ins.excluded.requests,
            "tokens": llm_usage.c.tokens + ins.excluded.tokens,
        },
    )
    async with engine.begin() as conn:
        await conn.execute(stmt)


async def get_llm_usage(engine: AsyncEngine, guild_id: int, day: date, user_id: int | None = None) -> Usage:
    """One user's usage that day, or the whole guild's when user_id is None."""
    query = select(
        func.coalesce(func.sum(llm_usage.c.requests), 0), func.coalesce(func.sum(llm_usage.c.tokens), 0)
    ).where(llm_usage.c.guild_id == guild_id, llm_usage.c.day == day)
    if user_id is not None:
        query = query.where(llm_usage.c.user_id == user_id)
    async with engine.connect() as conn:
        requests, tokens = (await conn.execute(query)).one()
    return Usage(int(requests), int(tokens))
