"""The whole bot against the emulator: `/status` round-trips a ping job through the queue."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.emulator import Emulator
from tests.e2e.steward_fixtures import make_world, running_steward

pytestmark = pytest.mark.anyio


async def test_status_slash_command_round_trips_a_ping_job(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["status"]) as rt:
        interaction = await emulator.invoke_slash(world.guild_id, world.channel_id, world.alice_id, "status")
        await interaction.response()
        followup_id = await interaction.followup(0, timeout=10)
        text = emulator.world.find_message(followup_id).content
        assert f"Worker `{rt.workers[0].worker_id}` answered in" in text
        assert "via the memory queue" in text
