"""Per-guild settings: one JSON object per (guild, feature)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.schema import FEATURES, guild_settings
from bot.db.upsert import insert_for


def _check_feature(feature: str) -> None:
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}; expected one of {', '.join(FEATURES)}")


async def get_settings(engine: AsyncEngine, guild_id: int, feature: str) -> dict[str, Any]:
    """The stored settings, or {} when the guild never changed anything (callers apply their defaults)."""
    _check_feature(feature)
    query = select(guild_settings.c.settings).where(
        guild_settings.c.guild_id == guild_id, guild_settings.c.feature == feature
    )
    async with engine.connect() as conn:
        value = (await conn.execute(query)).scalar_one_or_none()
    return dict(value) if value else {}


async def get_all_settings(engine: AsyncEngine, guild_id: int) -> dict[str, dict[str, Any]]:
    query = select(guild_settings.c.feature, guild_settings.c.settings).where(guild_settings.c.guild_id == guild_id)
    async with engine.connect() as conn:
        return {feature: dict(settings) for feature, settings in await conn.execute(query)}


async def set_settings(engine: AsyncEngine, guild_id: int, feature: str, settings: Mapping[str, Any]) -> None:
    """Replace the feature's settings for the guild (callers merge with get_settings first if they patch)."""
    _check_feature(feature)
    now = datetime.now(UTC)
    ins = insert_for(engine.dialect, guild_settings).values(
        guild_id=guild_id, feature=feature, settings=dict(settings), updated_at=now
    )
    stmt = ins.on_conflict_do_update(
        index_elements=[guild_settings.c.guild_id, guild_settings.c.feature],
        set_={"settings": ins.excluded.settings, "updated_at": ins.excluded.updated_at},
    )
    async with engine.begin() as conn:
        await conn.execute(stmt)
