"""A fresh install: `bot run` alone makes the slash commands usable, without `bot sync-commands` and without
syncing at every start."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from bot.config import Config
from bot.emulator import Emulator
from tests.e2e.steward_fixtures import make_world, running_steward

pytestmark = pytest.mark.anyio

COMMANDS_ROUTE = "/applications/{app_id}/commands"


def _no_sync_on_start(cfg: Config) -> None:
    cfg.discord.sync_commands_on_start = False


async def test_the_first_start_registers_the_commands_and_later_starts_leave_them_alone(
    emulator: Emulator, tmp_path: Path
) -> None:
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["status"], customize=_no_sync_on_start):
        with anyio.fail_after(10):  # on_ready registers them right after the gateway is ready
            while not emulator.world.guild_commands(None):  # noqa: ASYNC110 - the emulator's state has no event
                await anyio.sleep(0.02)
        assert [c.name for c in emulator.world.guild_commands(None)] == ["status"]
        interaction = await emulator.invoke_slash(world.guild_id, world.channel_id, world.alice_id, "status")
        await interaction.response()
        text = emulator.world.find_message(await interaction.followup(0, timeout=10)).content
        assert "answered in" in text
    assert len(emulator.calls("PUT", COMMANDS_ROUTE)) == 1
    async with running_steward(emulator, tmp_path, cogs=["status"], customize=_no_sync_on_start):
        # A restart neither syncs nor registers, and the command still works: nextcord learns its id on first use.
        interaction = await emulator.invoke_slash(world.guild_id, world.channel_id, world.bob_id, "status")
        await interaction.response()
        assert "answered in" in emulator.world.find_message(await interaction.followup(0, timeout=10)).content
    assert len(emulator.calls("PUT", COMMANDS_ROUTE)) == 1  # the restart only looked
