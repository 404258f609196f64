"""Run the whole Steward bot (the same `serve()` as `bot run`) against the in-repo Discord emulator.

from tests.e2e.steward_fixtures import World, make_world, running_steward

async def test_x(emulator, tmp_path):
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["status"]) as rt:
        await emulator.post_message(world.channel_id, world.alice_id, "hi")
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.config import Config
from bot.emulator import Emulator
from bot.runner import Runtime, serve


@dataclass
class World:
    guild_id: int
    channel_id: int
    alice_id: int
    bob_id: int
    admin_id: int


def make_world(emu: Emulator) -> World:
    """A guild with a text channel, two members and an administrator."""
    guild = emu.create_guild("Hobby Club")
    alice = emu.create_user("alice")
    bob = emu.create_user("bob")
    admin = emu.create_user("admin")
    for user in (alice, bob, admin):
        emu.add_member(guild.id, user.id)
    admin_role = emu.create_role(guild.id, "Admins", permissions=8)  # ADMINISTRATOR
    emu.member(guild.id, admin.id).roles.append(admin_role.id)
    return World(guild.id, guild.system_channel_id, alice.id, bob.id, admin.id)  # type: ignore[arg-type]


def steward_config(emu: Emulator, data_dir: Path, *, cogs: list[str] | None = None, **overrides: object) -> Config:
    cfg = Config()
    cfg.discord.token = emu.token
    cfg.discord.api_base = emu.api_base
    cfg.discord.guild_ready_timeout = 0.05
    cfg.discord.sync_commands_on_start = True
    cfg.bot.data_dir = str(data_dir)
    cfg.metrics.enabled = False
    cfg.queue.shutdown_grace = 3.0
    if cogs is not None:
        cfg.discord.cogs = cogs
    for dotted, value in overrides.items():
        section, key = dotted.split("__", 1)
        setattr(getattr(cfg, section), key, value)
    return cfg


@contextlib.asynccontextmanager
async def running_steward(
    emu: Emulator,
    data_dir: Path,
    *,
    cogs: list[str] | None = None,
    config: Config | None = None,
    role: str = "all",
    ready_timeout: float = 15.0,
    customize: Callable[[Config], None] | None = None,
) -> AsyncIterator[Runtime]:
    """Start `serve(config, role)` in the background, wait until the gateway is ready, stop it on exit."""
    cfg = config or steward_config(emu, data_dir, cogs=cogs)
    if customize is not None:
        customize(cfg)
    started: asyncio.Future[Runtime] = asyncio.get_running_loop().create_future()

    async def on_started(rt: Runtime) -> None:
        started.set_result(rt)

    task = asyncio.create_task(serve(cfg, role, on_started=on_started, handle_signals=False))  # type: ignore[arg-type]
    try:
        done, _ = await asyncio.wait({task, started}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
            raise RuntimeError("steward stopped during start-up")
        if started not in done:
            raise TimeoutError("steward did not start in time")
        runtime = started.result()
        if runtime.bot is not None:
            await asyncio.wait_for(runtime.bot.wait_until_ready(), ready_timeout)
        yield runtime
    finally:
        if started.done() and not started.cancelled():
            started.result().stop()
        else:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=30)
