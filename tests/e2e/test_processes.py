"""The roles as separate OS processes, the way a multi-host deployment runs them, against the emulator and the
real Redis: a Discord action served by a worker in another process, and a gateway split across shard processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.emulator import Emulator
from bot.ops.sharding import shard_of
from tests.e2e.bot_process import BotProcess, bot_process, until
from tests.services import free_port, require_redis

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.slow]


def _redis_env(namespace: str) -> dict[str, str]:
    return {"REDIS_URL": require_redis(), "TASK_NAMESPACE": namespace}


async def _connected(bot: BotProcess) -> None:
    await until(lambda: bot.metric("steward_gateway_connected"), lambda v: v == 1.0, f"gateway up\n{bot.log()}", 60)


async def test_status_in_a_gateway_process_is_answered_by_a_worker_process(
    emulator: Emulator, tmp_path: Path, redis_client: object, namespace: str
) -> None:
    guild = emulator.create_guild("Two Hosts")
    alice = emulator.create_user("alice")
    emulator.add_member(guild.id, alice.id)
    env = {**_redis_env(namespace), "STEWARD_DISCORD__COGS": "status", "STEWARD_DISCORD__SYNC_COMMANDS_ON_START": "1"}
    async with (
        bot_process(emulator, tmp_path / "worker", "worker", env=env) as worker,
        bot_process(emulator, tmp_path / "gateway", "gateway", env=env) as gateway,
    ):
        await _connected(gateway)
        interaction = await emulator.invoke_slash(guild.id, guild.system_channel_id, alice.id, "status")  # type: ignore[arg-type]
        await interaction.response(timeout=10)
        text = emulator.world.find_message(await interaction.followup(0, timeout=15)).content
        # The worker id is host-PID-random: the PID shows the answer came from the other process.
        assert f"-{worker.proc.pid}-" in text and "via the redis queue" in text, text
        assert f"-{gateway.proc.pid}-" not in text
        assert await gateway.stop() == 0 and await worker.stop() == 0


async def test_two_gateway_processes_each_receive_only_their_shards_guilds(
    emulator: Emulator, tmp_path: Path, redis_client: object, namespace: str
) -> None:
    # Snowflakes from 2020 (older than any the emulator hands out), so shard_of is under the test's control.
    guilds = [emulator.create_guild(f"guild {k}", id=((1 << 40) + k) << 22) for k in range(4)]
    alice = emulator.create_user("alice")
    for g in guilds:
        emulator.add_member(g.id, alice.id)
    env = {**_redis_env(namespace), "STEWARD_DISCORD__COGS": "status"}
    async with (
        bot_process(emulator, tmp_path / "s0", "gateway", "--shard-ids", "0", "--shard-count", "2", env=env) as s0,
        bot_process(emulator, tmp_path / "s1", "gateway", "--shard-ids", "1", "--shard-count", "2", env=env) as s1,
    ):
        await _connected(s0)
        await _connected(s1)
        # A different number of messages per shard, so a shard seeing the other's events cannot hide.
        sent = {0: 0, 1: 0}
        for g in guilds:
            shard = shard_of(g.id, 2)
            for _ in range(1 + 2 * shard):
                await emulator.post_message(g.system_channel_id, alice.id, f"hello {g.name}")  # type: ignore[arg-type]
                sent[shard] += 1
        assert sent[0] and sent[1]
        seen = "steward_messages_seen_total"
        await until(lambda: s0.metric(seen), lambda v: v == sent[0], f"shard 0 to see {sent[0]}\n{s0.log()}")
        await until(lambda: s1.metric(seen), lambda v: v == sent[1], f"shard 1 to see {sent[1]}\n{s1.log()}")
        assert await s0.stop() == 0 and await s1.stop() == 0


async def test_a_bad_token_is_one_line_and_exit_2(emulator: Emulator, tmp_path: Path) -> None:
    env = {"DISCORD_TOKEN": "not-the-token", "REDIS_URL": ""}
    async with bot_process(emulator, tmp_path, "all", env=env) as bot:
        code = await asyncio.wait_for(bot.proc.wait(), 60)
        log = bot.log()
    assert code == 2, log
    assert log.rstrip().splitlines()[-1].startswith("error: Discord refused the token: check DISCORD_TOKEN"), log
    assert "Traceback" not in log and "not-the-token" not in log


async def test_the_bot_waits_for_an_unreachable_discord_and_connects_when_it_answers(tmp_path: Path) -> None:
    port = free_port()
    late = Emulator(port=port)  # not started yet: nothing listens on the port the bot is pointed at
    env = {"REDIS_URL": "", "STEWARD_DISCORD__API_BASE": f"http://127.0.0.1:{port}/api/v10"}
    async with bot_process(late, tmp_path, "all", env=env) as bot:
        await until(lambda: asyncio.sleep(0, bot.log()), lambda log: "cannot reach Discord" in log, "a retry line")
        assert bot.proc.returncode is None  # still running, not given up
        await late.start()
        try:
            await _connected(bot)
            assert await bot.stop() == 0
        finally:
            await late.stop()
