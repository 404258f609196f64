"""Leveling end to end: the real bot (serve(), leveling cog, SQLite) against the Discord emulator.

Time is simulated: the cog reads its cooldown clock from services.extras["clock"], so "a minute later" is a
number, not a sleep.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.db import xp as xp_db
from bot.emulator import Emulator, Message
from bot.leveling import level_for_xp
from bot.rankcard import HEIGHT, WIDTH
from bot.runner import Runtime
from cogs.leveling._service import LevelingService
from tests.e2e.steward_fixtures import World, make_world, running_steward

pytestmark = pytest.mark.anyio


class SimClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _service(rt: Runtime) -> LevelingService:
    return rt.bot.services.extras["leveling"]


def _install_clock(rt: Runtime) -> SimClock:
    clock = SimClock()
    rt.bot.services.extras["clock"] = clock
    return clock


async def _until(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        # Polling: the bot's state has no event to wait on, and this only ever waits milliseconds.
        while not (value := check()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return value


async def _chat(emu: Emulator, rt: Runtime, world: World, user_id: int, clock: SimClock, n: int) -> None:
    """`n` distinct messages a minute apart; each one awaited until the bot has counted its XP."""
    svc = _service(rt)
    key = (world.guild_id, user_id)
    for i in range(n):
        clock.now += 61
        before = svc.totals.get(key)
        await emu.post_message(world.channel_id, user_id, f"message number {i} about hobbies")
        await _until(lambda b=before: svc.totals.get(key) not in (None, b))


async def _slash(
    emu: Emulator, world: World, user_id: int, name: str, options: dict[str, Any] | None = None, *sub: str
) -> dict[str, Any]:
    record = await emu.invoke_slash(world.guild_id, world.channel_id, user_id, name, options, subcommand=sub)
    return await record.response(timeout=10)


def _announcements(emu: Emulator, world: World) -> list[Message]:
    return [
        m
        for m in emu.messages(world.channel_id)
        if m.author_id == emu.bot.id and m.interaction_id is None and "level" in m.content
    ]


async def _role_event(emu: Emulator, kind: str, user_id: int, role_id: int, since: int = 0) -> None:
    await emu.wait_for(
        lambda e: e.kind == kind and int(e.data["user_id"]) == user_id and int(e.data["role_id"]) == role_id,
        since=since,
    )


async def test_chatting_over_time_levels_up_once_with_one_safe_announcement_and_the_reward(
    emulator: Emulator, tmp_path: Path
) -> None:
    world = make_world(emulator)
    regular = emulator.create_role(world.guild_id, "Regular")
    async with running_steward(emulator, tmp_path, cogs=["leveling"]) as rt:
        clock = _install_clock(rt)
        reply = await _slash(
            emulator, world, world.admin_id, "levels", {"level": 1, "role": regular.id}, "reward", "add"
        )
        assert "level 1" in reply["data"]["content"]
        # The admin's template tries to ping everyone; the bot must ping only the member.
        await _slash(
            emulator,
            world,
            world.admin_id,
            "levels",
            {"mode": "same_channel", "template": "@everyone look: {user} reached level {level}!"},
            "config",
            "announce",
        )
        since = emulator.events.mark()
        # 8 messages earn 120..200 XP: level 1 (100 XP) for sure, level 2 (255 XP) never.
        await _chat(emulator, rt, world, world.alice_id, clock, 8)
        await _role_event(emulator, "role_add", world.alice_id, regular.id, since)
        # Two messages inside the cooldown earn nothing.
        total = _service(rt).totals.get((world.guild_id, world.alice_id))
        await emulator.post_message(world.channel_id, world.alice_id, "one more within the minute")
        await emulator.post_message(world.channel_id, world.alice_id, "and another within the minute")
        await asyncio.sleep(0.3)  # give a wrong second announcement the time to show up
        assert _service(rt).totals.get((world.guild_id, world.alice_id)) == total
        assert total is not None and level_for_xp(total) == 1

        announcements = _announcements(emulator, world)
        assert [m.content for m in announcements] == [f"@everyone look: <@{world.alice_id}> reached level 1!"]
        sent = announcements[0]
        assert sent.allowed_mentions is not None
        assert sent.allowed_mentions["parse"] == []
        assert [int(u) for u in sent.allowed_mentions["users"]] == [world.alice_id]
        assert sent.pinged_user_ids == [world.alice_id]
        assert not sent.mention_everyone and sent.pinged_role_ids == []
        assert regular.id in emulator.member(world.guild_id, world.alice_id).roles


async def test_replace_mode_swaps_the_previous_reward_for_the_new_one(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    newcomer = emulator.create_role(world.guild_id, "Newcomer")
    regular = emulator.create_role(world.guild_id, "Regular")
    async with running_steward(emulator, tmp_path, cogs=["leveling"]) as rt:
        clock = _install_clock(rt)
        for level, role in ((1, newcomer), (2, regular)):
            await _slash(emulator, world, world.admin_id, "levels", {"level": level, "role": role.id}, "reward", "add")
        await _slash(emulator, world, world.admin_id, "levels", {"mode": "replace"}, "config", "reward_mode")
        since = emulator.events.mark()
        # 250 XP is level 1 (level 2 starts at 255): the admin edit grants the level-1 role.
        await _slash(emulator, world, world.admin_id, "xp", {"member": world.alice_id, "amount": 250}, "set")
        await _role_event(emulator, "role_add", world.alice_id, newcomer.id, since)
        # One message (15..25 XP) crosses into level 2.
        await _chat(emulator, rt, world, world.alice_id, clock, 1)
        await _role_event(emulator, "role_add", world.alice_id, regular.id, since)
        await _role_event(emulator, "role_remove", world.alice_id, newcomer.id, since)
        roles = emulator.member(world.guild_id, world.alice_id).roles
        assert regular.id in roles and newcomer.id not in roles
        await _until(lambda: _announcements(emulator, world))
        assert [m.content for m in _announcements(emulator, world)] == [f"GG <@{world.alice_id}>, you reached level 2!"]


async def test_rank_answers_with_a_png_card(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["leveling"]) as rt:
        clock = _install_clock(rt)
        await _chat(emulator, rt, world, world.alice_id, clock, 2)
        record = await emulator.invoke_slash(
            world.guild_id, world.channel_id, world.bob_id, "rank", {"member": world.alice_id}
        )
        followup_id = await record.followup(0, timeout=10)
        message = emulator.world.find_message(followup_id)
        assert message is not None and len(message.attachments) == 1
        attachment = message.attachments[0]
        assert attachment.filename == "rank.png"
        image = Image.open(io.BytesIO(attachment.data))
        assert image.format == "PNG"
        assert image.size == (WIDTH, HEIGHT)


async def test_leaderboard_orders_members_by_xp(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["leveling"]) as rt:
        clock = _install_clock(rt)
        await _slash(emulator, world, world.admin_id, "xp", {"member": world.bob_id, "amount": 5000}, "set")
        await _slash(emulator, world, world.admin_id, "xp", {"member": world.alice_id, "amount": 300}, "give")
        await _chat(emulator, rt, world, world.admin_id, clock, 1)  # buffered XP must count too
        reply = await _slash(emulator, world, world.alice_id, "leaderboard")
        lines = reply["data"]["embeds"][0]["description"].splitlines()
        assert len(lines) == 3
        assert lines[0].startswith(f"**#1** <@{world.bob_id}>") and "5,000 XP" in lines[0]
        assert lines[1].startswith(f"**#2** <@{world.alice_id}>") and "300 XP" in lines[1]
        assert lines[2].startswith(f"**#3** <@{world.admin_id}>")
        assert reply["data"]["embeds"][0]["footer"]["text"] == "Page 1/1"


async def test_members_cannot_use_admin_commands(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["leveling"]) as rt:
        reply = await _slash(emulator, world, world.alice_id, "xp", {"member": world.alice_id, "amount": 999}, "give")
        assert "Manage Server" in reply["data"]["content"]
        assert await _service(rt).total(world.guild_id, world.alice_id) == 0


async def test_xp_survives_a_restart_through_the_shutdown_flush(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["leveling"]) as rt:
        clock = _install_clock(rt)
        await _chat(emulator, rt, world, world.alice_id, clock, 3)
        svc = _service(rt)
        earned = svc.totals.get((world.guild_id, world.alice_id))
        # Still only in memory: the periodic flush (every 5 s) has not run yet.
        assert svc.buffer.pending[(world.guild_id, world.alice_id)].xp == earned
    async with running_steward(emulator, tmp_path, cogs=["leveling"]) as rt:
        assert await _service(rt).total(world.guild_id, world.alice_id) == earned
        assert earned is not None and earned >= 45


async def test_rejoin_restores_rewards_and_leaving_can_purge_xp(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    regular = emulator.create_role(world.guild_id, "Regular")
    async with running_steward(emulator, tmp_path, cogs=["leveling"]) as rt:
        svc = _service(rt)
        await _slash(emulator, world, world.admin_id, "levels", {"level": 1, "role": regular.id}, "reward", "add")
        await _slash(emulator, world, world.admin_id, "xp", {"member": world.alice_id, "amount": 150}, "set")
        await _slash(emulator, world, world.admin_id, "xp", {"member": world.bob_id, "amount": 150}, "set")
        await emulator.member_leave(world.guild_id, world.alice_id)
        since = emulator.events.mark()
        await emulator.member_join(world.guild_id, world.alice_id)
        await _role_event(emulator, "role_add", world.alice_id, regular.id, since)

        await _slash(emulator, world, world.admin_id, "levels", {"keep": False}, "config", "keep_xp_on_leave")
        await emulator.member_leave(world.guild_id, world.bob_id)
        await _until(lambda: svc.totals.get((world.guild_id, world.bob_id)) is None)
        assert await xp_db.get_member_xp(svc.engine, world.guild_id, world.bob_id) is None
        assert await svc.total(world.guild_id, world.alice_id) == 150


async def test_levels_sync_repairs_roles_and_announcements_can_go_to_a_chosen_channel(
    emulator: Emulator, tmp_path: Path
) -> None:
    world = make_world(emulator)
    levels_channel = emulator.create_channel(world.guild_id, "level-ups")
    veteran = emulator.create_role(world.guild_id, "Veteran")
    async with running_steward(emulator, tmp_path, cogs=["leveling"]) as rt:
        clock = _install_clock(rt)
        # XP first, reward configured afterwards: only /levels sync can hand out the role.
        await _slash(emulator, world, world.admin_id, "xp", {"member": world.bob_id, "amount": 300}, "set")
        await _slash(emulator, world, world.admin_id, "levels", {"level": 2, "role": veteran.id}, "reward", "add")
        assert veteran.id not in emulator.member(world.guild_id, world.bob_id).roles
        record = await emulator.invoke_slash(
            world.guild_id, world.channel_id, world.admin_id, "levels", subcommand=["sync"]
        )
        followup = emulator.world.find_message(await record.followup(0, timeout=10))
        assert followup is not None and "1 role(s) given" in followup.content
        assert veteran.id in emulator.member(world.guild_id, world.bob_id).roles

        # Bad input: one readable line, nothing saved.
        reply = await _slash(emulator, world, world.admin_id, "levels", {"mode": "channel"}, "config", "announce")
        assert reply["data"]["content"].startswith("Not saved: announce_channel_id is required")
        assert (await _service(rt).store.get(world.guild_id)).announce_mode == "same_channel"
        reply = await _slash(
            emulator, world, world.admin_id, "levels", {"mode": "channel", "channel": levels_channel.id},
            "config", "announce",
        )  # fmt: skip
        assert reply["data"]["embeds"][0]["title"] == "Leveling settings saved"
        since = emulator.events.mark()
        await _chat(emulator, rt, world, world.alice_id, clock, 7)  # 105..175 XP: level 1
        announcement = await emulator.wait_for_message(levels_channel.id, since=since)
        assert announcement.content == f"GG <@{world.alice_id}>, you reached level 1!"
        assert announcement.pinged_user_ids == [world.alice_id]
        assert _announcements(emulator, world) == []  # nothing in the channel the member chatted in


async def test_announcements_can_go_to_the_member_by_dm(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["leveling"]) as rt:
        clock = _install_clock(rt)
        reply = await _slash(emulator, world, world.admin_id, "levels", {"mode": "dm"}, "config", "announce")
        assert reply["data"]["embeds"][0]["title"] == "Leveling settings saved"
        since = emulator.events.mark()
        await _chat(emulator, rt, world, world.alice_id, clock, 7)  # 105..175 XP: level 1
        dm = emulator.world.dm_channel(world.alice_id)
        announcement = await emulator.wait_for_message(dm.id, since=since)
        assert announcement.content == f"GG <@{world.alice_id}>, you reached level 1!"
        assert announcement.allowed_mentions == {"parse": [], "users": [world.alice_id]}
        assert _announcements(emulator, world) == []  # nothing in the guild channel
