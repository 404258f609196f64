"""Sharded gateways: two bots with different shard ids each receive only their own guilds' events."""

from __future__ import annotations

import contextlib
from pathlib import Path

import anyio
import nextcord
import pytest

from bot.config import Config, ConfigError, DiscordSettings
from bot.emulator import Emulator
from bot.gateway import ShardedStewardBot
from bot.ops.sharding import parse_shard_ids, shard_kwargs, shard_of
from bot.runner import Runtime
from tests.e2e.steward_fixtures import running_steward


def test_shard_settings() -> None:
    assert parse_shard_ids("0,1") == [0, 1]
    assert parse_shard_ids("2-4, 0") == [0, 2, 3, 4]
    with pytest.raises(ConfigError, match="shard_ids"):
        parse_shard_ids("one")
    assert shard_kwargs(DiscordSettings()) is None
    assert shard_kwargs(DiscordSettings(shard_ids=[0, 1], shard_count=4)) == {"shard_ids": [0, 1], "shard_count": 4}
    with pytest.raises(ConfigError, match="shard_count"):
        shard_kwargs(DiscordSettings(shard_ids=[0]))
    with pytest.raises(ConfigError, match=r"\[4\] outside 0..3"):
        shard_kwargs(DiscordSettings(shard_ids=[1, 4], shard_count=4))


@pytest.mark.anyio
async def test_each_shard_process_sees_only_its_guilds(emulator: Emulator, tmp_path: Path) -> None:
    # Snowflakes from 2020 (older than any the emulator hands out): two guilds per shard of 2.
    guilds = [emulator.create_guild(f"guild {k}", id=((1 << 40) + k) << 22) for k in range(4)]
    by_shard = {s: [g for g in guilds if shard_of(g.id, 2) == s] for s in (0, 1)}
    assert len(by_shard[0]) == len(by_shard[1]) == 2
    user = emulator.create_user("alice")
    for g in guilds:
        emulator.add_member(g.id, user.id)

    seen: dict[int, list[int]] = {0: [], 1: []}
    all_seen = anyio.Event()

    def shard(shard_id: int) -> contextlib.AbstractAsyncContextManager[Runtime]:
        def customize(cfg: Config) -> None:
            cfg.discord.shard_ids = [shard_id]
            cfg.discord.shard_count = 2

        return running_steward(emulator, tmp_path / f"shard{shard_id}", cogs=["status"], customize=customize)

    async with contextlib.AsyncExitStack() as stack:
        runtimes = {s: await stack.enter_async_context(shard(s)) for s in (0, 1)}
        for s, rt in runtimes.items():
            assert isinstance(rt.bot, ShardedStewardBot) and rt.bot.shard_ids == [s]

            async def record(message: nextcord.Message, s: int = s) -> None:
                seen[s].append(message.guild.id)
                if len(seen[0]) + len(seen[1]) >= len(guilds):
                    all_seen.set()

            rt.bot.add_listener(record, "on_message")
            assert {g.id for g in rt.bot.guilds} == {g.id for g in by_shard[s]}
        for g in guilds:
            await emulator.post_message(g.system_channel_id, user.id, f"hello {g.name}")  # type: ignore[arg-type]
        with anyio.fail_after(5):
            await all_seen.wait()
        await anyio.sleep(0.1)  # a wrongly routed duplicate would have arrived by now
    assert sorted(seen[0]) == sorted(g.id for g in by_shard[0])
    assert sorted(seen[1]) == sorted(g.id for g in by_shard[1])
