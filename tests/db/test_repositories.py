from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.guild_settings import get_all_settings, get_settings, set_settings
from bot.db.level_rewards import LevelReward, add_level_reward, list_level_rewards, remove_level_reward
from bot.db.llm_usage import Usage, get_llm_usage, increment_llm_usage
from bot.db.message_log import log_message, purge_messages_older_than, recent_messages, run_retention
from bot.db.moderation import (
    add_strike,
    count_live_strikes,
    list_mod_actions,
    pardon_strikes,
    record_mod_action,
)
from bot.db.safety import list_safety_flags, record_safety_flag

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
G = 900_000_000_000_000_001


async def test_guild_settings_round_trip_per_feature(engine: AsyncEngine) -> None:
    assert await get_settings(engine, G, "leveling") == {}
    await set_settings(engine, G, "leveling", {"xp_min": 15, "channels": [1, 2], "nested": {"a": True}})
    await set_settings(engine, G, "llm", {"model": "m"})
    await set_settings(engine, G, "leveling", {"xp_min": 20})  # replaces
    assert await get_settings(engine, G, "leveling") == {"xp_min": 20}
    assert await get_all_settings(engine, G) == {"leveling": {"xp_min": 20}, "llm": {"model": "m"}}
    assert await get_settings(engine, G + 1, "llm") == {}
    with pytest.raises(ValueError, match="unknown feature"):
        await set_settings(engine, G, "karaoke", {})


async def test_level_rewards(engine: AsyncEngine) -> None:
    await add_level_reward(engine, G, 10, 555)
    await add_level_reward(engine, G, 10, 555)  # idempotent
    await add_level_reward(engine, G, 10, 556)
    await add_level_reward(engine, G, 5, 444)
    assert await list_level_rewards(engine, G) == [LevelReward(5, 444), LevelReward(10, 555), LevelReward(10, 556)]
    assert await remove_level_reward(engine, G, 10, 555) == 1
    assert await remove_level_reward(engine, G, 10) == 1
    assert await list_level_rewards(engine, G) == [LevelReward(5, 444)]


async def test_strikes_expire_and_pardon(engine: AsyncEngine) -> None:
    await add_strike(engine, G, 7, "flood", expires_at=NOW + timedelta(hours=1), now=NOW)
    await add_strike(engine, G, 7, "mentions", expires_at=NOW - timedelta(seconds=1), now=NOW)  # already expired
    await add_strike(engine, G, 7, "links", expires_at=None, now=NOW)  # permanent
    await add_strike(engine, G, 8, "flood", expires_at=None, now=NOW)
    assert await count_live_strikes(engine, G, 7, now=NOW) == 2
    assert await count_live_strikes(engine, G, 7, now=NOW + timedelta(hours=2)) == 1
    assert await pardon_strikes(engine, G, 7) == 3
    assert await count_live_strikes(engine, G, 7, now=NOW) == 0
    assert await count_live_strikes(engine, G, 8, now=NOW) == 1


async def test_mod_actions_newest_first(engine: AsyncEngine) -> None:
    a = await record_mod_action(engine, G, 7, "timeout", rule="flood", reason="5 msgs/2s", now=NOW)
    b = await record_mod_action(engine, G, 7, "ban", moderator_id=42, reason="spam", now=NOW + timedelta(minutes=1))
    await record_mod_action(engine, G, 8, "warn", now=NOW)
    actions = await list_mod_actions(engine, G, user_id=7)
    assert [x.id for x in actions] == [b, a]
    assert actions[0].moderator_id == 42 and actions[1].moderator_id is None and actions[1].rule == "flood"
    assert actions[1].created_at == NOW
    assert len(await list_mod_actions(engine, G)) == 3


async def test_llm_usage_accumulates_per_day(engine: AsyncEngine) -> None:
    day = date(2026, 12, 4)
    await increment_llm_usage(engine, G, 1, day, tokens=100)
    await increment_llm_usage(engine, G, 1, day, tokens=50)
    await increment_llm_usage(engine, G, 2, day, requests=2, tokens=10)
    await increment_llm_usage(engine, G, 1, day + timedelta(days=1), tokens=999)
    assert await get_llm_usage(engine, G, day, user_id=1) == Usage(2, 150)
    assert await get_llm_usage(engine, G, day) == Usage(4, 160)
    assert await get_llm_usage(engine, G, day - timedelta(days=1)) == Usage(0, 0)


async def test_message_log_and_retention_purge(engine: AsyncEngine) -> None:
    for i, age_days in enumerate([40, 31, 29, 1]):
        await log_message(
            engine,
            message_id=1000 + i,
            guild_id=G,
            channel_id=5,
            author_id=7,
            content=f"m{i}",
            created_at=NOW - timedelta(days=age_days),
        )
    await log_message(  # an edit replaces the content
        engine, message_id=1003, guild_id=G, channel_id=5, author_id=7, content="edited", created_at=NOW
    )
    await record_safety_flag(
        engine,
        guild_id=G,
        channel_id=5,
        message_id=1000,
        user_id=7,
        verdict="flag",
        categories={"spam": 0.9},
        scanner="rules",
        content="old bad text",
        now=NOW - timedelta(days=40),
    )
    assert [m.content for m in await recent_messages(engine, 5, limit=2)] == ["m2", "edited"]
    assert await purge_messages_older_than(engine, 30, now=NOW) == 2
    assert [m.message_id for m in await recent_messages(engine, 5)] == [1002, 1003]
    flags = await list_safety_flags(engine, G)
    assert len(flags) == 1 and flags[0].content is None and flags[0].categories == {"spam": 0.9}


async def test_the_retention_job_purges_at_start_and_keeps_running(engine: AsyncEngine) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    await log_message(engine, message_id=1, guild_id=1, channel_id=2, author_id=3, content="old news", created_at=old)
    async with anyio.create_task_group() as tg:
        tg.start_soon(run_retention, engine, 30, 0.05)
        with anyio.fail_after(5):
            while await recent_messages(engine, 2):  # noqa: ASYNC110 - polling the database is the point
                await anyio.sleep(0.02)
        await log_message(  # a later one is caught by the next round
            engine, message_id=4, guild_id=1, channel_id=2, author_id=3, content="also old", created_at=old
        )
        with anyio.fail_after(5):
            while await recent_messages(engine, 2):  # noqa: ASYNC110
                await anyio.sleep(0.02)
        tg.cancel_scope.cancel()
