"""Anti-spam end to end: the real bot (`serve()`, as `bot run`) against the Discord emulator.

Bursts are posted back to back, so their snowflake timestamps (which the detector reads through
`message.created_at`) are naturally "now"; the only real waiting is the strike grace between two strikes.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from bot import metrics
from bot.db.moderation import count_live_strikes, list_mod_actions
from bot.emulator import Emulator, EmulatorRefused, Message
from cogs.antispam._logic import StrikeGate
from tests.e2e.steward_fixtures import World, make_world, running_steward

pytestmark = pytest.mark.anyio

MEMBER_ROUTE = "/guilds/{guild_id}/members/{user_id}"
GRACE = StrikeGate().grace


def chatter() -> str:
    """Distinct, lower-case lines: a burst of these breaks only the flood rule."""
    return f"hey {secrets.token_hex(6)}"


async def burst(emu: Emulator, channel_id: int, author_id: int, count: int) -> list[Message]:
    return [await emu.post_message(channel_id, author_id, chatter()) for _ in range(count)]


async def wait_deleted(emu: Emulator, *messages: Message, timeout: float = 5.0) -> None:
    """Every event re-checks the world, so this returns as soon as the last of them is gone."""
    await emu.wait_for(lambda _: all(emu.world.find_message(m.id).deleted for m in messages), timeout=timeout)


async def actions_of(rt: Any, guild_id: int, user_id: int, count: int, timeout: float = 5.0) -> list[tuple]:
    """The member's mod actions, newest first, once `count` of them are recorded (they are written in the
    background after the Discord call)."""
    with anyio.fail_after(timeout):
        while True:
            actions = await list_mod_actions(rt.db, guild_id, user_id=user_id)
            if len(actions) >= count:
                return [(a.action, a.rule, a.moderator_id) for a in actions]
            await anyio.sleep(0.02)


def is_warning_for(user_id: int):
    return lambda m: m.content.startswith(f"<@{user_id}> please stop")


async def slash(emu: Emulator, world: World, user_id: int, sub: list[str], **options: Any) -> str:
    record = await emu.invoke_slash(world.guild_id, world.channel_id, user_id, "antispam", options, subcommand=sub)
    body = await record.response()
    assert body["data"]["flags"] & 64, "admin replies are ephemeral"
    return body["data"]["content"]


def timeouts(emu: Emulator, user_id: int) -> list[dict[str, Any]]:
    return [
        c
        for c in emu.calls("PATCH", MEMBER_ROUTE)
        if c["path"].endswith(f"/members/{user_id}") and "communication_disabled_until" in (c["json"] or {})
    ]


def counter(rule: str, action: str) -> float:
    return metrics.SPAM_ACTIONS.labels(rule=rule, action=action)._value.get()


async def test_flood_is_deleted_warned_then_timed_out_on_the_second_strike(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    timeouts_before = counter("flood", "timeout")
    async with running_steward(emulator, tmp_path, cogs=["antispam"]) as rt:
        rt.bot.get_cog("AntispamEvents").warning_lifetime = 1.0
        mark = emulator.events.mark()
        first = await burst(emulator, world.channel_id, world.alice_id, 7)  # more than 6 in 5 s
        warning = await emulator.wait_for_message(
            world.channel_id, since=mark, predicate=is_warning_for(world.alice_id)
        )
        await wait_deleted(emulator, first[-1])
        assert not any(emulator.world.find_message(m.id).deleted for m in first[:-1]), "only the flood is deleted"
        # The warning pings alice and nobody else, and the next rung is announced.
        assert warning.allowed_mentions == {"parse": [], "users": [world.alice_id]}
        assert warning.pinged_user_ids == [world.alice_id] and not warning.mention_everyone
        assert "timeout 5 min" in warning.content
        assert timeouts(emulator, world.alice_id) == [], "the first strike is only a warning"

        # Still flooding once the grace has passed: the second strike is a 5-minute timeout.
        await anyio.sleep(GRACE + 0.2)
        second = await emulator.post_message(world.channel_id, world.alice_id, chatter())
        await emulator.wait_for(lambda e: e.kind == "member_update", since=mark)
        await wait_deleted(emulator, second)
        patches = timeouts(emulator, world.alice_id)
        assert len(patches) == 1 and patches[0]["status"] == 200
        until = datetime.fromisoformat(patches[0]["json"]["communication_disabled_until"])
        assert 290 <= (until - datetime.now(UTC)).total_seconds() <= 300
        with pytest.raises(EmulatorRefused):
            await emulator.post_message(world.channel_id, world.alice_id, "let me talk")

        assert await actions_of(rt, world.guild_id, world.alice_id, 2) == [
            ("timeout:300", "flood", None),
            ("warn", "flood", None),
        ]
        assert await count_live_strikes(rt.db, world.guild_id, world.alice_id) == 2
        await wait_deleted(emulator, warning)  # the warning cleans itself up
    assert counter("flood", "timeout") == timeouts_before + 1
